<?php
/*
 * The password and keys appear in no dump of the object (var_dump, print_r, var_export, an array
 * cast, debug_zval_dump, serialize) and in no exception stack trace: PHP 8.2+ redacts
 * SensitiveParameter arguments, and on every version the shim passes no secret as an argument
 * (the constructor overwrites its own before anything can throw).
 */

use PHPUnit\Framework\TestCase;

final class SecretsTest extends TestCase
{
    private static $sim;

    public static function setUpBeforeClass(): void
    {
        self::$sim = new MikroBILL_Simulator();
    }

    public static function tearDownAfterClass(): void
    {
        self::$sim = null;
    }

    /** Every way PHP shows an object, each labelled so a failure names the one that leaked. */
    public static function dumps($object): array
    {
        ob_start();
        var_dump($object);
        $varDump = ob_get_clean();
        ob_start();
        debug_zval_dump($object);
        $zvalDump = ob_get_clean();
        return array(
            'var_dump' => $varDump,
            'print_r' => print_r($object, true),
            'var_export' => var_export($object, true),
            '(array)' => var_export((array)$object, true),
            'debug_zval_dump' => $zvalDump,
            // A serialized client keeps its settings and never its secrets (MikroBILL_API::__serialize).
            'serialize' => serialize($object),
        );
    }

    public static function assertNoSecretIn(array $dumps, array $secrets): void
    {
        foreach ($dumps as $how => $text) {
            foreach ($secrets as $secret) {
                self::assertStringNotContainsString($secret, $text, "$how shows a secret");
            }
        }
    }

    public function testDumpsOfTheObjectShowNoSecretBeforeAndAfterConnecting(): void
    {
        $api = TestEnv::api(self::$sim->port);
        $secrets = array(TestEnv::PASSWORD, TestEnv::KEY1, TestEnv::KEY2);
        $before = self::dumps($api);
        self::assertNoSecretIn($before, $secrets);
        // The dumps are of the real object: they do show its non-secret settings.
        foreach ($before as $how => $text) {
            $this->assertStringContainsString('127.0.0.1', $text, $how);
        }
        $this->assertSame(0, json_decode($api->Process('API.GetClients'), true)['code']);
        self::assertNoSecretIn(self::dumps($api), $secrets);
        self::assertNoSecretIn(self::dumps(clone $api), $secrets);
    }

    /** Runs $code after including the shim, with call arguments shown in traces, strings uncut
     *  (php.ini-production shortens them to '...', which would hide a leak). */
    private function runWithArgsInTraces(string $code, array $env = array()): string
    {
        $dir = TestEnv::tempDir() . '/traces-' . bin2hex(random_bytes(4));
        mkdir("$dir/a/b", 0700, true); // no config.php in ../ of the script or the cwd
        $script = "$dir/a/b/trace.php";
        file_put_contents($script, '<?php require ' . var_export(TestEnv::bindingDir() . '/apicore.php', true) . ";\n" . $code);
        list($status, $out, $err) = TestEnv::runPhp(array('zend.exception_ignore_args' => '0',
            'zend.exception_string_param_max_len' => '1000000'), $script, $env, "$dir/a/b");
        $this->assertSame(0, $status, $out . $err);
        return $out;
    }

    /** Secrets absent from a trace, also as PHP 7.4 would cut them (15 characters, then '...'). */
    private function assertNoSecretInTrace(string $trace, array $secrets): void
    {
        foreach ($secrets as $secret) {
            $this->assertStringNotContainsString($secret, $trace);
            $this->assertStringNotContainsString(substr($secret, 0, 15), $trace);
        }
    }

    public function testConstructorArgumentsAreRedactedInTheLoaderExceptionsTrace(): void
    {
        $password = 'pw-' . bin2hex(random_bytes(6));
        $out = $this->runWithArgsInTraces('try {
    new MikroBILL_API("127.0.0.1", 7403, "api", ' . var_export($password, true) . ', '
            . var_export(TestEnv::KEY1, true) . ', ' . var_export(TestEnv::KEY2, true) . ');
    echo "constructed";
} catch (MikroBILL_Exception $e) {
    echo $e;
}', array('MIKROBILL_LIB' => TestEnv::tempDir() . '/no-such-dir/libmikrobill.so'));
        $this->assertStringStartsWith('MikroBILL_Exception: MikroBILL: cannot load libmikrobill.so', $out);
        // Arguments are shown (the setting is in force); the secret ones are redacted: by
        // SensitiveParameter from PHP 8.2 on, by the constructor overwriting them before.
        $hidden = PHP_VERSION_ID >= 80200 ? 'Object(SensitiveParameterValue)' : "'[hidden]'";
        $this->assertStringContainsString("MikroBILL_API->__construct('127.0.0.1', 7403, 'api', "
            . "$hidden, $hidden, $hidden)", $out);
        $this->assertNoSecretInTrace($out, array($password, TestEnv::KEY1, TestEnv::KEY2));
    }

    /** Key resolution takes no secret as an argument: a failure's trace shows which keys were
     *  asked for, and never the database password from config.php. */
    public function testTheDatabasePasswordStaysOutOfTracesThroughKeyResolution(): void
    {
        $dbPassword = 'db-' . bin2hex(random_bytes(6));
        $out = $this->runWithArgsInTraces('file_put_contents("../config.php", ' . var_export('<?php
$mysql_adr = "127.0.0.1:' . TestEnv::closedPort() . '";
$mysql_user = "kassa";
$mysql_pass = ' . var_export($dbPassword, true) . ';
$mysql_db = "mikrobill";
$CRYPTO_KEY_1 = ' . var_export(TestEnv::KEY1, true) . ';
', true) . ');
try {
    MikroBILL_Keys::read(true, true);
    echo "resolved";
} catch (MikroBILL_Failure $e) {
    echo $e->getCode(), "\n", $e;
}');
        $this->assertStringStartsWith("2002\nMikroBILL_Failure: ", $out);
        $this->assertStringContainsString('MikroBILL_Keys::read(true, true)', $out);
        $this->assertNoSecretInTrace($out, array($dbPassword, TestEnv::KEY1));
    }
}
