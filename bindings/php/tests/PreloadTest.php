<?php
/*
 * ffi.enable=preload (PHP's default): the CLI with opcache.preload, and php-fpm serving a
 * request with opcache.preload=preload.php, where plain FFI::cdef from request code is refused.
 */

use PHPUnit\Framework\TestCase;

final class PreloadTest extends TestCase
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

    private function preloadIni(): array
    {
        return array(
            'ffi.enable' => 'preload',
            'opcache.enable' => '1',
            'opcache.enable_cli' => '1',
            'opcache.preload' => TestEnv::bindingDir() . '/preload.php',
            'opcache.preload_user' => posix_getpwuid(posix_geteuid())['name'],
        );
    }

    /** A copy of apicore.php at another path, as a kassa folder holds besides the preloaded one. */
    private function secondCopy(): string
    {
        $dir = TestEnv::tempDir() . '/second-copy';
        if (!is_dir($dir)) {
            mkdir($dir);
            copy(TestEnv::bindingDir() . '/apicore.php', "$dir/apicore.php");
        }
        return "$dir/apicore.php";
    }

    /** The request: includes $shim (default: the preloaded file itself) and calls the simulator. */
    private function requestScript(?string $shim = null): string
    {
        $file = TestEnv::tempDir() . '/preload-request-' . bin2hex(random_bytes(4)) . '.php';
        file_put_contents($file, '<?php
require ' . var_export($shim ?? TestEnv::bindingDir() . '/apicore.php', true) . ';
try { FFI::cdef("int abs(int);"); echo "request-cdef=allowed\n"; } catch (Throwable $e) { echo "request-cdef=refused\n"; }
try {
    $api = new MikroBILL_API("127.0.0.1", (int)$_GET["port"], "api", "secret", ' . var_export(TestEnv::KEY1, true) . ', '
            . var_export(TestEnv::KEY2, true) . ');
    echo $api->Process("API.GetClients"), "\n";
} catch (MikroBILL_Exception $e) {
    echo get_class($e), ": ", $e->getMessage(), "\n";
}
');
        return $file;
    }

    private function expectedReply(): string
    {
        return TestEnv::api(self::$sim->port)->Process('API.GetClients');
    }

    public function testCliWithOpcachePreload(): void
    {
        $script = TestEnv::tempDir() . '/preload-cli.php';
        file_put_contents($script, '<?php
$_GET["port"] = $argv[1];
$classes = opcache_get_status(false)["preload_statistics"]["classes"] ?? array();
echo in_array("MikroBILL_FFI", $classes, true) ? "preloaded\n" : "not preloaded\n";
require ' . var_export($this->requestScript(), true) . ';');
        list($status, $out, $err) = TestEnv::runPhp($this->preloadIni(), $script, array(), null, array((string)self::$sim->port));
        $this->assertSame(0, $status, $out . $err);
        // The CLI may always use FFI; what matters is that preloading the shim works there.
        $this->assertSame("preloaded\nrequest-cdef=allowed\n" . $this->expectedReply() . "\n", $out, $err);
    }

    public function testPhpFpmWithOpcachePreloadServesARequest(): void
    {
        $fpm = new FpmServer($this->preloadIni());
        $body = $fpm->request($this->requestScript(), 'port=' . self::$sim->port);
        // The restriction is in force for request code, and the shim still works.
        $this->assertSame("request-cdef=refused\n" . $this->expectedReply() . "\n", $body, $fpm->logs());
    }

    /** The preloaded classes stand; the second copy declares nothing instead of a fatal error. */
    public function testCliPreloadPlusASecondCopyFromAnotherPath(): void
    {
        $script = TestEnv::tempDir() . '/preload-cli-second.php';
        file_put_contents($script, '<?php
$_GET["port"] = $argv[1];
require ' . var_export($this->requestScript($this->secondCopy()), true) . ';
echo (new ReflectionClass("MikroBILL_API"))->getFileName(), "\n";');
        list($status, $out, $err) = TestEnv::runPhp($this->preloadIni(), $script, array(), null, array((string)self::$sim->port));
        $this->assertSame(0, $status, $out . $err);
        $this->assertSame("request-cdef=allowed\n" . $this->expectedReply() . "\n" . TestEnv::bindingDir() . "/apicore.php\n",
            $out, $err);
    }

    public function testPhpFpmPreloadPlusASecondCopyFromAnotherPath(): void
    {
        $fpm = new FpmServer($this->preloadIni());
        $body = $fpm->request($this->requestScript($this->secondCopy()), 'port=' . self::$sim->port);
        $this->assertSame("request-cdef=refused\n" . $this->expectedReply() . "\n", $body, $fpm->logs());
    }

    public function testPhpFpmWithoutPreloadGivesAClearException(): void
    {
        $ini = $this->preloadIni();
        unset($ini['opcache.preload'], $ini['opcache.preload_user']);
        $fpm = new FpmServer($ini);
        $body = $fpm->request($this->requestScript(), 'port=' . self::$sim->port);
        $this->assertStringStartsWith("request-cdef=refused\nMikroBILL_Exception: MikroBILL: PHP FFI is restricted to preloaded code by ffi.enable=preload under fpm-fcgi. Fix: preload the binding with opcache.preload="
            . TestEnv::bindingDir() . '/preload.php', $body);
        $this->assertStringContainsString('or set ffi.enable=1 (on the CLI: php -d ffi.enable=1 script.php)', $body);
        // A library path is not the problem, so the message does not send the reader there.
        $this->assertStringNotContainsString('MIKROBILL_LIB', $body);
    }
    /** What ini.php prints for a folder, as a provider puts it into php-fpm's conf.d. */
    private function printedIni(array $args): array
    {
        list($status, $out, $err) = TestEnv::runPhp(array(), TestEnv::bindingDir() . '/ini.php', array(), null, $args);
        $this->assertSame(0, $status, $err);
        $this->assertSame('', $err);
        return array($out, parse_ini_string($out, false, INI_SCANNER_RAW));
    }

    public function testIniPhpPrintsTheLinesThatPreloadTheShimInItsFolder(): void
    {
        $user = posix_getpwuid(posix_geteuid())['name'];
        list($text, $ini) = $this->printedIni(array('--user=' . $user));
        $this->assertSame(array('opcache.enable' => '1', 'opcache.preload' => TestEnv::bindingDir() . '/preload.php',
            'opcache.preload_user' => $user, 'ffi.enable' => 'preload'), $ini);
        // Debian's phpenmod reads the priority from a line of its own.
        $this->assertStringStartsWith("; priority=90\n", $text);
        $fpm = new FpmServer($ini);
        $body = $fpm->request($this->requestScript(), 'port=' . self::$sim->port);
        $this->assertSame("request-cdef=refused\n" . $this->expectedReply() . "\n", $body, $fpm->logs());
        // A copy that landed in the web root answers with nothing when requested.
        $this->assertSame('', $fpm->request(TestEnv::bindingDir() . '/ini.php'));
    }

    public function testIniPhpForAnotherFolderUserAndPlatform(): void
    {
        list(, $ini) = $this->printedIni(array('--dir=/usr/share/php/mikrobill/'));
        $this->assertSame('/usr/share/php/mikrobill/preload.php', $ini['opcache.preload']);
        $this->assertSame('www-data', $ini['opcache.preload_user']);
        list($text, $ini) = $this->printedIni(array('--platform=windows'));
        // No preload on Windows: FFI for every script, and the text says what that opens.
        $this->assertSame(array('extension' => 'ffi', 'ffi.enable' => '1'), $ini);
        $this->assertStringContainsString('any PHP file this server runs can call into C', $text);
    }

    public function testIniPhpRefusesWhatPhpIniCannotHold(): void
    {
        foreach (array(array('--colour'), array('--user='), array('--user=a b'), array('--dir=/srv/my kassa'),
            array('--dir=/a;b'), array('--platform=mac')) as $args) {
            list($status, $out, $err) = TestEnv::runPhp(array(), TestEnv::bindingDir() . '/ini.php', array(), null, $args);
            $this->assertSame(2, $status, implode(' ', $args));
            $this->assertSame('', $out, implode(' ', $args));
            $this->assertNotSame('', $err, implode(' ', $args));
        }
    }
}
