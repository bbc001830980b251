//! Integration tests: mail through `mugai sanitize`.

use crate::util;
use mail_parser::{MessageParser, PartType};

#[test]
fn sanitize_writes_a_text_only_eml_with_the_report() {
    let corpus = util::corpus_dir();
    let out = tempfile::tempdir().unwrap();
    let input = corpus.join("mail/html_only_links_tracking.eml");
    let (o, lines) = util::sanitize_json(&input, out.path(), &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(lines.len(), 1);
    let r = &lines[0];
    assert_eq!(r["verdict"], "sanitized");
    assert_eq!(r["type"], "eml");
    let codes = util::codes(r);
    assert!(
        codes.contains("mail.html") && codes.contains("mail.link"),
        "{codes:?}"
    );
    let written = std::path::PathBuf::from(r["output"].as_str().unwrap());
    assert_eq!(written.extension().unwrap(), "eml");
    let bytes = std::fs::read(&written).unwrap();
    assert_eq!(
        mugai_core::sha256_hex(&bytes),
        r["output_sha256"].as_str().unwrap()
    );
    let m = MessageParser::default().parse(&bytes).unwrap();
    assert_eq!(m.parts.len(), 1, "one part");
    let PartType::Text(t) = &m.parts[0].body else {
        panic!("not text: {:?}", m.parts[0].body);
    };
    assert!(
        t.contains("our portal <hxxps://login[.]example[.]com/verify?id=1>"),
        "{t}"
    );
    assert!(!t.contains("hidden phishing text"));
    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.contains(&format!(
        "X-Mugai-Original-SHA256: {}\r\n",
        r["sha256"].as_str().unwrap()
    )));
}

#[test]
fn deeply_nested_mail_is_blocked_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = "From: x@example.com\r\nSubject: in\r\n\r\ntext\r\n".to_string();
    for _ in 0..8 {
        m = format!(
            "From: y@example.com\r\nSubject: wrap\r\nContent-Type: message/rfc822\r\n\r\n{m}"
        );
    }
    let input = dir.path().join("deep.eml");
    std::fs::write(&input, m).unwrap();
    let out = dir.path().join("out");
    let (o, lines) = util::sanitize_json(&input, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(lines[0]["verdict"], "blocked");
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("limit.depth:"),
        "{}",
        lines[0]
    );
    assert!(lines[0]["output"].is_null());
}
