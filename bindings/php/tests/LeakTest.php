<?php
/*
 * 1,000 client objects, each connecting, asking and being destroyed, must leave no file
 * descriptors and no memory behind: a leaked handle keeps its socket open, a leaked reply
 * string grows the heap. Bounds are ratios and counts, never times.
 */

use PHPUnit\Framework\TestCase;

final class LeakTest extends TestCase
{
    private static function openFds(): int
    {
        return count(scandir('/proc/self/fd')) - 2;
    }

    private static function rssKb(): int
    {
        preg_match('/^VmRSS:\s+(\d+) kB/m', file_get_contents('/proc/self/status'), $m);
        return (int)$m[1];
    }

    private static function cycle(int $port, int $count, string $expected): void
    {
        for ($i = 0; $i < $count; $i++) {
            $api = TestEnv::api($port);
            $reply = $api->Process('API.GetClients');
            if ($reply !== $expected) {
                throw new RuntimeException("iteration $i: unexpected reply $reply");
            }
            $api = null; // __destruct -> mb_discard
        }
    }

    public function testThousandObjectsLeakNeitherFdsNorMemory(): void
    {
        $sim = new MikroBILL_Simulator();
        $expected = TestEnv::api($sim->port)->Process('API.GetClients');
        // Warm-up: allocator arenas, library statics and PHP caches settle first.
        self::cycle($sim->port, 100, $expected);
        gc_collect_cycles();
        // PHP heap last: the first rssKb() call itself caches its compiled regex.
        $fds = self::openFds();
        $rss = self::rssKb();
        $php = memory_get_usage();

        self::cycle($sim->port, 1000, $expected);
        gc_collect_cycles();
        // Measure everything before asserting: PHPUnit's first assertions autoload classes.
        $phpGrowth = memory_get_usage() - $php;
        $rssRatio = self::rssKb() / $rss;
        $fdsAfter = self::openFds();

        $this->assertSame($fds, $fdsAfter, 'file descriptors leaked');
        $this->assertLessThan(16 * 1024, $phpGrowth, 'PHP heap grew');
        // A per-object leak of even one socket buffer or client (~KBs) x 1000 breaks this ratio.
        $this->assertLessThan(1.15, $rssRatio, 'resident memory grew');
    }

    public function testThousandLargeRepliesOnOneObjectAreFreed(): void
    {
        // ~100 KB per reply: unfreed reply strings would add ~100 MB over 1,000 calls.
        $sim = new MikroBILL_Simulator(array('args' => array('--generate', '6000')));
        $api = TestEnv::api($sim->port);
        $first = $api->Process('API.GetClients');
        $this->assertGreaterThan(90000, strlen($first));
        $this->assertSame(0, json_decode($first, true)['code']);
        for ($i = 0; $i < 100; $i++) {
            $api->Process('API.GetClients');
        }
        $this->assertSame($first, $api->Process('API.GetClients')); // loads the assertion classes before measuring
        $rss = self::rssKb();
        $php = memory_get_usage();
        for ($i = 0; $i < 1000; $i++) {
            $this->assertSame($first, $api->Process('API.GetClients'));
        }
        $phpGrowth = memory_get_usage() - $php;
        $rssRatio = self::rssKb() / $rss;
        $this->assertLessThan(16 * 1024, $phpGrowth, 'PHP heap grew');
        $this->assertLessThan(1.5, $rssRatio, 'resident memory grew (reply strings not freed?)');
    }
}
