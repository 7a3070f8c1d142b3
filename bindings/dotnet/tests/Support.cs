using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.RegularExpressions;
using MikroBILL.Testing;

namespace MikroBILL.Tests
{
    public static class TestEnv
    {
        public const string Key1 = SimulatorDouble.Key1;
        public const string Key2 = SimulatorDouble.Key2;

        /// <summary>bindings/dotnet (the test program runs from bindings/dotnet/bin).</summary>
        public static string BindingDir
        {
            get { return Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(TestEnv).Assembly.Location), "..")); }
        }
    }

    /// <summary>A JSON number kept as its exact text, so 64-bit GUIDs never pass through a double.</summary>
    public sealed class JsonNumber
    {
        public JsonNumber(string text)
        {
            Text = text;
        }

        public string Text { get; private set; }
    }

    /// <summary>A strict JSON reader for inspecting replies in tests: objects become
    /// Dictionary&lt;string, object&gt;, arrays List&lt;object&gt;, numbers JsonNumber.</summary>
    public sealed class TestJson
    {
        private readonly string _s;
        private int _i;

        private TestJson(string s)
        {
            _s = s;
        }

        public static object Parse(string json)
        {
            var r = new TestJson(json);
            object value = r.Value();
            r.Space();
            if (r._i != json.Length) throw r.Error("trailing characters");
            return value;
        }

        private AssertionException Error(string what)
        {
            return new AssertionException("not JSON (" + what + " at " + _i + "): " + _s);
        }

        private void Space()
        {
            while (_i < _s.Length && " \t\r\n".IndexOf(_s[_i]) >= 0) _i++;
        }

        private char Next()
        {
            Space();
            if (_i >= _s.Length) throw Error("unexpected end");
            return _s[_i];
        }

        private void Expect(char c)
        {
            if (Next() != c) throw Error("expected " + c);
            _i++;
        }

        private object Value()
        {
            char c = Next();
            if (c == '{')
            {
                var o = new Dictionary<string, object>();
                _i++;
                if (Next() == '}') { _i++; return o; }
                do
                {
                    if (Next() != '"') throw Error("expected a key");
                    string key = Text();
                    Expect(':');
                    o.Add(key, Value());
                } while (Comma('}'));
                return o;
            }
            if (c == '[')
            {
                var a = new List<object>();
                _i++;
                if (Next() == ']') { _i++; return a; }
                do a.Add(Value()); while (Comma(']'));
                return a;
            }
            if (c == '"') return Text();
            foreach (string word in new[] { "true", "false", "null" })
            {
                if (string.CompareOrdinal(_s, _i, word, 0, word.Length) == 0)
                {
                    _i += word.Length;
                    return word == "null" ? null : (object)(word == "true");
                }
            }
            int start = _i;
            while (_i < _s.Length && "+-0123456789.eE".IndexOf(_s[_i]) >= 0) _i++;
            string number = _s.Substring(start, _i - start);
            if (!Regex.IsMatch(number, @"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")) throw Error("bad value");
            return new JsonNumber(number);
        }

        private bool Comma(char close)
        {
            char c = Next();
            _i++;
            if (c == ',') return true;
            if (c == close) return false;
            throw Error("expected , or " + close);
        }

        private string Text()
        {
            var sb = new StringBuilder();
            for (_i++; _i < _s.Length; _i++)
            {
                char c = _s[_i];
                if (c == '"') { _i++; return sb.ToString(); }
                if (c < 0x20) throw Error("control character in a string");
                if (c != '\\') { sb.Append(c); continue; }
                if (++_i >= _s.Length) break;
                int k = "\"\\/bfnrtu".IndexOf(_s[_i]);
                if (k < 0) throw Error("bad escape");
                if (k < 8) { sb.Append("\"\\/\b\f\n\r\t"[k]); continue; }
                if (_i + 4 >= _s.Length) break;
                sb.Append((char)int.Parse(_s.Substring(_i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                _i += 4;
            }
            throw Error("unterminated string");
        }
    }

    /// <summary>Helpers to read replies.</summary>
    public static class Reply
    {
        public static Dictionary<string, object> Object(string json)
        {
            var o = TestJson.Parse(json) as Dictionary<string, object>;
            if (o == null) throw new AssertionException("reply is not a JSON object: " + json);
            return o;
        }

        /// <summary>The integer under <paramref name="key"/> of a JSON object text; null when there is
        /// none or the text is no JSON object (a file being rewritten, say).</summary>
        public static long? Integer(string json, string key)
        {
            object value;
            long result;
            Dictionary<string, object> o;
            try
            {
                o = Object(json);
            }
            catch (AssertionException)
            {
                return null;
            }
            return o.TryGetValue(key, out value) && value is JsonNumber
                && long.TryParse(((JsonNumber)value).Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result)
                ? result : (long?)null;
        }

        public static long Code(string json)
        {
            long? code = Integer(json, "code");
            if (!code.HasValue) throw new AssertionException("reply has no numeric code: " + json);
            return code.Value;
        }

        /// <summary>The "return" of a successful reply; fails the test on a non-zero code.</summary>
        public static object Return(string json)
        {
            if (Code(json) != 0) throw new AssertionException("reply has non-zero code: " + json);
            return Object(json)["return"];
        }

        public static string ReturnText(string json)
        {
            object r = Return(json);
            if (r is string) return (string)r;
            if (r is JsonNumber) return ((JsonNumber)r).Text;
            if (r is bool) return (bool)r ? "true" : "false";
            throw new AssertionException("return is not a scalar: " + json);
        }

        public static List<string> NumberList(object value, string json)
        {
            var list = value as List<object>;
            if (list == null) throw new AssertionException("return is not an array: " + json);
            var result = new List<string>();
            foreach (object o in list)
            {
                if (o is JsonNumber) result.Add(((JsonNumber)o).Text);
                else throw new AssertionException("array element is not a number: " + json);
            }
            return result;
        }
    }
}
