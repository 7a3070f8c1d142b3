/*
 * Test-only helper for running the Windows build under Debian 12's Wine 8.0.
 *
 * Rust's standard library (1.78 and later) imports ProcessPrng from bcryptprimitives.dll, which
 * every supported Windows has but Wine gained only in version 9. Without it every Rust .exe and
 * .dll fails to load under Wine 8 with "import_dll Library bcryptprimitives.dll not found". This
 * DLL supplies that one function over BCryptGenRandom, which Wine 8 implements. It is built with
 * mingw and placed in the Wine prefix's system32 by the Windows test scripts; it is never shipped.
 *
 *   x86_64-w64-mingw32-gcc -O2 -shared -o bcryptprimitives.dll wine-bcryptprimitives.c \
 *       -lbcrypt -Wl,--kill-at
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE out, SIZE_T len)
{
    /* BCryptGenRandom takes a ULONG length, so large requests go in pieces. */
    while (len > 0) {
        ULONG piece = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, out, piece, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        out += piece;
        len -= piece;
    }
    return TRUE;
}
