//! Integration test: `mugai relay` behind a real Postfix (Debian package
//! `postfix`), configured with the shipped `config/postfix/` snippets.
//!
//! swaks → Postfix smtpd → (content_filter, LMTP) → `mugai relay` →
//! Postfix's re-injection smtpd → Postfix smtp (relayhost) → an aiosmtpd
//! sink standing in for the LGWAN-side server. Everything on loopback, in a
//! private Postfix instance (`postfix -c DIR`) with its own queue.

use crate::relay::{
    free_port, received, start_sink, swaks, text_only, tools_present, wait_for_port, Guard, SINK,
};
use crate::util;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const POSTFIX: &str = "/usr/sbin/postfix";
const POSTQUEUE: &str = "/usr/sbin/postqueue";
const WAIT: Duration = Duration::from_secs(30);

/// The services this test's Postfix needs, none chrooted (the private
/// queue lives in a temporary folder). The shipped master.cf lines follow.
const MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// A private Postfix instance under one folder (`etc`, `spool`, `data`,
/// `maillog`); stopped when the test ends, however it ends.
struct Postfix {
    root: PathBuf,
}

impl Postfix {
    /// Writes `root/etc/main.cf` and `master.cf` (the shipped snippets with
    /// the relay's and the re-injection listener's ports substituted) and
    /// starts Postfix. The queue is outside the configuration folder, as
    /// `postfix check` expects (root owns one, Postfix the other).
    fn start(root: &Path, smtpd: u16, relay: u16, reinject: u16, sink: u16) -> Postfix {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/postfix");
        let read = |name: &str| std::fs::read_to_string(shipped.join(name)).unwrap();
        let main_snippet = read("main.cf");
        let master_snippet = read("master.cf");
        assert!(main_snippet.contains("content_filter = mugai:[127.0.0.1]:10025\n"));
        assert!(master_snippet.contains("\n127.0.0.1:10026 inet "));
        let d = root.display();
        let main_cf = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {d}/spool\n\
             data_directory = {d}/data\n\
             maillog_file = {d}/maillog\n\
             maillog_file_prefixes = {d}\n\
             myhostname = gateway.mugai.test\n\
             mydestination =\n\
             alias_maps =\n\
             alias_database =\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             smtpd_peername_lookup = no\n\
             relayhost = [127.0.0.1]:{sink}\n\
             {}",
            main_snippet.replace(":10025", &format!(":{relay}"))
        );
        let master_cf = format!(
            "127.0.0.1:{smtpd} inet n - n - - smtpd\n{MASTER_CF}{}",
            master_snippet.replace("127.0.0.1:10026 ", &format!("127.0.0.1:{reinject} "))
        );
        // Postfix's unprivileged daemons reach the queue through these.
        let etc = root.join("etc");
        for dir in [root, &etc, &root.join("spool")] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::set_permissions(dir, PermissionsExt::from_mode(0o755)).unwrap();
        }
        std::fs::write(etc.join("main.cf"), main_cf).unwrap();
        std::fs::write(etc.join("master.cf"), master_cf).unwrap();
        let pf = Postfix {
            root: root.to_path_buf(),
        };
        for verb in ["check", "start"] {
            let o = pf.postfix(verb);
            assert!(
                o.status.success(),
                "postfix {verb}: {}{}",
                String::from_utf8_lossy(&o.stderr),
                pf.log()
            );
        }
        wait_for_port(smtpd);
        wait_for_port(reinject);
        pf
    }

    fn postfix(&self, verb: &str) -> std::process::Output {
        Command::new(POSTFIX)
            .arg("-c")
            .arg(self.root.join("etc"))
            .arg(verb)
            .output()
            .expect("run postfix")
    }

    /// `postqueue -c DIR FLAG`'s output.
    fn postqueue(&self, flag: &str) -> String {
        let o = Command::new(POSTQUEUE)
            .arg("-c")
            .arg(self.root.join("etc"))
            .arg(flag)
            .output()
            .expect("run postqueue");
        assert!(o.status.success(), "postqueue {flag}: {o:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("maillog")).unwrap_or_default()
    }

    /// Polls `f` until it gives a value, at most `WAIT`; on timeout the
    /// failure shows Postfix's log.
    fn until<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(
                start.elapsed() < WAIT,
                "timed out waiting for {what}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if !self.postfix("stop").status.success() {
            let _ = self.postfix("abort");
        }
    }
}

fn start_relay(port: u16, reinject: u16, audit: &Path) -> Guard {
    let relay = Guard(
        util::mugai()
            .args(["relay", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--next-hop", &format!("127.0.0.1:{reinject}")])
            .args(["--workers", "1", "--audit"])
            .arg(audit)
            .stderr(Stdio::null())
            .spawn()
            .expect("start mugai relay"),
    );
    wait_for_port(port);
    relay
}

/// The sink's copies of the message with `message_id`: (sender, sorted
/// recipients, data). Bounces (sender `<>`) quote the Message-ID too.
fn copies(inbox: &Path, message_id: &str) -> Vec<(String, Vec<String>, String)> {
    received(inbox)
        .into_iter()
        .filter(|(f, _, d)| f != "<>" && d.contains(&format!("Message-ID: {message_id}\r\n")))
        .map(|(f, mut r, d)| {
            r.sort();
            (f, r, d)
        })
        .collect()
}

fn plain_mail(message_id: &str, to: &str, body: &str) -> String {
    format!(
        "From: Sender <sender@internet.example>\r\nTo: {to}\r\nSubject: {body}\r\n\
         Message-ID: {message_id}\r\n\r\n{body}\r\n"
    )
}

const HTML_WITH_ATTACHMENT: &str = "From: Sender <sender@internet.example>\r\n\
To: kakari@lg.example.jp, kacho@lg.example.jp\r\n\
Subject: invoice\r\n\
Message-ID: <pf-html@internet.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><body><p>Please see <a href=\"https://evil.example/pay\">the invoice</a>.</p></body></html>\r\n\
--b1\r\n\
Content-Type: application/octet-stream; name=\"setup.exe\"\r\n\
Content-Disposition: attachment; filename=\"setup.exe\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAA==\r\n\
--b1--\r\n";

#[test]
fn postfix_with_the_shipped_snippets_filters_through_the_relay_and_survives_an_outage() {
    if !Path::new(POSTFIX).exists() {
        util::skip("Debian's postfix (/usr/sbin/postfix) is missing");
        return;
    }
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() != 0) {
        util::skip("a private Postfix instance must be started as root");
        return;
    }
    if !tools_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Postfix's unprivileged daemons pass through it to their queue.
    std::fs::set_permissions(tmp.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let script = tmp.path().join("sink.py");
    std::fs::write(&script, SINK).unwrap();
    let inbox = tmp.path().join("lgwan");
    std::fs::create_dir(&inbox).unwrap();
    let audit = tmp.path().join("audit");
    let (smtpd, relay_port, reinject, sink_port) =
        (free_port(), free_port(), free_port(), free_port());

    let _sink = start_sink(&script, &inbox, sink_port);
    let mut relay = Some(start_relay(relay_port, reinject, &audit));
    let pf = Postfix::start(
        &tmp.path().join("postfix"),
        smtpd,
        relay_port,
        reinject,
        sink_port,
    );
    let from = "sender@internet.example";
    let send = |to: &str, name: &str, mail: &str| {
        let file = tmp.path().join(name);
        std::fs::write(&file, mail).unwrap();
        let (ok, out) = swaks(smtpd, from, to, &file);
        assert!(ok && out.contains("<-  250 2.0.0 Ok: queued as "), "{out}");
    };

    // 1. HTML with an attachment, two recipients: one text/plain message
    //    per envelope, the same envelope, the notice listing the attachment.
    let both = ["kacho@lg.example.jp", "kakari@lg.example.jp"];
    send(
        "kakari@lg.example.jp,kacho@lg.example.jp",
        "html.eml",
        HTML_WITH_ATTACHMENT,
    );
    let got = pf.until("the converted HTML mail at the sink", || {
        Some(copies(&inbox, "<pf-html@internet.example>")).filter(|c| !c.is_empty())
    });
    assert_eq!(got.len(), 1, "one copy per envelope");
    let (mail_from, rcpts, data) = &got[0];
    assert_eq!(mail_from, from, "envelope sender unchanged");
    assert_eq!(rcpts, &both, "envelope recipients unchanged");
    assert!(data.contains("X-Mugai-Verdict: sanitized\r\n"), "{data}");
    let text = text_only(data);
    assert!(text.starts_with("【無害化通知】"), "{text}");
    assert!(text.contains("setup.exe [削除]"), "{text}");
    assert!(
        text.contains("the invoice <hxxps://evil[.]example/pay>") && !text.contains("https://"),
        "{text}"
    );

    // 2. The LGWAN side refuses one recipient (550): the other gets the
    //    mail; Postfix bounces the refused one to the sender (a 5xx is
    //    permanent), nothing stays queued.
    send(
        "kakari@lg.example.jp,refuse@lg.example.jp",
        "refused.eml",
        &plain_mail(
            "<pf-refused@internet.example>",
            "kakari@lg.example.jp",
            "one refused",
        ),
    );
    let got = pf.until("the accepted recipient's copy", || {
        Some(copies(&inbox, "<pf-refused@internet.example>")).filter(|c| !c.is_empty())
    });
    assert_eq!(got.len(), 1, "{got:?}\n{}", pf.log());
    assert_eq!(got[0].1, ["kakari@lg.example.jp"], "only the accepted one");
    assert!(text_only(&got[0].2).contains("one refused"));
    let dsn = pf.until("the bounce to the sender", || {
        received(&inbox)
            .into_iter()
            .find(|(f, r, d)| f == "<>" && r == &[from] && d.contains("refuse@lg.example.jp"))
    });
    assert!(dsn.2.contains("550 5.1.1 no such user here"), "{}", dsn.2);
    pf.until("the bounce in the log", || {
        pf.log()
            .lines()
            .any(|l| {
                l.contains("to=<refuse@lg.example.jp>") && l.contains("dsn=5.1.1, status=bounced")
            })
            .then_some(())
    });

    // 3. Relay down: Postfix keeps the mail deferred in its queue; after
    //    the relay returns and the queue is flushed, it arrives exactly once.
    drop(relay.take());
    send(
        "kakari@lg.example.jp",
        "outage.eml",
        &plain_mail(
            "<pf-outage@internet.example>",
            "kakari@lg.example.jp",
            "after the outage",
        ),
    );
    // Deferred (a reason in parentheses), not bounced, by the mugai
    // transport: the relay's address is unreachable.
    pf.until("the deferred mail in Postfix's queue", || {
        let q = pf.postqueue("-p");
        (q.contains("kakari@lg.example.jp") && q.lines().any(|l| l.trim_start().starts_with('(')))
            .then_some(())
    });
    // (The log arrives through postlogd, possibly after the queue file.)
    let refused = format!("status=deferred (connect to 127.0.0.1[127.0.0.1]:{relay_port}: ");
    pf.until("the deferral by the mugai transport in the log", || {
        pf.log()
            .lines()
            .any(|l| {
                l.contains("postfix/mugai/lmtp[")
                    && l.contains("to=<kakari@lg.example.jp>")
                    && l.contains(&refused)
            })
            .then_some(())
    });
    assert!(copies(&inbox, "<pf-outage@internet.example>").is_empty());
    relay = Some(start_relay(relay_port, reinject, &audit));
    pf.postqueue("-f");
    pf.until("the deferred mail at the sink", || {
        Some(copies(&inbox, "<pf-outage@internet.example>")).filter(|c| !c.is_empty())
    });
    std::thread::sleep(Duration::from_secs(3));
    let got = copies(&inbox, "<pf-outage@internet.example>");
    assert_eq!(got.len(), 1, "delivered exactly once");
    assert_eq!(got[0].1, ["kakari@lg.example.jp"]);
    assert!(text_only(&got[0].2).contains("after the outage"));
    pf.until("an empty Postfix queue", || {
        pf.postqueue("-p")
            .contains("Mail queue is empty")
            .then_some(())
    });
    assert_eq!(copies(&inbox, "<pf-html@internet.example>").len(), 1);
    drop(relay);
    // Postfix found nothing to warn about in the configuration either
    // (an unused parameter, a service the snippets name but do not define).
    let log = pf.log();
    assert!(
        !log.contains("warning:") && !log.contains("fatal:") && !log.contains("panic:"),
        "{log}"
    );

    // 4. The relay's audit log: one record per converted message, chained.
    let o = util::run(&["audit".as_ref(), "verify".as_ref(), audit.as_os_str()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("3 record(s)"), "{out}");
}
