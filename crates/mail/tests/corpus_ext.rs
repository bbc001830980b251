//! Every `.eml` of the external corpus (`../shared/corpus-ext/*/eml-*`):
//! converts without a crash, and the text of its text/plain part (or of its
//! HTML) appears in the output for at least 95% of them.

use mail_parser::{MessageParser, MimeHeaders, PartType};
use mugai_core::{Job, Policy, Sanitize, Verdict};
use mugai_engine::InProcess;
use std::path::{Path, PathBuf};

fn corpus_ext() -> Option<PathBuf> {
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus-ext"
    ));
    if p.join("MANIFEST.tsv").exists() {
        Some(p.to_path_buf())
    } else {
        // Under CI=true a skip is a failure: CI always has the corpus.
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but ../shared/corpus-ext is absent"
        );
        eprintln!("skipping: ../shared/corpus-ext is absent");
        None
    }
}

fn eml_files(root: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for owner in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for kind in std::fs::read_dir(owner.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if !kind.file_name().to_string_lossy().starts_with("eml-") {
                continue;
            }
            for f in std::fs::read_dir(kind.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                v.push(f.path());
            }
        }
    }
    v.sort();
    v
}

fn norm(s: &str) -> String {
    let s: String = s
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lines of the original's body text: its text/plain parts, else its
/// HTML converted the way the converter does.
fn reference_lines(raw: &[u8]) -> Vec<String> {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut text = String::new();
    for p in m.text_bodies() {
        let plain = p
            .content_type()
            .is_none_or(|c| c.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain")));
        match &p.body {
            PartType::Text(t) if plain => text.push_str(t),
            _ => {}
        }
        text.push('\n');
    }
    if text.trim().is_empty() {
        for p in m.html_bodies() {
            if let PartType::Html(h) = &p.body {
                text.push_str(&mugai_mail::html::html_to_text(h, 1 << 24).0);
                text.push('\n');
            }
        }
    }
    let text = mugai_mail::links::neutralise(&text).0;
    text.lines().map(norm).filter(|l| !l.is_empty()).collect()
}

fn output_text(out: &[u8]) -> String {
    let m = MessageParser::default().parse(out).expect("output parses");
    let mut s = String::new();
    for p in &m.parts {
        if let PartType::Text(t) = &p.body {
            s.push_str(t);
        }
    }
    norm(&s)
}

#[test]
fn corpus_ext_mail_converts_and_keeps_its_text() {
    let Some(root) = corpus_ext() else {
        return;
    };
    let files = eml_files(&root);
    assert!(
        files.len() >= 50,
        "expected the external mail set, found {}",
        files.len()
    );
    let policy = Policy::default();
    let mut kept = 0usize;
    let mut exceptions = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let o = InProcess.sanitize(&policy, Job::new(name.clone(), bytes.clone()));
        let rel = f.strip_prefix(&root).unwrap().display().to_string();
        if o.verdict() == Verdict::Blocked {
            // A block is no crash, but it keeps no text: count it against fidelity.
            let r = o.reason().unwrap();
            assert!(!r.detail.contains("panicked"), "{rel}: {r:?}");
            exceptions.push(format!("{rel}: blocked {}: {}", r.code, r.detail));
            continue;
        }
        let out = &o.output().unwrap().bytes;
        let text = output_text(out);
        let lines = reference_lines(&bytes);
        let found = lines.iter().filter(|l| text.contains(l.as_str())).count();
        if lines.is_empty() || found * 100 >= lines.len() * 95 {
            kept += 1;
        } else {
            let missing: Vec<_> = lines
                .iter()
                .filter(|l| !text.contains(l.as_str()))
                .take(2)
                .collect();
            exceptions.push(format!(
                "{rel}: {found}/{} lines found; missing e.g. {missing:?}",
                lines.len()
            ));
        }
    }
    let pct = kept * 100 / files.len();
    println!(
        "corpus-ext mail: {kept}/{} keep their text ({pct}%)",
        files.len()
    );
    for e in &exceptions {
        println!("  exception: {e}");
    }
    assert!(
        kept * 100 >= files.len() * 95,
        "{kept}/{} ({pct}%):\n{}",
        files.len(),
        exceptions.join("\n")
    );
}

/// The `.msg` file inside an OLE package (`Ole10Native`) of an OLE object
/// of a Word document: the real Outlook message the external corpus holds.
fn embedded_msg(docx: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::fs::File::open(docx).expect("docx")).expect("zip");
    let mut ole = Vec::new();
    z.by_name("word/embeddings/oleObject1.bin")
        .expect("embedded object")
        .read_to_end(&mut ole)
        .expect("read");
    let mut cfb = cfb::CompoundFile::open(std::io::Cursor::new(ole)).expect("cfb");
    let mut native = Vec::new();
    cfb.open_stream("/\u{1}Ole10Native")
        .expect("package")
        .read_to_end(&mut native)
        .expect("read");
    // size, flags, label\0, path\0, 2 x u16, temp path (u32 length), data (u32 length).
    let mut p = 6;
    for _ in 0..2 {
        p += native[p..].iter().position(|&b| b == 0).expect("string") + 1;
    }
    p += 4;
    let u32_at = |p: usize| u32::from_le_bytes(native[p..p + 4].try_into().unwrap()) as usize;
    p += 4 + u32_at(p);
    let n = u32_at(p);
    native[p + 4..p + 4 + n].to_vec()
}

#[test]
fn a_real_outlook_msg_is_textized_like_mail() {
    let Some(root) = corpus_ext() else {
        return;
    };
    let msg = embedded_msg(&root.join("apache_tika/ooxml-active/EmbeddedOutlook.docx"));
    assert_eq!(mugai_detect::detect(&msg), mugai_core::FileType::Msg);
    let o = InProcess.sanitize(&Policy::default(), Job::new("licensedTestMsgwAtt.msg", msg));
    assert_eq!(o.verdict(), Verdict::Sanitized, "{:?}", o.reason());
    assert_eq!(o.output_name(), Some("licensedTestMsgwAtt.eml"));
    let out = &o.output().expect("output").bytes;
    let m = MessageParser::default().parse(&out).expect("parses");
    assert_eq!(
        m.subject(),
        Some("This is a Test Message with a PDF Attachment")
    );
    assert_eq!(m.parts.len(), 1, "one text part");
    let text = m.body_text(0).expect("text");
    assert!(
        text.contains("Sample Outlook Message with Attachments"),
        "{text}"
    );
    assert!(
        text.contains("docSavedAspdf.pdf"),
        "the attachment is listed"
    );
    let cc: Vec<_> = m
        .cc()
        .and_then(|a| a.as_list())
        .map(|l| l.iter().filter_map(|a| a.address()).collect())
        .unwrap_or_default();
    assert_eq!(cc, ["bubba@bubbasmith.com", "dude@dude.com"]);
    assert!(o
        .findings
        .iter()
        .any(|f| f.code == mugai_core::Code::MailAttachment));
}
