<?php

/** The original kassa API client surface. */
class MikroBILL_API
{
    /** The original's connect and read limit, in seconds. The library's defaults
     *  (connect_timeout_ms, io_timeout_ms) are these same 5 s. */
    const TIMEOUT = 5;

    /** The library's config keys that the constructor's arguments fill, besides the secret ones
     *  (MikroBILL_LibraryAbi::SECRET_KEYS), and php_floats, which would change nothing:
     *  json_encode already writes PHP's doubles. Every other key of the library's table
     *  (MikroBILL_LibraryAbi::CONFIG_KEY_TYPES) is an option. */
    const NOT_OPTIONS = array('host', 'port', 'login', 'php_floats');
    /** The least value of an integer option: 1 unless listed here. */
    const OPTION_MINIMA = array('max_frame_bytes' => 16, 'pool_max_idle' => 0, 'pool_max_idle_total' => 0);

    private $host;
    /** @var mixed as given: MikroBILL_Address reads it as fsockopen would, on connecting */
    private $port;
    private $login;
    /** @var MikroBILL_Credentials|null password and keys, kept out of this object's dumps; null
     *  in an unserialized object (see __serialize) */
    private $credentials;
    /** The code of the last call, 0 after a success. The original has a private $errno too, so
     *  $Api->errno from outside is an Error there and here. */
    private $errno = 0;
    private $options = array();
    /** @var MikroBILL_Native */
    private $native;
    /** Library handle; 0 until the first call needs one. */
    private $handle = 0;
    /** @var array|null which keys were read from the installation: array(bool, bool) */
    private $keysRead = null;
    /** @var string|null the worker-cache name of keys that came from the cache, not from config.php */
    private $keysCachedAs = null;

    /**
     * The password and keys never reach a stack trace: PHP 8.2+ shows the parameters marked
     * SensitiveParameter as SensitiveParameterValue, and on every version they are moved into the
     * credentials holder and overwritten before anything can throw (a trace shows a parameter's
     * current value), so PHP 7.4 to 8.1 show '[hidden]' even with zend.exception_ignore_args=Off.
     * Each attribute stands on a line of its own: PHP 7 reads a line starting with # as a comment.
     * @param array $Options connect_timeout_ms, io_timeout_ms (default 5000), call_timeout_ms (default 30000:
     *   the whole call, however slowly the reply trickles), max_frame_bytes (default 64 MiB),
     *   persistent (default false), persistent_id (default ''), pool_max_idle (4), pool_max_idle_total (64),
     *   pool_idle_timeout_ms (60000); see docs/src/guarantees.md, "Persistent connections"
     * @throws MikroBILL_Exception when the native library cannot be loaded
     */
    public function __construct(
        $Host,
        $Port,
        $Login,
        #[\SensitiveParameter]
        $Password,
        #[\SensitiveParameter]
        $CRYPTO_KEY_1 = NULL,
        #[\SensitiveParameter]
        $CRYPTO_KEY_2 = NULL,
        array $Options = array()
    ) {
        $this->credentials = new MikroBILL_Credentials((string)$Password,
            $CRYPTO_KEY_1 === NULL ? NULL : (string)$CRYPTO_KEY_1, $CRYPTO_KEY_2 === NULL ? NULL : (string)$CRYPTO_KEY_2);
        $Password = $CRYPTO_KEY_1 = $CRYPTO_KEY_2 = '[hidden]';
        $this->native = MikroBILL_Native::get();
        $this->host = (string)$Host;
        $this->port = $Port;
        $this->login = (string)$Login;
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
            return MikroBILL_Failure::errorJson(MikroBILL_Code::INVALID_ARGUMENT, 'Invalid argument', 'path contains a NUL byte');
        }
        $json = NULL;
        if ($Value !== NULL) {
            $json = json_encode($Value);
            if ($json === false) {
                return MikroBILL_Failure::errorJson(MikroBILL_Code::INVALID_ARGUMENT, 'Invalid argument',
                    'value cannot be JSON-encoded: ' . json_last_error_msg());
            }
        }
        try {
            $code = $this->native->process($this->handle(), $path, $json, $reply);
            if ($code === MikroBILL_Code::NULL_RESPONSE && $this->keysCachedAs !== null) {
                // The request never left: auth failed. Keys kept from an earlier request may be stale
                // (a reinstall changed them); read them once more from the installation.
                $code = $this->native->process($this->forgetCachedKeys(), $path, $json, $reply);
            }
        } catch (MikroBILL_Failure $e) {
            $this->errno = $e->getCode();
            return $e->toJson();
        }
        $this->errno = $code;
        if ($reply === null) {
            // The library gives a reply or an error JSON for every call: only a broken library lands here.
            return MikroBILL_Failure::errorJson($code === 0 ? MikroBILL_Code::INTERNAL : $code, 'Internal error',
                'the library returned no reply text');
        }
        return $reply;
    }

    /**
     * The original's Send: it wrote the request and returned Read(), the reply frame, which is
     * what Process() returned once connected. Here it is Process() itself, connecting and
     * authenticating first if needed, failures as JSON (the original's Send on an object that
     * had not connected yet failed in fwrite).
     */
    public function Send($Path, $Value = NULL)
    {
        return $this->Process($Path, $Value);
    }

    /**
     * The original's Read: one reply frame from the socket, decrypted, or NULL when no frame
     * came within TIMEOUT (its test of the length prefix, `!$l === FALSE`, sends both '' and false
     * from fread to NULL). The original read a reply only after writing a request, and here every
     * call reads its own reply, so no reply is ever owed: this returns at once what the original
     * returned after waiting TIMEOUT seconds in vain, NULL, and touches no connection.
     */
    public function Read()
    {
        return NULL;
    }

    /**
     * The original's Encrypt: the raw AES-CBC ciphertext of $txt with this client's keys
     * (CRYPTO_KEY_1, IV CRYPTO_KEY_2), zero-padded to whole 16-byte blocks and at least one
     * block, byte for byte what its mcrypt_encrypt gave. The library ciphers (mb_encrypt); nothing
     * is sent. False when this client has no usable keys (none given and none in the
     * installation, a key that is not base64 of an AES key or IV, an unserialized client), as
     * mcrypt_encrypt returned false for a key it could not use; the code is kept as for Process().
     * @param string $txt any bytes (a scalar or an object with __toString is taken as its string)
     * @return string|false
     */
    public function Encrypt(
        #[\SensitiveParameter]
        $txt
    ) {
        $text = self::cipherInput($txt, __FUNCTION__);
        $txt = '[hidden]';
        try {
            $this->errno = $this->native->encrypt($this->handle(), $text, $ciphertext);
        } catch (MikroBILL_Failure $e) {
            $this->errno = $e->getCode();
            return false;
        }
        return $this->errno === 0 && $ciphertext !== null ? $ciphertext : false;
    }

    /**
     * The original's Decrypt: $txt decrypted with this client's keys (a length that is not whole
     * blocks is zero-padded first, as mcrypt did) and the NUL bytes trimmed from both ends, as its
     * trim(mcrypt_decrypt(...), "\x00") did; NULs inside are kept. '' when this client has no
     * usable keys, which is what the original's trim() made of mcrypt_decrypt's false.
     * @param string $txt ciphertext bytes (a scalar or an object with __toString is taken as its string)
     * @return string
     */
    public function Decrypt($txt)
    {
        $text = self::cipherInput($txt, __FUNCTION__);
        try {
            $this->errno = $this->native->decrypt($this->handle(), $text, $plaintext);
        } catch (MikroBILL_Failure $e) {
            $this->errno = $e->getCode();
            return '';
        }
        return $this->errno === 0 && $plaintext !== null ? $plaintext : '';
    }

    /**
     * $txt as the original's mcrypt functions took it (a string parameter): a string as it is,
     * NULL as '', another scalar or a Stringable as its string; anything else is the TypeError
     * PHP 8 raised there.
     */
    private static function cipherInput(
        #[\SensitiveParameter]
        $txt,
        string $method
    ): string {
        if ($txt === NULL) {
            return '';
        }
        if (is_scalar($txt) || (is_object($txt) && method_exists($txt, '__toString'))) {
            return (string)$txt;
        }
        throw new TypeError("MikroBILL_API::$method(): Argument #1 (\$txt) must be of type string, "
            . (is_object($txt) ? get_class($txt) : gettype($txt)) . ' given');
    }

    /**
     * This worker's pool of persistent connections: idle, identities, and counts of connections
     * returned, reused and closed (see docs/src/guarantees.md, "Persistent connections").
     */
    public static function PoolStats(): array
    {
        $native = MikroBILL_Native::get();
        if ($native->poolStats($json) !== 0) {
            return array();
        }
        return json_decode((string)$json, true) ?? array();
    }

    /** Closes this worker's idle persistent connections with DISCONNECT; returns how many. */
    public static function PoolClear(): int
    {
        return MikroBILL_Native::get()->poolClear($closed) === 0 ? (int)$closed : 0;
    }

    /** Says goodbye to the server and closes the socket (a persistent client's connection goes to
     *  the worker's pool instead); the object stays usable. */
    public function Close()
    {
        if ($this->handle > 0) {
            $this->native->disconnect($this->handle);
        }
    }

    /** True when the server accepts our login (connecting and authenticating if needed). */
    public function CheckConnection()
    {
        try {
            $code = $this->native->checkConnection($this->handle());
            if ($code === MikroBILL_Code::NULL_RESPONSE && $this->keysCachedAs !== null) {
                $code = $this->native->checkConnection($this->forgetCachedKeys());
            }
            $this->errno = $code;
            return $code === 0;
        } catch (MikroBILL_Failure $e) {
            $this->errno = $e->getCode();
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
            $this->native->discard($this->handle);
            $this->handle = 0;
        }
    }

    /** The copy would share the original's library handle, and whichever object went first would
     *  close it under the other (9007). The copy connects lazily with a handle of its own. */
    public function __clone()
    {
        $this->handle = 0;
    }

    /**
     * serialize() keeps the settings (host, port, login, options) and never the password or the
     * keys. The original serialized its private properties, its password and keys in clear
     * among them; serialized objects end up in session files, caches and logs, readable by
     * whoever reads those, which is exactly where a secret must not go. (Nor did the original
     * come back as a working client: a socket resource serializes as the integer 0.)
     * An unserialized client is a valid object with the settings, private as ever, and no
     * handle; its calls fail with 9005 saying so (CheckConnection() is false, Close() does
     * nothing): create the client again with its password.
     */
    public function __serialize(): array
    {
        return array('host' => $this->host, 'port' => $this->port, 'login' => $this->login,
            'options' => $this->options);
    }

    /** @see __serialize(); the handle is made lazily, never taken from the string. */
    public function __unserialize(array $data): void
    {
        $this->native = MikroBILL_Native::get();
        $this->host = (string)($data['host'] ?? '');
        $this->port = $data['port'] ?? null;
        $this->login = (string)($data['login'] ?? '');
        foreach ((array)($data['options'] ?? array()) as $name => $value) {
            $this->setOption($name, $value);
        }
    }

    /** var_dump()/print_r() show the settings and the handle; the credentials holder would only
     *  show as an empty object. */
    public function __debugInfo()
    {
        return array('host' => $this->host, 'port' => $this->port, 'login' => $this->login,
            'options' => $this->options, 'handle' => $this->handle);
    }

    /** The options this shim takes => their PHP type (gettype()), from the library's table. */
    public static function optionTypes(): array
    {
        return array_diff_key(MikroBILL_LibraryAbi::CONFIG_KEY_TYPES,
            array_flip(array_merge(MikroBILL_LibraryAbi::SECRET_KEYS, self::NOT_OPTIONS)));
    }

    private function setOption($name, $value): void
    {
        $types = self::optionTypes();
        if (!is_string($name) || !array_key_exists($name, $types)) {
            throw new InvalidArgumentException('MikroBILL_API: unknown option ' . var_export($name, true)
                . '; known: ' . implode(', ', array_keys($types)));
        }
        if ($types[$name] === 'integer') {
            $least = self::OPTION_MINIMA[$name] ?? 1;
            if (!is_int($value) || $value < $least) {
                throw new InvalidArgumentException("MikroBILL_API: option $name must be an integer >= $least");
            }
        } elseif (gettype($value) !== $types[$name]) {
            throw new InvalidArgumentException("MikroBILL_API: option $name must be a " . $types[$name]);
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
        if ($this->credentials === null) {
            throw new MikroBILL_Failure('Invalid argument: this MikroBILL_API was unserialized, and a serialized client'
                . ' holds no password or keys; create it again with them', MikroBILL_Code::INVALID_ARGUMENT);
        }
        list($host, $port) = MikroBILL_Address::resolve($this->host, $this->port);
        list($password, $key1, $key2) = $this->credentials->get();
        if ($key1 === NULL || $key2 === NULL) {
            $this->keysRead = array($key1 === NULL, $key2 === NULL);
            list($read1, $read2) = $this->installationKeys($key1 === NULL, $key2 === NULL);
            $key1 = $key1 ?? $read1;
            $key2 = $key2 ?? $read2;
            $this->credentials->set($password, $key1, $key2);
        }
        $config = json_encode(array(
            'host' => $host,
            'port' => $port,
            'login' => $this->login,
        ) + $this->credentials->passwordConfig() + array(
            'key1' => $key1,
            'key2' => $key2,
        ) + $this->options);
        if ($config === false) {
            throw new MikroBILL_Failure('Invalid argument: the host, login and keys must be UTF-8 text',
                MikroBILL_Code::INVALID_ARGUMENT);
        }
        $code = $this->native->connect($config, $handle);
        if ($code !== 0) {
            throw MikroBILL_Failure::fromLibrary($this->native, $code);
        }
        $this->handle = $handle;
        return $handle;
    }

    /**
     * The keys asked for, from config.php and workparams: array(key1 or null, key2 or null). A
     * persistent client keeps them in the worker, by config.php's path and modification time,
     * and reads them from there on later requests.
     * @throws MikroBILL_Failure
     */
    private function installationKeys(bool $key1, bool $key2): array
    {
        $this->keysCachedAs = null;
        if (($this->options['persistent'] ?? false) !== true) {
            return MikroBILL_Keys::read($key1, $key2);
        }
        $name = MikroBILL_Keys::cacheName($key1, $key2);
        $keys = null;
        if ($this->native->cacheGet($name, $cached) === 0 && $cached !== null) {
            $keys = json_decode($cached, true);
        }
        if (is_array($keys) && count($keys) === 2 && is_string($keys[0]) === $key1 && is_string($keys[1]) === $key2) {
            $this->keysCachedAs = $name;
            return $keys;
        }
        $keys = MikroBILL_Keys::read($key1, $key2);
        $json = json_encode($keys);
        if ($json !== false) {
            $this->native->cacheSet($name, $json);
        }
        return $keys;
    }

    /**
     * Drops the cached keys, reads them again from the installation, and returns a new handle.
     * @throws MikroBILL_Failure
     */
    private function forgetCachedKeys(): int
    {
        $this->native->cacheSet($this->keysCachedAs, null);
        $this->keysCachedAs = null;
        list($password, $key1, $key2) = $this->credentials->get();
        $this->credentials->set($password, $this->keysRead[0] ? NULL : $key1, $this->keysRead[1] ? NULL : $key2);
        $this->release();
        return $this->handle();
    }

    private function release(): void
    {
        if ($this->handle > 0) {
            $this->native->close($this->handle);
            $this->handle = 0;
        }
    }
}
