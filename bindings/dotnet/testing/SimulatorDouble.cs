using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;

namespace MikroBILL.Testing
{
    /// <summary>
    /// The MikroBILL core simulator (mikrobill-sim) as a test double for one test: a free loopback
    /// port (or a given one), the demo cashiers (api and noapi, password "secret"), a control API for
    /// stubs, faults, the request journal and counts, the decrypted requests in a trace, stopped by
    /// Dispose. The binary is $MIKROBILL_SIM or mikrobill-sim on PATH; a missing one throws.
    /// While it runs, its pid is in sim-PID.pid under $MIKROBILL_DOTNET_RUN_DIR when that is set, so
    /// that a test runner can stop it should the test process die without disposing it.
    /// <code>
    /// using (var sim = new SimulatorDouble(stubsJson: "[{\"path\":\"API.Tariffs.*.Name\",\"return\":\"Unlimited\"}]"))
    /// using (var api = sim.Api())
    /// {
    ///     string reply = api.Process("API.Tariffs.7.Name");   // {"return":"Unlimited","code":0}
    ///     sim.AddFault("{\"path\":\"API.GetClients\",\"action\":\"error\",\"code\":301,\"text\":\"busy\"}");
    ///     string busy = api.Process("API.GetClients");        // {"return":"busy","code":301}
    ///     long requests = sim.Count("requests");              // 2
    ///     string journal = sim.Journal("API.Tariffs.*.*");    // {"entries":[...]} as JSON text
    /// }
    /// </code>
    /// </summary>
    public sealed class SimulatorDouble : IDisposable
    {
        public const string Key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        public const string Key2 = "EBESExQVFhcYGRobHB0eHw==";
        public const string Login = "api";
        public const string Password = "secret";

        private readonly Process _process;
        private readonly string _dir;
        private readonly string _pidFile;
        private readonly StringBuilder _stderr = new StringBuilder();

        /// <param name="datasetJson">a dataset (the simulator's --dataset format), or null for the demo one</param>
        /// <param name="stubsJson">a JSON array of stubs, as in the simulator's config</param>
        /// <param name="faultsJson">a JSON array of faults, as in the simulator's config</param>
        /// <param name="extraArgs">more command-line flags, already quoted: e.g. "--batch-paths normalised" or
        /// "--reply-encoding cp1251" for a core that answers a little differently</param>
        /// <param name="port">the port to listen on; 0 for a free one</param>
        public SimulatorDouble(string datasetJson = null, string stubsJson = null, string faultsJson = null,
            string extraArgs = null, int port = 0)
        {
            _dir = Path.Combine(Path.GetTempPath(), "mikrobill-sim-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(_dir);
            string config = Path.Combine(_dir, "config.json");
            File.WriteAllText(config, "{\"key1\":\"" + Key1 + "\",\"key2\":\"" + Key2 + "\",\"cashiers\":[{\"login\":\"" + Login
                + "\",\"password\":\"" + Password + "\"},{\"login\":\"noapi\",\"password\":\"" + Password + "\",\"api\":false}],"
                + "\"stubs\":" + (stubsJson ?? "[]") + ",\"faults\":" + (faultsJson ?? "[]") + "}");
            TraceFile = Path.Combine(_dir, "trace.txt");
            string args = "--listen 127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture) + " --admin 127.0.0.1:0 --config \""
                + config + "\" --trace-requests \"" + TraceFile + "\"";
            if (datasetJson != null)
            {
                string dataset = Path.Combine(_dir, "dataset.json");
                File.WriteAllText(dataset, datasetJson);
                args += " --dataset \"" + dataset + "\"";
            }
            if (extraArgs != null) args += " " + extraArgs;
            _process = Process.Start(new ProcessStartInfo(Binary(), args)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = Encoding.UTF8,
            });
            Pid = _process.Id;
            string runDir = Environment.GetEnvironmentVariable("MIKROBILL_DOTNET_RUN_DIR");
            if (!string.IsNullOrEmpty(runDir))
            {
                _pidFile = Path.Combine(runDir, "sim-" + Pid.ToString(CultureInfo.InvariantCulture) + ".pid");
                File.WriteAllText(_pidFile, Pid.ToString(CultureInfo.InvariantCulture) + "\n");
            }
            // The drain threads hold the readers themselves: the Process may be disposed while they run.
            StreamReader stderr = _process.StandardError, stdout = _process.StandardOutput;
            new Thread(() => Drain(stderr, _stderr)) { IsBackground = true }.Start();
            try
            {
                Port = int.Parse(Expect(stdout.ReadLine(), @"^listening on 127\.0\.0\.1:(\d+)$"), CultureInfo.InvariantCulture);
                AdminUrl = "http://" + Expect(stdout.ReadLine(), @"^admin on http://([0-9.:]+)/$") + "/";
            }
            catch
            {
                Dispose();
                throw;
            }
            // Keep draining stdout so that a chatty simulator never blocks on a full pipe.
            new Thread(() => Drain(stdout, null)) { IsBackground = true }.Start();
        }

        public int Port { get; private set; }

        public int Pid { get; private set; }

        /// <summary>The control API, "http://127.0.0.1:PORT/".</summary>
        public string AdminUrl { get; private set; }

        /// <summary>The simulator's --trace-requests file: each decrypted request but the auth, one per line.</summary>
        public string TraceFile { get; private set; }

        private static string Binary()
        {
            string p = Environment.GetEnvironmentVariable("MIKROBILL_SIM");
            if (!string.IsNullOrEmpty(p))
            {
                if (!File.Exists(p)) throw new InvalidOperationException("MIKROBILL_SIM=" + p + " does not exist");
                return p;
            }
            foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            {
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, "mikrobill-sim"))) return Path.Combine(dir, "mikrobill-sim");
            }
            throw new InvalidOperationException("mikrobill-sim not found: set MIKROBILL_SIM or put it on PATH");
        }

        private string Expect(string line, string pattern)
        {
            Match m = line == null ? Match.Empty : Regex.Match(line, pattern);
            if (!m.Success) throw new InvalidOperationException("simulator did not start; got <" + line + ">; " + Status);
            return m.Groups[1].Value;
        }

        private static void Drain(StreamReader reader, StringBuilder sink)
        {
            try
            {
                string line;
                while ((line = reader.ReadLine()) != null)
                {
                    if (sink != null) lock (sink) sink.AppendLine(line);
                }
            }
            catch (Exception e) when (e is ObjectDisposedException || e is IOException)
            {
                // Disposed with the simulator, or the pipe broke with it: nothing more to read.
            }
        }

        public bool HasExited => _process.HasExited;

        /// <summary>For failure messages: whether the simulator still runs, and its stderr.</summary>
        public string Status
        {
            get
            {
                string state = _process.HasExited ? "exited with " + _process.ExitCode : "running";
                lock (_stderr) return "simulator " + state + ", stderr: <" + _stderr + ">";
            }
        }

        /// <summary>A client of this simulator, logged in as the demo cashier unless told otherwise.</summary>
        public MikroBILL_API Api(MikroBILLOptions options = null, string login = Login, string password = Password)
            => new MikroBILL_API("127.0.0.1", Port, login, password, Key1, Key2, options);

        /// <summary>The requests the simulator decrypted so far (not the auth), byte-exact, one per line.</summary>
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

        /// <summary>One control-API call; returns the JSON text. A 4xx/5xx answer throws
        /// <see cref="ControlApiException"/> with the status and body.</summary>
        public string Call(string method, string route, string bodyJson = null)
        {
            var request = (HttpWebRequest)WebRequest.Create(AdminUrl + route.TrimStart('/'));
            request.Method = method;
            request.Timeout = 30000;
            request.Proxy = null;
            if (bodyJson != null)
            {
                byte[] body = Encoding.UTF8.GetBytes(bodyJson);
                request.ContentType = "application/json";
                request.ContentLength = body.Length;
                using (Stream s = request.GetRequestStream()) s.Write(body, 0, body.Length);
            }
            HttpWebResponse response;
            try
            {
                response = (HttpWebResponse)request.GetResponse();
            }
            catch (WebException e)
            {
                response = e.Response as HttpWebResponse;
                if (response == null) throw;
            }
            using (response)
            using (var reader = new StreamReader(response.GetResponseStream(), Encoding.UTF8))
            {
                string text = reader.ReadToEnd();
                if ((int)response.StatusCode >= 400) throw new ControlApiException((int)response.StatusCode, text);
                return text;
            }
        }

        /// <summary>The journal as JSON text {"entries":[...]}; pathPattern uses * for one segment.</summary>
        public string Journal(string pathPattern = null)
            => Call("GET", "api/journal?limit=10000" + (pathPattern == null ? "" : "&path=" + Uri.EscapeDataString(pathPattern)));

        public void ClearJournal() => Call("DELETE", "api/journal");

        /// <summary>One counter: connections, auths_granted, auths_refused, requests, disconnects.</summary>
        public long Count(string name)
        {
            Match m = Regex.Match(Call("GET", "api/counts"), "\"" + Regex.Escape(name) + "\":(\\d+)");
            if (!m.Success) throw new ArgumentException("no counter " + name);
            return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        /// <summary>A client's state as JSON text (GUIDs as strings, account passwords masked).</summary>
        public string ClientState(string guid) => Call("GET", "api/clients/" + Uri.EscapeDataString(guid));

        public void Reset() => Call("POST", "api/reset", "{}");

        /// <summary>Adds a stub (JSON object: path, value, return, code, scenario, required_state, new_state); returns its id.</summary>
        public long AddStub(string stubJson) => Id(Call("POST", "api/stubs", stubJson));

        public void RemoveStub(long id) => Call("DELETE", "api/stubs/" + id.ToString(CultureInfo.InvariantCulture));

        /// <summary>Adds a fault (JSON object: path, action, delay_ms, code, text); returns its id.</summary>
        public long AddFault(string faultJson) => Id(Call("POST", "api/faults", faultJson));

        public void RemoveFault(long id) => Call("DELETE", "api/faults/" + id.ToString(CultureInfo.InvariantCulture));

        private static long Id(string reply)
        {
            Match m = Regex.Match(reply, "\"id\":(\\d+)");
            if (!m.Success) throw new InvalidOperationException("no id in " + reply);
            return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        /// <summary>Stops the simulator (SIGKILL) and waits for it; the port is free afterwards.</summary>
        public void Kill()
        {
            try
            {
                if (!_process.HasExited) _process.Kill();
                _process.WaitForExit();
            }
            catch (InvalidOperationException)
            {
                // Already reaped.
            }
            // Only now that the child is reaped: until then its pid cannot be reused, so the file
            // never names a stranger while it exists.
            if (_pidFile != null) File.Delete(_pidFile);
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
            try
            {
                Directory.Delete(_dir, true);
            }
            catch (IOException)
            {
                // A leftover temp directory is harmless.
            }
        }
    }

    public sealed class ControlApiException : Exception
    {
        public ControlApiException(int status, string body) : base("control API answered " + status + ": " + body)
        {
            Status = status;
            Body = body;
        }

        public int Status { get; private set; }

        public string Body { get; private set; }
    }
}
