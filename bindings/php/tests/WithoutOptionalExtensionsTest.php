<?php
/*
 * `php -n` with only ext-ffi: no mysqli, no ctype. A missing mysqli is a JSON error from
 * Process() like every runtime failure, and nothing else in the shim needs either extension.
 */

use PHPUnit\Framework\TestCase;

final class WithoutOptionalExtensionsTest extends TestCase
{
    public function testMissingMysqliIsAJsonErrorAndCtypeIsNotNeeded(): void
    {
        $sim = new MikroBILL_Simulator();
        $root = TestEnv::tempDir() . '/bare-' . bin2hex(random_bytes(4));
        mkdir("$root/kassa", 0700, true);
        file_put_contents("$root/config.php", '<?php
$mysql_adr = "127.0.0.1:' . TestEnv::require('MB_TEST_MYSQL_PORT') . '";
$mysql_user = "u"; $mysql_pass = "p"; $mysql_db = "mikrobill";
$CRYPTO_KEY_1 = ' . var_export(TestEnv::KEY1, true) . ";\n");
        $port = var_export((string)$sim->port, true); // as text: the digit check must not need ctype
        file_put_contents("$root/kassa/probe.php", '<?php
require ' . var_export(TestEnv::bindingDir() . '/apicore.php', true) . ';
echo "mysqli=", extension_loaded("mysqli") ? "yes" : "no", " ctype=", extension_loaded("ctype") ? "yes" : "no", "\n";
$Api = new MikroBILL_API("127.0.0.1", ' . $port . ', "api", "secret");
echo $Api->Process("API.GetClients"), "\n";
var_export($Api->CheckConnection());
echo "\n";
$Api = new MikroBILL_API("127.0.0.1", ' . $port . ', "api", "secret", ' . var_export(TestEnv::KEY1, true) . ', '
            . var_export(TestEnv::KEY2, true) . ');
echo $Api->Process("API.GetClients"), "\n";
echo json_encode(array(MikroBILL_Keys::parseAddress("127.0.0.1:3307"), MikroBILL_Keys::parseAddress("[::1]:3308"),
    MikroBILL_Keys::parseAddress("db:x1"))), "\n";
');
        list($status, $out, $err) = TestEnv::runPhp(array('extension' => 'ffi.so'), "$root/kassa/probe.php",
            array(), "$root/kassa", array(), true);
        $this->assertSame(0, $status, $out . $err);
        $text = 'the mysqli extension is needed to read CRYPTO_KEY_2 from workparams';
        $this->assertSame("mysqli=no ctype=no\n"
            . json_encode(array('return' => $text, 'result' => $text, 'code' => 9005)) . "\n"
            . "false\n"
            . TestEnv::api($sim->port)->Process('API.GetClients') . "\n"
            . '[["127.0.0.1",3307,null],["::1",3308,null],["db:x1",null,null]]' . "\n", $out, $err);
    }
}
