//! The text rebuild: decode, clean, neutralise, re-encode.

use crate::formula;
use mugai_core::config::TextEncoding as OutputEncoding;
use mugai_core::{Blocked, Code, Context, FileType, Rebuilder, Rebuilt};
use mugai_detect::{sniff_text, TextEncoding};

/// The rebuilder for [`FileType::Text`], [`FileType::Csv`] and [`FileType::Tsv`].
#[derive(Debug, Default, Clone, Copy)]
pub struct TextRebuilder;

impl Rebuilder for TextRebuilder {
    fn rebuild(
        &self,
        input: &[u8],
        file_type: FileType,
        cx: &mut Context<'_>,
    ) -> Result<Rebuilt, Blocked> {
        // C0 bytes other than TAB/LF/CR/ESC are never part of a multi-byte
        // character in the 8-bit encodings read here, so the encoding is
        // judged on the bytes without them.
        let sniff_on: std::borrow::Cow<'_, [u8]> =
            if input.starts_with(&[0xFF, 0xFE]) || input.starts_with(&[0xFE, 0xFF]) {
                input.into()
            } else {
                input
                    .iter()
                    .copied()
                    .filter(|&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x1B))
                    .collect::<Vec<u8>>()
                    .into()
            };
        let enc = if input.is_empty() {
            TextEncoding::Utf8
        } else {
            sniff_text(&sniff_on)
                .ok_or_else(|| cx.block(Code::RebuildFailed, "not decodable as text"))?
        };
        let body = match enc {
            TextEncoding::Utf8Bom => &input[3..],
            TextEncoding::Utf16Le | TextEncoding::Utf16Be => &input[2..],
            _ => input,
        };
        let (decoded, _) = enc.encoding().decode_without_bom_handling(body);

        let mut controls = 0usize;
        let mut text: String = decoded
            .chars()
            .filter(|&c| {
                let drop = c.is_control() && !matches!(c, '\t' | '\r' | '\n');
                controls += usize::from(drop);
                !drop
            })
            .collect();
        if controls > 0 {
            cx.removed(
                Code::TextControl,
                format!("{controls} control characters (NUL, C0/C1) removed"),
            );
        }
        cx.check_deadline()?;

        // Excel reads any text that starts with an `ID` record as SYLK.
        if crate::sylk::is_sylk(&text) {
            let (kept, removed) = crate::sylk::neutralise(&text);
            if removed != crate::sylk::Removed::default() {
                cx.neutralised(
                    Code::TextFormula,
                    format!(
                        "SYLK: {} cell formulas and {} records (names, links, options) removed; values kept",
                        removed.fields, removed.records
                    ),
                );
                text = kept;
            }
        }

        if cx.policy().text.csv_formula_guard && matches!(file_type, FileType::Csv | FileType::Tsv)
        {
            // Excel opens a UTF-16 file as tab-separated whatever its name.
            let utf16 = matches!(enc, TextEncoding::Utf16Le | TextEncoding::Utf16Be);
            let defaults: &[char] = match (file_type, utf16) {
                (FileType::Tsv, _) => &['\t'],
                (_, true) => &[',', '\t'],
                _ => &[','],
            };
            let seps = formula::separators(&text, defaults);
            let (guarded, changed) = formula::neutralise(&text, &seps);
            if let Some(&(line, col)) = changed.first() {
                cx.neutralised(
                    Code::TextFormula,
                    format!(
                        "{} cells that would run as formulas prefixed with ' (first at line {line}, column {col})",
                        changed.len()
                    ),
                );
                text = guarded;
            }
        }

        let out_enc = match cx.policy().text.output_encoding {
            OutputEncoding::Original => enc,
            OutputEncoding::Utf8 => TextEncoding::Utf8,
        };
        Ok(Rebuilt::new(encode(&text, out_enc), file_type))
    }
}

/// Encodes `text` in `enc`; text that the legacy encoding cannot hold
/// (it was decoded from it, so only replacement characters) falls back to
/// UTF-8 with a BOM rather than losing characters.
fn encode(text: &str, enc: TextEncoding) -> Vec<u8> {
    match enc {
        TextEncoding::Utf8 => text.as_bytes().to_vec(),
        TextEncoding::Utf8Bom => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
        TextEncoding::Utf16Le => {
            let mut v = vec![0xFF, 0xFE];
            text.encode_utf16()
                .for_each(|u| v.extend_from_slice(&u.to_le_bytes()));
            v
        }
        TextEncoding::Utf16Be => {
            let mut v = vec![0xFE, 0xFF];
            text.encode_utf16()
                .for_each(|u| v.extend_from_slice(&u.to_be_bytes()));
            v
        }
        legacy => {
            let (bytes, _, unmappable) = legacy.encoding().encode(text);
            if unmappable {
                [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat()
            } else {
                bytes.into_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugai_core::{Budget, NoMembers, Policy};

    fn run(input: &[u8], ty: FileType) -> (Vec<u8>, Vec<Code>) {
        let policy = Policy::default();
        let budget = Budget::new(&policy.limits);
        let mut cx = Context::new(&policy, &budget, &NoMembers, None);
        let r = TextRebuilder.rebuild(input, ty, &mut cx).unwrap();
        (r.bytes, cx.findings().iter().map(|f| f.code).collect())
    }

    #[test]
    fn shift_jis_stays_shift_jis_and_controls_go() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("住所,氏名\r\n東京都,山田\0太郎\r\n");
        let (out, codes) = run(&sjis, FileType::Csv);
        let (expected, _, _) = encoding_rs::SHIFT_JIS.encode("住所,氏名\r\n東京都,山田太郎\r\n");
        assert_eq!(out, expected.into_owned());
        assert_eq!(codes, vec![Code::TextControl]);
    }

    #[test]
    fn utf16_round_trips_with_bom() {
        let mut input = vec![0xFF, 0xFE];
        "メモ\n"
            .encode_utf16()
            .for_each(|u| input.extend_from_slice(&u.to_le_bytes()));
        let (out, codes) = run(&input, FileType::Text);
        assert_eq!(out, input);
        assert!(codes.is_empty());
    }

    #[test]
    fn csv_formulas_are_neutralised_but_plain_text_is_not() {
        let (out, codes) = run(b"a,=HYPERLINK(\"x\")\n", FileType::Csv);
        assert_eq!(out, b"a,'=HYPERLINK(\"x\")\n");
        assert_eq!(codes, vec![Code::TextFormula]);
        let (out, codes) = run(b"=not a csv\n", FileType::Text);
        assert_eq!(out, b"=not a csv\n");
        assert!(codes.is_empty());
    }

    #[test]
    fn utf16_csv_is_split_on_tabs_and_sep_lines_count() {
        let mut input = vec![0xFF, 0xFE];
        "a\t=HYPERLINK(\"x\")\r\n"
            .encode_utf16()
            .for_each(|u| input.extend_from_slice(&u.to_le_bytes()));
        let (out, codes) = run(&input, FileType::Csv);
        let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(&out[2..]);
        assert_eq!(text, "a\t'=HYPERLINK(\"x\")\r\n");
        assert_eq!(codes, vec![Code::TextFormula]);
        let (out, codes) = run(b"sep=;\r\nx;@SUM(A1)\r\n", FileType::Csv);
        assert_eq!(out, b"sep=;\r\nx;'@SUM(A1)\r\n");
        assert_eq!(codes, vec![Code::TextFormula]);
        let (out, _) = run(b"a\r-2+3\r", FileType::Csv);
        assert_eq!(out, b"a\r'-2+3\r");
    }

    #[test]
    fn iso_2022_jp_and_euc_jp_round_trip() {
        for enc in [encoding_rs::ISO_2022_JP, encoding_rs::EUC_JP] {
            let (bytes, _, _) = enc.encode("お知らせ：会議は十時からです。\n");
            let (out, codes) = run(&bytes, FileType::Text);
            assert_eq!(out, bytes.into_owned(), "{}", enc.name());
            assert!(codes.is_empty());
        }
    }
}
