using System;
using System.IO;
using System.Linq;
using System.Threading;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    public class ResourceTests : IDisposable
    {
        private const string MoneyPath = "API.Client.633824158637492.BillingInfo.Money";
        private const string Disconnect = "{\"path\":\"DISCONNECT\",\"value\":null}";
        // Bounds every wait below; the tests never measure time against it.
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
        private readonly SimulatorDouble _sim = new SimulatorDouble();

        public void Dispose()
        {
            _sim.Dispose();
        }

        private static int OpenFds()
        {
            return Directory.GetFileSystemEntries("/proc/self/fd").Length;
        }

        private static long RssKb()
        {
            string line = File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line.Substring(6).Trim().Split(' ')[0]);
        }

        private void CreateUseDispose(int count)
        {
            for (int i = 0; i < count; i++)
            {
                using (var api = _sim.Api())
                {
                    string reply = api.Process(MoneyPath);
                    if (Reply.ReturnText(reply) != "100.01") throw new AssertionException("instance " + i + " got " + reply);
                }
            }
        }

        [Test]
        public void ThousandInstancesLeakNoHandlesOrMemory()
        {
            // Warm up first: JIT, thread pool and the library's lazily created state are one-time costs.
            CreateUseDispose(50);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            int fdsBefore = OpenFds();
            long managedBefore = GC.GetTotalMemory(true);
            long rssBefore = RssKb();

            CreateUseDispose(1000);

            GC.Collect();
            GC.WaitForPendingFinalizers();
            int fdsAfter = OpenFds();
            long managedAfter = GC.GetTotalMemory(true);
            long rssAfter = RssKb();
            Assert.Equal(fdsBefore, fdsAfter, "open file descriptors");
            Assert.True(managedAfter <= managedBefore * 3 / 2, "managed heap " + managedBefore + " -> " + managedAfter);
            Assert.True(rssAfter <= rssBefore * 3 / 2, "RSS kB " + rssBefore + " -> " + rssAfter);
            int disconnects = _sim.Trace().Count(l => l == "{\"path\":\"DISCONNECT\",\"value\":null}");
            Assert.Equal(1050, disconnects, "every Dispose said DISCONNECT");
        }

        [Test]
        public void FinalizerReleasesUndisposedInstances()
        {
            int simSocketsIdle = _sim.OpenSockets();
            CreateUseDispose(5);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            int fdsBefore = OpenFds();
            AbandonConnectedInstances(100, null);
            Assert.True(OpenFds() >= fdsBefore + 100, "the abandoned instances hold their sockets");
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Assert.Equal(fdsBefore, OpenFds(), "sockets closed by the SafeHandle's release");
            // The simulator has read every closed connection to its end once it holds only its idle
            // sockets again; only then does the trace show all that was sent.
            _sim.WaitForOpenSockets(simSocketsIdle, Deadline);
            Assert.Equal(5, _sim.Trace().Count(l => l == Disconnect),
                "only the 5 disposed instances said DISCONNECT; finalized handles are discarded silently");
        }

        [Test]
        public void FinalizerDoesNotWaitForAHungServer()
        {
            // A 60 s io timeout: a finalizer that said DISCONNECT and waited for the reply would block
            // the finalizer thread 60 s per instance, three times the collector's bound below.
            var slow = new MikroBILLOptions { IoTimeoutMs = 60000 };
            int simSocketsIdle = _sim.OpenSockets();
            using (var disposed = new MikroBILL_API("127.0.0.1", _sim.Port, "api", "secret", TestEnv.Key1, TestEnv.Key2, slow))
            {
                Assert.True(disposed.CheckConnection(), "the disposed instance connected");
                AbandonConnectedInstances(3, slow);
                // Each connection was accepted (its login was answered), so the simulator holds it.
                Assert.Equal(simSocketsIdle + 4, _sim.OpenSockets(), "simulator sockets with 4 connections");

                bool collected;
                _sim.Suspend();
                try
                {
                    // On a worker thread, so that a finalizer blocked on the hung server fails the Join
                    // below instead of hanging the test run.
                    var collector = new Thread(() =>
                    {
                        GC.Collect();
                        GC.WaitForPendingFinalizers();
                    }) { IsBackground = true };
                    collector.Start();
                    collected = collector.Join(Deadline);
                }
                finally
                {
                    _sim.Resume();
                }
                Assert.True(collected, "GC.WaitForPendingFinalizers returned while the simulator was stopped");
                // The three abandoned connections were really closed: the resumed simulator reads each
                // to its end and drops it, leaving the disposed instance's connection.
                _sim.WaitForOpenSockets(simSocketsIdle + 1, Deadline);
                Assert.Equal(0, _sim.Trace().Count(l => l == Disconnect), "finalized instances said no DISCONNECT");
            }
            // Dispose waited for the server's answer to its DISCONNECT, so the trace holds it now.
            Assert.Equal(1, _sim.Trace().Count(l => l == Disconnect), "the disposed instance said DISCONNECT");
        }

        // The instances are made on a thread of their own that has ended before the caller collects:
        // Mono scans stacks conservatively, and a stale slot in a live frame could otherwise keep one
        // reachable.
        private void AbandonConnectedInstances(int count, MikroBILLOptions options)
        {
            Exception failure = null;
            var maker = new Thread(() =>
            {
                try
                {
                    for (int i = 0; i < count; i++)
                    {
                        var api = new MikroBILL_API("127.0.0.1", _sim.Port, "api", "secret", TestEnv.Key1, TestEnv.Key2, options);
                        Assert.True(api.CheckConnection(), "instance " + i + " connected");
                    }
                }
                catch (Exception e)
                {
                    failure = e;
                }
            });
            maker.Start();
            Assert.True(maker.Join(Deadline), "the abandoned instances were made");
            if (failure != null) throw failure;
        }
    }
}
