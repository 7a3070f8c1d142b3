<?php
/* (d) the same page without any API call: the web stack's own floor. */
require __DIR__ . '/common.php';
bench_page(function ($path) { return '{"return":"' . $path . '","code":0}'; });
