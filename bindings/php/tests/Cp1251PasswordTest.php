<?php
/*
 * A kassa saved in CP1251 holds its cashier's password in CP1251, and the original hashed those
 * bytes: sha1($Password . $sign). The shim passes a password that is not UTF-8 to the library as
 * password_base64 (its raw bytes), UTF-8 text as password. The servers here check the hash over
 * the password's bytes: Support/auth-check-server.php, a small PHP server that only answers the
 * auth, and the simulator with a cashier whose password is raw bytes (--cashier LOGIN:BASE64).
 */

use PHPUnit\Framework\TestCase;

final class Cp1251PasswordTest extends TestCase
{
    /** "Пароль" in CP1251: not valid UTF-8. */
    const CP1251 = "\xcf\xe0\xf0\xee\xeb\xfc";
    /** "Пароль" in UTF-8. */
    const UTF8 = "\xd0\x9f\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c";

    private $process;
    private $stdout;

    public function testTheConfigCarriesUtf8AsTextAndOtherBytesAsBase64(): void
    {
        $this->assertSame(array('password' => 'secret'), (new MikroBILL_Credentials('secret', null, null))->passwordConfig());
        $this->assertSame(array('password' => self::UTF8), (new MikroBILL_Credentials(self::UTF8, null, null))->passwordConfig());
        $this->assertSame(array('password_base64' => base64_encode(self::CP1251)),
            (new MikroBILL_Credentials(self::CP1251, null, null))->passwordConfig());
        $this->assertSame(array('password_base64' => base64_encode("ab\xffcd")),
            (new MikroBILL_Credentials("ab\xffcd", null, null))->passwordConfig());
    }

    /** Starts the auth-checking server for LOGIN with $password's bytes; returns its port. */
    private function server(string $password): int
    {
        $script = __DIR__ . '/Support/auth-check-server.php';
        // proc_open starts it in PHPUnit's process group, which run-tests.sh stops should PHPUnit die.
        $this->process = proc_open(array(PHP_BINARY, $script, TestEnv::KEY1, TestEnv::KEY2, TestEnv::LOGIN,
            base64_encode($password)), array(0 => array('file', '/dev/null', 'r'), 1 => array('pipe', 'w'),
            2 => array('file', '/dev/null', 'a')), $pipes);
        $this->assertIsResource($this->process);
        $this->stdout = $pipes[1];
        $line = rtrim((string)fgets($this->stdout));
        $this->assertMatchesRegularExpression('/^listening on 127\.0\.0\.1:\d+$/', $line);
        return (int)substr($line, strrpos($line, ':') + 1);
    }

    protected function tearDown(): void
    {
        if ($this->process !== null) {
            proc_terminate($this->process, 9);
            fclose($this->stdout);
            proc_close($this->process);
            $this->process = null;
        }
    }

    private function call(int $port, string $password): array
    {
        $api = new MikroBILL_API('127.0.0.1', $port, TestEnv::LOGIN, $password, TestEnv::KEY1, TestEnv::KEY2);
        $reply = json_decode($api->Process('API.GetClients'), true);
        $api->Close();
        return $reply;
    }

    public function testACp1251PasswordIsHashedFromItsBytes(): void
    {
        $port = $this->server(self::CP1251);
        $this->assertSame(array('return' => 'authenticated', 'code' => 0), $this->call($port, self::CP1251));
        // The same word in UTF-8 is other bytes, and the server refuses it: the hash is over the bytes.
        $this->assertSame(101, $this->call($port, self::UTF8)['code']);
    }

    /**
     * End to end against the simulator: a cashier whose password is CP1251 bytes (--cashier
     * LOGIN:BASE64) logs in with the kassa's CP1251 password, reads and sets, and the same word
     * in UTF-8 is refused.
     */
    public function testACp1251CashierOfTheSimulatorLogsIn(): void
    {
        $sim = new MikroBILL_Simulator(array('args' => array('--cashier', 'kassa1251:' . base64_encode(self::CP1251))));
        $api = new MikroBILL_API('127.0.0.1', $sim->port, 'kassa1251', self::CP1251, TestEnv::KEY1, TestEnv::KEY2);
        $this->assertTrue($api->CheckConnection());
        $money = 'API.Client.633824158637492.BillingInfo.Money';
        $this->assertSame('{"return":"OK","code":0}', $api->Process($money, '42.5'));
        $this->assertSame('{"return":"42.5","code":0}', $api->Process($money));
        $api->Close();
        $entries = $sim->journal($money);
        $this->assertCount(2, $entries);
        $this->assertSame(array('kassa1251', 'kassa1251'), array_column($entries, 'cashier'));

        $utf8 = new MikroBILL_API('127.0.0.1', $sim->port, 'kassa1251', self::UTF8, TestEnv::KEY1, TestEnv::KEY2);
        $refused = json_decode($utf8->Process($money), true);
        $this->assertSame(101, $refused['code']);
        $counts = $sim->counts();
        $this->assertSame(1, $counts['auths_granted']);
        $this->assertSame(1, $counts['auths_refused']);
    }

    public function testAUtf8PasswordIsHashedFromItsBytes(): void
    {
        $port = $this->server(self::UTF8);
        $this->assertSame(array('return' => 'authenticated', 'code' => 0), $this->call($port, self::UTF8));
        $this->assertSame(101, $this->call($port, self::CP1251)['code']);
    }
}
