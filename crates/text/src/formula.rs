//! CSV/TSV formula-injection neutralisation.
//!
//! A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-`
//! or `@` (and, in some, tab or CR) as a formula (`=HYPERLINK(..)`,
//! `=cmd|' /C calc'!A0`). Such cells get a leading `'`, which makes the
//! spreadsheet show the text as typed. Plain numbers such as `-5` or
//! `+1.5e3` are left alone: they are data, not formulas.

/// Neutralises every formula cell of `text` with `sep` as the field
/// separator. Returns the new text and the (1-based line, column) of each
/// cell changed.
pub fn neutralise(text: &str, sep: char) -> (String, Vec<(usize, usize)>) {
    let mut out = String::with_capacity(text.len() + 16);
    let mut changed = Vec::new();
    let mut line = 1usize;
    let mut col = 1usize;
    let mut at_cell_start = true;
    let mut in_quotes = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if at_cell_start {
            at_cell_start = false;
            // Look at the cell's first content character (inside quotes too).
            let quoted = c == '"';
            let rest = if quoted { &text[i + 1..] } else { &text[i..] };
            let guard = starts_formula(rest, sep);
            if guard {
                changed.push((line, col));
            }
            if quoted {
                out.push('"');
                if guard {
                    out.push('\'');
                }
                in_quotes = true;
                continue;
            }
            if guard {
                out.push('\'');
            }
        }
        if in_quotes {
            out.push(c);
            if c == '"' {
                if chars.peek().map(|&(_, n)| n) == Some('"') {
                    if let Some((_, n)) = chars.next() {
                        out.push(n);
                    }
                } else {
                    in_quotes = false;
                }
            } else if c == '\n' {
                line += 1;
            }
            continue;
        }
        out.push(c);
        if c == sep {
            col += 1;
            at_cell_start = true;
        } else if c == '\n' {
            line += 1;
            col = 1;
            at_cell_start = true;
        }
    }
    (out, changed)
}

fn starts_formula(cell: &str, sep: char) -> bool {
    let Some(first) = cell.chars().next() else {
        return false;
    };
    if !matches!(first, '=' | '+' | '-' | '@' | '\t' | '\r') || first == sep {
        return false;
    }
    if first == '\r' && cell[1..].starts_with('\n') {
        return false; // an empty last cell before CRLF
    }
    !is_plain_number(cell_text(cell, sep))
}

fn cell_text(cell: &str, sep: char) -> &str {
    let end = cell.find([sep, '\n', '\r', '"']).unwrap_or(cell.len());
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
        let (out, changed) = neutralise("a,=1+2,b\n@SUM(A1),x,\"=cmd|' /C calc'!A0\"\n", ',');
        assert_eq!(out, "a,'=1+2,b\n'@SUM(A1),x,\"'=cmd|' /C calc'!A0\"\n");
        assert_eq!(changed, vec![(1, 2), (2, 1), (2, 3)]);
    }

    #[test]
    fn numbers_and_plain_cells_are_untouched() {
        let input = "-5,+1.5e3,-0.25,abc,\"q,\"\"x\"\"\"\n";
        let (out, changed) = neutralise(input, ',');
        assert_eq!(out, input);
        assert!(changed.is_empty());
    }

    #[test]
    fn tab_separated_and_quoted_newlines() {
        let (out, changed) = neutralise("a\t-2+3\n\"line\n=two\"\t+x\n", '\t');
        assert_eq!(out, "a\t'-2+3\n\"line\n=two\"\t'+x\n");
        assert_eq!(changed, vec![(1, 2), (3, 2)]);
    }

    #[test]
    fn phone_numbers_are_neutralised() {
        let (out, _) = neutralise("+81-3-1234-5678\n", ',');
        assert_eq!(out, "'+81-3-1234-5678\n");
    }
}
