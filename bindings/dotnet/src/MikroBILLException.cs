using System;

namespace MikroBILL
{
    /// <summary>
    /// The library refused a request that is not a call to the server: creating a client (bad
    /// config or keys), or a pool or token operation. <see cref="Code"/> is the library's return
    /// value (compare with <see cref="MikroBILLCode"/>: InvalidArgument, InvalidKey, ...) and the
    /// message carries its error text (mb_last_error_message). Errors while talking to the server
    /// are not exceptions: Process returns them as JSON, like PHP.
    /// </summary>
    public class MikroBILLException : Exception
    {
        public MikroBILLException(long code, string text)
            : base("libmikrobill error " + code + ": " + text)
        {
            Code = code;
        }

        public long Code { get; private set; }
    }

    /// <summary>libmikrobill could not be found, loaded, or is an incompatible version.</summary>
    public class MikroBILLLibraryException : DllNotFoundException
    {
        public MikroBILLLibraryException(string message, Exception inner = null) : base(message, inner)
        {
        }
    }
}
