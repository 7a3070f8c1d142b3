<?php
/*
 * PHPUnit helper for kassa extensions: runs the MikroBILL core simulator (mikrobill-sim) as a
 * test double, with its control API, for one test.
 *
 *   final class TariffTest extends PHPUnit\Framework\TestCase
 *   {
 *       use MikroBILL_SimulatorTrait;
 *
 *       public function testTariffName(): void
 *       {
 *           $sim = $this->startMikroBILLSimulator(array('stubs' => array(
 *               array('path' => 'API.Tariffs.*.Name', 'return' => 'Unlimited'))));
 *           $reply = json_decode($sim->api()->Process('API.Tariffs.7.Name'), true);
 *           $this->assertSame('Unlimited', $reply['return']);
 *           $this->assertSame('API.Tariffs.7.Name', $sim->journal()[0]['path']);
 *       }
 *   }
 *
 * The simulator binary is $MIKROBILL_SIM or mikrobill-sim on PATH; a missing one is an error,
 * never a skip. The simulator stops after each test (and when the object goes away).
 */

if (!class_exists('MikroBILL_Simulator', false)) {
    final class MikroBILL_Simulator
    {
        const KEY1 = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
        const KEY2 = 'EBESExQVFhcYGRobHB0eHw==';
        const LOGIN = 'api';
        const PASSWORD = 'secret';

        /** @var string the address the API listens on: 127.0.0.1 unless 'host' said otherwise */
        public $host;
        /** @var int the API port */
        public $port;
        /** @var string the control API, "http://127.0.0.1:PORT/" */
        public $adminUrl;
        /** @var string|null the --trace-requests file, when started with 'trace' */
        public $traceFile;
        private $binary;
        private $process;
        private $stdout;
        private $dir;
        private $command;

        /**
         * @param array $options 'dataset' (array, the dataset format), 'stubs' and 'faults' (lists as
         *   in the simulator's config, which then holds the cashier LOGIN/PASSWORD and KEY1/KEY2;
         *   without them the simulator's demo config, with the same keys and that cashier among
         *   others), 'args' (more command-line flags), 'port' (default 0: any free port),
         *   'trace' (true: every decrypted request goes to a file, see tracedRequests()),
         *   'host' (the API's listen address, default 127.0.0.1; '::1' for IPv6 loopback)
         */
        public function __construct(array $options = array())
        {
            $this->binary = getenv('MIKROBILL_SIM') ?: self::onPath('mikrobill-sim');
            if ($this->binary === null || !is_file($this->binary)) {
                throw new RuntimeException('mikrobill-sim not found: set MIKROBILL_SIM or put it on PATH');
            }
            $this->dir = sys_get_temp_dir() . '/mikrobill-sim-' . bin2hex(random_bytes(6));
            mkdir($this->dir, 0700);
            $command = array('--admin', '127.0.0.1:0');
            if (!empty($options['stubs']) || !empty($options['faults'])) {
                file_put_contents($this->dir . '/config.json', json_encode(array(
                    'key1' => self::KEY1, 'key2' => self::KEY2,
                    'cashiers' => array(array('login' => self::LOGIN, 'password' => self::PASSWORD)),
                    'stubs' => isset($options['stubs']) ? $options['stubs'] : array(),
                    'faults' => isset($options['faults']) ? $options['faults'] : array(),
                )));
                array_push($command, '--config', $this->dir . '/config.json');
            }
            if (isset($options['dataset'])) {
                file_put_contents($this->dir . '/dataset.json', json_encode($options['dataset']));
                array_push($command, '--dataset', $this->dir . '/dataset.json');
            }
            if (!empty($options['trace'])) {
                $this->traceFile = $this->dir . '/trace.txt';
                touch($this->traceFile);
                array_push($command, '--trace-requests', $this->traceFile);
            }
            $this->host = isset($options['host']) ? (string)$options['host'] : '127.0.0.1';
            $this->command = array_merge($command, isset($options['args']) ? $options['args'] : array());
            $this->start(isset($options['port']) ? (int)$options['port'] : 0);
        }

        public function __destruct()
        {
            $this->stop();
            foreach (glob($this->dir . '/*') ?: array() as $file) {
                unlink($file);
            }
            @rmdir($this->dir);
        }

        private static function onPath(string $name): ?string
        {
            foreach (explode(PATH_SEPARATOR, (string)getenv('PATH')) as $dir) {
                if ($dir !== '' && is_executable("$dir/$name")) {
                    return "$dir/$name";
                }
            }
            return null;
        }

        private function start(int $port): void
        {
            // An IPv6 address in brackets, as the simulator takes and prints it.
            $address = strpos($this->host, ':') === false ? $this->host : '[' . $this->host . ']';
            $this->process = proc_open(array_merge(array($this->binary, '--listen', "$address:$port"), $this->command),
                array(
                    0 => array('file', '/dev/null', 'r'),
                    1 => array('pipe', 'w'),
                    2 => array('file', $this->dir . '/stderr.txt', 'a'),
                ), $pipes);
            if (!is_resource($this->process)) {
                throw new RuntimeException("cannot start {$this->binary}");
            }
            $this->stdout = $pipes[1];
            $this->port = (int)$this->line('/^listening on ' . preg_quote($address, '/') . ':(\d+)$/');
            $this->adminUrl = 'http://' . $this->line('#^admin on http://([0-9.:]+)/$#') . '/';
        }

        private function line(string $pattern): string
        {
            $line = fgets($this->stdout);
            if ($line === false || !preg_match($pattern, rtrim($line, "\r\n"), $m)) {
                $stderr = @file_get_contents($this->dir . '/stderr.txt');
                $this->end(9);
                throw new RuntimeException('simulator did not start: ' . var_export($line, true) . "; stderr: $stderr");
            }
            return $m[1];
        }

        /** A MikroBILL_API (the apicore.php class) logged in to this simulator. */
        public function api(array $options = array()): MikroBILL_API
        {
            $host = strpos($this->host, ':') === false ? $this->host : '[' . $this->host . ']';
            return new MikroBILL_API($host, $this->port, self::LOGIN, self::PASSWORD,
                self::KEY1, self::KEY2, $options);
        }

        /**
         * One control-API call; returns the decoded JSON.
         * @throws RuntimeException with the status and body on a 4xx/5xx answer
         */
        public function call(string $method, string $route, $body = null): array
        {
            $context = stream_context_create(array('http' => array(
                'method' => $method,
                'header' => "Content-Type: application/json\r\n",
                'content' => $body === null ? '' : json_encode($body),
                'ignore_errors' => true,
                'timeout' => 30,
            )));
            $text = file_get_contents($this->adminUrl . ltrim($route, '/'), false, $context);
            $status = isset($http_response_header[0]) ? (int)explode(' ', $http_response_header[0])[1] : 0;
            if ($text === false || $status >= 400 || $status === 0) {
                throw new RuntimeException("control API $method $route: $status " . var_export($text, true), $status);
            }
            return json_decode($text, true, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING);
        }

        /** Journalled requests, oldest first; $path is a pattern (`*` = one segment). */
        public function journal(?string $path = null): array
        {
            $query = array('limit' => 10000);
            if ($path !== null) {
                $query['path'] = $path;
            }
            return $this->call('GET', 'api/journal?' . http_build_query($query))['entries'];
        }

        public function counts(): array
        {
            return $this->call('GET', 'api/counts');
        }

        public function clientState(string $guid): array
        {
            return $this->call('GET', 'api/clients/' . rawurlencode($guid));
        }

        public function reset(): void
        {
            $this->call('POST', 'api/reset');
        }

        /** @param array $stub path, value, return, code, scenario, required_state, new_state */
        public function addStub(array $stub): int
        {
            return $this->call('POST', 'api/stubs', $stub)['id'];
        }

        /** @param array $fault path, action (delay, no_reply, close, truncate, error), delay_ms, code, text */
        public function addFault(array $fault): int
        {
            return $this->call('POST', 'api/faults', $fault)['id'];
        }

        public function removeFault(int $id): void
        {
            $this->call('DELETE', "api/faults/$id");
        }

        /** Request plaintexts the simulator decrypted, one per line (auth frames are not traced). */
        public function tracedRequests(): array
        {
            if ($this->traceFile === null) {
                throw new LogicException("simulator started without 'trace'");
            }
            $text = file_get_contents($this->traceFile);
            return $text === '' ? array() : explode("\n", rtrim($text, "\n"));
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
            // Linux signal numbers; ext-pcntl, which names them, is optional.
            proc_terminate($this->process, 19);
        }

        /** SIGCONT after suspend(). */
        public function resume(): void
        {
            proc_terminate($this->process, 18);
        }

        /** Starts again on the same port, with the same options (after stop() or kill()). */
        public function restart(): void
        {
            $this->end(15);
            $this->start($this->port);
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
        }
    }
}

if (!trait_exists('MikroBILL_SimulatorTrait', false)) {
    /** For PHPUnit test cases: a simulator per test, stopped after it. */
    trait MikroBILL_SimulatorTrait
    {
        /** @var MikroBILL_Simulator[] */
        private $mikrobillSimulators = array();

        /** @see MikroBILL_Simulator::__construct for $options */
        protected function startMikroBILLSimulator(array $options = array()): MikroBILL_Simulator
        {
            $sim = new MikroBILL_Simulator($options);
            $this->mikrobillSimulators[] = $sim;
            return $sim;
        }

        /**
         * @after
         */
        #[\PHPUnit\Framework\Attributes\After]
        protected function stopMikroBILLSimulators(): void
        {
            foreach ($this->mikrobillSimulators as $sim) {
                $sim->stop();
            }
            $this->mikrobillSimulators = array();
        }
    }
}
