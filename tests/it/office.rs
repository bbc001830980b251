//! Integration tests: office (OOXML, legacy OLE2, RTF).
//!
//! Outputs are checked independently of the rebuilder's own report: no
//! macro, ActiveX, OLE binary, external non-hyperlink relationship, DDE
//! field or macro content type in OOXML; no VBA storage in OLE2; no object
//! group in RTF.

use crate::util;
use mugai_core::FileType;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;
use std::time::Duration;

/// Runs `mugai sanitize --json` over `inputs` (relative to `cwd`) in one process.
fn sanitize_many(cwd: &Path, inputs: &[String], out: &Path) -> Vec<Value> {
    let mut all = Vec::new();
    for chunk in inputs.chunks(64) {
        let o = util::mugai()
            .current_dir(cwd)
            .arg("sanitize")
            .arg("--json")
            .arg("--out")
            .arg(out)
            .args(chunk)
            .output()
            .expect("run mugai");
        let lines = util::json_lines(&o);
        assert_eq!(
            lines.len(),
            chunk.len(),
            "one report per input; stderr: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        all.extend(lines);
    }
    all
}

fn zip_parts(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).expect("output is a ZIP");
    let mut m = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).expect("entry");
        let mut b = Vec::new();
        f.read_to_end(&mut b).expect("read entry");
        m.insert(String::from_utf8_lossy(f.name_raw()).into_owned(), b);
    }
    m
}

/// Every `<Relationship .../>` element as its attribute text.
fn relationships(xml: &str) -> Vec<String> {
    xml.split("<Relationship ")
        .skip(1)
        .map(|s| s.split('>').next().unwrap_or("").to_string())
        .collect()
}

/// The text between `<tag ...>` and `</tag>` for every occurrence.
fn element_texts(xml: &str, tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(c) = after.chars().next() else { break };
        if c != '>' && c != ' ' {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        if after[..gt].ends_with('/') {
            rest = &after[gt..];
            continue;
        }
        let body = &after[gt + 1..];
        let end = body.find(&close).unwrap_or(body.len());
        out.push(body[..end].to_string());
        rest = &body[end..];
    }
    out
}

/// What an OOXML output must not contain.
fn ooxml_problems(bytes: &[u8]) -> Vec<String> {
    let mut p = Vec::new();
    let parts = zip_parts(bytes);
    for (name, b) in &parts {
        let n = name.to_ascii_lowercase();
        if n.contains("vbaproject")
            || n.contains("vbadata")
            || n.contains("/activex/")
            || n.contains("macrosheets/")
            || n.starts_with("customui/")
            || (n.contains("/embeddings/")
                && !n.ends_with(".png")
                && !n.ends_with(".jpeg")
                && !n.ends_with(".jpg"))
            || n.contains("externallinks/")
        {
            p.push(format!("part {name}"));
        }
        let text = String::from_utf8_lossy(b);
        if n.ends_with(".rels") {
            for r in relationships(&text) {
                let lower = r.to_ascii_lowercase();
                if lower.contains("targetmode=\"external\"") && !lower.contains("/hyperlink\"") {
                    p.push(format!("{name}: external relationship {r}"));
                }
                for bad in [
                    "vbaproject",
                    "activex",
                    "/oleobject\"",
                    "/control\"",
                    "/extensibility\"",
                    "xlmacrosheet",
                    "attachedtemplate",
                    "externallink",
                ] {
                    if lower.contains(bad) {
                        p.push(format!("{name}: relationship {r}"));
                    }
                }
            }
        }
        if n == "[content_types].xml" {
            let lower = text.to_ascii_lowercase();
            for bad in [
                "macroenabled",
                "vbaproject",
                "activex",
                "oleobject",
                "macrosheet",
            ] {
                if lower.contains(bad) {
                    p.push(format!("content type {bad}"));
                }
            }
        }
        if n.ends_with(".xml") {
            let instr: String = element_texts(&text, "w:instrText").concat();
            let simple: String = text
                .split("w:instr=\"")
                .skip(1)
                .map(|s| s.split('"').next().unwrap_or(""))
                .collect();
            for s in [instr, simple] {
                let u = s.to_ascii_uppercase();
                if u.split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|w| w == "DDE" || w == "DDEAUTO")
                {
                    p.push(format!("{name}: DDE field"));
                }
            }
            if text.contains("<ddeLink") {
                p.push(format!("{name}: ddeLink"));
            }
            if element_texts(&text, "f").iter().any(|f| f.contains('|')) {
                p.push(format!("{name}: DDE formula"));
            }
        }
    }
    p
}

/// DDE field instructions in a Word stream, read the plain way (a 0x13
/// field mark, then the text up to 0x14 or 0x15, 8-bit or UTF-16).
fn word_dde_fields(wd: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in wd.iter().enumerate().filter(|(_, &b)| b == 0x13) {
        let tail = &wd[i + 1..wd.len().min(i + 400)];
        let end = tail
            .iter()
            .position(|&b| b == 0x14 || b == 0x15)
            .unwrap_or(tail.len());
        let text: String = tail[..end]
            .iter()
            .filter(|b| **b != 0)
            .map(|&b| b as char)
            .collect::<String>()
            .to_ascii_uppercase();
        if text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "DDE" || w == "DDEAUTO")
        {
            found.push(format!("DDE field: {}", text.trim()));
        }
    }
    found
}

fn ole_problems(bytes: &[u8]) -> Vec<String> {
    let mut c = cfb::CompoundFile::open(Cursor::new(bytes)).expect("output is a compound file");
    let mut fields = Vec::new();
    if let Ok(mut s) = c.open_stream("/WordDocument") {
        let mut wd = Vec::new();
        s.read_to_end(&mut wd).expect("WordDocument");
        fields = word_dde_fields(&wd);
    }
    fields.extend(
        c.walk()
            .filter(|e| {
                let n = e.name().to_ascii_lowercase();
                [
                    "macros",
                    "_vba_project_cur",
                    "vba",
                    "_vba_project",
                    "objectpool",
                    "\u{1}ole10native",
                ]
                .contains(&n.as_str())
            })
            .map(|e| format!("entry {}", e.path().display())),
    );
    fields
}

fn rtf_problems(bytes: &[u8]) -> Vec<String> {
    let s = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    [
        "\\object",
        "\\objdata",
        "\\objupdate",
        "\\objclass",
        "\\template",
        "ddeauto",
    ]
    .iter()
    .filter(|w| s.contains(*w))
    .map(|w| format!("contains {w}"))
    .collect()
}

/// Danger left in an output, judged by its type.
fn output_problems(ty: &str, bytes: &[u8]) -> Vec<String> {
    match FileType::from_name(ty) {
        Some(t) if t.is_ooxml() => ooxml_problems(bytes),
        Some(FileType::Doc | FileType::Xls | FileType::Ppt) => ole_problems(bytes),
        Some(FileType::Rtf) => rtf_problems(bytes),
        _ => Vec::new(),
    }
}

/// Runs the reports' outputs through the independent checks.
fn check_outputs(reports: &[Value]) -> usize {
    let mut checked = 0;
    for r in reports {
        let Some(out) = r["output"].as_str() else {
            continue;
        };
        let bytes = std::fs::read(out).expect("output file");
        let ty = r["type"].as_str().unwrap_or("");
        let problems = output_problems(ty, &bytes);
        assert!(
            problems.is_empty(),
            "{}: danger left in the output: {problems:?}",
            r["input"]
        );
        checked += 1;
    }
    checked
}

fn office_cases() -> Vec<String> {
    let dir = util::corpus_dir().join("office");
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .expect("office corpus")
        .map(|e| format!("office/{}", e.expect("entry").file_name().to_string_lossy()))
        .collect();
    v.sort();
    v
}

#[test]
fn corpus_cases_get_their_verdicts_and_outputs_are_clean() {
    let cases = office_cases();
    assert!(
        cases.len() >= 40,
        "expected the office cases, got {}",
        cases.len()
    );
    let manifest: BTreeMap<String, Value> = serde_json::from_slice(
        &std::fs::read(util::corpus_dir().join("expected.json")).expect("manifest"),
    )
    .expect("manifest json");
    let out = tempfile::tempdir().expect("tempdir");
    let reports = sanitize_many(util::corpus_dir(), &cases, out.path());
    for r in &reports {
        let input = r["input"].as_str().expect("input");
        let e = &manifest[input];
        assert_eq!(r["verdict"], e["verdict"], "{input}: {r}");
        let want: std::collections::BTreeSet<String> = e["codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(util::codes(r), want, "{input}: {r}");
        if let Some(reason) = e["reason"].as_str() {
            assert!(
                r["reason"].as_str().is_some_and(|s| s.starts_with(reason)),
                "{input}: {r}"
            );
        }
    }
    let checked = check_outputs(&reports);
    assert!(checked >= 25, "only {checked} outputs");
    // Macro-enabled inputs come out as their macro-free type, under its extension.
    let xlm = reports
        .iter()
        .find(|r| r["input"] == "office/xlm_macrosheet.xlsm")
        .expect("case");
    assert!(
        xlm["output"].as_str().is_some_and(|o| o.ends_with(".xlsx")),
        "{xlm}"
    );
    // Text and the result of neutralised fields survive.
    let dde = reports
        .iter()
        .find(|r| r["input"] == "office/ddeauto_split.docx")
        .expect("case");
    let parts = zip_parts(&std::fs::read(dde["output"].as_str().expect("output")).expect("read"));
    let doc = String::from_utf8_lossy(&parts["word/document.xml"]).to_string();
    assert!(
        doc.contains("shown result") && doc.contains("A harmless document."),
        "{doc}"
    );
    let link = reports
        .iter()
        .find(|r| r["input"] == "office/hyperlink.docx")
        .expect("case");
    let parts = zip_parts(&std::fs::read(link["output"].as_str().expect("output")).expect("read"));
    let doc = String::from_utf8_lossy(&parts["word/document.xml"]).to_string();
    assert!(doc.contains("link text") && !doc.contains("r:id"), "{doc}");
    // A field named by a nested QUOTE: the instruction and the nested
    // field go, the shown result stays.
    let quote = reports
        .iter()
        .find(|r| r["input"] == "office/quote_field_name.docx")
        .expect("case");
    let parts = zip_parts(&std::fs::read(quote["output"].as_str().expect("output")).expect("read"));
    let doc = String::from_utf8_lossy(&parts["word/document.xml"]).to_string();
    assert!(
        doc.contains("shown result") && !doc.contains("QUOTE") && !doc.contains(">DDE<"),
        "{doc}"
    );
    // The Word binary keeps its length and its result text.
    let dde = reports
        .iter()
        .find(|r| r["input"] == "office/dde_field.doc")
        .expect("case");
    let out = std::fs::read(dde["output"].as_str().expect("output")).expect("read");
    let mut c = cfb::CompoundFile::open(Cursor::new(&out[..])).expect("compound file");
    let mut wd = Vec::new();
    c.open_stream("/WordDocument")
        .expect("WordDocument")
        .read_to_end(&mut wd)
        .expect("read");
    let text = String::from_utf8_lossy(&wd);
    assert!(
        text.contains("shown result") && !text.contains("cmd.exe"),
        "{text}"
    );
    let original = std::fs::read(util::corpus_dir().join("office/dde_field.doc")).expect("case");
    let c = cfb::CompoundFile::open(Cursor::new(&original[..])).expect("compound file");
    assert_eq!(
        c.entry("/WordDocument").expect("entry").len(),
        wd.len() as u64
    );
    let obj = reports
        .iter()
        .find(|r| r["input"] == "office/objdata.rtf")
        .expect("case");
    let rtf = std::fs::read(obj["output"].as_str().expect("output")).expect("read");
    let original = std::fs::read(util::corpus_dir().join("office/objdata.rtf")).expect("case");
    let text = mugai_office::rtf::text_of(&rtf);
    assert!(text.contains("shown") && text.contains("After"), "{text}");
    assert_eq!(text, mugai_office::rtf::text_of(&original));
}

#[test]
fn the_independent_checks_see_danger() {
    // The checks must fail on the inputs, or they prove nothing.
    let dir = util::corpus_dir();
    let read = |p: &str| std::fs::read(dir.join(p)).expect("case");
    assert!(!ooxml_problems(&read("office/ddeauto_split.docx")).is_empty());
    assert!(!ooxml_problems(&read("office/activex_ole.pptx")).is_empty());
    assert!(!ooxml_problems(&read("office/remote_template.docx")).is_empty());
    assert!(!ooxml_problems(&read("office/docm_saved_as.docx")).is_empty());
    assert!(!ole_problems(&read("office/vba.doc")).is_empty());
    assert!(!ole_problems(&read("office/vba.xls")).is_empty());
    assert!(!ole_problems(&read("office/dde_field.doc")).is_empty());
    assert!(!rtf_problems(&read("office/objdata.rtf")).is_empty());
    assert!(ooxml_problems(&read("office/clean.docx")).is_empty());
}

/// Text of the main parts of an OOXML package (w:t, a:t and t runs).
fn ooxml_text(bytes: &[u8]) -> Option<String> {
    let parts = zip::ZipArchive::new(Cursor::new(bytes))
        .ok()
        .map(|_| zip_parts(bytes))?;
    let mut s = String::new();
    for (name, b) in &parts {
        let n = name.to_ascii_lowercase();
        let main = n == "word/document.xml"
            || n == "xl/sharedstrings.xml"
            || (n.starts_with("xl/worksheets/") && n.ends_with(".xml"))
            || (n.starts_with("ppt/slides/slide") && n.ends_with(".xml"));
        if main {
            let t = String::from_utf8_lossy(b);
            for tag in ["w:t", "a:t", "t"] {
                s.push_str(&element_texts(&t, tag).concat());
            }
        }
    }
    Some(s)
}

/// Main streams of an OLE2 document (their bytes are the document's text).
fn ole_streams(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut c = cfb::CompoundFile::open(Cursor::new(bytes)).ok()?;
    let mut v = Vec::new();
    for name in [
        "/WordDocument",
        "/1Table",
        "/0Table",
        "/Workbook",
        "/Book",
        "/PowerPoint Document",
    ] {
        if let Ok(mut s) = c.open_stream(name) {
            let mut b = Vec::new();
            s.read_to_end(&mut b).ok()?;
            v.push(b);
        }
    }
    Some(v)
}

/// The main streams of two OLE2 files hold the same content, but for Word
/// field instructions neutralised in place: a changed byte is a blank
/// (space, or the high byte of a UTF-16 space) or a field's flags byte
/// with fLocked (0x10) set.
fn ole_same_text(a: &[u8], b: &[u8]) -> bool {
    let (Some(sa), Some(sb)) = (ole_streams(a), ole_streams(b)) else {
        return false;
    };
    sa.len() == sb.len()
        && sa.iter().zip(&sb).all(|(x, y)| {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p == q || *q == b' ' || *q == 0 || *q == p | 0x10)
        })
}

/// The text atoms (TextChars, TextBytes, CString) of a PowerPoint binary:
/// emptied object storages and flags around them are not text.
fn ppt_text(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut c = cfb::CompoundFile::open(Cursor::new(bytes)).ok()?;
    let mut pp = Vec::new();
    c.open_stream("/PowerPoint Document")
        .ok()?
        .read_to_end(&mut pp)
        .ok()?;
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= pp.len() {
        let ver = u16::from_le_bytes([pp[at], pp[at + 1]]);
        let ty = u16::from_le_bytes([pp[at + 2], pp[at + 3]]);
        let len = u32::from_le_bytes([pp[at + 4], pp[at + 5], pp[at + 6], pp[at + 7]]) as usize;
        if matches!(ty, 0x0FA0 | 0x0FA8 | 0x0FBA) {
            out.push(pp[at + 8..(at + 8).saturating_add(len).min(pp.len())].to_vec());
        }
        at = if ver & 0xF == 0xF {
            at + 8
        } else {
            at.saturating_add(8).saturating_add(len)
        };
    }
    Some(out)
}

/// Width and height from an image header (PNG, GIF, JPEG).
fn image_dims(b: &[u8]) -> Option<(u32, u32)> {
    if b.starts_with(b"\x89PNG") && b.len() >= 24 {
        return Some((
            u32::from_be_bytes(b[16..20].try_into().ok()?),
            u32::from_be_bytes(b[20..24].try_into().ok()?),
        ));
    }
    if b.starts_with(b"GIF8") && b.len() >= 10 {
        return Some((
            u16::from_le_bytes([b[6], b[7]]) as u32,
            u16::from_le_bytes([b[8], b[9]]) as u32,
        ));
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        let mut i = 2;
        while i + 9 < b.len() {
            if b[i] != 0xFF {
                i += 1;
                continue;
            }
            let m = b[i + 1];
            let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
            if (0xC0..=0xCF).contains(&m) && m != 0xC4 && m != 0xC8 && m != 0xCC {
                return Some((
                    u16::from_be_bytes([b[i + 7], b[i + 8]]) as u32,
                    u16::from_be_bytes([b[i + 5], b[i + 6]]) as u32,
                ));
            }
            i += 2 + len;
        }
    }
    None
}

fn ext_office_files(root: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).expect("manifest");
    manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let (path, cat) = (cols.get(2)?, cols.get(4)?);
            (cat.starts_with("ooxml") || cat.starts_with("ole2") || cat.starts_with("rtf"))
                .then(|| path.to_string())
        })
        .filter(|p| root.join(p).exists())
        .collect()
}

#[test]
fn corpus_ext_office_files_are_rebuilt_or_blocked_and_keep_their_text() {
    let Some(root) = util::corpus_ext() else {
        return;
    };
    let files = ext_office_files(&root);
    assert!(!files.is_empty(), "no office files in corpus-ext");
    let out = tempfile::tempdir().expect("tempdir");
    let reports = sanitize_many(&root, &files, out.path());
    let mut sanitized = 0usize;
    let mut same_text = 0usize;
    let mut blocked: BTreeMap<String, usize> = BTreeMap::new();
    let mut exceptions = Vec::new();
    let mut images = (0usize, 0usize);
    for r in &reports {
        let input = r["input"].as_str().expect("input");
        match r["verdict"].as_str() {
            Some("blocked") => {
                let reason = r["reason"].as_str().expect("a blocked file has a reason");
                assert!(!reason.is_empty());
                *blocked
                    .entry(reason.split(':').next().unwrap_or("").to_string())
                    .or_default() += 1;
                continue;
            }
            Some("clean") | Some("sanitized") => {}
            other => panic!("{input}: verdict {other:?}"),
        }
        sanitized += 1;
        let original = std::fs::read(root.join(input)).expect("input");
        let output = std::fs::read(r["output"].as_str().expect("output path")).expect("output");
        let ty = r["type"].as_str().unwrap_or("");
        let problems = output_problems(ty, &output);
        assert!(
            problems.is_empty(),
            "{input}: danger left in the output: {problems:?}"
        );
        let same = match FileType::from_name(ty) {
            Some(t) if t.is_ooxml() => {
                let (a, b) = (ooxml_text(&original), ooxml_text(&output));
                // Kept pictures keep their dimensions.
                let (pi, po) = (zip_parts(&original), zip_parts(&output));
                for (name, b) in &po {
                    if let (Some(d), Some(orig)) = (image_dims(b), pi.get(name)) {
                        images.0 += 1;
                        if image_dims(orig) == Some(d) {
                            images.1 += 1;
                        } else {
                            exceptions.push(format!("{input}: {name} dimensions changed"));
                        }
                    }
                }
                a.is_some() && a == b
            }
            Some(FileType::Rtf) => {
                mugai_office::rtf::text_of(&original) == mugai_office::rtf::text_of(&output)
            }
            Some(FileType::Ppt) => {
                ppt_text(&original).is_some() && ppt_text(&original) == ppt_text(&output)
            }
            _ => ole_same_text(&original, &output),
        };
        if same {
            same_text += 1;
        } else {
            exceptions.push(format!("{input}: text differs"));
        }
    }
    eprintln!(
        "corpus-ext office: {} files, {sanitized} rebuilt ({same_text} with the same text), blocked {blocked:?}, images kept {} (same dimensions {}), exceptions {exceptions:#?}",
        reports.len(),
        images.0,
        images.1
    );
    assert!(sanitized > 0);
    assert!(
        same_text * 100 >= sanitized * 99,
        "text kept in only {same_text} of {sanitized}: {exceptions:#?}"
    );
    assert_eq!(images.0, images.1, "{exceptions:#?}");
}

fn seeds(paths: &[&str]) -> Vec<Vec<u8>> {
    paths
        .iter()
        .map(|p| std::fs::read(util::corpus_dir().join(p)).expect("seed"))
        .collect()
}

#[test]
fn mutations_of_office_files_neither_panic_nor_hang() {
    let runs: &[(FileType, &[&str], usize)] = &[
        (
            FileType::Docx,
            &[
                "office/ddeauto_split.docx",
                "office/remote_template.docx",
                "office/hyperlink.docx",
                "office/customui.docx",
            ],
            1500,
        ),
        (
            FileType::Xlsm,
            &["office/xlm_macrosheet.xlsm", "office/dde_link.xlsx"],
            800,
        ),
        (FileType::Pptx, &["office/activex_ole.pptx"], 600),
        (
            FileType::Doc,
            &["office/vba.doc", "office/objectpool.doc"],
            800,
        ),
        (FileType::Xls, &["office/vba.xls", "office/clean.xls"], 600),
        (FileType::Ppt, &["office/clean.ppt"], 400),
        (
            FileType::Rtf,
            &[
                "office/objdata.rtf",
                "office/ddeauto.rtf",
                "office/wmf_picture.rtf",
            ],
            4000,
        ),
    ];
    let mut total = 0;
    for (ty, paths, count) in runs {
        let r = mugai_engine::fuzz::smoke(
            *ty,
            &seeds(paths),
            *count,
            Duration::from_secs(12),
            Duration::from_secs(10),
        );
        assert!(
            r.panics.is_empty(),
            "{ty}: panics {:?}",
            r.panics.iter().map(|p| &p.1).collect::<Vec<_>>()
        );
        assert!(
            r.slowest < Duration::from_secs(5),
            "{ty}: slowest rebuild {:?}",
            r.slowest
        );
        assert!(r.runs >= (*count).min(100), "{ty}: only {} runs", r.runs);
        eprintln!(
            "{ty}: {} runs, {} rebuilt, {} blocked, slowest {:?}",
            r.runs, r.rebuilt, r.blocked, r.slowest
        );
        total += r.runs;
    }
    assert!(total >= 1000);
}

#[test]
fn hyperlinks_are_kept_when_the_policy_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[office]\nhyperlinks = \"keep\"\n").expect("policy");
    let out = dir.path().join("out");
    let input = util::corpus_dir().join("office/hyperlink.docx");
    let (o, reports) = util::sanitize_json(
        &input,
        &out,
        &["--policy", policy.to_str().expect("utf-8 path")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(reports[0]["verdict"], "clean", "{}", reports[0]);
    let parts =
        zip_parts(&std::fs::read(reports[0]["output"].as_str().expect("output")).expect("read"));
    let rels = String::from_utf8_lossy(&parts["word/_rels/document.xml.rels"]).to_string();
    assert!(
        rels.contains("https://example.jp/login") && rels.contains("TargetMode=\"External\""),
        "{rels}"
    );
    // A program-running click action goes whatever the link policy.
    let input = util::corpus_dir().join("office/ppt_program_action.pptx");
    let (_, reports) = util::sanitize_json(
        &input,
        &out,
        &["--policy", policy.to_str().expect("utf-8 path")],
    );
    let codes = util::codes(&reports[0]);
    assert!(
        codes.contains("ooxml.external_rel") && codes.contains("ooxml.hyperlink"),
        "{}",
        reports[0]
    );
}

#[test]
fn mutated_xml_inside_valid_packages_neither_panics_nor_hangs() {
    // Byte mutations of a ZIP mostly break its CRCs; here the XML parts are
    // mutated and re-zipped, so the relationship walk and the XML rewrite
    // see the damage.
    use mugai_corpus::office::{package, rels_xml, word_doc, CT_DOCX};
    let dde = std::fs::read(util::corpus_dir().join("office/ddeauto_split.docx")).expect("case");
    let doc = zip_parts(&dde)["word/document.xml"].clone();
    let rels = rels_xml(&[
        (
            "rId4",
            "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink".into(),
            "https://example.jp/",
            true,
        ),
        (
            "rId5",
            "http://schemas.microsoft.com/office/2006/relationships/vbaProject".into(),
            "vbaProject.bin",
            false,
        ),
    ]);
    let mut rng = mugai_engine::fuzz::Rng::new(42);
    let started = std::time::Instant::now();
    let mut runs = 0;
    let mut slowest = Duration::ZERO;
    while runs < 3000 && started.elapsed() < Duration::from_secs(20) {
        let d = mugai_engine::fuzz::mutate(&doc, &mut rng);
        let r = if runs % 2 == 0 {
            mugai_engine::fuzz::mutate(&rels, &mut rng)
        } else {
            rels.clone()
        };
        let pkg = package(
            "word/document.xml",
            &[
                ("word/document.xml", CT_DOCX, d),
                (
                    "word/vbaProject.bin",
                    "application/vnd.ms-office.vbaProject",
                    word_doc("x"),
                ),
            ],
            &[],
            &[("word/_rels/document.xml.rels", r)],
            &[],
        );
        let t0 = std::time::Instant::now();
        let result =
            std::panic::catch_unwind(|| mugai_engine::fuzz::rebuild_as(FileType::Docx, &pkg));
        slowest = slowest.max(t0.elapsed());
        assert!(result.is_ok(), "panic on a mutated document.xml");
        runs += 1;
    }
    assert!(runs >= 500, "only {runs} runs");
    assert!(slowest < Duration::from_secs(5), "slowest {slowest:?}");
    eprintln!("mutated XML in packages: {runs} runs, slowest {slowest:?}");
}

/// An output with its lossy picture data taken out: JPEGs are re-encoded
/// on every pass, everything else must come out byte for byte.
fn without_lossy_pictures(ty: &str, bytes: &[u8]) -> Vec<u8> {
    match FileType::from_name(ty) {
        Some(t) if t.is_ooxml() => {
            let mut v = Vec::new();
            for (name, b) in zip_parts(bytes) {
                v.extend_from_slice(name.as_bytes());
                if !b.starts_with(&[0xFF, 0xD8, 0xFF]) {
                    v.extend_from_slice(&b);
                }
            }
            v
        }
        Some(FileType::Rtf) => {
            // The hex data of `\jpegblip` pictures.
            let s = String::from_utf8_lossy(bytes);
            let mut parts = s.split("\\jpegblip");
            let mut v = parts.next().unwrap_or("").to_string();
            for p in parts {
                v.push_str("\\jpegblip");
                v.push_str(p.trim_start_matches(|c: char| c.is_ascii_hexdigit() || c == '\n'));
            }
            v.into_bytes()
        }
        _ => bytes.to_vec(),
    }
}

#[test]
fn sanitising_an_office_output_again_changes_nothing() {
    let mut runs: Vec<(std::path::PathBuf, Vec<String>)> =
        vec![(util::corpus_dir().to_path_buf(), office_cases())];
    if let Some(root) = util::corpus_ext() {
        let files = ext_office_files(&root);
        runs.push((root, files));
    }
    let mut checked = 0usize;
    let mut exceptions = Vec::new();
    for (cwd, inputs) in runs {
        let first = tempfile::tempdir().expect("tempdir");
        let reports = sanitize_many(&cwd, &inputs, first.path());
        let outputs: Vec<String> = reports
            .iter()
            .filter(|r| r["verdict"] != "blocked")
            .map(|r| r["output"].as_str().expect("output").to_string())
            .collect();
        let second = tempfile::tempdir().expect("tempdir");
        for r in sanitize_many(first.path(), &outputs, second.path()) {
            let input = r["input"].as_str().expect("input");
            assert_eq!(r["verdict"], "clean", "{input}: {r}");
            assert!(util::codes(&r).is_empty(), "{input}: {r}");
            let a = std::fs::read(first.path().join(input)).expect("first output");
            let b = std::fs::read(r["output"].as_str().expect("output")).expect("second output");
            if a != b {
                let ty = r["type"].as_str().unwrap_or("");
                assert_eq!(
                    without_lossy_pictures(ty, &a),
                    without_lossy_pictures(ty, &b),
                    "{input}: the second pass changed more than JPEG pictures"
                );
                exceptions.push(input.to_string());
            }
            checked += 1;
        }
    }
    eprintln!(
        "fixpoint: {checked} office outputs sanitised again, {} differ only in re-encoded JPEGs: {exceptions:?}",
        exceptions.len()
    );
    assert!(checked >= 60, "only {checked} outputs");
}
