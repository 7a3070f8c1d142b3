namespace MikroBILL
{
    /// <summary>
    /// The library's error codes by name (enum mb_code in include/mikrobill.h, whose source is
    /// src/error.rs; tests/abi_consistency.rs fails when this table differs). A failed connect
    /// reports the OS errno instead, always below 4096.
    /// </summary>
    public static class MikroBILLCode
    {
        public const long Ok = 0;
        public const long ConfigNotFound = 5;
        public const long NullResponse = 6;
        public const long Timeout = 9001;
        public const long ConnectionLost = 9002;
        public const long FrameTooLarge = 9003;
        public const long MalformedReply = 9004;
        public const long InvalidArgument = 9005;
        public const long InvalidKey = 9006;
        public const long ClosedHandle = 9007;
        public const long Internal = 9008;
        public const long HostNotResolved = 9009;
        public const long Key2RowMissing = 9010;
        public const long Cancelled = 9011;
        public const long OutOfStep = 9012;
        public const long ReplyNotJson = 9013;
    }
}
