//! A handle's cipher on its own, for the original PHP client's public `Encrypt($txt)` and
//! `Decrypt($txt)`, which extensions may call: the shim hands them to the library instead of
//! writing the cipher again in PHP.

use std::ffi::{c_char, c_int, c_longlong};

use super::boundary::{self, LastError};
use super::handles::cipher_of;
use super::out_arg;
use super::strings::give_bytes;
use crate::error::Error;
use crate::protocol::crypto::BLOCK;

/// Encrypts `len` bytes at `data` with the handle's keys as the original client's `Encrypt`
/// does (mcrypt, AES-CBC with the fixed IV): zero-padded to whole blocks, and an empty input is
/// one block of zeros. Writes the raw ciphertext to `*ciphertext_out` (free it with `mb_free`)
/// and its length to `*ciphertext_len_out`. Nothing is sent. Error 9005 for a NULL `data` with
/// a non-zero `len`, a negative `len` or a NULL out-parameter; 9007 for an unknown handle.
///
/// # Safety
/// `data` is NULL or valid for reading `len` bytes; the out-parameters are NULL or valid for
/// writing one `char *` and one `long long`.
#[no_mangle]
pub unsafe extern "C" fn mb_encrypt(
    handle: c_longlong,
    data: *const c_char,
    len: c_longlong,
    ciphertext_out: *mut *mut c_char,
    ciphertext_len_out: *mut c_longlong,
) -> c_int {
    boundary::status("mb_encrypt", LastError::ClearedOnSuccess, || {
        // SAFETY: the caller promises NULL or writable out-parameters.
        let (out, len_out) = unsafe { outs(ciphertext_out, ciphertext_len_out) }?;
        // SAFETY: the caller promises `data` is valid for `len` bytes.
        let input = unsafe { bytes_arg(data, len) }?;
        let ciphertext = cipher_of(handle)?.encrypt(&padded_like_mcrypt(input));
        (*out, *len_out) = handed(ciphertext);
        Ok(())
    })
}

/// Decrypts `len` bytes at `data` with the handle's keys as the original client's `Decrypt`
/// does: zero-padded to whole blocks first (an empty input is one block of zeros), and the
/// plaintext's NUL bytes trimmed from both ends. Writes the plaintext to `*plaintext_out` (free
/// it with `mb_free`; it may hold NUL bytes, so read `*plaintext_len_out` bytes) and its length
/// to `*plaintext_len_out`. Errors as for `mb_encrypt`.
///
/// # Safety
/// As for `mb_encrypt`.
#[no_mangle]
pub unsafe extern "C" fn mb_decrypt(
    handle: c_longlong,
    data: *const c_char,
    len: c_longlong,
    plaintext_out: *mut *mut c_char,
    plaintext_len_out: *mut c_longlong,
) -> c_int {
    boundary::status("mb_decrypt", LastError::ClearedOnSuccess, || {
        // SAFETY: the caller promises NULL or writable out-parameters.
        let (out, len_out) = unsafe { outs(plaintext_out, plaintext_len_out) }?;
        // SAFETY: the caller promises `data` is valid for `len` bytes.
        let input = unsafe { bytes_arg(data, len) }?;
        let plaintext = cipher_of(handle)?
            .decrypt_owned(padded_like_mcrypt(input))
            .ok_or_else(|| Error::Internal("padded input is whole blocks".into()))?;
        (*out, *len_out) = handed(plaintext);
        Ok(())
    })
}

/// # Safety
/// Both are NULL or valid for writing.
unsafe fn outs<'a>(
    bytes: *mut *mut c_char,
    len: *mut c_longlong,
) -> Result<(&'a mut *mut c_char, &'a mut c_longlong), Error> {
    // SAFETY: the caller's promise, passed on.
    let bytes = unsafe { out_arg(bytes, "the output pointer") }?;
    // SAFETY: as above.
    let len = unsafe { out_arg(len, "the output length") }?;
    Ok((bytes, len))
}

/// # Safety
/// `data` is NULL or valid for reading `len` bytes for the duration of the call.
unsafe fn bytes_arg<'a>(data: *const c_char, len: c_longlong) -> Result<&'a [u8], Error> {
    let len = usize::try_from(len)
        .map_err(|_| Error::InvalidArgument(format!("len is negative ({len})")))?;
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Error::InvalidArgument("data is NULL".into()));
    }
    // SAFETY: not NULL, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// mcrypt's rule: zero bytes up to whole blocks, and at least one block.
fn padded_like_mcrypt(input: &[u8]) -> Vec<u8> {
    let mut padded = input.to_vec();
    padded.resize(input.len().div_ceil(BLOCK).max(1) * BLOCK, 0);
    padded
}

fn handed(bytes: Vec<u8>) -> (*mut c_char, c_longlong) {
    let (ptr, len) = give_bytes(bytes);
    (ptr, c_longlong::try_from(len).unwrap_or(c_longlong::MAX))
}
