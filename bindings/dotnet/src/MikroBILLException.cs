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

    /// <summary>
    /// The server's reply is not UTF-8 (a core may answer in another encoding, such as CP1251), so a
    /// method that returns text cannot return it. The server has carried the request out: do not
    /// send it again to read the reply, <see cref="Reply"/> holds the bytes as the server sent them.
    /// Against such a core call <see cref="MikroBILL_API.ProcessBytes"/> or
    /// <see cref="MikroBILL_API.ProcessJsonBytes"/>, which return every reply as bytes.
    /// </summary>
    public class MikroBILLReplyEncodingException : Exception
    {
        public MikroBILLReplyEncodingException(byte[] reply, Exception inner)
            : base("the server's reply (" + reply.Length + " bytes) is not UTF-8; the exception's Reply holds its bytes, "
                + "and ProcessBytes and ProcessJsonBytes return replies as bytes", inner)
        {
            Reply = reply;
        }

        /// <summary>The reply's bytes, as the server sent them.</summary>
        public byte[] Reply { get; private set; }
    }

    /// <summary>libmikrobill could not be found, loaded, or is an incompatible version.</summary>
    public class MikroBILLLibraryException : DllNotFoundException
    {
        public MikroBILLLibraryException(string message, Exception inner = null) : base(message, inner)
        {
        }
    }
}
