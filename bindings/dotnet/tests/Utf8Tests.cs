using System;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace MikroBILL.Tests
{
    // Replies reach .NET through MikroBILL_API.TakeBytes (copy, then mb_free) and ReplyText (strict
    // UTF-8). The simulator escapes every non-ASCII character as \uXXXX, so no simulator reply in
    // UTF-8 carries a multibyte sequence; these tests hand those functions raw bytes from a native
    // buffer instead. (Replies in CP1251 from the simulator: ReplyEncodingTests.)
    public class Utf8Tests
    {
        // The binding's own functions, reached by reflection on the shipped MikroBILL.dll, so the
        // code under test is the library's own, not a copy compiled into the test program.
        private static object Invoke(string name, object argument)
        {
            MethodInfo method = typeof(MikroBILL_API).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic);
            try
            {
                return method.Invoke(null, new[] { argument });
            }
            catch (TargetInvocationException e)
            {
                throw e.InnerException;
            }
        }

        // Copies bytes plus a terminating NUL into unmanaged memory and decodes them. TakeBytes also
        // hands the pointer to mb_free, which ignores pointers the library did not issue (its contract),
        // so the buffer is still ours to free.
        private static string Decode(byte[] utf8)
        {
            IntPtr buffer = Marshal.AllocHGlobal(utf8.Length + 1);
            try
            {
                Marshal.Copy(utf8, 0, buffer, utf8.Length);
                Marshal.WriteByte(buffer, utf8.Length, 0);
                byte[] copied = (byte[])Invoke("TakeBytes", buffer);
                Assert.Equal(Convert.ToBase64String(utf8), Convert.ToBase64String(copied), "bytes copied up to the NUL");
                return (string)Invoke("ReplyText", copied);
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
            }
        }

        [Test]
        public void RepliesDecodeTwoThreeAndFourByteSequences()
        {
            // Ж U+0416 (D0 96), € U+20AC (E2 82 AC), 😀 U+1F600 (F0 9F 98 80), spelled as bytes so the
            // test does not depend on the compiler's source encoding.
            byte[] reply =
            {
                (byte)'{', (byte)'"', (byte)'r', (byte)'"', (byte)':', (byte)'"',
                0xD0, 0x96, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80,
                (byte)'"', (byte)'}',
            };
            string text = Decode(reply);
            Assert.Equal("{\"r\":\"\u0416\u20AC\uD83D\uDE00\"}", text, "decoded reply");
            Assert.Equal(12, text.Length, "UTF-16 units: 6 ASCII, 1 + 1 for the BMP letters, a surrogate pair");
            Assert.Equal(0x1F600, char.ConvertToUtf32(text, 8), "the 4-byte sequence is one code point");
        }

        [Test]
        public void LongMultibyteReplyDecodesWhole()
        {
            // 100,000 repetitions of the three sequences: 900,000 bytes, well past any small buffer.
            var sb = new StringBuilder();
            for (int i = 0; i < 100000; i++) sb.Append("\u0416\u20AC\uD83D\uDE00");
            string expected = sb.ToString();
            byte[] utf8 = new UTF8Encoding(false, true).GetBytes(expected);
            Assert.Equal(900000, utf8.Length, "encoded length");
            Assert.Equal(expected, Decode(utf8), "decoded text");
        }

        [Test]
        public void MalformedUtf8IsAnExceptionHoldingTheBytesNotReplacementCharacters()
        {
            // A 4-byte sequence cut after its third byte, then a lone continuation byte.
            foreach (byte[] bytes in new[] { new byte[] { 0x41, 0xF0, 0x9F, 0x98, 0x41 }, new byte[] { 0x80 } })
            {
                var e = Assert.Throws<MikroBILLReplyEncodingException>(() => Decode(bytes), "malformed UTF-8");
                Assert.Equal(Convert.ToBase64String(bytes), Convert.ToBase64String(e.Reply), "the exception holds the reply's bytes");
                Assert.Contains("ProcessBytes", e.Message, "the message names the way to the bytes");
            }
        }
    }
}
