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
        $this->assertStringStartsWith('0.3.', MikroBILL_FFI::version($ffi));
        // The 0.3 error contract: the code is the return value, the text comes from mb_last_error_message.
        $handle = $ffi->new('long long');
        $this->assertSame(9005, $ffi->mb_connect(null, FFI::addr($handle)));
        $message = $ffi->new('char*');
        $this->assertSame(0, $ffi->mb_last_error_message(FFI::addr($message)));
        $this->assertIsString(MikroBILL_FFI::take($ffi, $message));
        $this->assertSame(9007, $ffi->mb_close(987654321));
        $this->assertSame(9007, $ffi->mb_check_connection(987654321, 0));
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

    /**
     * A truncated library would kill the process with SIGBUS when loaded (cut in half) or load
     * without its section headers (cut by a tenth); both are named instead. Run in a child PHP so
     * that a regression is a failed test, not a dead test run.
     */
    public function testATruncatedLibraryIsNamedNotLoaded(): void
    {
        $whole = file_get_contents(TestEnv::library());
        foreach (array(50, 90) as $percent) {
            $cut = TestEnv::tempDir() . '/truncated-' . $percent . '/libmikrobill.so';
            @mkdir(dirname($cut));
            $size = intdiv(strlen($whole) * $percent, 100);
            file_put_contents($cut, substr($whole, 0, $size));
            list($status, $out, $err) = TestEnv::runPhp(array(), $this->script(
                'try { new MikroBILL_API("127.0.0.1", 7403, "api", "secret", "k", "k"); echo "constructed"; }'
                . ' catch (MikroBILL_Exception $e) { echo get_class($e), ": ", $e->getMessage(); }'
            ), array('MIKROBILL_LIB' => $cut));
            $this->assertSame(0, $status, "cut to $percent %: exit $status, $err");
            $this->assertStringStartsWith('MikroBILL_Exception: MikroBILL: cannot load libmikrobill.so; tried: '
                . $cut . ' is incomplete: ' . $size . ' bytes, but its ELF header places its ', $out);
            $this->assertStringContainsString('(a truncated copy? copy or install it again)', $out);
        }
    }

    /** The check itself: a whole library passes, a file that is no library and PE sections past the end do not. */
    public function testLibraryFileProblem(): void
    {
        $this->assertNull(MikroBILL_FFI::libraryFileProblem(TestEnv::library()));
        $this->assertNull(MikroBILL_FFI::libraryFileProblem('libmikrobill.so'));
        $text = TestEnv::tempDir() . '/text-' . bin2hex(random_bytes(4)) . '.so';
        file_put_contents($text, "not a library\n");
        $this->assertSame($text . ' is not a shared library (no ELF or PE header; 14 bytes)',
            MikroBILL_FFI::libraryFileProblem($text));
        // A minimal PE image: MZ header, PE header without optional header, two sections.
        $image = 'MZ' . str_repeat("\0", 58) . pack('V', 64) . "PE\0\0" . str_repeat("\0", 2) . pack('v', 2)
            . str_repeat("\0", 16);
        foreach (array(array(200, 100), array(300, 50)) as list($at, $size)) {
            $image .= str_repeat("\0", 16) . pack('VV', $size, $at) . str_repeat("\0", 16);
        }
        $dll = TestEnv::tempDir() . '/pe-' . bin2hex(random_bytes(4)) . '.dll';
        file_put_contents($dll, str_pad($image, 350, "\0"));
        $this->assertNull(MikroBILL_FFI::libraryFileProblem($dll));
        file_put_contents($dll, str_pad($image, 340, "\0"));
        $this->assertSame($dll . ' is incomplete: 340 bytes, but its PE header places its section 1 up to byte 350'
            . ' (a truncated copy? copy or install it again)', MikroBILL_FFI::libraryFileProblem($dll));
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

    public function testVersionOutsideThe03SeriesIsRefused(): void
    {
        $this->assertSame('0.3.', MikroBILL_LibraryAbi::VERSION_SERIES);
        MikroBILL_FFI::requireVersion('0.3.7');
        foreach (array('0.2.0', '0.4.0', '1.3.0', '0.30.0', '', null) as $version) {
            try {
                MikroBILL_FFI::requireVersion($version);
                $this->fail('accepted version ' . var_export($version, true));
            } catch (MikroBILL_Exception $e) {
                $this->assertStringContainsString('does not match the 0.3.x', $e->getMessage());
            }
        }
    }

    /** The Composer package's layout: the shim at the top, the header in include/, each platform's
     *  library under native/OS-ARCH/; found with no environment at all. */
    public function testLibraryUnderNativeOsArchIsFoundWithoutEnvironment(): void
    {
        $dir = TestEnv::tempDir() . '/composer-layout';
        @mkdir("$dir/include", 0777, true);
        @mkdir("$dir/native/linux-x86_64", 0777, true);
        copy(TestEnv::bindingDir() . '/apicore.php', "$dir/apicore.php");
        copy(TestEnv::repoHeader(), "$dir/include/mikrobill.h");
        copy(TestEnv::library(), "$dir/native/linux-x86_64/libmikrobill.so");
        list($status, $out, $err) = TestEnv::runPhp(array(), $this->script(
            'echo (new MikroBILL_API("127.0.0.1", 7403, "api", "secret", "k", "k")) ? "loaded" : "";',
            "$dir/apicore.php"
        ), array('MIKROBILL_LIB' => '', 'MIKROBILL_HEADER' => ''));
        $this->assertSame(0, $status, $out . $err);
        $this->assertSame('loaded', $out);
    }

    public function testWindowsSearchesForTheDllWithBackslashes(): void
    {
        $this->assertSame(array(
            'C:\\Program Files\\Apache\\htdocs\\kassa\\mikrobill.dll',
            'C:\\Program Files\\Apache\\htdocs\\kassa\\native\\windows-x86_64\\mikrobill.dll',
            'C:\\Program Files\\Apache\\htdocs\\kassa\\..\\bin\\mikrobill.dll',
            'mikrobill.dll',
        ), MikroBILL_FFI::libraryCandidatesFor('Windows', 'AMD64', 'C:\\Program Files\\Apache\\htdocs\\kassa'));
        $this->assertSame(array(
            '/srv/kassa/libmikrobill.so', '/srv/kassa/native/linux-x86_64/libmikrobill.so',
            '/srv/kassa/../../../lib/libmikrobill.so', 'libmikrobill.so', 'libmikrobill.so.0.3',
        ), MikroBILL_FFI::libraryCandidatesFor('Linux', 'x86_64', '/srv/kassa'));
    }

    /** On Windows the config.php search is the original's '..\config.php', then the same folder
     *  found from the shim and from the running script, all with backslashes. */
    public function testWindowsConfigSearchUsesBackslashes(): void
    {
        $this->assertSame(array(
            '..\\config.php',
            'C:\\Program Files\\Apache\\htdocs\\kassa\\..\\config.php',
            'C:/Program Files/Apache/htdocs/kassa\\..\\config.php',
        ), MikroBILL_Keys::configCandidatesFor('\\', 'C:\\Program Files\\Apache\\htdocs\\kassa',
            'C:/Program Files/Apache/htdocs/kassa/pay.php'));
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

    /** Each platform gets its working route when ffi.enable refuses the library: preload outside
     *  Windows; on Windows, where PHP has no opcache.preload, ffi.enable=1 with its cost stated. */
    public function testFfiRestrictedMessageGivesEachPlatformItsRoute(): void
    {
        $this->assertSame('MikroBILL: PHP FFI is restricted to preloaded code by ffi.enable=preload under fpm-fcgi.'
            . ' Fix: preload the binding with opcache.preload=/srv/kassa/preload.php (with opcache.preload_user for'
            . ' php-fpm) in the php.ini of this SAPI, or set ffi.enable=1 (on the CLI: php -d ffi.enable=1 script.php).',
            MikroBILL_FFI::ffiRestrictedMessageFor('Linux', 'preload', 'fpm-fcgi', '/srv/kassa'));
        foreach (array('preload' => 'restricted to preloaded code by ffi.enable=preload under cgi-fcgi', '0' => 'disabled by ffi.enable=0')
            as $setting => $state) {
            $windows = MikroBILL_FFI::ffiRestrictedMessageFor('Windows', (string)$setting, 'cgi-fcgi', 'C:\\kassa');
            $this->assertSame('MikroBILL: PHP FFI is ' . $state . '. Fix on Windows, where PHP has no opcache.preload:'
                . ' set ffi.enable=1 in php.ini, or only for the kassa in its own php.ini under FastCGI (a php-cgi pool'
                . ' started with -c or PHPRC naming that file). Trade-off: with ffi.enable=1 every script that PHP runs'
                . ' there may call any C function, so keep the kassa in a pool and a folder of its own.', $windows);
        }
    }
}
