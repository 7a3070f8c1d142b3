<?php
/*
 * Paths and settings the tests get from run-tests.sh. A missing one is a hard failure:
 * these tests never skip.
 */

final class TestEnv
{
    /** Demo keys of the simulator (contract.md). */
    const KEY1 = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
    const KEY2 = 'EBESExQVFhcYGRobHB0eHw==';
    const LOGIN = 'api';
    const PASSWORD = 'secret';

    private static $tempDir = null;

    public static function require(string $name): string
    {
        $value = getenv($name);
        if ($value === false || $value === '') {
            throw new RuntimeException("environment variable $name is not set (run the tests through run-tests.sh)");
        }
        return $value;
    }

    public static function library(): string
    {
        return self::require('MIKROBILL_LIB');
    }

    public static function bindingDir(): string
    {
        return dirname(__DIR__, 2);
    }

    public static function repoHeader(): string
    {
        return dirname(__DIR__, 4) . '/include/mikrobill.h';
    }

    /** One scratch folder per test run, removed at exit. */
    public static function tempDir(): string
    {
        if (self::$tempDir === null) {
            $dir = sys_get_temp_dir() . '/mikrobill-php-tests-' . getmypid() . '-' . bin2hex(random_bytes(4));
            mkdir($dir, 0700, true);
            self::$tempDir = $dir;
            register_shutdown_function(static function () use ($dir) {
                TestEnv::removeTree($dir);
            });
        }
        return self::$tempDir;
    }

    public static function removeTree(string $path): void
    {
        if (is_dir($path) && !is_link($path)) {
            foreach (scandir($path) as $entry) {
                if ($entry !== '.' && $entry !== '..') {
                    self::removeTree($path . '/' . $entry);
                }
            }
            rmdir($path);
        } elseif (file_exists($path) || is_link($path)) {
            unlink($path);
        }
    }

    /**
     * Records a process the suite started (file MB_TEST_PID_DIR/<pid> holding its executable), so
     * run-tests.sh can stop it when PHPUnit dies before the owning object's destructor runs.
     * php-fpm needs this: it starts a session of its own, out of PHPUnit's process group.
     */
    public static function trackProcess($process, string $command): int
    {
        $pid = proc_get_status($process)['pid'];
        // The executable named by the command, not /proc/<pid>/exe: the child may not have
        // called exec yet and still be a copy of php.
        $exe = null;
        foreach (strpos($command, '/') === false ? explode(':', (string)getenv('PATH')) : array('') as $dir) {
            $path = $dir === '' ? $command : "$dir/$command";
            if (is_file($path) && is_executable($path)) {
                $exe = realpath($path);
                break;
            }
        }
        if ($exe === null || $exe === false) {
            throw new RuntimeException("cannot find the executable $command");
        }
        file_put_contents(self::require('MB_TEST_PID_DIR') . "/$pid", $exe);
        return $pid;
    }

    /** The process was stopped and reaped: its pid may be reused by anyone from now on. */
    public static function untrackProcess(int $pid): void
    {
        @unlink(self::require('MB_TEST_PID_DIR') . "/$pid");
    }

    /** A TCP port nothing listens on: bind to :0, note the port, release it. */
    public static function closedPort(): int
    {
        $server = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr);
        if ($server === false) {
            throw new RuntimeException("cannot bind a probe socket: $errstr");
        }
        $name = stream_socket_get_name($server, false);
        fclose($server);
        return (int)substr($name, strrpos($name, ':') + 1);
    }

    public static function api(int $port, array $overrides = array()): MikroBILL_API
    {
        $args = $overrides + array(
            'login' => self::LOGIN, 'password' => self::PASSWORD, 'key1' => self::KEY1, 'key2' => self::KEY2,
        );
        return new MikroBILL_API('127.0.0.1', $port, $args['login'], $args['password'], $args['key1'], $args['key2']);
    }

    /**
     * Runs `php` with extra -d settings on a script; returns array(exit code, stdout, stderr).
     * $noIniFiles runs `php -n`: no php.ini and no conf.d, so only extensions loaded through
     * $iniSettings (e.g. 'extension' => 'ffi.so') and the built-in ones are present.
     */
    public static function runPhp(array $iniSettings, string $script, array $env = array(), ?string $cwd = null,
        array $args = array(), bool $noIniFiles = false): array
    {
        $command = array(PHP_BINARY);
        if ($noIniFiles) {
            $command[] = '-n';
        }
        foreach ($iniSettings as $name => $value) {
            $command[] = '-d';
            $command[] = "$name=$value";
        }
        $command[] = $script;
        $command = array_merge($command, $args);
        $process = proc_open($command, array(0 => array('file', '/dev/null', 'r'), 1 => array('pipe', 'w'),
            2 => array('pipe', 'w')), $pipes, $cwd, $env + getenv());
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        return array(proc_close($process), $out, $err);
    }
}
