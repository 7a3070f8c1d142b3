<?php
/*
 * The shim and a client written the way the original is (OriginalStyleClient: mcrypt, pack('I'),
 * json_encode, fsockopen) make the same calls against two fresh simulators; the servers must
 * see identical request plaintexts and the callers must get identical replies.
 */

use PHPUnit\Framework\TestCase;

final class CompatibilityTest extends TestCase
{
    private static function calls(): array
    {
        $c = 'API.Client.633824158637492';
        $a = "$c.AutorizeInfo.Accounts.28236356495083";
        return array(
            array('API.GetClients', null),
            array('API.GetClients', 'Иванов'),
            array("$c.AutorizeInfo.Name", null),
            array("$c.BillingInfo.Money", null),
            array("$c.AutorizeInfo.Name", 'Иван "Ваня" / Ivan'),
            array("$c.AutorizeInfo.Name", null),
            array("$a.IP", '192.168.25.110'),
            array("$c.AutorizeInfo.Accounts", array('28236356495083' => array('IP', 'MAC'))),
            array("$c.AutorizeInfo.Accounts", array('28236356495083' => array('IP' => '10.0.0.9', 'MAC' => 'aa:bb:cc:dd:ee:ff'))),
            array('API.Client', array('633824158637492.BillingInfo.Money',
                '9527563927532953.AutorizeInfo.Accounts.835354904534456' => array('MAC' => 'aa:bb:cc:dd:ee:ff'))),
            array($c, array('AutorizeInfo' => array('Accounts' => array('28236356495083' => array('IP' => '10.0.0.10'))))),
            array("$c.AutorizeInfo.Accounts.AddAccount", array('10.9.9.9', '', 'newlogin', 'newpass')),
            array("$c.AutorizeInfo.Accounts", null),
            array("$c.PersonalDataInfo.Field.1.FieldValue", 'Д-0002/Б'),
            array("$c.StatusInfo.BlockReason", 3),
            array("$c.StatusInfo.Blocked", true),
            array("$c.BillingInfo.Money", '250.5'),
            array("$c.StatusInfo.CurrentSpeedLimitIn", 2048.0),
            array('API.Client.1.AutorizeInfo.Name', null),
            array("$c.No.Such.Path", array('a.b', 'c.d' => array('X' => 1))),
        );
    }

    /** @return array{0: string[], 1: string[]} replies and traced requests */
    private static function drive($client, MikroBILL_Simulator $sim): array
    {
        $replies = array();
        foreach (self::calls() as list($path, $value)) {
            $replies[] = $client->Process($path, $value);
        }
        $client->Close();
        return array($replies, $sim->tracedRequests());
    }

    public function testShimAndOriginalStyleClientAreIndistinguishableAtTheServer(): void
    {
        $shimSim = new MikroBILL_Simulator(array('trace' => true));
        $shim = new MikroBILL_API('127.0.0.1', $shimSim->port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2);
        list($shimReplies, $shimRequests) = self::drive($shim, $shimSim);

        $origSim = new MikroBILL_Simulator(array('trace' => true));
        $orig = new OriginalStyleClient('127.0.0.1', $origSim->port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2);
        list($origReplies, $origRequests) = self::drive($orig, $origSim);

        // The oracle itself must have worked, or the comparison proves nothing.
        $this->assertSame(0, json_decode($origReplies[0], true)['code'], $origReplies[0]);
        $this->assertCount(count(self::calls()) + 1, $origRequests, 'every call plus DISCONNECT');
        $this->assertSame('{"path":"DISCONNECT","value":null}', end($origRequests));

        $this->assertSame($origRequests, $shimRequests);
        $this->assertSame($origReplies, $shimReplies);
    }

    /**
     * A core that echoes batch paths normalised, and one that replies in CP1251: the original
     * passed every reply through, and the shim's replies are byte for byte the original-style
     * client's (InferredRepliesTest checks them against the default simulator's in the roots too).
     */
    public function testRepliesOfACoreThatAnswersDifferentlyAreTheOriginalsBytes(): void
    {
        $c = 'API.Client.633824158637492';
        $calls = array(
            array($c, array('AutorizeInfo.Name', 'BillingInfo.Money', 'AutorizeInfo.Accounts')),
            array($c, array('BillingInfo' => array('Money' => '7.5'), 'AutorizeInfo' => array('Name' => 'Иван'))),
            array("$c.AutorizeInfo.Name", null),
            array('API.Client', array('633824158637492.AutorizeInfo.Name', '9527563927532953.BillingInfo.Money')),
        );
        foreach (array(array('--batch-paths', 'normalised'), array('--reply-encoding', 'cp1251')) as $args) {
            $results = array();
            foreach (array('shim', 'orig') as $which) {
                $sim = new MikroBILL_Simulator(array('args' => $args));
                $client = $which === 'shim'
                    ? new MikroBILL_API('127.0.0.1', $sim->port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2)
                    : new OriginalStyleClient('127.0.0.1', $sim->port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2);
                $replies = array();
                foreach ($calls as list($path, $value)) {
                    $replies[] = bin2hex($client->Process($path, $value));
                }
                $results[$which] = $replies;
            }
            $first = hex2bin($results['orig'][0]);
            $this->assertStringContainsString('"code":0', $first, implode(' ', $args) . ': ' . $first);
            $this->assertSame($results['orig'], $results['shim'], implode(' ', $args));
        }
    }

    public function testARejectedLoginHasTheOriginalsResultAndTheServersReturn(): void
    {
        $sim = new MikroBILL_Simulator();
        foreach (array(array(TestEnv::LOGIN, 'wrong', 101), array('noapi', TestEnv::PASSWORD, 102)) as list($login, $password, $code)) {
            $shim = new MikroBILL_API('127.0.0.1', $sim->port, $login, $password, TestEnv::KEY1, TestEnv::KEY2);
            $orig = new OriginalStyleClient('127.0.0.1', $sim->port, $login, $password, TestEnv::KEY1, TestEnv::KEY2);
            $origReply = json_decode($orig->Process('API.GetClients'), true);
            $shimReply = json_decode($shim->Process('API.GetClients'), true);
            $this->assertSame($code, $origReply['code']);
            $this->assertIsString($origReply['result']);
            $this->assertNotSame('', $origReply['result']);
            // An extension written for the original reads `result`; one written for the server reads `return`.
            $this->assertSame($origReply, array_intersect_key($shimReply, array('result' => 1, 'code' => 1)));
            $this->assertSame($shimReply['result'], $shimReply['return']);
        }
    }

    public function testBothClientsReportWrongKeysAndServerDownWithTheSameCodes(): void
    {
        $sim = new MikroBILL_Simulator();
        $wrong = base64_encode(str_repeat("\x42", 32));
        $shim = new MikroBILL_API('127.0.0.1', $sim->port, TestEnv::LOGIN, TestEnv::PASSWORD, $wrong, TestEnv::KEY2);
        $orig = new OriginalStyleClient('127.0.0.1', $sim->port, TestEnv::LOGIN, TestEnv::PASSWORD, $wrong, TestEnv::KEY2);
        $this->assertSame(json_decode($orig->Process('API.GetClients'), true),
            array_intersect_key(json_decode($shim->Process('API.GetClients'), true), array('result' => 1, 'code' => 1)));

        $port = TestEnv::closedPort();
        $shim = new MikroBILL_API('127.0.0.1', $port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2);
        $orig = new OriginalStyleClient('127.0.0.1', $port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2);
        $this->assertSame(json_decode($orig->Process('API.GetClients'), true),
            array_intersect_key(json_decode($shim->Process('API.GetClients'), true), array('result' => 1, 'code' => 1)));
    }
}
