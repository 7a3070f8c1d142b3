<?php
/* $mysql_adr forms the old mysql_connect() accepted, split for mysqli. */

use PHPUnit\Framework\TestCase;

final class ParseAddressTest extends TestCase
{
    public static function addresses(): array
    {
        return array(
            'empty' => array('', array('localhost', null, null)),
            'host' => array('db.example', array('db.example', null, null)),
            'host:port' => array('127.0.0.1:3307', array('127.0.0.1', 3307, null)),
            'host:socket' => array('localhost:/run/mysqld/mysqld.sock', array('localhost', null, '/run/mysqld/mysqld.sock')),
            ':socket' => array(':/tmp/m.sock', array('localhost', null, '/tmp/m.sock')),
            'ipv6 bracket port' => array('[::1]:3308', array('::1', 3308, null)),
            'ipv6 bracket' => array('[::1]', array('::1', null, null)),
            'bare ipv6' => array('fe80::1', array('fe80::1', null, null)),
        );
    }

    /** @dataProvider addresses */
    #[\PHPUnit\Framework\Attributes\DataProvider('addresses')]
    public function testSplitsAddress(string $address, array $expected): void
    {
        $this->assertSame($expected, MikroBILL_Keys::parseAddress($address));
    }
}
