using System;
using System.Collections.Generic;

namespace MikroBILL
{
    /// <summary>
    /// Optional connection settings: one property per key of the library's config (the properties
    /// are generated from its table, Generated.cs). A number left null uses the library's default.
    /// </summary>
    public sealed partial class MikroBILLOptions
    {
        /// <summary>The largest <see cref="MaxFrameBytes"/> this binding accepts: 1 GiB minus 1 MiB
        /// (1,072,693,248). A reply has at most as many characters as its frame has bytes and comes
        /// back as one .NET string, which holds at most 0x3FFFFFDF (1,073,741,791) characters; the
        /// MiB of margin keeps every accepted frame clear of that limit on Mono and .NET alike.</summary>
        public const long MaxFrameBytesLimit = (1L << 30) - (1L << 20);

        // The keys set so far, as the config JSON gives them to mb_connect.
        private readonly Dictionary<string, object> _values = new Dictionary<string, object>();

        internal IEnumerable<KeyValuePair<string, object>> Values => _values;

        private object Get(string key, object fallback)
        {
            object value;
            return _values.TryGetValue(key, out value) ? value : fallback;
        }

        private void Set(string key, string property, object value)
        {
            if (value == null) throw new ArgumentNullException(property);
            _values[key] = value;
        }

        // Bounds checked here so that a mistake throws where it is made, not at the constructor:
        // durations at least 1 ms, frames 16 bytes to MaxFrameBytesLimit, counts at least 0.
        private void SetNumber(string key, string property, long? value)
        {
            if (!value.HasValue)
            {
                _values.Remove(key);
                return;
            }
            long min = key.EndsWith("_ms", StringComparison.Ordinal) ? 1 : key == "max_frame_bytes" ? 16 : 0;
            if (value.Value < min)
            {
                throw new ArgumentOutOfRangeException(property, value.Value, property + " must be at least " + min);
            }
            if (key == "max_frame_bytes" && value.Value > MaxFrameBytesLimit)
            {
                throw new ArgumentOutOfRangeException(property, value.Value, property + " must be at most "
                    + MaxFrameBytesLimit + " (1 GiB - 1 MiB): a larger reply would not fit in a .NET string");
            }
            _values[key] = value.Value;
        }
    }
}
