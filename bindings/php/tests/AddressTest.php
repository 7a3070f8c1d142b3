<?php
/*
 * $Host and $Port as the original's fsockopen($Host, $Port) takes them: a tcp:// prefix, IPv6 in
 * brackets, ports as numeric text with whitespace, the port inside the host when $Port is 0.
 * Other transports (ssl://, tls://) are refused by name with 9005 before anything is sent.
 */

use PHPUnit\Framework\TestCase;

final class AddressTest extends TestCase
{
    /** @return array<string, array{0:string,1:mixed,2:string,3:int}> host, port => host, port */
    public static function accepted(): array
    {
        return array(
            'plain' => array('core.example', 7403, 'core.example', 7403),
            'tcp:// prefix' => array('tcp://core.example', 7403, 'core.example', 7403),
            'tcp:// any case' => array('TCP://core.example', 7403, 'core.example', 7403),
            'IPv6 in brackets' => array('[::1]', 7403, '::1', 7403),
            'IPv6 bare' => array('::1', 7403, '::1', 7403),
            'tcp:// and brackets' => array('tcp://[fe80::1]', 7403, 'fe80::1', 7403),
            'port as text' => array('h', '7403', 'h', 7403),
            'port with spaces' => array('h', " 7403 ", 'h', 7403),
            'port with a newline' => array('h', "7403\n", 'h', 7403),
            'port as tab and text' => array('h', "\t7403", 'h', 7403),
            'port as an integral float' => array('h', 7403.0, 'h', 7403),
            'port in exponent form' => array('h', '7.403e3', 'h', 7403),
            'port in the host, $Port 0' => array('h:7403', 0, 'h', 7403),
            'port in the host, $Port -1' => array('h:7403', -1, 'h', 7403),
            'port in the host, $Port NULL' => array('h:7403', null, 'h', 7403),
            'port in the host, $Port "0"' => array('h:7403', '0', 'h', 7403),
            'IPv6 with the port in the host' => array('[::1]:7403', 0, '::1', 7403),
            'all of it' => array('tcp://[::1]:7403', null, '::1', 7403),
            // A port given wins, as with fsockopen: "h:1" is then the host name.
            'port given and in the host' => array('h:1', 7403, 'h:1', 7403),
        );
    }

    /**
     * @dataProvider accepted
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('accepted')]
    public function testAcceptedAsFsockopenTakesThem(string $host, $port, string $wantHost, int $wantPort): void
    {
        $this->assertSame(array($wantHost, $wantPort), MikroBILL_Address::resolve($host, $port));
    }

    /** @return array<string, array{0:string,1:mixed,2:string}> host, port => text in the error */
    public static function refused(): array
    {
        return array(
            'ssl://' => array('ssl://core.example', 7403, 'the transport ssl:// is not supported'),
            'tls://' => array('tls://core.example', 7403, 'the transport tls:// is not supported'),
            'tlsv1.2://' => array('tlsv1.2://core.example', 7403, 'the transport tlsv1.2:// is not supported'),
            'udp://' => array('udp://core.example', 7403, 'the transport udp:// is not supported'),
            'unix://' => array('unix:///run/core.sock', 0, 'the transport unix:// is not supported'),
            'port with letters' => array('h', '7403abc', "the port '7403abc' is not a whole number"),
            'port as hex text' => array('h', '0x1CEB', "the port '0x1CEB' is not a whole number"),
            'port with a fraction' => array('h', 7403.5, 'the port 7403.5 is not a whole number'),
            'port as a bool' => array('h', true, 'the port true is not a whole number'),
            'port as an array' => array('h', array(7403), 'the port array is not a whole number'),
            'no port anywhere' => array('h', 0, 'no port: the port given is 0 and the host names none'),
            'bare IPv6, no port' => array('::1', null, 'no port: the port given is NULL'),
            'bracketed IPv6, no port' => array('[::1]', 0, 'no port'),
        );
    }

    /**
     * @dataProvider refused
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('refused')]
    public function testRefusedWithAnErrorNamingWhy(string $host, $port, string $text): void
    {
        try {
            MikroBILL_Address::resolve($host, $port);
            $this->fail('accepted');
        } catch (MikroBILL_Failure $e) {
            $this->assertSame(MikroBILL_Code::INVALID_ARGUMENT, $e->getCode());
            $this->assertStringContainsString($text, $e->getMessage());
        }
    }

    public function testTcpPrefixAndPortTextReachTheServer(): void
    {
        $sim = new MikroBILL_Simulator();
        $api = new MikroBILL_API('tcp://127.0.0.1', ' ' . $sim->port . "\n", TestEnv::LOGIN, TestEnv::PASSWORD,
            TestEnv::KEY1, TestEnv::KEY2);
        $reply = json_decode($api->Process('API.GetClients'), true);
        $this->assertSame(0, $reply['code']);
        $this->assertTrue($api->CheckConnection());
        $this->assertCount(1, $sim->journal('API.GetClients'));
    }

    public function testPortInTheHostReachesTheServer(): void
    {
        $sim = new MikroBILL_Simulator();
        $api = new MikroBILL_API('127.0.0.1:' . $sim->port, 0, TestEnv::LOGIN, TestEnv::PASSWORD,
            TestEnv::KEY1, TestEnv::KEY2);
        $this->assertSame(0, json_decode($api->Process('API.GetClients'), true)['code']);
    }

    public function testIpv6LoopbackInBracketsAndBare(): void
    {
        $sim = new MikroBILL_Simulator(array('host' => '::1'));
        foreach (array('[::1]', '::1', 'tcp://[::1]') as $host) {
            $api = new MikroBILL_API($host, $sim->port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2);
            $reply = json_decode($api->Process('API.GetClients'), true);
            $this->assertSame(0, $reply['code'], $host);
        }
        $this->assertCount(3, $sim->journal('API.GetClients'));
    }

    public function testTlsIsRefusedBeforeConnecting(): void
    {
        $sim = new MikroBILL_Simulator();
        foreach (array('ssl', 'tls') as $transport) {
            $api = new MikroBILL_API("$transport://127.0.0.1", $sim->port, TestEnv::LOGIN, TestEnv::PASSWORD,
                TestEnv::KEY1, TestEnv::KEY2);
            $reply = json_decode($api->Process('API.GetClients'), true);
            $this->assertSame(MikroBILL_Code::INVALID_ARGUMENT, $reply['code']);
            $this->assertStringContainsString("the transport $transport:// is not supported", $reply['return']);
            $this->assertFalse($api->CheckConnection());
        }
        $this->assertSame(array(), $sim->journal(), 'nothing reached the server');
    }
}
