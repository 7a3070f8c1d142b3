using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Collections.Specialized;
using System.Linq;
using System.Numerics;

namespace MikroBILL.Tests
{
    // Every expected string below was printed by php8.2-cli's json_encode for the PHP equivalent
    // of the .NET value (noted in each comment), unless the comment says the case has no PHP
    // counterpart and documents the binding's own rule.
    public class PhpJsonTests
    {
        [Test]
        public void DoublesAreHandedOverAsRoundTripText()
        {
            // No PHP layout here (the library writes it, see ValueShapeTests.Numbers): any text that
            // reads back as the same double, always with a point or exponent so that the library
            // sees a double, and negative zero keeping its sign.
            Assert.Equal("[0.1,1E+25,1.0,-0.0,0.30000000000000004]",
                PhpJson.Encode(new[] { 0.1, 1e25, 1.0, -0.0, 0.1 + 0.2 }), "doubles");
            double[] values = { 5e-324, double.MaxValue, double.MinValue, 123456789012345678.0, 1.0 / 3, 9007199254740993.0 };
            foreach (double d in values)
            {
                string text = PhpJson.Encode(d);
                Assert.Equal(d, double.Parse(text, System.Globalization.CultureInfo.InvariantCulture), "round trip of " + text);
                Assert.True(text.IndexOfAny(new[] { '.', 'E' }) >= 0, text + " reads as a double");
            }
        }

        [Test]
        public void FloatsAreHandedOverAsTheirShortestText()
        {
            // 0.1f is sent as 0.1, the value the caller wrote, not as the double 0.10000000149011612.
            Assert.Equal("[0.1,3.4028235E+38,1E-45,16777216.0,1E-10,-0.0,3.14159]",
                PhpJson.Encode(new[] { 0.1f, float.MaxValue, float.Epsilon, 16777216f, 1e-10f, -0.0f, 3.14159f }),
                "floats");
        }

        [Test]
        public void NaNAndInfinityFailLikePhp()
        {
            // PHP: json_encode(NAN) === false, "Inf and NaN cannot be JSON encoded"
            Assert.Throws<ArgumentException>(() => PhpJson.Encode(double.NaN), "NaN");
            Assert.Throws<ArgumentException>(() => PhpJson.Encode(double.PositiveInfinity), "+Inf");
            Assert.Throws<ArgumentException>(() => PhpJson.Encode(new object[] { 1, double.NegativeInfinity }), "-Inf in a list");
            Assert.Throws<ArgumentException>(() => PhpJson.Encode(float.NaN), "float NaN");
        }

        [Test]
        public void DecimalsAreExact()
        {
            // No PHP counterpart: exact digits, trailing fractional zeros dropped (PHP prints 100.1 for 100.10).
            Assert.Equal("[100.01,100.1,5,0,-15.5,79228162514264337593543950335,0.0000000000000000000000000001]",
                PhpJson.Encode(new[] { 100.01m, 100.10m, 5.00m, -0.0m, -15.50m, decimal.MaxValue, 0.0000000000000000000000000001m }),
                "decimals");
        }

        [Test]
        public void IntegersAreExactText()
        {
            // json_encode([true,false,null,PHP_INT_MAX,PHP_INT_MIN]) and a GUID above 2^53
            Assert.Equal("[true,false,null,9223372036854775807,-9223372036854775808]",
                PhpJson.Encode(new object[] { true, false, null, long.MaxValue, long.MinValue }), "PHP output");
            Assert.Equal("9527563927532953", PhpJson.Encode(9527563927532953L), "GUID");
            Assert.Equal("4611686018427387905", PhpJson.Encode(4611686018427387905UL), "GUID as ulong");
            // No PHP counterpart above PHP_INT_MAX: written exactly rather than as PHP's float.
            Assert.Equal("18446744073709551615", PhpJson.Encode(ulong.MaxValue), "ulong max");
            Assert.Equal("[-128,255,-32768,65535,-2147483648,4294967295]",
                PhpJson.Encode(new object[] { sbyte.MinValue, byte.MaxValue, short.MinValue, ushort.MaxValue, int.MinValue, uint.MaxValue }),
                "small integer types");
            Assert.Equal("123456789012345678901234567890", PhpJson.Encode(BigInteger.Parse("123456789012345678901234567890")), "BigInteger");
            Assert.Equal("[1,2]", PhpJson.Encode(new object[] { DayOfWeek.Monday, DayOfWeek.Tuesday }), "enums as integers");
        }

        [Test]
        public void StringsEscapeLikePhp()
        {
            // json_encode(["a/b","Иван","😀","\x01\x08\x0c\n\r\t\x1f","\"\\","<>&'","\u{2028}","é"])
            Assert.Equal("[\"a\\/b\",\"\\u0418\\u0432\\u0430\\u043d\",\"\\ud83d\\ude00\",\"\\u0001\\b\\f\\n\\r\\t\\u001f\","
                + "\"\\\"\\\\\",\"<>&'\",\"\\u2028\",\"\\u00e9\"]",
                PhpJson.Encode(new[] { "a/b", "Иван", "😀", "\u0001\b\f\n\r\t\u001f", "\"\\", "<>&'", "\u2028", "é" }),
                "PHP output");
            // json_encode("\x7f\x00") is the byte 0x7f raw, then \u0000
            Assert.Equal("\"\u007f\\u0000\"", PhpJson.Encode("\u007f\u0000"), "DEL and NUL");
            // json_encode('Иван/Ivan') (the protocol's test vector)
            Assert.Equal("\"\\u0418\\u0432\\u0430\\u043d\\/Ivan\"", PhpJson.Encode("Иван/Ivan"), "protocol vector");
            Assert.Equal("\"x\"", PhpJson.Encode('x'), "char");
        }

        [Test]
        public void MalformedUtf16FailsLikeMalformedUtf8InPhp()
        {
            // PHP: json_encode("\xed\xa0\x80") === false (Malformed UTF-8)
            Assert.Throws<ArgumentException>(() => PhpJson.Encode("a\ud800b"), "lone high surrogate");
            Assert.Throws<ArgumentException>(() => PhpJson.Encode("a\udc00"), "lone low surrogate");
            Assert.Throws<ArgumentException>(() => PhpJson.Encode("\ud800"), "high surrogate at the end");
        }

        [Test]
        public void DictionariesAreObjectsInInsertionOrder()
        {
            // json_encode(["Money"=>100.5, "n"=>[1,2.5,"x"], "Имя"=>"x/y", "e"=>[], "t"=>true])
            var d = new Dictionary<string, object>
            {
                { "Money", 100.5 }, { "n", new object[] { 1, 2.5, "x" } }, { "Имя", "x/y" }, { "e", new int[0] }, { "t", true },
            };
            Assert.Equal("{\"Money\":100.5,\"n\":[1,2.5,\"x\"],\"\\u0418\\u043c\\u044f\":\"x\\/y\",\"e\":[],\"t\":true}",
                PhpJson.Encode(d), "PHP output");
            // json_encode(["a.b", "c.d" => ["X" => 1]]) (the protocol's mixed array)
            var mixed = new Dictionary<string, object> { { "0", "a.b" }, { "c.d", new Dictionary<string, int> { { "X", 1 } } } };
            Assert.Equal("{\"0\":\"a.b\",\"c.d\":{\"X\":1}}", PhpJson.Encode(mixed), "PHP output");
            // Non-string keys are written as invariant text; GUID keys stay exact.
            var guidKeys = new SortedDictionary<long, string[]> { { 28236356495083L, new[] { "IP", "MAC" } } };
            Assert.Equal("{\"28236356495083\":[\"IP\",\"MAC\"]}", PhpJson.Encode(guidKeys), "json_encode([\"28236356495083\"=>[\"IP\",\"MAC\"]])");
            var ordered = new OrderedDictionary { { "b", 1 }, { "a", 2 } };
            Assert.Equal("{\"b\":1,\"a\":2}", PhpJson.Encode(ordered), "OrderedDictionary order");
            var readOnly = new ReadOnlyDictionary<string, int>(new Dictionary<string, int> { { "k", 7 } });
            Assert.Equal("{\"k\":7}", PhpJson.Encode(readOnly), "ReadOnlyDictionary");
            Assert.Equal("{\"q\":1}", PhpJson.Encode(new GenericOnlyMap()), "IReadOnlyDictionary-only type");
            // No PHP counterpart for an empty map (PHP's empty array prints []): a dictionary is always an object.
            Assert.Equal("{}", PhpJson.Encode(new Dictionary<string, object>()), "empty dictionary");
            Assert.Throws<ArgumentException>(() => PhpJson.Encode(new Dictionary<double, int> { { 1.5, 1 } }), "double keys");
        }

        [Test]
        public void BoolKeysAreWrittenAsPhpCastsThem()
        {
            // php -r 'echo json_encode([true=>"a", false=>"b"]);' prints {"1":"a","0":"b"}: PHP casts a
            // bool array key to the integer 1 or 0, where bool.ToString() would give "True"/"False".
            var generic = new Dictionary<bool, string> { { true, "a" }, { false, "b" } };
            Assert.Equal("{\"1\":\"a\",\"0\":\"b\"}", PhpJson.Encode(generic), "Dictionary<bool,string>");
            var untyped = new OrderedDictionary { { true, "a" }, { false, "b" } };
            Assert.Equal("{\"1\":\"a\",\"0\":\"b\"}", PhpJson.Encode(untyped), "OrderedDictionary with bool keys");
        }

        [Test]
        public void ListsAndEnumerablesAreArrays()
        {
            // json_encode([[1,2],["a",[true,null]]])
            var nested = new List<object> { new List<int> { 1, 2 }, new ArrayList { "a", new object[] { true, null } } };
            Assert.Equal("[[1,2],[\"a\",[true,null]]]", PhpJson.Encode(nested), "PHP output");
            // json_encode(["10.0.0.5","","newlogin","newpass"]) from a lazy sequence
            IEnumerable<string> lazy = new[] { "10.0.0.5", "", "newlogin", "newpass" }.Select(s => s);
            Assert.Equal("[\"10.0.0.5\",\"\",\"newlogin\",\"newpass\"]", PhpJson.Encode(lazy), "IEnumerable");
            // json_encode([]) === "[]"
            Assert.Equal("[]", PhpJson.Encode(new List<string>()), "empty list");
            Assert.Equal("null", PhpJson.Encode(null), "null");
            Assert.Equal("null", PhpJson.Encode(DBNull.Value), "DBNull");
        }

        [Test]
        public void DepthLimitIsPhps512()
        {
            // PHP: 512 nested arrays encode, 513 give "Maximum stack depth exceeded".
            object v = "x";
            for (int i = 0; i < 512; i++) v = new object[] { v };
            Assert.Equal(1027, PhpJson.Encode(v).Length, "512 levels (strlen from PHP)");
            object deeper = new object[] { v };
            Assert.Throws<ArgumentException>(() => PhpJson.Encode(deeper), "513 levels");
        }

        [Test]
        public void UnsupportedTypesAreRejected()
        {
            Assert.Throws<ArgumentException>(() => PhpJson.Encode(new object()), "plain object");
            Assert.Throws<ArgumentException>(() => PhpJson.Encode(DateTime.Now), "DateTime");
            Assert.Throws<ArgumentException>(() => PhpJson.Encode(new object[] { Guid.Empty }), "Guid inside a list");
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
            IEnumerator IEnumerable.GetEnumerator() { return _inner.GetEnumerator(); }
        }
    }
}
