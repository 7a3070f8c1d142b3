/*
 * A stand-in for bcryptprimitives.dll, for wine 8 only (Debian 12's wine lacks it; Windows 10 and
 * later ship it). Rust's standard library takes its random numbers (HashMap seeds) from
 * ProcessPrng there; this forwards to BCryptGenRandom, which wine 8 has. tests/windows/run.sh
 * puts it next to the test programs; it is never shipped.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
