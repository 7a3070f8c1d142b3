using System;
using System.Runtime.InteropServices;

namespace MikroBILL
{
    /// <summary>
    /// Owns one libmikrobill handle. The handle is a registry integer, not a pointer; it is kept in
    /// SafeHandle's IntPtr slot (64-bit on every supported platform) so the runtime's reference counting
    /// guarantees the handle is released exactly once, only after calls in flight on other threads have
    /// finished, and also when the owner is never disposed (critical finalizer).
    /// How it is released depends on who releases it: after <see cref="MarkForGracefulClose"/> (an
    /// explicit Dispose) with mb_close, which says DISCONNECT and waits up to io_timeout for the reply;
    /// otherwise (the finalizer) with mb_discard, which only closes the socket. The finalizer thread is
    /// shared by the whole process, so it must never wait on a server that may be hung.
    /// </summary>
    internal sealed class MikroBILLHandle : SafeHandle
    {
        private readonly NativeMethods _native;

        // Set by the owner's Dispose before it disposes this handle. Volatile because the release may
        // run on another thread: the one whose call in flight drops the last reference.
        private volatile bool _graceful;

        internal MikroBILLHandle(NativeMethods native)
            : base(IntPtr.Zero, true)
        {
            _native = native;
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        internal long Id
        {
            get { return handle.ToInt64(); }
        }

        internal void SetId(long id)
        {
            SetHandle(new IntPtr(id));
        }

        /// <summary>Asks for mb_close (DISCONNECT, then wait for the reply) instead of mb_discard when
        /// the handle is released. Only an explicit Dispose calls this; a finalized handle never has it.</summary>
        internal void MarkForGracefulClose()
        {
            _graceful = true;
        }

        protected override bool ReleaseHandle()
        {
            long id = handle.ToInt64();
            // 0 on success; 9007 would mean the handle was already gone, which this class never causes.
            return (_graceful ? _native.Close(id) : _native.Discard(id)) == 0;
        }
    }
}
