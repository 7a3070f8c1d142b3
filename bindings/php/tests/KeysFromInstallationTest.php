<?php
/*
 * Keys omitted: CRYPTO_KEY_1 and the MySQL settings come from config.php one folder above
 * kassa, CRYPTO_KEY_2 from table workparams, against the real MariaDB server run-tests.sh
 * started. Each test builds a web root (config.php + kassa/) and runs with cwd = kassa,
 * as kassa scripts do.
 */

use PHPUnit\Framework\TestCase;

final class KeysFromInstallationTest extends TestCase
{
    private static $sim;
    private $cwd;
    private $root;

    public static function setUpBeforeClass(): void
    {
        self::$sim = new MikroBILL_Simulator();
    }

    public static function tearDownAfterClass(): void
    {
        self::$sim = null;
    }

    protected function setUp(): void
    {
        $this->cwd = getcwd();
        $this->root = TestEnv::tempDir() . '/webroot-' . bin2hex(random_bytes(4));
        mkdir($this->root . '/kassa', 0700, true);
        chdir($this->root . '/kassa');
    }

    protected function tearDown(): void
    {
        chdir($this->cwd);
    }

    /** config.php as MikroBILL writes it; $overrides replaces settings. */
    private function writeConfig(string $root, array $overrides = array()): void
    {
        $settings = $overrides + array(
            'mysql_adr' => '127.0.0.1:' . TestEnv::require('MB_TEST_MYSQL_PORT'),
            'mysql_user' => TestEnv::require('MB_TEST_MYSQL_USER'),
            'mysql_pass' => TestEnv::require('MB_TEST_MYSQL_PASS'),
            'mysql_db' => TestEnv::require('MB_TEST_MYSQL_DB'),
            'CRYPTO_KEY_1' => TestEnv::KEY1,
        );
        $php = "<?php\n";
        foreach ($settings as $name => $value) {
            $php .= '$' . $name . ' = ' . var_export($value, true) . ";\n";
        }
        file_put_contents("$root/config.php", $php);
    }

    private function api(): MikroBILL_API
    {
        return new MikroBILL_API('127.0.0.1', self::$sim->port, TestEnv::LOGIN, TestEnv::PASSWORD);
    }

    private static function decode(string $reply): array
    {
        $decoded = json_decode($reply, true);
        self::assertIsArray($decoded, "not JSON: $reply");
        return $decoded;
    }

    public function testKeysFromConfigAndDatabaseWorkEndToEnd(): void
    {
        $this->writeConfig($this->root);
        $api = $this->api();
        $this->assertSame('{"return":[633824158637492,9527563927532953,4611686018427387905],"code":0}',
            $api->Process('API.GetClients'));
        $this->assertTrue($api->CheckConnection());
        foreach (array('mysql_pass', 'mysql_user', 'CRYPTO_KEY_1') as $name) {
            $this->assertArrayNotHasKey($name, $GLOBALS, 'config.php variables leaked into the global scope');
        }
        // The keys read from the installation are as secret as given ones.
        SecretsTest::assertNoSecretIn(SecretsTest::dumps($api), array(TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2));
    }

    /** A real config.php may define constants: several objects in one request must not
     *  include it twice (a redefined constant is a warning, a redeclared function fatal). */
    public function testConfigWithDeclarationsServesSeveralObjects(): void
    {
        $this->writeConfig($this->root);
        $function = 'mikrobill_test_config_' . bin2hex(random_bytes(4));
        file_put_contents($this->root . '/config.php', "\nfunction $function() { return 1; }\n"
            . "define('" . strtoupper($function) . "', 1);\n", FILE_APPEND);
        for ($i = 0; $i < 3; $i++) {
            $this->assertSame(0, self::decode($this->api()->Process('API.GetClients'))['code']);
        }
        $this->assertTrue(function_exists($function));
    }

    public function testOnlyKey2FromDatabase(): void
    {
        $this->writeConfig($this->root, array('CRYPTO_KEY_1' => 'unused because given'));
        $api = new MikroBILL_API('127.0.0.1', self::$sim->port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1);
        $this->assertSame(0, self::decode($api->Process('API.GetClients'))['code']);
    }

    public function testDatabaseThroughUnixSocketAddress(): void
    {
        $this->writeConfig($this->root, array('mysql_adr' => 'localhost:' . TestEnv::require('MB_TEST_MYSQL_SOCKET')));
        $this->assertSame(0, self::decode($this->api()->Process('API.GetClients'))['code']);
    }

    public function testMissingConfigGivesCode5(): void
    {
        $api = $this->api();
        $this->assertSame(array(
            'return' => "MikroBILL WEB config file: 'config.php' not found!",
            'result' => "MikroBILL WEB config file: 'config.php' not found!",
            'code' => 5,
        ), self::decode($api->Process('API.GetClients')));
        $this->assertFalse($api->CheckConnection());
        // Installing config.php later is picked up: failures are not cached.
        $this->writeConfig($this->root);
        $this->assertSame(0, self::decode($api->Process('API.GetClients'))['code']);
    }

    public function testWrongDatabasePasswordGivesMysqlErrno1045(): void
    {
        $this->writeConfig($this->root, array('mysql_pass' => 'wrong-password'));
        $reply = self::decode($this->api()->Process('API.GetClients'));
        $this->assertSame(1045, $reply['code']);
        $this->assertStringStartsWith("Access denied for user '" . TestEnv::require('MB_TEST_MYSQL_USER') . "'@", $reply['result']);
        $this->assertSame($reply['result'], $reply['return']);
    }

    public function testMissingRowGives9010(): void
    {
        $this->writeConfig($this->root, array('mysql_db' => TestEnv::require('MB_TEST_MYSQL_DB_NOROW')));
        $api = $this->api();
        $reply = self::decode($api->Process('API.GetClients'));
        $this->assertSame(9010, $reply['code']);
        $this->assertSame("CRYPTO_KEY_2 not found in table workparams (param_name = 'CRYPTO_KEY_2')", $reply['result']);
        $this->assertFalse($api->CheckConnection());
    }

    public function testMissingTableGivesMysqlErrno1146(): void
    {
        $this->writeConfig($this->root, array('mysql_db' => TestEnv::require('MB_TEST_MYSQL_DB_NOTABLE')));
        $reply = self::decode($this->api()->Process('API.GetClients'));
        $this->assertSame(1146, $reply['code'], $reply['result']);
        $this->assertStringContainsString('workparams', $reply['result']);
    }

    public function testDatabaseServerDownGivesErrno2002(): void
    {
        $this->writeConfig($this->root, array('mysql_adr' => '127.0.0.1:' . TestEnv::closedPort()));
        $reply = self::decode($this->api()->Process('API.GetClients'));
        $this->assertSame(2002, $reply['code']);
        $this->assertStringContainsString('Connection refused', $reply['result']);
    }

    public function testMissingKey1InConfigIsReported(): void
    {
        $this->writeConfig($this->root, array('CRYPTO_KEY_1' => ''));
        $reply = self::decode($this->api()->Process('API.GetClients'));
        $this->assertSame(9006, $reply['code']);
    }

    /** A shim copied into kassa finds ../config.php relative to its own folder, whatever the cwd. */
    public function testConfigNextToTheShimsFolderWhenCwdIsElsewhere(): void
    {
        $this->writeConfig($this->root);
        $kassa = $this->root . '/kassa';
        copy(TestEnv::bindingDir() . '/apicore.php', "$kassa/apicore.php");
        copy(TestEnv::repoHeader(), "$kassa/mikrobill.h");
        file_put_contents("$kassa/probe.php", '<?php include "' . $kassa . '/apicore.php";
$Api = new MikroBILL_API("127.0.0.1", ' . self::$sim->port . ', "api", "secret");
echo $Api->Process("API.GetClients");');
        list($status, $out, $err) = TestEnv::runPhp(array(), "$kassa/probe.php", array('MIKROBILL_HEADER' => ''), '/');
        $this->assertSame(0, $status, $err);
        $this->assertSame('{"return":[633824158637492,9527563927532953,4611686018427387905],"code":0}', $out, $err);
    }

    /** kassa/apicore.php as a symlink: __DIR__ is the link's target folder, so config.php is found
     *  relative to the running script (SCRIPT_FILENAME) instead; the cwd is not kassa. */
    public function testConfigFoundThroughTheScriptWhenTheShimIsASymlink(): void
    {
        $this->writeConfig($this->root);
        $kassa = $this->root . '/kassa';
        symlink(TestEnv::bindingDir() . '/apicore.php', "$kassa/apicore.php");
        file_put_contents("$kassa/probe.php", '<?php include __DIR__ . "/apicore.php";
$Api = new MikroBILL_API("127.0.0.1", ' . self::$sim->port . ', "api", "secret");
echo $Api->Process("API.GetClients");');
        list($status, $out, $err) = TestEnv::runPhp(array(), "$kassa/probe.php", array(), '/');
        $this->assertSame(0, $status, $err);
        $this->assertSame('{"return":[633824158637492,9527563927532953,4611686018427387905],"code":0}', $out, $err);
    }
}
