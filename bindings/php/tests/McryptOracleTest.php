<?php
/* The oracle client's cipher (mcrypt) against the protocol's published test vectors. */

use PHPUnit\Framework\TestCase;

final class McryptOracleTest extends TestCase
{
    public static function vectors(): array
    {
        return array(
            'disconnect' => array(TestEnv::KEY1, '{"path":"DISCONNECT","value":null}',
                '30000000173a0922c2f93b37bdaf8d1f4d556ff57c6f286a621752c8caf283a2b5b5050a7f98fdaa191e93cee72cc48a83408d62'),
            'getclients aes-256' => array(TestEnv::KEY1, '{"path":"API.GetClients","value":null}',
                '300000008913e2f286660a759620c6a1e0680c5fd42d2427355eefd4df9689364b50fe56e2a96f1fc6203d2672da278217e5af9f'),
            'getclients aes-128' => array('AAECAwQFBgcICQoLDA0ODw==', '{"path":"API.GetClients","value":null}',
                '300000004e9c4ae34aff9dbeab1c0d482d78fa82b6f375d588a45d9eef69c3c882a21a74fe5dd41fdd78f2796c43c9202fe11708'),
            'getclients aes-192' => array('AAECAwQFBgcICQoLDA0ODxAREhMUFRYX', '{"path":"API.GetClients","value":null}',
                '30000000203773cfc4cf9771bf27a45bb65041efed1177fd6c19752895ffa4d55ea8fc03b2cc345d8beaf37b8ab060ed9f12205c'),
            'cyrillic name set' => array(TestEnv::KEY1,
                json_encode(array('path' => 'API.Client.633824158637492.AutorizeInfo.Name', 'value' => 'Иван/Ivan')),
                '60000000cd564ee495445cbde90c46a92f0480060d8a7061af3598a68ed7c584caeaf7fb7d9fc9281f5925ae81e5ce365418d888c5cd42cb1bb3624e3cdc012c50019df4e0c0bcc5615253a980d538c2f352a5af7720ee890f9f91fffd159c7351d2ee55'),
        );
    }

    /** @dataProvider vectors */
    #[\PHPUnit\Framework\Attributes\DataProvider('vectors')]
    public function testMcryptFrameMatchesVector(string $key1, string $plaintext, string $frameHex): void
    {
        $cipher = mcrypt_encrypt(MCRYPT_RIJNDAEL_128, base64_decode($key1), $plaintext, MCRYPT_MODE_CBC,
            base64_decode(TestEnv::KEY2));
        $this->assertSame($frameHex, bin2hex(pack('I', strlen($cipher)) . $cipher));
    }
}
