<?php
/* (c) the shim with persistence: the worker keeps the session and the keys between pages. */
require __DIR__ . '/common.php';
require getenv('MIKROBILL_APICORE');
$api = new MikroBILL_API('127.0.0.1', bench_port(), 'api', 'secret', null, null, array('persistent' => true));
bench_page(function ($path) use ($api) { return $api->Process($path); });
