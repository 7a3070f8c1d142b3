using System;
using System.Runtime.InteropServices;

namespace MikroBILL
{
    /// <summary>
    /// Owns one libmikrobill handle. The handle is a registry integer, not a pointer; it is kept in
    /// SafeHandle's IntPtr slot (64-bit on every supported platform) so the runtime's reference counting
    /// guarantees mb_close runs exactly once, only after calls in flight on other threads have
    /// finished, and also when the owner is never disposed (critical finalizer).
    /// </summary>
    internal sealed class MikroBILLHandle : SafeHandle
    {
        private readonly NativeMethods _native;

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

        protected override bool ReleaseHandle()
        {
            // 0 on success; 9007 would mean the handle was already gone, which this class never causes.
            return _native.Close(handle.ToInt64()) == 0;
        }
    }
}
