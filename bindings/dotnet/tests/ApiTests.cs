using System;
using System.Collections.Generic;
using System.Linq;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    // The manual's examples from protocol.md, against the simulator's built-in demo dataset.
    public class ApiTests : IDisposable
    {
        private const string Ivanov = "633824158637492";
        private const string Petrov = "9527563927532953";
        private const string Sidorova = "4611686018427387905";
        private const string IvanovAccount = "28236356495083";
        private const string PetrovAccount = "835354904534456";

        private readonly SimulatorDouble _sim = new SimulatorDouble();

        public void Dispose()
        {
            _sim.Dispose();
        }

        [Test]
        public void GetClientsWithoutAndWithSearch()
        {
            using (var api = _sim.Api())
            {
                string all = api.Process("API.GetClients");
                Assert.Equal(string.Join(",", Ivanov, Petrov, Sidorova),
                    string.Join(",", Reply.NumberList(Reply.Return(all), all)), "all GUIDs, exact");
                string found = api.Process("API.GetClients", "Иванов");
                Assert.Equal(Ivanov, string.Join(",", Reply.NumberList(Reply.Return(found), found)), "search by name");
                string none = api.Process("API.GetClients", "no such client at all");
                Assert.Equal(0, Reply.NumberList(Reply.Return(none), none).Count, "empty search result");
            }
            Assert.Equal("{\"path\":\"API.GetClients\",\"value\":null}", _sim.Trace()[0], "read sends value null");
            Assert.Equal("{\"path\":\"API.GetClients\",\"value\":\"\\u0418\\u0432\\u0430\\u043d\\u043e\\u0432\"}",
                _sim.Trace()[1], "search string as PHP encodes it");
        }

        [Test]
        public void ReadsOfDocumentedProperties()
        {
            var expected = new Dictionary<string, string>
            {
                { "API.Client." + Ivanov + ".AutorizeInfo.Name", "Иванов Иван Иванович" },
                { "API.Client." + Ivanov + ".BillingInfo.Money", "100.01" },
                { "API.Client." + Ivanov + ".BillingInfo.Tariff", "Базовый 100" },
                { "API.Client." + Ivanov + ".BillingInfo.Group", "Физлица" },
                { "API.Client." + Ivanov + ".BillingInfo.DefaultInterface", "ether1" },
                { "API.Client." + Ivanov + ".StatusInfo.BlockReason", "-1" },
                { "API.Client." + Ivanov + ".StatusInfo.Blocked", "false" },
                { "API.Client." + Ivanov + ".StatusInfo.CurrentSpeedLimitIn", "102400" },
                { "API.Client." + Ivanov + ".PersonalDataInfo.Address", "г. Москва, ул. Ленина, д. 1, кв. 2" },
                { "API.Client." + Ivanov + ".PersonalDataInfo.MobileTel", "+79001234567" },
                { "API.Client." + Ivanov + ".PersonalDataInfo.Field.1.FieldName", "Договор" },
                { "API.Client." + Ivanov + ".PersonalDataInfo.Field.1.FieldValue", "Д-0001" },
                { "API.Client." + Ivanov + ".PersonalDataInfo.Field.2.FieldValue", "4510 123456" },
                { "API.Client." + Ivanov + ".AutorizeInfo.Accounts." + IvanovAccount + ".IP", "1.1.1.1" },
                { "API.Client." + Ivanov + ".AutorizeInfo.Accounts." + IvanovAccount + ".MAC", "AA:AA:AA:AA:AA:AA" },
                { "API.Client." + Ivanov + ".AutorizeInfo.Accounts." + IvanovAccount + ".Login", "ivanov" },
                { "API.Client." + Ivanov + ".AutorizeInfo.Accounts." + IvanovAccount + ".Password", "pass1" },
                { "API.Client." + Ivanov + ".AutorizeInfo.Accounts." + IvanovAccount + ".PPP_IP", "10.0.0.1" },
                { "API.Client." + Petrov + ".AutorizeInfo.Name", "Петров Пётр Петрович" },
                { "API.Client." + Petrov + ".BillingInfo.Money", "-15.50" },
                { "API.Client." + Petrov + ".StatusInfo.BlockReason", "0" },
                { "API.Client." + Sidorova + ".StatusInfo.BlockReason", "3" },
                // The old documentation's spelling "API.Clients" is accepted too.
                { "API.Clients." + Sidorova + ".AutorizeInfo.Name", "Сидорова Анна" },
            };
            using (var api = _sim.Api())
            {
                foreach (var pair in expected)
                {
                    Assert.Equal(pair.Value, Reply.ReturnText(api.Process(pair.Key)), pair.Key);
                }
                string accounts = api.Process("API.Client." + Petrov + ".AutorizeInfo.Accounts");
                Assert.Equal(PetrovAccount + ",835354904534457", string.Join(",", Reply.NumberList(Reply.Return(accounts), accounts)), "account GUIDs");
                string fields = api.Process("API.Client." + Ivanov + ".PersonalDataInfo.Fields");
                Assert.Equal("1,2", string.Join(",", Reply.NumberList(Reply.Return(fields), fields)), "field ids");
            }
        }

        [Test]
        public void SetsAndReadBack()
        {
            using (var api = _sim.Api())
            {
                string name = "API.Client." + Ivanov + ".AutorizeInfo.Name";
                Assert.Equal("{\"return\":\"OK\",\"code\":0}", api.Process(name, "Иван/Ivan"), "set reply");
                Assert.Equal("Иван/Ivan", Reply.ReturnText(api.Process(name)), "name read back");
                string ip = "API.Client." + Ivanov + ".AutorizeInfo.Accounts." + IvanovAccount + ".IP";
                Assert.Equal("OK", Reply.ReturnText(api.Process(ip, "192.168.25.110")), "set IP");
                Assert.Equal("192.168.25.110", Reply.ReturnText(api.Process(ip)), "IP read back");
                Assert.Equal(206, Reply.Code(api.Process(ip, "not an ip")), "server validation error passes through");
                string address = "API.Client." + Ivanov + ".PersonalDataInfo.Address";
                Assert.Equal("OK", Reply.ReturnText(api.ProcessJson(address, "\"Новый адрес\"")), "raw JSON set");
                Assert.Equal("Новый адрес", Reply.ReturnText(api.Process(address)), "address read back");
            }
            // The protocol's test vector: the exact plaintext the original PHP client sends.
            Assert.Equal("{\"path\":\"API.Client.633824158637492.AutorizeInfo.Name\",\"value\":\"\\u0418\\u0432\\u0430\\u043d\\/Ivan\"}",
                _sim.Trace()[0], "PHP-identical request bytes");
        }

        [Test]
        public void BatchReadOfAccountProperties()
        {
            using (var api = _sim.Api())
            {
                var value = new Dictionary<string, object> { { IvanovAccount, new[] { "IP", "MAC" } } };
                string reply = api.Process("API.Client." + Ivanov + ".AutorizeInfo.Accounts", value);
                string prefix = "API.Client." + Ivanov + ".AutorizeInfo.Accounts." + IvanovAccount;
                AssertBatch(reply, new[] { "1.1.1.1", "0", prefix + ".IP" }, new[] { "AA:AA:AA:AA:AA:AA", "0", prefix + ".MAC" });
            }
        }

        [Test]
        public void BatchSetOfAccountProperties()
        {
            using (var api = _sim.Api())
            {
                var value = new Dictionary<string, object>
                {
                    { IvanovAccount, new Dictionary<string, string> { { "IP", "192.168.25.110" }, { "MAC", "aa:bb:cc:dd:ee:ff" } } },
                };
                string reply = api.Process("API.Client." + Ivanov + ".AutorizeInfo.Accounts", value);
                string prefix = "API.Client." + Ivanov + ".AutorizeInfo.Accounts." + IvanovAccount;
                AssertBatch(reply, new[] { "OK", "0", prefix + ".IP" }, new[] { "OK", "0", prefix + ".MAC" });
                Assert.Equal("192.168.25.110", Reply.ReturnText(api.Process(prefix + ".IP")), "IP set by batch");
                Assert.Equal("aa:bb:cc:dd:ee:ff", Reply.ReturnText(api.Process(prefix + ".MAC")), "MAC set by batch");
            }
            Assert.Equal("{\"path\":\"API.Client.633824158637492.AutorizeInfo.Accounts\",\"value\":{\"28236356495083\":"
                + "{\"IP\":\"192.168.25.110\",\"MAC\":\"aa:bb:cc:dd:ee:ff\"}}}", _sim.Trace()[0], "batch request bytes");
        }

        [Test]
        public void BatchMixingReadAndSetAcrossClients()
        {
            using (var api = _sim.Api())
            {
                var value = new Dictionary<string, object>
                {
                    { "0", Ivanov + ".BillingInfo.Money" },
                    { Petrov + ".AutorizeInfo.Accounts." + PetrovAccount, new Dictionary<string, object> { { "MAC", "aa:bb:cc:dd:ee:ff" } } },
                };
                string reply = api.Process("API.Client", value);
                AssertBatch(reply,
                    new[] { "100.01", "0", "API.Client." + Ivanov + ".BillingInfo.Money" },
                    new[] { "OK", "0", "API.Client." + Petrov + ".AutorizeInfo.Accounts." + PetrovAccount + ".MAC" });
                Assert.Equal("aa:bb:cc:dd:ee:ff",
                    Reply.ReturnText(api.Process("API.Client." + Petrov + ".AutorizeInfo.Accounts." + PetrovAccount + ".MAC")), "MAC set");
            }
            // json_encode(["0"=>"633824158637492.BillingInfo.Money","9527563927532953.AutorizeInfo.Accounts.835354904534456"=>["MAC"=>"aa:bb:cc:dd:ee:ff"]])
            Assert.Equal("{\"path\":\"API.Client\",\"value\":{\"0\":\"633824158637492.BillingInfo.Money\","
                + "\"9527563927532953.AutorizeInfo.Accounts.835354904534456\":{\"MAC\":\"aa:bb:cc:dd:ee:ff\"}}}",
                _sim.Trace()[0], "mixed batch bytes");
        }

        [Test]
        public void NestedBatchEqualsFlatSet()
        {
            using (var api = _sim.Api())
            {
                var nested = new Dictionary<string, object>
                {
                    { "AutorizeInfo", new Dictionary<string, object> { { "Accounts", new Dictionary<string, object> {
                        { IvanovAccount, new Dictionary<string, object> { { "IP", "10.9.8.7" } } } } } } },
                };
                string path = "API.Client." + Ivanov + ".AutorizeInfo.Accounts." + IvanovAccount + ".IP";
                AssertBatch(api.Process("API.Client." + Ivanov, nested), new[] { "OK", "0", path });
                Assert.Equal("10.9.8.7", Reply.ReturnText(api.Process(path)), "nested set");
                string flat = api.Process("API.Client." + Ivanov + ".AutorizeInfo.Accounts." + IvanovAccount,
                    new Dictionary<string, object> { { "IP", "10.9.8.6" } });
                AssertBatch(flat, new[] { "OK", "0", path });
                Assert.Equal("10.9.8.6", Reply.ReturnText(api.Process(path)), "flat set");
            }
        }

        [Test]
        public void AddAccountTakesAnArgumentList()
        {
            using (var api = _sim.Api())
            {
                string reply = api.Process("API.Client." + Sidorova + ".AutorizeInfo.Accounts.AddAccount",
                    new List<string> { "10.0.0.5", "", "newlogin", "newpass" });
                var guid = Reply.Return(reply) as JsonNumber;
                Assert.True(guid != null, "AddAccount returns the new GUID as a number: " + reply);
                string accounts = api.Process("API.Client." + Sidorova + ".AutorizeInfo.Accounts");
                Assert.Equal(guid.Text, string.Join(",", Reply.NumberList(Reply.Return(accounts), accounts)), "new account listed");
                string prefix = "API.Client." + Sidorova + ".AutorizeInfo.Accounts." + guid.Text;
                Assert.Equal("10.0.0.5", Reply.ReturnText(api.Process(prefix + ".IP")), "new IP");
                Assert.Equal("newlogin", Reply.ReturnText(api.Process(prefix + ".Login")), "new login");
                Assert.Equal(207, Reply.Code(api.Process("API.Client." + Sidorova + ".AutorizeInfo.Accounts.AddAccount",
                    new[] { "10.0.0.6" })), "wrong argument count");
            }
            Assert.Equal("{\"path\":\"API.Client.4611686018427387905.AutorizeInfo.Accounts.AddAccount\",\"value\":"
                + "[\"10.0.0.5\",\"\",\"newlogin\",\"[redacted]\"]}", _sim.Trace()[0],
                "AddAccount request bytes (the simulator's trace never shows the password)");
        }

        [Test]
        public void CheckConnectionAndCloseReconnect()
        {
            const string disconnect = "{\"path\":\"DISCONNECT\",\"value\":null}";
            string money = "{\"path\":\"API.Client." + Ivanov + ".BillingInfo.Money\",\"value\":null}";
            using (var api = _sim.Api())
            {
                Assert.True(api.CheckConnection(), "online");
                api.Close();
                // Checked here, inside the using block: Dispose below says DISCONNECT as well, so a
                // check after it could not tell whether Close did. Close waits for the server's answer
                // to DISCONNECT (or its end of stream), so the trace is complete at this point.
                Assert.Equal(disconnect, string.Join(" | ", _sim.Trace()), "Close sent exactly one DISCONNECT");
                api.Close();
                Assert.Equal(disconnect, string.Join(" | ", _sim.Trace()), "a second Close without a connection sends nothing");
                Assert.Equal("100.01", Reply.ReturnText(api.Process("API.Client." + Ivanov + ".BillingInfo.Money")), "usable after Close");
                Assert.True(api.CheckConnection(), "online after Close");
                Assert.Equal(disconnect + " | " + money, string.Join(" | ", _sim.Trace()), "reconnected for the read");
            }
            Assert.Equal(disconnect + " | " + money + " | " + disconnect, string.Join(" | ", _sim.Trace()),
                "Dispose sent the second DISCONNECT, on the new connection");
        }

        private static void AssertBatch(string reply, params string[][] leaves)
        {
            var list = TestJson.Parse(reply) as List<object>;
            Assert.True(list != null, "batch reply is an array: " + reply);
            Assert.Equal(leaves.Length, list.Count, "leaf count in " + reply);
            for (int i = 0; i < leaves.Length; i++)
            {
                var leaf = list[i] as Dictionary<string, object>;
                Assert.True(leaf != null, "leaf " + i + " is an object: " + reply);
                object ret = leaf["return"];
                string retText = ret is JsonNumber ? ((JsonNumber)ret).Text : ret as string;
                Assert.Equal(leaves[i][0], retText, "leaf " + i + " return");
                Assert.Equal(leaves[i][1], ((JsonNumber)leaf["code"]).Text, "leaf " + i + " code");
                Assert.Equal(leaves[i][2], leaf["path"] as string, "leaf " + i + " path");
            }
        }
    }
}
