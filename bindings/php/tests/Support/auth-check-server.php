<?php
/*
 * A one-cashier MikroBILL core for the password tests, written from docs/src/protocol.md with
 * openssl: it accepts a login whose hash is sha1(PASSWORD . sign) over the password's raw bytes,
 * which the simulator cannot hold when they are not UTF-8 (its config is JSON). Anything else
 * gets the core's refusal, code 101.
 *   php auth-check-server.php KEY1 KEY2 LOGIN PASSWORD_BASE64
 * Prints "listening on 127.0.0.1:PORT", then serves connections one at a time until killed.
 * Requests are answered {"return":"authenticated","code":0}; DISCONNECT is answered and closed.
 */

list(, $key1, $key2, $login, $passwordBase64) = $argv;
$key = base64_decode($key1, true);
$iv = base64_decode($key2, true);
$password = base64_decode($passwordBase64, true);
$cipher = 'aes-' . (8 * strlen($key)) . '-cbc';

/** One frame's plaintext without its zero padding; null at the end of the stream. */
function readMessage($stream, string $cipher, string $key, string $iv): ?string
{
    $prefix = readExactly($stream, 4);
    if ($prefix === null) {
        return null;
    }
    $body = readExactly($stream, unpack('V', $prefix)[1]);
    if ($body === null) {
        return null;
    }
    $plain = openssl_decrypt($body, $cipher, $key, OPENSSL_RAW_DATA | OPENSSL_ZERO_PADDING, $iv);
    return $plain === false ? null : trim($plain, "\0");
}

function readExactly($stream, int $length): ?string
{
    $data = '';
    while (strlen($data) < $length) {
        $chunk = fread($stream, $length - strlen($data));
        if ($chunk === false || $chunk === '') {
            return null;
        }
        $data .= $chunk;
    }
    return $data;
}

function sendMessage($stream, string $cipher, string $key, string $iv, array $message): void
{
    $plain = json_encode($message);
    $padding = (16 - strlen($plain) % 16) % 16;
    $body = openssl_encrypt($plain . str_repeat("\0", $padding), $cipher, $key,
        OPENSSL_RAW_DATA | OPENSSL_ZERO_PADDING, $iv);
    fwrite($stream, pack('V', strlen($body)) . $body);
}

$server = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr);
if ($server === false) {
    fwrite(STDERR, "cannot listen: $errstr\n");
    exit(1);
}
echo 'listening on ' . stream_socket_get_name($server, false) . "\n";
fflush(STDOUT);

while (true) {
    $peer = @stream_socket_accept($server, -1);
    if ($peer === false) {
        continue;
    }
    $auth = json_decode((string)readMessage($peer, $cipher, $key, $iv), true);
    $given = $auth['auth'] ?? null;
    $accepted = is_array($given) && ($given['login'] ?? null) === $login && is_string($given['sign'] ?? null)
        && ($given['password'] ?? null) === sha1($password . $given['sign']);
    if (!$accepted) {
        sendMessage($peer, $cipher, $key, $iv, array('return' => 'incorrect login or password', 'code' => 101));
        fclose($peer);
        continue;
    }
    sendMessage($peer, $cipher, $key, $iv, array('return' => 'welcome', 'code' => 0));
    while (($request = readMessage($peer, $cipher, $key, $iv)) !== null) {
        $path = json_decode($request, true)['path'] ?? null;
        sendMessage($peer, $cipher, $key, $iv, array('return' => $path === 'DISCONNECT' ? 'bye' : 'authenticated',
            'code' => 0));
        if ($path === 'DISCONNECT') {
            break;
        }
    }
    fclose($peer);
}
