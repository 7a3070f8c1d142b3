<?php
/* The kassa page every contender serves: three API calls, their replies in the HTML. */
const BENCH_CALLS = array(
    'API.GetClients',
    'API.Client.633824158637492.BillingInfo.Money',
    'API.Client.633824158637492.AutorizeInfo.Name',
);

function bench_page(callable $process): void
{
    echo "<html><body><ul>\n";
    foreach (BENCH_CALLS as $path) {
        $reply = $process($path);
        if (strpos($reply, '"code":0') === false) {
            http_response_code(500);
        }
        echo '<li>', htmlspecialchars($reply), "</li>\n";
    }
    echo "</ul></body></html>\n";
}

function bench_port(): int
{
    return (int)($_GET['port'] ?? 7403);
}
