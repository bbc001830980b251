//! The relay pipeline against an in-test next hop: refusals by the next
//! hop, the reject policy for blocked mail, and the audit record.

use mugai_core::config::{OnBlockedMail, RelayConfig};
use mugai_core::Policy;
use mugai_engine::InProcess;
use mugai_relay::client::{deliver, DeliveryError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the next hop received: (sender, recipients, data) per message.
type Inbox = Arc<Mutex<Vec<(String, Vec<String>, Vec<u8>)>>>;

/// A next hop that answers `rcpt_reply` to recipients containing "refuse".
async fn next_hop(rcpt_reply: &'static str) -> (String, Inbox) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let inbox: Inbox = Arc::default();
    let ib = inbox.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else {
                continue;
            };
            let ib = ib.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 hop\r\n").await.unwrap();
                let (mut from, mut rcpts, mut data) = (String::new(), Vec::new(), Vec::new());
                let mut in_data = false;
                loop {
                    let mut line = Vec::new();
                    if r.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if in_data {
                        if line == b".\r\n" {
                            in_data = false;
                            ib.lock().unwrap().push((
                                from.clone(),
                                rcpts.clone(),
                                std::mem::take(&mut data),
                            ));
                            w.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            data.extend_from_slice(&line);
                        }
                        continue;
                    }
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    let reply = if let Some(a) = text.strip_prefix("MAIL FROM:") {
                        from = a.trim_matches(['<', '>']).to_string();
                        rcpts.clear();
                        "250 ok"
                    } else if let Some(a) = text.strip_prefix("RCPT TO:") {
                        if a.contains("refuse") {
                            rcpt_reply
                        } else {
                            rcpts.push(a.trim_matches(['<', '>']).to_string());
                            "250 ok"
                        }
                    } else if text == "DATA" {
                        in_data = true;
                        "354 go"
                    } else if text == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        "250 ok"
                    };
                    w.write_all(format!("{reply}\r\n").as_bytes())
                        .await
                        .unwrap();
                }
            });
        }
    });
    (addr, inbox)
}

async fn relay(hop: &str, on_blocked: OnBlockedMail, audit: &std::path::Path) -> String {
    relay_with(RelayConfig {
        listen: "127.0.0.1:0".into(),
        next_hop: hop.into(),
        audit: Some(audit.to_path_buf()),
        on_blocked,
        ..RelayConfig::default()
    })
    .await
}

async fn relay_with(config: RelayConfig) -> String {
    let r = mugai_relay::Relay::bind(config, Policy::default(), Arc::new(InProcess))
        .await
        .unwrap();
    let addr = r.local_addr().unwrap().to_string();
    tokio::spawn(r.run());
    addr
}

const MAIL: &[u8] = b"From: a@example.com\r\nTo: b@lg.example.jp\r\nSubject: hi\r\nMessage-ID: <p1@example.com>\r\n\r\n.leading dot line\r\nSee https://example.com/x\r\n";

fn nested(depth: usize) -> Vec<u8> {
    let mut m = "From: x@example.com\r\nSubject: in\r\n\r\nsecret\r\n".to_string();
    for _ in 0..depth {
        m = format!(
            "From: y@example.com\r\nSubject: wrap\r\nContent-Type: message/rfc822\r\n\r\n{m}"
        );
    }
    m.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_with_the_same_envelope_and_passes_refusals_back() {
    let dir = tempfile::tempdir().unwrap();
    let (hop, inbox) = next_hop("550 5.1.1 no such user").await;
    let relay = relay(&hop, OnBlockedMail::Reject, dir.path()).await;
    let wait = Duration::from_secs(30);
    let rcpts = vec![
        "one@lg.example.jp".to_string(),
        "two@lg.example.jp".to_string(),
    ];

    let ok = deliver(&relay, "t", "s@example.com", &rcpts, MAIL, wait)
        .await
        .unwrap();
    assert_eq!(ok.code, 250);
    {
        let got = inbox.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "s@example.com");
        assert_eq!(got[0].1, rcpts);
        let data = String::from_utf8_lossy(&got[0].2);
        assert!(data.contains("Message-ID: <p1@example.com>\r\n"), "{data}");
        assert!(data.contains("X-Mugai-Verdict: sanitized\r\n"));
    }

    // A recipient refused for good by the next hop: the accepted one gets
    // the message, the refusal is named in the reply (over SMTP; LMTP
    // answers per recipient, see below).
    let mixed = vec![
        "one@lg.example.jp".to_string(),
        "refuse@lg.example.jp".to_string(),
    ];
    let ok = deliver(&relay, "t", "s@example.com", &mixed, MAIL, wait)
        .await
        .unwrap();
    assert!(
        ok.code == 250 && ok.text.contains("refuse@lg.example.jp"),
        "{ok:?}"
    );
    assert_eq!(inbox.lock().unwrap().len(), 2);
    assert_eq!(inbox.lock().unwrap()[1].1, ["one@lg.example.jp"]);

    // Blocked with on_blocked = reject: 554, nothing delivered.
    let e = deliver(&relay, "t", "s@example.com", &rcpts, &nested(8), wait)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DeliveryError::Permanent(554, t) if t.contains("limit.depth")),
        "{e:?}"
    );
    assert_eq!(inbox.lock().unwrap().len(), 2);

    let files = mugai_audit::files_in(dir.path()).unwrap();
    let report = mugai_audit::verify(&files).unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert_eq!(report.records, 3);
    let log = std::fs::read_to_string(&files[0]).unwrap();
    let results: Vec<String> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["result"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(results, ["delivered", "delivered", "rejected"]);
    let second: serde_json::Value = serde_json::from_str(log.lines().nth(1).unwrap()).unwrap();
    assert_eq!(second["refused"][0]["rcpt"], "refuse@lg.example.jp");
    assert!(second["refused"][0]["reply"]
        .as_str()
        .unwrap()
        .starts_with("550"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_refusal_defers_the_whole_message() {
    let dir = tempfile::tempdir().unwrap();
    let (hop, inbox) = next_hop("450 4.2.1 mailbox busy").await;
    let relay = relay(&hop, OnBlockedMail::Notice, dir.path()).await;
    let rcpts = vec![
        "one@lg.example.jp".to_string(),
        "refuse@lg.example.jp".to_string(),
    ];
    let e = deliver(
        &relay,
        "t",
        "s@example.com",
        &rcpts,
        MAIL,
        Duration::from_secs(30),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, DeliveryError::Temporary(ref t) if t.contains("451")),
        "{e:?}"
    );
    assert!(inbox.lock().unwrap().is_empty());
}

/// A raw SMTP conversation: sends `script` in one write after EHLO, MAIL,
/// RCPT and DATA, and returns everything the relay answered until it
/// closed or went quiet.
async fn raw_session(relay: &str, body: &[u8]) -> String {
    let s = tokio::net::TcpStream::connect(relay).await.unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut out = String::new();
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    for cmd in [
        "EHLO t\r\n",
        "MAIL FROM:<s@example.com>\r\n",
        "RCPT TO:<one@lg.example.jp>\r\n",
        "DATA\r\n",
    ] {
        w.write_all(cmd.as_bytes()).await.unwrap();
        loop {
            line.clear();
            r.read_line(&mut line).await.unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
    }
    w.write_all(body).await.unwrap();
    loop {
        line.clear();
        match tokio::time::timeout(Duration::from_secs(3), r.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => out.push_str(&line),
            _ => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_cr_or_lf_never_ends_data_and_the_message_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (hop, inbox) = next_hop("550 5.1.1 no such user").await;
    let relay = relay(&hop, OnBlockedMail::Notice, dir.path()).await;
    for fake in ["\n.\r\n", "\r.\r\n", "\n.\n", "\r\n.\n", "\r\n.\r"] {
        let body = format!(
            "Subject: first\r\n\r\nhello{fake}MAIL FROM:<evil@attacker.example>\r\n\
             RCPT TO:<victim@lg.example.jp>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\nQUIT\r\n"
        );
        let replies = raw_session(&relay, body.as_bytes()).await;
        let codes: Vec<&str> = replies.lines().map(|l| &l[..3]).collect();
        assert_eq!(codes, ["550", "221"], "{fake:?}: {replies}");
        assert!(replies.contains("bare"), "{fake:?}: {replies}");
    }
    assert!(inbox.lock().unwrap().is_empty(), "nothing was delivered");
    // A proper message on the same relay still goes through.
    let replies = raw_session(&relay, b"Subject: ok\r\n\r\nfine\r\n.\r\nQUIT\r\n").await;
    assert!(replies.starts_with("250 "), "{replies}");
    assert_eq!(inbox.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_dropped() {
    let (hop, inbox) = next_hop("550 5.1.1 no such user").await;
    let relay = relay_with(RelayConfig {
        listen: "127.0.0.1:0".into(),
        next_hop: hop,
        client_timeout_secs: 2,
        min_data_rate: 100,
        ..RelayConfig::default()
    })
    .await;
    // One byte a second in DATA: dropped after about the client timeout.
    let s = tokio::net::TcpStream::connect(&relay).await.unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    for cmd in [
        "HELO t\r\n",
        "MAIL FROM:<s@x>\r\n",
        "RCPT TO:<a@y>\r\n",
        "DATA\r\n",
    ] {
        w.write_all(cmd.as_bytes()).await.unwrap();
        line.clear();
        r.read_line(&mut line).await.unwrap();
    }
    assert!(line.starts_with("354"), "{line}");
    let t = std::time::Instant::now();
    let trickle = tokio::spawn(async move {
        for b in b"Subject: slow\r\n\r\n".repeat(10) {
            if w.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    line.clear();
    tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
        .await
        .expect("dropped within 10 s")
        .unwrap();
    assert!(line.starts_with("421"), "{line}");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    trickle.abort();
    // An idle client (no command at all) is dropped the same way.
    let s = tokio::net::TcpStream::connect(&relay).await.unwrap();
    let mut r = BufReader::new(s);
    line.clear();
    r.read_line(&mut line).await.unwrap();
    line.clear();
    tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
        .await
        .expect("idle client dropped within 10 s")
        .unwrap();
    assert!(line.starts_with("421"), "{line}");
    assert!(inbox.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_lmtp_each_recipient_gets_its_own_result() {
    let dir = tempfile::tempdir().unwrap();
    let (hop, inbox) = next_hop("550 5.1.1 no such user").await;
    let relay = relay(&hop, OnBlockedMail::Notice, dir.path()).await;
    let s = tokio::net::TcpStream::connect(&relay).await.unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    let mut reply = async |r: &mut BufReader<_>| {
        let mut all = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).await.unwrap();
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    };
    assert!(reply(&mut r).await.starts_with("220"));
    for (cmd, want) in [
        ("LHLO t\r\n", "250"),
        ("MAIL FROM:<s@example.com>\r\n", "250"),
        ("RCPT TO:<one@lg.example.jp>\r\n", "250"),
        ("RCPT TO:<refuse@lg.example.jp>\r\n", "250"),
        ("RCPT TO:<two@lg.example.jp>\r\n", "250"),
        ("DATA\r\n", "354"),
    ] {
        w.write_all(cmd.as_bytes()).await.unwrap();
        let got = reply(&mut r).await;
        assert!(got.starts_with(want), "{cmd}: {got}");
    }
    w.write_all(MAIL).await.unwrap();
    w.write_all(b".\r\n").await.unwrap();
    let mut results = Vec::new();
    for _ in 0..3 {
        results.push(reply(&mut r).await);
    }
    assert!(results[0].starts_with("250 "), "{results:?}");
    assert!(
        results[1].starts_with("550 ") && results[1].contains("refuse@lg.example.jp"),
        "{results:?}"
    );
    assert!(results[2].starts_with("250 "), "{results:?}");
    let got = inbox.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, ["one@lg.example.jp", "two@lg.example.jp"]);
}
