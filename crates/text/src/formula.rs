//! CSV/TSV formula-injection neutralisation.
//!
//! A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-`
//! or `@` (and, in some, tab or CR) as a formula (`=HYPERLINK(..)`,
//! `=cmd|' /C calc'!A0`). Such cells get a leading `'`, which makes the
//! spreadsheet show the text as typed. Plain numbers such as `-5` or
//! `+1.5e3` are left alone: they are data, not formulas.
//!
//! Cells are found the way a spreadsheet finds them, not by one fixed
//! separator: a `sep=X` first line (Excel) adds `X`; UTF-16 files are
//! split on tabs as well (Excel's "Unicode text"); a row ends at LF, CRLF
//! or a lone CR; a cell's first character is judged after its leading
//! spaces and opening quote. When readers differ, every reading is
//! guarded (the separators are a union), since a `'` too many is harmless.

/// The separators a spreadsheet would split `text` on: `defaults`, plus
/// the one a `sep=X` first line names (case-insensitive, as Excel reads it).
pub fn separators(text: &str, defaults: &[char]) -> Vec<char> {
    let mut seps = defaults.to_vec();
    let first = text.split(['\r', '\n']).next().unwrap_or("");
    if first.len() >= 4 && first.is_char_boundary(4) && first[..4].eq_ignore_ascii_case("sep=") {
        let mut rest = first[4..].chars();
        if let (Some(c), None) = (rest.next(), rest.next()) {
            if c != '"' && !seps.contains(&c) {
                seps.push(c);
            }
        }
    }
    seps
}

/// Neutralises every formula cell of `text` split on `seps`. Returns the
/// new text and the (1-based row, column) of each cell changed.
pub fn neutralise(text: &str, seps: &[char]) -> (String, Vec<(usize, usize)>) {
    let mut out = String::with_capacity(text.len() + 16);
    let mut changed = Vec::new();
    let (mut row, mut col) = (1usize, 1usize);
    let mut i = 0usize;
    let is_sep = |c: char| seps.contains(&c);
    while i <= text.len() {
        // At a cell start. Only a quote in the very first position opens
        // a quoted cell (a quote after spaces is literal, as in Excel); the
        // first character is judged after spaces and quotes either way.
        let cell = &text[i..];
        let quoted = cell.starts_with('"');
        let content = cell.trim_start_matches([' ', '"']);
        if starts_formula(content, seps) {
            changed.push((row, col));
            if quoted {
                out.push('"');
                i += 1;
            }
            out.push('\'');
        } else if quoted {
            out.push('"');
            i += 1;
        }
        // The rest of the cell, up to its separator or row end.
        let mut in_quotes = quoted;
        let mut chars = text[i..].char_indices().peekable();
        let mut ended = None;
        while let Some((j, c)) = chars.next() {
            if in_quotes {
                if c == '"' {
                    if chars.peek().map(|&(_, n)| n) == Some('"') {
                        chars.next();
                    } else {
                        in_quotes = false;
                    }
                } else if c == '\n' || (c == '\r' && chars.peek().map(|&(_, n)| n) != Some('\n')) {
                    row += 1;
                }
                continue;
            }
            if is_sep(c) {
                ended = Some((j, c.len_utf8(), false));
                break;
            }
            if c == '\n' {
                ended = Some((j, 1, true));
                break;
            }
            if c == '\r' {
                let len = if chars.peek().map(|&(_, n)| n) == Some('\n') {
                    2
                } else {
                    1
                };
                ended = Some((j, len, true));
                break;
            }
        }
        match ended {
            Some((j, len, new_row)) => {
                out.push_str(&text[i..i + j + len]);
                i += j + len;
                if new_row {
                    row += 1;
                    col = 1;
                } else {
                    col += 1;
                }
            }
            None => {
                out.push_str(&text[i..]);
                break;
            }
        }
    }
    (out, changed)
}

fn starts_formula(cell: &str, seps: &[char]) -> bool {
    let Some(first) = cell.chars().next() else {
        return false;
    };
    if !matches!(first, '=' | '+' | '-' | '@' | '\t' | '\r') || seps.contains(&first) {
        return false;
    }
    if first == '\r' && cell[1..].starts_with('\n') {
        return false; // an empty last cell before CRLF
    }
    !is_plain_number(cell_text(cell, seps))
}

fn cell_text<'a>(cell: &'a str, seps: &[char]) -> &'a str {
    let end = cell
        .find(|c: char| seps.contains(&c) || matches!(c, '\n' | '\r' | '"'))
        .unwrap_or(cell.len());
    &cell[..end]
}

fn is_plain_number(s: &str) -> bool {
    let s = s.trim_end();
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s.is_empty() {
        return false;
    }
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(p) => (&s[..p], Some(&s[p + 1..])),
        None => (s, None),
    };
    let mut dots = 0;
    let digits_ok = !mantissa.is_empty()
        && mantissa.chars().all(|c| {
            if c == '.' {
                dots += 1;
                true
            } else {
                c.is_ascii_digit()
            }
        })
        && dots <= 1
        && mantissa != ".";
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    digits_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_get_a_quote() {
        let (out, changed) = neutralise("a,=1+2,b\n@SUM(A1),x,\"=cmd|' /C calc'!A0\"\n", &[',']);
        assert_eq!(out, "a,'=1+2,b\n'@SUM(A1),x,\"'=cmd|' /C calc'!A0\"\n");
        assert_eq!(changed, vec![(1, 2), (2, 1), (2, 3)]);
    }

    #[test]
    fn numbers_and_plain_cells_are_untouched() {
        let input = "-5,+1.5e3,-0.25,abc,\"q,\"\"x\"\"\"\n";
        let (out, changed) = neutralise(input, &[',']);
        assert_eq!(out, input);
        assert!(changed.is_empty());
    }

    #[test]
    fn tab_separated_and_quoted_newlines() {
        let (out, changed) = neutralise("a\t-2+3\n\"line\n=two\"\t+x\n", &['\t']);
        assert_eq!(out, "a\t'-2+3\n\"line\n=two\"\t'+x\n");
        assert_eq!(changed, vec![(1, 2), (3, 2)]);
    }

    #[test]
    fn sep_line_sets_the_separator() {
        let text = "sep=;\na;=1+2;b\n";
        let seps = separators(text, &[',']);
        assert_eq!(seps, vec![',', ';']);
        let (out, changed) = neutralise(text, &seps);
        assert_eq!(out, "sep=;\na;'=1+2;b\n");
        assert_eq!(changed, vec![(2, 2)]);
        assert_eq!(separators("SEP=|\r\nx", &[',']), vec![',', '|']);
        assert_eq!(
            separators("sep=;x\n", &[',']),
            vec![','],
            "one character only"
        );
    }

    #[test]
    fn cr_only_rows_and_leading_spaces_and_quotes() {
        let (out, changed) = neutralise("a,b\r=1+2,c\r  @x,\"  -y\"\r", &[',']);
        assert_eq!(out, "a,b\r'=1+2,c\r'  @x,\"'  -y\"\r");
        assert_eq!(changed, vec![(2, 1), (3, 1), (3, 2)]);
        // A quote after spaces is literal: Excel splits at the comma.
        let (out, changed) = neutralise(" \"a,=cmd|' /C calc'!A0\"\n", &[',']);
        assert_eq!(out, " \"a,'=cmd|' /C calc'!A0\"\n");
        assert_eq!(changed, vec![(1, 2)]);
        // Tab and CR inside a quoted cell start a formula in some readers.
        let (out, _) = neutralise("\"\t=1\",\"\r=2\"\n", &[',']);
        assert_eq!(out, "\"'\t=1\",\"'\r=2\"\n");
    }

    #[test]
    fn neutralised_text_is_a_fixpoint() {
        for (t, seps) in [
            ("sep=;\r=1;+x\r\"@a\"\n", &[',', ';'][..]),
            ("a\t-b\t=c\n", &['\t', ','][..]),
        ] {
            let (once, n) = neutralise(t, seps);
            assert!(!n.is_empty());
            let (twice, m) = neutralise(&once, seps);
            assert_eq!(once, twice);
            assert!(m.is_empty());
        }
    }

    #[test]
    fn phone_numbers_are_neutralised() {
        let (out, _) = neutralise("+81-3-1234-5678\n", &[',']);
        assert_eq!(out, "'+81-3-1234-5678\n");
    }
}
