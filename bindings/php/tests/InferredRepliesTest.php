<?php
/*
 * Replies where the protocol is only inferred, from a core that answers a little differently
 * from the simulator's defaults: batch paths echoed normalised (--batch-paths normalised) and
 * replies written in CP1251 (--reply-encoding cp1251). The shim passes every reply through as the
 * original does: no failure code, the bytes unchanged, and the connection stays in use.
 * (CompatibilityTest compares the same replies byte for byte with the original-style client's.)
 */

use PHPUnit\Framework\TestCase;

final class InferredRepliesTest extends TestCase
{
    const CLIENT = 'API.Client.633824158637492';
    /** The demo client's name, "Иванов Иван Иванович", as the default simulator escapes it. */
    const NAME_ESCAPED = '\u0418\u0432\u0430\u043d\u043e\u0432 \u0418\u0432\u0430\u043d \u0418\u0432\u0430\u043d\u043e\u0432\u0438\u0447';
    /** The same name in CP1251. */
    const NAME_CP1251 = "\xc8\xe2\xe0\xed\xee\xe2 \xc8\xe2\xe0\xed \xc8\xe2\xe0\xed\xee\xe2\xe8\xf7";

    /** A batch read, and a batch set; each reply of the default simulator, for comparison. */
    private static function batches(): array
    {
        return array(
            'read' => array(self::CLIENT, array('AutorizeInfo.Name', 'BillingInfo.Money', 'AutorizeInfo.Accounts')),
            'set' => array(self::CLIENT, array('BillingInfo' => array('Money' => '7.5'),
                'AutorizeInfo' => array('Accounts' => array('28236356495083' => array('IP' => '10.0.0.9'))))),
        );
    }

    public function testBatchRepliesWithNormalisedPathsPassThrough(): void
    {
        // Each simulator runs as long as its object lives.
        $default = new MikroBILL_Simulator();
        $exact = TestEnv::api($default->port);
        $sim = new MikroBILL_Simulator(array('args' => array('--batch-paths', 'normalised')));
        $api = TestEnv::api($sim->port);
        foreach (self::batches() as $what => list($path, $value)) {
            $expected = json_decode($exact->Process($path, $value), true);
            $this->assertSame(0, $expected[0]['code'] ?? null, "$what on the default simulator");
            $text = $api->Process($path, $value);
            $reply = json_decode($text, true);
            $this->assertIsArray($reply, "$what: $text");
            $this->assertCount(count($expected), $reply, "$what: $text");
            foreach ($reply as $i => $leaf) {
                $this->assertSame(0, $leaf['code'], "$what: $text");
                $this->assertSame($expected[$i]['return'], $leaf['return'], "$what: $text");
                // The switch is on: no echoed path is the request's own text.
                $this->assertNotSame($expected[$i]['path'], $leaf['path'], "$what: $text");
                $this->assertStringStartsNotWith($path . '.', $leaf['path'], "$what: $text");
            }
        }
        // The set was applied, and the connection that carried it is still in step.
        $this->assertSame('{"return":"7.5","code":0}', $api->Process(self::CLIENT . '.BillingInfo.Money'));
        $this->assertSame('{"return":"10.0.0.9","code":0}',
            $api->Process(self::CLIENT . '.AutorizeInfo.Accounts.28236356495083.IP'));
        $this->assertSame(1, $sim->counts()['connections']);
    }

    public function testACp1251ReplyIsHandedOverAsItsBytes(): void
    {
        $default = new MikroBILL_Simulator();
        $exact = TestEnv::api($default->port)->Process(self::CLIENT . '.AutorizeInfo.Name');
        $this->assertStringContainsString(self::NAME_ESCAPED, $exact);
        $expected = str_replace(self::NAME_ESCAPED, self::NAME_CP1251, $exact);

        $sim = new MikroBILL_Simulator(array('args' => array('--reply-encoding', 'cp1251')));
        $api = TestEnv::api($sim->port);
        $reply = $api->Process(self::CLIENT . '.AutorizeInfo.Name');
        $this->assertSame(bin2hex($expected), bin2hex($reply));
        $this->assertNotSame(1, preg_match('//u', $reply), 'the reply is not UTF-8');
        // As the original's reply, it decodes once the caller converts it to UTF-8.
        $this->assertSame('{"return":"Иванов Иван Иванович","code":0}', self::cp1251ToUtf8($reply));
        $this->assertSame($reply, $api->Send(self::CLIENT . '.AutorizeInfo.Name'), 'the connection is in step');
        $this->assertSame(1, $sim->counts()['connections']);
    }

    /** CP1251 to UTF-8 for the letters used here, without mbstring or iconv (not in every root). */
    private static function cp1251ToUtf8(string $bytes): string
    {
        $out = '';
        foreach (str_split($bytes) as $byte) {
            $b = ord($byte);
            if ($b < 0x80) {
                $out .= $byte;
            } elseif ($b >= 0xc0) {
                // А..я are U+0410..U+044F in CP1251's order.
                $code = 0x410 + ($b - 0xc0);
                $out .= chr(0xc0 | ($code >> 6)) . chr(0x80 | ($code & 0x3f));
            } else {
                throw new LogicException(sprintf('byte %02x is not a letter А..я', $b));
            }
        }
        return $out;
    }
}
