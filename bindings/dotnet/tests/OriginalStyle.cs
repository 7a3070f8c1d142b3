using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;

namespace MikroBILL.Tests
{
    /// <summary>The reply a client behaving as the original PHP client gives, from
    /// bindings/php/tests/original-style-reply.php (needs php8.2-cli and php8.2-mcrypt).</summary>
    public static class OriginalStyle
    {
        public static string Reply(int port, string login, string password, string path)
        {
            string script = Path.GetFullPath(Path.Combine(TestEnv.BindingDir, "..", "php", "tests", "original-style-reply.php"));
            var start = new ProcessStartInfo("php")
            {
                Arguments = Quote(script) + " 127.0.0.1 " + port.ToString(CultureInfo.InvariantCulture) + " "
                    + Quote(login) + " " + Quote(password) + " " + Quote(TestEnv.Key1) + " " + Quote(TestEnv.Key2) + " " + Quote(path),
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using (var php = System.Diagnostics.Process.Start(start))
            {
                string stderr = null;
                var readErr = new System.Threading.Thread(() => stderr = php.StandardError.ReadToEnd());
                readErr.Start();
                string stdout = php.StandardOutput.ReadToEnd();
                php.WaitForExit();
                readErr.Join();
                if (php.ExitCode != 0)
                {
                    throw new AssertionException("the original-style client failed (php8.2-cli and php8.2-mcrypt are required): " + stderr);
                }
                return stdout.Trim();
            }
        }

        private static string Quote(string arg)
        {
            return "\"" + arg.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        }
    }
}
