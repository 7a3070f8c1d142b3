<?php
/*
 * Network faults injected between the shim and the simulator by fault-proxy (built with
 * `cargo build --release --examples`, next to the library): each fault gets its documented code,
 * the next call on the same object works, and no set is applied twice (counted in the
 * simulator's request trace). Also the whole-call deadline and non-JSON-safe codes: a caller
 * that checks json_decode($r)->code never mistakes a failure for success.
 */

use PHPUnit\Framework\TestCase;

final class FaultsTest extends TestCase
{
    const NAME = 'API.Client.633824158637492.AutorizeInfo.Name';

    /** @var MikroBILL_Simulator|null */
    private $sim;
    private $proxy;
    private $in;
    private $out;
    /** @var int */
    private $port;

    protected function setUp(): void
    {
        $this->sim = new MikroBILL_Simulator(array('trace' => true));
        $binary = getenv('MIKROBILL_FAULT_PROXY') ?: dirname(TestEnv::library()) . '/examples/fault-proxy';
        if (!is_executable($binary)) {
            throw new RuntimeException("fault-proxy not found at $binary (cargo build --release --examples)");
        }
        // The proxy ends when its stdin closes, so it never outlives this PHP process.
        $this->proxy = proc_open(array($binary, '--upstream', (string)$this->sim->port),
            array(0 => array('pipe', 'r'), 1 => array('pipe', 'w'), 2 => array('file', '/dev/null', 'a')), $pipes);
        list($this->in, $this->out) = $pipes;
        $first = trim((string)fgets($this->out));
        $this->assertStringStartsWith('listening on 127.0.0.1:', $first);
        $this->port = (int)substr($first, strrpos($first, ':') + 1);
    }

    protected function tearDown(): void
    {
        fclose($this->in);
        fclose($this->out);
        proc_close($this->proxy);
        $this->sim = null;
    }

    private function command(string $line): void
    {
        fwrite($this->in, "$line\n");
        fflush($this->in);
        $this->assertSame('ok', trim((string)fgets($this->out)), $line);
    }

    private function applied(string $marker): int
    {
        return count(array_filter($this->sim->tracedRequests(), function ($line) use ($marker) {
            return strpos($line, $marker) !== false;
        }));
    }

    private function api(array $options): MikroBILL_API
    {
        return new MikroBILL_API('127.0.0.1', $this->port, TestEnv::LOGIN, TestEnv::PASSWORD,
            TestEnv::KEY1, TestEnv::KEY2, $options);
    }

    public function testEachFaultGetsItsCodeAndNoSetIsAppliedTwice(): void
    {
        // io_timeout_ms far above the delay fault's 150 ms and a reconnect's auth, so that a loaded
        // machine (CI runners share cores) cannot turn a passing exchange into a timeout; the stall
        // fault costs that much once.
        $api = $this->api(array('io_timeout_ms' => 1500, 'call_timeout_ms' => 6000));
        $faults = array(
            array('pass', 0, 0), array('delay', 150, 0), array('bytewise', 0, 0),
            array('stall', 0, 9001), array('reset', 0, 9002), array('truncate', 0, 9002),
            array('lose', 0, 9002), array('duplicate', 0, 9012), array('late-duplicate', 50, 0),
            array('unsolicited', 0, 0),
        );
        foreach ($faults as $i => list($fault, $ms, $expected)) {
            $marker = "php-$i-$fault";
            $this->command("fault $fault $ms");
            $reply = json_decode($api->Process(self::NAME, $marker));
            $this->assertSame($expected, $reply->code, "$fault: " . json_encode($reply));
            usleep(120000);
            $read = json_decode($api->Process(self::NAME));
            $this->assertSame(0, $read->code, "after $fault");
            $this->assertSame($marker, $read->return, "after $fault");
            $this->assertSame(1, $this->applied($marker), $fault);
        }
    }

    public function testARestartBetweenCallsIsTransparent(): void
    {
        $api = $this->api(array());
        $this->assertSame(0, json_decode($api->Process(self::NAME, 'before restart'))->code);
        $this->command('restart');
        usleep(50000);
        $this->assertSame('before restart', json_decode($api->Process(self::NAME))->return);
    }

    public function testATrickledReplyEndsAtTheCallTimeout(): void
    {
        $api = $this->api(array('io_timeout_ms' => 1000));
        $api->SetCallTimeout(1200);
        $this->command('fault trickle 100');
        $started = microtime(true);
        $reply = json_decode($api->Process(self::NAME, 'trickled'));
        $took = microtime(true) - $started;
        $this->assertSame(9001, $reply->code);
        $this->assertStringContainsString('call_timeout_ms', $reply->return);
        $this->assertGreaterThanOrEqual(1.1, $took);
        $this->assertLessThan(2.5, $took);
        $this->assertSame(0, json_decode($api->Process(self::NAME))->code);
    }

    public function testCallTimeoutMustBePositive(): void
    {
        $this->expectException(InvalidArgumentException::class);
        $this->api(array('call_timeout_ms' => 0));
    }
}
