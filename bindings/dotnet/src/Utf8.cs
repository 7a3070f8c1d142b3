using System;
using System.Runtime.InteropServices;
using System.Text;

namespace MikroBILL
{
    // Manual UTF-8 marshaling: Mono and .NET disagree on the default string marshaling for
    // delegates (ANSI vs UTF-8 vs UTF-16), so every string crosses the boundary as bytes.
    internal static class Utf8
    {
        // Strict both ways: a lone surrogate going out would otherwise become U+FFFD silently,
        // and bad bytes coming back would be hidden the same way.
        private static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>UTF-8 bytes of <paramref name="text"/> plus a trailing NUL; null stays null.</summary>
        internal static byte[] ToNative(string text, string argumentName)
        {
            if (text == null) return null;
            if (text.IndexOf('\0') >= 0)
            {
                throw new ArgumentException("text passed to libmikrobill must not contain NUL characters", argumentName);
            }
            byte[] bytes;
            try
            {
                bytes = Strict.GetBytes(text);
            }
            catch (EncoderFallbackException e)
            {
                throw new ArgumentException("text is not valid UTF-16 (lone surrogate)", argumentName, e);
            }
            var result = new byte[bytes.Length + 1];
            Buffer.BlockCopy(bytes, 0, result, 0, bytes.Length);
            return result;
        }

        /// <summary>Decodes a NUL-terminated UTF-8 string owned by the library (not freed here).</summary>
        internal static string FromNative(IntPtr text)
        {
            return FromNative(text, Strict);
        }

        /// <summary>For OS texts (dlerror) that may hold file names in any encoding.</summary>
        internal static string FromNativeLenient(IntPtr text)
        {
            return FromNative(text, Encoding.UTF8);
        }

        private static string FromNative(IntPtr text, Encoding encoding)
        {
            // Replies are bounded by max_frame_bytes, which MikroBILLOptions caps far below
            // int.MaxValue; checked arithmetic turns a violated bound into an exception instead of
            // a wrapped, negative offset.
            int length = 0;
            while (Marshal.ReadByte(text, length) != 0)
            {
                length = checked(length + 1);
            }
            var bytes = new byte[length];
            Marshal.Copy(text, bytes, 0, length);
            return encoding.GetString(bytes);
        }
    }
}
