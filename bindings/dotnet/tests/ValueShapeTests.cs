using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Collections.Specialized;
using System.Linq;
using System.Numerics;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    // Every typed value shape, end to end: the request plaintext the simulator decrypted (its
    // --trace-requests file) must be exactly {"path":P,"value":<what PHP's json_encode writes>}.
    // This checks the binding's encoder and the library's re-encoding together.
    public class ValueShapeTests : IDisposable
    {
        private const string Path = "API.Client.633824158637492.PersonalDataInfo.MobileTel";
        private readonly SimulatorDouble _sim = new SimulatorDouble();

        public void Dispose()
        {
            _sim.Dispose();
        }

        private void Check(Func<MikroBILL_API, string> send, string expectedValueJson, string what)
        {
            Check(send, expectedValueJson, what, null);
        }

        private void Check(Func<MikroBILL_API, string> send, string expectedValueJson, string what, MikroBILLOptions options)
        {
            int before = _sim.Trace().Count;
            string reply;
            using (var api = new MikroBILL_API("127.0.0.1", _sim.Port, "api", "secret", TestEnv.Key1, TestEnv.Key2, options))
            {
                reply = send(api);
            }
            // Accepted or refused by the server (a phone number is a string), the reply is JSON.
            TestJson.Parse(reply);
            List<string> trace = _sim.Trace();
            Assert.True(trace.Count > before, what + ": request traced");
            Assert.Equal("{\"path\":\"" + Path + "\",\"value\":" + expectedValueJson + "}", trace[before], what);
        }

        [Test]
        public void Scalars()
        {
            // PHP: json_encode('Иван/Ivan'), 42, 9527563927532953, true, false, null
            Check(a => a.Process(Path, "Иван/Ivan"), "\"\\u0418\\u0432\\u0430\\u043d\\/Ivan\"", "string");
            Check(a => a.Process(Path, "{\"not\":\"json\"}"), "\"{\\\"not\\\":\\\"json\\\"}\"", "a string is never parsed as JSON");
            Check(a => a.Process(Path, 42), "42", "int");
            Check(a => a.Process(Path, 9527563927532953L), "9527563927532953", "long GUID");
            Check(a => a.Process(Path, 4611686018427387905UL), "4611686018427387905", "ulong GUID");
            Check(a => a.Process(Path, ulong.MaxValue), "18446744073709551615", "ulong max, exact");
            Check(a => a.Process(Path, true), "true", "true");
            Check(a => a.Process(Path, false), "false", "false");
            Check(a => a.Process(Path, null), "null", "null is a read");
            Check(a => a.Process(Path), "null", "read");
            Check(a => a.ProcessJson(Path, null), "null", "ProcessJson null is a read");
        }

        [Test]
        public void Numbers()
        {
            // PHP: json_encode(100.01), 0.1, 1e25, 1.0, -0.0, 1.5e-7, 123456789012345678.0
            Check(a => a.Process(Path, 100.01m), "100.01", "decimal");
            Check(a => a.Process(Path, 100.10m), "100.1", "decimal trailing zero");
            Check(a => a.Process(Path, 0.1), "0.1", "double");
            Check(a => a.Process(Path, 1e25), "1.0e+25", "double exponent");
            Check(a => a.Process(Path, 1.0), "1", "integral double");
            Check(a => a.Process(Path, -0.0), "-0", "negative zero");
            Check(a => a.Process(Path, 1.5e-7), "1.5e-7", "small double");
            Check(a => a.Process(Path, 123456789012345678.0), "1.2345678901234568e+17", "large double");
            Check(a => a.Process(Path, 0.1f), "0.1", "float");
        }

        [Test]
        public void DoublesAtPhpLayoutBoundaries()
        {
            // php -r 'echo json_encode([1.0, 0.1, 1e25, 1.5e-7, -0.0, 123456789012345678.0, 0.5, 100.0, 1e15, 1e16,
            //   1e17, 1e21, 1e-5, 1e-4, 0.0001234, 1.7976931348623157e308, 5e-324, 2.5e-5, 123.456, -1.5, 3.0e20, 1.0e22,
            //   0.3, 1/3, 2/3, 1e100, 9007199254740993.0, 4.35, 0.000001, 0.1+0.2, 2.0**63, 0.000123456789012345678,
            //   1e16+2, 12345678.9, -1e-7]);'
            double[] values =
            {
                1.0, 0.1, 1e25, 1.5e-7, -0.0, 123456789012345678.0, 0.5, 100.0, 1e15, 1e16,
                1e17, 1e21, 1e-5, 1e-4, 0.0001234, 1.7976931348623157e308, 5e-324, 2.5e-5, 123.456, -1.5, 3.0e20, 1.0e22,
                0.3, 1.0 / 3, 2.0 / 3, 1e100, 9007199254740993.0, 4.35, 0.000001, 0.1 + 0.2, 9223372036854775808.0, 0.000123456789012345678,
                1e16 + 2, 12345678.9, -1e-7,
            };
            Check(a => a.Process(Path, values),
                "[1,0.1,1.0e+25,1.5e-7,-0,1.2345678901234568e+17,0.5,100,1000000000000000,10000000000000000,"
                + "1.0e+17,1.0e+21,1.0e-5,0.0001,0.0001234,1.7976931348623157e+308,5.0e-324,2.5e-5,123.456,-1.5,3.0e+20,1.0e+22,"
                + "0.3,0.3333333333333333,0.6666666666666666,1.0e+100,9007199254740992,4.35,1.0e-6,0.30000000000000004,"
                + "9.223372036854776e+18,0.00012345678901234567,10000000000000002,12345678.9,-1.0e-7]", "PHP output");
        }

        [Test]
        public void FloatsAndDecimalsReachTheServerInPhpLayout()
        {
            // No PHP counterpart (PHP has neither single precision nor decimal): a float is its own
            // shortest digits, a decimal its exact digits, each then laid out as PHP lays out that double.
            Check(a => a.Process(Path, new[] { 0.1f, float.MaxValue, float.Epsilon, 16777216f, 1e-10f, -0.0f, 3.14159f, 1.17549435e-38f }),
                "[0.1,3.4028235e+38,1.0e-45,16777216,1.0e-10,-0,3.14159,1.1754944e-38]", "floats");
            // Integral decimals stay exact integers; fractional ones pass through a double, as in PHP.
            Check(a => a.Process(Path, new[] { 100.01m, 5.00m, decimal.MaxValue, 0.0000000000000000000000000001m, -15.50m, -0.0m }),
                "[100.01,5,79228162514264337593543950335,1.0e-28,-15.5,0]", "decimals");
        }

        [Test]
        public void PhpFloatsOffSendsTheRuntimeText()
        {
            var asGiven = new MikroBILLOptions { PhpFloats = false };
            // .NET writes 1E+25; the library's JSON parser keeps the digits and writes the exponent as 1e+25.
            Check(a => a.Process(Path, new[] { 1e25, 1.0 }), "[1e+25,1.0]", ".NET round-trip text, not PHP's", asGiven);
            Check(a => a.ProcessJson(Path, "[2.50,1e+25]"), "[2.50,1e+25]", "raw number text kept", asGiven);
        }

        [Test]
        public void Collections()
        {
            // PHP: json_encode([1,2,3]), ["a",1,null,true], ["IP"=>"1.2.3.4","n"=>5,"list"=>[1.5,["k"=>"v/w"]]]
            Check(a => a.Process(Path, new[] { 1, 2, 3 }), "[1,2,3]", "int array");
            Check(a => a.Process(Path, new List<object> { "a", 1, null, true }), "[\"a\",1,null,true]", "List<object>");
            Check(a => a.Process(Path, Enumerable.Range(1, 3)), "[1,2,3]", "IEnumerable");
            var dict = new Dictionary<string, object>
            {
                { "IP", "1.2.3.4" }, { "n", 5 }, { "list", new object[] { 1.5, new Dictionary<string, string> { { "k", "v/w" } } } },
            };
            Check(a => a.Process(Path, dict), "{\"IP\":\"1.2.3.4\",\"n\":5,\"list\":[1.5,{\"k\":\"v\\/w\"}]}", "nested dictionary");
        }

        [Test]
        public void StringsReachTheServerEscapedLikePhp()
        {
            // json_encode(["a/b","Иван","😀","\x01\x08\x0c\n\r\t\x1f","\"\\","<>&'","\u{2028}","é","\x7f\x00"]) and a char
            Check(a => a.Process(Path, new[] { "a/b", "Иван", "😀", "\u0001\b\f\n\r\t\u001f", "\"\\", "<>&'", "\u2028", "é", "\u007f\u0000" }),
                "[\"a\\/b\",\"\\u0418\\u0432\\u0430\\u043d\",\"\\ud83d\\ude00\",\"\\u0001\\b\\f\\n\\r\\t\\u001f\","
                + "\"\\\"\\\\\",\"<>&'\",\"\\u2028\",\"\\u00e9\",\"\u007f\\u0000\"]", "PHP output");
            Check(a => a.Process(Path, 'x'), "\"x\"", "char");
        }

        [Test]
        public void IntegerKindsEnumsAndNullsAreExact()
        {
            // json_encode([true,false,null,PHP_INT_MAX,PHP_INT_MIN]); the other kinds have no PHP
            // counterpart: every integer type exactly, enums as their integer, DBNull as null.
            Check(a => a.Process(Path, new object[] { true, false, null, long.MaxValue, long.MinValue }),
                "[true,false,null,9223372036854775807,-9223372036854775808]", "PHP output");
            Check(a => a.Process(Path, new object[] { sbyte.MinValue, byte.MaxValue, short.MinValue, ushort.MaxValue, int.MinValue,
                uint.MaxValue, DayOfWeek.Monday, DBNull.Value, BigInteger.Parse("123456789012345678901234567890") }),
                "[-128,255,-32768,65535,-2147483648,4294967295,1,null,123456789012345678901234567890]", "integer kinds");
        }

        [Test]
        public void EveryKindOfDictionaryIsAnObject()
        {
            // json_encode(["28236356495083"=>["IP","MAC"]]), ["b"=>1,"a"=>2], ["k"=>7], [true=>"a", false=>"b"]
            // (PHP casts a bool key to 1 or 0)
            Check(a => a.Process(Path, new SortedDictionary<long, string[]> { { 28236356495083L, new[] { "IP", "MAC" } } }),
                "{\"28236356495083\":[\"IP\",\"MAC\"]}", "integer keys");
            Check(a => a.Process(Path, new OrderedDictionary { { "b", 1 }, { "a", 2 } }), "{\"b\":1,\"a\":2}", "OrderedDictionary order");
            Check(a => a.Process(Path, new ReadOnlyDictionary<string, int>(new Dictionary<string, int> { { "k", 7 } })), "{\"k\":7}",
                "ReadOnlyDictionary");
            Check(a => a.Process(Path, new GenericOnlyMap()), "{\"q\":1}", "IReadOnlyDictionary-only type");
            Check(a => a.Process(Path, new Dictionary<bool, string> { { true, "a" }, { false, "b" } }), "{\"1\":\"a\",\"0\":\"b\"}", "bool keys");
            Check(a => a.Process(Path, new OrderedDictionary { { true, "a" }, { false, "b" } }), "{\"1\":\"a\",\"0\":\"b\"}",
                "untyped bool keys");
            // No PHP counterpart (PHP's empty array prints []): a dictionary is always an object.
            Check(a => a.Process(Path, new Dictionary<string, object>()), "{}", "empty dictionary");
        }

        [Test]
        public void NestingUpToPhpsDepthLimit()
        {
            // PHP: 512 nested arrays encode (1027 bytes), 513 give "Maximum stack depth exceeded".
            object value = "x";
            for (int i = 0; i < 512; i++) value = new object[] { value };
            Check(a => a.Process(Path, value), new string('[', 512) + "\"x\"" + new string(']', 512), "512 levels");
            int before = _sim.Trace().Count;
            using (var api = _sim.Api())
            {
                Assert.Throws<ArgumentException>(() => api.Process(Path, new object[] { value }), "513 levels");
            }
            Assert.Equal(before, _sim.Trace().Count, "nothing was sent");
        }

        private sealed class GenericOnlyMap : IReadOnlyDictionary<string, int>
        {
            private readonly Dictionary<string, int> _inner = new Dictionary<string, int> { { "q", 1 } };

            public int this[string key] { get { return _inner[key]; } }
            public IEnumerable<string> Keys { get { return _inner.Keys; } }
            public IEnumerable<int> Values { get { return _inner.Values; } }
            public int Count { get { return _inner.Count; } }
            public bool ContainsKey(string key) { return _inner.ContainsKey(key); }
            public bool TryGetValue(string key, out int value) { return _inner.TryGetValue(key, out value); }
            public IEnumerator<KeyValuePair<string, int>> GetEnumerator() { return _inner.GetEnumerator(); }
            System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() { return _inner.GetEnumerator(); }
        }

        [Test]
        public void RawJsonIsNormalizedLikePhp()
        {
            // The library re-encodes raw JSON as json_decode then json_encode would: key order and integer
            // text kept, doubles in PHP's layout (2.50 becomes 2.5, as PHP writes it).
            Check(a => a.ProcessJson(Path, "{ \"a\" : [1, 2.50, \"x/y\"],\n \"b\": \"Иван\" }"),
                "{\"a\":[1,2.5,\"x\\/y\"],\"b\":\"\\u0418\\u0432\\u0430\\u043d\"}", "raw JSON");
            Check(a => a.ProcessJson(Path, "9527563927532953"), "9527563927532953", "raw GUID");
        }

        [Test]
        public void UnencodableValuesThrowBeforeSending()
        {
            int before = _sim.Trace().Count;
            using (var api = _sim.Api())
            {
                Assert.Throws<ArgumentException>(() => api.Process(Path, double.NaN), "NaN");
                Assert.Throws<ArgumentException>(() => api.Process(Path, new object[] { double.PositiveInfinity }), "Infinity");
                Assert.Throws<ArgumentException>(() => api.Process(Path, "bad \ud800"), "lone surrogate value");
                Assert.Throws<ArgumentException>(() => api.Process("API.\udc00", 1), "lone surrogate path");
                Assert.Throws<ArgumentException>(() => api.ProcessJson(Path, "\"a\u0000b\""), "NUL in raw JSON");
                Assert.Throws<ArgumentNullException>(() => api.Process(null), "null path");
                Assert.Throws<ArgumentException>(() => api.Process(Path, new object()), "unsupported type");
                Assert.Throws<ArgumentException>(() => api.Process(Path, DateTime.Now), "DateTime");
                Assert.Throws<ArgumentException>(() => api.Process(Path, new object[] { Guid.Empty }), "Guid inside a list");
                Assert.Throws<ArgumentException>(() => api.Process(Path, new Dictionary<double, int> { { 1.5, 1 } }), "double keys");
                Assert.Throws<ArgumentException>(() => api.Process(Path, new object[] { 1, double.NegativeInfinity }), "-Inf in a list");
                Assert.Throws<ArgumentException>(() => api.Process(Path, float.NaN), "float NaN");
            }
            Assert.Equal(before, _sim.Trace().Count, "nothing was sent");
        }
    }
}
