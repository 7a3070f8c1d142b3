using System;
using System.Net;
using System.Net.Sockets;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    public class ErrorTests
    {
        private const string MoneyPath = "API.Client.633824158637492.BillingInfo.Money";

        [Test]
        public void WrongPasswordPassesTheServersCodeThrough()
        {
            using (var sim = new SimulatorDouble())
            using (var api = sim.Api(login: "api", password: "wrong"))
            {
                string reply = api.Process(MoneyPath);
                Assert.Equal(101, Reply.Code(reply), "server's auth rejection: " + reply);
                var fields = Reply.Object(reply);
                Assert.True(fields["return"] is string, "return is the server's text: " + reply);
                Assert.Equal((string)fields["return"], fields["result"] as string, "result, the original client's key");
                Assert.True(!api.CheckConnection(), "CheckConnection is false");
            }
        }

        [Test]
        public void ARejectedLoginReadsAsTheOriginalClientsReply()
        {
            using (var sim = new SimulatorDouble())
            {
                foreach (var account in new[] { new[] { "api", "wrong" }, new[] { "noapi", "secret" } })
                {
                    var original = Reply.Object(OriginalStyle.Reply(sim.Port, account[0], account[1], MoneyPath));
                    string ours;
                    using (var api = sim.Api(login: account[0], password: account[1]))
                    {
                        ours = api.Process(MoneyPath);
                    }
                    var fields = Reply.Object(ours);
                    Assert.Equal(original.Count, 2, "the original gives result and code");
                    Assert.Equal(((JsonNumber)original["code"]).Text, ((JsonNumber)fields["code"]).Text, "code");
                    Assert.Equal((string)original["result"], fields["result"] as string, "result: " + ours);
                }
            }
        }

        [Test]
        public void CashierWithoutApiRightIsRefused()
        {
            using (var sim = new SimulatorDouble())
            using (var api = sim.Api(login: "noapi", password: "secret"))
            {
                Assert.Equal(102, Reply.Code(api.Process(MoneyPath)), "no API right");
            }
        }

        [Test]
        public void WrongKeysGiveCode6()
        {
            using (var sim = new SimulatorDouble())
            using (var api = new MikroBILL_API("127.0.0.1", sim.Port, "api", "secret",
                "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", TestEnv.Key2))
            {
                string reply = api.Process(MoneyPath);
                Assert.Equal(6, Reply.Code(reply), "code: " + reply);
                Assert.Equal("Null response! Probably incorrect encryption keys!", Reply.Object(reply)["result"] as string, "PHP's text");
            }
        }

        [Test]
        public void ServerDownGivesErrno111()
        {
            int port;
            using (var sim = new SimulatorDouble())
            {
                port = sim.Port;
            }
            using (var api = new MikroBILL_API("127.0.0.1", port, "api", "secret", TestEnv.Key1, TestEnv.Key2))
            {
                string reply = api.Process(MoneyPath);
                Assert.Equal(111, Reply.Code(reply), "ECONNREFUSED: " + reply);
                Assert.Equal("Can`t connect!", Reply.Object(reply)["result"] as string, "PHP's text");
                Assert.True(!api.CheckConnection(), "offline");
            }
        }

        [Test]
        public void ServerRestartedOnTheSamePortIsReconnectedTransparently()
        {
            using (var first = new SimulatorDouble())
            using (var api = first.Api())
            {
                Assert.Equal("100.01", Reply.ReturnText(api.Process(MoneyPath)), "before the restart");
                first.Kill();
                using (var second = new SimulatorDouble(port: first.Port))
                {
                    Assert.Equal("100.01", Reply.ReturnText(api.Process(MoneyPath)), "first call after the restart");
                    Assert.Equal(1, second.Trace().Count, "the request reached the new server once");
                }
            }
        }

        [Test]
        public void ServerErrorRepliesPassThrough()
        {
            using (var sim = new SimulatorDouble())
            using (var api = sim.Api())
            {
                Assert.Equal(201, Reply.Code(api.Process("API.Client.633824158637492.NoSuchThing")), "unknown path");
                Assert.Equal(202, Reply.Code(api.Process("API.Client.1.AutorizeInfo.Name")), "unknown client");
                string invalid = api.ProcessJson(MoneyPath, "{not json");
                Assert.Equal(9005, Reply.Code(invalid), "library's own error for invalid JSON: " + invalid);
            }
        }

        [Test]
        public void InvalidSettingsThrowFromTheConstructor()
        {
            var badKey = Assert.Throws<MikroBILLException>(
                () => new MikroBILL_API("127.0.0.1", 7403, "api", "secret", "AAEC", TestEnv.Key2), "short key");
            Assert.Equal(9006L, badKey.Code, "invalid key code");
            Assert.Contains("libmikrobill error 9006: ", badKey.Message, "the message carries the code and the library's error text");
            Assert.Contains("CRYPTO_KEY_1", badKey.Message, "message says which key");
            var badPort = Assert.Throws<MikroBILLException>(
                () => new MikroBILL_API("127.0.0.1", 70000, "api", "secret", TestEnv.Key1, TestEnv.Key2), "port");
            Assert.Equal(9005L, badPort.Code, "invalid argument code");
            Assert.Throws<ArgumentNullException>(() => new MikroBILL_API("127.0.0.1", 7403, "api", "secret", null, TestEnv.Key2), "key1 required");
            Assert.Throws<ArgumentNullException>(() => new MikroBILL_API(null, 7403, "api", "secret", TestEnv.Key1, TestEnv.Key2), "host required");
            Assert.Throws<ArgumentOutOfRangeException>(() => new MikroBILLOptions { IoTimeoutMs = 0 }, "timeout >= 1");
            Assert.Throws<ArgumentOutOfRangeException>(() => new MikroBILLOptions { CallTimeoutMs = 0 }, "call timeout >= 1");
            Assert.Throws<ArgumentOutOfRangeException>(() => new MikroBILLOptions { MaxFrameBytes = 15 }, "frame >= 16");
        }

        [Test]
        public void MaxFrameBytesIsCappedBelowTheLargestDotNetString()
        {
            // 1 GiB - 1 MiB: a reply of that many bytes still fits a .NET string (at most 0x3FFFFFDF chars).
            Assert.Equal(1072693248L, MikroBILLOptions.MaxFrameBytesLimit, "the documented cap");
            Assert.True(MikroBILLOptions.MaxFrameBytesLimit < 0x3FFFFFDFL, "cap below the largest string length");
            var atCap = new MikroBILLOptions { MaxFrameBytes = MikroBILLOptions.MaxFrameBytesLimit };
            Assert.Equal(MikroBILLOptions.MaxFrameBytesLimit, atCap.MaxFrameBytes.Value, "the cap itself is accepted");
            foreach (long tooLarge in new[] { MikroBILLOptions.MaxFrameBytesLimit + 1, 1L << 30, (long)int.MaxValue + 1, long.MaxValue })
            {
                var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MikroBILLOptions { MaxFrameBytes = tooLarge },
                    "MaxFrameBytes " + tooLarge);
                Assert.Equal("MaxFrameBytes", e.ParamName, "the rejected option is named");
                Assert.Contains("at most 1072693248", e.Message, "the message gives the cap");
            }
            using (var sim = new SimulatorDouble())
            using (var api = new MikroBILL_API("127.0.0.1", sim.Port, "api", "secret", TestEnv.Key1, TestEnv.Key2, atCap))
            {
                Assert.Equal("100.01", Reply.ReturnText(api.Process(MoneyPath)), "the library takes the cap");
            }
        }

        [Test]
        public void MaxFrameOptionReachesTheLibrary()
        {
            using (var sim = new SimulatorDouble())
            using (var api = new MikroBILL_API("127.0.0.1", sim.Port, "api", "secret", TestEnv.Key1, TestEnv.Key2,
                new MikroBILLOptions { MaxFrameBytes = 16 }))
            {
                // The auth reply alone is longer than one 16-byte block.
                Assert.Equal(9003, Reply.Code(api.Process("API.GetClients")), "frame too large");
            }
            using (var sim = new SimulatorDouble())
            using (var api = new MikroBILL_API("127.0.0.1", sim.Port, "api", "secret", TestEnv.Key1, TestEnv.Key2,
                new MikroBILLOptions { MaxFrameBytes = 1 << 20, ConnectTimeoutMs = 2000, IoTimeoutMs = 2000, CallTimeoutMs = 4000 }))
            {
                Assert.Equal("100.01", Reply.ReturnText(api.Process(MoneyPath)), "generous options work");
            }
        }

        [Test]
        public void SilentServerGivesCode6AfterTheIoTimeout()
        {
            // A listener that accepts (kernel backlog) and never answers the auth message: like PHP,
            // no auth reply reads as wrong keys. Only the code is asserted, never the elapsed time.
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            try
            {
                int port = ((IPEndPoint)listener.LocalEndpoint).Port;
                using (var api = new MikroBILL_API("127.0.0.1", port, "api", "secret", TestEnv.Key1, TestEnv.Key2,
                    new MikroBILLOptions { IoTimeoutMs = 200 }))
                {
                    string reply = api.Process(MoneyPath);
                    Assert.Equal(6, Reply.Code(reply), "no auth reply: " + reply);
                }
            }
            finally
            {
                listener.Stop();
            }
        }

        [Test]
        public void DisposedInstanceThrowsObjectDisposed()
        {
            using (var sim = new SimulatorDouble())
            {
                var api = sim.Api();
                Assert.Equal("100.01", Reply.ReturnText(api.Process(MoneyPath)), "works before Dispose");
                api.Dispose();
                api.Dispose();
                Assert.Throws<ObjectDisposedException>(() => api.Process(MoneyPath), "Process");
                Assert.Throws<ObjectDisposedException>(() => api.CheckConnection(), "CheckConnection");
                Assert.Throws<ObjectDisposedException>(() => api.Close(), "Close");
                Assert.True(sim.Trace().Contains("{\"path\":\"DISCONNECT\",\"value\":null}"), "Dispose said DISCONNECT");
            }
        }
    }
}
