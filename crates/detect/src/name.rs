//! File-name danger factors (`name.*`) and safe output names.

use crate::ext::{claimed_types, extension_of, is_executable_extension};
use mugai_core::{Action, Blocked, Code, Finding};

/// Longest name written, in bytes of UTF-8 (NTFS and ext4 allow 255).
pub const MAX_NAME_BYTES: usize = 200;

/// The result of checking one file name (a single path component).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCheck {
    /// The name to write the output under.
    pub safe_name: String,
    /// What was neutralised in the name.
    pub findings: Vec<Finding>,
    /// Set when the name alone blocks the file.
    pub block: Option<Blocked>,
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Control characters, and the Unicode line and paragraph separators that
/// break a name shown in a line of text (a list, a log) as a newline would.
fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

fn is_reserved_device(stem: &str) -> bool {
    let s = stem.trim_end_matches([' ', '.']).to_ascii_uppercase();
    matches!(
        s.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CLOCK$" | "CONIN$" | "CONOUT$"
    ) || ((s.starts_with("COM") || s.starts_with("LPT"))
        && s.len() == 4
        && matches!(s.as_bytes()[3], b'0'..=b'9' | 0xB9 | 0xB2 | 0xB3))
        || ((s.starts_with("COM") || s.starts_with("LPT")) && matches!(&s[3..], "¹" | "²" | "³"))
}

/// Checks one file name (the last path component as received) and gives a
/// name that is safe to write on Windows and Unix alike.
pub fn check(name: &str) -> NameCheck {
    let mut findings = Vec::new();
    let mut block = None;
    let mut s: String = name.to_string();

    if s.chars().any(is_bidi) {
        s = s.chars().filter(|&c| !is_bidi(c)).collect();
        findings.push(Finding::new(
            Code::NameBidi,
            Action::Neutralised,
            format!(
                "bidi control characters removed from the name (now `{}`)",
                printable(&s)
            ),
        ));
    }
    // Zero-width and other invisible format characters hide extensions too.
    if s.chars()
        .any(|c| matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'))
    {
        s = s
            .chars()
            .filter(|c| !matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'))
            .collect();
        findings.push(Finding::new(
            Code::NameUnsafe,
            Action::Neutralised,
            "invisible characters removed from the name",
        ));
    }

    // NTFS alternate data streams: `a.txt:evil.exe`.
    if s.contains(':') {
        let stream_part = s
            .split_once(':')
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        s = s.replace(':', "_");
        findings.push(Finding::new(
            Code::NameDoubleExt,
            Action::Neutralised,
            format!(
                "NTFS stream name `:{}` neutralised",
                printable(&stream_part)
            ),
        ));
    }

    let mut unsafe_what = Vec::new();
    if s.contains(['/', '\\']) {
        unsafe_what.push("path separators");
        s = s.replace(['/', '\\'], "_");
    }
    if s.chars().any(is_control) {
        unsafe_what.push("control characters");
        s = s
            .chars()
            .map(|c| if is_control(c) { '_' } else { c })
            .collect();
    }
    if s.contains(['<', '>', '"', '|', '?', '*']) {
        unsafe_what.push("reserved characters");
        s = s.replace(['<', '>', '"', '|', '?', '*'], "_");
    }
    if s == "." || s == ".." || s.starts_with("..") {
        unsafe_what.push("`..`");
        s = s.trim_start_matches('.').to_string();
        s.insert(0, '_');
    }

    // Trailing dots and spaces are dropped by Windows, which then sees a
    // different extension.
    let trimmed = s.trim_end_matches([' ', '.']).to_string();
    if trimmed != s {
        findings.push(Finding::new(
            Code::NameDoubleExt,
            Action::Neutralised,
            "trailing dots or spaces removed from the name",
        ));
        s = trimmed;
    }

    let stem = s.split('.').next().unwrap_or("");
    if is_reserved_device(stem) {
        unsafe_what.push("a device name");
        s.insert(0, '_');
    }

    if s.len() > MAX_NAME_BYTES {
        unsafe_what.push("over-long name");
        s = shorten(&s, MAX_NAME_BYTES);
    }
    if s.is_empty() {
        unsafe_what.push("empty name");
        s = "unnamed".into();
    }
    if !unsafe_what.is_empty() {
        findings.push(Finding::new(
            Code::NameUnsafe,
            Action::Neutralised,
            format!(
                "name had {}; renamed to `{}`",
                unsafe_what.join(", "),
                printable(&s)
            ),
        ));
    }

    // Double extensions: `invoice.pdf.exe`, `photo.jpg      .scr`.
    if let Some(ext) = extension_of(&s) {
        if is_executable_extension(&ext) {
            let before = &s[..s.len() - ext.len() - 1];
            let inner = extension_of(before.trim_end());
            if inner.as_deref().is_some_and(|e| claimed_types(e).is_some())
                || before.ends_with("  ")
            {
                block = Some(Blocked::new(
                    Code::NameDoubleExt,
                    format!(
                        "double extension `{}` hides an executable extension",
                        printable(&s)
                    ),
                ));
            } else {
                block = Some(Blocked::new(
                    Code::TypeExecutable,
                    format!("`.{ext}` is an executable extension"),
                ));
            }
        }
    }

    NameCheck {
        safe_name: s,
        findings,
        block,
    }
}

/// Makes one directory component of a relative path safe, the same way.
pub fn safe_component(component: &str) -> String {
    check(component).safe_name
}

/// Replaces the extension of `name` with `ext` (or adds it).
pub fn with_extension(name: &str, ext: &str) -> String {
    if ext.is_empty() {
        return name.to_string();
    }
    match name.rsplit_once('.') {
        Some((stem, old)) if !stem.is_empty() => {
            if old.eq_ignore_ascii_case(ext) {
                name.to_string()
            } else {
                format!("{stem}.{ext}")
            }
        }
        _ => format!("{name}.{ext}"),
    }
}

fn shorten(s: &str, max: usize) -> String {
    let ext = extension_of(s).filter(|e| e.len() <= 10);
    let keep = max - ext.as_ref().map_or(0, |e| e.len() + 1);
    let mut stem = String::new();
    for c in s.chars() {
        if stem.len() + c.len_utf8() > keep {
            break;
        }
        stem.push(c);
    }
    match ext {
        Some(e) => format!("{stem}.{e}"),
        // The cut may leave a trailing dot or space, which Windows drops:
        // the name would not be its own safe name.
        None => stem.trim_end_matches([' ', '.']).to_string(),
    }
}

/// A name as it can be shown in a one-line message.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if is_control(c) || is_bidi(c) { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(n: &NameCheck) -> Vec<Code> {
        n.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn bidi_is_removed_and_reveals_executable() {
        let n = check("report\u{202E}fdp.exe");
        assert_eq!(n.safe_name, "reportfdp.exe");
        assert!(codes(&n).contains(&Code::NameBidi));
        assert_eq!(n.block.unwrap().code, Code::TypeExecutable);
    }

    #[test]
    fn double_extension_blocks() {
        assert_eq!(
            check("invoice.pdf.exe").block.unwrap().code,
            Code::NameDoubleExt
        );
        assert_eq!(
            check("photo.jpg        .scr").block.unwrap().code,
            Code::NameDoubleExt
        );
        assert!(check("report.2024.pdf").block.is_none());
    }

    #[test]
    fn a_shortened_name_is_its_own_safe_name() {
        for name in [
            format!("{} tail", "a".repeat(MAX_NAME_BYTES - 1)),
            format!("{}.tail", "b".repeat(MAX_NAME_BYTES - 1)),
        ] {
            let once = check(&name).safe_name;
            assert!(once.len() <= MAX_NAME_BYTES, "{once}");
            let twice = check(&once);
            assert_eq!(twice.safe_name, once);
            assert!(twice.findings.is_empty(), "{:?}", twice.findings);
        }
    }

    #[test]
    fn unsafe_names_are_renamed() {
        let n = check("../../etc/passwd");
        assert!(!n.safe_name.contains('/'));
        assert!(!n.safe_name.starts_with(".."));
        assert!(codes(&n).contains(&Code::NameUnsafe));
        assert_eq!(check("CON.txt").safe_name, "_CON.txt");
        assert_eq!(check("com1").safe_name, "_com1");
        let n = check("a.txt:evil.exe");
        assert_eq!(n.safe_name, "a.txt_evil.exe");
        let n = check("notes.txt. . ");
        assert_eq!(n.safe_name, "notes.txt");
        assert!(codes(&n).contains(&Code::NameDoubleExt));
        let long = format!("{}.pdf", "あ".repeat(200));
        let n = check(&long);
        assert!(n.safe_name.len() <= MAX_NAME_BYTES && n.safe_name.ends_with(".pdf"));
        assert!(check("ok name (1).pdf").findings.is_empty());
        let n = check("a\u{2028}2. b.pdf");
        assert_eq!(n.safe_name, "a_2. b.pdf");
        assert!(codes(&n).contains(&Code::NameUnsafe));
    }

    #[test]
    fn extension_replacement() {
        assert_eq!(with_extension("a.docm", "docx"), "a.docx");
        assert_eq!(with_extension("a.DOCX", "docx"), "a.DOCX");
        assert_eq!(with_extension("noext", "pdf"), "noext.pdf");
    }
}
