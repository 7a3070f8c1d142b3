/* Prints who may open each file named on the command line, for tests/windows/run.sh to check that
 * mikrobill-sim.exe keeps its files of account data private:
 *   owner SID, then one line per entry of the DACL that applies to the file itself:
 *   PATH owner SID
 *   PATH allow SID MASK
 *   PATH deny SID MASK
 * and, last, `me SID`: this process's user. A file that cannot be read prints `PATH error CODE`
 * and the program exits 1. */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>

static void print_sid(PSID sid) {
    LPWSTR text = NULL;
    if (ConvertSidToStringSidW(sid, &text)) {
        wprintf(L"%ls", text);
        LocalFree(text);
    } else {
        wprintf(L"?");
    }
}

static int describe(const wchar_t *path) {
    HANDLE file = CreateFileW(path, READ_CONTROL, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                              NULL, OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (file == INVALID_HANDLE_VALUE) {
        wprintf(L"%ls error %lu\n", path, GetLastError());
        return 1;
    }
    PSID owner = NULL;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD status = GetSecurityInfo(file, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                                   &owner, NULL, &dacl, NULL, &sd);
    CloseHandle(file);
    if (status != ERROR_SUCCESS) {
        wprintf(L"%ls error %lu\n", path, status);
        return 1;
    }
    wprintf(L"%ls owner ", path);
    print_sid(owner);
    wprintf(L"\n");
    if (dacl == NULL) {
        /* No DACL: everyone may do anything. */
        wprintf(L"%ls allow S-1-1-0 0x%08lx\n", path, (unsigned long)GENERIC_ALL);
    } else {
        for (DWORD i = 0; i < dacl->AceCount; i++) {
            ACE_HEADER *header;
            if (!GetAce(dacl, i, (LPVOID *)&header) || (header->AceFlags & INHERIT_ONLY_ACE))
                continue;
            if (header->AceType == ACCESS_ALLOWED_ACE_TYPE) {
                ACCESS_ALLOWED_ACE *ace = (ACCESS_ALLOWED_ACE *)header;
                wprintf(L"%ls allow ", path);
                print_sid(&ace->SidStart);
                wprintf(L" 0x%08lx\n", ace->Mask);
            } else if (header->AceType == ACCESS_DENIED_ACE_TYPE) {
                ACCESS_DENIED_ACE *ace = (ACCESS_DENIED_ACE *)header;
                wprintf(L"%ls deny ", path);
                print_sid(&ace->SidStart);
                wprintf(L" 0x%08lx\n", ace->Mask);
            }
        }
    }
    LocalFree(sd);
    return 0;
}

int wmain(int argc, wchar_t **argv) {
    int failed = 0;
    for (int i = 1; i < argc; i++)
        failed |= describe(argv[i]);
    HANDLE token;
    BYTE buffer[512];
    DWORD size;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token) ||
        !GetTokenInformation(token, TokenUser, buffer, sizeof buffer, &size)) {
        wprintf(L"me error %lu\n", GetLastError());
        return 1;
    }
    CloseHandle(token);
    wprintf(L"me ");
    print_sid(((TOKEN_USER *)buffer)->User.Sid);
    wprintf(L"\n");
    return failed;
}
