using System;

namespace MikroBILL
{
    /// <summary>
    /// Optional connection settings. A property left null uses the library default
    /// (5000 ms connect timeout, 5000 ms I/O timeout, 64 MiB frame limit).
    /// </summary>
    public sealed class MikroBILLOptions
    {
        private int? _connectTimeoutMs;
        private int? _ioTimeoutMs;
        private long? _maxFrameBytes;

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

        /// <summary>Largest reply frame accepted, in bytes (at least 16). Larger announced frames
        /// give error 9003 instead of a huge allocation.</summary>
        public long? MaxFrameBytes
        {
            get { return _maxFrameBytes; }
            set { _maxFrameBytes = AtLeast(value, 16, "MaxFrameBytes"); }
        }

        private static int? AtLeast(int? value, int min, string name)
        {
            if (value.HasValue && value.Value < min)
            {
                throw new ArgumentOutOfRangeException(name, value.Value, name + " must be at least " + min);
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
