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
    for d in [
        "inbox",
        "clean",
        "quarantine",
        "originals",
        "state",
        "audit",
    ] {
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
    let mut daemon = util::mugai();
    daemon.arg("daemon").arg("--config").arg(&config);
    for d in [
        "inbox",
        "clean",
        "quarantine",
        "originals",
        "state",
        "audit",
    ] {
        daemon.arg(format!("--{d}")).arg(dir(d));
    }
    let daemon = Kill(
        daemon
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir("daemon.log")).unwrap())
            .spawn()
            .unwrap(),
    );
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
