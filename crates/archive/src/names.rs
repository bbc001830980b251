//! Entry names: decoding and neutralisation.
//!
//! Decoding order: the UTF-8 flag (bit 11); then the Info-ZIP Unicode Path
//! extra field (0x7075) when its CRC matches the raw name; then plain
//! ASCII; then UTF-8 written without the flag (valid multi-byte UTF-8 is
//! strong evidence, and Shift_JIS bytes are almost never valid UTF-8);
//! then CP932, the encoding Japanese Windows writes.
//!
//! Neutralisation never yields a name that escapes the archive root:
//! separators are `/` only, no empty, `.` or `..` components, no drive
//! letters, and each component passes [`mugai_detect::name::check`].

use crate::read::{find_extra, FLAG_UTF8};
use mugai_core::{Blocked, Code, Finding};
use mugai_detect::name::{check, printable};
use std::collections::HashSet;

/// How a name was decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameEncoding {
    /// UTF-8 flag set.
    Utf8Flag,
    /// Info-ZIP Unicode Path extra field.
    UnicodePath,
    Ascii,
    /// UTF-8 without the flag.
    Utf8Unflagged,
    /// CP932 (Shift_JIS); `lossy` when some bytes did not decode.
    Cp932 {
        lossy: bool,
    },
}

/// A decoded name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub encoding: NameEncoding,
}

/// Decodes an entry name from its raw bytes, flags and extra fields.
pub fn decode(raw: &[u8], flags: u16, extra: &[u8]) -> Decoded {
    if flags & FLAG_UTF8 != 0 {
        if let Ok(s) = std::str::from_utf8(raw) {
            return Decoded {
                text: s.to_string(),
                encoding: NameEncoding::Utf8Flag,
            };
        }
    }
    if let Some(s) = unicode_path(raw, extra) {
        return Decoded {
            text: s,
            encoding: NameEncoding::UnicodePath,
        };
    }
    if raw.is_ascii() {
        return Decoded {
            text: String::from_utf8_lossy(raw).into_owned(),
            encoding: NameEncoding::Ascii,
        };
    }
    if let Ok(s) = std::str::from_utf8(raw) {
        return Decoded {
            text: s.to_string(),
            encoding: NameEncoding::Utf8Unflagged,
        };
    }
    let (text, _, lossy) = encoding_rs::SHIFT_JIS.decode(raw);
    Decoded {
        text: text.into_owned(),
        encoding: NameEncoding::Cp932 { lossy },
    }
}

/// The Info-ZIP Unicode Path (0x7075): version 1, CRC-32 of the raw name,
/// then the UTF-8 name. Ignored when the CRC does not match, since the
/// raw name was then changed by a tool that did not update it.
fn unicode_path(raw: &[u8], extra: &[u8]) -> Option<String> {
    let data = find_extra(extra, 0x7075)?;
    let (&version, rest) = data.split_first()?;
    let crc_bytes: [u8; 4] = rest.get(..4)?.try_into().ok()?;
    let name = rest.get(4..)?;
    if version != 1 || u32::from_le_bytes(crc_bytes) != crc32(raw) || name.is_empty() {
        return None;
    }
    std::str::from_utf8(name).ok().map(str::to_string)
}

/// CRC-32 (IEEE), as ZIP uses it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

/// A name made safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafePath {
    /// Relative, `/`-separated, never empty.
    pub path: String,
    /// The original named a directory.
    pub is_dir: bool,
    /// What was neutralised (codes `archive.path_traversal` and `name.*`).
    pub findings: Vec<Finding>,
    /// Set when the file name alone blocks the member (executable or
    /// double extension).
    pub block: Option<Blocked>,
}

/// Neutralises a decoded name.
pub fn neutralise(name: &str) -> SafePath {
    let mut findings = Vec::new();
    let mut traversal: Vec<&str> = Vec::new();
    let is_dir = name.ends_with(['/', '\\']);
    if name.contains('\\') {
        traversal.push("backslashes");
    }
    if name.starts_with(['/', '\\']) {
        traversal.push("an absolute path");
    }
    let mut parts: Vec<&str> = name.split(['/', '\\']).collect();
    if let Some(first) = parts.first_mut() {
        let b = first.as_bytes();
        if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
            traversal.push("a drive letter");
            *first = first.get(2..).unwrap_or("");
        }
    }
    let mut kept: Vec<&str> = Vec::new();
    for p in parts {
        match p {
            "" | "." => {}
            ".." => {
                if !traversal.contains(&"`..`") {
                    traversal.push("`..`");
                }
            }
            other => kept.push(other),
        }
    }

    let mut out: Vec<String> = Vec::with_capacity(kept.len());
    let mut block = None;
    let last = kept.len().saturating_sub(1);
    for (i, comp) in kept.iter().enumerate() {
        let c = check(comp);
        findings.extend(c.findings);
        if i == last && !is_dir {
            block = c.block;
        }
        out.push(c.safe_name);
    }
    let mut path = out.join("/");
    if path.is_empty() {
        path = "unnamed".into();
    }
    if !traversal.is_empty() {
        findings.insert(
            0,
            Finding::new(
                Code::ArchivePathTraversal,
                Code::ArchivePathTraversal.default_action(),
                format!(
                    "name `{}` had {}; written as `{}`",
                    printable(name),
                    traversal.join(", "),
                    path
                ),
            ),
        );
    }
    SafePath {
        path,
        is_dir,
        findings,
        block,
    }
}

/// The output names taken so far, compared as Windows does (ignoring case),
/// so that no entry overwrites another when extracted.
#[derive(Debug, Default)]
pub struct NameTable {
    files: HashSet<String>,
    dirs: HashSet<String>,
}

impl NameTable {
    pub fn new() -> Self {
        NameTable::default()
    }

    /// Takes `path`, or the nearest free variant (`a (2).txt`; a directory
    /// component that clashes with a file becomes `dir_`). Returns the
    /// name taken.
    pub fn take(&mut self, path: &str) -> String {
        let mut comps: Vec<String> = path.split('/').map(str::to_string).collect();
        let n = comps.len();
        for i in 0..n.saturating_sub(1) {
            while self.files.contains(&key(&comps[..=i])) {
                comps[i].push('_');
            }
        }
        let mut candidate = comps.clone();
        let mut k = 1u64;
        while {
            let full = key(&candidate);
            self.files.contains(&full) || self.dirs.contains(&full)
        } {
            k += 1;
            if let Some(last) = candidate.last_mut() {
                *last = numbered(&comps[n - 1], k);
            }
        }
        for i in 0..n.saturating_sub(1) {
            self.dirs.insert(key(&candidate[..=i]));
        }
        self.files.insert(key(&candidate));
        candidate.join("/")
    }
}

fn key(comps: &[String]) -> String {
    comps.join("/").to_lowercase()
}

/// `name (k).ext`.
fn numbered(name: &str, k: u64) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({k}).{ext}"),
        _ => format!("{name} ({k})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(p: &SafePath) -> Vec<Code> {
        p.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn traversal_absolute_drive_and_backslash_are_neutralised() {
        for (raw, want) in [
            ("../../etc/passwd", "etc/passwd"),
            ("/etc/cron.d/job", "etc/cron.d/job"),
            ("C:\\Windows\\System32\\x.txt", "Windows/System32/x.txt"),
            ("c:evil.txt", "evil.txt"),
            ("a/./b/../c.txt", "a/b/c.txt"),
            ("\\\\server\\share\\x.txt", "server/share/x.txt"),
            ("..", "unnamed"),
        ] {
            let p = neutralise(raw);
            assert_eq!(p.path, want, "{raw}");
            assert_eq!(
                codes(&p).first(),
                Some(&Code::ArchivePathTraversal),
                "{raw}"
            );
        }
        let ok = neutralise("docs/報告書.txt");
        assert_eq!(ok.path, "docs/報告書.txt");
        assert!(ok.findings.is_empty());
        assert!(neutralise("dir/").is_dir);
    }

    #[test]
    fn components_get_the_file_name_checks() {
        let p = neutralise("a/CON/report\u{202E}txt.pdf");
        assert_eq!(p.path, "a/_CON/reporttxt.pdf");
        assert!(codes(&p).contains(&Code::NameBidi));
        assert!(codes(&p).contains(&Code::NameUnsafe));
        assert_eq!(
            neutralise("x/setup.exe").block.map(|b| b.code),
            Some(Code::TypeExecutable)
        );
        assert_eq!(
            neutralise("invoice.pdf.exe").block.map(|b| b.code),
            Some(Code::NameDoubleExt)
        );
        assert!(neutralise("tools.exe/readme.txt").block.is_none());
        assert_eq!(neutralise("a/b:c.txt").path, "a/b_c.txt");
    }

    #[test]
    fn names_decode_in_the_documented_order() {
        let sjis = encoding_rs::SHIFT_JIS
            .encode("資料/報告書.txt")
            .0
            .into_owned();
        let d = decode(&sjis, 0, &[]);
        assert_eq!(d.text, "資料/報告書.txt");
        assert_eq!(d.encoding, NameEncoding::Cp932 { lossy: false });

        let utf8 = "資料.txt".as_bytes();
        assert_eq!(
            decode(utf8, FLAG_UTF8, &[]).encoding,
            NameEncoding::Utf8Flag
        );
        assert_eq!(decode(utf8, 0, &[]).encoding, NameEncoding::Utf8Unflagged);

        let mut extra = vec![0x75, 0x70];
        let mut data = vec![1u8];
        data.extend(crc32(b"garbled").to_le_bytes());
        data.extend("正しい名前.txt".as_bytes());
        extra.extend((data.len() as u16).to_le_bytes());
        extra.extend(&data);
        let d = decode(b"garbled", 0, &extra);
        assert_eq!(
            (d.text.as_str(), d.encoding),
            ("正しい名前.txt", NameEncoding::UnicodePath)
        );
        // A stale CRC means the extra field no longer describes the name.
        assert_eq!(decode(b"other", 0, &extra).text, "other");
        assert_eq!(
            decode(b"\x82\xa0\xff\xff", 0, &[]).encoding,
            NameEncoding::Cp932 { lossy: true }
        );
    }

    #[test]
    fn duplicates_get_numbered_and_never_collide() {
        let mut t = NameTable::new();
        assert_eq!(t.take("a.txt"), "a.txt");
        assert_eq!(t.take("A.TXT"), "A (2).TXT");
        assert_eq!(t.take("a.txt"), "a (3).txt");
        assert_eq!(t.take("d/x.txt"), "d/x.txt");
        assert_eq!(t.take("d"), "d (2)");
        assert_eq!(t.take("a.txt/y.txt"), "a.txt_/y.txt");
    }
}
