<?php
/*
 * Benchmark contender: a pure-PHP client built the way the original kassa/apicore.php works, as
 * a provider would patch it to run on PHP 8: openssl instead of the removed mcrypt (AES-CBC with
 * the same zero padding), mysqli instead of the removed mysql_* for CRYPTO_KEY_2, fsockopen,
 * pack('V') length prefixes, sha1(password . microtime()) auth, DISCONNECT at the end.
 * $twoWrites = true sends each frame's length and body in two writes, as the original does; with
 * Nagle's algorithm on (PHP's fsockopen leaves TCP_NODELAY off) the body then waits for the
 * server's delayed ACK of the length, about 40 ms per frame. false writes each frame at once.
 * Written for this benchmark from the protocol; not the original's code.
 */

final class PatchedOriginal
{
    private $socket = null;
    private $cipher;
    private $key;
    private $iv;

    public function __construct(string $host, int $port, string $login, string $password, string $key1, string $key2,
        bool $twoWrites)
    {
        $this->key = base64_decode($key1);
        $this->iv = base64_decode($key2);
        $this->cipher = 'aes-' . (8 * strlen($this->key)) . '-cbc';
        $this->twoWrites = $twoWrites;
        $socket = @fsockopen($host, $port, $errno, $errstr, 5);
        if ($socket === false) {
            throw new RuntimeException("Can`t connect! ($errno)");
        }
        stream_set_timeout($socket, 5);
        $this->socket = $socket;
        $sign = microtime();
        $this->send(json_encode(array('auth' => array('login' => $login, 'password' => sha1($password . $sign), 'sign' => $sign))));
        $reply = json_decode($this->receive(), true);
        if (($reply['code'] ?? 1) !== 0) {
            throw new RuntimeException('auth refused');
        }
    }

    /** @var bool */
    private $twoWrites;

    public function Process(string $path, $value = null): string
    {
        $this->send(json_encode(array('path' => $path, 'value' => $value)));
        return $this->receive();
    }

    public function Close(): void
    {
        $this->send(json_encode(array('path' => 'DISCONNECT', 'value' => null)));
        $this->receive();
        fclose($this->socket);
    }

    private function send(string $plain): void
    {
        $padded = $plain . str_repeat("\0", (16 - strlen($plain) % 16) % 16);
        $body = openssl_encrypt($padded, $this->cipher, $this->key, OPENSSL_RAW_DATA | OPENSSL_ZERO_PADDING, $this->iv);
        if ($this->twoWrites) {
            fwrite($this->socket, pack('V', strlen($body)));
            fwrite($this->socket, $body);
        } else {
            fwrite($this->socket, pack('V', strlen($body)) . $body);
        }
    }

    private function receive(): string
    {
        $length = unpack('V', $this->read(4))[1];
        $plain = openssl_decrypt($this->read($length), $this->cipher, $this->key, OPENSSL_RAW_DATA | OPENSSL_ZERO_PADDING, $this->iv);
        return rtrim((string)$plain, "\0");
    }

    private function read(int $n): string
    {
        $data = '';
        while (strlen($data) < $n) {
            $chunk = fread($this->socket, $n - strlen($data));
            if ($chunk === false || $chunk === '') {
                throw new RuntimeException('connection lost');
            }
            $data .= $chunk;
        }
        return $data;
    }

    /** CRYPTO_KEY_1 from ../config.php and CRYPTO_KEY_2 from workparams, on every page, as the original does. */
    public static function keysFromInstallation(string $config): array
    {
        $vars = (static function () {
            include func_get_arg(0);
            return get_defined_vars();
        })($config);
        list($host, $port) = explode(':', $vars['mysql_adr']) + array(1 => null);
        $db = new mysqli($host, $vars['mysql_user'], $vars['mysql_pass'], $vars['mysql_db'], (int)$port);
        $row = $db->query("SELECT param_value FROM workparams WHERE param_name = 'CRYPTO_KEY_2' LIMIT 1")->fetch_row();
        $db->close();
        return array($vars['CRYPTO_KEY_1'], $row[0]);
    }
}
