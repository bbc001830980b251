//! Decrypting a password-protected OOXML document (MS-OFFCRYPTO): an OLE2
//! compound file whose `EncryptionInfo` stream describes the encryption
//! and whose `EncryptedPackage` stream holds the encrypted ZIP package.
//!
//! - Agile encryption (`EncryptionInfo` 4.4, an XML descriptor): the key
//!   is derived from the password with the descriptor's hash (SHA-1,
//!   SHA-256/384/512) and spin count, the verifier is checked, the package
//!   key is unwrapped from `encryptedKeyValue`, the package is decrypted
//!   with AES-CBC per 4096-byte segment, and the data-integrity HMAC over
//!   the whole `EncryptedPackage` stream is checked.
//! - Standard encryption (3.2 / 4.2, binary header): AES-128/192/256 in ECB
//!   mode, SHA-1 with 50000 iterations, the verifier checked.
//!
//! Extensible encryption and RC4 (CryptoAPI) are not decrypted: the file
//! stays blocked. Passwords are only tried, never kept or reported.

use aes::cipher::{BlockCipherDecrypt, KeyInit};
use hmac::{Hmac, Mac};
use mugai_core::{Blocked, Code, Context, Rebuilt};
use sha2::Digest;
use std::io::{Cursor, Read};

/// Why a package could not be decrypted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecryptError {
    /// None of the given passwords passes the verifier.
    #[error("{}", mugai_core::WRONG_PASSWORD)]
    WrongPassword,
    /// An encryption this module does not decrypt (RC4, extensible, an
    /// unknown algorithm).
    #[error("unsupported encryption: {0}")]
    Unsupported(String),
    /// The encryption data does not parse or does not fit together.
    #[error("malformed encryption data: {0}")]
    Malformed(String),
    /// The password was right but the package was altered (agile HMAC).
    #[error("the data-integrity check failed: the encrypted package was altered")]
    Integrity,
    /// The declared package size is over the limit.
    #[error("the decrypted package would be {0} bytes, over the limit of {1}")]
    TooLarge(u64, u64),
}

/// The most spins a descriptor may ask for (Office writes 100000); more
/// would let a file make each password try take minutes.
pub const MAX_SPIN_COUNT: u32 = 1_000_000;

const SEGMENT: usize = 4096;
const BLOCK_VERIFIER_INPUT: [u8; 8] = [0xfe, 0xa7, 0xd2, 0x76, 0x3b, 0x4b, 0x9e, 0x79];
const BLOCK_VERIFIER_VALUE: [u8; 8] = [0xd7, 0xaa, 0x0f, 0x6d, 0x30, 0x61, 0x34, 0x4e];
const BLOCK_KEY: [u8; 8] = [0x14, 0x6e, 0x0b, 0xe7, 0xab, 0xac, 0xd0, 0xd6];
const BLOCK_HMAC_KEY: [u8; 8] = [0x5f, 0xb2, 0xad, 0x01, 0x0c, 0xb9, 0xe1, 0xf6];
const BLOCK_HMAC_VALUE: [u8; 8] = [0xa0, 0x67, 0x7f, 0x02, 0xb2, 0x2c, 0x84, 0x33];

/// Rebuilds an encrypted OOXML document with the context's passwords
/// (an unlock): decrypts the package, then sanitises it as the OOXML
/// document it is, one level deeper. Without a fitting password, or with
/// an encryption that is not decrypted, it stays blocked as
/// `ooxml.encrypted`.
pub fn rebuild(input: &[u8], cx: &mut Context<'_>) -> Result<Rebuilt, Blocked> {
    let mut comp = cfb::CompoundFile::open(Cursor::new(input)).map_err(|e| {
        cx.block(
            Code::OoxmlEncrypted,
            format!("not a readable OLE2 file: {e}"),
        )
    })?;
    let mut stream = |path: &str, max: u64| -> Result<Vec<u8>, Blocked> {
        let mut s = comp
            .open_stream(path)
            .map_err(|e| cx.block(Code::OoxmlEncrypted, format!("{path}: {e}")))?;
        let mut out = Vec::new();
        (&mut s)
            .take(max)
            .read_to_end(&mut out)
            .map_err(|e| cx.block(Code::OoxmlEncrypted, format!("{path}: {e}")))?;
        Ok(out)
    };
    let info = stream("/EncryptionInfo", 1 << 20)?;
    let package = stream("/EncryptedPackage", input.len() as u64)?;
    cx.check_deadline()?;
    let max = cx.policy().limits.max_expanded_bytes;
    let plain = decrypt(&info, &package, cx.passwords(), max)
        .map_err(|e| cx.block(Code::OoxmlEncrypted, e.to_string()))?;
    drop(package);
    cx.check_deadline()?;
    cx.charge_expanded(plain.len() as u64)?;
    cx.removed(
        Code::OoxmlEncrypted,
        "unlocked with a given password; the document is written without encryption",
    );
    let inner = cx.member("EncryptedPackage", &plain)?;
    if !inner.file_type.is_ooxml() {
        return Err(cx.block(
            Code::OoxmlEncrypted,
            format!(
                "the decrypted package is {}, not an OOXML document",
                inner.file_type.name()
            ),
        ));
    }
    Ok(inner)
}

fn malformed(what: impl Into<String>) -> DecryptError {
    DecryptError::Malformed(what.into())
}

/// Decrypts the `EncryptedPackage` stream `package` described by the
/// `EncryptionInfo` stream `info` with the first of `passwords` that
/// passes the verifier. The result (the OOXML ZIP package) is at most
/// `max_out` bytes.
pub fn decrypt(
    info: &[u8],
    package: &[u8],
    passwords: &[String],
    max_out: u64,
) -> Result<Vec<u8>, DecryptError> {
    let major = u16_at(info, 0).ok_or_else(|| malformed("EncryptionInfo too short"))?;
    let minor = u16_at(info, 2).ok_or_else(|| malformed("EncryptionInfo too short"))?;
    match (major, minor) {
        (4, 4) => agile(info, package, passwords, max_out),
        (2..=4, 2) => standard(info, package, passwords, max_out),
        (3 | 4, 3) => Err(DecryptError::Unsupported(
            "extensible encryption (EncryptionInfo 3.3/4.3)".into(),
        )),
        (maj, min) => Err(DecryptError::Unsupported(format!(
            "EncryptionInfo version {maj}.{min}"
        ))),
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The `EncryptedPackage` stream's declared plain size and its ciphertext.
fn package_parts(package: &[u8], max_out: u64) -> Result<(usize, &[u8]), DecryptError> {
    let size = package
        .get(..8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
        .ok_or_else(|| malformed("EncryptedPackage too short"))?;
    let data = &package[8..];
    // Some writers (msoffcrypto-tool among them) leave the upper four
    // bytes as junk and readers take the lower four: do the same when the
    // whole does not fit (inputs are far below 4 GiB).
    let size = if size > data.len() as u64 {
        size & 0xffff_ffff
    } else {
        size
    };
    if size > max_out {
        return Err(DecryptError::TooLarge(size, max_out));
    }
    if size > data.len() as u64 {
        return Err(malformed(format!(
            "EncryptedPackage declares {size} bytes but holds {}",
            data.len()
        )));
    }
    if !data.len().is_multiple_of(16) {
        return Err(malformed(
            "EncryptedPackage is not a whole number of blocks",
        ));
    }
    Ok((size as usize, data))
}

// ---- primitives ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    fn parse(name: &str) -> Result<Self, DecryptError> {
        match name {
            "SHA1" | "SHA-1" => Ok(HashAlg::Sha1),
            "SHA256" | "SHA-256" => Ok(HashAlg::Sha256),
            "SHA384" | "SHA-384" => Ok(HashAlg::Sha384),
            "SHA512" | "SHA-512" => Ok(HashAlg::Sha512),
            other => Err(DecryptError::Unsupported(format!(
                "hash algorithm {}",
                printable(other)
            ))),
        }
    }

    fn len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        fn h<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            HashAlg::Sha1 => h::<sha1::Sha1>(parts),
            HashAlg::Sha256 => h::<sha2::Sha256>(parts),
            HashAlg::Sha384 => h::<sha2::Sha384>(parts),
            HashAlg::Sha512 => h::<sha2::Sha512>(parts),
        }
    }

    /// Whether the HMAC of `data` under `key` is `expected` (constant
    /// time).
    fn hmac_matches(self, key: &[u8], data: &[u8], expected: &[u8]) -> bool {
        fn m<M: Mac + KeyInitSlice>(key: &[u8], data: &[u8], expected: &[u8]) -> bool {
            let Some(mut mac) = M::from_slice(key) else {
                return false;
            };
            mac.update(data);
            mac.verify_slice(expected).is_ok()
        }
        match self {
            HashAlg::Sha1 => m::<Hmac<sha1::Sha1>>(key, data, expected),
            HashAlg::Sha256 => m::<Hmac<sha2::Sha256>>(key, data, expected),
            HashAlg::Sha384 => m::<Hmac<sha2::Sha384>>(key, data, expected),
            HashAlg::Sha512 => m::<Hmac<sha2::Sha512>>(key, data, expected),
        }
    }
}

/// `KeyInit::new_from_slice` without naming the trait's error type.
trait KeyInitSlice: Sized {
    fn from_slice(key: &[u8]) -> Option<Self>;
}

impl<T: hmac::KeyInit> KeyInitSlice for T {
    fn from_slice(key: &[u8]) -> Option<Self> {
        <T as hmac::KeyInit>::new_from_slice(key).ok()
    }
}

/// AES with a 128, 192 or 256-bit key.
enum Aes {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

impl Aes {
    fn new(key: &[u8]) -> Result<Self, DecryptError> {
        let bad = |_| malformed("bad AES key length");
        Ok(match key.len() {
            16 => Aes::A128(aes::Aes128::new_from_slice(key).map_err(bad)?),
            24 => Aes::A192(aes::Aes192::new_from_slice(key).map_err(bad)?),
            32 => Aes::A256(aes::Aes256::new_from_slice(key).map_err(bad)?),
            n => return Err(malformed(format!("AES key of {n} bytes"))),
        })
    }

    fn decrypt_block(&self, b: &mut [u8; 16]) {
        let mut block = aes::Block::from(*b);
        match self {
            Aes::A128(c) => c.decrypt_block(&mut block),
            Aes::A192(c) => c.decrypt_block(&mut block),
            Aes::A256(c) => c.decrypt_block(&mut block),
        }
        b.copy_from_slice(&block);
    }

    /// ECB decryption in place (`data` a whole number of blocks).
    fn ecb(&self, data: &mut [u8]) {
        for chunk in data.chunks_exact_mut(16) {
            let mut b = [0u8; 16];
            b.copy_from_slice(chunk);
            self.decrypt_block(&mut b);
            chunk.copy_from_slice(&b);
        }
    }

    /// CBC decryption in place (`data` a whole number of blocks).
    fn cbc(&self, iv: &[u8; 16], data: &mut [u8]) {
        let mut prev = *iv;
        for chunk in data.chunks_exact_mut(16) {
            let mut c = [0u8; 16];
            c.copy_from_slice(chunk);
            let mut b = c;
            self.decrypt_block(&mut b);
            for (o, (p, v)) in chunk.iter_mut().zip(b.iter().zip(prev.iter())) {
                *o = p ^ v;
            }
            prev = c;
        }
    }
}

fn utf16le(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// `bytes` cut or padded with `pad` to `len`.
fn fit(mut bytes: Vec<u8>, len: usize, pad: u8) -> Vec<u8> {
    bytes.resize(len, pad);
    bytes
}

fn iv16(bytes: &[u8]) -> Result<[u8; 16], DecryptError> {
    let mut iv = [0x36u8; 16];
    let n = bytes.len().min(16);
    iv[..n].copy_from_slice(&bytes[..n]);
    if bytes.len() < 16 {
        return Err(malformed("an IV shorter than the AES block"));
    }
    Ok(iv)
}

fn printable(s: &str) -> String {
    s.chars().take(40).filter(|c| !c.is_control()).collect()
}

// ---- agile ----

/// The attributes of the agile descriptor this module uses.
#[derive(Debug, Default)]
struct KeyParams {
    salt: Vec<u8>,
    block_size: usize,
    key_bits: usize,
    hash_size: usize,
    hash: Option<HashAlg>,
}

#[derive(Debug, Default)]
struct Agile {
    key_data: KeyParams,
    hmac_key: Vec<u8>,
    hmac_value: Vec<u8>,
    password: KeyParams,
    spin_count: u32,
    verifier_input: Vec<u8>,
    verifier_value: Vec<u8>,
    key_value: Vec<u8>,
    has_password: bool,
}

fn b64(v: &str) -> Result<Vec<u8>, DecryptError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map_err(|_| malformed("an attribute is not base64"))
}

fn num(v: &str) -> Result<usize, DecryptError> {
    v.trim()
        .parse()
        .map_err(|_| malformed(format!("`{}` is not a number", printable(v))))
}

fn key_params(
    attrs: &[(String, String)],
    p: &mut KeyParams,
    extra: &mut dyn FnMut(&str, &str) -> Result<(), DecryptError>,
) -> Result<(), DecryptError> {
    for (k, v) in attrs {
        match k.as_str() {
            "saltValue" => p.salt = b64(v)?,
            "blockSize" => p.block_size = num(v)?,
            "keyBits" => p.key_bits = num(v)?,
            "hashSize" => p.hash_size = num(v)?,
            "hashAlgorithm" => p.hash = Some(HashAlg::parse(v)?),
            "cipherAlgorithm" if v != "AES" => {
                return Err(DecryptError::Unsupported(format!(
                    "cipher {}",
                    printable(v)
                )))
            }
            "cipherChaining" if v != "ChainingModeCBC" => {
                return Err(DecryptError::Unsupported(format!(
                    "chaining {}",
                    printable(v)
                )))
            }
            _ => extra(k, v)?,
        }
    }
    if p.block_size != 16 {
        return Err(DecryptError::Unsupported(format!(
            "AES block size {}",
            p.block_size
        )));
    }
    if !matches!(p.key_bits, 128 | 192 | 256) {
        return Err(DecryptError::Unsupported(format!(
            "AES key of {} bits",
            p.key_bits
        )));
    }
    let h = p.hash.ok_or_else(|| malformed("no hashAlgorithm"))?;
    if p.hash_size != h.len() {
        return Err(malformed("hashSize does not match hashAlgorithm"));
    }
    if p.salt.len() < 16 || p.salt.len() > 64 {
        return Err(malformed("salt of an unusual length"));
    }
    Ok(())
}

fn parse_agile(xml: &[u8]) -> Result<Agile, DecryptError> {
    use quick_xml::events::Event;
    let xml = std::str::from_utf8(xml).map_err(|_| malformed("descriptor is not UTF-8"))?;
    let mut r = quick_xml::Reader::from_reader(xml.trim_start_matches('\u{feff}').as_bytes());
    let mut a = Agile::default();
    let mut seen_key_data = false;
    let mut events = 0u32;
    loop {
        events += 1;
        if events > 10_000 {
            return Err(malformed("the descriptor is too long"));
        }
        let ev = r
            .read_event()
            .map_err(|e| malformed(format!("descriptor XML: {e}")))?;
        let e = match &ev {
            Event::Start(e) | Event::Empty(e) => e,
            Event::Eof => break,
            _ => continue,
        };
        let local = e.local_name().as_ref().to_string();
        let mut attrs = Vec::new();
        for at in e.attributes() {
            let at = at.map_err(|e| malformed(format!("descriptor XML: {e}")))?;
            let v = crate::xml::attr_value(&at)
                .map_err(|e| malformed(format!("descriptor XML: {e}")))?;
            let k = at.key.0;
            attrs.push((
                k.rsplit(':').next().unwrap_or(k).to_string(),
                v.into_owned(),
            ));
        }
        match local.as_str() {
            "keyData" => {
                key_params(&attrs, &mut a.key_data, &mut |_, _| Ok(()))?;
                seen_key_data = true;
            }
            "dataIntegrity" => {
                for (k, v) in &attrs {
                    match k.as_str() {
                        "encryptedHmacKey" => a.hmac_key = b64(v)?,
                        "encryptedHmacValue" => a.hmac_value = b64(v)?,
                        _ => {}
                    }
                }
            }
            // The password key encryptor (a certificate one has no
            // verifier and is skipped).
            "encryptedKey" if attrs.iter().any(|(k, _)| k == "encryptedVerifierHashInput") => {
                let mut spin = None;
                let (mut vi, mut vv, mut kv) = (Vec::new(), Vec::new(), Vec::new());
                key_params(&attrs, &mut a.password, &mut |k, v| {
                    match k {
                        "spinCount" => {
                            spin = Some(
                                v.trim()
                                    .parse::<u32>()
                                    .map_err(|_| malformed("spinCount is not a number"))?,
                            )
                        }
                        "encryptedVerifierHashInput" => vi = b64(v)?,
                        "encryptedVerifierHashValue" => vv = b64(v)?,
                        "encryptedKeyValue" => kv = b64(v)?,
                        _ => {}
                    }
                    Ok(())
                })?;
                a.spin_count = spin.ok_or_else(|| malformed("no spinCount"))?;
                (a.verifier_input, a.verifier_value, a.key_value) = (vi, vv, kv);
                a.has_password = true;
            }
            _ => {}
        }
    }
    if !seen_key_data {
        return Err(malformed("the descriptor has no keyData"));
    }
    if !a.has_password {
        return Err(DecryptError::Unsupported(
            "no password key encryptor (certificate only)".into(),
        ));
    }
    if a.spin_count > MAX_SPIN_COUNT {
        return Err(DecryptError::Unsupported(format!(
            "spinCount {} over {MAX_SPIN_COUNT}",
            a.spin_count
        )));
    }
    for (what, v) in [
        ("encryptedVerifierHashInput", &a.verifier_input),
        ("encryptedVerifierHashValue", &a.verifier_value),
        ("encryptedKeyValue", &a.key_value),
        ("encryptedHmacKey", &a.hmac_key),
        ("encryptedHmacValue", &a.hmac_value),
    ] {
        if v.is_empty() || v.len() % 16 != 0 || v.len() > 1024 {
            return Err(malformed(format!("{what} missing or not whole blocks")));
        }
    }
    Ok(a)
}

/// H(salt + password) then `spin` rounds of H(i + previous).
fn spun(h: HashAlg, salt: &[u8], password: &str, spin: u32) -> Vec<u8> {
    let mut cur = h.hash(&[salt, &utf16le(password)]);
    for i in 0..spin {
        cur = h.hash(&[&i.to_le_bytes(), &cur]);
    }
    cur
}

fn agile(
    info: &[u8],
    package: &[u8],
    passwords: &[String],
    max_out: u64,
) -> Result<Vec<u8>, DecryptError> {
    // Version (4), reserved 0x40 (4), then the XML descriptor.
    let xml = info.get(8..).ok_or_else(|| malformed("no descriptor"))?;
    let a = parse_agile(xml)?;
    let (size, data) = package_parts(package, max_out)?;
    let p = &a.password;
    let ph = p.hash.ok_or_else(|| malformed("no hashAlgorithm"))?;
    let iv = iv16(&p.salt)?;
    let key_len = p.key_bits / 8;
    let derive = |base: &[u8], block: &[u8]| fit(ph.hash(&[base, block]), key_len, 0x36);

    let mut secret = None;
    for pw in passwords {
        let base = spun(ph, &p.salt, pw, a.spin_count);
        let mut input = a.verifier_input.clone();
        Aes::new(&derive(&base, &BLOCK_VERIFIER_INPUT))?.cbc(&iv, &mut input);
        let mut value = a.verifier_value.clone();
        Aes::new(&derive(&base, &BLOCK_VERIFIER_VALUE))?.cbc(&iv, &mut value);
        let salt_len = p.salt.len().min(input.len());
        let expect = ph.hash(&[&input[..salt_len]]);
        if value.len() < expect.len() || value[..expect.len()] != expect[..] {
            continue;
        }
        let mut key = a.key_value.clone();
        Aes::new(&derive(&base, &BLOCK_KEY))?.cbc(&iv, &mut key);
        let kd_len = a.key_data.key_bits / 8;
        if key.len() < kd_len {
            return Err(malformed("encryptedKeyValue shorter than the key"));
        }
        key.truncate(kd_len);
        secret = Some(key);
        break;
    }
    let secret = secret.ok_or(DecryptError::WrongPassword)?;
    let cipher = Aes::new(&secret)?;
    let kd = &a.key_data;
    let kh = kd.hash.ok_or_else(|| malformed("no hashAlgorithm"))?;

    // Data integrity: the HMAC of the whole EncryptedPackage stream.
    let hiv = |block: &[u8]| iv16(&fit(kh.hash(&[&kd.salt, block]), 16, 0x36));
    let mut hkey = a.hmac_key.clone();
    cipher.cbc(&hiv(&BLOCK_HMAC_KEY)?, &mut hkey);
    let mut hval = a.hmac_value.clone();
    cipher.cbc(&hiv(&BLOCK_HMAC_VALUE)?, &mut hval);
    if hkey.len() < kd.hash_size || hval.len() < kd.hash_size {
        return Err(malformed("HMAC key or value shorter than the hash"));
    }
    if !kh.hmac_matches(&hkey[..kd.hash_size], package, &hval[..kd.hash_size]) {
        return Err(DecryptError::Integrity);
    }

    let mut out = data.to_vec();
    for (i, seg) in out.chunks_mut(SEGMENT).enumerate() {
        let i = u32::try_from(i).map_err(|_| malformed("too many segments"))?;
        let iv = iv16(&fit(kh.hash(&[&kd.salt, &i.to_le_bytes()]), 16, 0x36))?;
        cipher.cbc(&iv, seg);
    }
    out.truncate(size);
    Ok(out)
}

// ---- standard ----

const ALG_AES128: u32 = 0x660E;
const ALG_AES192: u32 = 0x660F;
const ALG_AES256: u32 = 0x6610;
const ALG_SHA1: u32 = 0x8004;
const STANDARD_SPIN: u32 = 50_000;

/// The standard-encryption key for `password` (MS-OFFCRYPTO 2.3.4.7).
fn standard_key(salt: &[u8], password: &str, key_len: usize) -> Vec<u8> {
    let h = HashAlg::Sha1;
    let base = spun(h, salt, password, STANDARD_SPIN);
    let fin = h.hash(&[&base, &0u32.to_le_bytes()]);
    let x = |pad: u8| {
        let mut b = [pad; 64];
        for (o, f) in b.iter_mut().zip(fin.iter()) {
            *o ^= f;
        }
        h.hash(&[&b])
    };
    let mut k = x(0x36);
    k.extend(x(0x5c));
    k.truncate(key_len);
    k
}

fn standard(
    info: &[u8],
    package: &[u8],
    passwords: &[String],
    max_out: u64,
) -> Result<Vec<u8>, DecryptError> {
    let short = || malformed("EncryptionInfo too short");
    let header_size = u32_at(info, 8).ok_or_else(short)? as usize;
    let h = 12usize;
    let header = info
        .get(h..h.checked_add(header_size).ok_or_else(short)?)
        .ok_or_else(short)?;
    let flags = u32_at(header, 0).ok_or_else(short)?;
    let alg = u32_at(header, 8).ok_or_else(short)?;
    let alg_hash = u32_at(header, 12).ok_or_else(short)?;
    let key_bits = u32_at(header, 16).ok_or_else(short)?;
    // fCryptoAPI (0x04) and fAES (0x20) must be set; fExternal (0x10)
    // means the key is not derived from a password.
    if flags & 0x10 != 0 {
        return Err(DecryptError::Unsupported("external key (fExternal)".into()));
    }
    if flags & 0x20 == 0 || !matches!(alg, ALG_AES128 | ALG_AES192 | ALG_AES256) {
        return Err(DecryptError::Unsupported(format!(
            "standard encryption with algorithm 0x{alg:04x} (RC4 is not decrypted)"
        )));
    }
    if alg_hash != ALG_SHA1 && alg_hash != 0 {
        return Err(DecryptError::Unsupported(format!(
            "hash algorithm 0x{alg_hash:04x}"
        )));
    }
    let key_len = match (alg, key_bits) {
        (ALG_AES128, 128) => 16,
        (ALG_AES192, 192) => 24,
        (ALG_AES256, 256) => 32,
        _ => return Err(malformed(format!("key size {key_bits} for 0x{alg:04x}"))),
    };
    let v = &info[h + header_size..];
    let salt_size = u32_at(v, 0).ok_or_else(short)? as usize;
    if salt_size != 16 {
        return Err(malformed(format!("salt of {salt_size} bytes")));
    }
    let salt = v.get(4..20).ok_or_else(short)?;
    let enc_verifier = v.get(20..36).ok_or_else(short)?;
    let hash_size = u32_at(v, 36).ok_or_else(short)? as usize;
    if hash_size != 20 {
        return Err(malformed(format!("verifier hash of {hash_size} bytes")));
    }
    let enc_hash = v.get(40..72).ok_or_else(short)?;
    let (size, data) = package_parts(package, max_out)?;

    for pw in passwords {
        let key = standard_key(salt, pw, key_len);
        let cipher = Aes::new(&key)?;
        let mut verifier = enc_verifier.to_vec();
        cipher.ecb(&mut verifier);
        let mut vh = enc_hash.to_vec();
        cipher.ecb(&mut vh);
        if HashAlg::Sha1.hash(&[&verifier]) != vh[..20] {
            continue;
        }
        let mut out = data.to_vec();
        cipher.ecb(&mut out);
        out.truncate(size);
        return Ok(out);
    }
    Err(DecryptError::WrongPassword)
}

/// Encryption for tests: writes what [`decrypt`] reads, per the same
/// specification, so that the decryption can be checked against files
/// made without Office.
#[cfg(any(test, feature = "test-encrypt"))]
pub mod testenc {
    use super::*;
    use aes::cipher::BlockCipherEncrypt;

    fn enc_block(key: &[u8], b: &mut [u8; 16]) {
        let mut block = aes::Block::from(*b);
        match key.len() {
            16 => aes::Aes128::new_from_slice(key)
                .unwrap()
                .encrypt_block(&mut block),
            24 => aes::Aes192::new_from_slice(key)
                .unwrap()
                .encrypt_block(&mut block),
            _ => aes::Aes256::new_from_slice(key)
                .unwrap()
                .encrypt_block(&mut block),
        }
        b.copy_from_slice(&block);
    }

    fn ecb(key: &[u8], data: &mut [u8]) {
        for c in data.chunks_exact_mut(16) {
            let mut b: [u8; 16] = c.try_into().unwrap();
            enc_block(key, &mut b);
            c.copy_from_slice(&b);
        }
    }

    fn cbc(key: &[u8], iv: &[u8], data: &mut [u8]) {
        let mut prev: [u8; 16] = iv[..16].try_into().unwrap();
        for c in data.chunks_exact_mut(16) {
            let mut b: [u8; 16] = c.try_into().unwrap();
            for (x, p) in b.iter_mut().zip(prev.iter()) {
                *x ^= p;
            }
            enc_block(key, &mut b);
            c.copy_from_slice(&b);
            prev = b;
        }
    }

    fn pad16(mut v: Vec<u8>) -> Vec<u8> {
        let n = v.len().div_ceil(16) * 16;
        v.resize(n, 0);
        v
    }

    /// The two streams of a standard-encrypted (4.2, AES-128) package:
    /// (`EncryptionInfo`, `EncryptedPackage`).
    pub fn standard(plain: &[u8], password: &str, salt: [u8; 16]) -> (Vec<u8>, Vec<u8>) {
        let key = standard_key(&salt, password, 16);
        let verifier: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
        let mut ev = verifier.to_vec();
        ecb(&key, &mut ev);
        let mut eh = pad16(HashAlg::Sha1.hash(&[&verifier]));
        ecb(&key, &mut eh);
        let csp: Vec<u8> = "Microsoft Enhanced RSA and AES Cryptographic Provider\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut header = Vec::new();
        for v in [0x24u32, 0, ALG_AES128, ALG_SHA1, 128, 0x18, 0, 0] {
            header.extend(v.to_le_bytes());
        }
        header.extend(&csp);
        let mut info = Vec::new();
        info.extend(4u16.to_le_bytes());
        info.extend(2u16.to_le_bytes());
        info.extend(0x24u32.to_le_bytes());
        info.extend((header.len() as u32).to_le_bytes());
        info.extend(&header);
        info.extend(16u32.to_le_bytes());
        info.extend(salt);
        info.extend(&ev);
        info.extend(20u32.to_le_bytes());
        info.extend(&eh);
        let mut data = pad16(plain.to_vec());
        ecb(&key, &mut data);
        let mut pkg = (plain.len() as u64).to_le_bytes().to_vec();
        pkg.extend(data);
        (info, pkg)
    }

    /// The two streams of an agile-encrypted (4.4, AES-256, SHA-512)
    /// package, with `spin` rounds.
    pub fn agile(plain: &[u8], password: &str, spin: u32, seed: u8) -> (Vec<u8>, Vec<u8>) {
        use base64::Engine as _;
        let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
        let h = HashAlg::Sha512;
        let bytes = |k: u8, n: usize| -> Vec<u8> {
            (0..n)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(k ^ seed))
                .collect()
        };
        let kd_salt = bytes(1, 16);
        let pw_salt = bytes(2, 16);
        let secret = bytes(3, 32);
        let verifier = bytes(4, 16);
        let hmac_key = bytes(5, 64);
        // The package.
        let mut data = pad16(plain.to_vec());
        for (i, seg) in data.chunks_mut(SEGMENT).enumerate() {
            let iv = h.hash(&[&kd_salt, &(i as u32).to_le_bytes()]);
            cbc(&secret, &iv[..16], seg);
        }
        let mut pkg = (plain.len() as u64).to_le_bytes().to_vec();
        pkg.extend(data);
        // The password key encryptor.
        let base = spun(h, &pw_salt, password, spin);
        let derive = |block: &[u8]| fit(h.hash(&[&base, block]), 32, 0x36);
        let mut evi = verifier.clone();
        cbc(&derive(&BLOCK_VERIFIER_INPUT), &pw_salt, &mut evi);
        let mut evv = h.hash(&[&verifier]);
        cbc(&derive(&BLOCK_VERIFIER_VALUE), &pw_salt, &mut evv);
        let mut ekv = secret.clone();
        cbc(&derive(&BLOCK_KEY), &pw_salt, &mut ekv);
        // Data integrity.
        let mut mac = <Hmac<sha2::Sha512> as hmac::KeyInit>::new_from_slice(&hmac_key).unwrap();
        mac.update(&pkg);
        let mut hv = mac.finalize().into_bytes().to_vec();
        let mut hk = hmac_key.clone();
        cbc(
            &secret,
            &h.hash(&[&kd_salt, &BLOCK_HMAC_KEY])[..16],
            &mut hk,
        );
        cbc(
            &secret,
            &h.hash(&[&kd_salt, &BLOCK_HMAC_VALUE])[..16],
            &mut hv,
        );
        let params = r#"blockSize="16" keyBits="256" hashSize="64" cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512""#;
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption" xmlns:p="http://schemas.microsoft.com/office/2006/keyEncryptor/password"><keyData saltSize="16" {params} saltValue="{}"/><dataIntegrity encryptedHmacKey="{}" encryptedHmacValue="{}"/><keyEncryptors><keyEncryptor uri="http://schemas.microsoft.com/office/2006/keyEncryptor/password"><p:encryptedKey spinCount="{spin}" saltSize="16" {params} saltValue="{}" encryptedVerifierHashInput="{}" encryptedVerifierHashValue="{}" encryptedKeyValue="{}"/></keyEncryptor></keyEncryptors></encryption>"#,
            b64(&kd_salt),
            b64(&hk),
            b64(&hv),
            b64(&pw_salt),
            b64(&evi),
            b64(&evv),
            b64(&ekv),
        );
        let mut info = Vec::new();
        info.extend(4u16.to_le_bytes());
        info.extend(4u16.to_le_bytes());
        info.extend(0x40u32.to_le_bytes());
        info.extend(xml.as_bytes());
        (info, pkg)
    }

    /// An OLE2 compound file holding the two streams.
    pub fn container(info: &[u8], pkg: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut c = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
        c.create_stream("/EncryptionInfo")
            .unwrap()
            .write_all(info)
            .unwrap();
        c.create_stream("/EncryptedPackage")
            .unwrap()
            .write_all(pkg)
            .unwrap();
        c.flush().unwrap();
        c.into_inner().into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pws(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// MS-OFFCRYPTO 2.3.4.7 with the password "Password1234_" and the
    /// salt 00..0f: the key is checked against an independent computation
    /// of the same steps (Python hashlib).
    #[test]
    fn standard_key_derivation_matches_an_independent_computation() {
        let salt: Vec<u8> = (0u8..16).collect();
        let k = standard_key(&salt, "Password1234_", 16);
        assert_eq!(hex(&k), STANDARD_KAT);
    }

    const STANDARD_KAT: &str = "340fc93a8e2154db8304d055df81cebc";

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn standard_round_trip_right_and_wrong_password() {
        let plain: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (info, pkg) = testenc::standard(&plain, "秘密pass", [7; 16]);
        assert_eq!(
            decrypt(&info, &pkg, &pws(&["x", "秘密pass"]), 1 << 20).unwrap(),
            plain
        );
        assert_eq!(
            decrypt(&info, &pkg, &pws(&["x", "secret"]), 1 << 20),
            Err(DecryptError::WrongPassword)
        );
        assert!(matches!(
            decrypt(&info, &pkg, &pws(&["秘密pass"]), 100),
            Err(DecryptError::TooLarge(10_000, 100))
        ));
    }

    #[test]
    fn agile_round_trip_integrity_and_wrong_password() {
        let plain: Vec<u8> = (0..9000u32).map(|i| (i % 253) as u8).collect();
        let (info, pkg) = testenc::agile(&plain, "pass word", 1000, 9);
        assert_eq!(
            decrypt(&info, &pkg, &pws(&["nope", "pass word"]), 1 << 20).unwrap(),
            plain
        );
        assert_eq!(
            decrypt(&info, &pkg, &pws(&["nope"]), 1 << 20),
            Err(DecryptError::WrongPassword)
        );
        let mut bad = pkg.clone();
        let n = bad.len() - 1;
        bad[n] ^= 1;
        assert_eq!(
            decrypt(&info, &bad, &pws(&["pass word"]), 1 << 20),
            Err(DecryptError::Integrity)
        );
    }

    #[test]
    fn hostile_descriptors_fail_closed() {
        let (info, pkg) = testenc::agile(b"x", "p", 10, 1);
        let xml = String::from_utf8(info[8..].to_vec()).unwrap();
        let mk = |x: String| {
            let mut i = info[..8].to_vec();
            i.extend(x.as_bytes());
            i
        };
        let huge = mk(xml.replace("spinCount=\"10\"", "spinCount=\"4000000000\""));
        assert!(matches!(
            decrypt(&huge, &pkg, &pws(&["p"]), 1 << 20),
            Err(DecryptError::Unsupported(_))
        ));
        let rc4 = mk(xml.replace("cipherAlgorithm=\"AES\"", "cipherAlgorithm=\"RC4\""));
        assert!(matches!(
            decrypt(&rc4, &pkg, &pws(&["p"]), 1 << 20),
            Err(DecryptError::Unsupported(_))
        ));
        for cut in [0, 3, 8, 40, info.len() / 2] {
            assert!(decrypt(&info[..cut], &pkg, &pws(&["p"]), 1 << 20).is_err());
        }
        for cut in [0, 7, 9, 20] {
            assert!(decrypt(&info, &pkg[..cut.min(pkg.len())], &pws(&["p"]), 1 << 20).is_err());
        }
        let mut big = pkg.clone();
        big[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decrypt(&info, &big, &pws(&["p"]), u64::MAX).is_err());
        // Junk in the upper half of the size (as some writers leave it;
        // standard encryption has no HMAC over it).
        let (sinfo, mut spkg) = testenc::standard(b"xyz", "p", [1; 16]);
        spkg[4..8].copy_from_slice(&[0x40, 0, 0, 0]);
        assert_eq!(
            decrypt(&sinfo, &spkg, &pws(&["p"]), 1 << 20).unwrap(),
            b"xyz"
        );
    }
}
