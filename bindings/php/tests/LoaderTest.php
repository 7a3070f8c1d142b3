<?php
/* Finding and checking the native library and its header. */

use PHPUnit\Framework\TestCase;

final class LoaderTest extends TestCase
{
    /** The committed header, loaded exactly as shipped, binds every function the shim calls. */
    public function testCommittedHeaderLoadsWithCdefAsShipped(): void
    {
        $header = file_get_contents(TestEnv::repoHeader());
        $this->assertIsString($header);
        $this->assertDoesNotMatchRegularExpression('/^[ \t]*#[ \t]*(define|include|if|ifdef|ifndef|elif|else|endif|pragma|undef|error|line)\b/m', $header, 'FFI::cdef cannot take preprocessor lines');
        $ffi = FFI::cdef($header, TestEnv::library());
        $version = MikroBILL_FFI::take($ffi, $ffi->mb_version());
        $this->assertStringStartsWith('0.1.', $version);
        $this->assertSame(0, $ffi->mb_connect(null));
        $error = json_decode(MikroBILL_FFI::take($ffi, $ffi->mb_last_error()), true);
        $this->assertSame(9005, $error['code']);
        $this->assertSame(9007, $ffi->mb_close(987654321));
        $this->assertSame(-1, $ffi->mb_check_connection(987654321));
    }

    /** Without MIKROBILL_HEADER the shim falls back to the repository's include/mikrobill.h. */
    public function testHeaderSearchEndsAtTheRepositoryHeader(): void
    {
        $candidates = MikroBILL_FFI::headerCandidates();
        if (getenv('MIKROBILL_HEADER') === false) {
            $this->assertSame(TestEnv::bindingDir() . '/mikrobill.h', $candidates[0]);
            $this->assertSame(realpath(TestEnv::repoHeader()), realpath(end($candidates)));
        } else {
            $this->assertSame(array(getenv('MIKROBILL_HEADER')), $candidates);
        }
    }

    public function testMissingLibraryIsAClearExceptionNamingThePath(): void
    {
        $missing = TestEnv::tempDir() . '/no-such-dir/libmikrobill.so';
        list($status, $out, $err) = TestEnv::runPhp(array(), $this->script(
            'try { new MikroBILL_API("127.0.0.1", 7403, "api", "secret", "k", "k"); echo "constructed"; }'
            . ' catch (MikroBILL_Exception $e) { echo get_class($e), ": ", $e->getMessage(); }'
        ), array('MIKROBILL_LIB' => $missing));
        $this->assertSame(0, $status, $err);
        $this->assertStringStartsWith('MikroBILL_Exception: MikroBILL: cannot load libmikrobill.so; tried: ' . $missing, $out);
    }

    public function testMissingHeaderIsAClearExceptionNamingThePath(): void
    {
        $missing = TestEnv::tempDir() . '/no-such.h';
        list($status, $out, $err) = TestEnv::runPhp(array(), $this->script(
            'try { new MikroBILL_API("127.0.0.1", 7403, "api", "secret", "k", "k"); echo "constructed"; }'
            . ' catch (RuntimeException $e) { echo get_class($e), ": ", $e->getMessage(); }'
        ), array('MIKROBILL_HEADER' => $missing));
        $this->assertSame(0, $status, $err);
        $this->assertSame('MikroBILL_Exception: MikroBILL: C header mikrobill.h not found; tried: ' . $missing
            . ' (set MIKROBILL_HEADER)', $out);
    }

    public function testLibraryNextToTheShimIsFoundWithoutEnvironment(): void
    {
        $dir = TestEnv::tempDir() . '/kassa-copy';
        @mkdir($dir);
        copy(TestEnv::bindingDir() . '/apicore.php', "$dir/apicore.php");
        copy(TestEnv::repoHeader(), "$dir/mikrobill.h");
        copy(TestEnv::library(), "$dir/libmikrobill.so");
        list($status, $out, $err) = TestEnv::runPhp(array(), $this->script(
            'new MikroBILL_API("127.0.0.1", 7403, "api", "secret", "k", "k"); echo "loaded";',
            "$dir/apicore.php"
        ), array('MIKROBILL_LIB' => '', 'MIKROBILL_HEADER' => ''));
        $this->assertSame(0, $status, $out . $err);
        $this->assertSame('loaded', $out);
    }

    /** Two copies of the shim in one process (say Composer's and kassa's): the first one's
     *  classes are used, the second declares nothing. */
    public function testTwoCopiesFromDifferentPathsCanBothBeIncluded(): void
    {
        $dir = TestEnv::tempDir() . '/another-copy';
        @mkdir($dir);
        copy(TestEnv::bindingDir() . '/apicore.php', "$dir/apicore.php");
        list($status, $out, $err) = TestEnv::runPhp(array(), $this->script(
            'require ' . var_export("$dir/apicore.php", true) . ';'
            . ' new MikroBILL_API("127.0.0.1", 7403, "api", "secret", "k", "k");'
            . ' echo (new ReflectionClass("MikroBILL_API"))->getFileName();'
        ));
        $this->assertSame(0, $status, $out . $err);
        $this->assertSame(TestEnv::bindingDir() . '/apicore.php', $out);
    }

    public function testVersionOtherThan01IsRefused(): void
    {
        MikroBILL_FFI::requireVersion('0.1.7');
        foreach (array('0.2.0', '1.1.0', '0.10.0', '', null) as $version) {
            try {
                MikroBILL_FFI::requireVersion($version);
                $this->fail('accepted version ' . var_export($version, true));
            } catch (MikroBILL_Exception $e) {
                $this->assertStringContainsString('does not match the 0.1.x', $e->getMessage());
            }
        }
    }

    /** A script that includes the shim (by default the one under test) and runs $code. */
    private function script(string $code, ?string $shim = null): string
    {
        $file = TestEnv::tempDir() . '/loader-' . bin2hex(random_bytes(4)) . '.php';
        file_put_contents($file, '<?php require ' . var_export($shim ?? TestEnv::bindingDir() . '/apicore.php', true)
            . ";\n" . $code . "\n");
        return $file;
    }
    /** With FFI switched off, the message names the settings that fix it, not a library path. */
    public function testFfiDisabledNamesPreloadAndFfiEnable(): void
    {
        $script = TestEnv::tempDir() . '/ffi-off-' . bin2hex(random_bytes(4)) . '.php';
        file_put_contents($script, '<?php
require ' . var_export(TestEnv::bindingDir() . '/apicore.php', true) . ';
try {
    new MikroBILL_API("127.0.0.1", 7403, "api", "secret", "a", "b");
    echo "constructed\n";
} catch (MikroBILL_Exception $e) {
    echo $e->getMessage(), "\n";
}');
        list($status, $out, $err) = TestEnv::runPhp(array('ffi.enable' => '0'), $script);
        $this->assertSame(0, $status, $out . $err);
        $this->assertSame('MikroBILL: PHP FFI is disabled by ffi.enable=0. Fix: preload the binding with opcache.preload='
            . TestEnv::bindingDir() . '/preload.php (with opcache.preload_user for php-fpm) in the php.ini of this SAPI, '
            . "or set ffi.enable=1 (on the CLI: php -d ffi.enable=1 script.php).\n", $out);
    }
}
