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
        let o = InProcess.sanitize(
            &policy,
            Job {
                name: name.clone(),
                bytes: bytes.clone(),
            },
        );
        let rel = f.strip_prefix(&root).unwrap().display().to_string();
        if o.verdict == Verdict::Blocked {
            // A block is no crash, but it keeps no text: count it against fidelity.
            let r = o.reason.as_ref().unwrap();
            assert!(!r.detail.contains("panicked"), "{rel}: {r:?}");
            exceptions.push(format!("{rel}: blocked {}: {}", r.code, r.detail));
            continue;
        }
        let out = o.output.as_ref().unwrap();
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
