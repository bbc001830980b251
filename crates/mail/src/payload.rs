//! Files encoded inside a text body: uuencode (`begin 644 name` ...
//! `end`), yEnc (`=ybegin ... name=` ... `=yend`) and BinHex 4.0
//! (`(This file must be converted with BinHex 4.0)` then `:` ... `:`).
//! Mail programs decode and offer them like attachments, so they are taken
//! out of the text and listed like attachments (`mail.encoded_payload`).
//!
//! A block that never ends runs to the end of the text: what follows an
//! unterminated start line cannot be told apart from the payload.

/// One block taken out of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// `uuencode`, `yEnc` or `BinHex`.
    pub kind: &'static str,
    /// The file name the block gives, if any.
    pub name: Option<String>,
    /// The block as it stood in the text, start and end lines included.
    pub text: String,
}

/// The text without its encoded blocks, and the blocks.
pub fn extract(text: &str) -> (String, Vec<Payload>) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len());
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end_matches(['\r', '\n']);
        let Some((kind, name, end)) = start(line) else {
            out.push_str(lines[i]);
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < lines.len() {
            let l = lines[j].trim_end_matches(['\r', '\n']);
            j += 1;
            if end.is_end(l, j - 1 == i + 1) {
                break;
            }
        }
        found.push(Payload {
            kind,
            name,
            text: lines[i..j].concat(),
        });
        i = j;
    }
    (out, found)
}

#[derive(Debug, Clone, Copy)]
enum End {
    /// `end` (uuencode) or `====` (uuencode base64).
    Uu {
        base64: bool,
    },
    Yenc,
    /// The data line that ends with the closing `:`.
    BinHex,
}

impl End {
    fn is_end(self, line: &str, first: bool) -> bool {
        let t = line.trim_end();
        match self {
            End::Uu { base64: false } => t == "end",
            End::Uu { base64: true } => t == "====",
            End::Yenc => t.starts_with("=yend"),
            // The data starts with `:`; the block ends at the line whose
            // last character is `:` (the first line may be the last).
            End::BinHex => t.len() > 1 && t.ends_with(':') || (first && t == ":"),
        }
    }
}

fn start(line: &str) -> Option<(&'static str, Option<String>, End)> {
    if let Some(rest) = line
        .strip_prefix("begin-base64 ")
        .map(|r| (r, true))
        .or_else(|| line.strip_prefix("begin ").map(|r| (r, false)))
    {
        let (rest, base64) = rest;
        let (mode, name) = rest.trim_start().split_once(' ')?;
        let octal =
            (3..=4).contains(&mode.len()) && mode.bytes().all(|b| (b'0'..=b'7').contains(&b));
        return octal.then(|| {
            (
                "uuencode",
                Some(name.trim().to_string()).filter(|n| !n.is_empty()),
                End::Uu { base64 },
            )
        });
    }
    if line.starts_with("=ybegin ") {
        let name = line
            .split_once(" name=")
            .map(|(_, n)| n.trim().to_string())
            .filter(|n| !n.is_empty());
        return Some(("yEnc", name, End::Yenc));
    }
    if line
        .trim()
        .to_ascii_lowercase()
        .starts_with("(this file must be converted with binhex")
    {
        return Some(("BinHex", None, End::BinHex));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuencode_yenc_and_binhex_blocks_are_taken_out() {
        let text = "hello\nbegin 644 invoice.exe\nM35H``P````0```#__P``N`````````!`\n`\nend\nbye\n=ybegin line=128 size=3 name=a b.bin\n\u{1}\u{2}\u{3}\n=yend size=3\n(This file must be converted with BinHex 4.0)\n:$f*TEQKPH#jdCA0d,R4iG!\"849K8:\nafter\n";
        let (out, found) = extract(text);
        assert_eq!(out, "hello\nbye\nafter\n");
        let kinds: Vec<_> = found.iter().map(|p| (p.kind, p.name.clone())).collect();
        assert_eq!(
            kinds,
            vec![
                ("uuencode", Some("invoice.exe".to_string())),
                ("yEnc", Some("a b.bin".to_string())),
                ("BinHex", None),
            ]
        );
        assert!(found[0].text.starts_with("begin 644") && found[0].text.ends_with("end\n"));
    }

    #[test]
    fn an_unterminated_block_runs_to_the_end_and_prose_is_kept() {
        let (out, found) = extract("a\r\nbegin 0755 x.sh\r\nM(&5C:&\\@:&D*\r\nmore\r\n");
        assert_eq!(out, "a\r\n");
        assert_eq!(found.len(), 1);
        let prose = "Let us begin the meeting at 10.\nbegin 64 bits\n=ybeginner\n";
        let (out, found) = extract(prose);
        assert_eq!(out, prose);
        assert!(found.is_empty());
    }
}
