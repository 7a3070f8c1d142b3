<?php
/* Failures come back from Process() as JSON error text with a non-zero code; nothing throws. */

use PHPUnit\Framework\TestCase;

final class ErrorPathsTest extends TestCase
{
    /** @var MikroBILL_Simulator|null */
    private $sim;

    protected function setUp(): void
    {
        $this->sim = new MikroBILL_Simulator();
    }

    protected function tearDown(): void
    {
        $this->sim = null;
    }

    private static function decode(string $reply): array
    {
        $decoded = json_decode($reply, true);
        self::assertIsArray($decoded, "not JSON: $reply");
        return $decoded;
    }

    public function testWrongPasswordIsTheServersRejection(): void
    {
        $api = TestEnv::api($this->sim->port, array('password' => 'wrong'));
        $reply = self::decode($api->Process('API.GetClients'));
        $this->assertSame(101, $reply['code']);
        $this->assertIsString($reply['return']);
        $this->assertSame($reply['return'], $reply['result'], 'both the server\'s and the original\'s key');
        $this->assertFalse($api->CheckConnection());
        // Not code 0 on the second failure either (a defect of the original).
        $this->assertSame(101, self::decode($api->Process('API.GetClients'))['code']);
    }

    public function testCashierWithoutApiRight(): void
    {
        $api = TestEnv::api($this->sim->port, array('login' => 'noapi'));
        $this->assertSame(102, self::decode($api->Process('API.GetClients'))['code']);
    }

    public function testWrongKeysGiveCode6(): void
    {
        $otherKey1 = base64_encode(str_repeat("\x42", 32));
        $api = TestEnv::api($this->sim->port, array('key1' => $otherKey1));
        $reply = self::decode($api->Process('API.GetClients'));
        $this->assertSame(6, $reply['code']);
        $this->assertSame('Null response! Probably incorrect encryption keys!', $reply['result']);
        $this->assertSame(6, self::decode($api->Process('API.GetClients'))['code']);
        $this->assertFalse($api->CheckConnection());
    }

    public function testInvalidKeyIsReportedNotThrown(): void
    {
        $api = TestEnv::api($this->sim->port, array('key2' => 'not base64!'));
        $this->assertSame(9006, self::decode($api->Process('API.GetClients'))['code']);
        $this->assertFalse($api->CheckConnection());
    }

    public function testServerDownGivesErrno111(): void
    {
        $api = TestEnv::api(TestEnv::closedPort());
        $reply = self::decode($api->Process('API.GetClients'));
        $this->assertSame(111, $reply['code']);
        $this->assertSame('Can`t connect!', $reply['result']);
        $this->assertSame(111, self::decode($api->Process('API.GetClients'))['code']);
    }

    public function testCheckConnectionFollowsTheServer(): void
    {
        $api = TestEnv::api($this->sim->port);
        $this->assertTrue($api->CheckConnection(), 'lazy first connect');
        $this->assertTrue($api->CheckConnection(), 'established connection');
        $this->sim->stop();
        $this->assertFalse($api->CheckConnection());
        $this->sim->restart();
        $this->assertTrue($api->CheckConnection());
    }

    public function testServerKilledMidSessionAndRestartedIsReconnectedTransparently(): void
    {
        $api = TestEnv::api($this->sim->port);
        $expected = $api->Process('API.GetClients');
        $this->assertSame(0, self::decode($expected)['code']);
        $this->sim->kill();
        $this->sim->restart();
        $this->assertSame($expected, $api->Process('API.GetClients'));
    }

    public function testCloseThenReuse(): void
    {
        $api = TestEnv::api($this->sim->port);
        $expected = $api->Process('API.GetClients');
        $api->Close();
        $api->Close(); // harmless twice
        $this->assertSame($expected, $api->Process('API.GetClients'));
        $this->assertTrue($api->CheckConnection());
    }

    public function testCloseBeforeAnyCallIsHarmless(): void
    {
        $api = TestEnv::api($this->sim->port);
        $api->Close();
        $this->assertSame(0, self::decode($api->Process('API.GetClients'))['code']);
    }

    public function testOptionsReachTheLibrary(): void
    {
        // A 16-byte frame limit is below any reply, so the library must refuse the auth reply.
        $api = new MikroBILL_API('127.0.0.1', $this->sim->port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1,
            TestEnv::KEY2, array('max_frame_bytes' => 16, 'connect_timeout_ms' => 2000, 'io_timeout_ms' => 2000));
        $this->assertNotSame(0, self::decode($api->Process('API.GetClients'))['code']);
        $api->SetMaxFrame(1 << 20);
        $this->assertSame(0, self::decode($api->Process('API.GetClients'))['code']);
        $api->SetConnectTimeout(3000);
        $api->SetIOTimeout(3000);
        $this->assertSame(0, self::decode($api->Process('API.GetClients'))['code']);
    }

    public function testUnknownOrInvalidOptionThrows(): void
    {
        try {
            new MikroBILL_API('127.0.0.1', 1, 'a', 'b', TestEnv::KEY1, TestEnv::KEY2, array('timeout' => 5));
            $this->fail('unknown option accepted');
        } catch (InvalidArgumentException $e) {
            $this->assertStringContainsString("unknown option 'timeout'", $e->getMessage());
        }
        $this->expectException(InvalidArgumentException::class);
        TestEnv::api($this->sim->port)->SetIOTimeout(0);
    }

    public function testPortAsTextIsAccepted(): void
    {
        $api = new MikroBILL_API('127.0.0.1', (string)$this->sim->port, TestEnv::LOGIN, TestEnv::PASSWORD,
            TestEnv::KEY1, TestEnv::KEY2);
        $this->assertSame(0, self::decode($api->Process('API.GetClients'))['code']);
    }
}
