<?php
/*
 * A private php-fpm8.2 master on a unix socket for the preload test, spoken to with cgi-fcgi
 * (package libfcgi-bin). It runs in the foreground (-F) so proc_terminate stops it.
 */

final class FpmServer
{
    private $dir;
    private $process;
    private $pid;

    /** @param array $ini extra -d settings for the master (and so the workers) */
    public function __construct(array $ini)
    {
        $this->dir = TestEnv::tempDir() . '/fpm-' . bin2hex(random_bytes(4));
        mkdir($this->dir);
        $user = posix_getpwuid(posix_geteuid())['name'];
        $group = posix_getgrgid(posix_getegid())['name'];
        file_put_contents("$this->dir/fpm.conf", implode("\n", array(
            '[global]',
            "pid = $this->dir/fpm.pid",
            "error_log = $this->dir/fpm.log",
            'daemonize = no',
            '[mikrobill]',
            "user = $user",
            "group = $group",
            "listen = $this->dir/fpm.sock",
            'pm = static',
            'pm.max_children = 1',
            // Workers start with a clean environment; this is how a deployment passes the path.
            'env[MIKROBILL_LIB] = ' . TestEnv::library(),
            '',
        )));
        $command = array('php-fpm8.2', '-F', '-y', "$this->dir/fpm.conf");
        if (posix_geteuid() === 0) {
            $command[] = '-R'; // CI runs as root
        }
        foreach ($ini as $name => $value) {
            $command[] = '-d';
            $command[] = "$name=$value";
        }
        $this->process = proc_open($command, array(0 => array('file', '/dev/null', 'r'),
            1 => array('file', "$this->dir/stdout.log", 'a'), 2 => array('file', "$this->dir/stderr.log", 'a')), $pipes);
        if (!is_resource($this->process)) {
            throw new RuntimeException('cannot start php-fpm8.2');
        }
        $this->pid = TestEnv::trackProcess($this->process, $command[0]);
        // Startup wait only: the socket appears once the master has preloaded and forked.
        for ($i = 0; $i < 200 && !file_exists("$this->dir/fpm.sock"); $i++) {
            if (!proc_get_status($this->process)['running']) {
                break;
            }
            usleep(50000);
        }
        if (!file_exists("$this->dir/fpm.sock")) {
            $log = $this->logs();
            $this->stop();
            throw new RuntimeException("php-fpm did not start: $log");
        }
    }

    public function __destruct()
    {
        $this->stop();
    }

    public function stop(): void
    {
        if ($this->process !== null) {
            proc_terminate($this->process, 15);
            proc_close($this->process);
            $this->process = null;
            TestEnv::untrackProcess($this->pid);
        }
    }

    public function logs(): string
    {
        $text = '';
        foreach (array('fpm.log', 'stdout.log', 'stderr.log') as $name) {
            $text .= "[$name] " . @file_get_contents("$this->dir/$name") . "\n";
        }
        return $text;
    }

    /** Runs $script through FastCGI and returns the response body (headers removed). */
    public function request(string $script, string $query = ''): string
    {
        $env = array('SCRIPT_FILENAME' => $script, 'SCRIPT_NAME' => '/' . basename($script),
            'REQUEST_METHOD' => 'GET', 'QUERY_STRING' => $query, 'PATH' => getenv('PATH'));
        $process = proc_open(array('cgi-fcgi', '-bind', '-connect', "$this->dir/fpm.sock"),
            array(0 => array('file', '/dev/null', 'r'), 1 => array('pipe', 'w'), 2 => array('pipe', 'w')),
            $pipes, null, $env);
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        $status = proc_close($process);
        if ($status !== 0) {
            throw new RuntimeException("cgi-fcgi failed ($status): $err " . $this->logs());
        }
        $split = strpos($out, "\r\n\r\n");
        return $split === false ? $out : substr($out, $split + 4);
    }
}
