<?php
/* (e) the floor under any client: three exchanges of frames as large as the real ones, over a
 * persistent socket, with floor-server, which answers without any work. No crypto, no JSON,
 * no library: what (e) costs over (d) is what three loopback round trips cost by themselves. */
require __DIR__ . '/common.php';
$socket = pfsockopen('127.0.0.1', bench_port(), $errno, $errstr, 5);
if ($socket === false) {
    http_response_code(500);
    exit("floor-server: $errstr ($errno)\n");
}
stream_set_timeout($socket, 5);
bench_page(function ($path) use ($socket) {
    $body = str_pad($path, 96, "\0");
    fwrite($socket, pack('V', strlen($body)) . $body);
    $prefix = fread($socket, 4);
    $want = strlen($prefix) === 4 ? unpack('V', $prefix)[1] : 0;
    $reply = '';
    while ($want > 0 && strlen($reply) < $want) {
        $chunk = fread($socket, $want - strlen($reply));
        if ($chunk === false || $chunk === '') {
            break;
        }
        $reply .= $chunk;
    }
    return strlen($reply) === 96 ? '{"return":"' . $path . '","code":0}' : '{"return":"short reply","code":-1}';
});
