<?php
/* (b) the shim, keys from config.php and workparams on every page, no persistence. */
require __DIR__ . '/common.php';
require getenv('MIKROBILL_APICORE');
$api = new MikroBILL_API('127.0.0.1', bench_port(), 'api', 'secret');
bench_page(function ($path) use ($api) { return $api->Process($path); });
