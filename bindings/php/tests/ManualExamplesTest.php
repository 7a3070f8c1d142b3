<?php
/*
 * Every example of the manual (docs/src/protocol.md) through the shim against the simulator's
 * demo dataset. The simulator answers in PHP json_encode style, so expected replies are built
 * with json_encode and compared byte for byte.
 */

use PHPUnit\Framework\TestCase;

final class ManualExamplesTest extends TestCase
{
    const C1 = '633824158637492';
    const C2 = '9527563927532953';
    const A1 = '28236356495083';
    const A2 = '835354904534456';

    /** @var MikroBILL_Simulator */
    private $sim;
    /** @var MikroBILL_API */
    private $api;

    protected function setUp(): void
    {
        $this->sim = new MikroBILL_Simulator(); // fresh dataset per test: sets do not leak between tests
        $this->api = TestEnv::api($this->sim->port);
    }

    protected function tearDown(): void
    {
        $this->api = null;
        $this->sim = null;
    }

    private static function ok($value): string
    {
        return json_encode(array('return' => $value, 'code' => 0));
    }

    private static function leaf($value, string $path): array
    {
        return array('return' => $value, 'code' => 0, 'path' => $path);
    }

    public function testGetClientsReturnsAllGuidsAsIntegers(): void
    {
        $this->assertSame('{"return":[633824158637492,9527563927532953,4611686018427387905],"code":0}',
            $this->api->Process('API.GetClients'));
    }

    public function testGetClientsWithSearch(): void
    {
        $this->assertSame('{"return":[633824158637492],"code":0}', $this->api->Process('API.GetClients', 'Иванов'));
        $this->assertSame('{"return":[9527563927532953],"code":0}', $this->api->Process('API.GetClients', 'petrov2'));
        $this->assertSame('{"return":[],"code":0}', $this->api->Process('API.GetClients', 'nobody-like-this'));
    }

    public function testReads(): void
    {
        $c = 'API.Client.' . self::C1;
        $this->assertSame(self::ok('Иванов Иван Иванович'), $this->api->Process("$c.AutorizeInfo.Name"));
        $this->assertSame(self::ok('100.01'), $this->api->Process("$c.BillingInfo.Money"));
        $this->assertSame(self::ok('Базовый 100'), $this->api->Process("$c.BillingInfo.Tariff"));
        $this->assertSame(self::ok('Физлица'), $this->api->Process("$c.BillingInfo.Group"));
        $this->assertSame(self::ok('ether1'), $this->api->Process("$c.BillingInfo.DefaultInterface"));
        $this->assertSame(self::ok(-1), $this->api->Process("$c.StatusInfo.BlockReason"));
        $this->assertSame(self::ok(false), $this->api->Process("$c.StatusInfo.Blocked"));
        $this->assertSame(self::ok(102400), $this->api->Process("$c.StatusInfo.CurrentSpeedLimitIn"));
        $this->assertSame(self::ok('г. Москва, ул. Ленина, д. 1, кв. 2'), $this->api->Process("$c.PersonalDataInfo.Address"));
        $this->assertSame(self::ok('+79001234567'), $this->api->Process("$c.PersonalDataInfo.MobileTel"));
        $this->assertSame(self::ok(array(1, 2)), $this->api->Process("$c.PersonalDataInfo.Fields"));
        $this->assertSame(self::ok('Договор'), $this->api->Process("$c.PersonalDataInfo.Field.1.FieldName"));
        $this->assertSame(self::ok('Д-0001'), $this->api->Process("$c.PersonalDataInfo.Field.1.FieldValue"));
        $this->assertSame(self::ok(array(28236356495083)), $this->api->Process("$c.AutorizeInfo.Accounts"));
        $a = "$c.AutorizeInfo.Accounts." . self::A1;
        $this->assertSame(self::ok('1.1.1.1'), $this->api->Process("$a.IP"));
        $this->assertSame(self::ok('AA:AA:AA:AA:AA:AA'), $this->api->Process("$a.MAC"));
        $this->assertSame(self::ok('ivanov'), $this->api->Process("$a.Login"));
        $this->assertSame(self::ok('10.0.0.1'), $this->api->Process("$a.PPP_IP"));
        $this->assertSame(self::ok('Петров Пётр Петрович'), $this->api->Process('API.Client.' . self::C2 . '.AutorizeInfo.Name'));
        $this->assertSame(self::ok(3), $this->api->Process('API.Client.4611686018427387905.StatusInfo.BlockReason'));
    }

    public function testOldSpellingApiClientsIsAccepted(): void
    {
        $this->assertSame(self::ok('100.01'), $this->api->Process('API.Clients.' . self::C1 . '.BillingInfo.Money'));
    }

    public function testSetsAndReadBack(): void
    {
        $a = 'API.Client.' . self::C1 . '.AutorizeInfo.Accounts.' . self::A1;
        $this->assertSame('{"return":"OK","code":0}', $this->api->Process("$a.IP", '192.168.25.110'));
        $this->assertSame('{"return":"OK","code":0}', $this->api->Process("$a.MAC", 'aa:bb:cc:dd:ee:ff'));
        $this->assertSame(self::ok('192.168.25.110'), $this->api->Process("$a.IP"));
        $this->assertSame(self::ok('aa:bb:cc:dd:ee:ff'), $this->api->Process("$a.MAC"));
        $name = 'API.Client.' . self::C1 . '.AutorizeInfo.Name';
        $this->assertSame('{"return":"OK","code":0}', $this->api->Process($name, 'Иван/Ivan'));
        $this->assertSame(self::ok('Иван/Ivan'), $this->api->Process($name));
    }

    public function testServerErrorRepliesPassThrough(): void
    {
        $reply = json_decode($this->api->Process('API.Client.1.AutorizeInfo.Name'), true);
        $this->assertSame(202, $reply['code']);
        $reply = json_decode($this->api->Process('API.Client.' . self::C1 . '.AutorizeInfo.Accounts.' . self::A1 . '.IP', 'not-an-ip'), true);
        $this->assertSame(206, $reply['code']);
        $reply = json_decode($this->api->Process('API.Client.' . self::C1 . '.PersonalDataInfo.Field.1.FieldName', 'x'), true);
        $this->assertSame(205, $reply['code']);
    }

    public function testBatchReadOfTwoProperties(): void
    {
        $prefix = 'API.Client.' . self::C1 . '.AutorizeInfo.Accounts';
        $reply = $this->api->Process($prefix, array(self::A1 => array('IP', 'MAC')));
        $this->assertSame(json_encode(array(
            self::leaf('1.1.1.1', $prefix . '.' . self::A1 . '.IP'),
            self::leaf('AA:AA:AA:AA:AA:AA', $prefix . '.' . self::A1 . '.MAC'),
        )), $reply);
    }

    public function testBatchSetOfTwoProperties(): void
    {
        $prefix = 'API.Client.' . self::C1 . '.AutorizeInfo.Accounts';
        $reply = $this->api->Process($prefix, array(self::A1 => array('IP' => '192.168.25.110', 'MAC' => 'aa:bb:cc:dd:ee:ff')));
        $this->assertSame(json_encode(array(
            self::leaf('OK', $prefix . '.' . self::A1 . '.IP'),
            self::leaf('OK', $prefix . '.' . self::A1 . '.MAC'),
        )), $reply);
        $this->assertSame(self::ok('192.168.25.110'), $this->api->Process($prefix . '.' . self::A1 . '.IP'));
    }

    /** A mixed PHP array: element 0 is a read, the dotted key is a set, in one round trip. */
    public function testBatchMixedReadAndSetAcrossClients(): void
    {
        $macPath = self::C2 . '.AutorizeInfo.Accounts.' . self::A2;
        $reply = $this->api->Process('API.Client', array(
            self::C1 . '.BillingInfo.Money',
            $macPath => array('MAC' => 'aa:bb:cc:dd:ee:ff'),
        ));
        $this->assertSame(json_encode(array(
            self::leaf('100.01', 'API.Client.' . self::C1 . '.BillingInfo.Money'),
            self::leaf('OK', "API.Client.$macPath.MAC"),
        )), $reply);
        $this->assertSame(self::ok('aa:bb:cc:dd:ee:ff'), $this->api->Process("API.Client.$macPath.MAC"));
    }

    public function testNestedBatchEqualsTheFlatForm(): void
    {
        $client = 'API.Client.' . self::C1;
        $nested = $this->api->Process($client, array('AutorizeInfo' => array('Accounts' => array(self::A1 => array('IP' => '10.1.1.1')))));
        $flat = $this->api->Process("$client.AutorizeInfo.Accounts." . self::A1, array('IP' => '10.1.1.2'));
        $path = "$client.AutorizeInfo.Accounts." . self::A1 . '.IP';
        $this->assertSame(json_encode(array(self::leaf('OK', $path))), $nested);
        $this->assertSame(json_encode(array(self::leaf('OK', $path))), $flat);
        $this->assertSame(self::ok('10.1.1.2'), $this->api->Process($path));
    }

    public function testAddAccountTakesAnArgumentList(): void
    {
        $client = 'API.Client.' . self::C1 . '.AutorizeInfo.Accounts';
        $reply = json_decode($this->api->Process("$client.AddAccount", array('10.9.9.9', '', 'newlogin', 'newpass')), true);
        $this->assertSame(0, $reply['code'], var_export($reply, true));
        $accounts = json_decode($this->api->Process($client), true)['return'];
        $this->assertCount(2, $accounts);
        $this->assertSame(28236356495083, $accounts[0]);
        $added = $accounts[1];
        $this->assertSame(self::ok('10.9.9.9'), $this->api->Process("$client.$added.IP"));
        $this->assertSame(self::ok('newlogin'), $this->api->Process("$client.$added.Login"));
        $wrong = json_decode($this->api->Process("$client.AddAccount", array('10.9.9.9')), true);
        $this->assertSame(207, $wrong['code']);
    }
}
