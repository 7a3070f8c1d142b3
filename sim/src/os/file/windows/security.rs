//! The Win32 security objects `mod.rs` reads and writes, each behind a type that owns its memory:
//! SIDs, this process's own SIDs, what a handle's security descriptor says, and the private
//! descriptor given to files of account data.

use std::io;
use std::mem::size_of;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::ptr;

use windows_sys::Win32::Foundation::{LocalFree, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSidToSidW, GetSecurityInfo, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    AclSizeInformation, AddAccessAllowedAce, CreateWellKnownSid, EqualSid, GetAce,
    GetAclInformation, GetLengthSid, GetTokenInformation, InitializeAcl,
    InitializeSecurityDescriptor, LookupAccountSidW, SetSecurityDescriptorControl,
    SetSecurityDescriptorDacl, TokenOwner, TokenUser, WinLocalSystemSid, ACCESS_ALLOWED_ACE,
    ACE_HEADER, ACL, ACL_REVISION, ACL_SIZE_INFORMATION, INHERIT_ONLY_ACE,
    OBJECT_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SECURITY_DESCRIPTOR,
    SECURITY_MAX_SID_SIZE, SE_DACL_PROTECTED, TOKEN_INFORMATION_CLASS, TOKEN_QUERY,
    WELL_KNOWN_SID_TYPE,
};
use windows_sys::Win32::Storage::FileSystem::FILE_ALL_ACCESS;
use windows_sys::Win32::System::SystemServices::{
    ACCESS_ALLOWED_ACE_TYPE, SECURITY_DESCRIPTOR_REVISION,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// A SID in memory of our own, in u32 words (a SID's alignment).
pub struct Sid(Vec<u32>);

impl Sid {
    /// # Safety
    /// `sid` must point to a valid SID.
    unsafe fn copy_of(sid: PSID) -> Sid {
        // SAFETY: the caller's promise; GetLengthSid reads the SID's header only.
        let len = unsafe { GetLengthSid(sid) } as usize;
        let mut words = vec![0u32; len.div_ceil(4)];
        // SAFETY: `len` bytes are readable at `sid` and writable in `words`; they do not overlap.
        unsafe { ptr::copy_nonoverlapping(sid as *const u8, words.as_mut_ptr().cast(), len) };
        Sid(words)
    }

    pub fn well_known(kind: WELL_KNOWN_SID_TYPE) -> io::Result<Sid> {
        let mut words = vec![0u32; SECURITY_MAX_SID_SIZE as usize / 4];
        let mut size = SECURITY_MAX_SID_SIZE;
        // SAFETY: the buffer holds `size` bytes, as passed; the kinds asked for need no domain.
        let made = unsafe {
            CreateWellKnownSid(kind, ptr::null_mut(), words.as_mut_ptr().cast(), &mut size)
        };
        if made == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Sid(words))
    }

    /// The SID written as `S-1-...`, for an account no WELL_KNOWN_SID_TYPE names.
    pub fn from_text(text: &str) -> io::Result<Sid> {
        let wide: Vec<u16> = text.encode_utf16().chain(Some(0)).collect();
        let mut sid: PSID = ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated; the call allocates the SID with LocalAlloc and stores
        // it in `sid`.
        if unsafe { ConvertStringSidToSidW(wide.as_ptr(), &mut sid) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `sid` is the valid SID just allocated; it is copied, then freed once.
        unsafe {
            let copy = Sid::copy_of(sid);
            LocalFree(sid);
            Ok(copy)
        }
    }

    /// For calls that take a PSID and only read it.
    fn as_psid(&self) -> PSID {
        self.0.as_ptr() as PSID
    }

    fn len(&self) -> usize {
        // SAFETY: the words hold a valid SID (copied or made by CreateWellKnownSid).
        unsafe { GetLengthSid(self.as_psid()) as usize }
    }

    pub fn is(&self, other: &Sid) -> bool {
        // SAFETY: both are valid SIDs; EqualSid only reads them.
        unsafe { EqualSid(self.as_psid(), other.as_psid()) != 0 }
    }

    /// `DOMAIN\name (S-1-5-21-...)`, or the SID alone for an account this machine cannot name,
    /// for error messages.
    pub fn describe(&self) -> String {
        match self.account_name() {
            Some(name) => format!("{name} ({})", self.text()),
            None => self.text(),
        }
    }

    fn account_name(&self) -> Option<String> {
        let mut name = [0u16; 256];
        let mut domain = [0u16; 256];
        let (mut name_len, mut domain_len) = (name.len() as u32, domain.len() as u32);
        let mut kind = 0;
        // SAFETY: the SID is valid and only read; both buffers hold the lengths passed, which the
        // call sets to the lengths written (without the NUL).
        let found = unsafe {
            LookupAccountSidW(
                ptr::null(),
                self.as_psid(),
                name.as_mut_ptr(),
                &mut name_len,
                domain.as_mut_ptr(),
                &mut domain_len,
                &mut kind,
            )
        } != 0;
        if !found {
            return None;
        }
        let name = String::from_utf16_lossy(&name[..name_len as usize]);
        let domain = String::from_utf16_lossy(&domain[..domain_len as usize]);
        Some(if domain.is_empty() {
            name
        } else {
            format!("{domain}\\{name}")
        })
    }

    /// `S-1-5-21-...`, as the Windows tools print a SID.
    fn text(&self) -> String {
        let mut text: windows_sys::core::PWSTR = ptr::null_mut();
        // SAFETY: the SID is valid; the call allocates the string with LocalAlloc and stores it.
        if unsafe { ConvertSidToStringSidW(self.as_psid(), &mut text) } == 0 {
            return "an account whose SID cannot be printed".to_string();
        }
        // SAFETY: `text` is the NUL-terminated string just allocated; it is read up to its NUL,
        // then freed once.
        unsafe {
            let len = (0..).take_while(|&i| *text.add(i) != 0).count();
            let result = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
            LocalFree(text.cast());
            result
        }
    }
}

/// This process's user, and the owner it gives what it creates (for an elevated administrator
/// that is the Administrators group): a file owned by either is this process's own.
pub struct Me {
    pub user: Sid,
    default_owner: Sid,
}

impl Me {
    pub fn current() -> io::Result<Me> {
        let mut token: HANDLE = ptr::null_mut();
        // SAFETY: the pseudo-handle of the current process needs no closing; `token` is writable.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a handle OpenProcessToken just returned, owned by nothing else; closed on drop.
        let token = unsafe { OwnedHandle::from_raw_handle(token) };
        Ok(Me {
            user: token_sid(&token, TokenUser)?,
            default_owner: token_sid(&token, TokenOwner)?,
        })
    }

    pub fn owns(&self, sid: &Sid) -> bool {
        self.user.is(sid) || self.default_owner.is(sid)
    }
}

/// The SID a TOKEN_USER or TOKEN_OWNER holds: both start with the SID's pointer.
fn token_sid(token: &OwnedHandle, class: TOKEN_INFORMATION_CLASS) -> io::Result<Sid> {
    let token = token.as_raw_handle() as HANDLE;
    let mut needed = 0u32;
    // SAFETY: a size query: no buffer is passed, and `needed` is writable. It fails by design
    // (ERROR_INSUFFICIENT_BUFFER) and stores the size.
    unsafe { GetTokenInformation(token, class, ptr::null_mut(), 0, &mut needed) };
    // u64 words: the structure starts with a pointer.
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    // SAFETY: the buffer holds at least `needed` bytes, as passed.
    let read = unsafe {
        GetTokenInformation(
            token,
            class,
            buffer.as_mut_ptr().cast(),
            (buffer.len() * 8) as u32,
            &mut needed,
        )
    };
    if read == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: TOKEN_USER (SID_AND_ATTRIBUTES first) and TOKEN_OWNER both begin with a PSID that
    // points to a valid SID inside `buffer`, which is alive while it is copied.
    Ok(unsafe { Sid::copy_of(*(buffer.as_ptr() as *const PSID)) })
}

/// What GetSecurityInfo read of an open handle; the descriptor it allocated is freed on drop.
pub struct SecurityInfo {
    owner: PSID,
    dacl: *mut ACL,
    descriptor: PSECURITY_DESCRIPTOR,
}

impl SecurityInfo {
    /// `handle` must be open with READ_CONTROL.
    pub fn of(handle: HANDLE, what: OBJECT_SECURITY_INFORMATION) -> io::Result<SecurityInfo> {
        let mut info = SecurityInfo {
            owner: ptr::null_mut(),
            dacl: ptr::null_mut(),
            descriptor: ptr::null_mut(),
        };
        // SAFETY: GetSecurityInfo checks the handle itself; the out-pointers are writable and end
        // up pointing into the descriptor, which `info` frees.
        let status = unsafe {
            GetSecurityInfo(
                handle,
                SE_FILE_OBJECT,
                what,
                &mut info.owner,
                ptr::null_mut(),
                &mut info.dacl,
                ptr::null_mut(),
                &mut info.descriptor,
            )
        };
        if status != 0 {
            return Err(io::Error::from_raw_os_error(status as i32));
        }
        Ok(info)
    }

    /// The owner, when it was asked for.
    pub fn owner(&self) -> Option<Sid> {
        // SAFETY: a non-null owner points into the descriptor this value holds.
        (!self.owner.is_null()).then(|| unsafe { Sid::copy_of(self.owner) })
    }

    /// The DACL's allowing entries that apply to the object itself (not those only for what a
    /// folder holds), as (access mask, grantee); None when it has no DACL, which allows everyone
    /// everything. Denying entries are left out: what they take away is not counted.
    pub fn allowed(&self) -> io::Result<Option<Vec<(u32, Sid)>>> {
        if self.dacl.is_null() {
            return Ok(None);
        }
        let mut size = ACL_SIZE_INFORMATION {
            AceCount: 0,
            AclBytesInUse: 0,
            AclBytesFree: 0,
        };
        // SAFETY: the DACL lies in the descriptor this value holds; `size` is writable and of
        // the size passed.
        let read = unsafe {
            GetAclInformation(
                self.dacl,
                (&mut size as *mut ACL_SIZE_INFORMATION).cast(),
                size_of::<ACL_SIZE_INFORMATION>() as u32,
                AclSizeInformation,
            )
        };
        if read == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut entries = Vec::new();
        for index in 0..size.AceCount {
            let mut ace: *mut core::ffi::c_void = ptr::null_mut();
            // SAFETY: `index` is below the count the ACL reported; GetAce stores a pointer into it.
            if unsafe { GetAce(self.dacl, index, &mut ace) } == 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: every ACE starts with an ACE_HEADER, and GetAce returned a valid ACE.
            let header = unsafe { *(ace as *const ACE_HEADER) };
            if u32::from(header.AceType) != ACCESS_ALLOWED_ACE_TYPE
                || u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0
            {
                continue;
            }
            let allowed = ace as *const ACCESS_ALLOWED_ACE;
            // SAFETY: the header says this is an ACCESS_ALLOWED_ACE, whose SID starts at SidStart
            // and lies within the ACE.
            let entry = unsafe {
                (
                    (*allowed).Mask,
                    Sid::copy_of(ptr::addr_of!((*allowed).SidStart) as PSID),
                )
            };
            entries.push(entry);
        }
        Ok(Some(entries))
    }
}

impl Drop for SecurityInfo {
    fn drop(&mut self) {
        if !self.descriptor.is_null() {
            // SAFETY: allocated by GetSecurityInfo with LocalAlloc, freed once.
            unsafe { LocalFree(self.descriptor) };
        }
    }
}

/// A security descriptor whose protected DACL grants full access to this process's user and to
/// SYSTEM (the system itself, as root is on Unix) and to nobody else, with nothing inherited from
/// the folder.
pub struct PrivateDescriptor {
    descriptor: Box<SECURITY_DESCRIPTOR>,
    /// The DACL, which `descriptor` points to.
    _acl: Vec<u32>,
}

impl PrivateDescriptor {
    pub fn new(me: &Me) -> io::Result<PrivateDescriptor> {
        let system = Sid::well_known(WinLocalSystemSid)?;
        let mut grantees = vec![&me.user];
        if !me.user.is(&system) {
            grantees.push(&system);
        }
        // An ACCESS_ALLOWED_ACE ends with the SID's first word (SidStart), then the rest of it.
        let size = size_of::<ACL>()
            + grantees
                .iter()
                .map(|sid| size_of::<ACCESS_ALLOWED_ACE>() - size_of::<u32>() + sid.len())
                .sum::<usize>();
        let mut acl = vec![0u32; size.div_ceil(4)];
        let acl_ptr: *mut ACL = acl.as_mut_ptr().cast();
        // SAFETY: `acl` holds `size` bytes, as passed, and is aligned for an ACL.
        if unsafe { InitializeAcl(acl_ptr, size as u32, ACL_REVISION) } == 0 {
            return Err(io::Error::last_os_error());
        }
        for sid in grantees {
            // SAFETY: the ACL was sized for these entries; the SID is valid and only read.
            let added = unsafe {
                AddAccessAllowedAce(acl_ptr, ACL_REVISION, FILE_ALL_ACCESS, sid.as_psid())
            };
            if added == 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: SECURITY_DESCRIPTOR is plain data (integers and pointers), so all zeroes is a
        // valid value; InitializeSecurityDescriptor sets it up.
        let mut descriptor: Box<SECURITY_DESCRIPTOR> = Box::new(unsafe { std::mem::zeroed() });
        let sd: PSECURITY_DESCRIPTOR = (&mut *descriptor as *mut SECURITY_DESCRIPTOR).cast();
        // SAFETY: `sd` is a writable SECURITY_DESCRIPTOR; the DACL it is given lives in `acl`,
        // which moves into the result with it (a Vec's buffer does not move).
        let built = unsafe {
            InitializeSecurityDescriptor(sd, SECURITY_DESCRIPTOR_REVISION) != 0
                && SetSecurityDescriptorDacl(sd, 1, acl_ptr, 0) != 0
                && SetSecurityDescriptorControl(sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED) != 0
        };
        if !built {
            return Err(io::Error::last_os_error());
        }
        Ok(PrivateDescriptor {
            descriptor,
            _acl: acl,
        })
    }

    /// For calls that only read the descriptor.
    pub fn as_ptr(&self) -> PSECURITY_DESCRIPTOR {
        (&*self.descriptor as *const SECURITY_DESCRIPTOR) as PSECURITY_DESCRIPTOR
    }
}
