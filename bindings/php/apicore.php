<?php
/*
 * MikroBILL API client for kassa extensions: a drop-in replacement for the original
 * kassa/apicore.php. Same class and methods; the wire work (AES-CBC frames, auth, reconnects)
 * is done by the Rust library libmikrobill.so through PHP FFI, so neither mcrypt nor the
 * removed mysql_* functions are needed.
 *
 *   include 'apicore.php';
 *   $Api = new MikroBILL_API($Host, $Port, $Login, $Password);   // keys from config.php + workparams
 *   echo $Api->Process('API.GetClients');
 *
 * Runtime failures never throw from Process(): like the original, they come back as JSON error
 * text {"return":..,"result":..,"code":N} with N != 0. Only deployment errors (no FFI, library or
 * header not found, wrong library version) throw MikroBILL_Exception from the constructor.
 *
 * The classes are declared only if no copy of this file was loaded before: opcache.preload
 * (preload.php) preloads one copy, and a kassa script may still include another copy from
 * another path (or Composer's autoloader and a kassa include both load it). Unguarded, the
 * second copy is a fatal "Cannot declare class". The guard tests MikroBILL_FFI, which only
 * this file declares, so the original apicore.php loaded first still fails loudly on
 * MikroBILL_API instead of silently serving the old client. Preloading still works with the
 * declarations inside the `if`: preload.php executes this file, and every class declared
 * while preloading is preloaded (methods of preloaded classes may use FFI under
 * ffi.enable=preload).
 */

if (!class_exists('MikroBILL_FFI', false)) {

    /**
     * The library's error codes by name (enum mb_code in include/mikrobill.h, whose source is
     * src/error.rs; tests/abi_consistency.rs fails when this table differs). A failed connect
     * reports the OS errno instead, always below 4096.
     */
    final class MikroBILL_Code
    {
        const OK = 0;
        const CONFIG_NOT_FOUND = 5;
        const NULL_RESPONSE = 6;
        const TIMEOUT = 9001;
        const CONNECTION_LOST = 9002;
        const FRAME_TOO_LARGE = 9003;
        const MALFORMED_REPLY = 9004;
        const INVALID_ARGUMENT = 9005;
        const INVALID_KEY = 9006;
        const CLOSED_HANDLE = 9007;
        const INTERNAL = 9008;
        const HOST_NOT_RESOLVED = 9009;
        const KEY2_ROW_MISSING = 9010;
        const CANCELLED = 9011;
        const OUT_OF_STEP = 9012;
        const REPLY_NOT_JSON = 9013;
    }

    /** Deployment error: the native library cannot be used. */
    class MikroBILL_Exception extends RuntimeException
    {
    }

    /** Internal: a runtime failure that Process() reports as JSON error text. */
    class MikroBILL_Failure extends Exception
    {
        /** @var string|null the library's own error JSON, passed on unchanged (keeps its "detail") */
        private $json = null;

        public static function fromLibrary(?string $json): self
        {
            $decoded = $json === null ? null : json_decode($json, true);
            $code = is_array($decoded) ? (int)($decoded['code'] ?? 0) : 0;
            if ($code === 0) {
                // Never let a failure look like success.
                return new self('Internal error: the library failed without a usable error text', MikroBILL_Code::INTERNAL);
            }
            $failure = new self((string)($decoded['return'] ?? ''), $code);
            $failure->json = $json;
            return $failure;
        }

        public function toJson(): string
        {
            return $this->json ?? MikroBILL_FFI::errorJson($this->getCode(), $this->getMessage());
        }
    }

    /** Loads libmikrobill.so once per process (per request under php-fpm) and owns its strings. */
    final class MikroBILL_FFI
    {
        /** Scope name registered by preload.php through FFI::load. */
        const SCOPE = 'MIKROBILL';
        /** The C ABI major.minor this shim was written against: the workspace version's (Cargo.toml),
         *  checked by tests/abi_consistency.rs. */
        const VERSION_PREFIX = '0.2.';

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
            self::checkVersion($ffi);
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
         * soname libmikrobill.so.0 for a runtime-only install; PATH on Windows).
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
                'libmikrobill.so', 'libmikrobill.so.0');
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

        /** Converts a char* returned by the library to a PHP string and frees it with mb_free. */
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

        /** The error JSON shape the library uses, so callers parse one format: every error this
         *  shim makes itself is built here. */
        public static function errorJson(int $code, string $text, ?string $detail = null): string
        {
            $error = array('return' => $text, 'result' => $text, 'code' => $code);
            if ($detail !== null && $detail !== '') {
                $error['detail'] = $detail;
            }
            return json_encode($error, JSON_INVALID_UTF8_SUBSTITUTE);
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
                        throw new MikroBILL_Exception(self::ffiRestrictedMessage());
                    }
                    $errors[] = $lib . ' (' . $e->getMessage() . ')';
                } catch (Throwable $e) {
                    $errors[] = $lib . ' (' . $e->getMessage() . ')';
                }
            }
            throw new MikroBILL_Exception('MikroBILL: cannot load libmikrobill.so; tried: ' . implode('; ', $errors)
                . '; ffi.enable=' . ini_get('ffi.enable') . ' (set MIKROBILL_LIB, or preload it, see README.md)');
        }

        /** What to change when ffi.enable forbids loading the library in this script. */
        private static function ffiRestrictedMessage(): string
        {
            $setting = (string)ini_get('ffi.enable');
            $preload = 'opcache.preload=' . __DIR__ . '/preload.php (with opcache.preload_user for php-fpm)';
            $state = strtolower($setting) === 'preload'
                ? 'restricted to preloaded code by ffi.enable=preload under ' . PHP_SAPI
                : 'disabled by ffi.enable=' . ($setting === '' ? '0' : $setting);
            return 'MikroBILL: PHP FFI is ' . $state . '. Fix: preload the binding with ' . $preload
                . ' in the php.ini of this SAPI, or set ffi.enable=1 (on the CLI: php -d ffi.enable=1 script.php).';
        }

        private static function checkVersion(FFI $ffi): void
        {
            self::requireVersion(self::take($ffi, $ffi->mb_version()));
        }

        /** @throws MikroBILL_Exception unless $version is 0.2.x */
        public static function requireVersion(?string $version): void
        {
            if ($version === null || strncmp($version, self::VERSION_PREFIX, strlen(self::VERSION_PREFIX)) !== 0) {
                throw new MikroBILL_Exception('MikroBILL: libmikrobill.so version ' . var_export($version, true)
                    . ' does not match the ' . self::VERSION_PREFIX . 'x this apicore.php needs');
            }
        }
    }

    /** Finds CRYPTO_KEY_1 in config.php and CRYPTO_KEY_2 in the MikroBILL database, as the original does. */
    final class MikroBILL_Keys
    {
        /** config.php one folder above kassa: relative to the working directory (the original's
         *  '../config.php', kassa scripts run in kassa), relative to this file's folder (a copy of
         *  the shim in kassa), then relative to the running script: __DIR__ resolves symlinks, so
         *  a kassa/apicore.php that is a symlink points into its target's folder, while
         *  SCRIPT_FILENAME still names the kassa script. */
        public static function configCandidates(): array
        {
            return self::configCandidatesFor(DIRECTORY_SEPARATOR, __DIR__, $_SERVER['SCRIPT_FILENAME'] ?? null);
        }

        /** The same for a given directory separator: on Windows the original's own '..\config.php'.
         *  dirname() takes both separators there, and SCRIPT_FILENAME often has forward slashes. */
        public static function configCandidatesFor(string $separator, string $dir, $script): array
        {
            $candidates = array('..' . $separator . 'config.php', $dir . $separator . '..' . $separator . 'config.php');
            if (is_string($script) && $script !== '') {
                // dirname() . '/..' rather than dirname(dirname()): right for a relative 'x.php' too.
                $candidates[] = dirname($script) . $separator . '..' . $separator . 'config.php';
            }
            return $candidates;
        }

        /**
         * Returns array(key1, key2), filling in whichever is null.
         * The keys are marked sensitive so PHP 8.2+ shows them as SensitiveParameterValue in stack
         * traces (inert on 8.0/8.1, where zend.exception_ignore_args=On is the protection).
         * @throws MikroBILL_Failure
         */
        public static function resolve(#[\SensitiveParameter] ?string $key1, #[\SensitiveParameter] ?string $key2): array
        {
            $config = self::readConfig(self::findConfig());
            if ($key1 === null) {
                $key1 = $config['CRYPTO_KEY_1'] ?? null;
                if (!is_string($key1) || $key1 === '') {
                    throw new MikroBILL_Failure('CRYPTO_KEY_1 is not set in config.php', MikroBILL_Code::INVALID_KEY);
                }
            }
            if ($key2 === null) {
                $key2 = self::selectKey2($config);
            }
            return array($key1, $key2);
        }

        /**
         * The worker-cache name for keys read from the config.php that would be used now: its
         * real path, modification time and size, and which of the keys are read (the others were
         * given). A changed config.php gets a new name, so old keys are never served for it.
         * @throws MikroBILL_Failure when config.php is not found
         */
        public static function cacheName(bool $key1, bool $key2): string
        {
            $file = self::findConfig();
            clearstatcache(true, $file);
            return 'mikrobill-keys|' . ($key1 ? '1' : '-') . ($key2 ? '2' : '-') . '|'
                . realpath($file) . '|' . filemtime($file) . '|' . filesize($file);
        }

        private static function findConfig(): string
        {
            foreach (self::configCandidates() as $path) {
                if (is_file($path)) {
                    return $path;
                }
            }
            throw new MikroBILL_Failure("MikroBILL WEB config file: 'config.php' not found!", MikroBILL_Code::CONFIG_NOT_FOUND);
        }

        /** Settings already read, by file identity: config.php may define constants or functions,
         *  which must not be declared twice when several objects need keys in one process. */
        private static $configs = array();

        /** Includes config.php in a closure so its variables stay out of the caller's scope;
         *  the file name is passed as an argument so no local name can collide with its variables. */
        private static function readConfig(string $file): array
        {
            clearstatcache(true, $file);
            $identity = realpath($file) . '|' . filemtime($file) . '|' . filesize($file);
            if (!isset(self::$configs[$identity])) {
                $vars = (static function () {
                    include func_get_arg(0);
                    return get_defined_vars();
                })($file);
                $wanted = array('CRYPTO_KEY_1' => 1, 'mysql_adr' => 1, 'mysql_user' => 1, 'mysql_pass' => 1, 'mysql_db' => 1);
                self::$configs[$identity] = array_intersect_key($vars, $wanted);
            }
            return self::$configs[$identity];
        }

        /**
         * $config holds the database password, hence sensitive.
         * @throws MikroBILL_Failure with the MySQL errno, 9010 when the row is missing, 9005 without mysqli
         */
        private static function selectKey2(#[\SensitiveParameter] array $config): string
        {
            if (!extension_loaded('mysqli')) {
                // mysqli is optional (only this lookup needs it); without the check mysqli_init() would
                // be an Error thrown out of Process() instead of the JSON every runtime failure gives.
                throw new MikroBILL_Failure('the mysqli extension is needed to read CRYPTO_KEY_2 from workparams',
                    MikroBILL_Code::INVALID_ARGUMENT);
            }
            list($host, $port, $socket) = self::parseAddress((string)($config['mysql_adr'] ?? ''));
            $db = mysqli_init();
            try {
                $db->options(MYSQLI_OPT_CONNECT_TIMEOUT, 5);
                // '@': with mysqli reporting off, a failed connect also raises a warning we report as JSON.
                if (!@$db->real_connect($host, (string)($config['mysql_user'] ?? ''), (string)($config['mysql_pass'] ?? ''),
                    (string)($config['mysql_db'] ?? ''), $port, $socket)) {
                    throw new MikroBILL_Failure((string)$db->connect_error, (int)$db->connect_errno);
                }
                $result = @$db->query("SELECT param_value FROM workparams WHERE param_name = 'CRYPTO_KEY_2' LIMIT 1");
                if ($result === false) {
                    throw new MikroBILL_Failure((string)$db->error, (int)$db->errno);
                }
                $row = $result->fetch_row();
                $result->free();
                $db->close();
            } catch (mysqli_sql_exception $e) {
                // PHP 8.1+ default reporting (MYSQLI_REPORT_ERROR|STRICT) throws instead of returning false.
                throw new MikroBILL_Failure($e->getMessage(), $e->getCode());
            }
            if ($row === null || $row[0] === null || $row[0] === '') {
                throw new MikroBILL_Failure("CRYPTO_KEY_2 not found in table workparams (param_name = 'CRYPTO_KEY_2')",
                    MikroBILL_Code::KEY2_ROW_MISSING);
            }
            return (string)$row[0];
        }

        /**
         * Splits $mysql_adr the way the old mysql_connect() read it: "host", "host:port",
         * "host:/path/to/socket", ":/path/to/socket", "[ipv6]:port". mysqli wants the parts apart.
         * @return array{0:string,1:?int,2:?string} host, port, socket
         */
        public static function parseAddress(string $address): array
        {
            if ($address === '') {
                return array('localhost', null, null);
            }
            if ($address[0] === '[') {
                $end = strpos($address, ']');
                if ($end !== false) {
                    $host = substr($address, 1, $end - 1);
                    $rest = substr($address, $end + 1);
                    $port = (strlen($rest) > 1 && $rest[0] === ':' && self::isDigits(substr($rest, 1))) ? (int)substr($rest, 1) : null;
                    return array($host, $port, null);
                }
            }
            $colon = strpos($address, ':');
            if ($colon === false || substr_count($address, ':') > 1 && strpos($address, ':/') === false) {
                return array($address, null, null); // plain host, or a bare IPv6 address
            }
            $host = substr($address, 0, $colon);
            $rest = substr($address, $colon + 1);
            if ($host === '') {
                $host = 'localhost';
            }
            if (self::isDigits($rest)) {
                return array($host, (int)$rest, null);
            }
            if ($rest !== '' && $rest[0] === '/') {
                return array($host, null, $rest);
            }
            return array($address, null, null);
        }

        /** ctype_digit() without ext-ctype, which is optional (Debian packages it apart, php -n lacks it). */
        public static function isDigits(string $text): bool
        {
            return preg_match('/\A[0-9]+\z/', $text) === 1;
        }
    }

    /**
     * Holds a client's password and keys outside every object property: the values live in a
     * static WeakMap keyed by this property-less object. var_export(), (array) casts and
     * debug_zval_dump() ignore __debugInfo() and show all properties, including those of nested
     * objects; a static property appears in none of them. The entry goes away with the holder.
     * Clones of a client share its holder: same credentials, and keys one of them later reads from
     * the installation serve both.
     */
    final class MikroBILL_Credentials
    {
        /** @var WeakMap|null holder => array(password, key1, key2); a WeakMap cannot be a default value */
        private static $values = null;

        public function __construct(#[\SensitiveParameter] string $password, #[\SensitiveParameter] ?string $key1,
            #[\SensitiveParameter] ?string $key2)
        {
            $this->set($password, $key1, $key2);
        }

        /** @return array{0:string,1:?string,2:?string} password, key1, key2 */
        public function get(): array
        {
            return self::$values[$this];
        }

        public function set(#[\SensitiveParameter] string $password, #[\SensitiveParameter] ?string $key1,
            #[\SensitiveParameter] ?string $key2): void
        {
            if (self::$values === null) {
                self::$values = new WeakMap();
            }
            self::$values[$this] = array($password, $key1, $key2);
        }

        /** A copy would have no entry in the map. */
        private function __clone()
        {
        }
    }

    /** The original kassa API client surface. */
    class MikroBILL_API
    {
        /** Optional settings => the library's config key. Values are positive integers. */
        const OPTIONS = array(
            'connect_timeout_ms' => 1,
            'io_timeout_ms' => 1,
            'call_timeout_ms' => 1,
            'max_frame_bytes' => 16,
            'pool_max_idle' => 0,
            'pool_max_idle_total' => 0,
            'pool_idle_timeout_ms' => 1,
        );
        /** Optional settings that are not integers => their PHP type. */
        const TYPED_OPTIONS = array(
            'persistent' => 'boolean',
            'persistent_id' => 'string',
        );

        private $host;
        private $port;
        private $login;
        /** @var MikroBILL_Credentials password and keys, kept out of this object's dumps */
        private $credentials;
        private $options = array();
        /** @var FFI */
        private $ffi;
        /** Library handle; 0 until the first call needs one. */
        private $handle = 0;
        /** @var array|null which keys were read from the installation: array(bool, bool) */
        private $keysRead = null;
        /** @var string|null the worker-cache name of keys that came from the cache, not from config.php */
        private $keysCachedAs = null;

        /**
         * The password and keys are marked sensitive: PHP 8.2+ shows them as SensitiveParameterValue
         * in the trace of the MikroBILL_Exception this constructor throws (inert on 8.0/8.1).
         * @param array $Options connect_timeout_ms, io_timeout_ms (default 5000), call_timeout_ms (default 30000:
         *   the whole call, however slowly the reply trickles), max_frame_bytes (default 64 MiB),
         *   persistent (default false), persistent_id (default ''), pool_max_idle (4), pool_max_idle_total (64),
         *   pool_idle_timeout_ms (60000); see README.md, "Persistent connections"
         * @throws MikroBILL_Exception when the native library cannot be loaded
         */
        public function __construct($Host, $Port, $Login, #[\SensitiveParameter] $Password,
            #[\SensitiveParameter] $CRYPTO_KEY_1 = NULL, #[\SensitiveParameter] $CRYPTO_KEY_2 = NULL, array $Options = array())
        {
            $this->ffi = MikroBILL_FFI::get();
            $this->host = (string)$Host;
            $this->port = $Port;
            $this->login = (string)$Login;
            $this->credentials = new MikroBILL_Credentials((string)$Password,
                $CRYPTO_KEY_1 === NULL ? NULL : (string)$CRYPTO_KEY_1, $CRYPTO_KEY_2 === NULL ? NULL : (string)$CRYPTO_KEY_2);
            foreach ($Options as $name => $value) {
                $this->setOption($name, $value);
            }
        }

        public function SetConnectTimeout(int $milliseconds): void
        {
            $this->setOption('connect_timeout_ms', $milliseconds);
        }

        public function SetIOTimeout(int $milliseconds): void
        {
            $this->setOption('io_timeout_ms', $milliseconds);
        }

        /** Limit for a whole call: connect, auth, request and the whole reply (code 9001 past it). */
        public function SetCallTimeout(int $milliseconds): void
        {
            $this->setOption('call_timeout_ms', $milliseconds);
        }

        public function SetMaxFrame(int $bytes): void
        {
            $this->setOption('max_frame_bytes', $bytes);
        }

        /**
         * Persistent: when this object goes away its connection waits in the worker for the next
         * request's object with the same host, port, login, password, keys, settings and
         * $PersistentId, instead of saying DISCONNECT. Keys read from config.php and workparams
         * are then kept in the worker too.
         */
        public function SetPersistent(bool $Persistent = true, string $PersistentId = ''): void
        {
            $this->setOption('persistent', $Persistent);
            $this->setOption('persistent_id', $PersistentId);
        }

        /**
         * Sends one request and returns the reply text exactly as the server sent it, or a JSON error.
         * $Value NULL reads $Path; any other value is sent as json_encode($Value).
         */
        public function Process($Path, $Value = NULL)
        {
            $path = (string)$Path;
            if (strpos($path, "\0") !== false) {
                return MikroBILL_FFI::errorJson(MikroBILL_Code::INVALID_ARGUMENT, 'Invalid argument', 'path contains a NUL byte');
            }
            $json = NULL;
            if ($Value !== NULL) {
                $json = json_encode($Value);
                if ($json === false) {
                    return MikroBILL_FFI::errorJson(MikroBILL_Code::INVALID_ARGUMENT, 'Invalid argument',
                        'value cannot be JSON-encoded: ' . json_last_error_msg());
                }
            }
            try {
                $handle = $this->handle();
            } catch (MikroBILL_Failure $e) {
                return $e->toJson();
            }
            $reply = $this->text($this->ffi->mb_process($handle, $path, $json));
            if ($this->keysCachedAs !== null && $this->authGotNoReply()) {
                // The request never left: auth failed. Keys kept from an earlier request may be stale
                // (a reinstall changed them); read them once more from the installation.
                try {
                    $handle = $this->forgetCachedKeys();
                } catch (MikroBILL_Failure $e) {
                    return $e->toJson();
                }
                $reply = $this->text($this->ffi->mb_process($handle, $path, $json));
            }
            return $reply;
        }

        /**
         * This worker's pool of persistent connections: idle, identities, and counts of connections
         * returned, reused and closed (see README.md, "Persistent connections").
         */
        public static function PoolStats(): array
        {
            $ffi = MikroBILL_FFI::get();
            return json_decode((string)MikroBILL_FFI::take($ffi, $ffi->mb_pool_stats()), true) ?? array();
        }

        /** Closes this worker's idle persistent connections with DISCONNECT; returns how many. */
        public static function PoolClear(): int
        {
            return (int)MikroBILL_FFI::get()->mb_pool_clear();
        }

        /** Says goodbye to the server and closes the socket (a persistent client's connection goes to
         *  the worker's pool instead); the object stays usable. */
        public function Close()
        {
            if ($this->handle > 0) {
                $this->ffi->mb_disconnect($this->handle);
            }
        }

        /** True when the server accepts our login (connecting and authenticating if needed). */
        public function CheckConnection()
        {
            try {
                $handle = $this->handle();
                if ($this->ffi->mb_check_connection($handle) === 1) {
                    return true;
                }
                return $this->keysCachedAs !== null && $this->authGotNoReply()
                    && $this->ffi->mb_check_connection($this->forgetCachedKeys()) === 1;
            } catch (MikroBILL_Failure $e) {
                return false;
            }
        }

        /** Releases the handle with mb_discard: the socket is just closed, without DISCONNECT and
         *  without waiting for the server, so a hung server cannot stall the end of a request or a
         *  script (the original client had no destructor and left the socket to PHP to close). Call
         *  Close() first for a polite goodbye. */
        public function __destruct()
        {
            if ($this->handle > 0) {
                $this->ffi->mb_discard($this->handle);
                $this->handle = 0;
            }
        }

        /** The copy would share the original's library handle, and whichever object went first would
         *  close it under the other (9007). The copy connects lazily with a handle of its own. */
        public function __clone()
        {
            $this->handle = 0;
        }

        /** var_dump()/print_r() show the settings and the handle; the credentials holder would only
         *  show as an empty object. */
        public function __debugInfo()
        {
            return array('host' => $this->host, 'port' => $this->port, 'login' => $this->login,
                'options' => $this->options, 'handle' => $this->handle);
        }

        private function setOption($name, $value): void
        {
            if (is_string($name) && array_key_exists($name, self::TYPED_OPTIONS)) {
                if (gettype($value) !== self::TYPED_OPTIONS[$name]) {
                    throw new InvalidArgumentException("MikroBILL_API: option $name must be a " . self::TYPED_OPTIONS[$name]);
                }
                $this->options[$name] = $value;
                $this->release();
                return;
            }
            if (!is_string($name) || !array_key_exists($name, self::OPTIONS)) {
                throw new InvalidArgumentException('MikroBILL_API: unknown option ' . var_export($name, true)
                    . '; known: ' . implode(', ', array_merge(array_keys(self::OPTIONS), array_keys(self::TYPED_OPTIONS))));
            }
            if (!is_int($value) || $value < self::OPTIONS[$name]) {
                throw new InvalidArgumentException("MikroBILL_API: option $name must be an integer >= " . self::OPTIONS[$name]);
            }
            $this->options[$name] = $value;
            // New settings take effect through a new handle on the next call.
            $this->release();
        }

        /** @throws MikroBILL_Failure */
        private function handle(): int
        {
            if ($this->handle > 0) {
                return $this->handle;
            }
            list($password, $key1, $key2) = $this->credentials->get();
            if ($key1 === NULL || $key2 === NULL) {
                $this->keysRead = array($key1 === NULL, $key2 === NULL);
                list($key1, $key2) = $this->installationKeys($key1, $key2);
                $this->credentials->set($password, $key1, $key2);
            }
            $port = $this->port;
            if (is_string($port) && MikroBILL_Keys::isDigits($port)) {
                $port = (int)$port; // kassa settings often hold the port as text
            }
            $config = json_encode(array(
                'host' => $this->host,
                'port' => $port,
                'login' => $this->login,
                'password' => $password,
                'key1' => $key1,
                'key2' => $key2,
            ) + $this->options);
            if ($config === false) {
                throw new MikroBILL_Failure('Invalid argument: login, password and keys must be UTF-8 text',
                    MikroBILL_Code::INVALID_ARGUMENT);
            }
            $handle = $this->ffi->mb_connect($config);
            if ($handle <= 0) {
                throw MikroBILL_Failure::fromLibrary(MikroBILL_FFI::take($this->ffi, $this->ffi->mb_last_error()));
            }
            $this->handle = $handle;
            return $handle;
        }

        /**
         * Keys from config.php and workparams; a persistent client keeps them in the worker, by
         * config.php's path and modification time, and reads them from there on later requests.
         * @throws MikroBILL_Failure
         */
        private function installationKeys(#[\SensitiveParameter] ?string $key1, #[\SensitiveParameter] ?string $key2): array
        {
            $this->keysCachedAs = null;
            if (($this->options['persistent'] ?? false) !== true) {
                return MikroBILL_Keys::resolve($key1, $key2);
            }
            $name = MikroBILL_Keys::cacheName($key1 === NULL, $key2 === NULL);
            $cached = MikroBILL_FFI::take($this->ffi, $this->ffi->mb_worker_cache_get($name));
            $keys = $cached === null ? null : json_decode($cached, true);
            if (is_array($keys) && count($keys) === 2 && is_string($keys[0]) && is_string($keys[1])) {
                $this->keysCachedAs = $name;
                return array($key1 ?? $keys[0], $key2 ?? $keys[1]);
            }
            list($key1, $key2) = MikroBILL_Keys::resolve($key1, $key2);
            $json = json_encode(array($key1, $key2));
            if ($json !== false) {
                $this->ffi->mb_worker_cache_set($name, $json);
            }
            return array($key1, $key2);
        }

        /**
         * Drops the cached keys, reads them again from the installation, and returns a new handle.
         * @throws MikroBILL_Failure
         */
        private function forgetCachedKeys(): int
        {
            $this->ffi->mb_worker_cache_set($this->keysCachedAs, null);
            $this->keysCachedAs = null;
            list($password, $key1, $key2) = $this->credentials->get();
            $this->credentials->set($password, $this->keysRead[0] ? NULL : $key1, $this->keysRead[1] ? NULL : $key2);
            $this->release();
            return $this->handle();
        }

        /** The last call failed with the library's code 6: no usable answer to the auth message, so
         *  nothing was sent. A server reply carrying code 6 is a success for the library and never
         *  matches, so a request that reached the server is never repeated. */
        private function authGotNoReply(): bool
        {
            return $this->ffi->mb_last_error_code() === MikroBILL_Code::NULL_RESPONSE;
        }

        private function text($ptr): string
        {
            $text = MikroBILL_FFI::take($this->ffi, $ptr);
            return $text ?? MikroBILL_FFI::errorJson(MikroBILL_Code::INTERNAL, 'Internal error', 'the library returned NULL');
        }

        private function release(): void
        {
            if ($this->handle > 0) {
                $this->ffi->mb_close($this->handle);
                $this->handle = 0;
            }
        }
    }
}
