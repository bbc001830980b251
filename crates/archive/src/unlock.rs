//! Unlocking a password-protected ZIP (PPAP: ZipCrypto, WinZip AES-128/256)
//! with passwords the recipient gives. Runs where the rebuild runs (inside
//! the sandboxed worker); the result is an unencrypted ZIP that then goes
//! through the ordinary ZIP rebuild. Nested ZIPs are unlocked too, with the
//! same passwords. Passwords are only tried, never kept or reported.

use crate::write::ZipWriter;
use mugai_core::config::Limits;
use mugai_core::{Blocked, Code};
use std::io::{Cursor, Read};

/// The detail of a [`Code::ArchiveEncrypted`] block when no password fits.
pub const WRONG_PASSWORD: &str = mugai_core::WRONG_PASSWORD;

fn decode_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::SHIFT_JIS.decode(raw).0.into_owned(),
    }
}

fn is_zip(b: &[u8]) -> bool {
    b.starts_with(b"PK\x03\x04")
}

struct Budget {
    left: u64,
    entries: u64,
}

/// Decrypts every member of `bytes` with the first of `passwords` that
/// opens it and returns the same members in an unencrypted ZIP.
pub fn unlock(bytes: &[u8], passwords: &[String], limits: &Limits) -> Result<Vec<u8>, Blocked> {
    let mut budget = Budget {
        left: limits.max_expanded_bytes,
        entries: limits.max_entries,
    };
    unlock_at(bytes, passwords, limits, 0, &mut budget)
}

fn read_bounded(r: &mut impl Read, budget: &mut Budget) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(budget.left.saturating_add(1))
        .read_to_end(&mut out)?;
    if out.len() as u64 > budget.left {
        return Err(std::io::Error::other("expanded size over the limit"));
    }
    budget.left -= out.len() as u64;
    Ok(out)
}

fn unlock_at(
    bytes: &[u8],
    passwords: &[String],
    limits: &Limits,
    depth: u32,
    budget: &mut Budget,
) -> Result<Vec<u8>, Blocked> {
    if depth > limits.max_depth {
        return Err(Blocked::new(
            Code::LimitDepth,
            format!("archives nested deeper than {}", limits.max_depth),
        ));
    }
    let bad = |e: zip::result::ZipError| Blocked::new(Code::RebuildFailed, format!("zip: {e}"));
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).map_err(bad)?;
    let mut w = ZipWriter::new();
    for i in 0..z.len() {
        budget.entries = budget.entries.checked_sub(1).ok_or_else(|| {
            Blocked::new(
                Code::LimitCount,
                format!("more than {} entries", limits.max_entries),
            )
        })?;
        let (name, encrypted, is_dir) = {
            let f = z.by_index_raw(i).map_err(bad)?;
            (decode_name(f.name_raw()), f.encrypted(), f.is_dir())
        };
        if is_dir {
            continue;
        }
        let data = if encrypted {
            let mut found = None;
            for pw in passwords {
                let mut f = match z.by_index_decrypt(i, pw.as_bytes()) {
                    Ok(f) => f,
                    Err(zip::result::ZipError::InvalidPassword) => continue,
                    Err(e) => return Err(bad(e)),
                };
                let before = budget.left;
                // ZipCrypto's check byte lets 1 in 256 wrong passwords
                // through; the CRC (or AES's HMAC) then fails the read.
                match read_bounded(&mut f, budget) {
                    Ok(d) => {
                        found = Some(d);
                        break;
                    }
                    Err(_) => budget.left = before,
                }
            }
            found.ok_or_else(|| {
                Blocked::new(Code::ArchiveEncrypted, format!("{WRONG_PASSWORD} {name}"))
            })?
        } else {
            let mut f = z.by_index(i).map_err(bad)?;
            read_bounded(&mut f, budget)
                .map_err(|e| Blocked::new(Code::ArchiveBomb, format!("{name}: {e}")))?
        };
        let data = if is_zip(&data) {
            match unlock_at(&data, passwords, limits, depth + 1, budget) {
                Ok(inner) => inner,
                Err(b) if b.code == Code::RebuildFailed => data,
                Err(b) => return Err(b),
            }
        } else {
            data
        };
        w.add(&name, &data, 0, 0x21)?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::unstable::write::FileOptionsExt;
    use zip::write::SimpleFileOptions;
    use zip::AesMode;

    /// A member: name, content, and its password and AES mode (ZipCrypto
    /// without one), if encrypted.
    type Member<'a> = (&'a str, &'a [u8], Option<(&'a str, Option<AesMode>)>);

    fn make(entries: &[Member<'_>]) -> Vec<u8> {
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data, enc) in entries {
            let o = SimpleFileOptions::default();
            let o = match enc {
                Some((pw, Some(mode))) => o.with_aes_encryption(*mode, pw),
                Some((pw, None)) => o.with_deprecated_encryption(pw.as_bytes()).unwrap(),
                None => o,
            };
            z.start_file(*name, o).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap().into_inner()
    }

    fn members(zip_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut z = zip::ZipArchive::new(Cursor::new(zip_bytes)).unwrap();
        (0..z.len())
            .map(|i| {
                let mut f = z.by_index(i).unwrap();
                let mut d = Vec::new();
                f.read_to_end(&mut d).unwrap();
                (f.name().unwrap().to_string(), d)
            })
            .collect()
    }

    #[test]
    fn zipcrypto_and_aes_unlock_with_the_right_password_only() {
        let l = Limits::default();
        let pws = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for mode in [None, Some(AesMode::Aes128), Some(AesMode::Aes256)] {
            let z = make(&[("資料.txt", "中身".as_bytes(), Some(("himitsu", mode)))]);
            let e = unlock(&z, &pws(&["wrong", "also wrong"]), &l).unwrap_err();
            assert_eq!(e.code, Code::ArchiveEncrypted, "{mode:?}: {e:?}");
            let out = unlock(&z, &pws(&["wrong", "himitsu"]), &l).unwrap();
            assert_eq!(
                members(&out),
                vec![("資料.txt".to_string(), "中身".as_bytes().to_vec())],
                "{mode:?}"
            );
        }
    }

    #[test]
    fn nested_archives_take_a_second_password() {
        let l = Limits::default();
        let inner = make(&[("b.txt", b"inner", Some(("two", Some(AesMode::Aes256))))]);
        let outer = make(&[("inner.zip", &inner, Some(("one", None)))]);
        let only_one = unlock(&outer, &["one".to_string()], &l).unwrap_err();
        assert_eq!(only_one.code, Code::ArchiveEncrypted);
        let out = unlock(&outer, &["one".to_string(), "two".to_string()], &l).unwrap();
        let m = members(&out);
        assert_eq!(m[0].0, "inner.zip");
        assert_eq!(
            members(&m[0].1),
            vec![("b.txt".to_string(), b"inner".to_vec())]
        );
    }
}
