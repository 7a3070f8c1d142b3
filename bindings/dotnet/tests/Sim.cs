using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace MikroBILL.Tests
{
    public static class TestEnv
    {
        // The built-in simulator's defaults (docs: notes/contract.md): AES-256 key and IV.
        public const string Key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        public const string Key2 = "EBESExQVFhcYGRobHB0eHw==";

        public static string SimPath
        {
            get
            {
                string p = Environment.GetEnvironmentVariable("MIKROBILL_SIM");
                if (string.IsNullOrEmpty(p)) throw new InvalidOperationException("MIKROBILL_SIM is not set (run-tests.sh sets it)");
                if (!File.Exists(p)) throw new InvalidOperationException("MIKROBILL_SIM=" + p + " does not exist; run cargo build --release");
                return p;
            }
        }

        public static string TestsDir
        {
            get
            {
                string exeDir = Path.GetDirectoryName(typeof(TestEnv).Assembly.Location);
                return Path.GetFullPath(Path.Combine(exeDir, "..", "tests"));
            }
        }

        public static string BindingDir
        {
            get { return Path.GetFullPath(Path.Combine(TestsDir, "..")); }
        }
    }

    /// <summary>
    /// A mikrobill-sim child process on 127.0.0.1, with its request trace in a temp file.
    /// While it runs, its pid is in sim-PID.pid under $MIKROBILL_DOTNET_RUN_DIR (run-tests.sh sets it),
    /// so that the script can stop it when mono dies without disposing it (a crash, a kill -9, the
    /// run's timeout): the simulator would otherwise outlive the run.
    /// </summary>
    public sealed class Sim : IDisposable
    {
        public const string RunDirVariable = "MIKROBILL_DOTNET_RUN_DIR";
        private const int SIGSTOP = 19;
        private const int SIGCONT = 18;

        private readonly Process _process;
        private readonly string _pidFile;
        private readonly StringBuilder _stderr = new StringBuilder();

        public Sim() : this(0, null)
        {
        }

        public Sim(int port, string traceFile) : this(port, traceFile, "")
        {
        }

        /// <summary>A simulator with more command-line arguments, e.g. "--session-counts FILE".</summary>
        public Sim(int port, string traceFile, string extraArgs)
        {
            TraceFile = traceFile ?? Path.Combine(Path.GetTempPath(), "mb-dotnet-trace-" + Guid.NewGuid().ToString("N") + ".txt");
            var psi = new ProcessStartInfo(TestEnv.SimPath,
                "--listen 127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture) + " --trace-requests " + TraceFile + " " + extraArgs)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = Encoding.UTF8,
            };
            _process = Process.Start(psi);
            Pid = _process.Id;
            string runDir = Environment.GetEnvironmentVariable(RunDirVariable);
            if (!string.IsNullOrEmpty(runDir))
            {
                _pidFile = Path.Combine(runDir, "sim-" + Pid.ToString(CultureInfo.InvariantCulture) + ".pid");
                File.WriteAllText(_pidFile, Pid.ToString(CultureInfo.InvariantCulture) + "\n");
            }
            // The drain threads hold the readers themselves: the Process object may be disposed
            // while they still run.
            StreamReader stdout = _process.StandardOutput;
            StreamReader stderr = _process.StandardError;
            var errThread = new Thread(() => Drain(stderr, _stderr)) { IsBackground = true };
            errThread.Start();
            string first = stdout.ReadLine();
            const string prefix = "listening on 127.0.0.1:";
            if (first == null || !first.StartsWith(prefix, StringComparison.Ordinal))
            {
                Kill();
                throw new InvalidOperationException("simulator did not announce its port; first line <" + first + ">, stderr: " + Stderr);
            }
            Port = int.Parse(first.Substring(prefix.Length), CultureInfo.InvariantCulture);
            // Keep draining stdout so a chatty simulator never blocks on a full pipe.
            var outThread = new Thread(() => Drain(stdout, null)) { IsBackground = true };
            outThread.Start();
        }

        public int Port { get; private set; }

        public int Pid { get; private set; }

        [DllImport("libc.so.6", SetLastError = true)]
        private static extern int kill(int pid, int sig);

        /// <summary>Freezes the simulator (SIGSTOP), as a hung server looks: connections stay open,
        /// the kernel still accepts bytes, nothing answers. Always pair with <see cref="Resume"/>.</summary>
        public void Suspend()
        {
            Signal(SIGSTOP, "SIGSTOP");
            // kill() returns before every thread has stopped; until they have, a request sent now may
            // still be answered. Wait for the kernel to report each thread stopped (state T).
            var giveUp = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (!AllThreadsStopped())
            {
                if (DateTime.UtcNow > giveUp) throw new InvalidOperationException("the simulator did not stop after SIGSTOP");
                System.Threading.Thread.Sleep(5);
            }
        }

        private bool AllThreadsStopped()
        {
            string taskDir = "/proc/" + Pid.ToString(CultureInfo.InvariantCulture) + "/task";
            foreach (string dir in Directory.GetDirectories(taskDir))
            {
                string stat;
                try
                {
                    stat = File.ReadAllText(Path.Combine(dir, "stat"));
                }
                catch (IOException)
                {
                    continue; // the thread ended meanwhile
                }
                // The state follows the parenthesised command name, which may contain spaces.
                string state = stat.Substring(stat.LastIndexOf(')') + 1).TrimStart().Split(' ')[0];
                if (state != "T" && state != "t") return false;
            }
            return true;
        }

        /// <summary>Lets a suspended simulator run again (SIGCONT).</summary>
        public void Resume()
        {
            Signal(SIGCONT, "SIGCONT");
        }

        private void Signal(int sig, string name)
        {
            // Only while the child is unreaped does its pid still name it.
            if (_process.HasExited) throw new InvalidOperationException("simulator already exited; " + Status);
            if (kill(Pid, sig) != 0)
            {
                throw new InvalidOperationException(name + " to simulator " + Pid + " failed, errno " + Marshal.GetLastWin32Error());
            }
        }

        /// <summary>How many sockets the simulator holds open (its listener included), from /proc.</summary>
        public int OpenSockets()
        {
            int count = 0;
            foreach (string fd in Directory.GetFileSystemEntries("/proc/" + Pid.ToString(CultureInfo.InvariantCulture) + "/fd"))
            {
                string target = ReadLink(fd);
                if (target != null && target.StartsWith("socket:", StringComparison.Ordinal)) count++;
            }
            return count;
        }

        /// <summary>
        /// Waits until the simulator holds exactly <paramref name="count"/> sockets. The simulator closes
        /// a connection only after it has read it to the end, so once the count has dropped back, every
        /// request the closed connections carried is in the trace: the deterministic point at which the
        /// absence of a request can be asserted. Fails after <paramref name="deadline"/>.
        /// </summary>
        public void WaitForOpenSockets(int count, TimeSpan deadline)
        {
            var clock = Stopwatch.StartNew();
            int now;
            while ((now = OpenSockets()) != count)
            {
                if (clock.Elapsed > deadline)
                {
                    throw new AssertionException("simulator still holds " + now + " sockets, not " + count + ", after "
                        + deadline.TotalSeconds + " s; " + Status);
                }
                // Polls a condition that has no notification; the deadline bounds it.
                Thread.Sleep(10);
            }
        }

        [DllImport("libc.so.6", SetLastError = true)]
        private static extern IntPtr readlink(string path, byte[] buffer, IntPtr size);

        private static string ReadLink(string path)
        {
            var buffer = new byte[4096];
            long n = readlink(path, buffer, new IntPtr(buffer.Length)).ToInt64();
            // -1: the descriptor was closed between listing and reading; it no longer counts.
            return n < 0 ? null : Encoding.UTF8.GetString(buffer, 0, (int)n);
        }

        private static void Drain(StreamReader reader, StringBuilder sink)
        {
            try
            {
                string line;
                while ((line = reader.ReadLine()) != null)
                {
                    if (sink != null)
                    {
                        lock (sink) sink.AppendLine(line);
                    }
                }
            }
            catch (ObjectDisposedException)
            {
                // The simulator was disposed; nothing more to read.
            }
            catch (IOException)
            {
                // The pipe broke with the simulator; nothing more to read.
            }
        }

        public string TraceFile { get; private set; }

        /// <summary>For failure messages: whether the simulator is still running, and its stderr.</summary>
        public string Status
        {
            get
            {
                bool exited = _process.HasExited;
                return "simulator " + (exited ? "exited with " + _process.ExitCode : "running") + ", stderr: <" + Stderr + ">";
            }
        }

        public string Stderr
        {
            get { lock (_stderr) return _stderr.ToString(); }
        }

        public MikroBILL_API Client()
        {
            return Client("api", "secret");
        }

        public MikroBILL_API Client(string login, string password)
        {
            return new MikroBILL_API("127.0.0.1", Port, login, password, TestEnv.Key1, TestEnv.Key2);
        }

        /// <summary>Request plaintexts the simulator decrypted, byte-exact, one per line.</summary>
        public List<string> Trace()
        {
            var lines = new List<string>();
            if (!File.Exists(TraceFile)) return lines;
            using (var fs = new FileStream(TraceFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            using (var reader = new StreamReader(fs, new UTF8Encoding(false, true)))
            {
                string line;
                while ((line = reader.ReadLine()) != null) lines.Add(line);
            }
            return lines;
        }

        public void Kill()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill();
                }
                _process.WaitForExit();
            }
            catch (InvalidOperationException)
            {
                // Already reaped.
            }
            // Only now that the child is reaped: until then its pid cannot be reused, so the file never
            // names a stranger while it exists.
            if (_pidFile != null)
            {
                File.Delete(_pidFile);
            }
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
            try
            {
                File.Delete(TraceFile);
            }
            catch (IOException)
            {
                // A leftover temp file is harmless.
            }
        }
    }

    /// <summary>Helpers to read replies.</summary>
    public static class Reply
    {
        public static Dictionary<string, object> Object(string json)
        {
            var o = JsonReader.Parse(json) as Dictionary<string, object>;
            if (o == null) throw new AssertionException("reply is not a JSON object: " + json);
            return o;
        }

        public static long Code(string json)
        {
            object code;
            if (!Object(json).TryGetValue("code", out code) || !(code is JsonNumber))
            {
                throw new AssertionException("reply has no numeric code: " + json);
            }
            return long.Parse(((JsonNumber)code).Text, CultureInfo.InvariantCulture);
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
