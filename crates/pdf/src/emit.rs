//! The output file, byte for byte as lopdf's `Document::save_to` writes
//! it: [`indirect`] serialises one object as soon as it is final, so that
//! the selection holds bytes rather than object trees, and [`document`]
//! joins the objects into a file with a fresh cross-reference table.

use lopdf::{Dictionary, Object, ObjectId, Writer};
use std::collections::BTreeMap;
use std::io::Write;

/// The binary comment after the header, as lopdf writes it.
const BINARY_MARK: &[u8] = b"%\xBB\xAD\xC0\xDE\n";

/// An entry of the cross-reference table: an object's offset and
/// generation, or (`None`) the head of the free list.
type Entry = Option<(u32, u16)>;

/// Whether the writer leaves an object out: object streams,
/// cross-reference streams and linearisation dictionaries describe a
/// layout that the output does not have.
fn left_out(o: &Object) -> bool {
    matches!(o.type_name(), Ok(n) if n == b"ObjStm" || n == b"XRef" || n == b"Linearized")
}

/// Object `id` as written in the body (`N G obj ... endobj`), a stream
/// with its `/Length` set; `None` when it is left out of the file.
pub fn indirect(id: ObjectId, obj: &mut Object) -> Option<Vec<u8>> {
    let data = match obj {
        Object::Stream(s) => {
            let n = s.content.len();
            s.dict.set(
                "Length",
                Object::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
            );
            n
        }
        _ => 0,
    };
    if left_out(obj) {
        return None;
    }
    let mut out = Vec::with_capacity(data + 256);
    let sep = if Writer::need_separator(obj) { " " } else { "" };
    let end = if Writer::need_end_separator(obj) {
        " "
    } else {
        ""
    };
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{} {} obj\n{sep}", id.0, id.1);
    let _ = Writer::write_object(&mut out, obj);
    let _ = writeln!(out, "{end}\nendobj");
    out.shrink_to_fit();
    Some(out)
}

/// The file: header, the objects in number order (`written` holds the
/// bytes of those already serialised, which stand as `Null` in
/// `objects`; each is freed once copied), the cross-reference table and
/// `trailer` with its `/Size`.
pub fn document(
    version: &str,
    objects: BTreeMap<ObjectId, Object>,
    mut written: BTreeMap<ObjectId, Vec<u8>>,
    mut trailer: Dictionary,
) -> Vec<u8> {
    let last = objects.keys().next_back().map_or(0, |k| k.0);
    let ready: usize = written.values().map(Vec::len).sum();
    let rest = objects.len().saturating_sub(written.len());
    let mut out =
        Vec::with_capacity(ready + 256 * rest + 20 * objects.len() + trailer.len() * 64 + 4096);
    let _ = writeln!(out, "%PDF-{version}");
    out.extend_from_slice(BINARY_MARK);
    // Offsets by object number, as the table lists them.
    let mut xref: BTreeMap<u32, (u32, u16)> = BTreeMap::new();
    for (id, mut obj) in objects {
        let bytes = match written.remove(&id) {
            Some(b) => b,
            None => match indirect(id, &mut obj) {
                Some(b) => b,
                None => continue,
            },
        };
        // Offsets past 4 GiB wrap as lopdf's do (the table has ten digits).
        #[allow(clippy::cast_possible_truncation)]
        xref.insert(id.0, (out.len() as u32, id.1));
        out.extend_from_slice(&bytes);
    }
    let start = out.len();
    out.extend_from_slice(b"xref\n");
    // Runs of consecutive numbers; object 0 (the head of the free list)
    // joins a run that starts at 1, or stands alone.
    let mut runs: Vec<(u32, Vec<Entry>)> = Vec::new();
    for (&n, &e) in xref.range(1..) {
        match runs.last_mut() {
            Some((first, es)) if *first as usize + es.len() == n as usize => es.push(Some(e)),
            _ => runs.push((n, vec![Some(e)])),
        }
    }
    match runs.first_mut() {
        Some((first, es)) if *first == 1 => {
            *first = 0;
            es.insert(0, None);
        }
        _ => runs.insert(0, (0, vec![None])),
    }
    for (first, es) in runs {
        let _ = writeln!(out, "{first} {}", es.len());
        for e in es {
            let _ = match e {
                Some((offset, generation)) => writeln!(out, "{offset:>010} {generation:>05} n "),
                None => writeln!(out, "{:>010} {:>05} f ", 0, 65535),
            };
        }
    }
    trailer.set("Size", i64::from(last) + 1);
    out.extend_from_slice(b"trailer\n");
    let _ = Writer::write_object(&mut out, &Object::Dictionary(trailer));
    let _ = write!(out, "\nstartxref\n{start}\n%%EOF");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{dictionary, Document, Stream, StringFormat};

    fn lopdf_bytes(objects: &BTreeMap<ObjectId, Object>, trailer: &Dictionary) -> Vec<u8> {
        let mut doc = Document::with_version("1.6");
        doc.reference_table.cross_reference_type = lopdf::xref::XrefType::CrossReferenceTable;
        doc.max_id = objects.keys().next_back().map_or(0, |k| k.0);
        for (id, obj) in objects {
            let mut obj = obj.clone();
            if let Object::Stream(s) = &mut obj {
                s.dict.set("Length", s.content.len() as i64);
            }
            doc.objects.insert(*id, obj);
        }
        doc.trailer = trailer.clone();
        let mut out = Vec::new();
        doc.save_to(&mut out).expect("saves");
        out
    }

    fn sample(gap: bool) -> BTreeMap<ObjectId, Object> {
        let mut o = BTreeMap::new();
        let first = if gap { 3 } else { 1 };
        o.insert(
            (first, 0),
            Object::Dictionary(dictionary! { "Type" => "Catalog", "Pages" => (first + 1, 0) }),
        );
        o.insert(
            (first + 1, 0),
            Object::Dictionary(dictionary! {
                "Kids" => vec![Object::Reference((first + 2, 0))],
                "Count" => 1,
                "Box" => vec![0.into(), 1.5.into(), Object::Real(-2.0)],
            }),
        );
        o.insert(
            (first + 2, 0),
            Object::Stream(Stream::new(
                dictionary! { "Filter" => "FlateDecode", "Length" => 99 },
                b"x\x9c\x03\0\0\0\0\x01".to_vec(),
            )),
        );
        o.insert((first + 3, 0), Object::Integer(7));
        o.insert((first + 4, 0), Object::Name(b"A b#".to_vec()));
        o.insert(
            (first + 5, 0),
            Object::String(b"(x)\n\xff".to_vec(), StringFormat::Hexadecimal),
        );
        o.insert((first + 6, 0), Object::Reference((1, 0)));
        o.insert((first + 7, 0), Object::Null);
        o.insert(
            (first + 8, 0),
            Object::Stream(Stream::new(
                dictionary! { "Type" => "ObjStm" },
                b"1 0".to_vec(),
            )),
        );
        o.insert((first + 10, 0), Object::Boolean(true));
        o.insert(
            (first + 11, 0),
            Object::Dictionary(dictionary! { "Linearized" => 1 }),
        );
        o.insert((first + 12, 0), Object::Array(vec![]));
        o
    }

    #[test]
    fn the_file_is_the_one_lopdf_writes() {
        let trailer = dictionary! {
            "Root" => (1, 0),
            "ID" => vec![Object::string_literal("a"), Object::string_literal("b")],
        };
        for gap in [false, true] {
            let objects = sample(gap);
            let want = lopdf_bytes(&objects, &trailer);
            // Every way of splitting the objects between written ahead and
            // kept gives the same file.
            for every in [1usize, 2, 3, usize::MAX] {
                let mut kept = BTreeMap::new();
                let mut written = BTreeMap::new();
                for (i, (id, mut obj)) in objects.clone().into_iter().enumerate() {
                    if i % every == 0 {
                        if let Some(b) = indirect(id, &mut obj) {
                            written.insert(id, b);
                            obj = Object::Null;
                        }
                    }
                    kept.insert(id, obj);
                }
                let got = document("1.6", kept, written, trailer.clone());
                assert!(
                    got == want,
                    "gap {gap}, every {every}:\n{}\n---\n{}",
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want)
                );
            }
        }
        let empty = document("1.6", BTreeMap::new(), BTreeMap::new(), Dictionary::new());
        assert_eq!(empty, lopdf_bytes(&BTreeMap::new(), &Dictionary::new()));
    }
}
