using System;

namespace MikroBILL
{
    /// <summary>
    /// Optional connection settings. A property left null uses the library default
    /// (5000 ms connect timeout, 5000 ms I/O timeout, 30000 ms call timeout, 64 MiB frame limit).
    /// </summary>
    public sealed class MikroBILLOptions
    {
        private int? _connectTimeoutMs;
        private int? _ioTimeoutMs;
        private int? _callTimeoutMs;
        private long? _maxFrameBytes;
        private string _persistentId = "";
        private int? _poolMaxIdle;
        private int? _poolMaxIdleTotal;
        private int? _poolIdleTimeoutMs;

        /// <summary>When true, Dispose and the finalizer leave the authenticated connection in this
        /// process's pool for the next client with the same host, port, login, password, keys,
        /// settings and <see cref="PersistentId"/>, instead of saying DISCONNECT (default false).</summary>
        public bool Persistent { get; set; }

        /// <summary>Separates pools of otherwise identical settings (default "").</summary>
        public string PersistentId
        {
            get { return _persistentId; }
            set
            {
                if (value == null) throw new ArgumentNullException("PersistentId");
                _persistentId = value;
            }
        }

        /// <summary>Idle pooled connections kept per identity (default 4; 0 keeps none).</summary>
        public int? PoolMaxIdle
        {
            get { return _poolMaxIdle; }
            set { _poolMaxIdle = AtLeast(value, 0, "PoolMaxIdle"); }
        }

        /// <summary>Idle pooled connections kept in all (default 64).</summary>
        public int? PoolMaxIdleTotal
        {
            get { return _poolMaxIdleTotal; }
            set { _poolMaxIdleTotal = AtLeast(value, 0, "PoolMaxIdleTotal"); }
        }

        /// <summary>Milliseconds a connection may wait in the pool before it is closed with
        /// DISCONNECT (default 60000, at least 1).</summary>
        public int? PoolIdleTimeoutMs
        {
            get { return _poolIdleTimeoutMs; }
            set { _poolIdleTimeoutMs = AtLeast(value, 1, "PoolIdleTimeoutMs"); }
        }

        /// <summary>TCP connect timeout in milliseconds (at least 1).</summary>
        public int? ConnectTimeoutMs
        {
            get { return _connectTimeoutMs; }
            set { _connectTimeoutMs = AtLeast(value, 1, "ConnectTimeoutMs"); }
        }

        /// <summary>Timeout in milliseconds for each read or write on the socket (at least 1); the
        /// wait for a reply restarts whenever bytes arrive, like the original client.</summary>
        public int? IoTimeoutMs
        {
            get { return _ioTimeoutMs; }
            set { _ioTimeoutMs = AtLeast(value, 1, "IoTimeoutMs"); }
        }

        /// <summary>Limit in milliseconds for a whole call (at least 1): connecting, auth, sending and
        /// the whole reply, however slowly its bytes arrive. A call past it returns code 9001.</summary>
        public int? CallTimeoutMs
        {
            get { return _callTimeoutMs; }
            set { _callTimeoutMs = AtLeast(value, 1, "CallTimeoutMs"); }
        }

        private bool _phpFloats = true;

        /// <summary>True (the default): every non-integer number of a value, from
        /// <see cref="MikroBILL_API.Process(string, object)"/> or raw <see cref="MikroBILL_API.ProcessJson"/>
        /// text, reaches the server as PHP's json_encode writes that double (1e25 as 1.0e+25, 2.50 as
        /// 2.5). False sends number text as given, which for a .NET double is its round-trip form
        /// (1E+25), not PHP's.</summary>
        public bool PhpFloats
        {
            get { return _phpFloats; }
            set { _phpFloats = value; }
        }

        /// <summary>The largest <see cref="MaxFrameBytes"/> this binding accepts: 1 GiB minus 1 MiB
        /// (1,072,693,248). A reply has at most as many characters as its frame has bytes and comes
        /// back as one .NET string, which holds at most 0x3FFFFFDF (1,073,741,791) characters; the
        /// MiB of margin keeps every accepted frame clear of that limit on Mono and .NET alike, and
        /// the byte count far below int.MaxValue, which the reply decoder counts in.</summary>
        public const long MaxFrameBytesLimit = (1L << 30) - (1L << 20);

        /// <summary>Largest reply frame accepted, in bytes (16 to <see cref="MaxFrameBytesLimit"/>).
        /// Larger announced frames give error 9003 instead of a huge allocation.</summary>
        public long? MaxFrameBytes
        {
            get { return _maxFrameBytes; }
            set { _maxFrameBytes = AtMost(AtLeast(value, 16, "MaxFrameBytes"), MaxFrameBytesLimit, "MaxFrameBytes"); }
        }

        private static int? AtLeast(int? value, int min, string name)
        {
            if (value.HasValue && value.Value < min)
            {
                throw new ArgumentOutOfRangeException(name, value.Value, name + " must be at least " + min);
            }
            return value;
        }

        private static long? AtMost(long? value, long max, string name)
        {
            if (value.HasValue && value.Value > max)
            {
                throw new ArgumentOutOfRangeException(name, value.Value, name + " must be at most " + max
                    + " (1 GiB - 1 MiB): a larger reply would not fit in a .NET string");
            }
            return value;
        }

        private static long? AtLeast(long? value, long min, string name)
        {
            if (value.HasValue && value.Value < min)
            {
                throw new ArgumentOutOfRangeException(name, value.Value, name + " must be at least " + min);
            }
            return value;
        }
    }
}
