<?php

/** Loads libmikrobill once per process (per request under php-fpm) through PHP FFI. */
final class MikroBILL_FFI
{
    /** Scope name registered by preload.php through FFI::load. */
    const SCOPE = 'MIKROBILL';

    /** @var FFI|null */
    private static $ffi = null;

    public static function get(): FFI
    {
        if (self::$ffi === null) {
            self::$ffi = self::open();
        }
        return self::$ffi;
    }

    /**
     * A new binding (no caching): the preloaded scope if preload.php registered one, else
     * FFI::cdef of the header. Checks the library version.
     * @throws MikroBILL_Exception naming what was tried
     */
    public static function open(): FFI
    {
        if (!extension_loaded('FFI')) {
            throw new MikroBILL_Exception('MikroBILL: the PHP FFI extension is not loaded (install/enable ext-ffi)');
        }
        $ffi = self::fromPreloadedScope();
        if ($ffi === null) {
            $ffi = self::fromFiles();
        }
        self::requireVersion(self::version($ffi));
        return $ffi;
    }

    /** Candidate library paths, in search order. An explicit MIKROBILL_LIB is the only candidate. */
    public static function libraryCandidates(): array
    {
        $env = getenv('MIKROBILL_LIB');
        if ($env !== false && $env !== '') {
            return array($env);
        }
        return self::libraryCandidatesFor(PHP_OS_FAMILY, php_uname('m'), __DIR__);
    }

    /**
     * The search for one OS family and machine, from the shim's folder $dir: next to the shim,
     * then native/OS-ARCH/ (the Composer package carries both platforms' libraries there), then
     * the plain names, which let the system loader search (ldconfig and LD_LIBRARY_PATH, with the
     * SONAME a runtime-only install has, libmikrobill.so.0.3 for 0.3.x as scripts/dist.sh names it;
     * PATH on Windows).
     */
    public static function libraryCandidatesFor(string $family, string $machine, string $dir): array
    {
        $machine = strtolower($machine);
        $arch = in_array($machine, array('x86_64', 'amd64', 'x64'), true) ? 'x86_64'
            : (in_array($machine, array('aarch64', 'arm64'), true) ? 'aarch64' : $machine);
        if ($family === 'Windows') {
            return array($dir . '\\mikrobill.dll', $dir . '\\native\\windows-' . $arch . '\\mikrobill.dll',
                'mikrobill.dll');
        }
        return array($dir . '/libmikrobill.so', $dir . '/native/' . strtolower($family) . '-' . $arch . '/libmikrobill.so',
            'libmikrobill.so', 'libmikrobill.so.' . rtrim(MikroBILL_LibraryAbi::VERSION_SERIES, '.'));
    }

    /** Candidate header paths, in search order. An explicit MIKROBILL_HEADER is the only candidate. */
    public static function headerCandidates(): array
    {
        $env = getenv('MIKROBILL_HEADER');
        if ($env !== false && $env !== '') {
            return array($env);
        }
        return array(__DIR__ . '/mikrobill.h', __DIR__ . '/include/mikrobill.h', __DIR__ . '/../../include/mikrobill.h');
    }

    /** Reads the first readable header; throws naming every path tried. */
    public static function headerText(): string
    {
        $tried = array();
        foreach (self::headerCandidates() as $path) {
            if (is_file($path) && is_readable($path)) {
                $text = file_get_contents($path);
                if ($text !== false) {
                    return $text;
                }
            }
            $tried[] = $path;
        }
        throw new MikroBILL_Exception('MikroBILL: C header mikrobill.h not found; tried: '
            . implode(', ', $tried) . ' (set MIKROBILL_HEADER)');
    }

    /** Converts a char* the library gave out to a PHP string and frees it with mb_free. */
    public static function take(FFI $ffi, $ptr): ?string
    {
        if ($ptr === null || FFI::isNull($ptr)) {
            return null;
        }
        try {
            return FFI::string($ptr);
        } finally {
            $ffi->mb_free($ptr);
        }
    }

    /** Converts a buffer of $length bytes the library gave out (which may hold NULs) to a PHP
     *  string and frees it with mb_free; null for a NULL pointer. */
    public static function takeBytes(FFI $ffi, $ptr, int $length): ?string
    {
        if ($ptr === null || FFI::isNull($ptr)) {
            return null;
        }
        try {
            return $length > 0 ? FFI::string($ptr, $length) : '';
        } finally {
            $ffi->mb_free($ptr);
        }
    }

    /** mb_version(): a static string, never freed. PHP FFI already turns a `const char *` result
     *  into a PHP string; a char* CData is read with FFI::string. */
    public static function version(FFI $ffi): ?string
    {
        $version = $ffi->mb_version();
        if ($version instanceof FFI\CData) {
            return FFI::isNull($version) ? null : FFI::string($version);
        }
        return is_string($version) ? $version : null;
    }

    /** @throws MikroBILL_Exception unless $version is of the series this shim was generated for */
    public static function requireVersion(?string $version): void
    {
        $series = MikroBILL_LibraryAbi::VERSION_SERIES;
        if ($version === null || strncmp($version, $series, strlen($series)) !== 0) {
            throw new MikroBILL_Exception('MikroBILL: libmikrobill.so version ' . var_export($version, true)
                . ' does not match the ' . $series . 'x this apicore.php needs');
        }
    }

    /**
     * What to change when ffi.enable forbids loading the library in this script, for the OS family
     * $family (PHP_OS_FAMILY) whose PHP runs under $sapi with ffi.enable=$setting; $dir is the
     * shim's folder. Each platform gets the route that exists there: PHP supports
     * opcache.preload only outside Windows (disabled on Windows since 7.4.2), so on Windows the
     * one route is ffi.enable=1, whose cost is stated.
     */
    public static function ffiRestrictedMessageFor(string $family, string $setting, string $sapi, string $dir): string
    {
        $state = strtolower($setting) === 'preload'
            ? 'restricted to preloaded code by ffi.enable=preload under ' . $sapi
            : 'disabled by ffi.enable=' . ($setting === '' ? '0' : $setting);
        if ($family === 'Windows') {
            return 'MikroBILL: PHP FFI is ' . $state . '. Fix on Windows, where PHP has no opcache.preload: set'
                . ' ffi.enable=1 in php.ini, or only for the kassa in its own php.ini under FastCGI (a php-cgi'
                . ' pool started with -c or PHPRC naming that file). Trade-off: with ffi.enable=1 every script that'
                . ' PHP runs there may call any C function, so keep the kassa in a pool and a folder of its own.';
        }
        return 'MikroBILL: PHP FFI is ' . $state . '. Fix: preload the binding with opcache.preload='
            . $dir . '/preload.php (with opcache.preload_user for php-fpm) in the php.ini of this SAPI,'
            . ' or set ffi.enable=1 (on the CLI: php -d ffi.enable=1 script.php).';
    }

    /** The scope preload.php registered, if any; null when not preloaded. */
    private static function fromPreloadedScope(): ?FFI
    {
        try {
            return FFI::scope(self::SCOPE);
        } catch (Throwable $e) {
            return null;
        }
    }

    private static function fromFiles(): FFI
    {
        $header = self::headerText();
        $errors = array();
        foreach (self::libraryCandidates() as $lib) {
            try {
                return FFI::cdef($header, $lib);
            } catch (FFI\Exception $e) {
                if (strpos($e->getMessage(), 'ffi.enable') !== false) {
                    // No library path can help here: the setting refuses FFI::cdef itself.
                    throw new MikroBILL_Exception(self::ffiRestrictedMessageFor(PHP_OS_FAMILY,
                        (string)ini_get('ffi.enable'), PHP_SAPI, __DIR__));
                }
                $errors[] = $lib . ' (' . $e->getMessage() . ')';
            } catch (Throwable $e) {
                $errors[] = $lib . ' (' . $e->getMessage() . ')';
            }
        }
        throw new MikroBILL_Exception('MikroBILL: cannot load libmikrobill.so; tried: ' . implode('; ', $errors)
            . '; ffi.enable=' . ini_get('ffi.enable') . ' (set MIKROBILL_LIB, or preload it, see docs/src/php.md)');
    }
}
