//! Integration tests: unlocking password-protected Office documents and
//! PDFs (and one inside a password-protected ZIP) on the console, over a
//! quarantine written by the real daemon. The encrypted files come from
//! independent tools: msoffcrypto-tool (agile OOXML encryption) and qpdf
//! (PDF standard security handler); the standard-encryption document is
//! written by the project's test encryptor and checked by msoffcrypto-tool.

use crate::console::{
    add_user, csrf_of, files_under, free_port, get, log_in, post, reasons, start_console,
    start_daemon, wait_for,
};
use crate::util;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const DOC_PW: &str = "docx-パス1";
const PDF_PW: &str = "pdf-user-pw";
const ZIP_PW: &str = "zip-outer-pw";
const STD_PW: &str = "standard-pw";
const TEXT: &str = "解除された秘密の文書";

fn tools_missing() -> Option<String> {
    if !Path::new("/usr/bin/qpdf").exists() || !Path::new("/usr/bin/pdftotext").exists() {
        return Some("qpdf or pdftotext is missing (Debian qpdf, poppler-utils)".into());
    }
    let ok = Command::new("msoffcrypto-tool")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!ok).then(|| "msoffcrypto-tool is missing (pip install msoffcrypto-tool)".into())
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The document's text: over 4 KiB even compressed, so that the
/// encrypted package is a regular stream (msoffcrypto-tool writes packages
/// under 4096 bytes into a broken mini stream).
fn body_text() -> String {
    let mut x: u32 = 12345;
    let mut s = String::from(TEXT);
    for _ in 0..12_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        s.push(char::from(
            b"abcdefghijklmnopqrstuvwxyz "[(x >> 16) as usize % 27],
        ));
    }
    s
}

/// The text of a docx's `word/document.xml` runs.
fn docx_text(docx: &[u8]) -> String {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(docx)).unwrap();
    let mut xml = String::new();
    z.by_name("word/document.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml.split("<w:t")
        .skip(1)
        .filter_map(|s| s.split_once('>').map(|(_, r)| r))
        .filter_map(|r| r.split_once("</w:t>").map(|(t, _)| t))
        .collect()
}

fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The held items: file name -> (date, id).
fn held(q: &Path) -> Vec<(String, String, String)> {
    let mut v = Vec::new();
    for day in std::fs::read_dir(q).unwrap().flatten() {
        for item in std::fs::read_dir(day.path()).unwrap().flatten() {
            let r: serde_json::Value =
                serde_json::from_slice(&std::fs::read(item.path().join("reason.json")).unwrap())
                    .unwrap();
            let text = r.to_string();
            let name = [
                "ppap-agile.docx",
                "ppap-standard.docx",
                "ppap.pdf",
                "ppap-nested.zip",
            ]
            .into_iter()
            .find(|n| text.contains(n))
            .unwrap_or("?")
            .to_string();
            v.push((
                name,
                day.file_name().to_string_lossy().into_owned(),
                item.file_name().to_string_lossy().into_owned(),
            ));
        }
    }
    v
}

fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn console_unlocks_encrypted_office_pdf_and_nested_with_passwords_never_kept() {
    if let Some(why) = tools_missing() {
        util::skip(&why);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dir = |d: &str| root.join(d);
    for d in util::DAEMON_DIRS.iter().chain(&["fixtures"]) {
        std::fs::create_dir_all(dir(d)).unwrap();
    }
    let fx = |n: &str| dir("fixtures").join(n);

    // The plain documents.
    let plain_docx = mugai_corpus::office::minimal_docx(&body_text());
    std::fs::write(fx("plain.docx"), &plain_docx).unwrap();
    std::fs::write(fx("plain.pdf"), mugai_corpus::pdf::doc("", "", &[])).unwrap();
    // Agile encryption, by msoffcrypto-tool.
    run(Command::new("msoffcrypto-tool")
        .args(["-e", "-p", DOC_PW])
        .arg(fx("plain.docx"))
        .arg(fx("agile.docx")));
    // Standard encryption, by the test encryptor; msoffcrypto-tool
    // decrypts it to the plain package (the encryptor follows the
    // specification, not only this project's reading of it).
    let (info, pkg) = mugai_office::crypto::testenc::standard(&plain_docx, STD_PW, [0x42; 16]);
    std::fs::write(
        fx("standard.docx"),
        mugai_office::crypto::testenc::container(&info, &pkg),
    )
    .unwrap();
    run(Command::new("msoffcrypto-tool")
        .args(["-p", STD_PW])
        .arg(fx("standard.docx"))
        .arg(fx("standard-check.docx")));
    assert_eq!(
        std::fs::read(fx("standard-check.docx")).unwrap(),
        plain_docx
    );
    // A PDF with a user password, AES-256 (R6), by qpdf.
    run(Command::new("qpdf")
        .args(["--encrypt", PDF_PW, "owner-secret", "256", "--"])
        .arg(fx("plain.pdf"))
        .arg(fx("enc.pdf")));
    // The agile docx inside an AES-encrypted ZIP.
    let nested = {
        use zip::write::SimpleFileOptions;
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file(
            "報告書.docx",
            SimpleFileOptions::default().with_aes_encryption(zip::AesMode::Aes256, ZIP_PW),
        )
        .unwrap();
        z.write_all(&std::fs::read(fx("agile.docx")).unwrap())
            .unwrap();
        z.finish().unwrap().into_inner()
    };

    let users = dir("users.toml");
    let port = free_port();
    let config = dir("mugai.toml");
    std::fs::write(
        &config,
        format!(
            r#"[types]
allow = ["text", "pdf", "zip", "docx"]
[daemon]
settle_ms = 300
rescan_secs = 1
workers = 1
[console]
listen = "127.0.0.1:{port}"
users = "{users}"
state = "{state}"
audit = "{caudit}"
secure_cookies = false
max_unlock_failures = 5
"#,
            users = users.display(),
            state = dir("console-state").display(),
            caudit = dir("console-audit").display(),
        ),
    )
    .unwrap();

    let daemon = start_daemon(&config, root);
    std::fs::copy(fx("agile.docx"), dir("inbox/ppap-agile.docx")).unwrap();
    std::fs::copy(fx("standard.docx"), dir("inbox/ppap-standard.docx")).unwrap();
    std::fs::copy(fx("enc.pdf"), dir("inbox/ppap.pdf")).unwrap();
    std::fs::write(dir("inbox/ppap-nested.zip"), &nested).unwrap();
    wait_for("four held items", Duration::from_secs(120), || {
        reasons(&dir("quarantine")) == 4
    });
    drop(daemon);

    add_user(&users, "alice", "operator");

    let console = start_console(
        &config,
        &dir("quarantine"),
        &dir("clean"),
        &dir("console.log"),
        port,
    );
    let session = log_in(port, "alice");

    let items = held(&dir("quarantine"));
    assert_eq!(items.len(), 4, "{items:?}");
    let log = || {
        std::fs::read_to_string(dir("console.log")).unwrap_or_default()
            + &std::fs::read_to_string(dir("daemon.log")).unwrap_or_default()
    };
    let unlock = |name: &str, passwords: &[&str]| -> String {
        let (_, date, id) = items.iter().find(|(n, _, _)| n == name).unwrap();
        let path = format!("/items/{date}/{id}/unlock");
        let page = get(port, &path, &session);
        assert!(page.starts_with("HTTP/1.1 200"), "{name}: {page}");
        let body = format!(
            "csrf={}&passwords={}",
            csrf_of(&page),
            form_escape(&passwords.join("\n"))
        );
        post(port, &path, &session, &body)
    };
    // The item pages offer the unlock form for each.
    for (name, date, id) in &items {
        let page = get(port, &format!("/items/{date}/{id}"), &session);
        assert!(page.contains("/unlock\""), "{name}: no unlock link");
    }

    // Wrong passwords: refused, nothing delivered.
    for name in ["ppap-agile.docx", "ppap-standard.docx", "ppap.pdf"] {
        let r = unlock(name, &["wrong-one", "wrong-two"]);
        assert!(r.starts_with("HTTP/1.1 403"), "{name}: {r}\n{}", log());
    }
    // The ZIP's password alone opens the ZIP but not the document in it.
    let r = unlock("ppap-nested.zip", &[ZIP_PW]);
    assert!(r.starts_with("HTTP/1.1 403"), "nested, one password: {r}");
    // (The clean folder holds only the daemon's notices so far.)
    assert!(
        files_under(&dir("clean")).iter().all(|p| !p
            .extension()
            .is_some_and(|e| e == "docx" || e == "pdf" || e == "zip")),
        "nothing delivered"
    );

    // The right passwords (after a wrong one): delivered, rebuilt.
    for (name, pws) in [
        ("ppap-agile.docx", vec!["wrong-one", DOC_PW]),
        ("ppap-standard.docx", vec![STD_PW]),
        ("ppap.pdf", vec!["wrong-one", PDF_PW]),
        ("ppap-nested.zip", vec![DOC_PW, ZIP_PW]),
    ] {
        let r = unlock(name, &pws);
        let audit = || {
            mugai_audit::files_in(&dir("console-audit"))
                .unwrap()
                .iter()
                .map(|f| std::fs::read_to_string(f).unwrap())
                .collect::<String>()
        };
        assert!(
            r.starts_with("HTTP/1.1 200"),
            "{name}: {}\n{}",
            audit(),
            log()
        );
    }
    drop(console);
    let out = files_under(&dir("clean"));
    let by_ext = |ext: &str| -> Vec<PathBuf> {
        out.iter()
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .cloned()
            .collect()
    };
    let docxs = by_ext("docx");
    assert_eq!(docxs.len(), 2, "{out:?}");
    for d in &docxs {
        let bytes = std::fs::read(d).unwrap();
        assert!(bytes.starts_with(b"PK"), "{}: unencrypted", d.display());
        assert_eq!(docx_text(&bytes), body_text(), "{}", d.display());
    }
    let pdfs = by_ext("pdf");
    assert_eq!(pdfs.len(), 1, "{out:?}");
    let bytes = std::fs::read(&pdfs[0]).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("/Encrypt"));
    assert_eq!(pdf_text(&pdfs[0]), pdf_text(&fx("plain.pdf")));
    assert_eq!(pdf_text(&pdfs[0]), mugai_corpus::pdf::PAGE_TEXT);
    let zips = by_ext("zip");
    assert_eq!(zips.len(), 1, "{out:?}");
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zips[0]).unwrap()).unwrap();
    let mut inner = Vec::new();
    z.by_name("報告書.docx")
        .unwrap()
        .read_to_end(&mut inner)
        .unwrap();
    assert_eq!(docx_text(&inner), body_text());

    // Audited, and no password anywhere in the audit logs or the logs.
    let caudit = dir("console-audit");
    let v = util::mugai()
        .arg("audit")
        .arg("verify")
        .arg(&caudit)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let mut text = String::new();
    for d in [caudit, dir("audit")] {
        for f in mugai_audit::files_in(&d).unwrap() {
            text.push_str(&std::fs::read_to_string(f).unwrap());
        }
    }
    assert_eq!(
        text.matches("\"verdict\":\"unlock-failed\"").count(),
        4,
        "{text}"
    );
    assert_eq!(
        text.matches("\"verdict\":\"unlocked\"").count(),
        4,
        "{text}"
    );
    for pw in [DOC_PW, PDF_PW, ZIP_PW, STD_PW, "wrong-one", "wrong-two"] {
        assert!(!text.contains(pw), "{pw} in the audit log");
        assert!(!log().contains(pw), "{pw} in a log");
    }
}
