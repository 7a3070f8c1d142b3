<?php
/* PHPUnit bootstrap: the shim under test, the oracle client and the test support classes. */

require __DIR__ . '/../apicore.php';
require __DIR__ . '/OriginalStyleClient.php';
require __DIR__ . '/Support/TestEnv.php';
require __DIR__ . '/../testing/MikroBILLSimulator.php';
require __DIR__ . '/Support/FpmServer.php';

foreach (array('MIKROBILL_LIB', 'MIKROBILL_SIM') as $name) {
    $path = TestEnv::require($name);
    if (!is_file($path)) {
        throw new RuntimeException("$name=$path does not exist (build with cargo build --release)");
    }
}
