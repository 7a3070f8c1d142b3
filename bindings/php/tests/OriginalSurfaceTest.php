<?php
/*
 * What kassa code can touch on the original's object besides its calls: the TIMEOUT constant,
 * private properties that stay private, and serialize()/unserialize() and clone, which must not
 * be fatal. A serialized client keeps its settings and never its password or keys (see
 * MikroBILL_API::__serialize for why); the unserialized object reports that on every call.
 */

use PHPUnit\Framework\TestCase;

final class OriginalSurfaceTest extends TestCase
{
    private static $sim;

    public static function setUpBeforeClass(): void
    {
        self::$sim = new MikroBILL_Simulator();
    }

    public static function tearDownAfterClass(): void
    {
        self::$sim = null;
    }

    public function testTimeoutIsTheOriginalsFiveSeconds(): void
    {
        $this->assertSame(5, MikroBILL_API::TIMEOUT);
    }

    /** @return array<string, array{0:string}> */
    public static function privateProperties(): array
    {
        return array('errno' => array('errno'), 'host' => array('host'), 'port' => array('port'),
            'credentials' => array('credentials'), 'handle' => array('handle'));
    }

    /**
     * @dataProvider privateProperties
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('privateProperties')]
    public function testPrivatePropertiesAreAnErrorFromOutside(string $name): void
    {
        $api = TestEnv::api(self::$sim->port);
        $this->assertPrivate($api, $name);
        $this->assertPrivate(unserialize(serialize($api)), $name);
        $this->assertPrivate(clone $api, $name);
    }

    private function assertPrivate(MikroBILL_API $api, string $name): void
    {
        try {
            $api->$name;
            $this->fail("\$api->$name was readable");
        } catch (Error $e) {
            $this->assertSame("Cannot access private property MikroBILL_API::\$$name", $e->getMessage());
        }
        try {
            $api->$name = 1;
            $this->fail("\$api->$name was writable");
        } catch (Error $e) {
            $this->assertSame("Cannot access private property MikroBILL_API::\$$name", $e->getMessage());
        }
    }

    public function testSerializeKeepsTheSettingsAndNoSecret(): void
    {
        $options = array('io_timeout_ms' => 1234, 'persistent_id' => 'kassa-7');
        $api = new MikroBILL_API('127.0.0.1', (string)self::$sim->port, TestEnv::LOGIN, TestEnv::PASSWORD,
            TestEnv::KEY1, TestEnv::KEY2, $options);
        $expected = $api->Process('API.GetClients');
        $this->assertSame(0, json_decode($expected, true)['code'], $expected);

        $text = serialize($api);
        foreach (array(TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2) as $secret) {
            $this->assertStringNotContainsString($secret, $text);
        }
        $this->assertSame($text, serialize($api), 'the same object serializes alike');
        $this->assertSame($expected, $api->Process('API.GetClients'), 'serializing left the client working');

        $copy = unserialize($text);
        $this->assertInstanceOf(MikroBILL_API::class, $copy);
        $this->assertSame(array('host' => '127.0.0.1', 'port' => (string)self::$sim->port, 'login' => TestEnv::LOGIN,
            'options' => $options, 'handle' => 0), $copy->__debugInfo());
    }

    public function testAnUnserializedClientSaysItHasNoPassword(): void
    {
        $api = TestEnv::api(self::$sim->port);
        $this->assertSame(0, json_decode($api->Process('API.GetClients'), true)['code']);
        $copy = unserialize(serialize($api));
        $before = count(self::$sim->journal());
        foreach (array($copy, clone $copy) as $client) {
            $reply = json_decode($client->Process('API.GetClients'), true);
            $this->assertSame(MikroBILL_Code::INVALID_ARGUMENT, $reply['code']);
            $this->assertStringContainsString('was unserialized', $reply['return']);
            $this->assertFalse($client->CheckConnection());
            $client->Close();
        }
        $this->assertSame($before, count(self::$sim->journal()), 'the copies sent nothing');
        unset($copy);
        $this->assertSame(0, json_decode($api->Process('API.GetClients'), true)['code'], 'the original is untouched');
    }

    public function testUnserializeChecksTheOptionsAsTheConstructorDoes(): void
    {
        $text = serialize(TestEnv::api(self::$sim->port, array()));
        $tampered = str_replace('s:7:"options";a:0:{}', 's:7:"options";a:1:{s:7:"timeout";i:5;}', $text);
        $this->assertNotSame($text, $tampered);
        $this->expectException(InvalidArgumentException::class);
        $this->expectExceptionMessage("unknown option 'timeout'");
        unserialize($tampered);
    }
}
