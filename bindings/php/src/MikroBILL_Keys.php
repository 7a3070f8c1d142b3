<?php

/**
 * Finds CRYPTO_KEY_1 in config.php and CRYPTO_KEY_2 in the MikroBILL database, as the original
 * does. No method takes a key or a password as an argument, and the database password stays in
 * a static table: PHP 7.4 to 8.1 have no SensitiveParameter, and a trace shows every argument
 * when zend.exception_ignore_args is off.
 */
final class MikroBILL_Keys
{
    /** Settings already read, by file identity: config.php may define constants or functions,
     *  which must not be declared twice when several objects need keys in one process. */
    private static $configs = array();

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
     * Reads the keys asked for: array(key1 or null, key2 or null).
     * @throws MikroBILL_Failure
     */
    public static function read(bool $key1, bool $key2): array
    {
        $identity = self::readConfig(self::findConfig());
        $keys = array(null, null);
        if ($key1) {
            $keys[0] = self::$configs[$identity]['CRYPTO_KEY_1'] ?? null;
            if (!is_string($keys[0]) || $keys[0] === '') {
                throw new MikroBILL_Failure('CRYPTO_KEY_1 is not set in config.php', MikroBILL_Code::INVALID_KEY);
            }
        }
        if ($key2) {
            $keys[1] = self::selectKey2($identity);
        }
        return $keys;
    }

    /**
     * The worker-cache name for keys read from the config.php that would be used now: its
     * real path, modification time and size, and which of the keys are read (the others were
     * given). A changed config.php gets a new name, so old keys are never served for it.
     * @throws MikroBILL_Failure when config.php is not found
     */
    public static function cacheName(bool $key1, bool $key2): string
    {
        return 'mikrobill-keys|' . ($key1 ? '1' : '-') . ($key2 ? '2' : '-') . '|'
            . self::identity(self::findConfig());
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

    /** The file's real path, modification time and size: a changed file is another identity. */
    private static function identity(string $file): string
    {
        clearstatcache(true, $file);
        return realpath($file) . '|' . filemtime($file) . '|' . filesize($file);
    }

    /** Includes config.php in a closure so its variables stay out of the caller's scope (the file
     *  name is passed as an argument so no local name can collide with its variables); keeps the
     *  settings the keys need and returns their identity in self::$configs. */
    private static function readConfig(string $file): string
    {
        $identity = self::identity($file);
        if (!isset(self::$configs[$identity])) {
            $vars = (static function () {
                include func_get_arg(0);
                return get_defined_vars();
            })($file);
            $wanted = array('CRYPTO_KEY_1' => 1, 'mysql_adr' => 1, 'mysql_user' => 1, 'mysql_pass' => 1, 'mysql_db' => 1);
            self::$configs[$identity] = array_intersect_key($vars, $wanted);
        }
        return $identity;
    }

    /**
     * CRYPTO_KEY_2 from workparams, with the MySQL settings of the config.php read as $identity.
     * @throws MikroBILL_Failure with the MySQL errno, 9010 when the row is missing, 9005 without mysqli
     */
    private static function selectKey2(string $identity): string
    {
        if (!extension_loaded('mysqli')) {
            // mysqli is optional (only this lookup needs it); without the check mysqli_init() would
            // be an Error thrown out of Process() instead of the JSON every runtime failure gives.
            throw new MikroBILL_Failure('the mysqli extension is needed to read CRYPTO_KEY_2 from workparams',
                MikroBILL_Code::INVALID_ARGUMENT);
        }
        $config = self::$configs[$identity];
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
            // PHP 8.1+ default reporting (MYSQLI_REPORT_ERROR|STRICT) throws instead of returning
            // false. Only the message and code go on: the exception's trace holds real_connect's
            // arguments, the database password among them.
            throw new MikroBILL_Failure($e->getMessage(), (int)$e->getCode());
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
