//! Text detection and encoding sniffing.

use encoding_rs::{Encoding, EUC_JP, ISO_2022_JP, SHIFT_JIS, UTF_16BE, UTF_16LE, UTF_8};

/// The encodings mugai reads and writes text in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    /// Shift_JIS as Windows writes it (CP932).
    ShiftJis,
    EucJp,
    Iso2022Jp,
}

impl TextEncoding {
    pub fn encoding(self) -> &'static Encoding {
        match self {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => UTF_8,
            TextEncoding::Utf16Le => UTF_16LE,
            TextEncoding::Utf16Be => UTF_16BE,
            // encoding_rs's Shift_JIS is the WHATWG one, i.e. CP932.
            TextEncoding::ShiftJis => SHIFT_JIS,
            TextEncoding::EucJp => EUC_JP,
            TextEncoding::Iso2022Jp => ISO_2022_JP,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
            TextEncoding::ShiftJis => "shift_jis",
            TextEncoding::EucJp => "euc-jp",
            TextEncoding::Iso2022Jp => "iso-2022-jp",
        }
    }
}

/// The share of control characters (other than tab, CR, LF, FF, ESC) above
/// which bytes are not text.
const MAX_CONTROL_PER_MILLE: usize = 10;
/// The share of other control characters above which bytes are not text.
const MAX_OTHER_CONTROL_PER_MILLE: usize = 100;

/// The encoding `bytes` is text in, or `None` if they are not text.
pub fn sniff_text(bytes: &[u8]) -> Option<TextEncoding> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return plausible_after_decode(&bytes[3..], UTF_8).then_some(TextEncoding::Utf8Bom);
    }
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return plausible_after_decode(&bytes[2..], UTF_16LE).then_some(TextEncoding::Utf16Le);
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return plausible_after_decode(&bytes[2..], UTF_16BE).then_some(TextEncoding::Utf16Be);
    }
    if !few_controls(bytes) {
        return None;
    }
    let has_esc = bytes.contains(&0x1B);
    if bytes.is_ascii() {
        if has_esc && is_iso_2022_jp(bytes) {
            return Some(TextEncoding::Iso2022Jp);
        }
        return Some(TextEncoding::Utf8);
    }
    if std::str::from_utf8(bytes).is_ok() {
        return Some(TextEncoding::Utf8);
    }
    // A truncated last UTF-8 sequence (a file cut mid-character) is still UTF-8.
    if let Err(e) = std::str::from_utf8(bytes) {
        if e.error_len().is_none() && e.valid_up_to() + 4 > bytes.len() && e.valid_up_to() > 0 {
            return Some(TextEncoding::Utf8);
        }
    }
    let sjis_ok = decodes_cleanly(bytes, SHIFT_JIS);
    let euc_ok = decodes_cleanly(bytes, EUC_JP);
    match (sjis_ok, euc_ok) {
        (true, false) => Some(TextEncoding::ShiftJis),
        (false, true) => Some(TextEncoding::EucJp),
        (true, true) => Some(if euc_score(bytes) > sjis_score(bytes) {
            TextEncoding::EucJp
        } else {
            TextEncoding::ShiftJis
        }),
        (false, false) => None,
    }
}

/// NUL marks binary data; other stray control characters are common in
/// real text files (form feeds, BEL, BS) and are dropped by the rebuild.
fn few_controls(bytes: &[u8]) -> bool {
    let nul = bytes.iter().filter(|&&b| b == 0).count();
    let controls = bytes
        .iter()
        .filter(|&&b| {
            (b < 0x20 && !matches!(b, 0 | b'\t' | b'\n' | b'\r' | 0x0C | 0x1B)) || b == 0x7F
        })
        .count();
    let len = bytes.len().max(1);
    (nul <= 2 || nul * 1000 <= len * MAX_CONTROL_PER_MILLE)
        && controls * 1000 <= len * MAX_OTHER_CONTROL_PER_MILLE
}

fn is_iso_2022_jp(bytes: &[u8]) -> bool {
    let (_, _, errors) = ISO_2022_JP.decode(bytes);
    !errors && (bytes.windows(3).any(|w| w == b"\x1b$B" || w == b"\x1b$@"))
}

fn decodes_cleanly(bytes: &[u8], enc: &'static Encoding) -> bool {
    let (_, errors) = enc
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map_or(((), true), |_| ((), false));
    !errors
}

fn plausible_after_decode(bytes: &[u8], enc: &'static Encoding) -> bool {
    let (text, _) = enc.decode_without_bom_handling(bytes);
    let controls = text
        .chars()
        .filter(|&c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
        .count();
    controls * 1000 <= text.chars().count().max(1) * MAX_CONTROL_PER_MILLE
}

/// EUC-JP text is mostly pairs of bytes in 0xA1..=0xFE.
fn euc_score(bytes: &[u8]) -> usize {
    bytes
        .windows(2)
        .filter(|w| (0xA1..=0xFE).contains(&w[0]) && (0xA1..=0xFE).contains(&w[1]))
        .count()
}

/// Shift_JIS lead bytes 0x81..=0x9F never occur in EUC-JP.
fn sjis_score(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .filter(|&&b| (0x81..=0x9F).contains(&b))
        .count()
        * 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_encodings() {
        let s = "日本語のテキスト、住所録です。";
        let (sj, _, _) = SHIFT_JIS.encode(s);
        assert_eq!(sniff_text(&sj), Some(TextEncoding::ShiftJis));
        let (euc, _, _) = EUC_JP.encode(s);
        assert_eq!(sniff_text(&euc), Some(TextEncoding::EucJp));
        let (jis, _, _) = ISO_2022_JP.encode(s);
        assert_eq!(sniff_text(&jis), Some(TextEncoding::Iso2022Jp));
        assert_eq!(sniff_text(s.as_bytes()), Some(TextEncoding::Utf8));
        let mut u16 = vec![0xFF, 0xFE];
        for c in s.encode_utf16() {
            u16.extend_from_slice(&c.to_le_bytes());
        }
        assert_eq!(sniff_text(&u16), Some(TextEncoding::Utf16Le));
    }

    #[test]
    fn binary_is_not_text() {
        assert_eq!(sniff_text(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0]), None);
    }
}
