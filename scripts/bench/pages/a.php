<?php
/* (a) the original patched for PHP 8, one write per frame. */
require __DIR__ . '/common.php';
require __DIR__ . '/../../patched_original.php';
list($key1, $key2) = PatchedOriginal::keysFromInstallation(__DIR__ . '/../config.php');
$api = new PatchedOriginal('127.0.0.1', bench_port(), 'api', 'secret', $key1, $key2, false);
bench_page(function ($path) use ($api) { return $api->Process($path); });
$api->Close();
