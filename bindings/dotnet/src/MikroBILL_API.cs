using System;
using System.Globalization;
using System.Text;

namespace MikroBILL
{
    /// <summary>
    /// Client for the MikroBILL billing core API, mirroring the original PHP class of the same name:
    /// it connects lazily on the first call, Process returns the server's reply text (or the library's
    /// JSON error text, never an exception for a failed call), Close says DISCONNECT and leaves the
    /// object usable, and CheckConnection is an "is the billing online" probe.
    /// One instance may be shared by many threads: the library serializes calls on one handle, and
    /// disposal waits for calls in flight. For parallel requests use one instance per thread.
    /// </summary>
    public sealed partial class MikroBILL_API : IDisposable
    {
        private readonly NativeMethods _native;
        private readonly MikroBILLHandle _handle;

        // SafeHandle only refuses new references once its count has drained to zero, so threads
        // that keep calling could hold the handle open forever after Dispose; this flag makes
        // every call that starts after Dispose throw, letting the count drain and mb_close run.
        private volatile bool _disposed;

        /// <summary>Creates a client with the default timeouts (5 s) and frame limit (64 MiB).</summary>
        /// <param name="key1">CRYPTO_KEY_1 (base64 of a 16, 24 or 32 byte AES key), from MikroBILL's config.php.</param>
        /// <param name="key2">CRYPTO_KEY_2 (base64 of the 16 byte IV), from the workparams table.</param>
        /// <exception cref="MikroBILLException">The library refused the settings (e.g. code 9006 for a
        /// malformed key, 9005 for a port outside 1..65535). Nothing is sent to the server here.</exception>
        /// <exception cref="MikroBILLLibraryException">libmikrobill.so is missing or incompatible.</exception>
        public MikroBILL_API(string host, int port, string login, string password, string key1, string key2)
            : this(host, port, login, password, key1, key2, null)
        {
        }

        /// <summary>Creates a client; <paramref name="options"/> may be null for the defaults.</summary>
        public MikroBILL_API(string host, int port, string login, string password, string key1, string key2,
            MikroBILLOptions options)
        {
            if (host == null) throw new ArgumentNullException("host");
            if (login == null) throw new ArgumentNullException("login");
            if (password == null) throw new ArgumentNullException("password");
            // The PHP class can read missing keys from MikroBILL's config.php and database; a .NET
            // process has no such web root, so both keys are required here.
            if (key1 == null) throw new ArgumentNullException("key1");
            if (key2 == null) throw new ArgumentNullException("key2");

            _native = NativeLibraryLoader.Get();
            byte[] config = Utf8.ToNative(ConfigJson(host, port, login, password, key1, key2, options), "config");
            // The SafeHandle exists before the native handle does, so no failure between mb_connect
            // returning and the handle being owned can leak it.
            var handle = new MikroBILLHandle(_native);
            long id = _native.Connect(config);
            if (id <= 0)
            {
                // mb_last_error is per thread and this is the thread that just failed.
                string error = _native.TakeString(_native.LastError());
                if (error == null)
                {
                    throw new MikroBILLException(MikroBILLCode.Internal,
                        ErrorJson.Build(MikroBILLCode.Internal, "Internal error", "mb_connect failed without an error text"));
                }
                long code = JsonReader.TopLevelInteger(error, "code") ?? MikroBILLCode.Internal;
                throw new MikroBILLException(code, error);
            }
            handle.SetId(id);
            _handle = handle;
        }

        /// <summary>The path of the loaded libmikrobill.so (or its soname when found on the search path).</summary>
        public static string LibraryPath
        {
            get { return NativeLibraryLoader.Get().LoadedPath; }
        }

        /// <summary>The version libmikrobill.so reports, e.g. "0.2.0".</summary>
        public static string LibraryVersion
        {
            get { return NativeLibraryLoader.Get().VersionText; }
        }

        /// <summary>Reads <paramref name="path"/> (sends value null). Returns the reply text.</summary>
        public string Process(string path)
        {
            return Call(path, null);
        }

        /// <summary>
        /// Sends <paramref name="value"/> encoded exactly as PHP's json_encode would (see <see cref="PhpJson"/>):
        /// a string is sent as a JSON string, never parsed as JSON; use <see cref="ProcessJson"/> for raw JSON.
        /// A null value is a read.
        /// </summary>
        /// <exception cref="ArgumentException">The value cannot be encoded (NaN, infinity, unsupported type,
        /// invalid UTF-16, nesting deeper than 512).</exception>
        public string Process(string path, object value)
        {
            return Call(path, value == null ? null : PhpJson.Encode(value));
        }

        /// <summary>
        /// Sends <paramref name="valueJson"/>, any JSON text, as the value; null means a read. The library
        /// re-encodes it the way json_encode would (no whitespace, "\/", \uXXXX, key order and number text
        /// kept). Invalid JSON comes back as a JSON error with code 9005.
        /// </summary>
        public string ProcessJson(string path, string valueJson)
        {
            return Call(path, valueJson);
        }

        /// <summary>True when the server is reachable and accepts the login (connects if needed).</summary>
        public bool CheckConnection()
        {
            bool added = false;
            try
            {
                Enter(ref added);
                return _native.CheckConnection(_handle.Id) == 1;
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        /// <summary>Says DISCONNECT and closes the connection, like PHP's Close(). The object stays
        /// usable: the next call connects again. Use Dispose to release it for good.</summary>
        public void Close()
        {
            bool added = false;
            try
            {
                Enter(ref added);
                _native.Disconnect(_handle.Id);
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        /// <summary>Disconnects and releases the native handle (after any call in flight on another
        /// thread has finished). Later calls throw ObjectDisposedException. Safe to call twice.
        /// An instance that is never disposed is released by the handle's finalizer instead, which
        /// only closes the socket (no DISCONNECT) so that it never blocks on the network.</summary>
        public void Dispose()
        {
            _disposed = true;
            // Only an explicit Dispose may wait for the server's reply to DISCONNECT: the caller chose
            // to spend that time here, unlike the process-wide finalizer thread.
            _handle.MarkForGracefulClose();
            _handle.Dispose();
        }

        // Takes a reference on the handle for one native call; throws once Dispose has begun.
        private void Enter(ref bool added)
        {
            if (_disposed) throw new ObjectDisposedException(GetType().Name);
            _handle.DangerousAddRef(ref added);
        }

        // token: a cancel token from mb_token_new, or 0 for none.
        private string Call(string path, string valueJson, long token = 0)
        {
            if (path == null) throw new ArgumentNullException("path");
            byte[] pathBytes = Utf8.ToNative(path, "path");
            byte[] valueBytes = Utf8.ToNative(valueJson, "valueJson");
            bool added = false;
            try
            {
                // The reference keeps mb_close from running while this call is inside the library.
                Enter(ref added);
                IntPtr reply = token == 0
                    ? _native.Process(_handle.Id, pathBytes, valueBytes)
                    : _native.ProcessWithToken(_handle.Id, pathBytes, valueBytes, token);
                if (reply == IntPtr.Zero)
                {
                    throw new InvalidOperationException("mb_process returned NULL, which its contract rules out");
                }
                return _native.TakeString(reply);
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        private static void AppendCount(StringBuilder sb, string key, int? value)
        {
            if (value.HasValue)
            {
                sb.Append(",\"").Append(key).Append("\":").Append(value.Value.ToString(CultureInfo.InvariantCulture));
            }
        }

        /// <summary>This process's pool of persistent connections as JSON: idle, identities, and
        /// counts of connections returned, reused and closed. Closes expired ones first.</summary>
        public static string PoolStats()
        {
            NativeMethods native = NativeLibraryLoader.Get();
            return native.TakeString(native.PoolStats());
        }

        /// <summary>Closes every idle persistent connection with DISCONNECT; returns how many.</summary>
        public static long PoolClear()
        {
            return NativeLibraryLoader.Get().PoolClear();
        }

        private static string ConfigJson(string host, int port, string login, string password, string key1,
            string key2, MikroBILLOptions options)
        {
            var sb = new StringBuilder();
            sb.Append("{\"host\":").Append(PhpJson.EncodeString(host));
            sb.Append(",\"port\":").Append(port.ToString(CultureInfo.InvariantCulture));
            sb.Append(",\"login\":").Append(PhpJson.EncodeString(login));
            sb.Append(",\"password\":").Append(PhpJson.EncodeString(password));
            sb.Append(",\"key1\":").Append(PhpJson.EncodeString(key1));
            sb.Append(",\"key2\":").Append(PhpJson.EncodeString(key2));
            // The library lays out doubles as PHP's json_encode does; PhpJson hands over round-trip text.
            sb.Append(",\"php_floats\":").Append(options == null || options.PhpFloats ? "true" : "false");
            if (options != null)
            {
                if (options.ConnectTimeoutMs.HasValue)
                {
                    sb.Append(",\"connect_timeout_ms\":").Append(options.ConnectTimeoutMs.Value.ToString(CultureInfo.InvariantCulture));
                }
                if (options.IoTimeoutMs.HasValue)
                {
                    sb.Append(",\"io_timeout_ms\":").Append(options.IoTimeoutMs.Value.ToString(CultureInfo.InvariantCulture));
                }
                if (options.CallTimeoutMs.HasValue)
                {
                    sb.Append(",\"call_timeout_ms\":").Append(options.CallTimeoutMs.Value.ToString(CultureInfo.InvariantCulture));
                }
                if (options.MaxFrameBytes.HasValue)
                {
                    sb.Append(",\"max_frame_bytes\":").Append(options.MaxFrameBytes.Value.ToString(CultureInfo.InvariantCulture));
                }
                sb.Append(",\"persistent\":").Append(options.Persistent ? "true" : "false");
                sb.Append(",\"persistent_id\":").Append(PhpJson.EncodeString(options.PersistentId));
                AppendCount(sb, "pool_max_idle", options.PoolMaxIdle);
                AppendCount(sb, "pool_max_idle_total", options.PoolMaxIdleTotal);
                AppendCount(sb, "pool_idle_timeout_ms", options.PoolIdleTimeoutMs);
            }
            sb.Append('}');
            return sb.ToString();
        }
    }
}
