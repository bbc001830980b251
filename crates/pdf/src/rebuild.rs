//! [`PdfRebuilder`]: load, decrypt, walk, check the page tree, write anew.

use crate::emit;
use crate::names;
use crate::pages;
use crate::select::{Selected, Selector};
use crate::xref::{self, find};
use lopdf::xref::XrefEntry;
use lopdf::{Document, LoadOptions, Object, ObjectId};
use mugai_core::{Blocked, Code, Context, FileType, Rebuilder, Rebuilt};
use std::collections::{BTreeMap, BTreeSet};

/// The rebuilder for PDF.
#[derive(Debug, Default, Clone, Copy)]
pub struct PdfRebuilder;

/// The most one stream may decode to (object streams while loading, and
/// the bomb check of kept streams), below the policy's total.
const MAX_STREAM_DECODED: u64 = 256 << 20;

impl Rebuilder for PdfRebuilder {
    fn rebuild(
        &self,
        input: &[u8],
        file_type: FileType,
        cx: &mut Context<'_>,
    ) -> Result<Rebuilt, Blocked> {
        let bytes = rebuild_pdf(input, cx)?;
        Ok(Rebuilt::new(bytes, file_type))
    }
}

fn malformed(cx: &Context<'_>, what: impl Into<String>) -> Blocked {
    cx.block(Code::PdfMalformed, what)
}

/// Offset of the first `%PDF-`; leading junk is tolerated (readers do).
fn header_offset(input: &[u8]) -> Option<usize> {
    // Readers look in the first KiB; the issue-335 class puts it further.
    memchr::memmem::find(input, b"%PDF-")
}

/// Whether there is content after the first `%%EOF` that is not the
/// linearisation's first-page section.
fn has_incremental_update(pdf: &[u8]) -> bool {
    // A linearised file's first-page trailer ends with its own %%EOF.
    let head = pdf.get(..pdf.len().min(1024)).unwrap_or(pdf);
    let linearized = memchr::memmem::find(head, b"/Linearized").is_some();
    let skip = usize::from(linearized);
    let Some(first) = memchr::memmem::find_iter(pdf, b"%%EOF").nth(skip) else {
        return false;
    };
    pdf.get(first + 5..)
        .is_some_and(|rest| rest.iter().any(|b| !b.is_ascii_whitespace() && *b != 0))
}

/// A cheap pre-check of what lopdf would be asked to allocate: the
/// declared `/Size` of trailers and xref streams and the entry counts of
/// xref subsections must stay within the object limit.
fn precheck(pdf: &[u8], cx: &Context<'_>) -> Result<(), Blocked> {
    let max = cx.policy().limits.max_objects;
    for key in [b"/Size".as_slice(), b"/N ".as_slice()] {
        let mut from = 0;
        while let Some(pos) = find(pdf, key, from) {
            from = pos + key.len();
            let digits: Vec<u8> = pdf
                .iter()
                .skip(from)
                .skip_while(|b| b.is_ascii_whitespace())
                .take_while(|b| b.is_ascii_digit())
                .take(20)
                .copied()
                .collect();
            if digits.len() >= 19 {
                return Err(cx.block(
                    Code::LimitCount,
                    "an object count past any limit is declared",
                ));
            }
            let n: u64 = std::str::from_utf8(&digits)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if n > max {
                return Err(cx.block(
                    Code::LimitCount,
                    format!(
                        "{} {n} declared, more than the limit of {max} objects",
                        String::from_utf8_lossy(key).trim()
                    ),
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn rebuild_pdf(input: &[u8], cx: &mut Context<'_>) -> Result<Vec<u8>, Blocked> {
    let Some(offset) = header_offset(input) else {
        return Err(malformed(cx, "no %PDF- header"));
    };
    let pdf = input.get(offset..).unwrap_or_default();
    precheck(pdf, cx)?;
    cx.check_deadline()?;
    let before = cx.findings().len();
    let spent = cx.budget().expanded();
    let first = match rebuild_from(pdf, pdf, false, cx) {
        Err(b) if b.code == Code::PdfMalformed => b,
        done => return done,
    };
    // What the failed pass decoded is thrown away: the repair pass gets
    // the byte budget the file had, and charges its own work against it
    // (so a file costs at most two passes).
    cx.budget()
        .refund_expanded(cx.budget().expanded().saturating_sub(spent));
    // The table or the catalog could not be read: rebuild the table from
    // the object headers and run the same selection on the result.
    let max = cx.policy().limits.max_objects;
    let fixed = match xref::reconstruct(pdf, max) {
        Ok(f) => f,
        Err(xref::Failure::NoCatalog) => return Err(first),
        Err(xref::Failure::TooMany(max)) => {
            return Err(cx.block(
                Code::LimitCount,
                format!("rebuilding the cross-reference table: more than {max} objects"),
            ))
        }
    };
    cx.truncate_findings(before);
    cx.check_deadline()?;
    match rebuild_from(&fixed.bytes, pdf, true, cx) {
        Ok(out) => {
            cx.neutralised(
                Code::PdfRepaired,
                format!(
                    "the cross-reference table or catalog could not be read: table rebuilt from {} object headers",
                    fixed.objects
                ),
            );
            Ok(out)
        }
        Err(b) if b.code == Code::PdfMalformed => Err(Blocked::new(
            Code::PdfMalformed,
            format!(
                "{} (with the cross-reference table rebuilt: {})",
                first.detail, b.detail
            ),
        )),
        Err(b) => Err(b),
    }
}

/// Loads `pdf` (the input, or the input with a rebuilt table appended;
/// `original` is the input) and selects, checks and writes it.
/// With `repaired`, a page tree root written directly into the catalog
/// is first made an object of its own.
fn rebuild_from(
    pdf: &[u8],
    original: &[u8],
    repaired: bool,
    cx: &mut Context<'_>,
) -> Result<Vec<u8>, Blocked> {
    let limits = &cx.policy().limits;
    let cap = MAX_STREAM_DECODED.min(limits.max_expanded_bytes);
    let options = LoadOptions {
        max_decompressed_size: Some(usize::try_from(cap).unwrap_or(usize::MAX)),
        ..LoadOptions::default()
    };
    let load = |options: LoadOptions| match Document::load_mem_with_options(pdf, options) {
        Ok(d) => Ok(d),
        Err(lopdf::Error::Decompress(e)) => Err(cx.block(
            Code::LimitSize,
            format!("an object stream does not decode within the limit: {e}"),
        )),
        Err(e) => Err(malformed(cx, format!("cannot be parsed: {e}"))),
    };
    let mut doc = load(options.clone())?;
    cx.check_deadline()?;
    // A user password: try the given ones (an unlock) against the
    // security handler, then load again with the one that opens it.
    let mut opened_with_password = false;
    if doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none() && !cx.passwords().is_empty() {
        let Some(pw) = cx
            .passwords()
            .iter()
            .find(|pw| doc.authenticate_password(pw).is_ok())
        else {
            return Err(cx.block(Code::PdfEncrypted, mugai_core::WRONG_PASSWORD));
        };
        doc = load(LoadOptions {
            password: Some(pw.clone()),
            ..options
        })?;
        cx.check_deadline()?;
        if doc.encryption_state.is_none() {
            return Err(cx.block(
                Code::PdfEncrypted,
                "the password was accepted but the file could not be decrypted",
            ));
        }
        opened_with_password = true;
    }
    if doc.objects.len() as u64 > limits.max_objects {
        return Err(cx.block(
            Code::LimitCount,
            format!(
                "{} objects, more than the limit of {}",
                doc.objects.len(),
                limits.max_objects
            ),
        ));
    }
    if doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none() {
        return Err(cx.block(
            Code::PdfEncrypted,
            "encrypted with a user password: the content cannot be inspected",
        ));
    }
    if opened_with_password {
        cx.removed(
            Code::PdfEncrypted,
            "unlocked with a given password; written without encryption",
        );
    } else if doc.encryption_state.is_some() {
        cx.removed(
            Code::PdfEncrypted,
            "encryption removed: the file opened with the empty user password (owner password only)",
        );
    }
    if has_incremental_update(original) {
        cx.removed(
            Code::PdfIncrementalUpdate,
            "content after the first %%EOF (incremental updates): written as one fresh revision",
        );
    }

    let root = match doc.trailer.get(b"Root") {
        Ok(Object::Reference(r)) => *r,
        _ => return Err(malformed(cx, "the trailer has no /Root reference")),
    };
    if repaired {
        promote_page_tree(&mut doc, root);
    }
    match doc.objects.get(&root) {
        Some(Object::Dictionary(c)) if matches!(c.get(b"Pages"), Ok(Object::Reference(_))) => {}
        Some(Object::Dictionary(_)) => {
            return Err(malformed(cx, "the catalog has no /Pages reference"));
        }
        _ => {
            return Err(malformed(
                cx,
                format!("the catalog {} {} is missing", root.0, root.1),
            ))
        }
    }
    promote_inline_kids(&mut doc, root);
    let info = match doc.trailer.get(b"Info") {
        Ok(Object::Reference(r)) if matches!(doc.objects.get(r), Some(Object::Dictionary(_))) => {
            Some(*r)
        }
        _ => None,
    };
    if doc.encryption_state.is_none() {
        repair_lengths(&mut doc, pdf);
        recover_streams(&mut doc, pdf);
    }
    let selected =
        Selector::new(&doc, cx, usize::try_from(cap).unwrap_or(usize::MAX)).run(root, info)?;
    let Selected {
        mut objects,
        written,
        root: new_root,
        info: new_info,
        tally,
    } = selected;
    report_obfuscation(pdf, &tally.triggered, cx);
    tally.flush(cx);

    let pages_root = match objects.get(&new_root) {
        Some(Object::Dictionary(c)) => match c.get(b"Pages") {
            Ok(Object::Reference(r)) => Some(*r),
            _ => None,
        },
        _ => None,
    };
    let Some(pages_root) = pages_root else {
        return Err(malformed(cx, "the catalog has no /Pages reference"));
    };
    let mut tree = pages::Tree::default();
    if let Err(e) = pages::fix(&mut objects, pages_root, &mut tree) {
        return Err(malformed(cx, e.0));
    }
    cx.check_deadline()?;
    Ok(write(doc, objects, written, new_root, new_info))
}

/// Makes a page tree root written directly into the catalog's `/Pages`
/// an object of its own, so that the page tree can be checked as usual
/// (kids written inline are made objects by [`promote_inline_kids`]).
fn promote_page_tree(doc: &mut Document, root: ObjectId) {
    let pages = match doc.objects.get(&root) {
        Some(Object::Dictionary(c)) => match c.get(b"Pages") {
            Ok(Object::Dictionary(p)) => p.clone(),
            _ => return,
        },
        _ => return,
    };
    let id = doc.add_object(Object::Dictionary(pages));
    if let Some(Object::Dictionary(c)) = doc.objects.get_mut(&root) {
        c.set("Pages", Object::Reference(id));
    }
}

/// Makes every page or page tree node written directly into a `/Kids`
/// array an object of its own: such a kid is still a page (readers show
/// it), and the selection and the page tree check work on references.
/// The walk is loop-safe and visits each node once.
fn promote_inline_kids(doc: &mut Document, root: ObjectId) {
    let top = match doc.objects.get(&root) {
        Some(Object::Dictionary(c)) => match c.get(b"Pages") {
            Ok(Object::Reference(r)) => *r,
            _ => return,
        },
        _ => return,
    };
    let limit = doc.objects.len().saturating_mul(2).saturating_add(16);
    let mut seen: BTreeSet<ObjectId> = BTreeSet::new();
    let mut stack = vec![top];
    while let Some(node) = stack.pop() {
        if !seen.insert(node) || seen.len() > limit {
            continue;
        }
        // The array holding the kids: in the node, or an object of its own.
        let holder = match doc.objects.get(&node) {
            Some(Object::Dictionary(d)) => match d.get(b"Kids") {
                Ok(Object::Array(_)) => node,
                Ok(Object::Reference(r)) => *r,
                _ => continue,
            },
            _ => continue,
        };
        let kids = match doc.objects.get(&holder) {
            Some(Object::Dictionary(d)) if holder == node => match d.get(b"Kids") {
                Ok(Object::Array(a)) => a.clone(),
                _ => continue,
            },
            Some(Object::Array(a)) if holder != node => a.clone(),
            _ => continue,
        };
        if !kids.iter().any(|k| matches!(k, Object::Dictionary(_))) {
            stack.extend(kids.iter().filter_map(|k| k.as_reference().ok()));
            continue;
        }
        let mut out = Vec::with_capacity(kids.len());
        for kid in kids {
            match kid {
                Object::Dictionary(d) => {
                    let id = doc.add_object(Object::Dictionary(d));
                    stack.push(id);
                    out.push(Object::Reference(id));
                }
                Object::Reference(r) => {
                    stack.push(r);
                    out.push(Object::Reference(r));
                }
                other => out.push(other),
            }
        }
        match doc.objects.get_mut(&holder) {
            Some(Object::Dictionary(d)) => d.set("Kids", Object::Array(out)),
            Some(o @ Object::Array(_)) => *o = Object::Array(out),
            _ => {}
        }
    }
}

/// `pdf.obfuscated_name` for every escaped spelling of a name that made
/// the walk remove something.
fn report_obfuscation(pdf: &[u8], triggered: &BTreeSet<Vec<u8>>, cx: &mut Context<'_>) {
    if triggered.is_empty() {
        return;
    }
    for (name, raw) in names::escaped_watched(pdf) {
        if triggered.contains(&name) {
            cx.removed(
                Code::PdfObfuscatedName,
                format!(
                    "/{} hid /{}; what it named was removed",
                    String::from_utf8_lossy(&raw),
                    String::from_utf8_lossy(&name)
                ),
            );
        }
    }
}

/// Streams whose indirect `/Length` could not be resolved were left empty
/// or cut by the parser; their data runs from where it starts to the
/// `endstream` keyword, as readers recover it.
fn repair_lengths(doc: &mut Document, pdf: &[u8]) {
    for obj in doc.objects.values_mut() {
        let Object::Stream(s) = obj else { continue };
        let Some(start) = s.start_position else {
            continue;
        };
        let end = start.saturating_add(s.content.len());
        let Some(after) = pdf.get(end..) else {
            continue;
        };
        let after = after
            .strip_prefix(b"\r\n")
            .or_else(|| after.strip_prefix(b"\n"))
            .or_else(|| after.strip_prefix(b"\r"))
            .unwrap_or(after);
        if after.starts_with(b"endstream") {
            continue;
        }
        let Some(rest) = pdf.get(start..) else {
            continue;
        };
        let Some(at) = find(rest, b"endstream", 0) else {
            continue;
        };
        let mut data = rest.get(..at).unwrap_or_default();
        data = data
            .strip_suffix(b"\r\n")
            .or_else(|| data.strip_suffix(b"\n"))
            .or_else(|| data.strip_suffix(b"\r"))
            .unwrap_or(data);
        s.content = data.to_vec();
    }
}

/// Streams the parser could not read because the keyword after their
/// data is damaged (`endstre?m`), while the data has its declared length:
/// readers take the declared bytes, and so does the rebuild. Only objects
/// the cross-reference table places, with a direct or resolvable integer
/// `/Length` whose data ends before the next object, are recovered.
fn recover_streams(doc: &mut Document, pdf: &[u8]) {
    let mut starts: Vec<usize> = doc
        .reference_table
        .entries
        .values()
        .filter_map(|e| match e {
            XrefEntry::Normal { offset, .. } => usize::try_from(*offset).ok(),
            _ => None,
        })
        .collect();
    starts.sort_unstable();
    let missing: Vec<(ObjectId, usize)> = doc
        .reference_table
        .entries
        .iter()
        .filter_map(|(num, e)| match e {
            XrefEntry::Normal { offset, generation } => {
                Some(((*num, *generation), usize::try_from(*offset).ok()?))
            }
            _ => None,
        })
        .filter(|(id, _)| !doc.objects.contains_key(id))
        .collect();
    for (id, offset) in missing {
        let end = starts
            .iter()
            .copied()
            .find(|s| *s > offset)
            .unwrap_or(pdf.len());
        let Some(chunk) = pdf.get(offset..end) else {
            continue;
        };
        if let Some(s) = damaged_end_stream(doc, id, chunk) {
            doc.objects.insert(id, Object::Stream(s));
        }
    }
}

/// The stream of object `id` in `chunk` (its bytes up to the next
/// object), read by its declared length; `None` when it is not that shape.
fn damaged_end_stream(doc: &Document, id: ObjectId, chunk: &[u8]) -> Option<lopdf::Stream> {
    let head = format!("{} {} obj", id.0, id.1);
    let text = chunk.trim_ascii_start();
    let rest = text.strip_prefix(head.as_bytes())?.trim_ascii_start();
    if !rest.starts_with(b"<<") {
        return None;
    }
    let kw = find(rest, b"stream", 0)?;
    let ops = lopdf::content::Content::decode(rest.get(..kw + 6)?).ok()?;
    let [op] = ops.operations.as_slice() else {
        return None;
    };
    let (true, [Object::Dictionary(dict)]) = (op.operator == "stream", op.operands.as_slice())
    else {
        return None;
    };
    let len = match dict.get(b"Length").ok()? {
        Object::Integer(n) => *n,
        Object::Reference(r) => match doc.objects.get(r)? {
            Object::Integer(n) => *n,
            _ => return None,
        },
        _ => return None,
    };
    let len = usize::try_from(len).ok()?;
    let after = rest.get(kw + 6..)?;
    let data = after
        .strip_prefix(b"\r\n")
        .or_else(|| after.strip_prefix(b"\n"))?;
    let data = data.get(..len)?;
    Some(lopdf::Stream::new(dict.clone(), data.to_vec()))
}

/// A safe version string for the header.
fn version(doc: &Document) -> String {
    let v = doc.version.as_bytes();
    let ok = matches!(v, [b'1', b'.', b'0'..=b'7'] | [b'2', b'.', b'0']);
    if ok {
        doc.version.clone()
    } else {
        "1.7".into()
    }
}

/// Writes the selected objects (already numbered 1..n; those in
/// `written` serialised already) with a fresh cross-reference table and
/// nothing after `%%EOF`. The input document is dropped first: only its
/// version and file identifier are still needed.
fn write(
    doc: Document,
    objects: BTreeMap<ObjectId, Object>,
    written: BTreeMap<ObjectId, Vec<u8>>,
    root: ObjectId,
    info: Option<ObjectId>,
) -> Vec<u8> {
    let mut trailer = lopdf::Dictionary::new();
    trailer.set("Root", Object::Reference(root));
    if let Some(i) = info {
        trailer.set("Info", Object::Reference(i));
    }
    if let Ok(Object::Array(id)) = doc.trailer.get(b"ID") {
        if id.len() == 2 && id.iter().all(|x| matches!(x, Object::String(..))) {
            trailer.set("ID", Object::Array(id.clone()));
        }
    }
    let version = version(&doc);
    drop(doc);
    emit::document(&version, objects, written, trailer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugai_core::config::LinkAction;
    use mugai_core::{NoMembers, Policy};

    /// A one-page PDF with `catalog` and `page` spliced into the catalog
    /// and page dictionaries, and `extra` as objects 6, 7, ...
    fn pdf(catalog: &str, page: &str, extra: &[&str]) -> Vec<u8> {
        let content = "BT /F1 12 Tf 10 10 Td (hi) Tj ET";
        let mut objs: Vec<String> = vec![
            format!("<< /Type /Catalog /Pages 2 0 R {catalog} >>"),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R {page} >>"
            ),
            format!(
                "<< /Length {} >>\nstream\n{content}\nendstream",
                content.len()
            ),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into(),
        ];
        objs.extend(extra.iter().map(|s| s.to_string()));
        let mut out = b"%PDF-1.7\n".to_vec();
        let mut offs = Vec::new();
        for (i, o) in objs.iter().enumerate() {
            offs.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let x = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes(),
        );
        for o in offs {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{x}\n%%EOF\n",
                objs.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    fn run(policy: &Policy, input: &[u8]) -> (Result<Vec<u8>, Blocked>, Vec<Code>) {
        let budget = mugai_core::Budget::new(&policy.limits);
        let mut cx = Context::new(policy, &budget, &NoMembers, None);
        let r = rebuild_pdf(input, &mut cx);
        let codes = cx.findings().iter().map(|f| f.code).collect();
        (r, codes)
    }

    fn reparse(out: &[u8]) -> Document {
        Document::load_mem(out).unwrap_or_else(|e| panic!("output does not parse: {e}"))
    }

    /// The image streams of `doc` by their index in [`image_pdf`], in
    /// order.
    fn images_by_index(doc: &Document) -> Vec<(usize, &lopdf::Stream)> {
        let mut found: Vec<(usize, &lopdf::Stream)> = doc
            .objects
            .values()
            .filter_map(|o| match o {
                Object::Stream(s) => match s.dict.get(b"Width") {
                    Ok(Object::Integer(w)) => Some((usize::try_from(*w - 1).expect("index"), s)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        found.sort_by_key(|(i, _)| *i);
        found
    }

    /// A one-page PDF with an image XObject (objects 6, 7, ...) for each
    /// of `images` (its data, and its dictionary entries beyond /Subtype,
    /// /Height 1, /BitsPerComponent 8 and /Length); the resources name the
    /// first `named`. Each image's /Width is its index + 1, which tells
    /// them apart.
    fn image_pdf(images: &[(&[u8], String)], named: usize) -> Vec<u8> {
        let objs: Vec<String> = images
            .iter()
            .enumerate()
            .map(|(i, (d, entries))| {
                format!(
                    "<< /Type /XObject /Subtype /Image /Width {} /Height 1 /BitsPerComponent 8 \
                     {entries} /Length {} >>\nstream\n{}\nendstream",
                    i + 1,
                    d.len(),
                    char::from(b'A' + i as u8).to_string().repeat(d.len())
                )
            })
            .collect();
        let refs: Vec<&str> = objs.iter().map(String::as_str).collect();
        let names: String = (0..named)
            .map(|i| format!("/{} {} 0 R ", char::from(b'A' + i as u8), i + 6))
            .collect();
        let mut input = pdf(
            "",
            &format!("/Resources << /XObject << {names}>> >>"),
            &refs,
        );
        // The image data in place of the placeholders of the same length.
        for (i, (d, _)) in images.iter().enumerate() {
            let fill = vec![b'A' + i as u8; d.len()];
            let at = find(&input, &fill, 0).expect("placeholder");
            input[at..at + d.len()].copy_from_slice(d);
        }
        input
    }

    #[test]
    fn the_repair_pass_gets_the_byte_budget_back() {
        // A catalog stream decoded by the first pass, which then fails on
        // a page the table points wrongly at; the repair pass decodes it
        // again. Either pass fits the budget, both together do not.
        let xmp = format!(
            "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><!-- {} --></x:xmpmeta>",
            "a".repeat(3000)
        );
        let meta = format!(
            "<< /Type /Metadata /Subtype /XML /Length {} >>\nstream\n{xmp}\nendstream",
            xmp.len()
        );
        let good = pdf("/Metadata 6 0 R", "", &[&meta]);
        let page_at = find(&good, b"3 0 obj", 0).expect("page");
        let entry = format!("{page_at:010} 00000 n");
        let at = find(&good, entry.as_bytes(), 0).expect("xref entry");
        let mut input = good.clone();
        input[at..at + 10].copy_from_slice(b"0000000009");
        let mut policy = Policy::default();
        policy.limits.max_expanded_bytes = xmp.len() as u64 + 1000;
        let (r, codes) = run(&policy, &input);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(codes.contains(&Code::PdfRepaired), "{codes:?}");
        assert_eq!(reparse(&out).get_pages().len(), 1);
        // The bound still holds for the repair pass alone.
        policy.limits.max_expanded_bytes = xmp.len() as u64 / 2;
        let (r, _) = run(&policy, &input);
        assert_eq!(r.map(|_| ()).unwrap_err().code, Code::LimitSize);
    }

    #[test]
    fn jpeg_images_rebuilt_ahead_are_those_a_single_rebuild_makes() {
        use image::ImageEncoder;
        let jpeg = |q: u8, w: u32| {
            let img = image::RgbImage::from_fn(w, 24, |x, y| {
                image::Rgb([(x * 7) as u8, (y * 11) as u8, ((x ^ y) * q as u32) as u8])
            });
            let mut v = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut v, q)
                .write_image(img.as_raw(), w, 24, image::ExtendedColorType::Rgb8)
                .expect("jpeg");
            // A comment the rebuild leaves behind.
            v.splice(2..2, b"\xff\xfe\0\x06note".iter().copied());
            v
        };
        // Three kept images (one damaged), one unused: all four are
        // rebuilt ahead on two threads.
        let images = [
            jpeg(90, 40),
            jpeg(40, 64),
            b"\xff\xd8\xff\xe0 not a JPEG".to_vec(),
            jpeg(70, 8),
        ];
        let entries = "/ColorSpace /DeviceRGB /Filter /DCTDecode".to_string();
        let listed: Vec<(&[u8], String)> = images
            .iter()
            .map(|d| (d.as_slice(), entries.clone()))
            .collect();
        let input = image_pdf(&listed, 3);
        let (r, codes) = run(&Policy::default(), &input);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(codes.contains(&Code::PdfDamagedStream), "{codes:?}");
        let doc = reparse(&out);
        // Each kept image, told apart by its /Width (its index + 1), is what
        // the rebuild makes of its own data.
        let kept = images_by_index(&doc);
        for (i, s) in &kept {
            let want = crate::streams::rebuild_jpeg(images[*i].clone(), 1 << 20).expect("rebuilds");
            assert!(s.content == want, "image {i} is its own rebuild");
        }
        let kept: Vec<usize> = kept.into_iter().map(|(i, _)| i).collect();
        assert_eq!(kept, [0, 1]);
        assert!(!out.windows(4).any(|w| w == b"note"));
        let (again, _) = run(&Policy::default(), &input);
        assert_eq!(
            again.expect("rebuilt again"),
            out,
            "the same bytes every run"
        );
    }

    #[test]
    fn flate_images_are_encoded_anew_or_keep_exact_data_by_policy() {
        use crate::streams::{deflate, inflate};
        use std::io::Write;
        let rows: Vec<u8> = (0..3000u32).map(|i| (i * i % 253) as u8).collect();
        // Exact data not as the output would encode it (another level).
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&rows).expect("vec");
        let exact = z.finish().expect("vec");
        assert_ne!(exact, deflate(&rows));
        let mut wrong_sum = exact.clone();
        let n = wrong_sum.len();
        wrong_sum[n - 1] ^= 0x55;
        let mut damaged = exact.clone();
        damaged.truncate(3);
        // Exact, a wrong checksum, damaged, and no filter at all; each
        // prepared ahead on two threads.
        let gray = |filter: &str| format!("/ColorSpace /DeviceGray {filter}");
        let images: [(&[u8], String); 4] = [
            (&exact, gray("/Filter /FlateDecode")),
            (&wrong_sum, gray("/Filter [/Fl]")),
            (&damaged, gray("/Filter /FlateDecode")),
            (&rows, gray("")),
        ];
        let input = image_pdf(&images, 4);
        for keep_exact in [false, true] {
            let mut policy = Policy::default();
            if keep_exact {
                policy.pdf.flate = mugai_core::config::FlateData::KeepExact;
            }
            let (r, codes) = run(&policy, &input);
            let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
            assert_eq!(codes, [Code::PdfDamagedStream], "only the damaged image");
            let doc = reparse(&out);
            let kept = images_by_index(&doc);
            for (i, s) in &kept {
                assert_eq!(inflate(&s.content, 1 << 20).as_deref(), Ok(rows.as_slice()));
                let want = if *i == 0 && keep_exact {
                    exact.clone()
                } else {
                    deflate(&rows)
                };
                assert!(
                    s.content == want,
                    "image {i} ({keep_exact}): exact data stays, the rest is new"
                );
            }
            let kept: Vec<usize> = kept.into_iter().map(|(i, _)| i).collect();
            assert_eq!(kept, [0, 1, 3]);
            let (again, codes) = run(&policy, &out);
            assert!(codes.is_empty(), "{codes:?}");
            assert_eq!(again.expect("rebuilt again"), out, "a fixpoint");
        }
    }

    #[test]
    fn a_clean_file_is_rebuilt_without_findings() {
        let (r, codes) = run(&Policy::default(), &pdf("", "", &[]));
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(codes.is_empty(), "{codes:?}");
        assert_eq!(reparse(&out).get_pages().len(), 1);
        assert!(out.ends_with(b"%%EOF") || out.ends_with(b"%%EOF\n"));
    }

    #[test]
    fn unreferenced_objects_are_not_written() {
        let input = pdf("", "", &["<< /S /JavaScript /JS (orphan) >>", "(unused)"]);
        let (r, codes) = run(&Policy::default(), &input);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(codes.is_empty(), "an orphan is not a finding: {codes:?}");
        // Catalog, pages, page, content: the font and the extras are unused.
        assert_eq!(reparse(&out).objects.len(), 4);
        assert!(!out.windows(6).any(|w| w == b"orphan"));
    }

    #[test]
    fn uri_follows_the_policy() {
        let page = "/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (http://x.invalid/) >> >>]";
        let input = pdf("", page, &[]);
        let (r, codes) = run(&Policy::default(), &input);
        assert_eq!(codes, vec![Code::PdfUri]);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(!out.windows(10).any(|w| w == b"x.invalid/"));
        assert!(
            out.windows(5).any(|w| w == b"/Link"),
            "the annotation stays"
        );
        let mut keep = Policy::default();
        keep.pdf.uri = LinkAction::Keep;
        let (r, codes) = run(&keep, &input);
        assert!(codes.is_empty());
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(out.windows(10).any(|w| w == b"x.invalid/"));
    }

    #[test]
    fn action_chains_and_escaped_names_are_followed() {
        let input = pdf(
            "/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next [6 0 R 7 0 R] >>",
            "",
            &[
                "<< /S /Launch /F (calc.exe) >>",
                "<< /S /J#61vaScript /JS (x) >>",
            ],
        );
        let (r, codes) = run(&Policy::default(), &input);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        for c in [
            Code::PdfLaunch,
            Code::PdfJavascript,
            Code::PdfObfuscatedName,
        ] {
            assert!(codes.contains(&c), "{c} missing from {codes:?}");
        }
        assert!(
            !codes.contains(&Code::PdfOpenAction),
            "a /GoTo open action stays"
        );
        let doc = reparse(&out);
        let cat = doc.catalog().unwrap_or_else(|e| panic!("{e}"));
        assert!(cat.has(b"OpenAction"));
        assert!(!out.windows(8).any(|w| w == b"calc.exe"));
    }

    #[test]
    fn an_object_reached_in_two_roles_is_judged_in_each() {
        // The catalog is also a font resource and the page a graphics
        // state: neither role lets the JavaScript through.
        let input = pdf(
            "/OpenAction 6 0 R",
            "/AA << /O 6 0 R >> /Resources << /Font << /F1 1 0 R >> /ExtGState << /G 3 0 R >> >>",
            &["<< /S /JavaScript /JS (app.alert\\(1\\)) >>"],
        );
        let (r, codes) = run(&Policy::default(), &input);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        for c in [
            Code::PdfOpenAction,
            Code::PdfAdditionalActions,
            Code::PdfJavascript,
        ] {
            assert!(codes.contains(&c), "{c} missing from {codes:?}");
        }
        assert!(!out.windows(3).any(|w| w == b"/JS"), "JavaScript left");
        assert!(!out.windows(3).any(|w| w == b"/AA"), "/AA left");
        assert!(!out.windows(11).any(|w| w == b"/OpenAction"));
        assert_eq!(reparse(&out).get_pages().len(), 1);
    }

    #[test]
    fn the_action_type_is_judged_after_resolving_it() {
        let input = pdf(
            "/OpenAction << /Type /Font /S 6 0 R /F (calc.exe) >>",
            "",
            &["/Launch"],
        );
        let (r, codes) = run(&Policy::default(), &input);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(codes.contains(&Code::PdfLaunch), "{codes:?}");
        assert!(codes.contains(&Code::PdfAction), "{codes:?}");
        assert!(!out.windows(8).any(|w| w == b"calc.exe"));
    }

    #[test]
    fn a_rebuilt_file_is_a_fixpoint() {
        let input = pdf(
            "/OpenAction << /S /JavaScript /JS (x) >> /Metadata 6 0 R",
            "/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /GoTo /D [3 0 R /Fit] >> >>]",
            &["<< /Length 3 >>\nstream\nabc\nendstream"],
        );
        let (r, codes) = run(&Policy::default(), &input);
        let once = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(!codes.is_empty());
        let (r, codes) = run(&Policy::default(), &once);
        let twice = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(codes.is_empty(), "{codes:?}");
        assert_eq!(once, twice);
    }

    #[test]
    fn a_stream_with_a_damaged_endstream_is_read_by_its_length() {
        let mut input = pdf("", "", &[]);
        let at = input
            .windows(9)
            .position(|w| w == b"endstream")
            .unwrap_or_else(|| panic!("no endstream"));
        input[at + 7] = 0xa7;
        let (r, codes) = run(&Policy::default(), &input);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(codes.is_empty(), "{codes:?}");
        let doc = reparse(&out);
        let page = doc.get_pages().into_values().next().unwrap_or((0, 0));
        let text = doc.get_page_content(page);
        assert!(
            text.windows(4).any(|w| w == b"(hi)"),
            "{}",
            String::from_utf8_lossy(&text)
        );
    }

    #[test]
    fn a_missing_content_stream_is_reported() {
        let input = pdf("", "/Contents [4 0 R 99 0 R]", &[]);
        let (r, codes) = run(&Policy::default(), &input);
        assert!(r.is_ok());
        assert_eq!(codes, vec![Code::PdfDropped]);
    }

    #[test]
    fn xmp_metadata_and_thumbnails_are_kept_other_metadata_goes() {
        let xmp =
            "<?xpacket begin=\"\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF/></x:xmpmeta>";
        let thumb = "<< /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 1 >>\nstream\nA\nendstream";
        let input = pdf(
            "/Metadata 6 0 R /MarkInfo << /Marked true >>",
            "/Thumb 7 0 R",
            &[
                &format!(
                    "<< /Type /Metadata /Subtype /XML /Length {} >>\nstream\n{xmp}\nendstream",
                    xmp.len()
                ),
                thumb,
            ],
        );
        let (r, codes) = run(&Policy::default(), &input);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(codes.is_empty(), "{codes:?}");
        let doc = reparse(&out);
        let cat = doc.catalog().unwrap_or_else(|e| panic!("{e}"));
        assert!(cat.has(b"Metadata") && cat.has(b"MarkInfo"));
        let page = doc.get_pages().into_values().next().unwrap_or((0, 0));
        let page = doc.get_dictionary(page).unwrap_or_else(|e| panic!("{e}"));
        assert!(page.has(b"Thumb"));
        // Not XMP, or with a DOCTYPE: dropped and said.
        for bad in [
            "abc",
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x:xmpmeta/>",
        ] {
            let input = pdf(
                "/Metadata 6 0 R",
                "",
                &[&format!(
                    "<< /Length {} >>\nstream\n{bad}\nendstream",
                    bad.len()
                )],
            );
            let (r, codes) = run(&Policy::default(), &input);
            assert!(r.is_ok());
            assert_eq!(codes, vec![Code::PdfDropped], "{bad}");
        }
    }

    #[test]
    fn the_structure_tree_is_kept_without_actions() {
        let input = pdf(
            "/StructTreeRoot 6 0 R /MarkInfo << /Marked true >>",
            "/StructParents 0",
            &[
                "<< /Type /StructTreeRoot /K 7 0 R /ParentTree << /Nums [0 [7 0 R]] >> /RoleMap << /Heading /H1 >> >>",
                "<< /S /P /P 6 0 R /Pg 3 0 R /K [0 << /Type /MCR /Pg 3 0 R /MCID 1 >>] /A [<< /O /Layout /Placement /Block >> 0 << /O /X /S /JavaScript /JS (app.alert\\(1\\)) >>] >>",
            ],
        );
        let (r, codes) = run(&Policy::default(), &input);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert_eq!(
            codes,
            vec![Code::PdfDropped],
            "the action-shaped attributes go"
        );
        assert!(!out.windows(3).any(|w| w == b"/JS"));
        let doc = reparse(&out);
        let cat = doc.catalog().unwrap_or_else(|e| panic!("{e}"));
        let root = cat
            .get(b"StructTreeRoot")
            .and_then(Object::as_reference)
            .and_then(|r| doc.get_dictionary(r))
            .unwrap_or_else(|e| panic!("{e}"));
        let elem = root
            .get(b"K")
            .and_then(Object::as_reference)
            .and_then(|r| doc.get_dictionary(r))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(elem.has(b"Pg") && elem.has(b"K") && elem.has(b"A") && elem.has(b"P"));
        assert!(root.has(b"ParentTree") && root.has(b"RoleMap"));
        let (again, codes) = run(&Policy::default(), &out);
        assert!(codes.is_empty(), "{codes:?}");
        assert_eq!(again.ok(), Some(out));
    }

    #[test]
    fn limits_block() {
        let mut p = Policy::default();
        p.limits.max_objects = 3;
        let (r, _) = run(&p, &pdf("", "", &[]));
        assert_eq!(r.err().map(|b| b.code), Some(Code::LimitCount));
        let mut p = Policy::default();
        p.limits.max_nesting = 4;
        let (r, _) = run(
            &p,
            &pdf("/ViewerPreferences << /X [[[[[[1]]]]]] >>", "", &[]),
        );
        assert_eq!(r.err().map(|b| b.code), Some(Code::LimitDepth));
        let (r, _) = run(&Policy::default(), b"not a pdf at all");
        assert_eq!(r.err().map(|b| b.code), Some(Code::PdfMalformed));
    }

    #[test]
    fn incremental_updates_are_seen_but_linearisation_is_not_one() {
        assert!(!has_incremental_update(
            b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
        ));
        assert!(has_incremental_update(
            b"%PDF-1.4\n%%EOF\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
        ));
        assert!(!has_incremental_update(
            b"%PDF-1.4\n1 0 obj <</Linearized 1>> endobj\n%%EOF\nmore\n%%EOF\n"
        ));
        assert!(has_incremental_update(
            b"%PDF-1.4\n1 0 obj <</Linearized 1>> endobj\n%%EOF\nmore\n%%EOF\nupdate\n%%EOF"
        ));
    }

    /// `pdf(..)` with object 1 (the catalog) blanked out and the catalog
    /// written into the trailer instead, as some generators do; with
    /// `shift`, every offset of the table and startxref is that far off.
    fn catalog_in_trailer(catalog: &str, extra: &[&str], shift: usize) -> Vec<u8> {
        let good = pdf("", "", extra);
        let text = String::from_utf8_lossy(&good).into_owned();
        let end = text.find("endobj\n").unwrap_or(0) + 7;
        let start = text.find("1 0 obj").unwrap_or(0);
        let blank = " ".repeat(end - start);
        let text = format!("{}{blank}{}", &text[..start], &text[end..]);
        let x = text.find("\nxref\n").unwrap_or(0) + 1;
        let mut out = text[..x].to_string();
        for line in text[x..].lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts[..] {
                [o, "00000", "n", ""] if o.len() == 10 && o != "0000000000" => {
                    let o = o.parse::<usize>().unwrap_or(0) + shift;
                    out.push_str(&format!("{o:010} 00000 n \n"));
                }
                _ if line.starts_with("trailer") => out.push_str("trailer\n"),
                _ if line.starts_with("<< /Size") => out.push_str(&format!(
                    "<< /Size 9 /Root << /Type /Catalog /Pages 2 0 R {catalog} >> >>\n"
                )),
                _ if line.chars().all(|c| c.is_ascii_digit()) && !line.is_empty() => {
                    out.push_str(&format!("{}\n", x + shift));
                }
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out.into_bytes()
    }

    #[test]
    fn a_table_with_wrong_offsets_is_rebuilt_and_selected_as_usual() {
        let bad = catalog_in_trailer(
            "/OpenAction 6 0 R",
            &["<< /S /JavaScript /JS (app.alert(1)) >>"],
            7,
        );
        assert!(Document::load_mem(&bad).is_err());
        let (r, codes) = run(&Policy::default(), &bad);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert!(codes.contains(&Code::PdfRepaired), "{codes:?}");
        assert!(codes.contains(&Code::PdfAction), "{codes:?}");
        let doc = reparse(&out);
        assert_eq!(doc.get_pages().len(), 1);
        let cat = doc.catalog().unwrap_or_else(|e| panic!("{e}"));
        assert!(!cat.has(b"OpenAction"));
        // The output reads without repair: a second pass finds nothing.
        let (again, codes) = run(&Policy::default(), &out);
        assert_eq!(again.ok(), Some(out));
        assert!(codes.is_empty(), "{codes:?}");
    }

    #[test]
    fn a_file_without_any_table_is_rebuilt_with_its_pages() {
        let with_table = catalog_in_trailer("", &[], 0);
        let x = find(&with_table, b"\nxref\n", 0).unwrap_or(0) + 1;
        let t = find(&with_table, b"trailer", x).unwrap_or(x);
        let mut bare = with_table.get(..x).unwrap_or_default().to_vec();
        let trailer = with_table.get(t..).unwrap_or_default();
        let sx = find(trailer, b"startxref", 0).unwrap_or(trailer.len());
        bare.extend_from_slice(trailer.get(..sx).unwrap_or_default());
        assert!(find(&bare, b"xref", 0).is_none());
        let (r, codes) = run(&Policy::default(), &bare);
        let out = r.unwrap_or_else(|b| panic!("blocked: {b}"));
        assert_eq!(codes, vec![Code::PdfRepaired]);
        assert_eq!(reparse(&out).get_pages().len(), 1);
        // Without a catalog anywhere the file stays blocked.
        let none = String::from_utf8_lossy(&bare).replace("/Root", "/Rot");
        let (r, codes) = run(&Policy::default(), none.as_bytes());
        assert_eq!(r.err().map(|b| b.code), Some(Code::PdfMalformed));
        assert!(codes.is_empty(), "{codes:?}");
    }
}
