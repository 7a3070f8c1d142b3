using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    /// <summary>ProcessAsync / ProcessJsonAsync against the simulator: replies, turns on one connection,
    /// cancellation before the turn, while queued and while in flight on a hung server.</summary>
    public class AsyncTests
    {
        private const string MoneyPath = "API.Client.633824158637492.BillingInfo.Money";
        private const string NamePath = "API.Client.633824158637492.AutorizeInfo.Name";

        // Only a guard against a hang: the tasks below end long before it in a passing run.
        private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

        private static MikroBILL_API SlowClient(SimulatorDouble sim)
        {
            // An io timeout far beyond the guard: a task that ends within the guard did not wait for it.
            var options = new MikroBILLOptions { IoTimeoutMs = 120000 };
            return new MikroBILL_API("127.0.0.1", sim.Port, "api", "secret", TestEnv.Key1, TestEnv.Key2, options);
        }

        private static void WaitEnded(Task task, string what)
        {
            try
            {
                task.Wait(Guard);
            }
            catch (AggregateException)
            {
                // Inspected by the caller through the task's status.
            }
            Assert.True(task.IsCompleted, what + " ended within " + Guard.TotalSeconds + " s");
        }

        [Test]
        public void ProcessAsyncGivesTheRepliesProcessGives()
        {
            using (var sim = new SimulatorDouble())
            using (var api = sim.Api())
            {
                Assert.Equal(api.Process("API.GetClients"), api.ProcessAsync("API.GetClients").Result, "read");
                Assert.Equal(0L, Reply.Code(api.ProcessAsync(NamePath, "Иван / Ivan").Result), "set");
                Assert.Equal("Иван / Ivan", Reply.ReturnText(api.ProcessAsync(NamePath).Result), "read back");
                Assert.Equal(0L, Reply.Code(api.ProcessJsonAsync(MoneyPath, "250.25").Result), "raw JSON set");
                Assert.Equal("250.25", Reply.ReturnText(api.ProcessJsonAsync(MoneyPath, null).Result), "raw JSON read");
            }
        }

        [Test]
        public void ManyAsyncCallsOnOneInstanceShareOneConnection()
        {
            using (var sim = new SimulatorDouble())
            using (var api = sim.Api())
            {
                // The simulator's listeners (the API's and the control API's); the client connects lazily.
                int listeners = sim.OpenSockets();
                var tasks = Enumerable.Range(0, 20).Select(i => api.ProcessAsync(NamePath, "name " + i)).ToArray();
                Assert.True(Task.WaitAll(tasks, Guard), "all calls ended");
                foreach (var t in tasks) Assert.Equal(0L, Reply.Code(t.Result), "each set");
                Assert.Equal(listeners + 1, sim.OpenSockets(), "the listeners and one connection");
                var sent = sim.Trace().Where(l => l.Contains("name ")).ToList();
                Assert.Equal(20, sent.Count, "every request sent once");
                for (int i = 0; i < 20; i++)
                {
                    Assert.Equal(1, sent.Count(l => l.Contains("\"name " + i + "\"")), "request " + i);
                }
            }
        }

        [Test]
        public void ATokenCancelledBeforehandSendsNothing()
        {
            using (var sim = new SimulatorDouble())
            using (var api = sim.Api())
            {
                var cts = new CancellationTokenSource();
                cts.Cancel();
                Task<string> t = api.ProcessAsync(NamePath, "never sent", cts.Token);
                WaitEnded(t, "the task");
                Assert.True(t.IsCanceled, "Canceled, not " + t.Status);
                Assert.Equal("100.01", Reply.ReturnText(api.ProcessAsync(MoneyPath).Result), "the instance still works");
                Assert.True(!sim.Trace().Any(l => l.Contains("never sent")), "nothing was sent");
            }
        }

        [Test]
        public void CancellingACallInFlightOnAHungServerEndsItsTask()
        {
            using (var sim = new SimulatorDouble())
            using (var api = SlowClient(sim))
            {
                Assert.True(api.CheckConnection(), "connected before the server hangs");
                var cts = new CancellationTokenSource();
                sim.Suspend();
                Task<string> t;
                try
                {
                    t = api.ProcessAsync(MoneyPath, cts.Token);
                    Thread.Sleep(300);
                    Assert.True(!t.IsCompleted, "the call waits for the hung server");
                    cts.Cancel();
                    WaitEnded(t, "the cancelled task");
                }
                finally
                {
                    sim.Resume();
                }
                Assert.True(t.IsCanceled, "Canceled, not " + t.Status);
                // Whatever the hung server answers later, the next call gets its own reply.
                Assert.Equal("Иванов Иван Иванович", Reply.ReturnText(api.ProcessAsync(NamePath).Result), "next call");
                Assert.Equal(1, sim.Trace().Count(l => l.Contains("BillingInfo.Money")), "the cancelled request was not resent");
            }
        }

        [Test]
        public void ACallCancelledWhileQueuedIsNeverSent()
        {
            using (var sim = new SimulatorDouble())
            using (var api = SlowClient(sim))
            {
                Assert.True(api.CheckConnection(), "connected");
                var cts = new CancellationTokenSource();
                sim.Suspend();
                Task<string> first, queued;
                try
                {
                    first = api.ProcessAsync(MoneyPath);
                    queued = api.ProcessAsync(NamePath, "never sent", cts.Token);
                    Thread.Sleep(200);
                    cts.Cancel();
                    WaitEnded(queued, "the queued task");
                    Assert.True(queued.IsCanceled, "Canceled, not " + queued.Status);
                    Assert.True(!first.IsCompleted, "the first call still waits");
                }
                finally
                {
                    sim.Resume();
                }
                WaitEnded(first, "the first call");
                Assert.Equal("100.01", Reply.ReturnText(first.Result), "the first call's own reply");
                Assert.Equal("Иванов Иван Иванович", Reply.ReturnText(api.ProcessAsync(NamePath).Result), "name unchanged");
                Assert.True(!sim.Trace().Any(l => l.Contains("never sent")), "the queued request was not sent");
            }
        }

        [Test]
        public void ACancellationNeverReachesAnotherThreadsCall()
        {
            using (var sim = new SimulatorDouble())
            using (var api = SlowClient(sim))
            {
                Assert.True(api.CheckConnection(), "connected");
                var cts = new CancellationTokenSource();
                sim.Suspend();
                Task<string> blocking, waiting;
                try
                {
                    // A synchronous call in flight on another thread holds the handle; the async
                    // call has its turn (no other async call) and waits inside the library.
                    blocking = Task.Run(() => api.Process(MoneyPath));
                    Thread.Sleep(200);
                    waiting = api.ProcessAsync(NamePath, "never sent", cts.Token);
                    Thread.Sleep(200);
                    cts.Cancel();
                    Thread.Sleep(300);
                    Assert.True(!blocking.IsCompleted, "the synchronous call was not the one cancelled");
                }
                finally
                {
                    sim.Resume();
                }
                WaitEnded(blocking, "the synchronous call");
                Assert.Equal("100.01", Reply.ReturnText(blocking.Result), "the synchronous call's own reply");
                WaitEnded(waiting, "the cancelled task");
                Assert.True(waiting.IsCanceled, "Canceled, not " + waiting.Status);
                Assert.True(!sim.Trace().Any(l => l.Contains("never sent")), "the cancelled request was not sent");
                Assert.Equal("Иванов Иван Иванович", Reply.ReturnText(api.ProcessAsync(NamePath).Result), "name unchanged");
            }
        }

        [Test]
        public void ARejectedLoginHasReturnAndResultAsync()
        {
            using (var sim = new SimulatorDouble())
            using (var api = sim.Api(login: "api", password: "wrong"))
            {
                var reply = Reply.Object(api.ProcessAsync(MoneyPath).Result);
                Assert.Equal("101", ((JsonNumber)reply["code"]).Text, "code");
                Assert.True(reply["return"] is string, "return is the server's text");
                Assert.Equal((string)reply["return"], (string)reply["result"], "result is the same text");
            }
        }

        [Test]
        public void MistakesAndDisposalThrowAtTheCall()
        {
            using (var sim = new SimulatorDouble())
            {
                var api = sim.Api();
                Assert.Throws<ArgumentNullException>(() => api.ProcessAsync(null), "null path");
                Assert.Throws<ArgumentException>(() => api.ProcessAsync(MoneyPath, double.NaN), "NaN value");
                api.Dispose();
                Assert.Throws<ObjectDisposedException>(() => api.ProcessAsync(MoneyPath), "after Dispose");
            }
        }
    }
}
