<?php
/*
 * Every kind of PHP value reaches the server exactly as json_encode(array('path'=>..,'value'=>..))
 * writes it, the way the original builds its request. The simulator's --trace-requests file shows
 * the decrypted plaintexts it received.
 */

use PHPUnit\Framework\TestCase;

final class ValueShapesTest extends TestCase
{
    const PATH = 'API.Client.633824158637492.PersonalDataInfo.Address';

    private static function nested(int $depth)
    {
        $value = array('leaf' => 'Ж');
        for ($i = 1; $i < $depth; $i++) {
            $value = array('level' . $i => $value, $i);
        }
        return $value;
    }

    public static function values(): array
    {
        $object = new stdClass();
        $object->k = 'v';
        return array(
            'null (a read)' => array(null),
            'true' => array(true),
            'false' => array(false),
            'zero' => array(0),
            'negative int' => array(-5),
            'int max' => array(PHP_INT_MAX),
            'int min' => array(PHP_INT_MIN),
            'bigint guid' => array(9527563927532953),
            'float' => array(1.5),
            'float 0.1' => array(0.1),
            'float integral' => array(10.0),
            'float negative zero' => array(-0.0),
            'float exponent' => array(1.0e100),
            'float tiny' => array(1.5e-9),
            'empty string' => array(''),
            'cyrillic, slash, quotes' => array('Иван "Ваня" О\'Нил / Ivan \\ tab' . "\t" . 'newline' . "\n"),
            'astral plane' => array("emoji \u{1F600} and \u{10FFFF}"),
            'control and html chars' => array("\x01\x1f<>&'"),
            'numeric string' => array('007'),
            'empty array' => array(array()),
            'list' => array(array('IP', 'MAC', 3, 4.5, true, null)),
            'assoc' => array(array('IP' => '192.168.25.110', 'MAC' => 'aa:bb:cc:dd:ee:ff')),
            'mixed array' => array(array('a.b', 'c.d' => array('X' => 1))),
            'list with a gap' => array(array(0 => 'a', 2 => 'b')),
            'list not from zero' => array(array(1 => 'a', 2 => 'b')),
            'numeric string keys' => array(array('10' => 'x', '-3' => 'y')),
            'empty key' => array(array('' => 'empty key')),
            'object' => array($object),
            'empty object' => array(new stdClass()),
            'nested lists' => array(array(array(array(array())))),
            'nested deep (100 levels)' => array(self::nested(100)),
        );
    }

    /** @dataProvider values */
    #[\PHPUnit\Framework\Attributes\DataProvider('values')]
    public function testValueReachesTheServerAsJsonEncodeWritesIt($value): void
    {
        $sim = new MikroBILL_Simulator(array('trace' => true));
        $api = TestEnv::api($sim->port);
        $reply = $api->Process(self::PATH, $value);
        $this->assertIsArray(json_decode($reply, true), "reply is not JSON: $reply");
        $this->assertArrayNotHasKey('result', json_decode($reply, true), "local error instead of a server reply: $reply");
        $this->assertSame(array(json_encode(array('path' => self::PATH, 'value' => $value))), $sim->tracedRequests());
    }

    /** json_encode's default depth limit (512, counting the request wrapper) is what the original
     *  could send; the shim must not refuse anything the original sent. */
    public function testNestingUpToJsonEncodesDefaultLimit(): void
    {
        $value = 'x';
        for ($i = 0; $i < 511; $i++) {
            $value = array($value);
        }
        $this->assertNotFalse(json_encode(array('path' => self::PATH, 'value' => $value)));
        $sim = new MikroBILL_Simulator(array('trace' => true));
        $api = TestEnv::api($sim->port); // kept alive: its destructor would add a traced DISCONNECT
        $reply = $api->Process(self::PATH, $value);
        $this->assertArrayNotHasKey('result', json_decode($reply, true) ?? array(), "local error: $reply");
        $this->assertSame(array(json_encode(array('path' => self::PATH, 'value' => $value))), $sim->tracedRequests());
    }

    public function testValueJsonEncodeRefusesIsALocalError(): void
    {
        $sim = new MikroBILL_Simulator(array('trace' => true));
        $api = TestEnv::api($sim->port);
        foreach (array("\xff\xfe not UTF-8", NAN, INF) as $bad) {
            $reply = json_decode($api->Process(self::PATH, $bad), true);
            $this->assertSame(9005, $reply['code']);
            $this->assertStringStartsWith('value cannot be JSON-encoded: ', $reply['detail']);
        }
        $this->assertSame(array(), $sim->tracedRequests(), 'nothing may be sent for a value json_encode refuses');
    }

    public function testPathWithNulByteIsALocalError(): void
    {
        $sim = new MikroBILL_Simulator(array('trace' => true));
        $reply = json_decode(TestEnv::api($sim->port)->Process("API.GetClients\0tail"), true);
        $this->assertSame(9005, $reply['code']);
        $this->assertSame(array(), $sim->tracedRequests());
    }
}
