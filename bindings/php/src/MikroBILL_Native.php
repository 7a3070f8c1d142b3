<?php

/**
 * The library's C functions as PHP methods: each returns the C function's code (0 = success)
 * and hands its outputs over as PHP values, having read the out-parameters and freed every string
 * the library gave out. Nothing here throws for a failed call: the caller turns a code into a
 * failure, so no method here ever has a secret on the stack of an exception.
 */
final class MikroBILL_Native
{
    /** @var FFI */
    private $ffi;

    public function __construct(FFI $ffi)
    {
        $this->ffi = $ffi;
    }

    /** The process's binding. @throws MikroBILL_Exception when the library cannot be used */
    public static function get(): self
    {
        return new self(MikroBILL_FFI::get());
    }

    /**
     * mb_connect: a new handle in $handle on success.
     * The config holds the password and keys: marked sensitive for PHP 8.2+ traces, and blanked
     * once passed, so that no later trace can show it on PHP 7.4 to 8.1 either.
     */
    public function connect(
        #[\SensitiveParameter]
        string $configJson,
        ?int &$handle
    ): int {
        $out = $this->ffi->new('long long');
        $code = $this->ffi->mb_connect($configJson, FFI::addr($out));
        $configJson = '';
        $handle = $code === 0 ? (int)$out->cdata : null;
        return $code;
    }

    /**
     * mb_process: $reply gets the server's reply on 0, the library's error JSON otherwise
     * ({"return":..,"result":..,"code":N,...}, or the server's refusal of the login).
     */
    public function process(int $handle, string $path, ?string $valueJson, ?string &$reply): int
    {
        $out = $this->ffi->new('char*');
        $code = $this->ffi->mb_process($handle, $path, $valueJson, 0, FFI::addr($out));
        $reply = MikroBILL_FFI::take($this->ffi, $out);
        return $code;
    }

    /**
     * mb_encrypt: $ciphertext gets the original Encrypt()'s raw ciphertext of $plaintext (every
     * byte, NULs included) on 0, null otherwise. Nothing is sent.
     */
    public function encrypt(
        int $handle,
        #[\SensitiveParameter]
        string $plaintext,
        ?string &$ciphertext
    ): int {
        return $this->cipher('mb_encrypt', $handle, $plaintext, $ciphertext);
    }

    /**
     * mb_decrypt: $plaintext gets the original Decrypt()'s text of $ciphertext (NULs trimmed
     * from both ends, NULs inside kept) on 0, null otherwise. Nothing is sent.
     */
    public function decrypt(int $handle, string $ciphertext, ?string &$plaintext): int
    {
        return $this->cipher('mb_decrypt', $handle, $ciphertext, $plaintext);
    }

    /** Either cipher export: pointer and length in, buffer and length out (read by length, as it may hold NULs). */
    private function cipher(
        string $export,
        int $handle,
        #[\SensitiveParameter]
        string $input,
        ?string &$output
    ): int {
        $out = $this->ffi->new('char*');
        $length = $this->ffi->new('long long');
        $code = $this->ffi->$export($handle, $input, strlen($input), FFI::addr($out), FFI::addr($length));
        $input = '';
        $output = MikroBILL_FFI::takeBytes($this->ffi, $out, $code === 0 ? (int)$length->cdata : 0);
        if ($code !== 0) {
            $output = null;
        }
        return $code;
    }

    /** mb_check_connection: 0 when the server is reachable and accepts the login. */
    public function checkConnection(int $handle): int
    {
        return $this->ffi->mb_check_connection($handle, 0);
    }

    /** mb_disconnect: says DISCONNECT and closes; the handle stays valid. */
    public function disconnect(int $handle): int
    {
        return $this->ffi->mb_disconnect($handle);
    }

    /** mb_close: disconnect (or hand a persistent connection to the pool) and release the handle. */
    public function close(int $handle): int
    {
        return $this->ffi->mb_close($handle);
    }

    /** mb_discard: release the handle at once, without network and without waiting. */
    public function discard(int $handle): int
    {
        return $this->ffi->mb_discard($handle);
    }

    /** mb_last_error_message: this thread's last error as one line of text, null after a success. */
    public function lastErrorMessage(): ?string
    {
        $out = $this->ffi->new('char*');
        if ($this->ffi->mb_last_error_message(FFI::addr($out)) !== 0) {
            return null;
        }
        return MikroBILL_FFI::take($this->ffi, $out);
    }

    /** mb_pool_stats: this process's pool of persistent connections, as JSON text in $json. */
    public function poolStats(?string &$json): int
    {
        $out = $this->ffi->new('char*');
        $code = $this->ffi->mb_pool_stats(FFI::addr($out));
        $json = MikroBILL_FFI::take($this->ffi, $out);
        return $code;
    }

    /** mb_pool_clear: closes the idle pooled connections; $closed gets how many. */
    public function poolClear(?int &$closed): int
    {
        $out = $this->ffi->new('long long');
        $code = $this->ffi->mb_pool_clear(FFI::addr($out));
        $closed = $code === 0 ? (int)$out->cdata : null;
        return $code;
    }

    /** mb_worker_cache_get: $value gets the text kept under $name in this process, null when none. */
    public function cacheGet(string $name, ?string &$value): int
    {
        $out = $this->ffi->new('char*');
        $code = $this->ffi->mb_worker_cache_get($name, FFI::addr($out));
        $value = MikroBILL_FFI::take($this->ffi, $out);
        return $code;
    }

    /** mb_worker_cache_set: keeps $value under $name for this process's lifetime; null forgets it. */
    public function cacheSet(
        string $name,
        #[\SensitiveParameter]
        ?string $value
    ): int {
        return $this->ffi->mb_worker_cache_set($name, $value);
    }
}
