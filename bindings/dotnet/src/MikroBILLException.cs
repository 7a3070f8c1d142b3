using System;

namespace MikroBILL
{
    /// <summary>
    /// The library refused to create a client (bad config or keys). <see cref="Code"/> is the error's
    /// code (compare with <see cref="MikroBILLCode"/>: InvalidArgument, InvalidKey, ...) and <see cref="Json"/> its full JSON text.
    /// Errors while talking to the server are not exceptions: Process returns them as JSON, like PHP.
    /// </summary>
    public class MikroBILLException : Exception
    {
        public MikroBILLException(long code, string json)
            : base(BuildMessage(code, json))
        {
            Code = code;
            Json = json;
        }

        public long Code { get; private set; }

        public string Json { get; private set; }

        private static string BuildMessage(long code, string json)
        {
            string text = JsonReader.TopLevelString(json, "return");
            return "libmikrobill error " + code + ": " + (text ?? json);
        }
    }

    /// <summary>libmikrobill could not be found, loaded, or is an incompatible version.</summary>
    public class MikroBILLLibraryException : DllNotFoundException
    {
        public MikroBILLLibraryException(string message) : base(message)
        {
        }
    }
}
