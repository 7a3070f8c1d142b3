using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MikroBILL
{
    /// <summary>A JSON number kept as its exact text, so 64-bit GUIDs and money never pass through a double.</summary>
    internal sealed class JsonNumber
    {
        internal JsonNumber(string text)
        {
            Text = text;
        }

        internal string Text { get; private set; }

        public override string ToString()
        {
            return Text;
        }
    }

    /// <summary>
    /// A small strict JSON reader. The library uses it only to pick "code" and "return" out of
    /// its own error texts; the tests use it to inspect replies. Objects become
    /// Dictionary&lt;string, object&gt; (insertion order), arrays List&lt;object&gt;, numbers JsonNumber.
    /// </summary>
    internal sealed class JsonReader
    {
        private readonly string _s;
        private int _i;

        private JsonReader(string s)
        {
            _s = s;
        }

        internal static object Parse(string json)
        {
            if (json == null) throw new ArgumentNullException("json");
            var r = new JsonReader(json);
            r.SkipSpace();
            object value = r.ReadValue(0);
            r.SkipSpace();
            if (r._i != json.Length) throw r.Error("trailing characters");
            return value;
        }

        /// <summary>The integer under <paramref name="key"/> of a JSON object text, or null.</summary>
        internal static long? TopLevelInteger(string json, string key)
        {
            object member = TopLevelMember(json, key);
            var n = member as JsonNumber;
            long result;
            if (n != null && long.TryParse(n.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result))
            {
                return result;
            }
            return null;
        }

        /// <summary>The string under <paramref name="key"/> of a JSON object text, or null.</summary>
        internal static string TopLevelString(string json, string key)
        {
            return TopLevelMember(json, key) as string;
        }

        private static object TopLevelMember(string json, string key)
        {
            if (json == null) return null;
            object parsed;
            try
            {
                parsed = Parse(json);
            }
            catch (FormatException)
            {
                return null;
            }
            var obj = parsed as Dictionary<string, object>;
            object value;
            return obj != null && obj.TryGetValue(key, out value) ? value : null;
        }

        private FormatException Error(string what)
        {
            return new FormatException("invalid JSON at offset " + _i + ": " + what);
        }

        private void SkipSpace()
        {
            while (_i < _s.Length && (_s[_i] == ' ' || _s[_i] == '\t' || _s[_i] == '\n' || _s[_i] == '\r'))
            {
                _i++;
            }
        }

        private object ReadValue(int depth)
        {
            if (depth > 1000) throw Error("nesting too deep");
            if (_i >= _s.Length) throw Error("unexpected end");
            char c = _s[_i];
            if (c == '{') return ReadObject(depth);
            if (c == '[') return ReadArray(depth);
            if (c == '"') return ReadString();
            if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
            if (Literal("true")) return true;
            if (Literal("false")) return false;
            if (Literal("null")) return null;
            throw Error("unexpected character '" + c + "'");
        }

        private bool Literal(string word)
        {
            if (string.CompareOrdinal(_s, _i, word, 0, word.Length) == 0)
            {
                _i += word.Length;
                return true;
            }
            return false;
        }

        private Dictionary<string, object> ReadObject(int depth)
        {
            var result = new Dictionary<string, object>();
            _i++;
            SkipSpace();
            if (_i < _s.Length && _s[_i] == '}')
            {
                _i++;
                return result;
            }
            while (true)
            {
                SkipSpace();
                if (_i >= _s.Length || _s[_i] != '"') throw Error("expected a key");
                string key = ReadString();
                SkipSpace();
                Expect(':');
                SkipSpace();
                if (result.ContainsKey(key)) throw Error("duplicate key " + key);
                result.Add(key, ReadValue(depth + 1));
                SkipSpace();
                if (_i < _s.Length && _s[_i] == ',')
                {
                    _i++;
                    continue;
                }
                Expect('}');
                return result;
            }
        }

        private List<object> ReadArray(int depth)
        {
            var result = new List<object>();
            _i++;
            SkipSpace();
            if (_i < _s.Length && _s[_i] == ']')
            {
                _i++;
                return result;
            }
            while (true)
            {
                SkipSpace();
                result.Add(ReadValue(depth + 1));
                SkipSpace();
                if (_i < _s.Length && _s[_i] == ',')
                {
                    _i++;
                    continue;
                }
                Expect(']');
                return result;
            }
        }

        private void Expect(char c)
        {
            if (_i >= _s.Length || _s[_i] != c) throw Error("expected '" + c + "'");
            _i++;
        }

        private string ReadString()
        {
            var sb = new StringBuilder();
            _i++;
            while (true)
            {
                if (_i >= _s.Length) throw Error("unterminated string");
                char c = _s[_i++];
                if (c == '"') return sb.ToString();
                if (c < 0x20) throw Error("raw control character in string");
                if (c != '\\')
                {
                    sb.Append(c);
                    continue;
                }
                if (_i >= _s.Length) throw Error("unterminated escape");
                char e = _s[_i++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (_i + 4 > _s.Length) throw Error("short \\u escape");
                        int code;
                        if (!int.TryParse(_s.Substring(_i, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                        {
                            throw Error("bad \\u escape");
                        }
                        sb.Append((char)code);
                        _i += 4;
                        break;
                    default:
                        throw Error("bad escape");
                }
            }
        }

        private JsonNumber ReadNumber()
        {
            int start = _i;
            if (_s[_i] == '-') _i++;
            if (_i < _s.Length && _s[_i] == '0')
            {
                _i++;
            }
            else if (!Digits())
            {
                throw Error("bad number");
            }
            if (_i < _s.Length && _s[_i] == '.')
            {
                _i++;
                if (!Digits()) throw Error("bad fraction");
            }
            if (_i < _s.Length && (_s[_i] == 'e' || _s[_i] == 'E'))
            {
                _i++;
                if (_i < _s.Length && (_s[_i] == '+' || _s[_i] == '-')) _i++;
                if (!Digits()) throw Error("bad exponent");
            }
            return new JsonNumber(_s.Substring(start, _i - start));
        }

        private bool Digits()
        {
            int start = _i;
            while (_i < _s.Length && _s[_i] >= '0' && _s[_i] <= '9')
            {
                _i++;
            }
            return _i > start;
        }
    }
}
