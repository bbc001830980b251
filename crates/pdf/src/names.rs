//! Names hidden by `#xx` escapes.
//!
//! lopdf decodes `#xx` while parsing, so the walk compares decoded names;
//! this module finds, in the raw bytes, which dangerous names were written
//! escaped, so that the report can say a name was obfuscated.

use std::collections::BTreeMap;

/// Names whose escaped spelling is worth reporting: the keys and values
/// the walk acts on.
pub const WATCHED: &[&[u8]] = &[
    b"JavaScript",
    b"JS",
    b"OpenAction",
    b"AA",
    b"Launch",
    b"GoToR",
    b"GoToE",
    b"GoToDp",
    b"ImportData",
    b"SubmitForm",
    b"ResetForm",
    b"URI",
    b"EmbeddedFiles",
    b"EmbeddedFile",
    b"EF",
    b"FileAttachment",
    b"Filespec",
    b"XFA",
    b"RichMedia",
    b"RichMediaExecute",
    b"Movie",
    b"Sound",
    b"Screen",
    b"Rendition",
    b"3D",
    b"GoTo3DView",
    b"Action",
    b"S",
    b"A",
    b"Next",
    b"Names",
];

/// PDF delimiters and white space end a name.
fn ends_name(b: u8) -> bool {
    matches!(
        b,
        b'/' | b'('
            | b')'
            | b'<'
            | b'>'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'%'
            | 0
            | 9
            | 10
            | 12
            | 13
            | b' '
    )
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes the `#xx` escapes of a raw name (without its `/`). A `#` not
/// followed by two hex digits stays as it is, as readers do.
pub fn decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'#' {
            if let (Some(h), Some(l)) = (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Every watched name that `data` spells with `#xx` escapes, mapped to
/// the first escaped spelling seen (e.g. `JavaScript` → `J#61vaScript`).
pub fn escaped_watched(data: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut i = 0;
    while i < data.len() {
        if data[i] != b'/' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < data.len() && !ends_name(data[end]) {
            end += 1;
        }
        let raw = &data[start..end];
        // Only short names can be watched ones; long runs are binary noise.
        if raw.len() <= 64 && raw.contains(&b'#') {
            let name = decode(raw);
            if WATCHED.contains(&name.as_slice()) && name != raw {
                found.entry(name).or_insert_with(|| raw.to_vec());
            }
        }
        i = end.max(start);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_leaves_broken_ones() {
        assert_eq!(decode(b"J#61vaScript"), b"JavaScript");
        assert_eq!(decode(b"Open#41ction"), b"OpenAction");
        assert_eq!(decode(b"A#"), b"A#");
        assert_eq!(decode(b"A#4"), b"A#4");
        assert_eq!(decode(b"#41#41"), b"AA");
    }

    #[test]
    fn finds_escaped_watched_names_only() {
        let data = b"<< /S /J#61vaScript /JS (x) /Open#41ction 3 0 R /Foo#20Bar 1 /Plain >>";
        let found = escaped_watched(data);
        assert_eq!(found.len(), 2);
        assert_eq!(found[b"JavaScript".as_slice()], b"J#61vaScript");
        assert_eq!(found[b"OpenAction".as_slice()], b"Open#41ction");
        assert!(escaped_watched(b"/JavaScript /AA").is_empty());
    }
}
