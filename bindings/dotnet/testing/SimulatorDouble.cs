using System;
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
    /// The MikroBILL core simulator (mikrobill-sim) as a test double for one test: free loopback
    /// ports, a control API for stubs, faults, the request journal and counts, stopped by Dispose.
    /// The binary is $MIKROBILL_SIM or mikrobill-sim on PATH; a missing one throws.
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

        /// <param name="datasetJson">a dataset (the simulator's --dataset format), or null for the demo one</param>
        /// <param name="stubsJson">a JSON array of stubs, as in the simulator's config</param>
        /// <param name="faultsJson">a JSON array of faults, as in the simulator's config</param>
        /// <param name="extraArgs">more command-line flags, already quoted</param>
        public SimulatorDouble(string datasetJson = null, string stubsJson = null, string faultsJson = null, string extraArgs = null)
        {
            _dir = Path.Combine(Path.GetTempPath(), "mikrobill-sim-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(_dir);
            string config = Path.Combine(_dir, "config.json");
            File.WriteAllText(config, "{\"key1\":\"" + Key1 + "\",\"key2\":\"" + Key2 + "\",\"cashiers\":[{\"login\":\""
                + Login + "\",\"password\":\"" + Password + "\"}],\"stubs\":" + (stubsJson ?? "[]")
                + ",\"faults\":" + (faultsJson ?? "[]") + "}");
            string args = "--listen 127.0.0.1:0 --admin 127.0.0.1:0 --config \"" + config + "\"";
            if (datasetJson != null)
            {
                string dataset = Path.Combine(_dir, "dataset.json");
                File.WriteAllText(dataset, datasetJson);
                args += " --dataset \"" + dataset + "\"";
            }
            if (extraArgs != null) args += " " + extraArgs;
            var psi = new ProcessStartInfo(Binary(), args)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = Encoding.UTF8,
            };
            _process = Process.Start(psi);
            // The binding's run-tests.sh stops whatever is listed there should the test run die.
            string runDir = Environment.GetEnvironmentVariable("MIKROBILL_DOTNET_RUN_DIR");
            if (!string.IsNullOrEmpty(runDir))
            {
                _pidFile = Path.Combine(runDir, "sim-" + _process.Id.ToString(CultureInfo.InvariantCulture) + ".pid");
                File.WriteAllText(_pidFile, _process.Id.ToString(CultureInfo.InvariantCulture) + "\n");
            }
            StreamReader stderr = _process.StandardError;
            new Thread(() => Drain(stderr)) { IsBackground = true }.Start();
            StreamReader stdout = _process.StandardOutput;
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
            new Thread(() => Drain(stdout)) { IsBackground = true }.Start();
        }

        public int Port { get; private set; }

        /// <summary>The control API, "http://127.0.0.1:PORT/".</summary>
        public string AdminUrl { get; private set; }

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

        private static string Expect(string line, string pattern)
        {
            Match m = line == null ? Match.Empty : Regex.Match(line, pattern);
            if (!m.Success) throw new InvalidOperationException("simulator did not start; got <" + line + ">");
            return m.Groups[1].Value;
        }

        private static void Drain(StreamReader reader)
        {
            try
            {
                while (reader.ReadLine() != null)
                {
                }
            }
            catch (ObjectDisposedException)
            {
            }
            catch (IOException)
            {
            }
        }

        /// <summary>A client logged in to this simulator as the demo cashier.</summary>
        public MikroBILL_API Api(MikroBILLOptions options = null)
        {
            return options == null
                ? new MikroBILL_API("127.0.0.1", Port, Login, Password, Key1, Key2)
                : new MikroBILL_API("127.0.0.1", Port, Login, Password, Key1, Key2, options);
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
            try
            {
                using (var response = (HttpWebResponse)request.GetResponse())
                using (var reader = new StreamReader(response.GetResponseStream(), Encoding.UTF8))
                {
                    return reader.ReadToEnd();
                }
            }
            catch (WebException e)
            {
                var response = e.Response as HttpWebResponse;
                if (response == null) throw;
                using (response)
                using (var reader = new StreamReader(response.GetResponseStream(), Encoding.UTF8))
                {
                    throw new ControlApiException((int)response.StatusCode, reader.ReadToEnd());
                }
            }
        }

        /// <summary>The journal as JSON text {"entries":[...]}; pathPattern uses * for one segment.</summary>
        public string Journal(string pathPattern = null)
        {
            return Call("GET", "api/journal?limit=10000" + (pathPattern == null ? "" : "&path=" + Uri.EscapeDataString(pathPattern)));
        }

        public void ClearJournal()
        {
            Call("DELETE", "api/journal");
        }

        /// <summary>One counter: connections, auths_granted, auths_refused, requests, disconnects.</summary>
        public long Count(string name)
        {
            Match m = Regex.Match(Call("GET", "api/counts"), "\"" + Regex.Escape(name) + "\":(\\d+)");
            if (!m.Success) throw new ArgumentException("no counter " + name);
            return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        /// <summary>A client's state as JSON text (GUIDs as strings, account passwords masked).</summary>
        public string ClientState(string guid)
        {
            return Call("GET", "api/clients/" + Uri.EscapeDataString(guid));
        }

        public void Reset()
        {
            Call("POST", "api/reset", "{}");
        }

        /// <summary>Adds a stub (JSON object: path, value, return, code, scenario, required_state, new_state); returns its id.</summary>
        public long AddStub(string stubJson)
        {
            return Id(Call("POST", "api/stubs", stubJson));
        }

        public void RemoveStub(long id)
        {
            Call("DELETE", "api/stubs/" + id.ToString(CultureInfo.InvariantCulture));
        }

        /// <summary>Adds a fault (JSON object: path, action, delay_ms, code, text); returns its id.</summary>
        public long AddFault(string faultJson)
        {
            return Id(Call("POST", "api/faults", faultJson));
        }

        public void RemoveFault(long id)
        {
            Call("DELETE", "api/faults/" + id.ToString(CultureInfo.InvariantCulture));
        }

        private static long Id(string reply)
        {
            Match m = Regex.Match(reply, "\"id\":(\\d+)");
            if (!m.Success) throw new InvalidOperationException("no id in " + reply);
            return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        public void Dispose()
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
                // Already gone.
            }
            _process.Dispose();
            if (_pidFile != null) File.Delete(_pidFile);
            try
            {
                Directory.Delete(_dir, true);
            }
            catch (IOException)
            {
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
