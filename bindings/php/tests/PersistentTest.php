<?php
/*
 * Persistent connections (the 'persistent' option / SetPersistent) against the real simulator:
 * pages in a row share one session, in this process and in a php-fpm worker, other identities
 * never get it, and keys read from the installation are kept in the worker and read again once
 * when auth fails with code 6. The simulator's --session-counts file is the witness.
 */

use PHPUnit\Framework\TestCase;

final class PersistentTest extends TestCase
{
    /** New key 2 of a "reinstalled" core. */
    const OTHER_KEY2 = 'ICEiIyQlJicoKSorLC0uLw==';

    private $counts;
    private $cwd;

    protected function setUp(): void
    {
        MikroBILL_API::PoolClear();
        $this->counts = TestEnv::tempDir() . '/counts-' . bin2hex(random_bytes(4)) . '.json';
        $this->cwd = getcwd();
    }

    protected function tearDown(): void
    {
        chdir($this->cwd);
        MikroBILL_API::PoolClear();
    }

    private function sim(array $args = array(), int $port = 0): MikroBILL_Simulator
    {
        return new MikroBILL_Simulator(array('args' => array_merge(array('--session-counts', $this->counts), $args),
            'port' => $port));
    }

    /** array(auths, disconnects), waiting up to 5 s for $until to hold. */
    private function counts(?callable $until = null): array
    {
        for ($i = 0; ; $i++) {
            $v = json_decode((string)file_get_contents($this->counts), true);
            $seen = array($v['auths'], $v['disconnects']);
            if ($until === null || $until($seen) || $i >= 250) {
                return $seen;
            }
            usleep(20000);
        }
    }

    private static function api(int $port, array $options = array()): MikroBILL_API
    {
        return new MikroBILL_API('127.0.0.1', $port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2, $options);
    }

    private static function page(MikroBILL_API $api): void
    {
        foreach (array('API.GetClients', 'API.GetClients', 'API.GetClients') as $path) {
            $reply = json_decode($api->Process($path), true);
            self::assertSame(0, $reply['code'] ?? null, var_export($reply, true));
        }
    }

    public function testPagesInARowShareOneSession(): void
    {
        $sim = $this->sim();
        for ($i = 0; $i < 4; $i++) {
            self::page(self::api($sim->port, array('persistent' => true)));
        }
        $this->assertSame(array(1, 0), $this->counts());
        $stats = MikroBILL_API::PoolStats();
        $this->assertSame(1, $stats['idle']);
        $this->assertSame(1, MikroBILL_API::PoolClear());
        $this->assertSame(array(1, 1), $this->counts(function ($c) { return $c[1] === 1; }));
    }

    public function testTheSetterEnablesItAndAnotherIdSeparates(): void
    {
        $sim = $this->sim();
        $api = self::api($sim->port);
        $api->SetPersistent(true);
        self::page($api);
        $api = null;
        $other = self::api($sim->port);
        $other->SetPersistent(true, 'second shop');
        self::page($other);
        $other = null;
        $this->assertSame(array(2, 0), $this->counts());
        $this->assertSame(2, MikroBILL_API::PoolStats()['identities']);
    }

    public function testAnotherPasswordNeverGetsThePooledSession(): void
    {
        $sim = $this->sim();
        self::page(self::api($sim->port, array('persistent' => true)));
        $wrong = new MikroBILL_API('127.0.0.1', $sim->port, TestEnv::LOGIN, 'not the password', TestEnv::KEY1, TestEnv::KEY2,
            array('persistent' => true));
        $reply = json_decode($wrong->Process('API.GetClients'), true);
        $this->assertNotSame(0, $reply['code']);
        $this->assertSame(array(1, 0), $this->counts());
    }

    public function testWithoutTheOptionEachPageHasASessionOfItsOwn(): void
    {
        $sim = $this->sim();
        self::page(self::api($sim->port));
        self::page(self::api($sim->port));
        // __destruct releases with mb_discard: the socket is closed without DISCONNECT.
        $this->assertSame(array(2, 0), $this->counts());
        $this->assertSame(0, MikroBILL_API::PoolStats()['idle']);
        $api = self::api($sim->port);
        self::page($api);
        $api->Close();
        $this->assertSame(array(3, 1), $this->counts(function ($c) { return $c[1] === 1; }), 'Close() says DISCONNECT');
    }

    public function testBadOptionValuesAreRefused(): void
    {
        foreach (array(array('persistent' => 1), array('persistent_id' => 5), array('pool_idle_timeout_ms' => 0)) as $bad) {
            try {
                self::api(1, $bad);
                $this->fail('accepted ' . var_export($bad, true));
            } catch (InvalidArgumentException $e) {
                $this->assertStringContainsString((string)array_key_first($bad), $e->getMessage());
            }
        }
    }

    /**
     * @group php-fpm
     */
    #[\PHPUnit\Framework\Attributes\Group('php-fpm')]
    public function testAPhpFpmWorkerAuthenticatesOnceForManyRequests(): void
    {
        $sim = $this->sim();
        $script = TestEnv::tempDir() . '/persistent-page.php';
        file_put_contents($script, '<?php
require ' . var_export(TestEnv::bindingDir() . '/apicore.php', true) . ';
$api = new MikroBILL_API("127.0.0.1", (int)$_GET["port"], "' . TestEnv::LOGIN . '", "' . TestEnv::PASSWORD . '",
    "' . TestEnv::KEY1 . '", "' . TestEnv::KEY2 . '", array("persistent" => $_GET["p"] === "1"));
foreach (array(1, 2, 3) as $i) {
    echo json_decode($api->Process("API.GetClients"), true)["code"];
}
');
        $fpm = new FpmServer(array('ffi.enable' => '1'));
        for ($i = 0; $i < 5; $i++) {
            $this->assertSame('000', $fpm->request($script, 'p=1&port=' . $sim->port), $fpm->logs());
        }
        $this->assertSame(array(1, 0), $this->counts(), 'one worker, one session for five pages');
        $this->assertSame('000', $fpm->request($script, 'p=0&port=' . $sim->port));
        $this->assertSame(array(2, 0), $this->counts(), 'without the option the page opened a session of its own');
    }

    /** A web root whose config.php names the rekey database; cwd = kassa, as kassa scripts run. */
    private function installation(): string
    {
        $root = TestEnv::tempDir() . '/persistent-root-' . bin2hex(random_bytes(4));
        mkdir("$root/kassa", 0700, true);
        file_put_contents("$root/config.php", "<?php\n"
            . '$mysql_adr = ' . var_export('127.0.0.1:' . TestEnv::require('MB_TEST_MYSQL_PORT'), true) . ";\n"
            . '$mysql_user = ' . var_export(TestEnv::require('MB_TEST_MYSQL_USER'), true) . ";\n"
            . '$mysql_pass = ' . var_export(TestEnv::require('MB_TEST_MYSQL_PASS'), true) . ";\n"
            . '$mysql_db = ' . var_export(TestEnv::require('MB_TEST_MYSQL_DB_REKEY'), true) . ";\n"
            . '$CRYPTO_KEY_1 = ' . var_export(TestEnv::KEY1, true) . ";\n");
        chdir("$root/kassa");
        return "$root/config.php";
    }

    private static function setKey2(string $key2): void
    {
        $db = new mysqli('127.0.0.1', TestEnv::require('MB_TEST_MYSQL_USER'), TestEnv::require('MB_TEST_MYSQL_PASS'),
            TestEnv::require('MB_TEST_MYSQL_DB_REKEY'), (int)TestEnv::require('MB_TEST_MYSQL_PORT'));
        $db->query("UPDATE workparams SET param_value = '" . $db->real_escape_string($key2) . "' WHERE param_name = 'CRYPTO_KEY_2'");
        $db->close();
    }

    private static function installedApi(int $port): MikroBILL_API
    {
        return new MikroBILL_API('127.0.0.1', $port, TestEnv::LOGIN, TestEnv::PASSWORD, null, null,
            array('persistent' => true));
    }

    public function testKeysAreKeptInTheWorkerAndNotReadAgain(): void
    {
        self::setKey2(TestEnv::KEY2);
        $sim = $this->sim();
        $config = $this->installation();
        self::page(self::installedApi($sim->port));
        // Break the database password without changing config.php's size or time: a page that
        // read the keys again would fail with MySQL error 1045.
        $stat = stat($config);
        $text = file_get_contents($config);
        $pass = TestEnv::require('MB_TEST_MYSQL_PASS');
        file_put_contents($config, str_replace($pass, strrev($pass) === $pass ? str_repeat('x', strlen($pass)) : strrev($pass), $text));
        touch($config, $stat['mtime']);
        $this->assertSame(filesize($config), $stat['size']);
        self::page(self::installedApi($sim->port));
        $this->assertSame(array(1, 0), $this->counts());
        // A changed config.php (new time) is read again, and its broken password shows.
        touch($config, $stat['mtime'] + 10);
        $reply = json_decode(self::installedApi($sim->port)->Process('API.GetClients'), true);
        $this->assertSame(1045, $reply['code']);
    }

    public function testKeysChangedByAReinstallAreReadAgainOnceAfterCode6(): void
    {
        self::setKey2(TestEnv::KEY2);
        $sim = $this->sim();
        $port = $sim->port;
        $this->installation();
        self::page(self::installedApi($port));
        // Reinstall: the core comes back with a new key 2, and workparams holds it; config.php
        // is untouched, so the worker still holds the old keys.
        $sim = null;
        $sim = $this->sim(array('--key1', TestEnv::KEY1, '--key2', self::OTHER_KEY2), $port);
        self::setKey2(self::OTHER_KEY2);
        try {
            self::page(self::installedApi($port));
            self::page(self::installedApi($port));
        } finally {
            self::setKey2(TestEnv::KEY2);
        }
        // The new core granted one session: the stale keys got no auth, the re-read keys one,
        // and the second page reused it.
        $this->assertSame(array(1, 0), $this->counts());
    }
}
