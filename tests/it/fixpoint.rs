//! Integration tests: sanitising an output again changes nothing (verdict
//! clean, no findings, the same bytes but for lossy JPEG re-encodes), over
//! every ZIP, text, mail and image file of the generated corpus and of the
//! external corpus; and independent judges that share none of our parsers
//! accept every output: Pillow opens every image, Python's `email` reads
//! every mail as one text/plain part.

use crate::util;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Generated families and external categories this test covers.
const FAMILIES: &[&str] = &["archive/", "text/", "mail/", "image/"];
const EXT_CATEGORIES: &[&str] = &["zip-", "eml-", "image-"];

/// Copies the inputs of interest into one directory (keeping their
/// relative paths), so that one `mugai sanitize` run covers them.
fn stage(dst: &Path) -> usize {
    let mut n = 0;
    let gen = util::corpus_dir();
    let manifest = mugai_corpus::read_manifest(gen).expect("manifest");
    for path in manifest.keys() {
        if FAMILIES.iter().any(|f| path.starts_with(f)) {
            copy(&gen.join(path), &dst.join("gen").join(path));
            n += 1;
        }
    }
    if let Some(ext) = util::corpus_ext() {
        let tsv = std::fs::read_to_string(ext.join("MANIFEST.tsv")).expect("manifest");
        for line in tsv.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            let (Some(local), Some(cat)) = (f.get(2), f.get(4)) else {
                continue;
            };
            if EXT_CATEGORIES.iter().any(|c| cat.starts_with(c)) {
                copy(&ext.join(local), &dst.join("ext").join(local));
                n += 1;
            }
        }
    }
    n
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

/// The report lines by output path.
fn by_output(lines: &[Value]) -> BTreeMap<PathBuf, Value> {
    lines
        .iter()
        .filter_map(|l| Some((PathBuf::from(l["output"].as_str()?), l.clone())))
        .collect()
}

/// True when a rebuilt file may differ in bytes on a second pass: a JPEG
/// is re-encoded lossily, and so is one inside a ZIP or attached to a mail.
fn lossy(path: &Path, ty: &str) -> bool {
    if ty == "jpeg" {
        return true;
    }
    if ty == "zip" || ty == "eml" {
        let bytes = std::fs::read(path).unwrap();
        return bytes
            .windows(4)
            .any(|w| w == b"\xFF\xD8\xFF\xE0" || w == b"\xFF\xD8\xFF\xDB")
            || bytes.windows(4).any(|w| w.eq_ignore_ascii_case(b".jpg"));
    }
    false
}

#[test]
fn sanitising_an_output_again_changes_nothing_and_judges_accept_it() {
    let inputs = tempfile::tempdir().unwrap();
    let staged = stage(inputs.path());
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let (o, lines) = util::sanitize_json(inputs.path(), first.path(), &[]);
    assert_ne!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(lines.len(), staged, "one report per staged input");
    let outputs = by_output(&lines);

    let (o, again) = util::sanitize_json(first.path(), second.path(), &[]);
    assert_ne!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(again.len(), outputs.len(), "one report per output");

    let mut failures = Vec::new();
    let mut same_bytes = 0;
    let mut images = Vec::new();
    let mut mails = Vec::new();
    for r in &again {
        let input = PathBuf::from(r["input"].as_str().unwrap());
        let ty = r["type"].as_str().unwrap_or("");
        let verdict = r["verdict"].as_str().unwrap_or("");
        let findings = r["findings"].as_array().map_or(0, Vec::len);
        if verdict != "clean" || findings > 0 {
            failures.push(format!(
                "{}: second pass {verdict} with {}",
                input.display(),
                r["findings"]
            ));
            continue;
        }
        if !outputs.contains_key(&input) {
            failures.push(format!(
                "{}: not an output of the first pass",
                input.display()
            ));
        }
        let out = PathBuf::from(r["output"].as_str().unwrap());
        let (a, b) = (std::fs::read(&input).unwrap(), std::fs::read(&out).unwrap());
        if a == b {
            same_bytes += 1;
        } else if !lossy(&input, ty) {
            failures.push(format!(
                "{}: second pass changed the bytes",
                input.display()
            ));
        }
        if input.file_name() != out.file_name() {
            failures.push(format!("{}: renamed to {}", input.display(), out.display()));
        }
        match ty {
            "jpeg" | "png" | "gif" | "bmp" | "tiff" | "webp" => images.push(input),
            "eml" => mails.push(input),
            _ => {}
        }
    }
    eprintln!(
        "fixpoint: {staged} inputs, {} outputs, {same_bytes} byte-identical on the second pass, {} images, {} mails judged",
        outputs.len(),
        images.len(),
        mails.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(!images.is_empty() && !mails.is_empty());
    judge_images(&images);
    judge_mails(&mails);
}

/// Runs `script` with python3 over `files` (one path per line on stdin);
/// the script prints one line per failing file.
fn python(script: &str, files: &[PathBuf]) -> Option<String> {
    let probe = Command::new("python3").arg("-c").arg(PROBE).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        util::skip("python3 with Pillow is not installed");
        return None;
    }
    let list: String = files.iter().map(|p| format!("{}\n", p.display())).collect();
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

const PROBE: &str = "import PIL.Image, email";

fn judge_images(files: &[PathBuf]) {
    let script = r#"
import sys
from PIL import Image
for p in sys.stdin.read().splitlines():
    try:
        with Image.open(p) as im:
            n = getattr(im, "n_frames", 1)
            for i in range(n):
                im.seek(i)
                im.load()
    except Exception as e:
        print(f"{p}: {e}")
"#;
    if let Some(out) = python(script, files) {
        assert!(out.trim().is_empty(), "Pillow cannot open:\n{out}");
    }
}

fn judge_mails(files: &[PathBuf]) {
    let script = r#"
import sys, email, email.policy
for p in sys.stdin.read().splitlines():
    with open(p, "rb") as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    if m.defects:
        print(f"{p}: defects {m.defects}")
    if m.is_multipart() or m.get_content_type() != "text/plain":
        print(f"{p}: {m.get_content_type()}, not a single text/plain part")
        continue
    try:
        m.get_content()
    except Exception as e:
        print(f"{p}: body does not decode: {e}")
"#;
    if let Some(out) = python(script, files) {
        assert!(out.trim().is_empty(), "Python's email:\n{out}");
    }
}

/// With `attachments = "sanitize"` the names are written in RFC 2231 with
/// an RFC 2047 fallback; Python's `email` reads them back exactly as the
/// name rules of every file left them (sent name, name written).
#[test]
fn sanitised_attachment_names_read_back_exactly_in_python() {
    let cases = [
        (
            "議事録 2026年度 第3回 全体会議 (最終版) 添付資料その一覧.txt",
            "議事録 2026年度 第3回 全体会議 (最終版) 添付資料その一覧.txt",
        ),
        ("a;b\"c' d=e%.txt", "a;b_c' d=e%.txt"),
        ("plain.txt", "plain.txt"),
        ("報告書.txt", "報告書.txt"),
        ("report\u{202E}fdp.txt", "reportfdp.txt"),
        ("CON.txt", "_CON.txt"),
        ("x<y>.txt", "x_y_.txt"),
        ("notes.txt.", "notes.txt"),
        ("a\u{7}b.txt", "a_b.txt"),
    ];
    let names = cases.map(|c| c.0);
    let mut mail = String::from(
        "From: a@example.jp\r\nTo: b@example.lg.jp\r\nSubject: names\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
    );
    for n in names {
        let mut pct = String::new();
        for b in n.as_bytes() {
            if b.is_ascii_alphanumeric() || b".-_".contains(b) {
                pct.push(*b as char);
            } else {
                pct.push_str(&format!("%{b:02X}"));
            }
        }
        mail.push_str(&format!(
            "--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; filename*=UTF-8''{pct}\r\n\r\ncontent of {pct}\r\n"
        ));
    }
    mail.push_str("--B--\r\n");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("m.eml"), &mail).unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[mail]\nattachments = \"sanitize\"\n").unwrap();
    let out = dir.path().join("out");
    let (o, lines) = util::sanitize_json(&input, &out, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{lines:?}");
    let codes = util::codes(&lines[0]);
    for code in ["name.bidi", "name.unsafe", "name.double_ext"] {
        assert!(codes.contains(code), "{code} missing: {codes:?}");
    }
    let written = PathBuf::from(lines[0]["output"].as_str().unwrap());
    let script = r#"
import sys, email, email.policy
p = sys.stdin.read().strip()
for pol in (email.policy.default, email.policy.compat32):
    with open(p, "rb") as f:
        m = email.message_from_binary_file(f, policy=pol)
    for part in m.walk():
        if part.get_filename():
            print(part.get_filename())
"#;
    let Some(got) = python(script, &[written]) else {
        return;
    };
    let got: Vec<&str> = got.lines().collect();
    let written: Vec<&str> = cases.iter().map(|c| c.1).collect();
    let want: Vec<&str> = written.iter().chain(written.iter()).copied().collect();
    assert_eq!(got, want);
}
