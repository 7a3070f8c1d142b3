using System;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    /// <summary>The binding's test helper, MikroBILL.Testing.SimulatorDouble, used as an extension would.</summary>
    public sealed class SimulatorDoubleTests
    {
        [Test]
        public void AnUndocumentedPathIsServedByAStubWithAScenario()
        {
            const string stubs = "["
                + "{\"path\":\"API.Payments.*.Balance\",\"value\":null,\"return\":\"0\",\"scenario\":\"pay\",\"required_state\":\"Started\"},"
                + "{\"path\":\"API.Payments.*.Add\",\"value\":\"150\",\"scenario\":\"pay\",\"new_state\":\"Paid\"},"
                + "{\"path\":\"API.Payments.*.Balance\",\"value\":null,\"return\":\"150\",\"scenario\":\"pay\",\"required_state\":\"Paid\"}]";
            using (var sim = new SimulatorDouble(stubsJson: stubs))
            {
                using (var api = sim.Api())
                {
                    Assert.Equal("{\"return\":\"0\",\"code\":0}", api.Process("API.Payments.1.Balance"), "balance before");
                    Assert.Equal("{\"return\":\"OK\",\"code\":0}", api.Process("API.Payments.1.Add", "150"), "add");
                    Assert.Equal("{\"return\":\"150\",\"code\":0}", api.Process("API.Payments.1.Balance"), "balance after");
                }
                Assert.Equal(3L, sim.Count("requests"), "requests");
                Assert.Equal(1L, sim.Count("disconnects"), "disconnects");
                Assert.Contains("\"path\":\"API.Payments.1.Add\"", sim.Journal("API.Payments.*.*"), "journal");
            }
        }

        [Test]
        public void FaultsDatasetResetAndErrors()
        {
            using (var sim = new SimulatorDouble(datasetJson: "{\"clients\":[{\"GUID\":42,\"Name\":\"Tiny\",\"Money\":\"5\"}]}"))
            using (var api = sim.Api(new MikroBILLOptions { IoTimeoutMs = 1000 }))
            {
                long fault = sim.AddFault("{\"path\":\"API.GetClients\",\"action\":\"error\",\"code\":301,\"text\":\"busy\"}");
                Assert.Equal("{\"return\":\"busy\",\"code\":301}", api.Process("API.GetClients"), "error fault");
                sim.RemoveFault(fault);
                Assert.Equal("{\"return\":[42],\"code\":0}", api.Process("API.GetClients"), "after removal");
                api.Process("API.Client.42.BillingInfo.Money", "7.5");
                Assert.Contains("\"Money\":\"7.5\"", sim.ClientState("42"), "state after the set");
                sim.Reset();
                Assert.Contains("\"Money\":\"5\"", sim.ClientState("42"), "state after reset");
                sim.AddFault("{\"path\":\"API.Client.*.BillingInfo.Money\",\"action\":\"no_reply\"}");
                // Transport failures come back as the library's error JSON, as in PHP.
                Assert.Contains("\"code\":9001", api.Process("API.Client.42.BillingInfo.Money"), "no reply is a timeout");
                var missing = Assert.Throws<ControlApiException>(() => sim.ClientState("43"), "unknown client");
                Assert.Equal(404, missing.Status, "unknown client status");
            }
        }
    }
}
