<?php
/*
 * The shim's Encrypt() and Decrypt() against the original's own, which are mcrypt calls:
 *   Encrypt($txt) = mcrypt_encrypt(MCRYPT_RIJNDAEL_128, KEY1, $txt, MCRYPT_MODE_CBC, KEY2)
 *   Decrypt($txt) = trim(mcrypt_decrypt(MCRYPT_RIJNDAEL_128, KEY1, $txt, MCRYPT_MODE_CBC, KEY2), "\x00")
 * for AES-128, -192 and -256 keys and inputs of every kind: empty, binary, NULs at either end,
 * lengths around the block size, lengths that are not whole blocks (as ciphertext too), large.
 * And the original's Read() when no reply comes, with the OriginalStyleClient: NULL, after the
 * read timeout, which the shim's Read() returns at once.
 * Host only: mcrypt (php8.2-mcrypt) is not in the Debian roots.
 */

use PHPUnit\Framework\TestCase;

final class McryptCipherOracleTest extends TestCase
{
    /** @return array<string, array{0:string}> */
    public static function keys(): array
    {
        return array(
            'aes-128' => array('AAECAwQFBgcICQoLDA0ODw=='),
            'aes-192' => array('AAECAwQFBgcICQoLDA0ODxAREhMUFRYX'),
            'aes-256' => array(TestEnv::KEY1),
        );
    }

    /** Inputs used both as plaintext and as ciphertext. */
    private static function inputs(): array
    {
        mt_srand(2026);
        $inputs = array('', 'hello', "\0", "\0\0\0", "\0hello\0", "a\0b", str_repeat("\0", 16), str_repeat("\0", 33),
            implode('', array_map('chr', range(0, 255))), "\xcf\xe0\xf0\xee\xeb\xfc", 'Иван/Ivan',
            '{"path":"API.GetClients","value":null}');
        foreach (array(1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 1000, 65536, 1048577) as $length) {
            $inputs[] = self::bytes($length);
        }
        for ($i = 0; $i < 200; $i++) {
            $bytes = '';
            for ($n = mt_rand(0, 80); $n > 0; $n--) {
                // NULs often, so that some inputs start or end with them.
                $bytes .= mt_rand(0, 3) === 0 ? "\0" : chr(mt_rand(0, 255));
            }
            $inputs[] = $bytes;
        }
        return $inputs;
    }

    /**
     * @dataProvider keys
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('keys')]
    public function testEncryptIsMcryptEncrypt(string $key1): void
    {
        $api = TestEnv::api(TestEnv::closedPort(), array('key1' => $key1));
        foreach (self::inputs() as $i => $input) {
            $this->assertSame(bin2hex(self::mcryptEncrypt($key1, $input)), bin2hex($api->Encrypt($input)),
                "input $i of " . strlen($input) . ' bytes');
        }
    }

    /**
     * @dataProvider keys
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('keys')]
    public function testDecryptIsTrimmedMcryptDecrypt(string $key1): void
    {
        $api = TestEnv::api(TestEnv::closedPort(), array('key1' => $key1));
        foreach (self::inputs() as $i => $input) {
            $this->assertSame(bin2hex(self::mcryptDecrypt($key1, $input)), bin2hex($api->Decrypt($input)),
                "ciphertext $i of " . strlen($input) . ' bytes');
            $sealed = self::mcryptEncrypt($key1, $input);
            $this->assertSame(bin2hex(trim($input, "\0")), bin2hex($api->Decrypt($sealed)), "mcrypt's ciphertext of input $i");
        }
    }

    public function testTheDemoKeysVectorsAreMcrypts(): void
    {
        $this->assertSame('41bcc5f84b7b2102642c0ba43ec98d8a', bin2hex(self::mcryptEncrypt(TestEnv::KEY1, 'hello')));
        $this->assertSame('e9c3ef8ab23453e6f0749cd636e7a88e', bin2hex(self::mcryptEncrypt(TestEnv::KEY1, '')));
    }

    /** What mcrypt did with keys it could not use: Encrypt false, Decrypt (trim of false) ''. */
    public function testUnusableKeysFailAsMcryptDid(): void
    {
        $this->assertFalse(@mcrypt_encrypt(MCRYPT_RIJNDAEL_128, base64_decode('AAAA'), 'x', MCRYPT_MODE_CBC,
            base64_decode(TestEnv::KEY2)));
        $this->assertSame('', trim((string)@mcrypt_decrypt(MCRYPT_RIJNDAEL_128, base64_decode('AAAA'), 'x', MCRYPT_MODE_CBC,
            base64_decode(TestEnv::KEY2)), "\0"));
        $api = TestEnv::api(TestEnv::closedPort(), array('key1' => 'AAAA'));
        $this->assertFalse($api->Encrypt('x'));
        $this->assertSame('', $api->Decrypt('x'));
    }

    /**
     * The original's Read() after its call's reply was read: no frame comes, and it returns NULL
     * once the read timeout passes (1 s here instead of TIMEOUT's 5). The shim returns the same
     * NULL without waiting.
     */
    public function testReadWithNoReplyOwedIsTheOriginalsNull(): void
    {
        $sim = new MikroBILL_Simulator();
        $orig = new OriginalStyleClient('127.0.0.1', $sim->port, TestEnv::LOGIN, TestEnv::PASSWORD, TestEnv::KEY1,
            TestEnv::KEY2, 1);
        $reply = $orig->Process('API.GetClients');
        $this->assertSame(0, json_decode($reply, true)['code'], $reply);
        $started = microtime(true);
        $origRead = $orig->Read();
        $waited = microtime(true) - $started;
        $this->assertNull($origRead);
        $this->assertGreaterThanOrEqual(0.9, $waited, 'the original waited for its read timeout');
        $this->assertSame($reply, $orig->Process('API.GetClients'), 'and stayed in step');
        $orig->Close();

        $shim = TestEnv::api($sim->port);
        $this->assertSame($reply, $shim->Process('API.GetClients'));
        $started = microtime(true);
        $this->assertSame($origRead, $shim->Read());
        $this->assertLessThan(0.5, microtime(true) - $started);
    }

    /** $length bytes from mt_rand, so that a failure repeats. */
    private static function bytes(int $length): string
    {
        $bytes = '';
        while (strlen($bytes) < $length) {
            $bytes .= pack('n', mt_rand(0, 0xffff));
        }
        return substr($bytes, 0, $length);
    }

    private static function mcryptEncrypt(string $key1, string $plaintext): string
    {
        return mcrypt_encrypt(MCRYPT_RIJNDAEL_128, base64_decode($key1), $plaintext, MCRYPT_MODE_CBC,
            base64_decode(TestEnv::KEY2));
    }

    private static function mcryptDecrypt(string $key1, string $ciphertext): string
    {
        return trim(mcrypt_decrypt(MCRYPT_RIJNDAEL_128, base64_decode($key1), $ciphertext, MCRYPT_MODE_CBC,
            base64_decode(TestEnv::KEY2)), "\0");
    }
}
