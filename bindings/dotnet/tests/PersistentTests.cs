using System;
using System.IO;
using System.Threading;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    /// <summary>
    /// MikroBILLOptions.Persistent: Dispose and the finalizer leave the authenticated connection in
    /// the process's pool for the next client with the same identity. The simulator's
    /// --session-counts file shows how many sessions it granted and DISCONNECTs it answered.
    /// </summary>
    public class PersistentTests : IDisposable
    {
        private const string Path1 = "API.GetClients";
        private readonly string _counts = Path.Combine(Path.GetTempPath(), "mb-dotnet-counts-" + Guid.NewGuid().ToString("N") + ".json");
        private SimulatorDouble _sim;

        public PersistentTests()
        {
            MikroBILL_API.PoolClear();
            _sim = StartSim(0);
        }

        public void Dispose()
        {
            MikroBILL_API.PoolClear();
            _sim.Dispose();
            File.Delete(_counts);
        }

        private SimulatorDouble StartSim(int port)
        {
            return new SimulatorDouble(extraArgs: "--session-counts " + _counts, port: port);
        }

        private MikroBILL_API Client(MikroBILLOptions options)
        {
            return Client(options, "secret");
        }

        private MikroBILL_API Client(MikroBILLOptions options, string password)
        {
            return new MikroBILL_API("127.0.0.1", _sim.Port, "api", password, TestEnv.Key1, TestEnv.Key2, options);
        }

        private static MikroBILLOptions Persistent()
        {
            return new MikroBILLOptions { Persistent = true };
        }

        /// <summary>"auths/disconnects", once <paramref name="until"/> holds or after 5 s.</summary>
        private string Counts(Func<long, long, bool> until)
        {
            DateTime deadline = DateTime.UtcNow.AddSeconds(5);
            while (true)
            {
                string json = File.ReadAllText(_counts);
                long auths = Reply.Integer(json, "auths") ?? -1;
                long disconnects = Reply.Integer(json, "disconnects") ?? -1;
                if (until(auths, disconnects) || DateTime.UtcNow > deadline) return auths + "/" + disconnects;
                Thread.Sleep(20);
            }
        }

        private string Counts()
        {
            return Counts((a, d) => true);
        }

        private static long Stat(string name)
        {
            return Reply.Integer(MikroBILL_API.PoolStats(), name) ?? -1;
        }

        private void Page(MikroBILLOptions options)
        {
            using (var api = Client(options))
            {
                for (int i = 0; i < 3; i++)
                {
                    Assert.Equal(0L, Reply.Integer(api.Process(Path1), "code") ?? -1, "reply code");
                }
            }
        }

        [Test]
        public void PagesInARowShareOneSession()
        {
            for (int i = 0; i < 4; i++) Page(Persistent());
            Assert.Equal("1/0", Counts(), "auths/disconnects after four pages");
            Assert.Equal(1L, Stat("idle"), "idle");
            Assert.Equal(1L, MikroBILL_API.PoolClear(), "cleared");
            Assert.Equal("1/1", Counts((a, d) => d == 1), "clear says DISCONNECT");
        }

        [Test]
        public void OtherIdentitiesNeverGetThePooledSession()
        {
            Page(Persistent());
            Page(new MikroBILLOptions { Persistent = true, PersistentId = "second shop" });
            Page(new MikroBILLOptions { Persistent = true, IoTimeoutMs = 4321 });
            using (var wrong = Client(Persistent(), "not the password"))
            {
                Assert.True((Reply.Integer(wrong.Process(Path1), "code") ?? 0) != 0, "wrong password refused");
            }
            Assert.Equal("3/0", Counts(), "auths/disconnects");
            Assert.Equal(3L, Stat("identities"), "identities");
        }

        [Test]
        public void TheFinalizerAlsoReturnsTheConnection()
        {
            UseWithoutDispose();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Assert.Equal(1L, Stat("idle"), "idle after the finalizer");
            Page(Persistent());
            Assert.Equal("1/0", Counts(), "auths/disconnects");
        }

        /// <summary>On a thread of its own that ends, so no stack slot (Mono scans stacks
        /// conservatively) keeps the abandoned instance alive.</summary>
        private void UseWithoutDispose()
        {
            Exception failure = null;
            var maker = new Thread(() =>
            {
                try
                {
                    var api = Client(Persistent());
                    Assert.Equal(0L, Reply.Integer(api.Process(Path1), "code") ?? -1, "reply code");
                }
                catch (Exception e)
                {
                    failure = e;
                }
            });
            maker.Start();
            Assert.True(maker.Join(TimeSpan.FromSeconds(20)), "the abandoned instance was made");
            if (failure != null) throw failure;
        }

        [Test]
        public void WithoutPersistenceEachDisposeSaysDisconnect()
        {
            Page(null);
            Page(new MikroBILLOptions());
            Assert.Equal("2/2", Counts((a, d) => d == 2), "auths/disconnects");
        }

        [Test]
        public void BoundsAndIdleLifetime()
        {
            var options = new MikroBILLOptions { Persistent = true, PoolMaxIdle = 2 };
            var apis = new[] { Client(options), Client(options), Client(options) };
            foreach (var api in apis) Assert.True(api.CheckConnection(), "connected");
            foreach (var api in apis) api.Dispose();
            Assert.Equal(2L, Stat("idle"), "idle");
            Assert.Equal("3/1", Counts((a, d) => d == 1), "the third said DISCONNECT");
            MikroBILL_API.PoolClear();
            Page(new MikroBILLOptions { Persistent = true, PoolIdleTimeoutMs = 200 });
            Thread.Sleep(400);
            Assert.Equal(0L, Stat("idle"), "idle after the lifetime");
            // The stats are a pure read: the expired connection waits for the pool's next use.
            Assert.Equal(1L, Stat("expired"), "expired");
            Assert.Equal("4/3", Counts((a, d) => d == 3), "reading the stats said no DISCONNECT");
            Assert.Equal(0L, MikroBILL_API.PoolClear(), "none cleared within its lifetime");
            Assert.Equal("4/4", Counts((a, d) => d == 4), "expired one said DISCONNECT");
        }

        [Test]
        public void AServerRestartCostsAReconnectNotAFailedCall()
        {
            Page(Persistent());
            int port = _sim.Port;
            _sim.Dispose();
            _sim = StartSim(port);
            Page(Persistent());
            Assert.Equal("1/0", Counts(), "the new server granted one session");
        }

        [Test]
        public void BadPoolOptionsAreRefused()
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new MikroBILLOptions { PoolMaxIdle = -1 }, "PoolMaxIdle");
            Assert.Throws<ArgumentOutOfRangeException>(() => new MikroBILLOptions { PoolIdleTimeoutMs = 0 }, "PoolIdleTimeoutMs");
            Assert.Throws<ArgumentNullException>(() => new MikroBILLOptions { PersistentId = null }, "PersistentId");
        }
    }
}
