<?php
/*
 * The original's public methods besides Process(): Send() and Read(), Encrypt() and Decrypt().
 * Send() is Process() itself; Read() has no reply to read and returns the original's NULL for
 * that at once; Encrypt() and Decrypt() are the library's cipher with the client's keys (the
 * comparison with mcrypt itself is McryptCipherOracleTest, on the host, where mcrypt is).
 */

use PHPUnit\Framework\TestCase;

final class OriginalMethodsTest extends TestCase
{
    const CLIENT = 'API.Client.633824158637492';

    /** The calls of a kassa page: reads, sets, a batch, an error reply of the server. */
    private static function calls(): array
    {
        $c = self::CLIENT;
        return array(
            array('API.GetClients', null),
            array("$c.AutorizeInfo.Name", null),
            array("$c.AutorizeInfo.Name", 'Иван "Ваня" / Ivan'),
            array("$c.BillingInfo.Money", '250.5'),
            array($c, array('AutorizeInfo.Name', 'BillingInfo' => array('Money' => '7.5'))),
            array("$c.No.Such.Path", null),
            array("$c.AutorizeInfo.Name", null),
        );
    }

    public function testSendIsProcessAtTheServerAndForTheCaller(): void
    {
        $results = array();
        foreach (array('Process', 'Send') as $method) {
            $sim = new MikroBILL_Simulator(array('trace' => true));
            $api = TestEnv::api($sim->port);
            $replies = array();
            foreach (self::calls() as list($path, $value)) {
                $replies[] = $api->$method($path, $value);
            }
            $api->Close();
            $results[$method] = array($replies, $sim->tracedRequests(), $sim->counts());
        }
        list($replies, $requests, $counts) = $results['Process'];
        $this->assertSame(0, json_decode($replies[0], true)['code'], $replies[0]);
        $this->assertNotSame(0, json_decode($replies[5], true)['code'], 'the server refused the unknown path');
        $this->assertSame('{"return":"OK","code":0}', $replies[2]);
        $this->assertCount(count(self::calls()) + 1, $requests, 'every call plus DISCONNECT');
        $this->assertSame(1, $counts['connections']);
        $this->assertSame($results['Process'], $results['Send']);
    }

    public function testSendOnAFreshObjectConnectsAsProcessDoes(): void
    {
        $sim = new MikroBILL_Simulator();
        $reply = TestEnv::api($sim->port)->Send('API.GetClients');
        $this->assertSame(0, json_decode($reply, true)['code'], $reply);
        $this->assertSame(1, $sim->counts()['auths_granted']);
    }

    public function testSendReportsFailuresAsProcessDoes(): void
    {
        $port = TestEnv::closedPort();
        $api = TestEnv::api($port);
        foreach (array(array('API.GetClients', null), array("a\0b", null), array('API.X', "\xff")) as list($path, $value)) {
            $expected = $api->Process($path, $value);
            $this->assertNotSame(0, json_decode($expected, true)['code'], $expected);
            $this->assertSame($expected, $api->Send($path, $value));
        }
        $sim = new MikroBILL_Simulator();
        $wrong = TestEnv::api($sim->port, array('password' => 'wrong'));
        $expected = $wrong->Process('API.GetClients');
        $this->assertSame(101, json_decode($expected, true)['code'], $expected);
        $this->assertSame($expected, $wrong->Send('API.GetClients'));
    }

    public function testReadReturnsNullAtOnceAndLeavesTheConnectionInStep(): void
    {
        $sim = new MikroBILL_Simulator();
        $api = TestEnv::api($sim->port);
        $started = microtime(true);
        $this->assertNull($api->Read(), 'a fresh object');
        $this->assertSame(0, $sim->counts()['connections'], 'Read() opened no connection');

        $first = $api->Process(self::CLIENT . '.AutorizeInfo.Name');
        $this->assertSame(0, json_decode($first, true)['code'], $first);
        $this->assertNull($api->Read(), 'after a call, whose reply the call read');
        $this->assertNull($api->Read());
        $this->assertLessThan(1.0, microtime(true) - $started, 'Read() did not wait for TIMEOUT');

        $this->assertSame($first, $api->Process(self::CLIENT . '.AutorizeInfo.Name'), 'the next reply is its own');
        $counts = $sim->counts();
        $this->assertSame(1, $counts['connections']);
        $this->assertSame(2, $counts['requests']);
    }

    /** The demo keys' ciphertexts, as mcrypt gave them (McryptCipherOracleTest checks the rule). */
    public function testEncryptGivesTheRawCiphertext(): void
    {
        $api = TestEnv::api(TestEnv::closedPort());
        $this->assertSame('41bcc5f84b7b2102642c0ba43ec98d8a', bin2hex($api->Encrypt('hello')));
        $this->assertSame('e9c3ef8ab23453e6f0749cd636e7a88e', bin2hex($api->Encrypt('')), 'one block of zeros');
        $this->assertSame($api->Encrypt('hello'), $api->Encrypt("hello\0\0"), 'zero padding');
        $this->assertSame($api->Encrypt(''), $api->Encrypt(null));
        $this->assertSame($api->Encrypt('123'), $api->Encrypt(123));
        $this->assertSame($api->Encrypt('1'), $api->Encrypt(true));
    }

    /** @return array<string, array{0:string}> */
    public static function plaintexts(): array
    {
        mt_srand(17);
        $random = '';
        for ($i = 0; $i < 100000; $i++) {
            $random .= chr(mt_rand(0, 255));
        }
        return array(
            'empty' => array(''),
            'one byte' => array('x'),
            'one NUL' => array("\0"),
            '15 bytes' => array(str_repeat('a', 15)),
            '16 bytes' => array(str_repeat('b', 16)),
            '17 bytes' => array(str_repeat('c', 17)),
            'every byte' => array(implode('', array_map('chr', range(0, 255)))),
            'NULs inside and around' => array("\0\0a\0\0b\0\0"),
            'CP1251' => array("\xcf\xe0\xf0\xee\xeb\xfc"),
            'UTF-8' => array('Иван/Ivan'),
            '100 KB random' => array($random),
        );
    }

    /**
     * @dataProvider plaintexts
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('plaintexts')]
    public function testDecryptUndoesEncryptUpToTheTrimmedNuls(string $plaintext): void
    {
        $api = TestEnv::api(TestEnv::closedPort());
        $ciphertext = $api->Encrypt($plaintext);
        $this->assertIsString($ciphertext);
        $this->assertSame(max(1, (int)ceil(strlen($plaintext) / 16)) * 16, strlen($ciphertext));
        $this->assertSame(trim($plaintext, "\0"), $api->Decrypt($ciphertext));
        // A ciphertext cut short of whole blocks is zero-padded first, as mcrypt did.
        $cut = substr($ciphertext, 0, -5);
        $this->assertSame($api->Decrypt($cut . str_repeat("\0", 5)), $api->Decrypt($cut));
    }

    public function testTheCipherUsesThisClientsKeysAndTheConnectionStillWorks(): void
    {
        $sim = new MikroBILL_Simulator();
        $api = TestEnv::api($sim->port);
        $other = TestEnv::api($sim->port, array('key1' => 'AAECAwQFBgcICQoLDA0ODw=='));
        $this->assertNotSame($api->Encrypt('hello'), $other->Encrypt('hello'));
        $this->assertSame('hello', $other->Decrypt($other->Encrypt('hello')));
        $this->assertSame(0, $sim->counts()['connections'], 'the cipher sends nothing');
        $reply = $api->Process('API.GetClients');
        $this->assertSame(0, json_decode($reply, true)['code'], $reply);
        $this->assertSame('41bcc5f84b7b2102642c0ba43ec98d8a', bin2hex($api->Encrypt('hello')));
        $this->assertSame($reply, $api->Process('API.GetClients'));
    }

    public function testWithoutUsableKeysEncryptIsFalseAndDecryptEmptyAsWithMcrypt(): void
    {
        $port = TestEnv::closedPort();
        $clients = array(
            'a key that is not an AES key' => TestEnv::api($port, array('key1' => 'AAAA')),
            'an IV of the wrong size' => TestEnv::api($port, array('key2' => 'AAAA')),
            'an unserialized client' => unserialize(serialize(TestEnv::api($port))),
            // The cipher comes with the client's handle, which a host Process() refuses never gets.
            'a host Process() refuses' => new MikroBILL_API('ssl://127.0.0.1', $port, TestEnv::LOGIN, TestEnv::PASSWORD,
                TestEnv::KEY1, TestEnv::KEY2),
        );
        foreach ($clients as $what => $api) {
            $this->assertFalse($api->Encrypt('hello'), $what);
            $this->assertSame('', $api->Decrypt(str_repeat('x', 16)), $what);
        }
    }

    public function testAnArrayIsATypeErrorAsWithMcrypt(): void
    {
        $api = TestEnv::api(TestEnv::closedPort());
        foreach (array('Encrypt', 'Decrypt') as $method) {
            try {
                $api->$method(array('x'));
                $this->fail("$method took an array");
            } catch (TypeError $e) {
                $this->assertSame("MikroBILL_API::$method(): Argument #1 (\$txt) must be of type string, array given",
                    $e->getMessage());
            }
        }
    }
}
