<?php
/*
 * One benchmark client run for sim/benches/roundtrip.rs: CALLS reads of PATH through either the shim
 * ("shim") or the original-style pure-PHP mcrypt client ("original"), on one connection; with
 * "fresh", each call is a new object + Process + Close, as a kassa page load does.
 * Prints one JSON line: seconds spent on the calls, calls, reply bytes, peak RSS in KiB.
 * usage: php roundtrip.php shim|original PORT CALLS PATH [fresh]
 */
error_reporting(E_ALL & ~E_DEPRECATED);
require __DIR__ . '/../apicore.php';
require __DIR__ . '/../tests/OriginalStyleClient.php';

[, $kind, $port, $calls, $path] = $argv;
$fresh = ($argv[5] ?? '') === 'fresh';
$make = function () use ($kind, $port) {
    $key1 = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
    $key2 = 'EBESExQVFhcYGRobHB0eHw==';
    return $kind === 'shim'
        ? new MikroBILL_API('127.0.0.1', (int)$port, 'api', 'secret', $key1, $key2, array('io_timeout_ms' => 60000))
        : new OriginalStyleClient('127.0.0.1', (int)$port, 'api', 'secret', $key1, $key2);
};
$api = $make();

$first = $api->Process($path); // connects and authenticates outside the timed loop
if (strpos($first, '"code":0') === false && $first[0] !== '[') {
    fwrite(STDERR, "unexpected reply: " . substr($first, 0, 200) . "\n");
    exit(1);
}
$bytes = 0;
$start = hrtime(true);
for ($i = 0; $i < (int)$calls; $i++) {
    if ($fresh) {
        $each = $make();
        $bytes += strlen($each->Process($path));
        $each->Close();
    } else {
        $bytes += strlen($api->Process($path));
    }
}
$seconds = (hrtime(true) - $start) / 1e9;
$api->Close();
preg_match('/VmHWM:\s+(\d+)/', file_get_contents('/proc/self/status'), $m);
echo json_encode(array('seconds' => $seconds, 'calls' => (int)$calls, 'bytes' => $bytes, 'peak_rss_kib' => (int)$m[1])), "\n";
