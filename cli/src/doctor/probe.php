<?php
// `mb doctor --kassa DIR` runs this with the CLI php in DIR, the kassa's apicore.php as its
// argument: it loads the shim the kassa loads and asks the shim's own code where the library is,
// where config.php is, and for the keys, as a kassa page would get them. It prints one JSON
// object for mb alone. The keys are in it only so that mb can check the core with them; mb never
// prints them, and no other value of config.php (the MySQL password) is in it.
$report = array('php' => PHP_VERSION);
// Whatever the shim or config.php print would spoil the JSON: it is dropped.
ob_start();
$failure = static function (Throwable $e): array {
    return array('message' => $e->getMessage(), 'code' => $e->getCode());
};
try {
    require $argv[1];
    $report['shim'] = (new ReflectionClass('MikroBILL_API'))->getFileName();
} catch (Throwable $e) {
    $report['shim_error'] = $failure($e);
}
if (isset($report['shim'])) {
    // The shim's own search, saying which file answered and which were passed over.
    try {
        list($ffi, $report['library'], $report['library_tried']) = MikroBILL_FFI::firstLoadable();
        $report['library_version'] = MikroBILL_FFI::version($ffi);
        MikroBILL_FFI::requireVersion($report['library_version']);
    } catch (Throwable $e) {
        $report['library_error'] = $failure($e);
    }
    foreach (MikroBILL_Keys::configCandidates() as $config) {
        if (is_file($config)) {
            $report['config'] = realpath($config);
            break;
        }
    }
    // What mb's fix line for CRYPTO_KEY_2 depends on, named from the shim's own codes so that mb
    // copies none of them.
    $kinds = array(MikroBILL_Code::INVALID_ARGUMENT => 'no_mysqli', MikroBILL_Code::KEY2_ROW_MISSING => 'row_missing');
    foreach (array(1, 2) as $n) {
        try {
            $key = MikroBILL_Keys::read($n === 1, $n === 2)[$n - 1];
            $report["key$n"] = $key;
            $decoded = base64_decode($key, true);
            $report["key{$n}_bytes"] = $decoded === false ? null : strlen($decoded);
        } catch (Throwable $e) {
            $report["key{$n}_error"] = $failure($e) + array('kind' => $kinds[$e->getCode()] ?? 'other');
        }
    }
}
ob_end_clean();
echo json_encode($report, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
