<?php
/* A clone is an independent client: it never shares (and so never releases) the original's handle. */

use PHPUnit\Framework\TestCase;

final class CloneTest extends TestCase
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

    public function testDestroyingAConnectedCloneLeavesTheOriginalWorking(): void
    {
        $a = TestEnv::api(self::$sim->port);
        $expected = $a->Process('API.GetClients');
        $this->assertSame(0, json_decode($expected, true)['code'], $expected);
        $b = clone $a;
        $this->assertSame($expected, $b->Process('API.GetClients'));
        $this->assertNotSame($a->__debugInfo()['handle'], $b->__debugInfo()['handle'], 'the copy got its own handle');
        unset($b);
        $this->assertSame($expected, $a->Process('API.GetClients'));
        $this->assertTrue($a->CheckConnection());
    }

    public function testDestroyingTheOriginalLeavesTheCloneWorking(): void
    {
        $a = TestEnv::api(self::$sim->port);
        $expected = $a->Process('API.GetClients');
        $b = clone $a;
        unset($a);
        $this->assertSame($expected, $b->Process('API.GetClients'));
    }

    public function testCloneBeforeConnectingAndCloseOnTheCopy(): void
    {
        $a = TestEnv::api(self::$sim->port);
        $b = clone $a;
        $expected = $b->Process('API.GetClients');
        $this->assertSame(0, json_decode($expected, true)['code'], $expected);
        $this->assertSame($expected, $a->Process('API.GetClients'));
        $b->Close();
        $this->assertSame($expected, $a->Process('API.GetClients'));
    }
}
