<?php
/*
 * Runs target/release/mikrobill-sim for a test: binds 127.0.0.1:0 (or a given port), reads the
 * port from the first stdout line "listening on 127.0.0.1:PORT", and stops it on demand or when
 * the object goes away.
 */

final class Simulator
{
    /** @var int */
    public $port;
    /** @var string|null the --trace-requests file, when tracing */
    public $traceFile;
    private $process;
    private $pid;
    private $stdout;
    private $args;

    public function __construct(array $args = array(), int $port = 0, bool $trace = false)
    {
        $this->args = $args;
        if ($trace) {
            $this->traceFile = TestEnv::tempDir() . '/trace-' . bin2hex(random_bytes(6)) . '.txt';
            touch($this->traceFile);
        }
        $this->start($port);
    }

    public function __destruct()
    {
        $this->stop();
    }

    /** SIGTERM: the simulator exits cleanly. */
    public function stop(): void
    {
        $this->end(15);
    }

    /** SIGKILL: the server vanishes mid-session, as a crash would. */
    public function kill(): void
    {
        $this->end(9);
    }

    /** SIGSTOP: the server hangs, its connections stay open and nothing is answered. */
    public function suspend(): void
    {
        // Linux signal numbers; ext-pcntl, which names them, is not required by the suite.
        proc_terminate($this->process, 19);
    }

    /** SIGCONT after suspend(). */
    public function resume(): void
    {
        proc_terminate($this->process, 18);
    }

    /** Starts again on the same port (after stop() or kill()). */
    public function restart(): void
    {
        $this->end(15);
        $this->start($this->port);
    }

    /** Request plaintexts the simulator decrypted, one per line (auth frames are not traced). */
    public function tracedRequests(): array
    {
        if ($this->traceFile === null) {
            throw new LogicException('simulator started without tracing');
        }
        $text = file_get_contents($this->traceFile);
        return $text === '' ? array() : explode("\n", rtrim($text, "\n"));
    }

    private function start(int $port): void
    {
        $command = array(TestEnv::simulator(), '--listen', '127.0.0.1:' . $port);
        if ($this->traceFile !== null) {
            array_push($command, '--trace-requests', $this->traceFile);
        }
        $command = array_merge($command, $this->args);
        $stderr = TestEnv::tempDir() . '/sim-stderr.log';
        $this->process = proc_open($command, array(
            0 => array('file', '/dev/null', 'r'),
            1 => array('pipe', 'w'),
            2 => array('file', $stderr, 'a'),
        ), $pipes);
        if (!is_resource($this->process)) {
            throw new RuntimeException('cannot start ' . TestEnv::simulator());
        }
        $this->pid = TestEnv::trackProcess($this->process, $command[0]);
        $this->stdout = $pipes[1];
        $line = fgets($this->stdout);
        if ($line === false || !preg_match('/^listening on 127\.0\.0\.1:(\d+)$/', rtrim($line, "\r\n"), $m)) {
            $this->end(9);
            throw new RuntimeException('simulator did not report its port; first line: ' . var_export($line, true)
                . '; stderr: ' . @file_get_contents($stderr));
        }
        $this->port = (int)$m[1];
    }

    private function end(int $signal): void
    {
        if ($this->process === null) {
            return;
        }
        proc_terminate($this->process, $signal);
        // Drain stdout so the simulator can never block on a full pipe while exiting.
        stream_get_contents($this->stdout);
        fclose($this->stdout);
        proc_close($this->process);
        $this->process = null;
        TestEnv::untrackProcess($this->pid);
    }
}
