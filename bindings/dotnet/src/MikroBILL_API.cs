using System;
using System.Collections.Generic;

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
        private readonly ClientHandle _handle;

        // SafeHandle only refuses new references once its count has drained to zero, so threads
        // that keep calling could hold the handle open forever after Dispose; this flag makes
        // every call that starts after Dispose throw, letting the count drain and mb_close run.
        private volatile bool _disposed;

        /// <summary>Creates a client with the library's default settings.</summary>
        /// <param name="key1">CRYPTO_KEY_1 (base64 of a 16, 24 or 32 byte AES key), from MikroBILL's config.php.</param>
        /// <param name="key2">CRYPTO_KEY_2 (base64 of the 16 byte IV), from the workparams table.</param>
        /// <exception cref="MikroBILLException">The library refused the settings (e.g. code 9006 for a
        /// malformed key, 9005 for a port outside 1..65535). Nothing is sent to the server here.</exception>
        /// <exception cref="MikroBILLLibraryException">libmikrobill is missing or incompatible.</exception>
        public MikroBILL_API(string host, int port, string login, string password, string key1, string key2)
            : this(host, port, login, password, key1, key2, null)
        {
        }

        /// <summary>Creates a client; <paramref name="options"/> may be null for the defaults.</summary>
        public MikroBILL_API(string host, int port, string login, string password, string key1, string key2,
            MikroBILLOptions options)
            : this(host, port, login, "password", Required(password, "password"), key1, key2, options)
        {
        }

        /// <summary>Creates a client whose password is bytes rather than text: the login hash is taken
        /// over exactly these bytes, as the original PHP client takes it over a password saved in
        /// CP1251. Use it when the cashier's password is not UTF-8 (with .NET Core,
        /// <c>Encoding.GetEncoding(1251).GetBytes(text)</c> once <c>CodePagesEncodingProvider</c> is
        /// registered). The bytes are never shown in an error.</summary>
        public MikroBILL_API(string host, int port, string login, byte[] password, string key1, string key2)
            : this(host, port, login, password, key1, key2, null)
        {
        }

        /// <summary>The byte password of the constructor above, with options (null for the defaults).</summary>
        public MikroBILL_API(string host, int port, string login, byte[] password, string key1, string key2,
            MikroBILLOptions options)
            : this(host, port, login, "password_base64", Convert.ToBase64String(Required(password, "password")), key1, key2, options)
        {
        }

        // passwordKey is the config's "password" (text) or "password_base64" (bytes).
        private MikroBILL_API(string host, int port, string login, string passwordKey, string passwordValue,
            string key1, string key2, MikroBILLOptions options)
        {
            // The PHP class can read missing keys from MikroBILL's config.php and database; a .NET
            // process has no such web root, so both keys are required here.
            var config = new Dictionary<string, object>
            {
                { "host", Required(host, "host") }, { "port", port }, { "login", Required(login, "login") },
                { passwordKey, passwordValue }, { "key1", Required(key1, "key1") }, { "key2", Required(key2, "key2") },
            };
            foreach (KeyValuePair<string, object> option in (options ?? new MikroBILLOptions()).Values) config[option.Key] = option.Value;
            Load(); // a missing or incompatible library fails here, named
            _handle = new ClientHandle(ToNative(Json.Write(config), "config"));
        }

        private static T Required<T>(T value, string name) where T : class
        {
            if (value == null) throw new ArgumentNullException(name);
            return value;
        }

        /// <summary>Reads <paramref name="path"/> (sends value null). Returns the reply text.</summary>
        /// <exception cref="MikroBILLReplyEncodingException">The reply is not UTF-8 (see <see cref="ProcessBytes"/>).</exception>
        public string Process(string path) => ReplyText(Call(path, null, null));

        /// <summary>
        /// Sends <paramref name="value"/> as JSON, which the library encodes exactly as PHP's json_encode
        /// would: a string is sent as a JSON string, never parsed as JSON (use <see cref="ProcessJson"/>
        /// for raw JSON). A null value is a read.
        /// </summary>
        /// <exception cref="ArgumentException">The value cannot be sent (NaN, infinity, unsupported type,
        /// invalid UTF-16, nesting deeper than 512).</exception>
        /// <exception cref="MikroBILLReplyEncodingException">The reply is not UTF-8 (see <see cref="ProcessBytes"/>).</exception>
        public string Process(string path, object value) => ReplyText(Call(path, Json.Write(value), null));

        /// <summary>
        /// Sends <paramref name="valueJson"/>, any JSON text, as the value; null means a read. The library
        /// re-encodes it the way json_encode would (no whitespace, "\/", \uXXXX, key order and number text
        /// kept). Invalid JSON comes back as a JSON error with code 9005.
        /// </summary>
        /// <exception cref="MikroBILLReplyEncodingException">The reply is not UTF-8 (see <see cref="ProcessBytes"/>).</exception>
        public string ProcessJson(string path, string valueJson) => ReplyText(Call(path, valueJson, null));

        /// <summary>
        /// <see cref="Process(string, object)"/> (a null value reads) returning the reply's bytes as the
        /// server sent them, UTF-8 or not: for a core that answers in another encoding, such as CP1251,
        /// whose text the caller decodes (e.g. <c>Encoding.GetEncoding(1251)</c>, which .NET Core has
        /// once the application registers <c>CodePagesEncodingProvider</c>, and Mono with its I18N
        /// assemblies). The library's own error JSON is UTF-8.
        /// </summary>
        public byte[] ProcessBytes(string path, object value = null) => Call(path, Json.Write(value), null);

        /// <summary><see cref="ProcessJson"/> returning the reply's bytes; see <see cref="ProcessBytes"/>.</summary>
        public byte[] ProcessJsonBytes(string path, string valueJson) => Call(path, valueJson, null);

        /// <summary>True when the server is reachable and accepts the login (connects if needed).</summary>
        public bool CheckConnection() => OnHandle(id => Native.mb_check_connection(id, 0)) == 0;

        /// <summary>Says DISCONNECT and closes the connection, like PHP's Close(). The object stays
        /// usable: the next call connects again. Use Dispose to release it for good.</summary>
        public void Close()
        {
            // Like PHP's Close(), a failure to say goodbye is no error: the connection is closed either way.
            OnHandle(Native.mb_disconnect);
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
            _handle.Graceful = true;
            _handle.Dispose();
        }

        // One native call on the handle, holding a reference that keeps mb_close from running while
        // the call is inside the library; throws once Dispose has begun.
        private int OnHandle(Func<long, int> call)
        {
            if (_disposed) throw new ObjectDisposedException(GetType().Name);
            bool added = false;
            try
            {
                _handle.DangerousAddRef(ref added);
                return call(_handle.Id);
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        // The reply's bytes, whatever the reply's code; for a failed call the library's error JSON.
        // A call that returned 9011 because its token was cancelled throws OperationCanceledException.
        private byte[] Call(string path, string valueJson, CancelToken token)
        {
            if (path == null) throw new ArgumentNullException("path");
            byte[] pathBytes = ToNative(path, "path");
            byte[] valueBytes = ToNative(valueJson, "valueJson");
            IntPtr reply = IntPtr.Zero;
            int code = OnHandle(id => Native.mb_process(id, pathBytes, valueBytes, token == null ? 0 : token.Id, out reply));
            if (reply == IntPtr.Zero)
            {
                Check(code);
                throw new MikroBILLException(MikroBILLCode.Internal, "mb_process succeeded without a reply");
            }
            byte[] bytes = TakeBytes(reply);
            if (code == MikroBILLCode.Cancelled && token != null && token.Cancelled) throw new OperationCanceledException();
            return bytes;
        }

        /// <summary>This process's pool of persistent connections as JSON: idle, identities, and
        /// counts of connections returned, reused and closed.</summary>
        public static string PoolStats()
        {
            Load();
            IntPtr stats;
            Check(Native.mb_pool_stats(out stats));
            return TakeString(stats);
        }

        /// <summary>Closes every idle persistent connection with DISCONNECT; returns how many.</summary>
        public static long PoolClear()
        {
            Load();
            long closed;
            Check(Native.mb_pool_clear(out closed));
            return closed;
        }
    }
}
