using System;
using System.Runtime.InteropServices;
using System.Text;

namespace MikroBILL
{
    // The C ABI (include/mikrobill.h) and the two kinds of handle it gives out. The runtime finds
    // the library by its name: mikrobill.dll on Windows, libmikrobill.so on Linux, in the package's
    // runtimes/RID/native (.NET), next to the application, or on the system's search path; Mono
    // maps the name with a dllmap (MikroBILL.dll.config) or searches LD_LIBRARY_PATH.
    public sealed partial class MikroBILL_API
    {
        private const string LibraryName = "mikrobill";

        // Every export but mb_free and mb_version returns 0 or the error's code; the error's text is
        // this thread's mb_last_error_message. Strings go in as NUL-terminated UTF-8 byte arrays
        // (blittable, pinned for the call) and come back as pointers handed to mb_free.
        private static class Native
        {
            [DllImport(LibraryName)] internal static extern int mb_connect(byte[] configJson, out long handle);
            [DllImport(LibraryName)] internal static extern int mb_process(long handle, byte[] path, byte[] valueJson, long cancelToken, out IntPtr reply);
            [DllImport(LibraryName)] internal static extern int mb_check_connection(long handle, long cancelToken);
            [DllImport(LibraryName)] internal static extern int mb_disconnect(long handle);
            [DllImport(LibraryName)] internal static extern int mb_close(long handle);
            [DllImport(LibraryName)] internal static extern int mb_discard(long handle);
            [DllImport(LibraryName)] internal static extern int mb_cancel_token_new(out long token);
            [DllImport(LibraryName)] internal static extern int mb_cancel_token_cancel(long token);
            [DllImport(LibraryName)] internal static extern int mb_cancel_token_free(long token);
            [DllImport(LibraryName)] internal static extern int mb_last_error_message(out IntPtr message);
            [DllImport(LibraryName)] internal static extern void mb_free(IntPtr text);
            [DllImport(LibraryName)] internal static extern IntPtr mb_version();
            [DllImport(LibraryName)] internal static extern int mb_pool_stats(out IntPtr statsJson);
            [DllImport(LibraryName)] internal static extern int mb_pool_clear(out long closed);
        }

        // Strict both ways: a lone surrogate going out and bad bytes coming back are errors, never U+FFFD.
        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);
        private static volatile string _libraryVersion;

        /// <summary>The version of the loaded libmikrobill, e.g. "0.3.0".</summary>
        /// <exception cref="MikroBILLLibraryException">The library is missing or incompatible.</exception>
        public static string LibraryVersion => Load();

        private static string Load()
        {
            if (_libraryVersion != null) return _libraryVersion;
            string version;
            try
            {
                // Static text, never freed.
                version = Marshal.PtrToStringAnsi(Native.mb_version());
            }
            catch (DllNotFoundException e)
            {
                throw new MikroBILLLibraryException("cannot load libmikrobill (" + e.Message + "). Put it next to the application, "
                    + "install the package's runtimes/RID/native, set LD_LIBRARY_PATH, or map \"" + LibraryName
                    + "\" to its path with a Mono dllmap", e);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new MikroBILLLibraryException("the library found is not libmikrobill (" + e.Message + ")", e);
            }
            if (!version.StartsWith(Abi.CompatiblePrefix, StringComparison.Ordinal))
            {
                throw new MikroBILLLibraryException("libmikrobill " + version + " is incompatible: this binding needs "
                    + Abi.CompatiblePrefix + "x");
            }
            return _libraryVersion = version;
        }

        /// <summary>UTF-8 bytes of <paramref name="text"/> plus a trailing NUL; null stays null.</summary>
        private static byte[] ToNative(string text, string argumentName)
        {
            if (text == null) return null;
            if (text.IndexOf('\0') >= 0) throw new ArgumentException("text passed to libmikrobill must not contain NUL characters", argumentName);
            try
            {
                return StrictUtf8.GetBytes(text + "\0");
            }
            catch (EncoderFallbackException e)
            {
                throw new ArgumentException("text is not valid UTF-16 (lone surrogate)", argumentName, e);
            }
        }

        /// <summary>Copies a NUL-terminated buffer the library gave out and frees it, also when copying fails.</summary>
        private static byte[] TakeBytes(IntPtr text)
        {
            try
            {
                // Replies are bounded by max_frame_bytes, far below int.MaxValue (MaxFrameBytesLimit);
                // checked arithmetic turns a violated bound into an exception, not a negative length.
                int length = 0;
                while (Marshal.ReadByte(text, length) != 0) length = checked(length + 1);
                var bytes = new byte[length];
                Marshal.Copy(text, bytes, 0, length);
                return bytes;
            }
            finally
            {
                Native.mb_free(text);
            }
        }

        // The library's own texts (error messages, pool stats) are UTF-8 by its contract.
        private static string TakeString(IntPtr text) => text == IntPtr.Zero ? null : StrictUtf8.GetString(TakeBytes(text));

        /// <summary>A reply as text. The library passes the server's bytes through, and a core may answer
        /// in another encoding than UTF-8: such a reply is an exception that holds its bytes, never text
        /// with U+FFFD in place of the bytes (Encoding.UTF8 and Marshal.PtrToStringUTF8 would do that).</summary>
        private static string ReplyText(byte[] reply)
        {
            try
            {
                return StrictUtf8.GetString(reply);
            }
            catch (DecoderFallbackException e)
            {
                throw new MikroBILLReplyEncodingException(reply, e);
            }
        }

        /// <summary>Throws for a non-zero code, with this thread's error text from the library.</summary>
        private static void Check(int code)
        {
            if (code == 0) return;
            IntPtr message;
            string text = Native.mb_last_error_message(out message) == 0 ? TakeString(message) : null;
            throw new MikroBILLException(code, text ?? "no error text");
        }

        /// <summary>A number the library gave out, kept in SafeHandle's IntPtr slot (64-bit on every
        /// supported platform), so that the runtime releases it exactly once, only after calls in
        /// flight on other threads have finished, and also when its owner is never disposed.</summary>
        private abstract class NativeNumber : SafeHandle
        {
            protected NativeNumber() : base(IntPtr.Zero, true)
            {
            }

            public override bool IsInvalid => handle == IntPtr.Zero;

            internal long Id => handle.ToInt64();

            // Called on a SafeHandle that already exists, so nothing can leak between the two.
            protected void Take(int code, long id)
            {
                Check(code);
                SetHandle(new IntPtr(id));
            }
        }

        /// <summary>
        /// Owns one client handle. After <see cref="Graceful"/> is set (an explicit Dispose) the
        /// release is mb_close, which says DISCONNECT and waits for the reply; otherwise (the
        /// finalizer) mb_discard, which only closes the socket: the process-wide finalizer thread
        /// must never wait on a hung server.
        /// </summary>
        private sealed class ClientHandle : NativeNumber
        {
            // Volatile: the release may run on the thread whose call in flight drops the last reference.
            internal volatile bool Graceful;

            internal ClientHandle(byte[] configJson)
            {
                long id;
                Take(Native.mb_connect(configJson, out id), id);
            }

            protected override bool ReleaseHandle() => (Graceful ? Native.mb_close(Id) : Native.mb_discard(Id)) == 0;
        }

        /// <summary>A cancel token of the library: it reaches only the call it is given to.</summary>
        private sealed class CancelToken : NativeNumber
        {
            internal CancelToken()
            {
                long id;
                Take(Native.mb_cancel_token_new(out id), id);
            }

            /// <summary>Set before the library hears of the cancel, so a 9011 that follows is known to be its doing.</summary>
            internal volatile bool Cancelled;

            /// <summary>From any thread, without waiting: the call given the token returns 9011.</summary>
            internal void Cancel()
            {
                Cancelled = true;
                Native.mb_cancel_token_cancel(Id);
            }

            protected override bool ReleaseHandle() => Native.mb_cancel_token_free(Id) == 0;
        }
    }
}
