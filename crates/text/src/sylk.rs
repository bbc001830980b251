//! SYLK (Symbolic Link) text: Excel opens a file that starts with an `ID`
//! record as SYLK, whatever its name (`.slk`, and `.csv` too), and a SYLK
//! cell can hold a formula (`C;X1;Y1;K0;EEXEC("calc.exe")`), a name can
//! run on opening (`NN;NAuto_open;E...`) and an external link can start a
//! program over DDE. Positive selection: only the records that carry
//! values and formatting are kept (`ID`, `P`, `F`, `B`, `C`, `W`, `E`),
//! and a cell keeps only its position and value (`X`, `Y`, `K`).

/// Records kept, by their type.
const RECORDS: &[&str] = &["ID", "P", "F", "B", "C", "W", "E"];
/// Fields of a `C` (cell) record kept, by their first letter.
const CELL_FIELDS: &[char] = &['X', 'Y', 'K'];

/// Whether `text` is read as SYLK: its first record is `ID`.
pub fn is_sylk(text: &str) -> bool {
    let text = text.trim_start_matches('\u{feff}');
    let first = text.split(['\r', '\n']).next().unwrap_or("");
    first == "ID" || first.starts_with("ID;")
}

/// What [`neutralise`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Cell fields other than position and value (formulas `E`, shared
    /// formulas `S`/`G`/`D`, ...).
    pub fields: usize,
    /// Whole records of other types (names `NN`, links `NE`/`NU`,
    /// options `O`, ...).
    pub records: usize,
}

/// Splits a record on `;`, where `;;` is a literal `;`.
fn fields(line: &str) -> Vec<&str> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0usize, 0usize);
    while i < b.len() {
        if b[i] == b';' {
            if b.get(i + 1) == Some(&b';') {
                i += 2;
                continue;
            }
            out.push(&line[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    out.push(&line[start..]);
    out
}

/// The SYLK `text` with only the kept records and cell fields.
pub fn neutralise(text: &str) -> (String, Removed) {
    let mut out = String::with_capacity(text.len());
    let mut removed = Removed::default();
    for piece in text.split_inclusive('\n') {
        let body = piece.trim_end_matches(['\r', '\n']);
        let end = &piece[body.len()..];
        // A lone CR also ends a record.
        for (n, line) in body.split('\r').enumerate() {
            if n > 0 {
                out.push('\r');
            }
            let parts = fields(line);
            let kind = parts.first().copied().unwrap_or("");
            if line.is_empty() {
                continue;
            }
            if !RECORDS.contains(&kind.trim_start_matches('\u{feff}')) {
                removed.records += 1;
                continue;
            }
            if kind != "C" {
                out.push_str(line);
                continue;
            }
            let mut kept = vec![kind];
            for f in &parts[1..] {
                if f.chars().next().is_some_and(|c| CELL_FIELDS.contains(&c)) {
                    kept.push(f);
                } else {
                    removed.fields += 1;
                }
            }
            out.push_str(&kept.join(";"));
        }
        out.push_str(end);
    }
    (out, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_names_and_links_go_values_stay() {
        let t = "ID;P\r\nC;Y1;X1;K0;EEXEC(\"calc.exe\")\r\nNN;NAuto_open;ER1C1\r\nC;Y2;X1;K\"a;;b\"\r\nE\r\n";
        assert!(is_sylk(t));
        let (out, r) = neutralise(t);
        assert_eq!(out, "ID;P\r\nC;Y1;X1;K0\r\n\r\nC;Y2;X1;K\"a;;b\"\r\nE\r\n");
        assert_eq!(
            r,
            Removed {
                fields: 1,
                records: 1
            }
        );
        let (again, r) = neutralise(&out);
        assert_eq!(again, out);
        assert_eq!(r, Removed::default());
        assert!(!is_sylk("IDENT,NAME\n1,2\n"));
        assert!(is_sylk("ID\nC;K1;EEXEC(1)"));
    }
}
