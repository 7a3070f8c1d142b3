using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Numerics;
using System.Text;

namespace MikroBILL
{
    /// <summary>
    /// Writes a .NET value as plain JSON for the library, which re-encodes every value as PHP's
    /// json_encode does (escapes, number layout with php_floats on). Accepted: null and DBNull,
    /// string, char, bool, integer types and BigInteger (exact), enums (their integer), double,
    /// float, decimal, dictionaries (IDictionary, IDictionary&lt;K,V&gt; or IReadOnlyDictionary&lt;K,V&gt;:
    /// a JSON object, keys as invariant text, a bool key as PHP casts it, "1" or "0") and any other
    /// IEnumerable (an array).
    /// </summary>
    internal static class Json
    {
        // json_encode's depth limit; it also stops a list that contains itself.
        private const int MaxDepth = 512;

        /// <summary>The value's JSON text; null stays null, which the library takes for a read.</summary>
        internal static string Write(object value)
        {
            if (value == null) return null;
            var sb = new StringBuilder();
            Write(sb, value, 0);
            return sb.ToString();
        }

        private static void Write(StringBuilder sb, object value, int depth)
        {
            if (value is Enum) value = Convert.ChangeType(value, Enum.GetUnderlyingType(value.GetType()), CultureInfo.InvariantCulture);
            if (value == null || value is DBNull) sb.Append("null");
            else if (value is string || value is char) WriteString(sb, value.ToString());
            else if (value is bool) sb.Append((bool)value ? "true" : "false");
            else if (value is double) WriteDouble(sb, (double)value);
            else if (value is float) WriteFloat(sb, (float)value);
            else if (value is decimal) WriteDecimal(sb, (decimal)value);
            else if (value is long || value is int || value is short || value is sbyte || value is ulong || value is uint
                || value is ushort || value is byte || value is BigInteger)
            {
                sb.Append(((IFormattable)value).ToString(null, CultureInfo.InvariantCulture));
            }
            else if (depth >= MaxDepth) throw new ArgumentException("Maximum stack depth exceeded (" + MaxDepth + " nested arrays/objects)");
            else if (!WriteObject(sb, value, depth) && !WriteArray(sb, value as IEnumerable, depth))
            {
                throw new ArgumentException("cannot send a value of type " + value.GetType().FullName);
            }
        }

        // Any non-ASCII character goes out as itself: the UTF-8 conversion rejects lone surrogates.
        private static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                if (c == '"' || c == '\\') sb.Append('\\').Append(c);
                else if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                else sb.Append(c);
            }
            sb.Append('"');
        }

        // Round-trip text ("R" is not round-trip on every runtime, hence the check and "G17").
        private static void WriteDouble(StringBuilder sb, double value)
        {
            RequireFinite(value);
            string text = value.ToString("R", CultureInfo.InvariantCulture);
            if (double.Parse(text, CultureInfo.InvariantCulture) != value) text = value.ToString("G17", CultureInfo.InvariantCulture);
            AppendAsDouble(sb, text, BitConverter.DoubleToInt64Bits(value) < 0);
        }

        // The shortest text that reads back as the same float (0.1f is sent as 0.1, not as the
        // double 0.10000000149011612); PHP has no single precision.
        private static void WriteFloat(StringBuilder sb, float value)
        {
            RequireFinite(value);
            string text = null;
            float back;
            for (int precision = 1; precision <= 9; precision++)
            {
                text = value.ToString("G" + precision, CultureInfo.InvariantCulture);
                if (float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out back) && back == value) break;
            }
            AppendAsDouble(sb, text, BitConverter.DoubleToInt64Bits(value) < 0);
        }

        // The token must read as a double, not an integer, for the library to lay it out as PHP
        // does: runtimes write an integral value ("1") and negative zero ("0") without point or sign.
        private static void AppendAsDouble(StringBuilder sb, string text, bool negative)
        {
            if (negative && text[0] != '-') sb.Append('-');
            sb.Append(text);
            if (text.IndexOfAny(new[] { '.', 'E', 'e' }) < 0) sb.Append(".0");
        }

        private static void RequireFinite(double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value)) throw new ArgumentException("Inf and NaN cannot be JSON encoded");
        }

        // Exact digits in plain notation without trailing fractional zeros: 100.10m is 100.1, 5.00m is 5.
        private static void WriteDecimal(StringBuilder sb, decimal value)
        {
            string text = value.ToString(CultureInfo.InvariantCulture);
            if (text.IndexOf('.') >= 0) text = text.TrimEnd('0').TrimEnd('.');
            sb.Append(text == "-0" ? "0" : text);
        }

        private static bool WriteObject(StringBuilder sb, object value, int depth)
        {
            var entries = new List<KeyValuePair<object, object>>();
            var plain = value as IDictionary;
            if (plain != null)
            {
                foreach (DictionaryEntry e in plain) entries.Add(new KeyValuePair<object, object>(e.Key, e.Value));
            }
            else if (IsGenericDictionary(value.GetType()))
            {
                // KeyValuePair<K,V> items, read by reflection: K and V are known only at run time.
                foreach (object item in (IEnumerable)value)
                {
                    Type pair = item.GetType();
                    entries.Add(new KeyValuePair<object, object>(pair.GetProperty("Key").GetValue(item, null), pair.GetProperty("Value").GetValue(item, null)));
                }
            }
            else
            {
                return false;
            }
            // Always an object, also empty or keyed 0..n-1: a dictionary states the caller's intent.
            sb.Append('{');
            for (int i = 0; i < entries.Count; i++)
            {
                if (i > 0) sb.Append(',');
                WriteString(sb, KeyText(entries[i].Key));
                sb.Append(':');
                Write(sb, entries[i].Value, depth + 1);
            }
            sb.Append('}');
            return true;
        }

        private static bool IsGenericDictionary(Type type)
        {
            return type.GetInterfaces().Any(i => i.IsGenericType
                && (i.GetGenericTypeDefinition() == typeof(IDictionary<,>) || i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)));
        }

        private static string KeyText(object key)
        {
            if (key is Enum) key = Convert.ChangeType(key, Enum.GetUnderlyingType(key.GetType()), CultureInfo.InvariantCulture);
            if (key == null || key is double || key is float) throw new ArgumentException("a dictionary key must be text or an integer");
            if (key is bool) return (bool)key ? "1" : "0";
            var formattable = key as IFormattable;
            return formattable != null ? formattable.ToString(null, CultureInfo.InvariantCulture) : key.ToString();
        }

        private static bool WriteArray(StringBuilder sb, IEnumerable items, int depth)
        {
            if (items == null) return false;
            sb.Append('[');
            bool first = true;
            foreach (object item in items)
            {
                if (!first) sb.Append(',');
                first = false;
                Write(sb, item, depth + 1);
            }
            sb.Append(']');
            return true;
        }
    }
}
