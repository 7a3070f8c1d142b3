<?php
/*
 * Replies a real core never sends, from the project's hostile peer (target/release/examples/
 * hostile-server, which misbehaves as the login names): each comes back as an error with its own
 * code, so the usual `json_decode($r)->code != 0` check of a kassa extension sees a failure,
 * never success. A reply that is not UTF-8 (a core answering in CP1251) is no failure: it comes
 * back byte for byte, as the original returned it.
 */

use PHPUnit\Framework\TestCase;

final class HostileRepliesTest extends TestCase
{
    private $process;
    private $stdout;
    /** @var int */
    private $pid;
    /** @var int */
    private $port;

    protected function setUp(): void
    {
        $binary = dirname(TestEnv::library()) . '/examples/hostile-server';
        if (!is_executable($binary)) {
            throw new RuntimeException("hostile-server not found at $binary (cargo build --release --examples)");
        }
        $this->process = proc_open(array($binary),
            array(0 => array('file', '/dev/null', 'r'), 1 => array('pipe', 'w'), 2 => array('file', '/dev/null', 'a')),
            $pipes);
        $this->pid = TestEnv::trackProcess($this->process, $binary);
        $this->stdout = $pipes[1];
        $line = rtrim((string)fgets($this->stdout));
        $this->assertMatchesRegularExpression('/^listening on 127\.0\.0\.1:\d+$/', $line);
        $this->port = (int)substr($line, strrpos($line, ':') + 1);
    }

    protected function tearDown(): void
    {
        proc_terminate($this->process, 9);
        fclose($this->stdout);
        proc_close($this->process);
        TestEnv::untrackProcess($this->pid);
    }

    private function reply(string $login, array $options = array())
    {
        $api = new MikroBILL_API('127.0.0.1', $this->port, $login, 'pw', TestEnv::KEY1, TestEnv::KEY2,
            $options + array('io_timeout_ms' => 1000));
        return json_decode($api->Process('API.GetClients'));
    }

    public function testAReplyThatIsNotUtf8ComesBackByteForByte(): void
    {
        $api = new MikroBILL_API('127.0.0.1', $this->port, 'not-utf8', 'pw', TestEnv::KEY1, TestEnv::KEY2,
            array('io_timeout_ms' => 1000));
        $this->assertSame("{\"return\":\"\xff\xfe\",\"code\":0}", $api->Process('API.GetClients'));
    }

    public function testATextReplyThatIsNotJsonIs9013WithTheTextInDetail(): void
    {
        $reply = $this->reply('not-json');
        $this->assertNotSame(0, $reply->code);
        $this->assertSame(MikroBILL_Code::REPLY_NOT_JSON, $reply->code);
        $this->assertSame('<b>Fatal error</b>: out of memory', $reply->detail);
    }

    public function testAReplyWithAnotherFrameRightBehindItIsOutOfStep(): void
    {
        $this->assertSame(MikroBILL_Code::OUT_OF_STEP, $this->reply('unsolicited')->code);
    }

    public function testATrickledReplyEndsAtCallTimeout(): void
    {
        $started = microtime(true);
        $reply = $this->reply('trickle', array('call_timeout_ms' => 800));
        $this->assertSame(MikroBILL_Code::TIMEOUT, $reply->code);
        $this->assertLessThan(2.0, microtime(true) - $started);
    }
}
