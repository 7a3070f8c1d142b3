using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    // A core that answers a little differently from the simulator's defaults: batch paths echoed
    // normalised (--batch-paths normalised) and replies in CP1251 (--reply-encoding cp1251). The
    // binding passes the first through as the core's reply; the second is not UTF-8, so the text
    // methods throw MikroBILLReplyEncodingException holding the bytes, and ProcessBytes returns them.
    public class DialectTests
    {
        private const string Ivanov = "633824158637492";
        private const string IvanovAccount = "28236356495083";
        private const string IvanovName = "\u0418\u0432\u0430\u043d\u043e\u0432 \u0418\u0432\u0430\u043d \u0418\u0432\u0430\u043d\u043e\u0432\u0438\u0447";
        private const string Accounts = "API.Client." + Ivanov + ".AutorizeInfo.Accounts";
        private const string NamePath = "API.Client." + Ivanov + ".AutorizeInfo.Name";

        // The paths the simulator echoes for Ivanov's account's IP and MAC: Client as Clients, a
        // leading zero on each number, the last segment's letter case swapped.
        private const string EchoedAccount = "API.Clients.0" + Ivanov + ".AutorizeInfo.Accounts.0" + IvanovAccount;

        [Test]
        public void BatchSetAndReadAgainstNormalisedPathsGiveTheCoresReply()
        {
            using (var sim = new SimulatorDouble(extraArgs: "--batch-paths normalised"))
            using (var api = sim.Api())
            {
                var set = new Dictionary<string, object>
                {
                    { IvanovAccount, new Dictionary<string, string> { { "IP", "192.168.25.110" }, { "MAC", "aa:bb:cc:dd:ee:ff" } } },
                };
                Assert.Equal("[{\"return\":\"OK\",\"code\":0,\"path\":\"" + EchoedAccount + ".ip\"},"
                    + "{\"return\":\"OK\",\"code\":0,\"path\":\"" + EchoedAccount + ".mac\"}]",
                    api.Process(Accounts, set), "the batch set's reply, passed through");
                var read = new Dictionary<string, object> { { IvanovAccount, new[] { "IP", "MAC" } } };
                Assert.Equal("[{\"return\":\"192.168.25.110\",\"code\":0,\"path\":\"" + EchoedAccount + ".ip\"},"
                    + "{\"return\":\"aa:bb:cc:dd:ee:ff\",\"code\":0,\"path\":\"" + EchoedAccount + ".mac\"}]",
                    api.Process(Accounts, read), "the batch read's reply, passed through on the same connection");
                Assert.Equal(1L, sim.Count("connections"), "no reply made the binding drop the connection");
            }
        }

        [Test]
        public void ACyrillicNameFromACp1251CoreIsServedAsBytes()
        {
            using (var sim = new SimulatorDouble(extraArgs: "--reply-encoding cp1251"))
            using (var api = sim.Api())
            {
                byte[] expected = Cp1251("{\"return\":\"" + IvanovName + "\",\"code\":0}");
                Assert.Equal(Hex(expected), Hex(api.ProcessBytes(NamePath)), "ProcessBytes: the core's bytes");
                Assert.Equal(Hex(expected), Hex(api.ProcessJsonBytes(NamePath, null)), "ProcessJsonBytes: the core's bytes");

                var e = Assert.Throws<MikroBILLReplyEncodingException>(() => api.Process(NamePath), "Process");
                Assert.Equal(Hex(expected), Hex(e.Reply), "the exception holds the core's bytes");
                Assert.Contains("ProcessBytes", e.Message, "the message names the way to the bytes");
                Assert.Equal(3, sim.Trace().Count, "each read sent once, none resent");

                // A set answered "OK" reads as text; the name it set comes back in CP1251.
                string renamed = "\u041f\u0451\u0442\u0440 \u0401";
                Assert.Equal("OK", Reply.ReturnText(api.Process(NamePath, renamed)), "set a Cyrillic name");
                Assert.Equal(Hex(Cp1251("{\"return\":\"" + renamed + "\",\"code\":0}")), Hex(api.ProcessBytes(NamePath)), "the name set, in CP1251");
                // ProcessBytes sends a value exactly as Process does.
                Assert.Equal(Hex(Encoding.ASCII.GetBytes("{\"return\":\"OK\",\"code\":0}")), Hex(api.ProcessBytes(NamePath, renamed)), "set through ProcessBytes");
                List<string> trace = sim.Trace();
                Assert.Equal(trace[trace.Count - 3], trace[trace.Count - 1], "the same request bytes from Process and ProcessBytes");

                // An ASCII reply is UTF-8 too: the text methods serve it.
                Assert.Equal("100.01", Reply.ReturnText(api.Process("API.Client." + Ivanov + ".BillingInfo.Money")), "ASCII reply as text");
            }
        }

        [Test]
        public void AnAsyncReadFromACp1251CoreFailsItsTaskWithTheBytes()
        {
            using (var sim = new SimulatorDouble(extraArgs: "--reply-encoding cp1251"))
            using (var api = sim.Api())
            {
                Task<string> read = api.ProcessAsync(NamePath);
                var e = Assert.Throws<AggregateException>(() => read.Wait(), "the task faults");
                var inner = e.InnerException as MikroBILLReplyEncodingException;
                Assert.True(inner != null, "faulted with MikroBILLReplyEncodingException, not " + e.InnerException);
                Assert.Equal(Hex(Cp1251("{\"return\":\"" + IvanovName + "\",\"code\":0}")), Hex(inner.Reply), "the core's bytes");
            }
        }

        // CP1251 for ASCII and the Russian alphabet (А..я at 0xC0..0xFF, Ё 0xA8, ё 0xB8): Mono has no
        // CP1251 without its I18N assemblies, and a table kept here checks the simulator independently.
        private static byte[] Cp1251(string text)
        {
            return text.Select(c => c < 0x80 ? (byte)c : c >= '\u0410' && c <= '\u044f' ? (byte)(c - 0x410 + 0xC0)
                : c == '\u0401' ? (byte)0xA8 : c == '\u0451' ? (byte)0xB8 : Fail(c)).ToArray();
        }

        private static byte Fail(char c)
        {
            throw new ArgumentException("no CP1251 byte for U+" + ((int)c).ToString("X4") + " in this table");
        }

        private static string Hex(byte[] bytes) => BitConverter.ToString(bytes);
    }
}
