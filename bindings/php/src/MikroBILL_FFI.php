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
     * where the release archives put it beside the shim (the tarball: share/php/mikrobill/ and
     * lib/; the Windows zip: php\ and bin\), then the plain names, which let the system loader search (ldconfig and LD_LIBRARY_PATH, with the
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
                $dir . '\\..\\bin\\mikrobill.dll', 'mikrobill.dll');
        }
        return array($dir . '/libmikrobill.so', $dir . '/native/' . strtolower($family) . '-' . $arch . '/libmikrobill.so',
            $dir . '/../../../lib/libmikrobill.so',
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

    /**
     * Why the library file $path cannot be loaded whole, or null when it may be (also for a bare
     * name, which the system loader searches, and for a file this process cannot read, whose
     * load error says why). The loader does not report a truncated library: it maps segments
     * past the end of the file and the process dies of SIGBUS when they are touched, taking the
     * php-fpm worker with it. So a file is checked first: its format, and that every part its
     * ELF or PE header points at lies inside it.
     */
    public static function libraryFileProblem(string $path): ?string
    {
        if (strpbrk($path, '/\\') === false || !is_file($path) || ($f = @fopen($path, 'rb')) === false) {
            return null;
        }
        try {
            $size = (int)fstat($f)['size'];
            $read = static function (int $offset, int $length) use ($f): string {
                if ($offset < 0 || $length <= 0 || fseek($f, $offset) !== 0) {
                    return '';
                }
                $bytes = fread($f, $length);
                return $bytes === false ? '' : $bytes;
            };
            $head = $read(0, 64);
            if (strncmp($head, "\x7fELF", 4) === 0 && strlen($head) >= 52) {
                $kind = 'ELF';
                $parts = self::elfParts($head, $read);
            } elseif (strncmp($head, 'MZ', 2) === 0 && strlen($head) >= 64) {
                $kind = 'PE';
                $parts = self::peParts($head, $read);
            } else {
                return $path . ' is not a shared library (no ELF or PE header; ' . $size . ' bytes)';
            }
        } finally {
            fclose($f);
        }
        foreach ($parts as list($what, $offset, $length)) {
            // A 64-bit offset beyond PHP_INT_MAX reads as negative: outside the file too.
            if ($offset < 0 || $length < 0 || $offset + $length > $size) {
                $end = $offset < 0 || $length < 0 ? 'beyond 2^63' : (string)($offset + $length);
                return $path . ' is incomplete: ' . $size . ' bytes, but its ' . $kind . ' header places its '
                    . $what . ' up to byte ' . $end . ' (a truncated copy? copy or install it again)';
            }
        }
        return null;
    }

    /** Unsigned little- or big-endian integer of $width bytes at $at in $bytes (0 when short). */
    private static function uint(string $bytes, int $at, int $width, bool $little): int
    {
        $field = substr($bytes, $at, $width);
        if (strlen($field) !== $width) {
            return 0;
        }
        $codes = array(2 => array('v', 'n'), 4 => array('V', 'N'), 8 => array('P', 'J'));
        return unpack($codes[$width][$little ? 0 : 1], $field)[1];
    }

    /** [what, offset, length] of the header tables and every loaded segment of an ELF file. */
    private static function elfParts(string $head, callable $read): array
    {
        $wide = ord($head[4]) === 2;
        $le = ord($head[5]) === 1;
        $word = $wide ? 8 : 4;
        $phoff = self::uint($head, $wide ? 0x20 : 0x1C, $word, $le);
        $shoff = self::uint($head, $wide ? 0x28 : 0x20, $word, $le);
        $at = $wide ? 0x36 : 0x2A;
        $phentsize = self::uint($head, $at, 2, $le);
        $phnum = self::uint($head, $at + 2, 2, $le);
        $shentsize = self::uint($head, $at + 4, 2, $le);
        $shnum = self::uint($head, $at + 6, 2, $le);
        $parts = array(array('program headers', $phoff, $phentsize * $phnum),
            array('section headers', $shoff, $shentsize * $shnum));
        $table = $read($phoff, $phentsize * $phnum);
        $count = strlen($table) === $phentsize * $phnum ? $phnum : 0;
        for ($i = 0; $i < $count; $i++) {
            $entry = substr($table, $i * $phentsize, $phentsize);
            // PT_LOAD (1): the loader maps it, so a missing byte is a SIGBUS, not an error.
            if (self::uint($entry, 0, 4, $le) === 1) {
                $parts[] = array('segment ' . $i, self::uint($entry, $wide ? 8 : 4, $word, $le),
                    self::uint($entry, $wide ? 0x20 : 16, $word, $le));
            }
        }
        return $parts;
    }

    /** [what, offset, length] of the section table and every section's data of a PE file. */
    private static function peParts(string $head, callable $read): array
    {
        $pe = self::uint($head, 0x3C, 4, true);
        $coff = $read($pe, 24);
        if (strlen($coff) < 24 || strncmp($coff, "PE\0\0", 4) !== 0) {
            return array(array('PE header', $pe, 24));
        }
        $sections = self::uint($coff, 6, 2, true);
        $tableAt = $pe + 24 + self::uint($coff, 20, 2, true);
        $parts = array(array('section table', $tableAt, 40 * $sections));
        $table = $read($tableAt, 40 * $sections);
        $count = strlen($table) === 40 * $sections ? $sections : 0;
        for ($i = 0; $i < $count; $i++) {
            $parts[] = array('section ' . $i, self::uint($table, 40 * $i + 20, 4, true),
                self::uint($table, 40 * $i + 16, 4, true));
        }
        return $parts;
    }

    private static function fromFiles(): FFI
    {
        return self::firstLoadable()[0];
    }

    /**
     * The first library candidate that loads with the header: array(FFI, its path, what was
     * passed over before it). `mb doctor` asks this too, to say which file a page loads.
     * @throws MikroBILL_Exception naming every candidate tried
     */
    public static function firstLoadable(): array
    {
        $header = self::headerText();
        $errors = array();
        foreach (self::libraryCandidates() as $lib) {
            $problem = self::libraryFileProblem($lib);
            if ($problem !== null) {
                $errors[] = $problem;
                continue;
            }
            try {
                return array(FFI::cdef($header, $lib), $lib, $errors);
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
