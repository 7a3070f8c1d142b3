using System;
using System.Collections.Generic;
using System.Threading;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    public class ConcurrencyTests : IDisposable
    {
        // Distinct properties with distinct values, so a reply delivered to the wrong caller shows.
        private static readonly string[][] Properties =
        {
            new[] { "API.Client.633824158637492.AutorizeInfo.Name", "Иванов Иван Иванович" },
            new[] { "API.Client.633824158637492.BillingInfo.Money", "100.01" },
            new[] { "API.Client.633824158637492.BillingInfo.Tariff", "Базовый 100" },
            new[] { "API.Client.633824158637492.BillingInfo.Group", "Физлица" },
            new[] { "API.Client.633824158637492.BillingInfo.DefaultInterface", "ether1" },
            new[] { "API.Client.633824158637492.StatusInfo.CurrentSpeedLimitIn", "102400" },
            new[] { "API.Client.633824158637492.PersonalDataInfo.Address", "г. Москва, ул. Ленина, д. 1, кв. 2" },
            new[] { "API.Client.633824158637492.PersonalDataInfo.MobileTel", "+79001234567" },
            new[] { "API.Client.633824158637492.PersonalDataInfo.Field.1.FieldValue", "Д-0001" },
            new[] { "API.Client.633824158637492.PersonalDataInfo.Field.2.FieldValue", "4510 123456" },
            new[] { "API.Client.633824158637492.AutorizeInfo.Accounts.28236356495083.IP", "1.1.1.1" },
            new[] { "API.Client.633824158637492.AutorizeInfo.Accounts.28236356495083.MAC", "AA:AA:AA:AA:AA:AA" },
            new[] { "API.Client.633824158637492.AutorizeInfo.Accounts.28236356495083.Login", "ivanov" },
            new[] { "API.Client.633824158637492.AutorizeInfo.Accounts.28236356495083.PPP_IP", "10.0.0.1" },
            new[] { "API.Client.9527563927532953.AutorizeInfo.Name", "Петров Пётр Петрович" },
            new[] { "API.Client.9527563927532953.BillingInfo.Money", "-15.50" },
            new[] { "API.Client.9527563927532953.AutorizeInfo.Accounts.835354904534456.IP", "192.168.1.20" },
            new[] { "API.Client.9527563927532953.AutorizeInfo.Accounts.835354904534457.IP", "192.168.1.21" },
            new[] { "API.Client.9527563927532953.AutorizeInfo.Accounts.835354904534457.Login", "petrov2" },
            new[] { "API.Client.4611686018427387905.AutorizeInfo.Name", "Сидорова Анна" },
        };

        private readonly SimulatorDouble _sim = new SimulatorDouble();

        public void Dispose()
        {
            _sim.Dispose();
        }

        [Test]
        public void SixteenThreadsShareOneInstance()
        {
            const int threads = 16;
            const int calls = 50;
            var failures = new List<string>();
            int done = 0;
            using (var api = _sim.Api())
            {
                var workers = new List<Thread>();
                for (int t = 0; t < threads; t++)
                {
                    int id = t;
                    var worker = new Thread(() =>
                    {
                        for (int i = 0; i < calls; i++)
                        {
                            string[] prop = Properties[(id * 7 + i) % Properties.Length];
                            try
                            {
                                string reply = api.Process(prop[0]);
                                string got = Reply.ReturnText(reply);
                                if (got != prop[1])
                                {
                                    lock (failures) failures.Add(prop[0] + " got " + reply);
                                }
                            }
                            catch (Exception e)
                            {
                                lock (failures) failures.Add(prop[0] + " threw " + e.Message);
                            }
                            Interlocked.Increment(ref done);
                        }
                    });
                    workers.Add(worker);
                    worker.Start();
                }
                foreach (Thread w in workers) w.Join();
            }
            Assert.Equal(threads * calls, done, "calls made");
            Assert.Equal(0, failures.Count, "mismatched replies: " + string.Join("; ", failures.GetRange(0, Math.Min(3, failures.Count))) + "; " + _sim.Status);
            Assert.Equal(threads * calls, _sim.Trace().FindAll(l => l.StartsWith("{\"path\":\"API.", StringComparison.Ordinal)).Count,
                "each request reached the server exactly once");
        }

        [Test]
        public void DisposeWhileOtherThreadsCallIsSafe()
        {
            const int threads = 8;
            var failures = new List<string>();
            int ok = 0;
            int disposedSeen = 0;
            var warmedUp = new CountdownEvent(threads);
            var api = _sim.Api();
            var workers = new List<Thread>();
            for (int t = 0; t < threads; t++)
            {
                int id = t;
                var worker = new Thread(() =>
                {
                    int mine = 0;
                    while (true)
                    {
                        string[] prop = Properties[(id + mine) % Properties.Length];
                        try
                        {
                            string got = Reply.ReturnText(api.Process(prop[0]));
                            if (got != prop[1])
                            {
                                lock (failures) failures.Add(prop[0] + " got " + got);
                            }
                            Interlocked.Increment(ref ok);
                        }
                        catch (ObjectDisposedException)
                        {
                            Interlocked.Increment(ref disposedSeen);
                            if (mine < 5) warmedUp.Signal();
                            return;
                        }
                        catch (Exception e)
                        {
                            lock (failures) failures.Add(prop[0] + " threw " + e.GetType().Name + ": " + e.Message);
                            if (mine < 5) warmedUp.Signal();
                            return;
                        }
                        if (++mine == 5) warmedUp.Signal();
                    }
                });
                workers.Add(worker);
                worker.Start();
            }
            // Dispose once every thread has made calls of its own, so the race is real.
            warmedUp.Wait();
            api.Dispose();
            foreach (Thread w in workers) w.Join();
            Assert.Equal(0, failures.Count, "failures: " + string.Join("; ", failures) + "; " + _sim.Status);
            Assert.Equal(threads, disposedSeen, "every thread ended with ObjectDisposedException");
            Assert.True(ok >= threads * 5, "calls before Dispose: " + ok);
            Assert.True(_sim.Trace().Contains("{\"path\":\"DISCONNECT\",\"value\":null}"), "handle closed with DISCONNECT");
        }
    }
}
