<?php
/*
 * Test oracle: a pure-PHP client built the way the original kassa/apicore.php works, written
 * from docs/src/protocol.md (not copied from any published client). It uses what the original
 * relies on: mcrypt's RIJNDAEL_128 in CBC mode (zero padding), pack('I') length prefixes,
 * microtime() as the sign, sha1(password . sign), json_encode, fsockopen with 5 s timeouts, and
 * (as the original does) the length prefix and the ciphertext in two separate fwrite calls on a
 * socket without TCP_NODELAY: the second write waits for the server's delayed ACK of the first
 * (Nagle's algorithm), which is what the original pays per request.
 * Comparing the shim against it shows that the server sees the same request bytes.
 */

class OriginalStyleClient
{
    private $host;
    private $port;
    private $login;
    private $password;
    private $key;
    private $iv;
    private $socket = null;
    /** The original's TIMEOUT (5 s) for the connect and each read; a test may shorten it. */
    private $timeout;

    public function __construct($Host, $Port, $Login, $Password, $CRYPTO_KEY_1, $CRYPTO_KEY_2, $timeout = 5)
    {
        $this->timeout = $timeout;
        $this->host = $Host;
        $this->port = $Port;
        $this->login = $Login;
        $this->password = $Password;
        $this->key = base64_decode($CRYPTO_KEY_1);
        $this->iv = base64_decode($CRYPTO_KEY_2);
    }

    public function Process($Path, $Value = NULL)
    {
        if ($this->socket === null) {
            $error = $this->connect();
            if ($error !== null) {
                return $error;
            }
        }
        $this->send(json_encode(array('path' => $Path, 'value' => $Value)));
        $reply = $this->receive();
        return $reply === '' ? self::error(6, 'Null response! Probably incorrect encryption keys!') : $reply;
    }

    /**
     * The original's public Read(): one reply frame from the open connection. When no length
     * prefix comes within the read timeout it returns NULL: the original tests fread's result
     * with `!$l === FALSE`, i.e. `(!$l) === FALSE`, which sends '' (a timeout) and false alike
     * to its `return NULL` branch, and this tests it the same way.
     */
    public function Read()
    {
        $head = fread($this->socket, 4);
        if (!$head === FALSE) {
            $head .= $this->readExactly(4 - strlen($head));
            $length = unpack('I', $head)[1];
            return trim(mcrypt_decrypt(MCRYPT_RIJNDAEL_128, $this->key, $this->readExactly($length), MCRYPT_MODE_CBC,
                $this->iv), "\0");
        }
        return NULL;
    }

    public function Close()
    {
        if ($this->socket !== null) {
            $this->send(json_encode(array('path' => 'DISCONNECT', 'value' => NULL)));
            $this->receive(); // the reply is optional: end of stream is fine
            fclose($this->socket);
            $this->socket = null;
        }
    }

    private function connect()
    {
        $socket = @fsockopen($this->host, $this->port, $errno, $errstr, $this->timeout);
        if ($socket === false) {
            return self::error($errno, 'Can`t connect!');
        }
        stream_set_timeout($socket, $this->timeout);
        $this->socket = $socket;
        $sign = microtime();
        $this->send(json_encode(array('auth' => array(
            'login' => $this->login,
            'password' => sha1($this->password . $sign),
            'sign' => $sign,
        ))));
        $reply = $this->receive();
        if ($reply === '') {
            $this->socket = null;
            fclose($socket);
            return self::error(6, 'Null response! Probably incorrect encryption keys!');
        }
        $decoded = json_decode($reply, true);
        if (!is_array($decoded)) {
            $this->socket = null;
            fclose($socket);
            return $reply;
        }
        if (($decoded['code'] ?? 1) !== 0) {
            // As measured with the original: the server's text moves under the client's own key.
            $this->socket = null;
            fclose($socket);
            return self::error($decoded['code'] ?? null, $decoded['return'] ?? null);
        }
        return null;
    }

    private function send($plaintext)
    {
        $cipher = mcrypt_encrypt(MCRYPT_RIJNDAEL_128, $this->key, $plaintext, MCRYPT_MODE_CBC, $this->iv);
        fwrite($this->socket, pack('I', strlen($cipher)));
        fwrite($this->socket, $cipher);
    }

    /** One frame's plaintext with the zero padding trimmed; '' on end of stream or timeout. */
    private function receive()
    {
        $head = $this->readExactly(4);
        if (strlen($head) !== 4) {
            return '';
        }
        $length = unpack('I', $head)[1];
        $cipher = $this->readExactly($length);
        if (strlen($cipher) !== $length || $length === 0) {
            return '';
        }
        return trim(mcrypt_decrypt(MCRYPT_RIJNDAEL_128, $this->key, $cipher, MCRYPT_MODE_CBC, $this->iv), "\0");
    }

    private function readExactly($length)
    {
        $data = '';
        while (strlen($data) < $length) {
            $chunk = fread($this->socket, $length - strlen($data));
            if ($chunk === false || $chunk === '') {
                break;
            }
            $data .= $chunk;
        }
        return $data;
    }

    private static function error($code, $text)
    {
        return json_encode(array('result' => $text, 'code' => $code));
    }
}
