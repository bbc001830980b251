//! Cross-reference reconstruction for files whose table cannot be read.
//!
//! [`reconstruct`] scans the bytes for `N G obj` headers (the last
//! definition of an object number wins), finds the catalog (the `/Root` of
//! the last `trailer` dictionary or cross-reference stream, else the last
//! object typed `/Catalog`) and returns a copy of the file with a fresh
//! table, trailer and `startxref` appended, for lopdf to load as usual.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A rebuilt file: the input with a new cross-reference section appended.
#[derive(Debug)]
pub struct Reconstructed {
    pub bytes: Vec<u8>,
    /// How many object headers the new table lists.
    pub objects: usize,
}

/// Why no table could be rebuilt.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// No object headers, or no catalog among them.
    NoCatalog,
    /// More object headers than the object limit.
    TooMany(u64),
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | 0)
}

fn is_delim(b: u8) -> bool {
    is_ws(b) || b"()<>[]{}/%".contains(&b)
}

/// Reads the digits ending just before `end` (exclusive); returns the
/// value and the start offset.
fn digits_before(pdf: &[u8], end: usize) -> Option<(u64, usize)> {
    let mut start = end;
    while start > 0 && end - start < 10 && pdf.get(start - 1)?.is_ascii_digit() {
        start -= 1;
    }
    if start == end
        || pdf
            .get(start.checked_sub(1)?)
            .is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    let n = std::str::from_utf8(pdf.get(start..end)?)
        .ok()?
        .parse()
        .ok()?;
    Some((n, start))
}

/// Skips white space backwards from `end`; returns the new end.
fn skip_ws_back(pdf: &[u8], mut end: usize) -> usize {
    while end > 0 && pdf.get(end - 1).copied().is_some_and(is_ws) {
        end -= 1;
    }
    end
}

/// The object header whose `obj` keyword starts at `at`: (number, generation, offset).
fn header_at(pdf: &[u8], at: usize) -> Option<(u32, u16, usize)> {
    if pdf.get(at + 3).is_some_and(|&b| !is_delim(b)) {
        return None;
    }
    let gen_end = skip_ws_back(pdf, at);
    if gen_end == at {
        return None;
    }
    let (generation, gen_start) = digits_before(pdf, gen_end)?;
    let num_end = skip_ws_back(pdf, gen_start);
    if num_end == gen_start {
        return None;
    }
    let (number, start) = digits_before(pdf, num_end)?;
    if start > 0 && !pdf.get(start - 1).copied().is_some_and(is_delim) {
        return None;
    }
    let number = u32::try_from(number).ok().filter(|&n| n > 0)?;
    let generation = u16::try_from(generation).ok()?;
    Some((number, generation, start))
}

/// The first `needle` in `hay` at or after `from`.
pub(crate) fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|p| p + from)
}

/// The last `needle` in `hay`.
fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::rfind(hay, needle)
}

/// The reference `N G R` following `key` in `dict`, if any.
fn reference_after(dict: &[u8], key: &[u8]) -> Option<(u32, u16)> {
    let mut from = 0;
    while let Some(pos) = find(dict, key, from) {
        from = pos + key.len();
        if dict.get(from).is_some_and(|&b| !is_delim(b)) {
            continue; // `/Root` inside `/RootX`
        }
        let rest = dict.get(from..)?;
        let mut words = rest.split(|&b| is_ws(b)).filter(|w| !w.is_empty()).take(3);
        let n = words
            .next()
            .and_then(|w| std::str::from_utf8(w).ok()?.parse().ok());
        let g = words
            .next()
            .and_then(|w| std::str::from_utf8(w).ok()?.parse().ok());
        let r = words.next().is_some_and(|w| w.first() == Some(&b'R'));
        if let (Some(n), Some(g), true) = (n, g, r) {
            return Some((n, g));
        }
    }
    None
}

/// The bytes of the object starting at `offset`, up to its `endobj` (or
/// a bounded stretch when there is none).
fn object_text(pdf: &[u8], offset: usize) -> &[u8] {
    const MAX: usize = 64 << 10;
    let end = pdf.len().min(offset.saturating_add(MAX));
    let chunk = pdf.get(offset..end).unwrap_or_default();
    let stop = [b"endobj".as_slice(), b"stream".as_slice()]
        .iter()
        .filter_map(|k| find(chunk, k, 0))
        .min()
        .unwrap_or(chunk.len());
    chunk.get(..stop).unwrap_or(chunk)
}

/// The length of the balanced dictionary `<< ... >>` at the start of
/// `text` (strings and hex strings skipped), if it closes.
fn dict_len(text: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        match b {
            b'(' => {
                let mut parens = 0usize;
                while let Some(&c) = text.get(i) {
                    match c {
                        b'\\' => i += 1,
                        b'(' => parens += 1,
                        b')' => {
                            parens -= 1;
                            if parens == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'<' if text.get(i + 1) == Some(&b'<') => {
                depth += 1;
                i += 1;
            }
            b'<' => i += text.get(i..)?.iter().position(|&c| c == b'>')?,
            b'>' if text.get(i + 1) == Some(&b'>') => {
                depth = depth.checked_sub(1)?;
                i += 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A catalog written directly into the last trailer (`/Root << ... >>`).
fn direct_root(pdf: &[u8]) -> Option<&[u8]> {
    let t = rfind(pdf, b"trailer")?;
    let text = pdf.get(t..pdf.len().min(t.saturating_add(64 << 10)))?;
    let key = find(text, b"/Root", 0)? + 5;
    let start = key + text.get(key..)?.iter().position(|&b| !is_ws(b))?;
    let dict = text.get(start..)?;
    if !dict.starts_with(b"<<") {
        return None;
    }
    dict.get(..dict_len(dict)?)
}

fn is_catalog(text: &[u8]) -> bool {
    let squeezed: Vec<u8> = text.iter().copied().filter(|&b| !is_ws(b)).collect();
    find(&squeezed, b"/Type/Catalog", 0).is_some_and(|p| {
        squeezed
            .get(p + 13)
            .is_none_or(|&b| is_delim(b) || b == b'>')
    })
}

/// Rebuilds the cross-reference table of `pdf` (which starts at `%PDF-`).
pub fn reconstruct(pdf: &[u8], max_objects: u64) -> Result<Reconstructed, Failure> {
    let mut table: BTreeMap<u32, (u16, usize)> = BTreeMap::new();
    let mut from = 0;
    while let Some(at) = find(pdf, b"obj", from) {
        from = at + 3;
        if let Some((n, g, offset)) = header_at(pdf, at) {
            table.insert(n, (g, offset));
            if table.len() as u64 > max_objects {
                return Err(Failure::TooMany(max_objects));
            }
        }
    }
    let referenced = |r: (u32, u16)| table.get(&r.0).is_some_and(|&(g, _)| g == r.1);
    let trailer_root = rfind(pdf, b"trailer")
        .and_then(|t| reference_after(object_text(pdf, t), b"/Root"))
        .filter(|&r| referenced(r));
    let stream_root = || {
        table.values().rev().find_map(|&(_, offset)| {
            let text = object_text(pdf, offset);
            let squeezed: Vec<u8> = text.iter().copied().filter(|&b| !is_ws(b)).collect();
            find(&squeezed, b"/Type/XRef", 0)?;
            reference_after(text, b"/Root").filter(|&r| referenced(r))
        })
    };
    let typed_catalog = || {
        table
            .iter()
            .rev()
            .find(|(_, &(_, offset))| is_catalog(object_text(pdf, offset)))
            .map(|(&n, &(g, _))| (n, g))
    };
    let root = trailer_root
        .filter(|r| {
            table
                .get(&r.0)
                .is_some_and(|&(_, o)| is_catalog(object_text(pdf, o)))
        })
        .or_else(stream_root)
        .or_else(typed_catalog)
        .or(trailer_root);
    let info = rfind(pdf, b"trailer")
        .and_then(|t| reference_after(object_text(pdf, t), b"/Info"))
        .filter(|&r| referenced(r));
    let mut out = Vec::with_capacity(pdf.len() + table.len() * 20 + 256);
    out.extend_from_slice(pdf);
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let root = match (root, direct_root(pdf)) {
        (Some(r), _) => r,
        (None, Some(dict)) => {
            // Written out as an object of its own after the last one.
            let n = table.keys().next_back().map_or(1, |&n| n.saturating_add(1));
            table.insert(n, (0, out.len()));
            out.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
            out.extend_from_slice(dict);
            out.extend_from_slice(b"\nendobj\n");
            (n, 0)
        }
        (None, None) => return Err(Failure::NoCatalog),
    };

    let start = out.len();
    let mut text = String::from("xref\n0 1\n0000000000 65535 f \n");
    let entries: Vec<(u32, (u16, usize))> = table.iter().map(|(&n, &e)| (n, e)).collect();
    let mut i = 0;
    while let Some(&(first, _)) = entries.get(i) {
        let mut j = i;
        while entries
            .get(j + 1)
            .is_some_and(|&(n, _)| Some(n) == entries.get(j).map(|e| e.0 + 1))
        {
            j += 1;
        }
        let _ = writeln!(text, "{first} {}", j - i + 1);
        for &(_, (g, offset)) in entries.get(i..=j).unwrap_or_default() {
            let _ = write!(text, "{offset:010} {g:05} n\r\n");
        }
        i = j + 1;
    }
    let size = table.keys().next_back().map_or(1, |&n| u64::from(n) + 1);
    let _ = write!(
        text,
        "trailer\n<< /Size {size} /Root {} {} R",
        root.0, root.1
    );
    if let Some(info) = info {
        let _ = write!(text, " /Info {} {} R", info.0, info.1);
    }
    let _ = write!(text, " >>\nstartxref\n{start}\n%%EOF\n");
    out.extend_from_slice(text.as_bytes());
    Ok(Reconstructed {
        bytes: out,
        objects: table.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_and_the_last_definition_wins() {
        let pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
            2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n\
            2 0 obj\n<< /Type /Pages /Kids [] /Count 0 /X 1 >>\nendobj\n";
        let r = reconstruct(pdf, 100).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.objects, 2);
        let tail = String::from_utf8_lossy(&r.bytes[pdf.len()..]).into_owned();
        let second = pdf.windows(7).rposition(|w| w == b"2 0 obj").unwrap_or(0);
        assert!(tail.contains(&format!("{second:010} 00000 n")), "{tail}");
        assert!(tail.contains("/Root 1 0 R"), "{tail}");
    }

    #[test]
    fn endobj_and_references_are_not_headers() {
        let pdf = b"%PDF-1.4\n7 0 R endobj x10 0 obj 3 0 obj\n<< >>\nendobj\n";
        let mut from = 0;
        let mut found = Vec::new();
        while let Some(at) = find(pdf, b"obj", from) {
            from = at + 3;
            found.extend(header_at(pdf, at));
        }
        assert_eq!(found.iter().map(|h| h.0).collect::<Vec<_>>(), vec![3]);
        assert_eq!(reconstruct(pdf, 100).err(), Some(Failure::NoCatalog));
    }

    #[test]
    fn the_object_limit_bounds_the_scan() {
        let mut pdf = b"%PDF-1.4\n".to_vec();
        for n in 1..=20 {
            pdf.extend_from_slice(format!("{n} 0 obj\n<< >>\nendobj\n").as_bytes());
        }
        assert_eq!(reconstruct(&pdf, 10).err(), Some(Failure::TooMany(10)));
    }
}
