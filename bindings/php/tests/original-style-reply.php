<?php
/*
 * Prints the reply a client behaving as the original gives to one Process() call, so the other
 * bindings' tests can compare with it:
 *   php original-style-reply.php HOST PORT LOGIN PASSWORD KEY1 KEY2 PATH
 * Needs the mcrypt extension (php8.2-mcrypt), as the original does.
 */
if ($argc !== 8) {
    fwrite(STDERR, "usage: php original-style-reply.php HOST PORT LOGIN PASSWORD KEY1 KEY2 PATH\n");
    exit(2);
}
if (!extension_loaded('mcrypt')) {
    fwrite(STDERR, "original-style-reply.php: the mcrypt extension is required (apt-get install php8.2-mcrypt)\n");
    exit(2);
}
require __DIR__ . '/OriginalStyleClient.php';
$client = new OriginalStyleClient($argv[1], (int) $argv[2], $argv[3], $argv[4], $argv[5], $argv[6]);
echo $client->Process($argv[7]), "\n";
