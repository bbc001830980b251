//! Integration tests: the relay between real SMTP peers on loopback.
//!
//! `swaks` (Debian package `swaks`) sends to `mugai relay`, which delivers
//! to an `aiosmtpd` server (PyPI package `aiosmtpd`) standing in for the
//! LGWAN side and storing every message it receives with its envelope.

use crate::util;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const SINK: &str = r#"
import json, os, sys, time
from aiosmtpd.controller import Controller
OUT, PORT = sys.argv[1], int(sys.argv[2])
class Store:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "refuse" in address:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        p = os.path.join(OUT, "%d.json" % time.time_ns())
        with open(p + ".tmp", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "data": envelope.original_content.decode("latin-1")}, f)
        os.rename(p + ".tmp", p)
        return "250 2.0.0 stored"
c = Controller(Store(), hostname="127.0.0.1", port=PORT)
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"#;

/// Kills the child when the test ends, however it ends.
pub(crate) struct Guard(pub(crate) Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn tools_present() -> bool {
    let swaks = Command::new("swaks")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let aiosmtpd = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if swaks && aiosmtpd {
        return true;
    }
    assert!(
        std::env::var_os("MUGAI_SKIP_SMTP_E2E").is_some(),
        "the SMTP end-to-end test needs `swaks` (apt) and `aiosmtpd` (pip); \
         set MUGAI_SKIP_SMTP_E2E=1 to skip it"
    );
    crate::util::skip("swaks or aiosmtpd is missing");
    false
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn wait_for_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn start_sink(script: &Path, dir: &Path, port: u16) -> Guard {
    let mut child = Command::new("python3")
        .arg(script)
        .arg(dir)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aiosmtpd");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "aiosmtpd did not start");
    Guard(child)
}

/// Everything the sink stored: (mail_from, rcpt_tos, data).
pub(crate) fn received(dir: &Path) -> Vec<(String, Vec<String>, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            let rcpts = v["rcpt_tos"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect();
            (
                v["mail_from"].as_str().unwrap().to_string(),
                rcpts,
                v["data"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub(crate) fn swaks(port: u16, from: &str, to: &str, file: &Path) -> (bool, String) {
    swaks_with(port, from, to, file, &[])
}

fn swaks_with(port: u16, from: &str, to: &str, file: &Path, extra: &[&str]) -> (bool, String) {
    let o = Command::new("swaks")
        .args(extra)
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--from",
            from,
            "--to",
            to,
        ])
        .args(["--helo", "internet-mta.example", "--timeout", "60"])
        .arg("--data")
        .arg(format!("@{}", file.display()))
        .output()
        .expect("run swaks");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// The single text/plain part's text; fails unless the message is text-only.
pub(crate) fn text_only(data: &str) -> String {
    let raw: Vec<u8> = data.chars().map(|c| c as u32 as u8).collect();
    let m = MessageParser::default()
        .parse(&raw)
        .expect("delivered message parses");
    let mut text = String::new();
    let mut parts = 0;
    for p in &m.parts {
        match &p.body {
            PartType::Text(t) => {
                let ct = p.content_type().unwrap();
                assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
                parts += 1;
                text.push_str(t);
            }
            other => panic!("delivered message has a non-text part: {other:?}"),
        }
    }
    assert_eq!(parts, 1, "exactly one text/plain part");
    text
}

/// The relay's hash-chained audit records, oldest first.
fn audit_records(dir: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

fn nested(depth: usize) -> String {
    let mut m =
        "From: deep@example.com\r\nSubject: innermost\r\n\r\ninnermost secret text\r\n".to_string();
    for i in 0..depth {
        m = format!(
            "From: l{i}@example.com\r\nSubject: level {i}\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n{m}"
        );
    }
    format!("To: a@lg.example.jp\r\nMessage-ID: <deep@example.com>\r\n{m}")
}

#[test]
fn relay_delivers_text_only_with_the_same_envelope_and_defers_when_the_hop_is_down() {
    if !tools_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("sink.py");
    std::fs::write(&script, SINK).unwrap();
    let inbox = tmp.path().join("lgwan");
    std::fs::create_dir(&inbox).unwrap();
    let (relay_port, hop_port) = (free_port(), free_port());
    let originals = tmp.path().join("originals");
    let audit = tmp.path().join("audit");

    let mut sink = Some(start_sink(&script, &inbox, hop_port));
    let _relay = Guard(
        util::mugai()
            .args(["relay", "--listen", &format!("127.0.0.1:{relay_port}")])
            .args([
                "--next-hop",
                &format!("127.0.0.1:{hop_port}"),
                "--workers",
                "1",
            ])
            .arg("--originals")
            .arg(&originals)
            .arg("--audit")
            .arg(&audit)
            .stderr(Stdio::null())
            .spawn()
            .expect("start mugai relay"),
    );
    wait_for_port(relay_port);

    // 1. Two real messages: HTML with links and a tracking pixel, and one
    //    with a docx attachment; two recipients each.
    let corpus = util::corpus_dir();
    let from = "sender@internet.example";
    let to = "kakari@lg.example.jp,kacho@lg.example.jp";
    for case in [
        "mail/html_only_links_tracking.eml",
        "mail/multipart_docx.eml",
    ] {
        let (ok, out) = swaks(relay_port, from, to, &corpus.join(case));
        assert!(ok, "{case}: {out}");
        assert!(
            out.contains("<-  250 2.0.0 converted and delivered"),
            "{case}: {out}"
        );
    }
    let got = received(&inbox);
    assert_eq!(got.len(), 2);
    for (mail_from, rcpts, data) in &got {
        assert_eq!(mail_from, from, "envelope sender unchanged");
        assert_eq!(
            rcpts,
            &["kakari@lg.example.jp", "kacho@lg.example.jp"],
            "every recipient, in order"
        );
        assert!(data.contains("X-Mugai-Verdict: sanitized\r\n"));
        let text = text_only(data);
        assert!(
            !text.contains("https://") && !data.contains("track.example.net"),
            "{text}"
        );
    }
    let html = text_only(&got[0].2);
    assert!(
        html.contains("our portal <hxxps://login[.]example[.]com/verify?id=1>"),
        "{html}"
    );
    let docx = text_only(&got[1].2);
    assert!(docx.contains("estimate.docx [削除]"), "{docx}");
    assert_eq!(
        std::fs::read_dir(originals.join("new")).unwrap().count(),
        2,
        "both originals kept"
    );

    // 2. A message the engine blocks (nested past the depth limit): the
    //    recipients get a notice, nothing of its content.
    let deep = tmp.path().join("deep.eml");
    std::fs::write(&deep, nested(8)).unwrap();
    let (ok, out) = swaks(relay_port, from, "kakari@lg.example.jp", &deep);
    assert!(
        ok && out.contains("<-  250 2.0.0 blocked; notice delivered"),
        "{out}"
    );
    let got = received(&inbox);
    assert_eq!(got.len(), 3);
    let notice = &got[2].2;
    assert!(notice.contains("X-Mugai-Verdict: blocked\r\n"));
    let text = text_only(notice);
    assert!(
        text.contains("limit.depth") && !text.contains("innermost secret text"),
        "{text}"
    );

    // 3. Next hop down: 451, nothing kept twice, the audit says deferred.
    let retry = tmp.path().join("retry.eml");
    std::fs::write(
        &retry,
        "From: a@internet.example\r\nTo: kakari@lg.example.jp\r\nSubject: retry me\r\nMessage-ID: <retry-1@internet.example>\r\n\r\nPlease retry.\r\n",
    )
    .unwrap();
    drop(sink.take());
    let (ok, out) = swaks(relay_port, from, "kakari@lg.example.jp", &retry);
    assert!(!ok, "{out}");
    assert!(out.contains("<** 451 "), "{out}");
    assert_eq!(
        std::fs::read_dir(originals.join("new")).unwrap().count(),
        3,
        "a deferred original is not kept"
    );
    let last = audit_records(&audit).pop().unwrap();
    assert_eq!(last["result"], "deferred");
    assert_eq!(last["message_id"], "<retry-1@internet.example>");

    // 4. Hop back, the client retries: delivered exactly once.
    sink = Some(start_sink(&script, &inbox, hop_port));
    let (ok, out) = swaks(relay_port, from, "kakari@lg.example.jp", &retry);
    assert!(ok, "{out}");
    let got = received(&inbox);
    let copies = got
        .iter()
        .filter(|(_, _, d)| d.contains("<retry-1@internet.example>"))
        .count();
    assert_eq!(copies, 1, "delivered exactly once");
    assert!(text_only(&got.last().unwrap().2).contains("Please retry."));
    let records = audit_records(&audit);
    assert_eq!(records.len(), 5);
    let delivered: Vec<_> = records
        .iter()
        .filter(|r| r["result"] == "delivered")
        .collect();
    assert_eq!(delivered.len(), 3);
    for r in &delivered {
        assert_eq!(r["mail_from"], from);
        assert!(
            r["sha256"].as_str().unwrap().len() == 64
                && r["output_sha256"].as_str().unwrap().len() == 64
        );
        assert!(r["findings"].is_array());
    }

    // 5. One recipient refused by the next hop: over LMTP (as Postfix's
    //    lmtp transport in config/postfix/master.cf speaks) the accepted
    //    ones get the mail, the refused one its own 550.
    let (_, out) = swaks_with(
        relay_port,
        from,
        "kakari@lg.example.jp,refuse@lg.example.jp,kacho@lg.example.jp",
        &retry,
        &["--protocol", "LMTP"],
    );
    let after_data: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("<-  354"))
        .filter(|l| l.starts_with("<-") || l.starts_with("<**"))
        .skip(1)
        .take(3)
        .collect();
    assert_eq!(after_data.len(), 3, "{out}");
    assert!(after_data[0].contains(" 250 "), "{out}");
    assert!(
        after_data[1].contains(" 550 ") && after_data[1].contains("refuse@lg.example.jp"),
        "{out}"
    );
    assert!(after_data[2].contains(" 250 "), "{out}");
    let got = received(&inbox);
    assert_eq!(
        got.last().unwrap().1,
        ["kakari@lg.example.jp", "kacho@lg.example.jp"]
    );
    drop(sink);

    // 6. The relay's audit log is hash-chained: it verifies, and an edited
    //    recipient is found.
    let verify = |p: &Path| {
        let o = util::run(&["audit".as_ref(), "verify".as_ref(), p.as_os_str()]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, out) = verify(&audit);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("6 record(s)"), "{out}");
    let log = std::fs::read_dir(&audit)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(
        &log,
        text.replacen("kacho@lg.example.jp", "attacker@example.com", 1),
    )
    .unwrap();
    let (code, out) = verify(&audit);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAILED") && out.contains("edited"), "{out}");
}

#[test]
fn relay_speaks_smtp_and_enforces_its_size_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = tmp.path().join("mugai.toml");
    // The next hop is never reached in this test.
    std::fs::write(&cfg, format!("[relay]\nlisten = \"127.0.0.1:{port}\"\nnext_hop = \"127.0.0.1:9\"\nmax_message_bytes = 1000\n")).unwrap();
    let _relay = Guard(
        util::mugai()
            .args(["relay", "--in-process", "--config"])
            .arg(&cfg)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            all.push_str(&l);
            if l.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    };
    assert!(reply().starts_with("220 "));
    let mut cmd = |c: &str| {
        w.write_all(c.as_bytes()).unwrap();
        w.write_all(b"\r\n").unwrap();
    };
    cmd("MAIL FROM:<a@b>");
    assert!(reply().starts_with("503"), "EHLO first");
    cmd("EHLO client.example");
    let ehlo = reply();
    assert!(
        ehlo.contains("SIZE 1000") && ehlo.contains("8BITMIME"),
        "{ehlo}"
    );
    cmd("MAIL FROM:<a@b> SIZE=5000");
    assert!(reply().starts_with("552"));
    cmd("MAIL FROM:<a@b> BODY=8BITMIME");
    assert!(reply().starts_with("250"));
    cmd("DATA");
    assert!(reply().starts_with("503"), "no recipient yet");
    cmd("RCPT TO:<c@d>");
    assert!(reply().starts_with("250"));
    cmd("NOOP");
    assert!(reply().starts_with("250"));
    cmd("DATA");
    assert!(reply().starts_with("354"));
    cmd(&format!("Subject: big\r\n\r\n{}\r\n.", "x".repeat(2000)));
    assert!(reply().starts_with("552"), "over max_message_bytes");
    cmd("RSET");
    assert!(reply().starts_with("250"));
    cmd("FROB");
    assert!(reply().starts_with("502"));
    cmd("QUIT");
    assert!(reply().starts_with("221"));
}
