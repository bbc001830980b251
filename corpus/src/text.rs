//! Cases for the text rules: encodings, control characters, CSV formulas.

use crate::{Case, Expect};
use encoding_rs::{EUC_JP, ISO_2022_JP, SHIFT_JIS};
use mugai_core::Code;

fn utf16(s: &str, le: bool) -> Vec<u8> {
    let mut v = if le {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for u in s.encode_utf16() {
        v.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    v
}

pub fn cases() -> Vec<Case> {
    let ja = "件名：住民税の納付について\r\n担当：市民課　山田\r\n";
    let enc = |e: &'static encoding_rs::Encoding, s: &str| e.encode(s).0.into_owned();
    use Code::*;
    vec![
        Case::new(
            "text/sylk_exec.slk",
            b"ID;PWXL;N;E\r\nC;Y1;X1;K0;EEXEC(\"calc.exe\")\r\nNN;NAuto_open;ER1C1\r\nC;Y2;X1;K\"total\"\r\nE\r\n"
                .to_vec(),
            Expect::sanitized(
                &[TextFormula],
                "SYLK with an EXEC formula and an Auto_open name: both removed, values kept, written as .txt",
            ),
        ),
        Case::new(
            "text/sylk_named.csv",
            b"ID;P\nC;Y1;X1;K1;E=cmd|' /c calc'!A0\nE\n".to_vec(),
            Expect::sanitized(
                &[TextFormula],
                "a .csv that starts with an ID record, which Excel opens as SYLK: the DDE formula is removed",
            ),
        ),
        Case::new(
            "text/utf8.txt",
            ja.as_bytes().to_vec(),
            Expect::clean("UTF-8 Japanese"),
        ),
        Case::new(
            "text/utf8_bom.csv",
            [
                &[0xEF, 0xBB, 0xBF][..],
                "名前,住所\r\n山田,東京\r\n".as_bytes(),
            ]
            .concat(),
            Expect::clean("UTF-8 CSV with a BOM, as Excel writes it"),
        ),
        Case::new(
            "text/shift_jis.txt",
            enc(SHIFT_JIS, ja),
            Expect::clean("Shift_JIS (CP932) text"),
        ),
        Case::new(
            "text/cp932_ext.txt",
            enc(SHIFT_JIS, "①②③ ㈱ ～ 髙橋\r\n"),
            Expect::clean("CP932 extension characters"),
        ),
        Case::new(
            "text/euc_jp.txt",
            enc(EUC_JP, ja),
            Expect::clean("EUC-JP text"),
        ),
        Case::new(
            "text/iso_2022_jp.txt",
            enc(ISO_2022_JP, ja),
            Expect::clean("ISO-2022-JP text"),
        ),
        Case::new(
            "text/utf16le.txt",
            utf16(ja, true),
            Expect::clean("UTF-16LE with BOM"),
        ),
        Case::new(
            "text/utf16be.txt",
            utf16(ja, false),
            Expect::clean("UTF-16BE with BOM"),
        ),
        Case::new(
            "text/app.log",
            b"2026-11-01 10:00:00 INFO started\n2026-11-01 10:00:01 WARN -1 retries\n".to_vec(),
            Expect::clean("a log file"),
        ),
        Case::new(
            "text/controls.txt",
            b"bell\x07 nul\x00 esc-less\x08 text\x0c\n".to_vec(),
            Expect::sanitized(&[TextControl], "NUL, BEL, BS and FF are dropped"),
        ),
        Case::new(
            "text/c1_controls.txt",
            "next\u{85}line\u{9b}31m\n".as_bytes().to_vec(),
            Expect::sanitized(&[TextControl], "C1 control characters are dropped"),
        ),
        Case::new(
            "text/formula.csv",
            b"name,amount\nA,=1+2\nB,@SUM(A1:A2)\n".to_vec(),
            Expect::sanitized(&[TextFormula], "formula cells"),
        ),
        Case::new(
            "text/dde.csv",
            b"x,\"=cmd|' /C calc'!A0\"\n".to_vec(),
            Expect::sanitized(&[TextFormula], "DDE payload in a quoted cell"),
        ),
        Case::new(
            "text/hyperlink.csv",
            enc(
                SHIFT_JIS,
                "氏名,リンク\r\n山田,=HYPERLINK(\"http://example.invalid\",\"詳細\")\r\n",
            ),
            Expect::sanitized(&[TextFormula], "HYPERLINK formula in a Shift_JIS CSV"),
        ),
        Case::new(
            "text/tab_lead.tsv",
            b"a\t+1+1\n\tb\n".to_vec(),
            Expect::sanitized(&[TextFormula], "formula in a TSV"),
        ),
        Case::new(
            "text/numbers.csv",
            b"x,-5,+3.25,1e6,-0.5E-3\n".to_vec(),
            Expect::clean("signed numbers are data, not formulas"),
        ),
        Case::new(
            "text/formula_and_nul.csv",
            b"a,-2+3\x00\n".to_vec(),
            Expect::sanitized(&[TextControl, TextFormula], "both rules at once"),
        ),
        Case::new(
            "text/equals.txt",
            b"=this is not a spreadsheet\n".to_vec(),
            Expect::clean("formula guard applies to CSV/TSV only"),
        ),
        Case::new(
            "text/sep_semicolon.csv",
            b"sep=;\r\nname;amount\r\nx;=cmd|' /C calc'!A0\r\n".to_vec(),
            Expect::sanitized(&[TextFormula], "a sep=; first line: cells split on ;"),
        ),
        Case::new(
            "text/cr_only_rows.csv",
            b"a,b\r=HYPERLINK(\"http://evil.example\",\"x\"),c\r".to_vec(),
            Expect::sanitized(&[TextFormula], "rows ended by CR alone"),
        ),
        Case::new(
            "text/utf16_tabs.csv",
            utf16("name\tvalue\r\nx\t@SUM(1+1)*cmd|'/C calc'!A0\r\n", true),
            Expect::sanitized(&[TextFormula], "UTF-16 CSV: Excel splits it on tabs"),
        ),
        Case::new(
            "text/quoted_spaces.csv",
            b"a,\"  =1+2\",  +x\n".to_vec(),
            Expect::sanitized(
                &[TextFormula],
                "formula after the opening quote and leading spaces",
            ),
        ),
        Case::new(
            "text/numbers_and_sep.csv",
            b"sep=,\n-5,+1.5e3\n".to_vec(),
            Expect::clean("plain numbers are data, a sep= line is not a cell"),
        ),
    ]
}
