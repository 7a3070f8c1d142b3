using System;
using System.Runtime.InteropServices;

namespace MikroBILL
{
    // The C ABI of libmikrobill (include/mikrobill.h). Functions are bound through delegates over
    // dlsym'ed pointers rather than [DllImport], so the library can be loaded from an exact path
    // chosen at run time on both Mono and .NET Core, without a Mono dllmap.
    // Strings go in as NUL-terminated UTF-8 byte arrays (blittable, pinned for the call) and come
    // back as IntPtr that the caller must hand to mb_free.
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate long MbConnect(byte[] configJson);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate IntPtr MbLastError();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate IntPtr MbProcess(long handle, byte[] path, byte[] valueJson);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate IntPtr MbProcessWithToken(long handle, byte[] path, byte[] valueJson, long token);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int MbHandleCall(long handle);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate long MbTokenNew();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int MbTokenCall(long token);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void MbFree(IntPtr text);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate IntPtr MbVersion();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate long MbPoolClear();

    /// <summary>The bound entry points of one loaded libmikrobill.</summary>
    internal sealed class NativeMethods
    {
        internal MbConnect Connect;
        internal MbLastError LastError;
        internal MbProcess Process;
        internal MbHandleCall CheckConnection;
        internal MbHandleCall Disconnect;
        internal MbHandleCall Close;
        internal MbHandleCall Discard;
        // A cancel token reaches only the call it is given to (ProcessAsync's cancellation): cancelled
        // before that call starts, nothing is sent; during it, the call returns code 9011.
        internal MbProcessWithToken ProcessWithToken;
        internal MbTokenNew TokenNew;
        internal MbTokenCall TokenCancel;
        internal MbTokenCall TokenFree;
        internal MbFree Free;
        internal MbVersion Version;
        internal MbLastError PoolStats;
        internal MbPoolClear PoolClear;
        internal string LoadedPath;
        internal string VersionText;

        /// <summary>Reads a library-owned string and frees it, also when decoding fails.</summary>
        internal string TakeString(IntPtr text)
        {
            if (text == IntPtr.Zero) return null;
            try
            {
                return Utf8.FromNative(text);
            }
            finally
            {
                Free(text);
            }
        }
    }
}
