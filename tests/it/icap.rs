//! Integration tests: `mugai icap` against the real `c-icap-client` (Debian
//! `c-icap`), and a real Squid in front of a local HTTP server with mugai
//! as its RESPMOD service (`bypass=off`), fetched through with curl.

use crate::relay::{free_port, wait_for_port, Guard};
use crate::scanner::{eicar, TestClamd};
use crate::util;
use serde_json::Value;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `mugai icap`, stopped on drop.
struct Icap {
    guard: Guard,
    port: u16,
    audit: PathBuf,
    dir: tempfile::TempDir,
}

impl Icap {
    /// Starts the server with `toml` as its configuration file.
    fn start(toml: &str) -> Icap {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mugai.toml");
        fs::write(&conf, toml).unwrap();
        let audit = dir.path().join("audit");
        let port = free_port();
        let mut guard = Guard(
            util::mugai()
                .arg("icap")
                .arg("--config")
                .arg(&conf)
                .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "1"])
                .arg("--audit")
                .arg(&audit)
                .stderr(Stdio::from(
                    fs::File::create(dir.path().join("stderr")).unwrap(),
                ))
                .spawn()
                .expect("start mugai icap"),
        );
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = guard.0.try_wait() {
                panic!(
                    "mugai icap exited ({status}): {}",
                    fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "mugai icap does not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Icap {
            guard,
            port,
            audit,
            dir,
        }
    }

    fn pid(&self) -> u32 {
        self.guard.0.id()
    }

    /// Runs c-icap-client against this server.
    fn client(&self, args: &[&str]) -> Output {
        Command::new("c-icap-client")
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-s",
                "mugai",
            ])
            .args(args)
            .output()
            .expect("run c-icap-client")
    }

    fn stderr(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// The audit records, oldest first.
    fn records(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.audit)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .flat_map(|f| {
                fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<Value>>()
            })
            .collect()
    }

    fn last_record(&self) -> Value {
        self.records().pop().expect("an audit record")
    }
}

fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn c_icap_present() -> bool {
    let ok = Command::new("c-icap-client")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stdout.is_empty());
    if !ok {
        util::skip("c-icap-client is not installed (Debian package c-icap)");
    }
    ok
}

/// Bytes that `mugai sanitize` passes clean and byte for byte unchanged.
fn unchanged_text(dir: &Path) -> PathBuf {
    let p = dir.join("note.txt");
    fs::write(
        &p,
        "申請書の受付は12月1日からです。\nPlain text, nothing to remove.\n",
    )
    .unwrap();
    let out = dir.join("check-out");
    let (_o, lines) = util::sanitize_json(&p, &out, &[]);
    assert_eq!(lines[0]["verdict"], "clean", "{:?}", lines[0]);
    assert_eq!(
        lines[0]["sha256"], lines[0]["output_sha256"],
        "the sample must come out unchanged: {:?}",
        lines[0]
    );
    p
}

fn corpus_case(path: &str) -> (PathBuf, mugai_corpus::Expect) {
    let expect = mugai_corpus::all()
        .into_iter()
        .find(|c| c.path == path)
        .unwrap_or_else(|| panic!("no corpus case {path}"))
        .expect;
    (util::corpus_dir().join(path), expect)
}

#[test]
fn icap_options_modifications_204_blocked_page_and_size_limit_with_c_icap_client() {
    if !c_icap_present() {
        return;
    }
    let icap = Icap::start("[icap]\nmax_body_bytes = 1048576\npreview_bytes = 1024\n");
    let tmp = tempfile::tempdir().unwrap();

    // OPTIONS.
    let o = icap.client(&["-v"]);
    let text = both(&o);
    for want in [
        "ICAP/1.0 200 OK",
        "Methods: RESPMOD, REQMOD",
        "Allow: 204",
        "Preview: 1024",
        "Max-Connections: 64",
        "Options-TTL: 3600",
        "ISTag: \"mugai-",
    ] {
        assert!(text.contains(want), "OPTIONS lacks {want}: {text}");
    }
    let istag = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("ISTag: "))
        .unwrap()
        .to_string();

    // A clean text file that comes out unchanged: 204 when allowed ...
    let note = unchanged_text(tmp.path());
    let out = tmp.path().join("note.out");
    let o = icap.client(&[
        "-v",
        "-w",
        "16",
        "-resp",
        "http://files.example/note.txt",
        "-f",
        note.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let text = both(&o);
    assert!(text.contains("204"), "expected 204: {text}");
    let r = icap.last_record();
    assert_eq!(
        (r["result"].as_str(), r["icap_status"].as_u64()),
        (Some("unchanged"), Some(204)),
        "{r}"
    );
    assert_eq!(r["method"], "RESPMOD");
    assert_eq!(r["name"], "note.txt");
    assert_eq!(r["path"], "http://files.example/note.txt");
    // ... and the same bytes in a 200 when not.
    let o = icap.client(&[
        "-v",
        "-no204",
        "-w",
        "16",
        "-resp",
        "http://files.example/note.txt",
        "-f",
        note.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let text = both(&o);
    assert!(text.contains("ICAP/1.0 200 OK"), "{text}");
    assert!(text.contains("X-Mugai-Verdict: clean"), "{text}");
    assert_eq!(fs::read(&out).unwrap(), fs::read(&note).unwrap());

    // A PDF with JavaScript, with a preview smaller than the file: rebuilt.
    let (pdf, expect) = corpus_case("pdf/open_action_js.pdf");
    assert_eq!(expect.verdict, mugai_core::Verdict::Sanitized);
    assert!(fs::read(&pdf).unwrap().len() > 64);
    let out = tmp.path().join("pdf.out");
    let o = icap.client(&[
        "-v",
        "-w",
        "64",
        "-resp",
        "http://files.example/docs/report.pdf",
        "-f",
        pdf.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let text = both(&o);
    assert!(text.contains("ICAP/1.0 200 OK"), "{text}");
    assert!(text.contains("X-Mugai-Verdict: sanitized"), "{text}");
    let rebuilt = fs::read(&out).unwrap();
    assert!(rebuilt.starts_with(b"%PDF-"));
    assert!(!contains(&rebuilt, b"/JavaScript"));
    let r = icap.last_record();
    assert_eq!(r["verdict"], "sanitized");
    assert!(r["codes"].to_string().contains("pdf.javascript"), "{r}");

    // An executable: a 403 page in Japanese and English, reported as a
    // violation; the audit record names the reason.
    let exe = tmp.path().join("setup.exe");
    fs::write(&exe, mugai_corpus::archive::pe_bytes()).unwrap();
    let out = tmp.path().join("exe.out");
    let o = icap.client(&[
        "-v",
        "-resp",
        "http://files.example/setup.exe",
        "-f",
        exe.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let text = both(&o);
    assert!(text.contains("ICAP/1.0 200 OK"), "{text}");
    assert!(text.contains("X-Violations-Found: 1"), "{text}");
    assert!(text.contains("X-Blocked-Reason: type.executable"), "{text}");
    let page = fs::read_to_string(&out).unwrap();
    assert!(
        page.contains(mugai_core::Code::TypeExecutable.ja()),
        "{page}"
    );
    assert!(page.contains("Download blocked"), "{page}");
    let r = icap.last_record();
    assert_eq!(
        (r["verdict"].as_str(), r["result"].as_str()),
        (Some("blocked"), Some("blocked"))
    );

    // A piece of a file (a range response) is never judged on its own.
    let o = icap.client(&[
        "-v",
        "-rhx",
        "Content-Range: bytes 0-79/5000",
        "-resp",
        "http://files.example/note.txt",
        "-f",
        note.to_str().unwrap(),
    ]);
    let text = both(&o);
    assert!(text.contains("X-Blocked-Reason: rebuild.failed"), "{text}");
    assert_eq!(icap.last_record()["verdict"], "blocked");

    // An upload (REQMOD) of the clean text: 204.
    let o = icap.client(&[
        "-v",
        "-req",
        "http://upload.example/form/note.txt",
        "-f",
        note.to_str().unwrap(),
    ]);
    let text = both(&o);
    assert!(text.contains("204"), "REQMOD: {text}");
    assert_eq!(icap.last_record()["method"], "REQMOD");
    // An upload of the PDF: the request comes back with the rebuilt body.
    let out = tmp.path().join("upload.out");
    let o = icap.client(&[
        "-v",
        "-req",
        "http://upload.example/form/report.pdf",
        "-f",
        pdf.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let text = both(&o);
    assert!(text.contains("X-Mugai-Verdict: sanitized"), "{text}");
    let rebuilt = fs::read(&out).unwrap();
    assert!(rebuilt.starts_with(b"%PDF-"), "{text}");
    assert!(!contains(&rebuilt, b"/JavaScript"));

    // Over max_body_bytes: refused with an ICAP error, audited, never 200/204.
    let big = tmp.path().join("big.txt");
    fs::write(&big, "a,b,c\n".repeat(400_000)).unwrap();
    let before = icap.records().len();
    let out = tmp.path().join("big.out");
    let o = icap.client(&[
        "-v",
        "-resp",
        "http://files.example/big.txt",
        "-f",
        big.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let text = both(&o);
    assert!(!text.contains("ICAP/1.0 200"), "{text}");
    assert!(!text.contains("ICAP/1.0 204"), "{text}");
    assert!(
        fs::read(&out).map(|b| b.is_empty()).unwrap_or(true),
        "a refused body produced output"
    );
    let recs = icap.records();
    assert_eq!(recs.len(), before + 1, "{}", icap.stderr());
    let r = recs.last().unwrap();
    assert_eq!(
        (r["icap_status"].as_u64(), r["verdict"].as_str()),
        (Some(413), Some("blocked")),
        "{r}"
    );
    assert!(r["codes"].to_string().contains("limit.size"), "{r}");
    // The same without a preview: the body streams in and is refused at
    // the limit.
    let o = icap.client(&[
        "-nopreview",
        "-v",
        "-resp",
        "http://files.example/big.txt",
        "-f",
        big.to_str().unwrap(),
    ]);
    let text = both(&o);
    assert!(!text.contains("ICAP/1.0 200"), "{text}");
    assert!(!text.contains("ICAP/1.0 204"), "{text}");
    assert_eq!(icap.last_record()["icap_status"], 413);

    // The server is still up, and the chain verifies.
    assert!(both(&icap.client(&["-v"])).contains("ICAP/1.0 200 OK"));
    let v = util::mugai()
        .args(["audit", "verify"])
        .arg(&icap.audit)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", both(&v));

    // The ISTag follows the policy.
    let other = Icap::start("[icap]\nmax_connections = 1\n[pdf]\nuri = \"keep\"\n");
    // (Its one place may still be held by the start-up probe's connection.)
    let mut other_tag = None;
    for _ in 0..100 {
        let text = both(&other.client(&["-v"]));
        other_tag = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("ISTag: "))
            .map(str::to_string);
        if other_tag.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(other_tag.expect("OPTIONS answered"), istag);
    // Connections beyond max_connections are told 503; a persistent
    // connection holds its place until it ends.
    let mut held = None;
    for _ in 0..100 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", other.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        use std::io::Write;
        s.write_all(b"OPTIONS icap://127.0.0.1/mugai ICAP/1.0\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        if buf[..n].starts_with(b"ICAP/1.0 200") {
            held = Some(s);
            break;
        }
        // The previous client's connection had not ended yet.
        std::thread::sleep(Duration::from_millis(100));
    }
    let held = held.expect("a connection served");
    // (c-icap-client prints no status line for a refused OPTIONS.)
    let mut s = std::net::TcpStream::connect(("127.0.0.1", other.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    std::io::Write::write_all(&mut s, b"OPTIONS icap://127.0.0.1/mugai ICAP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("ICAP/1.0 503"), "{answer}");
    drop(held);
    let mut served = false;
    for _ in 0..100 {
        if both(&other.client(&["-v"])).contains("ICAP/1.0 200 OK") {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(served, "the freed place was not reused: {}", other.stderr());
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Resident memory of a process: (current, peak) in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn icap_streams_a_100_mb_body_to_disk_with_bounded_memory() {
    if !c_icap_present() {
        return;
    }
    let icap = Icap::start(
        "[icap]\nmax_body_bytes = 209715200\nmemory_bytes = 1048576\n\
         [limits]\nmax_input_bytes = 209715200\nmax_expanded_bytes = 1073741824\n",
    );
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.csv");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(fs::File::create(&big).unwrap());
        let mut n = 0u64;
        while n < 100 << 20 {
            let line = format!("{n},申請{n},{}\n", n * 7);
            f.write_all(line.as_bytes()).unwrap();
            n += line.len() as u64;
        }
    }
    let size = fs::metadata(&big).unwrap().len();
    let (base, _) = rss_kib(icap.pid());
    // Sample the server's memory while the body streams in.
    let pid = icap.pid();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid).0);
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    let out = tmp.path().join("big.out");
    let o = icap.client(&[
        "-v",
        "-no204",
        "-resp",
        "http://files.example/big.csv",
        "-f",
        big.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sampled_peak = sampler.join().unwrap();
    let text = both(&o);
    assert!(
        text.contains("ICAP/1.0 200 OK"),
        "{text}\n{}",
        icap.stderr()
    );
    let r = icap.last_record();
    assert_eq!(r["size"].as_u64(), Some(size), "{r}");
    let out_len = fs::metadata(&out).unwrap().len();
    assert!(out_len > size / 2, "output {out_len} of {size}");
    // The body arrived through the spool file; the server holds it in
    // memory only for the rebuild (the Sanitize seam takes the bytes), and
    // at most once for the input and once for the output: never the
    // whole ICAP stream several times over.
    let (_, hwm) = rss_kib(icap.pid());
    let size_kib = size / 1024;
    eprintln!(
        "100 MB body: server RSS at start {base} KiB, sampled peak {sampled_peak} KiB, \
         VmHWM {hwm} KiB, body {size_kib} KiB"
    );
    assert!(
        hwm < base + size_kib * 3 + 200 * 1024,
        "server peak RSS {hwm} KiB for a body of {size_kib} KiB"
    );
}

/// A Squid of its own: configuration, logs and pid file in `dir`.
fn start_squid(dir: &Path, http_port: u16, icap_port: u16) -> Option<Guard> {
    let squid = ["/usr/sbin/squid", "/usr/bin/squid"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(squid) = squid else {
        util::skip("squid is not installed (Debian package squid)");
        return None;
    };
    let conf = dir.join("squid.conf");
    let d = dir.display();
    // Run as the current user when unprivileged; as root Squid must drop
    // to a user that can write the folder.
    let user = if rustix_is_root() {
        "cache_effective_user nobody\n".to_string()
    } else {
        String::new()
    };
    fs::write(
        &conf,
        format!(
            "http_port 127.0.0.1:{http_port}\n\
             pid_filename {d}/squid.pid\n\
             cache_log {d}/cache.log\n\
             access_log {d}/access.log\n\
             cache_store_log none\n\
             cache deny all\n\
             cache_mem 8 MB\n\
             coredump_dir {d}\n\
             {user}\
             http_access allow localhost\n\
             http_access deny all\n\
             icap_enable on\n\
             icap_preview_enable on\n\
             icap_service svc respmod_precache bypass=off icap://127.0.0.1:{icap_port}/mugai\n\
             adaptation_access svc allow all\n\
             shutdown_lifetime 1 seconds\n\
             logfile_rotate 0\n\
             workers 1\n"
        ),
    )
    .unwrap();
    if rustix_is_root() {
        // nobody must write the logs and pid file.
        let _ = Command::new("chmod").arg("0777").arg(dir).status();
    }
    let child = Command::new(squid)
        .args(["-N", "-f"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            fs::File::create(dir.join("squid.stderr")).unwrap(),
        ))
        .spawn()
        .expect("start squid");
    let g = Guard(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", http_port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "squid did not start: {}{}",
            fs::read_to_string(dir.join("squid.stderr")).unwrap_or_default(),
            fs::read_to_string(dir.join("cache.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(g)
}

fn rustix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Fetches `url` through the proxy: (HTTP status, headers, body).
fn curl_via(proxy: u16, url: &str, dir: &Path) -> (u16, String, Vec<u8>) {
    let body = dir.join("curl.body");
    let heads = dir.join("curl.head");
    let o = Command::new("curl")
        .args(["-s", "--max-time", "60", "-x"])
        .arg(format!("http://127.0.0.1:{proxy}"))
        .arg("-o")
        .arg(&body)
        .arg("-D")
        .arg(&heads)
        .args(["-w", "%{http_code}"])
        .arg(url)
        .output()
        .expect("run curl");
    let code = String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (
        code,
        fs::read_to_string(&heads).unwrap_or_default(),
        fs::read(&body).unwrap_or_default(),
    )
}

#[test]
fn squid_with_mugai_as_respmod_service_rebuilds_pdf_and_docm_and_blocks_eicar() {
    if !Path::new("/usr/sbin/squid").exists() {
        util::skip("squid is not installed (Debian package squid)");
        return;
    }
    if Command::new("curl").arg("--version").output().is_err() {
        util::skip("curl is not installed");
        return;
    }
    let clamd = TestClamd::start();
    let icap = Icap::start(&format!(
        "[av]\nclamd = \"{}\"\nmax_signature_age_hours = 0\n",
        clamd.addr()
    ));
    // The origin: python's HTTP server over a folder of files.
    let site = tempfile::tempdir().unwrap();
    let (pdf, pdf_expect) = corpus_case("pdf/open_action_js.pdf");
    let (docm, docm_expect) = corpus_case("office/vba_unusual_name.docm");
    fs::copy(&pdf, site.path().join("report.pdf")).unwrap();
    fs::copy(&docm, site.path().join("minutes.docm")).unwrap();
    fs::write(site.path().join("eicar.com.txt"), eicar()).unwrap();
    fs::write(
        site.path().join("tool.exe"),
        mugai_corpus::archive::pe_bytes(),
    )
    .unwrap();
    let origin_port = free_port();
    let _origin = Guard(
        Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(origin_port.to_string())
            .current_dir(site.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server"),
    );
    wait_for_port(origin_port);
    let sq = tempfile::tempdir().unwrap();
    let proxy = free_port();
    let Some(_squid) = start_squid(sq.path(), proxy, icap.port) else {
        return;
    };
    let url = |name: &str| format!("http://127.0.0.1:{origin_port}/{name}");
    let tmp = tempfile::tempdir().unwrap();
    let diag = || {
        format!(
            "\nmugai: {}\nsquid: {}",
            icap.stderr(),
            fs::read_to_string(sq.path().join("cache.log")).unwrap_or_default()
        )
    };

    // The PDF: rebuilt without JavaScript.
    assert_eq!(pdf_expect.verdict, mugai_core::Verdict::Sanitized);
    let (code, heads, body) = curl_via(proxy, &url("report.pdf"), tmp.path());
    assert_eq!(code, 200, "{heads}{}", diag());
    assert!(body.starts_with(b"%PDF-"), "{heads}");
    assert!(!contains(&body, b"/JavaScript"), "JavaScript arrived");
    assert_ne!(body, fs::read(&pdf).unwrap());
    let lower = heads.to_ascii_lowercase();
    assert!(lower.contains("x-mugai-verdict: sanitized"), "{heads}");
    assert!(lower.contains("content-type: application/pdf"), "{heads}");
    assert!(
        lower.contains(&format!("content-length: {}", body.len())),
        "{heads}"
    );

    // The docm: what the policy says (the corpus case's expectation).
    let (code, heads, body) = curl_via(proxy, &url("minutes.docm"), tmp.path());
    match docm_expect.verdict {
        mugai_core::Verdict::Blocked => assert_eq!(code, 403, "{heads}"),
        _ => {
            assert_eq!(code, 200, "{heads}{}", diag());
            assert!(body.starts_with(b"PK"), "{heads}");
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(&body)).unwrap();
            let mut ct = String::new();
            z.by_name("[Content_Types].xml")
                .unwrap()
                .read_to_string(&mut ct)
                .unwrap();
            assert!(!ct.contains("macroEnabled"), "{ct}");
            assert!(!ct.contains("vbaProject"), "{ct}");
            for i in 0..z.len() {
                let mut f = z.by_index(i).unwrap();
                let mut data = Vec::new();
                f.read_to_end(&mut data).unwrap();
                assert!(!contains(&data, b"Sub AutoOpen"), "macro in {:?}", f.name());
            }
            let lower = heads.to_ascii_lowercase();
            // Rebuilt as a macro-free document under a new name.
            assert!(
                lower.contains("content-disposition: attachment; filename=\"minutes.docx\""),
                "{heads}"
            );
            assert!(lower.contains("wordprocessingml.document"), "{heads}");
        }
    }

    // EICAR: blocked with the 403 page.
    let (code, heads, body) = curl_via(proxy, &url("eicar.com.txt"), tmp.path());
    assert_eq!(code, 403, "{heads}{}", diag());
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains(mugai_core::Code::AvDetected.ja()), "{page}");
    assert!(page.contains("Eicar-Test-Signature"), "{page}");
    assert!(!contains(&body, &eicar()));
    let r = icap.last_record();
    assert_eq!(r["verdict"], "blocked");
    assert!(r["codes"].to_string().contains("av.detected"), "{r}");

    // Another block (not malware): the violation header passes Squid too.
    let (code, heads, _) = curl_via(proxy, &url("tool.exe"), tmp.path());
    assert_eq!(code, 403, "{heads}{}", diag());

    // Squid kept its ICAP connection open across requests.
    let recs = icap.records();
    let peers: std::collections::BTreeSet<&str> =
        recs.iter().filter_map(|r| r["peer"].as_str()).collect();
    assert!(
        peers.len() < recs.len(),
        "every request came on a new connection: {peers:?}"
    );
    let v = util::mugai()
        .args(["audit", "verify"])
        .arg(&icap.audit)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", both(&v));
}
