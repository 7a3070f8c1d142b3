//! AES-CBC with the MikroBILL conventions: a static IV, a fresh CBC chain per message, mcrypt-style
//! zero padding (none when already aligned) and NUL stripping on receipt.

use aes::{Aes128, Aes192, Aes256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockCipher, BlockDecryptMut, BlockEncryptMut, KeyInit, KeyIvInit};
use std::fmt;

pub const BLOCK: usize = 16;

/// Why a key pair was refused. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Key1NotBase64,
    Key1Length(usize),
    Key2NotBase64,
    Key2Length(usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Key1NotBase64 => write!(f, "CRYPTO_KEY_1 is not valid base64"),
            KeyError::Key1Length(n) => write!(
                f,
                "CRYPTO_KEY_1 decodes to {n} bytes; AES needs 16, 24 or 32"
            ),
            KeyError::Key2NotBase64 => write!(f, "CRYPTO_KEY_2 is not valid base64"),
            KeyError::Key2Length(n) => {
                write!(f, "CRYPTO_KEY_2 decodes to {n} bytes; the IV must be 16")
            }
        }
    }
}

/// The session cipher: a key of 16, 24 or 32 bytes (AES-128, -192 or -256) and a fixed IV.
#[derive(Clone)]
pub struct Cipher {
    key: Vec<u8>,
    iv: [u8; BLOCK],
}

/// Keys must never reach logs, so Debug shows only the AES variant.
impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cipher(AES-{}-CBC)", self.key.len() * 8)
    }
}

impl Cipher {
    /// Builds the cipher from the two base64 texts MikroBILL stores (`CRYPTO_KEY_1`, `CRYPTO_KEY_2`).
    pub fn from_base64(key1: &str, key2: &str) -> Result<Cipher, KeyError> {
        let key = STANDARD
            .decode(key1.trim())
            .map_err(|_| KeyError::Key1NotBase64)?;
        let iv = STANDARD
            .decode(key2.trim())
            .map_err(|_| KeyError::Key2NotBase64)?;
        Cipher::from_bytes(&key, &iv)
    }

    pub fn from_bytes(key: &[u8], iv: &[u8]) -> Result<Cipher, KeyError> {
        if ![16, 24, 32].contains(&key.len()) {
            return Err(KeyError::Key1Length(key.len()));
        }
        let iv = iv.try_into().map_err(|_| KeyError::Key2Length(iv.len()))?;
        Ok(Cipher {
            key: key.to_vec(),
            iv,
        })
    }

    /// Zero-pads to the next block boundary (nothing when aligned) and encrypts.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut buf = plaintext.to_vec();
        buf.resize(plaintext.len().div_ceil(BLOCK) * BLOCK, 0);
        self.encrypt_in_place(&mut buf);
        buf
    }

    /// A whole frame in one buffer: the `u32` little-endian length, then the ciphertext,
    /// encrypted in place, so a request costs one buffer beside its plaintext.
    pub fn encrypt_frame(&self, plaintext: &[u8]) -> Vec<u8> {
        let padded = plaintext.len().div_ceil(BLOCK) * BLOCK;
        let mut buf = Vec::with_capacity(4 + padded);
        buf.extend_from_slice(&(padded as u32).to_le_bytes());
        buf.extend_from_slice(plaintext);
        buf.resize(4 + padded, 0);
        self.encrypt_in_place(&mut buf[4..]);
        buf
    }

    fn encrypt_in_place(&self, buf: &mut [u8]) {
        match self.key.len() {
            16 => cbc_encrypt::<Aes128>(&self.key, &self.iv, buf),
            24 => cbc_encrypt::<Aes192>(&self.key, &self.iv, buf),
            _ => cbc_encrypt::<Aes256>(&self.key, &self.iv, buf),
        }
    }

    /// Decrypts a whole number of blocks and strips NUL bytes from both ends, as the peers do.
    /// Returns `None` when the ciphertext is empty or not block aligned.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Option<Vec<u8>> {
        self.decrypt_owned(ciphertext.to_vec())
    }

    /// [`Cipher::decrypt`] in place: the ciphertext's buffer becomes the plaintext, with its
    /// spare capacity kept, so a large reply is never held twice.
    pub fn decrypt_owned(&self, mut buf: Vec<u8>) -> Option<Vec<u8>> {
        if buf.is_empty() || buf.len() % BLOCK != 0 {
            return None;
        }
        match self.key.len() {
            16 => cbc_decrypt::<Aes128>(&self.key, &self.iv, &mut buf),
            24 => cbc_decrypt::<Aes192>(&self.key, &self.iv, &mut buf),
            _ => cbc_decrypt::<Aes256>(&self.key, &self.iv, &mut buf),
        }
        let end = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        buf.truncate(end);
        let start = buf.iter().position(|&b| b != 0).unwrap_or(buf.len());
        // Replies start with `{` or `[`: leading NULs are rare, and moving is cheaper than a copy.
        buf.drain(..start);
        Some(buf)
    }
}

/// Encrypts a block-aligned buffer in place; key and IV lengths were checked by `from_bytes`.
fn cbc_encrypt<C>(key: &[u8], iv: &[u8; BLOCK], buf: &mut [u8])
where
    C: BlockCipher + BlockEncryptMut + KeyInit,
{
    let len = buf.len();
    cbc::Encryptor::<C>::new_from_slices(key, iv)
        .expect("key and IV lengths checked")
        .encrypt_padded_mut::<NoPadding>(buf, len)
        .expect("buffer is block aligned");
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8; BLOCK], buf: &mut [u8])
where
    C: BlockCipher + BlockDecryptMut + KeyInit,
{
    cbc::Decryptor::<C>::new_from_slices(key, iv)
        .expect("key and IV lengths checked")
        .decrypt_padded_mut::<NoPadding>(buf)
        .expect("buffer is block aligned");
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const KEY256: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    pub const KEY192: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
    pub const KEY128: &str = "AAECAwQFBgcICQoLDA0ODw==";
    pub const IV: &str = "EBESExQVFhcYGRobHB0eHw==";

    pub fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    const GET_CLIENTS: &str = r#"{"path":"API.GetClients","value":null}"#;

    #[test]
    fn aes256_get_clients_vector() {
        let c = Cipher::from_base64(KEY256, IV).unwrap();
        assert_eq!(
            hex(&c.encrypt(GET_CLIENTS.as_bytes())),
            "8913e2f286660a759620c6a1e0680c5fd42d2427355eefd4df9689364b50fe56e2a96f1fc6203d2672da278217e5af9f"
        );
    }

    #[test]
    fn aes128_and_aes192_vectors() {
        let c128 = Cipher::from_base64(KEY128, IV).unwrap();
        assert_eq!(
            hex(&c128.encrypt(GET_CLIENTS.as_bytes())),
            "4e9c4ae34aff9dbeab1c0d482d78fa82b6f375d588a45d9eef69c3c882a21a74fe5dd41fdd78f2796c43c9202fe11708"
        );
        let c192 = Cipher::from_base64(KEY192, IV).unwrap();
        assert_eq!(
            hex(&c192.encrypt(GET_CLIENTS.as_bytes())),
            "203773cfc4cf9771bf27a45bb65041efed1177fd6c19752895ffa4d55ea8fc03b2cc345d8beaf37b8ab060ed9f12205c"
        );
    }

    #[test]
    fn disconnect_vector_round_trips() {
        let c = Cipher::from_base64(KEY256, IV).unwrap();
        let plain = br#"{"path":"DISCONNECT","value":null}"#;
        let ct = c.encrypt(plain);
        assert_eq!(
            hex(&ct),
            "173a0922c2f93b37bdaf8d1f4d556ff57c6f286a621752c8caf283a2b5b5050a7f98fdaa191e93cee72cc48a83408d62"
        );
        assert_eq!(c.decrypt(&ct).unwrap(), plain);
    }

    #[test]
    fn aligned_plaintext_gets_no_padding_block() {
        let c = Cipher::from_base64(KEY256, IV).unwrap();
        assert_eq!(c.encrypt(&[b'x'; 32]).len(), 32);
        assert_eq!(c.encrypt(&[b'x'; 33]).len(), 48);
    }

    #[test]
    fn extra_zero_blocks_and_leading_nuls_are_stripped() {
        let c = Cipher::from_base64(KEY256, IV).unwrap();
        let mut plain = vec![0u8; 3];
        plain.extend_from_slice(b"{\"code\":0}");
        plain.extend_from_slice(&[0u8; 40]);
        assert_eq!(c.decrypt(&c.encrypt(&plain)).unwrap(), b"{\"code\":0}");
    }

    #[test]
    fn misaligned_or_empty_ciphertext_is_refused() {
        let c = Cipher::from_base64(KEY256, IV).unwrap();
        assert!(c.decrypt(&[]).is_none());
        assert!(c.decrypt(&[1u8; 17]).is_none());
    }

    #[test]
    fn bad_keys_are_named_without_their_value() {
        assert_eq!(
            Cipher::from_base64("!!!", IV).unwrap_err(),
            KeyError::Key1NotBase64
        );
        assert_eq!(
            Cipher::from_base64("AAEC", IV).unwrap_err(),
            KeyError::Key1Length(3)
        );
        assert_eq!(
            Cipher::from_base64(KEY256, KEY192).unwrap_err(),
            KeyError::Key2Length(24)
        );
        assert_eq!(
            Cipher::from_base64(KEY256, "%").unwrap_err(),
            KeyError::Key2NotBase64
        );
        let shown = format!("{:?}", Cipher::from_base64(KEY256, IV).unwrap());
        assert_eq!(shown, "Cipher(AES-256-CBC)");
    }

    #[test]
    fn a_frame_is_the_length_then_the_same_ciphertext() {
        let c = Cipher::from_base64(KEY256, IV).unwrap();
        let frame = c.encrypt_frame(GET_CLIENTS.as_bytes());
        assert_eq!(&frame[..4], &[48, 0, 0, 0]);
        assert_eq!(frame[4..], c.encrypt(GET_CLIENTS.as_bytes())[..]);
    }

    #[test]
    fn decrypting_in_place_keeps_the_spare_capacity() {
        let c = Cipher::from_base64(KEY256, IV).unwrap();
        let mut ct = Vec::with_capacity(49);
        ct.extend_from_slice(&c.encrypt(GET_CLIENTS.as_bytes()));
        let plain = c.decrypt_owned(ct).unwrap();
        assert_eq!(plain, GET_CLIENTS.as_bytes());
        assert!(plain.capacity() > plain.len());
        assert_eq!(c.decrypt_owned(c.encrypt(&[0u8; 16])).unwrap(), b"");
    }

    #[test]
    fn nul_stripping_handles_all_zero_input_and_keeps_inner_nuls() {
        let c = Cipher::from_base64(KEY256, IV).unwrap();
        assert_eq!(c.decrypt(&c.encrypt(&[0, 0, 0])).unwrap(), b"");
        assert_eq!(c.decrypt(&c.encrypt(b"a\0b")).unwrap(), b"a\0b");
    }
}
