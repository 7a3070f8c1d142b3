<?php
/*
 * An object that goes away without Close() releases its handle with mb_discard: nothing is sent
 * and nothing is awaited, so a hung server cannot stall the end of a script or of a php-fpm
 * request. The object is destroyed in a child php process while the simulator is SIGSTOPped; with
 * a 60 s io_timeout a destructor that said DISCONNECT and waited for the reply would hold the
 * child far beyond the bound below. The bound only limits the wait; nothing is asserted on time.
 */

use PHPUnit\Framework\TestCase;

final class DestructorTest extends TestCase
{
    const DISCONNECT = '{"path":"DISCONNECT","value":null}';
    /** Bounds each wait for the child; far below the child's 60 s io_timeout. */
    const DEADLINE_S = 20;

    /** The child: connect, report, wait for the word, drop the object, report again. */
    private const CHILD = <<<'PHP'
<?php
require $argv[1];
$api = new MikroBILL_API('127.0.0.1', (int)$argv[2], $argv[3], $argv[4], $argv[5], $argv[6],
    array('io_timeout_ms' => 60000));
echo $api->CheckConnection() ? "connected\n" : "not connected\n";
fgets(STDIN);
$api = null;
echo "released\n";
fgets(STDIN);
PHP;

    /** Reads one line from $stream, waiting at most DEADLINE_S; null when none came. */
    private static function lineWithin($stream): ?string
    {
        $read = array($stream);
        $write = $except = null;
        if (stream_select($read, $write, $except, self::DEADLINE_S) !== 1) {
            return null;
        }
        $line = fgets($stream);
        return $line === false ? null : rtrim($line, "\n");
    }

    public function testDestructorDoesNotWaitForAHungServer(): void
    {
        $sim = new MikroBILL_Simulator(array('trace' => true));
        $script = TestEnv::tempDir() . '/destroy-child.php';
        file_put_contents($script, self::CHILD);
        $command = array(PHP_BINARY, $script, TestEnv::bindingDir() . '/apicore.php', (string)$sim->port,
            TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2);
        $child = proc_open($command, array(0 => array('pipe', 'r'), 1 => array('pipe', 'w'),
            2 => array('file', TestEnv::tempDir() . '/destroy-child.err', 'w')), $pipes);
        $this->assertIsResource($child);
        $pid = TestEnv::trackProcess($child, PHP_BINARY);
        try {
            $this->assertSame('connected', self::lineWithin($pipes[1]), 'child connected');
            $sim->suspend();
            try {
                fwrite($pipes[0], "go\n");
                $released = self::lineWithin($pipes[1]);
            } finally {
                $sim->resume();
            }
            $this->assertSame('released', $released,
                'the destructor returned while the server was stopped; child stderr: '
                . file_get_contents(TestEnv::tempDir() . '/destroy-child.err'));
        } finally {
            fclose($pipes[0]);
            stream_get_contents($pipes[1]);
            fclose($pipes[1]);
            proc_close($child);
            TestEnv::untrackProcess($pid);
        }
        // The resumed simulator still serves, and the destroyed object never said DISCONNECT:
        // this client's own Close() is the only one in the trace.
        $api = TestEnv::api($sim->port);
        $this->assertStringContainsString('"code":0', $api->Process('API.GetClients'));
        $api->Close();
        $this->assertSame(array('{"path":"API.GetClients","value":null}', self::DISCONNECT), $sim->tracedRequests());
    }

    public function testCloseStillSaysDisconnect(): void
    {
        $sim = new MikroBILL_Simulator(array('trace' => true));
        $api = TestEnv::api($sim->port);
        $this->assertTrue($api->CheckConnection());
        $api->Close();
        $this->assertSame(array(self::DISCONNECT), $sim->tracedRequests());
        $api = null;
        $this->assertSame(array(self::DISCONNECT), $sim->tracedRequests(), 'the destructor sends nothing more');
    }
}
