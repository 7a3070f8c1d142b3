using System;
using System.IO;
using System.Linq;

namespace MikroBILL.Tests
{
    public class ResourceTests : IDisposable
    {
        private const string MoneyPath = "API.Client.633824158637492.BillingInfo.Money";
        private readonly Sim _sim = new Sim();

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
                using (var api = _sim.Client())
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
            CreateUseDispose(5);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            int fdsBefore = OpenFds();
            AbandonConnectedInstances(100);
            Assert.True(OpenFds() >= fdsBefore + 100, "the abandoned instances hold their sockets");
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Assert.Equal(fdsBefore, OpenFds(), "sockets closed by the SafeHandle's release");
            int disconnects = _sim.Trace().Count(l => l == "{\"path\":\"DISCONNECT\",\"value\":null}");
            Assert.Equal(105, disconnects, "finalized handles said DISCONNECT");
        }

        // A separate method so no local keeps the instances reachable during the collection.
        private void AbandonConnectedInstances(int count)
        {
            for (int i = 0; i < count; i++)
            {
                var api = _sim.Client();
                Assert.True(api.CheckConnection(), "instance " + i + " connected");
            }
        }
    }
}
