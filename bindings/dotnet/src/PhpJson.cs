using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Numerics;
using System.Reflection;
using System.Text;

namespace MikroBILL
{
    /// <summary>
    /// Writes .NET values as the bytes PHP's json_encode (default flags, PHP 7.1+) writes for the
    /// equivalent PHP value, so a call made through this binding puts the same request on the wire
    /// as the original PHP client would. Doubles and floats are written as round-trip text only: the
    /// library, which this binding configures with php_floats on, writes every non-integer number as
    /// json_encode writes that double, so PHP's float layout exists once, in the library.
    /// </summary>
    public static class PhpJson
    {
        /// <summary>json_encode's default depth: 512 nested arrays/objects encode, 513 fail.</summary>
        public const int MaxDepth = 512;

        /// <summary>
        /// Encodes <paramref name="value"/>. Supported: null (and DBNull), string, char, bool, all integer
        /// types, BigInteger, enums (as their integer value), double, float, decimal, dictionaries
        /// (IDictionary or IDictionary&lt;K,V&gt;/IReadOnlyDictionary&lt;K,V&gt;; always a JSON object, keys as
        /// invariant strings, in enumeration order) and any other IEnumerable (a JSON array).
        /// </summary>
        /// <exception cref="ArgumentException">NaN or infinity (json_encode fails on them), a string that is
        /// not valid UTF-16 (json_encode fails on malformed UTF-8), nesting deeper than 512, or an
        /// unsupported type.</exception>
        public static string Encode(object value)
        {
            var sb = new StringBuilder();
            Write(sb, value, 0);
            return sb.ToString();
        }

        /// <summary>A JSON string literal exactly as json_encode writes it.</summary>
        public static string EncodeString(string value)
        {
            if (value == null) throw new ArgumentNullException("value");
            var sb = new StringBuilder(value.Length + 2);
            WriteString(sb, value);
            return sb.ToString();
        }

        private static void Write(StringBuilder sb, object value, int depth)
        {
            if (value == null || value is DBNull)
            {
                sb.Append("null");
                return;
            }
            var s = value as string;
            if (s != null)
            {
                WriteString(sb, s);
                return;
            }
            if (value is char)
            {
                WriteString(sb, value.ToString());
                return;
            }
            if (value is bool)
            {
                sb.Append((bool)value ? "true" : "false");
                return;
            }
            if (value is Enum)
            {
                // The enum's own integer value, as PHP backed enums encode to their backing value.
                value = Convert.ChangeType(value, Enum.GetUnderlyingType(value.GetType()), CultureInfo.InvariantCulture);
            }
            if (value is int || value is long || value is short || value is sbyte
                || value is uint || value is ulong || value is ushort || value is byte
                || value is BigInteger)
            {
                // Exact integer text: 64-bit GUIDs must never pass through a double.
                sb.Append(((IFormattable)value).ToString(null, CultureInfo.InvariantCulture));
                return;
            }
            if (value is double)
            {
                // Round-trip text; the library (php_floats) writes it as json_encode would.
                WriteDouble(sb, (double)value);
                return;
            }
            if (value is float)
            {
                WriteSingle(sb, (float)value);
                return;
            }
            if (value is decimal)
            {
                WriteDecimal(sb, (decimal)value);
                return;
            }
            if (depth >= MaxDepth)
            {
                throw new ArgumentException("Maximum stack depth exceeded (json_encode allows " + MaxDepth + " nested arrays/objects)");
            }
            var dict = value as IDictionary;
            if (dict != null)
            {
                WriteObject(sb, EnumerateDictionary(dict), depth);
                return;
            }
            IEnumerable<KeyValuePair<object, object>> generic = GenericDictionaryEntries(value);
            if (generic != null)
            {
                WriteObject(sb, generic, depth);
                return;
            }
            var list = value as IEnumerable;
            if (list != null)
            {
                sb.Append('[');
                bool first = true;
                foreach (object item in list)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    Write(sb, item, depth + 1);
                }
                sb.Append(']');
                return;
            }
            throw new ArgumentException("PhpJson cannot encode a value of type " + value.GetType().FullName);
        }

        private static IEnumerable<KeyValuePair<object, object>> EnumerateDictionary(IDictionary dict)
        {
            IDictionaryEnumerator e = dict.GetEnumerator();
            while (e.MoveNext())
            {
                yield return new KeyValuePair<object, object>(e.Key, e.Value);
            }
        }

        // Dictionaries that only implement the generic interfaces (IReadOnlyDictionary-only types,
        // custom IDictionary<K,V>) would otherwise fall through to IEnumerable and become arrays of
        // pairs; read their KeyValuePair<K,V> items by reflection instead.
        private static IEnumerable<KeyValuePair<object, object>> GenericDictionaryEntries(object value)
        {
            foreach (Type iface in value.GetType().GetInterfaces())
            {
                if (!iface.IsGenericType) continue;
                Type def = iface.GetGenericTypeDefinition();
                if (def == typeof(IDictionary<,>) || def == typeof(IReadOnlyDictionary<,>))
                {
                    Type pair = typeof(KeyValuePair<,>).MakeGenericType(iface.GetGenericArguments());
                    return ReadPairs((IEnumerable)value, pair.GetProperty("Key"), pair.GetProperty("Value"));
                }
            }
            return null;
        }

        private static IEnumerable<KeyValuePair<object, object>> ReadPairs(IEnumerable items, PropertyInfo key, PropertyInfo val)
        {
            foreach (object item in items)
            {
                yield return new KeyValuePair<object, object>(key.GetValue(item, null), val.GetValue(item, null));
            }
        }

        private static void WriteObject(StringBuilder sb, IEnumerable<KeyValuePair<object, object>> entries, int depth)
        {
            // Always an object, also when empty or keyed 0..n-1 (PHP would print a list then): a .NET
            // dictionary states the caller's intent, and batch requests treat both forms alike.
            sb.Append('{');
            bool first = true;
            foreach (KeyValuePair<object, object> entry in entries)
            {
                if (!first) sb.Append(',');
                first = false;
                WriteString(sb, KeyText(entry.Key));
                sb.Append(':');
                Write(sb, entry.Value, depth + 1);
            }
            sb.Append('}');
        }

        private static string KeyText(object key)
        {
            if (key == null) throw new ArgumentException("dictionary key is null");
            if (key is double || key is float)
            {
                throw new ArgumentException("floating-point dictionary keys are ambiguous; use string keys");
            }
            // PHP casts a bool array key to an integer (true => 1, false => 0), so json_encode
            // writes "1" and "0"; bool's own ToString would give "True"/"False".
            if (key is bool)
            {
                return (bool)key ? "1" : "0";
            }
            if (key is Enum)
            {
                key = Convert.ChangeType(key, Enum.GetUnderlyingType(key.GetType()), CultureInfo.InvariantCulture);
            }
            var f = key as IFormattable;
            return f != null ? f.ToString(null, CultureInfo.InvariantCulture) : key.ToString();
        }

        private static void WriteString(StringBuilder sb, string s)
        {
            const string hex = "0123456789abcdef";
            sb.Append('"');
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                switch (c)
                {
                    case '"': sb.Append("\\\""); continue;
                    case '\\': sb.Append("\\\\"); continue;
                    case '/': sb.Append("\\/"); continue;
                    case '\b': sb.Append("\\b"); continue;
                    case '\f': sb.Append("\\f"); continue;
                    case '\n': sb.Append("\\n"); continue;
                    case '\r': sb.Append("\\r"); continue;
                    case '\t': sb.Append("\\t"); continue;
                }
                if (char.IsHighSurrogate(c))
                {
                    if (i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1]))
                    {
                        throw new ArgumentException("string is not valid UTF-16 (lone high surrogate at index " + i + "); json_encode rejects malformed UTF-8");
                    }
                }
                else if (char.IsLowSurrogate(c) && (i == 0 || !char.IsHighSurrogate(s[i - 1])))
                {
                    throw new ArgumentException("string is not valid UTF-16 (lone low surrogate at index " + i + "); json_encode rejects malformed UTF-8");
                }
                if (c < 0x20 || c > 0x7F)
                {
                    // Control characters and every UTF-16 unit above ASCII (so surrogate pairs come out as
                    // two escapes, as PHP writes them). DEL (0x7F) is ASCII and PHP leaves it raw.
                    sb.Append("\\u");
                    sb.Append(hex[(c >> 12) & 0xF]);
                    sb.Append(hex[(c >> 8) & 0xF]);
                    sb.Append(hex[(c >> 4) & 0xF]);
                    sb.Append(hex[c & 0xF]);
                }
                else
                {
                    sb.Append(c);
                }
            }
            sb.Append('"');
        }

        // Any text that reads back as the same double will do: the binding turns the library's
        // php_floats on, and the library writes every non-integer number as PHP's json_encode
        // writes that double. "R" is not round-trip on every runtime (the .NET Framework's can
        // lose the last bit), so it is checked and "G17", which always is, taken otherwise.
        private static void WriteDouble(StringBuilder sb, double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
            {
                throw new ArgumentException("Inf and NaN cannot be JSON encoded");
            }
            string text = value.ToString("R", CultureInfo.InvariantCulture);
            if (double.Parse(text, CultureInfo.InvariantCulture) != value)
            {
                text = value.ToString("G17", CultureInfo.InvariantCulture);
            }
            AppendAsDouble(sb, text, BitConverter.DoubleToInt64Bits(value) < 0);
        }

        // PHP has no single-precision type. A float is handed over as the shortest text that
        // identifies it among floats (0.1f gives 0.1, the value the caller wrote); widening to double
        // first would send 0.10000000149011612.
        private static void WriteSingle(StringBuilder sb, float value)
        {
            if (float.IsNaN(value) || float.IsInfinity(value))
            {
                throw new ArgumentException("Inf and NaN cannot be JSON encoded");
            }
            string text = null;
            for (int precision = 1; precision <= 9; precision++)
            {
                text = value.ToString("G" + precision.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
                if (ReadsBackAs(text, value)) break;
            }
            AppendAsDouble(sb, text, BitConverter.DoubleToInt64Bits(value) < 0);
        }

        private static bool ReadsBackAs(string text, float value)
        {
            try
            {
                return float.Parse(text, CultureInfo.InvariantCulture) == value;
            }
            catch (OverflowException)
            {
                // Too few digits can round past float.MaxValue (3E+38 is fine, 4E+38 is not).
                return false;
            }
        }

        // The token must read as a double, not an integer, for the library to lay it out as PHP
        // does; runtimes write an integral value ("1") and negative zero ("0") without a point or sign.
        private static void AppendAsDouble(StringBuilder sb, string text, bool negative)
        {
            if (negative && text[0] != '-') sb.Append('-');
            sb.Append(text);
            if (text.IndexOfAny(new[] { '.', 'E', 'e' }) < 0) sb.Append(".0");
        }

        // PHP has no decimal type. The decimal's text is written exactly here, in plain notation,
        // without trailing fractional zeros: 100.10m gives 100.1, 5.00m gives 5. With php_floats
        // on (the default, PhpFloats) the library then rewrites a fractional one, like every
        // non-integer number, as PHP writes the nearest double (what PHP itself would send); only
        // integral decimals and php_floats off keep the decimal's digits beyond a double's.
        private static void WriteDecimal(StringBuilder sb, decimal value)
        {
            string text = value.ToString(CultureInfo.InvariantCulture);
            if (text.IndexOf('.') >= 0)
            {
                text = text.TrimEnd('0').TrimEnd('.');
            }
            if (text == "-0") text = "0";
            sb.Append(text);
        }
    }
}
