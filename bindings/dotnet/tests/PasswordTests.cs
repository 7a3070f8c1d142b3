using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;

namespace MikroBILL.Tests
{
    /// <summary>A password given as bytes is hashed over exactly those bytes (sent as the config's
    /// password_base64), as the original client hashes a password saved in CP1251; given as text,
    /// over its UTF-8. Checked against bindings/php/tests/Support/auth-check-server.php, a
    /// one-cashier core that accepts only sha1 over the raw bytes it was given.</summary>
    public class PasswordTests
    {
        private const string Login = "kassa";

        // "Пароль-Кассы" in CP1251, written out: Mono has CP1251 only with its I18N assemblies.
        private static readonly byte[] Cp1251 = { 207, 224, 240, 238, 235, 252, 45, 202, 224, 241, 241, 251 };
        private const string Text = "Пароль-Кассы";

        [Test]
        public void ACp1251PasswordGivenAsBytesLogsIn()
        {
            using (var core = new AuthCheckCore(Cp1251))
            {
                using (var api = new MikroBILL_API("127.0.0.1", core.Port, Login, Cp1251, TestEnv.Key1, TestEnv.Key2))
                {
                    string reply = api.Process("API.GetClients");
                    Assert.Equal(0L, Reply.Code(reply), "logged in with the bytes: " + reply);
                    Assert.True(api.CheckConnection(), "CheckConnection");
                }
                // The same text as a string is its UTF-8, which this core does not accept.
                using (var api = new MikroBILL_API("127.0.0.1", core.Port, Login, Text, TestEnv.Key1, TestEnv.Key2,
                    new MikroBILLOptions()))
                {
                    Assert.Equal(101L, Reply.Code(api.Process("API.GetClients")), "the UTF-8 of the text is refused");
                }
            }
        }

        [Test]
        public void TextAndItsUtf8BytesAreTheSamePassword()
        {
            using (var core = new AuthCheckCore(Encoding.UTF8.GetBytes(Text)))
            {
                foreach (var api in new[]
                {
                    new MikroBILL_API("127.0.0.1", core.Port, Login, Text, TestEnv.Key1, TestEnv.Key2),
                    new MikroBILL_API("127.0.0.1", core.Port, Login, Encoding.UTF8.GetBytes(Text), TestEnv.Key1, TestEnv.Key2,
                        new MikroBILLOptions()),
                })
                {
                    using (api)
                    {
                        Assert.Equal(0L, Reply.Code(api.Process("API.GetClients")), "logged in");
                    }
                }
            }
        }

        [Test]
        public void ANullOrBadBytePasswordIsRefusedWithoutShowingIt()
        {
            var nullBytes = Assert.Throws<ArgumentNullException>(
                () => new MikroBILL_API("127.0.0.1", 7403, Login, (byte[])null, TestEnv.Key1, TestEnv.Key2), "null bytes");
            Assert.Equal("password", nullBytes.ParamName, "the parameter named");
            // The library refuses the settings for the bad key; nothing of the password is shown.
            var refused = Assert.Throws<MikroBILLException>(
                () => new MikroBILL_API("127.0.0.1", 7403, Login, Cp1251, "AAEC", TestEnv.Key2), "bad key1");
            string shown = refused.ToString();
            Assert.Equal(9006L, refused.Code, "the key's code");
            string latin1 = new string(Array.ConvertAll(Cp1251, b => (char)b));
            foreach (string secret in new[] { Convert.ToBase64String(Cp1251), latin1, "Пароль" })
            {
                Assert.True(shown.IndexOf(secret, StringComparison.Ordinal) < 0, "the password is not shown: " + shown);
            }
        }

        /// <summary>auth-check-server.php accepting Login with the given password bytes on a free port,
        /// under a shell that kills it when its standard input closes: on Dispose, or when this test
        /// process dies in any way, so the server never outlives the run.</summary>
        private sealed class AuthCheckCore : IDisposable
        {
            // The shell's script, in a file: its quotes then need no escaping in Arguments, whose
            // parsing differs between runtimes. The other arguments hold no space or quote.
            private const string Keeper =
                "\"$@\" & server=$!; cat >/dev/null; kill \"$server\" 2>/dev/null; { wait \"$server\"; } 2>/dev/null\n";

            private readonly string _keeperFile;
            private readonly System.Diagnostics.Process _shell;

            public AuthCheckCore(byte[] password)
            {
                string script = Path.GetFullPath(Path.Combine(TestEnv.BindingDir, "..", "php", "tests", "Support", "auth-check-server.php"));
                _keeperFile = Path.GetTempFileName();
                File.WriteAllText(_keeperFile, Keeper);
                var start = new ProcessStartInfo("/bin/sh")
                {
                    Arguments = string.Join(" ", _keeperFile, "php", "-d", "display_errors=stderr", script,
                        TestEnv.Key1, TestEnv.Key2, Login, Convert.ToBase64String(password)),
                    UseShellExecute = false,
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                };
                _shell = System.Diagnostics.Process.Start(start);
                string line = _shell.StandardOutput.ReadLine() ?? "";
                const string Prefix = "listening on 127.0.0.1:";
                if (!line.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    Dispose();
                    throw new AssertionException("auth-check-server.php did not start (php8.2-cli is required): " + line);
                }
                Port = int.Parse(line.Substring(Prefix.Length), CultureInfo.InvariantCulture);
            }

            public int Port { get; private set; }

            public void Dispose()
            {
                _shell.StandardInput.Close();
                _shell.WaitForExit();
                _shell.Dispose();
                File.Delete(_keeperFile);
            }
        }
    }
}
