using System.Globalization;
using System.Text;

namespace MikroBILL
{
    /// <summary>The library's error shape, for the few errors the binding makes itself:
    /// {"return":TEXT,"result":TEXT,"code":N} plus "detail" when there is more to say.</summary>
    internal static class ErrorJson
    {
        internal static string Build(long code, string text, string detail)
        {
            var sb = new StringBuilder();
            sb.Append("{\"return\":").Append(PhpJson.EncodeString(text));
            sb.Append(",\"result\":").Append(PhpJson.EncodeString(text));
            sb.Append(",\"code\":").Append(code.ToString(CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(detail))
            {
                sb.Append(",\"detail\":").Append(PhpJson.EncodeString(detail));
            }
            sb.Append('}');
            return sb.ToString();
        }
    }
}
