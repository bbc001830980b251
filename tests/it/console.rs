//! Integration tests: the web console, in a real browser (headless
//! Chromium over WebDriver, driven by tests/it/console_browser.py), over a
//! quarantine written by the real daemon.

use crate::util;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const PASSWORD: &str = "correct horse battery";

pub(crate) struct Kill(pub(crate) Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn wait_for(what: &str, timeout: Duration, cond: impl Fn() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn reasons(q: &Path) -> usize {
    let mut n = 0;
    for day in std::fs::read_dir(q).into_iter().flatten().flatten() {
        for item in std::fs::read_dir(day.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            // Done: the reason and the original (moved in last) are there.
            let files = std::fs::read_dir(item.path()).map_or(0, |d| d.count());
            if item.path().join("reason.json").exists() && files == 2 {
                n += 1;
            }
        }
    }
    n
}

pub(crate) fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// One HTTP/1.1 exchange; returns the whole response as text.
pub(crate) fn http(port: u16, req: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn get(port: u16, path: &str, cookie: &str) -> String {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
    )
}

pub(crate) fn post(port: u16, path: &str, cookie: &str, body: &str) -> String {
    http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

pub(crate) fn header<'a>(resp: &'a str, name: &str) -> Vec<&'a str> {
    let head = resp.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

/// The session cookie and CSRF token of a fresh login page.
pub(crate) fn login_form(port: u16) -> (String, String) {
    let r = get(port, "/login", "");
    let cookie = header(&r, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with("mugai_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = r
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (cookie, csrf)
}

fn tool_missing() -> Option<String> {
    for bin in [
        "/usr/bin/chromium",
        "/usr/bin/chromedriver",
        "/usr/bin/zip",
        "/usr/bin/unzip",
    ] {
        if !Path::new(bin).exists() {
            return Some(format!(
                "{bin} is missing (Debian chromium, chromium-driver, zip, unzip)"
            ));
        }
    }
    let ok = Command::new("python3")
        .args(["-c", "import selenium"])
        .status()
        .is_ok_and(|s| s.success());
    (!ok).then(|| "python3 selenium is missing (pip install selenium)".to_string())
}

#[test]
fn console_in_a_browser_review_release_with_two_people_audit() {
    if let Some(why) = tool_missing() {
        util::skip(&why);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dir = |d: &str| root.join(d);
    for d in util::DAEMON_DIRS {
        std::fs::create_dir_all(dir(d)).unwrap();
    }
    let users = dir("users.toml");
    let port = free_port();
    let config = dir("mugai.toml");
    std::fs::write(
        &config,
        format!(
            r#"[types]
allow = ["text", "pdf", "zip", "png"]
[relay]
held = "{held}"
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
max_login_failures = 5
"#,
            users = users.display(),
            state = dir("console-state").display(),
            caudit = dir("console-audit").display(),
            held = dir("held").display(),
        ),
    )
    .unwrap();

    // The quarantine, written by the real daemon: a PPAP zip, a CSV of a
    // type this configuration does not allow, and a file whose path is
    // markup.
    let plain = dir("doc.txt");
    std::fs::write(&plain, "秘密の資料\n").unwrap();
    let st = Command::new("zip")
        .current_dir(root)
        .args(["-q", "-P", "himitsu", "ppap.zip", "doc.txt"])
        .status()
        .unwrap();
    assert!(st.success());
    let daemon = start_daemon(&config, root);
    std::fs::create_dir_all(dir("inbox/<script>alert(1)<")).unwrap();
    std::fs::write(
        dir("inbox/<script>alert(1)</script>.pdf"),
        "not a PDF at all\n",
    )
    .unwrap();
    std::fs::write(dir("inbox/申請書.csv"), "氏名,金額\n山田,=1+2\n").unwrap();
    std::fs::copy(root.join("ppap.zip"), dir("inbox/ppap.zip")).unwrap();
    wait_for("three held items", Duration::from_secs(120), || {
        reasons(&dir("quarantine")) == 3
    });
    drop(daemon);
    // A PPAP attachment the relay kept, with its one-time link.
    let held = mugai_relay::held::Hold {
        dir: dir("held"),
        public_url: format!("http://127.0.0.1:{port}"),
        link_days: 7,
        max_tries: 5,
    }
    .keep(
        &mugai_relay::held::MailInfo {
            from: "sender@internet.example".into(),
            to: vec!["kakari@lg.example.jp".into()],
            message_id: None,
            original: None,
        },
        vec![(
            "mail-ppap.zip".into(),
            std::fs::read(root.join("ppap.zip")).unwrap(),
        )],
        std::time::SystemTime::now(),
    )
    .unwrap();
    let link_path = held[0]
        .url
        .trim_start_matches(&format!("http://127.0.0.1:{port}"))
        .to_string();

    // Accounts: two operators' worth of people in three roles.
    for (name, role) in [
        ("alice", "operator"),
        ("bob", "approver"),
        ("carol", "auditor"),
    ] {
        let mut c = util::mugai()
            .args([
                "user",
                "add",
                name,
                "--role",
                role,
                "--password-stdin",
                "--users",
            ])
            .arg(&users)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .unwrap();
        assert!(c.wait().unwrap().success());
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&users).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "accounts file mode");
        let text = std::fs::read_to_string(&users).unwrap();
        assert!(text.contains("$argon2id$") && !text.contains(PASSWORD));
    }

    let console = Kill(
        util::mugai()
            .arg("console")
            .arg("--config")
            .arg(&config)
            .arg("--quarantine")
            .arg(dir("quarantine"))
            .arg("--clean")
            .arg(dir("clean"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir("console.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for("the console", Duration::from_secs(60), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    // Headers and cookie attributes.
    let r = get(port, "/login", "");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let csp = header(&r, "content-security-policy").join(" ");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'none'"),
        "{csp}"
    );
    assert_eq!(header(&r, "x-frame-options"), ["DENY"]);
    assert_eq!(header(&r, "x-content-type-options"), ["nosniff"]);
    assert_eq!(header(&r, "referrer-policy"), ["no-referrer"]);
    let cookie = header(&r, "set-cookie").join(" ");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!r.contains("<script"), "no script in pages");

    // The browser.
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/it/console_browser.py");
    let out = Command::new("python3")
        .arg(&script)
        .env("CONSOLE_URL", format!("http://127.0.0.1:{port}"))
        .env("SCREENSHOTS", &shots)
        .env("ACCOUNT_PASSWORD", PASSWORD)
        .env("LINK_PATH", &link_path)
        .output()
        .unwrap();
    let log = || std::fs::read_to_string(dir("console.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "browser checks failed:\n{}\n{}\nconsole log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        log()
    );
    for s in [
        "link.png",
        "link-wrong.png",
        "link-done.png",
        "list.png",
        "detail.png",
        "detail-ppap.png",
        "unlock.png",
        "audit.png",
    ] {
        let png = std::fs::read(shots.join(s)).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{s}");
    }

    // The release: the CSV sanitised again (its formula neutralised), the
    // original never placed as is.
    let original = "氏名,金額\n山田,=1+2\n".as_bytes().to_vec();
    let placed: Vec<PathBuf> = files_under(&dir("clean"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    assert_eq!(placed.len(), 1, "{placed:?}");
    let bytes = std::fs::read(&placed[0]).unwrap();
    assert_ne!(bytes, original, "the original is never delivered as is");
    assert!(
        !String::from_utf8_lossy(&bytes).contains(",=1+2"),
        "formula neutralised"
    );

    // The PPAP zip, unlocked in the worker and rebuilt: its member is in
    // a new, unencrypted ZIP in the clean folder.
    let zips: Vec<PathBuf> = files_under(&dir("clean"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    assert_eq!(zips.len(), 2, "{zips:?}");
    // The recipient's unlock (mail.attachments = "list": to the clean
    // folder) and the operator's.
    for z in &zips {
        let unzip = Command::new("unzip")
            .arg("-p")
            .arg(z)
            .arg("doc.txt")
            .output()
            .unwrap();
        assert!(unzip.status.success(), "{z:?} needs no password");
        assert_eq!(String::from_utf8_lossy(&unzip.stdout).trim(), "秘密の資料");
    }
    let zips: Vec<PathBuf> = zips
        .into_iter()
        .filter(|p| !p.ends_with("mail-ppap.zip"))
        .collect();
    assert_eq!(zips.len(), 1, "{zips:?}");
    let unzip = Command::new("unzip")
        .arg("-p")
        .arg(&zips[0])
        .arg("doc.txt")
        .output()
        .unwrap();
    assert!(
        unzip.status.success(),
        "the delivered zip needs no password"
    );
    assert_eq!(String::from_utf8_lossy(&unzip.stdout).trim(), "秘密の資料");

    // Login rate limiting: after max_login_failures (per account, and per
    // address: the browser's wrong password counts too), even the right
    // password is refused.
    let mut refused = 0;
    for _ in 0..5 {
        let (c, t) = login_form(port);
        let r = post(
            port,
            "/login",
            &c,
            &format!("csrf={t}&user=alice&password=nope"),
        );
        assert!(
            r.starts_with("HTTP/1.1 401") || r.starts_with("HTTP/1.1 429"),
            "{r}"
        );
        refused += usize::from(r.starts_with("HTTP/1.1 429"));
    }
    assert!(refused <= 1, "refused only once the limit is reached");
    let (c, t) = login_form(port);
    let r = post(
        port,
        "/login",
        &c,
        &format!(
            "csrf={t}&user=alice&password={}",
            PASSWORD.replace(' ', "+")
        ),
    );
    assert!(r.starts_with("HTTP/1.1 429"), "{r}");
    // And a login form without its token is refused.
    let (c, _) = login_form(port);
    let r = post(port, "/login", &c, "user=bob&password=x");
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    drop(console);

    // The console's audit log verifies, and a tampered record is found.
    let caudit = dir("console-audit");
    let v = util::mugai()
        .arg("audit")
        .arg("verify")
        .arg(&caudit)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let file = mugai_audit::files_in(&caudit).unwrap().pop().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("himitsu") && !log().contains("himitsu"),
        "no ZIP password kept"
    );
    for ev in [
        "\"unlock-failed\"",
        "\"unlocked\"",
        "\"login-failed\"",
        "\"login-refused\"",
        "\"view\"",
        "\"release-requested\"",
        "\"released\"",
        "\"approval-refused\"",
        "\"link-view\"",
        "\"link-unlock-failed\"",
        "\"link-unlocked\"",
    ] {
        assert!(text.contains(ev), "{ev} recorded");
    }
    assert!(!text.contains(PASSWORD), "no password in the log");
    let released = text
        .lines()
        .find(|l| l.contains("\"verdict\":\"released\""))
        .unwrap();
    assert!(
        released.contains("\"user\":\"bob\"") && released.contains("\"requested_by\":\"alice\""),
        "{released}"
    );
    std::fs::write(
        &file,
        text.replacen("\"user\":\"bob\"", "\"user\":\"eve\"", 1),
    )
    .unwrap();
    let v = util::mugai()
        .arg("audit")
        .arg("verify")
        .arg(&caudit)
        .output()
        .unwrap();
    assert!(!v.status.success(), "a tampered console record is reported");
}

/// The real daemon on `config`, with its folders (`inbox`, `clean`,
/// `quarantine`, …) under `root` and its log in `root/daemon.log`.
pub(crate) fn start_daemon(config: &Path, root: &Path) -> Kill {
    let mut daemon = util::mugai();
    daemon.arg("daemon").arg("--config").arg(config);
    for d in util::DAEMON_DIRS {
        daemon.arg(format!("--{d}")).arg(root.join(d));
    }
    Kill(
        daemon
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.join("daemon.log")).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// Adds `name` with `role` to the accounts file.
pub(crate) fn add_user(users: &Path, name: &str, role: &str) {
    let mut c = util::mugai()
        .args(["user", "add", name, "--role", role, "--password-stdin"])
        .arg("--users")
        .arg(users)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(c.wait().unwrap().success());
}

pub(crate) fn start_console(
    config: &Path,
    quarantine: &Path,
    clean: &Path,
    log: &Path,
    port: u16,
) -> Kill {
    let k = Kill(
        util::mugai()
            .arg("console")
            .arg("--config")
            .arg(config)
            .arg("--quarantine")
            .arg(quarantine)
            .arg("--clean")
            .arg(clean)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            )
            .spawn()
            .unwrap(),
    );
    wait_for("the console", Duration::from_secs(60), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    k
}

/// The CSRF token in a page's form.
pub(crate) fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no form in {page}"))
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

fn session_cookie(resp: &str) -> Option<String> {
    header(resp, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with("mugai_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
}

/// Logs `user` in; returns the session cookie.
pub(crate) fn log_in(port: u16, user: &str) -> String {
    let (c, t) = login_form(port);
    let r = post(
        port,
        "/login",
        &c,
        &format!(
            "csrf={t}&user={user}&password={}",
            PASSWORD.replace(' ', "+")
        ),
    );
    assert!(r.starts_with("HTTP/1.1 303"), "{r}");
    session_cookie(&r).unwrap()
}

fn console_audit_text(dir: &Path) -> String {
    mugai_audit::files_in(dir)
        .unwrap()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

/// A PPAP mail through the real relay: the recipients get a one-time link;
/// the page refuses a wrong password (counted), another item's token, a
/// spent, expired or tried-out link, and with the right password sends the
/// sanitised contents as a follow-up mail. Logged-in sessions survive a
/// restart of the console; logout and `mugai user disable` end them.
#[test]
fn console_one_time_link_for_mail_ppap_and_sessions_across_restarts() {
    use crate::relay::{free_port as port_for, received, start_sink, swaks, tools_present, SINK};
    if !tools_present() {
        return;
    }
    if let Some(why) = tool_missing() {
        util::skip(&why);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dir = |d: &str| root.join(d);
    for d in ["quarantine", "clean", "held", "lgwan", "relay-audit"] {
        std::fs::create_dir_all(dir(d)).unwrap();
    }
    let (relay_port, hop_port, port) = (port_for(), port_for(), port_for());
    let users = dir("users.toml");
    let config = dir("mugai.toml");
    std::fs::write(
        &config,
        format!(
            r#"[types]
allow = ["text", "pdf", "zip", "png"]
[mail]
attachments = "sanitize"
[relay]
listen = "127.0.0.1:{relay_port}"
next_hop = "127.0.0.1:{hop_port}"
held = "{held}"
audit = "{raudit}"
hostname = "mugai.test"
[console]
listen = "127.0.0.1:{port}"
users = "{users}"
state = "{state}"
audit = "{caudit}"
secure_cookies = false
max_unlock_failures = 20
public_url = "http://127.0.0.1:{port}/"
link_max_tries = 3
"#,
            held = dir("held").display(),
            raudit = dir("relay-audit").display(),
            users = users.display(),
            state = dir("console-state").display(),
            caudit = dir("console-audit").display(),
        ),
    )
    .unwrap();
    let script = dir("sink.py");
    std::fs::write(&script, SINK).unwrap();
    let _sink = start_sink(&script, &dir("lgwan"), hop_port);
    let _relay = Kill(
        util::mugai()
            .arg("relay")
            .arg("--config")
            .arg(&config)
            .args(["--workers", "1"])
            .stderr(std::fs::File::create(dir("relay.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    crate::relay::wait_for_port(relay_port);

    // Three mails, each with a password-protected ZIP.
    std::fs::write(dir("doc.txt"), "秘密の資料\n").unwrap();
    let st = Command::new("zip")
        .current_dir(root)
        .args(["-q", "-P", "himitsu", "ppap.zip", "doc.txt"])
        .status()
        .unwrap();
    assert!(st.success());
    let zip = std::fs::read(dir("ppap.zip")).unwrap();
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&zip)
    };
    let mut links = Vec::new();
    for n in 0..3 {
        let eml = dir(&format!("m{n}.eml"));
        std::fs::write(
            &eml,
            format!(
                "From: sender@internet.example\r\nTo: kakari@lg.example.jp\r\nSubject: mitsumori {n}\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=UTF-8\r\n\r\nPassword follows in another mail.\r\n--b\r\n\
Content-Type: application/zip; name=\"mitsumori{n}.zip\"\r\nContent-Disposition: attachment; filename=\"mitsumori{n}.zip\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
            ),
        )
        .unwrap();
        let before = received(&dir("lgwan")).len();
        let (ok, out) = swaks(
            relay_port,
            "sender@internet.example",
            "kakari@lg.example.jp",
            &eml,
        );
        assert!(ok && out.contains("<-  250 2.0.0"), "{out}");
        let got = received(&dir("lgwan"));
        assert_eq!(got.len(), before + 2, "the message and the link notice");
        let notice = &got[before + 1];
        assert_eq!(notice.1, ["kakari@lg.example.jp"]);
        let parsed = mail_parser::MessageParser::default()
            .parse(notice.2.as_bytes())
            .unwrap();
        let text = parsed.body_text(0).unwrap().into_owned();
        assert!(text.contains("パスワード付きZIP"), "{text}");
        assert!(text.contains(&format!("mitsumori{n}.zip")), "{text}");
        let url = text
            .split_whitespace()
            .find(|w| w.starts_with(&format!("http://127.0.0.1:{port}/recipient/")))
            .unwrap_or_else(|| panic!("no link in {text}"))
            .to_string();
        links.push(
            url.trim_start_matches(&format!("http://127.0.0.1:{port}"))
                .to_string(),
        );
    }
    let token_of = |l: &str| l.rsplit('/').next().unwrap().to_string();
    let item_of = |l: &str| {
        let p: Vec<&str> = l.split('/').collect();
        format!("{}/{}", p[2], p[3])
    };

    add_user(&users, "alice", "operator");
    let log = dir("console.log");
    let console = start_console(&config, &dir("quarantine"), &dir("clean"), &log, port);

    // The page: no account, a form with its token, security headers.
    let (a, b, c) = (&links[0], &links[1], &links[2]);
    let r = get(port, a, "");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("mitsumori0.zip") && r.contains("<textarea name=\"passwords\""));
    assert_eq!(header(&r, "x-frame-options"), ["DENY"]);
    assert!(header(&r, "content-security-policy")
        .join(" ")
        .contains("script-src 'none'"));
    let cookie = session_cookie(&r).unwrap();
    let csrf = csrf_of(&r);

    // Without its CSRF token: refused, not counted.
    let r = post(port, a, &cookie, "passwords=himitsu");
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    // A wrong password: refused and counted.
    let r = post(port, a, &cookie, &format!("csrf={csrf}&passwords=nope"));
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    assert!(r.contains("<dd class=\"tries\">2</dd>"), "{r}");
    // The token of another item, and a token one digit off: invalid.
    let other = format!("/recipient/{}/{}", item_of(b), token_of(a));
    let flip = if a.ends_with('0') { '1' } else { '0' };
    for l in [other, format!("{}{flip}", &a[..a.len() - 1])] {
        let r = get(port, &l, "");
        assert!(r.starts_with("HTTP/1.1 404"), "{r}");
        let r = post(port, &l, &cookie, &format!("csrf={csrf}&passwords=himitsu"));
        assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    }
    // The right password (after a wrong one, for a nested archive's sake):
    // the sanitised contents go by mail; the link is spent.
    let before = received(&dir("lgwan")).len();
    let r = post(
        port,
        a,
        &cookie,
        &format!("csrf={csrf}&passwords=wrong%0D%0Ahimitsu"),
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("kakari@lg.example.jp"), "{r}");
    let got = received(&dir("lgwan"));
    assert_eq!(got.len(), before + 1, "one follow-up mail");
    let (from, rcpts, data) = &got[before];
    assert!(
        from.is_empty() || from == "<>",
        "from the gateway, null sender: {from}"
    );
    assert_eq!(rcpts, &["kakari@lg.example.jp"]);
    let parsed = mail_parser::MessageParser::default()
        .parse(data.as_bytes())
        .unwrap();
    let att = parsed.attachment(0).expect("the sanitised zip attached");
    std::fs::write(dir("followup.zip"), att.contents()).unwrap();
    assert_ne!(att.contents(), &zip[..], "never the original");
    let unzip = Command::new("unzip")
        .arg("-p")
        .arg(dir("followup.zip"))
        .arg("doc.txt")
        .output()
        .unwrap();
    assert!(unzip.status.success(), "no password needed any more");
    assert_eq!(String::from_utf8_lossy(&unzip.stdout).trim(), "秘密の資料");
    for r in [
        get(port, a, ""),
        post(port, a, &cookie, &format!("csrf={csrf}&passwords=himitsu")),
    ] {
        assert!(r.starts_with("HTTP/1.1 410"), "{r}");
        assert!(r.contains("すでに使われました"), "{r}");
    }
    assert_eq!(received(&dir("lgwan")).len(), before + 1, "sent once");

    // Over its tries: three wrong passwords, then even the right one is
    // refused.
    for left in [2, 1] {
        let r = post(port, b, &cookie, &format!("csrf={csrf}&passwords=nope"));
        assert!(r.starts_with("HTTP/1.1 403"), "{r}");
        assert!(
            r.contains(&format!("<dd class=\"tries\">{left}</dd>")),
            "{r}"
        );
    }
    let r = post(port, b, &cookie, &format!("csrf={csrf}&passwords=nope"));
    assert!(r.starts_with("HTTP/1.1 410"), "{r}");
    let r = post(port, b, &cookie, &format!("csrf={csrf}&passwords=himitsu"));
    assert!(r.starts_with("HTTP/1.1 410") && r.contains("上限"), "{r}");

    // Expired: the link's time has passed.
    let link_file = dir("held").join(item_of(c)).join("link.json");
    let mut l: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&link_file).unwrap()).unwrap();
    l["expires"] = (l["created"].as_u64().unwrap() - 1).into();
    std::fs::write(&link_file, serde_json::to_vec(&l).unwrap()).unwrap();
    let r = get(port, &format!("{c}?lang=en"), "");
    assert!(
        r.starts_with("HTTP/1.1 410") && r.contains("expired"),
        "{r}"
    );
    let r = post(port, c, &cookie, &format!("csrf={csrf}&passwords=himitsu"));
    assert!(r.starts_with("HTTP/1.1 410"), "{r}");
    assert_eq!(received(&dir("lgwan")).len(), before + 1);

    // The held mail parts are in the operators' list as mail.
    let alice = log_in(port, "alice");
    let r = get(port, "/items?source=mail", &alice);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(r.matches("mitsumori").count(), 3, "{r}");
    // An operator unlocks the part whose link expired: the contents go to
    // the recipients by mail as well, not to the clean folder.
    let path = format!("/items/{}/unlock", item_of(c));
    let page = get(port, &path, &alice);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let r = post(
        port,
        &path,
        &alice,
        &format!("csrf={}&passwords=himitsu", csrf_of(&page)),
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let got = received(&dir("lgwan"));
    assert_eq!(
        got.len(),
        before + 2,
        "a follow-up mail for the operator's unlock"
    );
    assert_eq!(got[before + 1].1, ["kakari@lg.example.jp"]);
    assert!(
        got[before + 1].2.contains("mitsumori2"),
        "{}",
        got[before + 1].2
    );

    // Sessions: a restart keeps the login; the file holds no session id.
    let state_file = dir("console-state").join("sessions.json");
    let sid = alice.trim_start_matches("mugai_session=");
    let kept = std::fs::read_to_string(&state_file).unwrap();
    assert!(!kept.contains(sid) && kept.contains("alice"), "{kept}");
    drop(console);
    let console = start_console(&config, &dir("quarantine"), &dir("clean"), &log, port);
    let r = get(port, "/items", &alice);
    assert!(r.starts_with("HTTP/1.1 200"), "still logged in: {r}");
    // Logout ends it, across a restart too.
    let r = post(port, "/logout", &alice, &format!("csrf={}", csrf_of(&r)));
    assert!(r.starts_with("HTTP/1.1 303"), "{r}");
    drop(console);
    let console = start_console(&config, &dir("quarantine"), &dir("clean"), &log, port);
    let r = get(port, "/items", &alice);
    assert!(r.starts_with("HTTP/1.1 303"), "logged out: {r}");
    // Disabling the account ends its live sessions.
    let alice = log_in(port, "alice");
    assert!(get(port, "/items", &alice).starts_with("HTTP/1.1 200"));
    let st = util::mugai()
        .args(["user", "disable", "alice", "--users"])
        .arg(&users)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let r = get(port, "/items", &alice);
    assert!(r.starts_with("HTTP/1.1 303"), "disabled: {r}");
    drop(console);

    // Every step audited, the chain intact, no password or token kept.
    let text = console_audit_text(&dir("console-audit"));
    for ev in [
        "\"link-view\"",
        "\"link-unlock-failed\"",
        "\"link-unlocked\"",
        "\"link-refused\"",
    ] {
        assert!(text.contains(ev), "{ev} recorded");
    }
    for why in [
        "\"spent\"",
        "\"expired\"",
        "\"no tries left\"",
        "\"invalid\"",
    ] {
        assert!(text.contains(why), "{why} recorded");
    }
    let unlocked = text
        .lines()
        .find(|l| l.contains("\"verdict\":\"link-unlocked\""))
        .unwrap();
    assert!(
        unlocked.contains("mail:kakari@lg.example.jp") && unlocked.contains(&item_of(a)),
        "{unlocked}"
    );
    let relay_audit: String = mugai_audit::files_in(&dir("relay-audit"))
        .unwrap()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(relay_audit.contains("\"held\""), "{relay_audit}");
    let logs = std::fs::read_to_string(&log).unwrap()
        + &std::fs::read_to_string(dir("relay.log")).unwrap();
    for l in &links {
        let t = token_of(l);
        assert!(
            !text.contains(&t) && !relay_audit.contains(&t) && !logs.contains(&t),
            "a token was logged"
        );
    }
    assert!(!text.contains("himitsu") && !logs.contains("himitsu"));
    let v = util::mugai()
        .arg("audit")
        .arg("verify")
        .arg(dir("console-audit"))
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

/// Held items (the daemon's and the relay's mail parts) older than
/// `console.hold_days` are removed with their originals, each removal
/// audited; newer ones stay.
#[test]
fn console_expires_held_items_and_audits_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dir = |d: &str| root.join(d);
    let today = mugai_audit::clock::today();
    let reason = |path: &str| {
        serde_json::json!({
            "path": path, "time": "2020-01-01T00:00:00Z", "size": 4, "sha256": "00",
            "type": "csv",
            "reason": {"code": "type.unknown", "action": "blocked", "detail": "csv"},
            "findings": []
        })
        .to_string()
    };
    let old = dir("quarantine/2020-01-01/20200101T000000000-000001");
    let new = dir(&format!("quarantine/{today}/20991231T000000000-000002"));
    let old_mail = dir("held/2020-01-01/mail-20200101T000000-00aa11");
    for (d, name) in [
        (&old, "old.csv"),
        (&new, "new.csv"),
        (&old_mail, "original.zip"),
    ] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("reason.json"), reason(name)).unwrap();
        std::fs::write(d.join(name), "a,b\n").unwrap();
    }
    std::fs::write(
        old_mail.join("mail.json"),
        r#"{"from":"a@example.com","to":["b@lg.example.jp"],"message_id":null,"original":null}"#,
    )
    .unwrap();
    let users = dir("users.toml");
    add_user(&users, "olga", "operator");
    let port = free_port();
    let config = dir("mugai.toml");
    std::fs::write(
        &config,
        format!(
            r#"[relay]
held = "{held}"
[console]
listen = "127.0.0.1:{port}"
users = "{users}"
state = "{state}"
audit = "{caudit}"
secure_cookies = false
hold_days = 1
"#,
            held = dir("held").display(),
            users = users.display(),
            state = dir("state").display(),
            caudit = dir("audit").display(),
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir("clean")).unwrap();
    let console = start_console(
        &config,
        &dir("quarantine"),
        &dir("clean"),
        &dir("console.log"),
        port,
    );
    wait_for("the expiry", Duration::from_secs(60), || {
        !old.exists() && !old_mail.exists()
    });
    assert!(new.join("new.csv").exists(), "a newer item stays");
    let olga = log_in(port, "olga");
    let r = get(port, "/items", &olga);
    assert!(r.contains("new.csv"), "{r}");
    assert!(!r.contains("old.csv") && !r.contains("original.zip"), "{r}");
    drop(console);
    let text = console_audit_text(&dir("audit"));
    for key in [
        "2020-01-01/20200101T000000000-000001",
        "2020-01-01/mail-20200101T000000-00aa11",
    ] {
        let rec = text
            .lines()
            .find(|l| l.contains("\"verdict\":\"expired\"") && l.contains(key))
            .unwrap_or_else(|| panic!("no expiry record for {key}: {text}"));
        assert!(rec.contains("\"hold_days\":\"1\""), "{rec}");
    }
    assert!(!text.contains(&format!("{today}/20991231")), "{text}");
}
