//! Integration tests: the malware check with a real clamd, started on a
//! temporary UNIX socket with a signature database written here (no
//! download).

use crate::util;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The EICAR test string, assembled so that this source file is not itself
/// a detection.
pub fn eicar() -> Vec<u8> {
    let mut s = String::from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$");
    s.push_str("EICAR-STANDARD-ANTIVIRUS-");
    s.push_str("TEST-FILE!$H+H*");
    s.into_bytes()
}

/// A pattern only the test database knows.
pub const TEST_PATTERN: &[u8] = b"MUGAI-AV-TEST-PATTERN-7f3a9c";
/// Stream limit of the test clamd.
pub const STREAM_MAX: usize = 4 << 20;

/// A clamd running for one test, stopped on drop.
pub struct TestClamd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl TestClamd {
    pub fn start() -> TestClamd {
        let clamd = ["/usr/sbin/clamd", "/usr/bin/clamd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("clamd is not installed (tests/run installs clamav-daemon)");
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        fs::create_dir_all(&db).unwrap();
        fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let mut ndb = fs::File::create(db.join("mugai-test.ndb")).unwrap();
        writeln!(ndb, "Eicar-Test-Signature:0:*:{}", hex(&eicar())).unwrap();
        writeln!(ndb, "Mugai.Test.Pattern:0:*:{}", hex(TEST_PATTERN)).unwrap();
        drop(ndb);
        let socket = dir.path().join("clamd.sock");
        let conf = dir.path().join("clamd.conf");
        fs::write(
            &conf,
            format!(
                "LocalSocket {}\nDatabaseDirectory {}\nForeground yes\nLogFile {}\nTemporaryDirectory {}\n\
                 StreamMaxLength {}\nMaxThreads 4\nLocalSocketMode 666\nPidFile {}\n",
                socket.display(),
                db.display(),
                dir.path().join("clamd.log").display(),
                dir.path().join("tmp").display(),
                STREAM_MAX,
                dir.path().join("clamd.pid").display(),
            ),
        )
        .unwrap();
        let child = Command::new(clamd)
            .arg("--config-file")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start clamd");
        let t = TestClamd { child, dir, socket };
        let started = Instant::now();
        loop {
            let ping = util::mugai()
                .arg("check-config")
                .arg(t.no_age_check())
                .arg("--clamd")
                .arg(&t.socket)
                .output()
                .unwrap();
            if ping.status.success() {
                break;
            }
            let log = fs::read_to_string(t.dir.path().join("clamd.log")).unwrap_or_default();
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "clamd did not start: {log}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        t
    }

    pub fn addr(&self) -> &str {
        self.socket.to_str().unwrap()
    }

    /// A configuration without the signature-age check: the test database
    /// holds local signatures only, which clamd's VERSION does not date.
    pub fn no_age_check(&self) -> PathBuf {
        let p = self.dir.path().join("no-age-check.toml");
        fs::write(&p, "[av]\nmax_signature_age_hours = 0\n").unwrap();
        p
    }
}

impl Drop for TestClamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sanitize(
    dir: &Path,
    clamd: &str,
    extra: &[&str],
) -> (
    std::process::Output,
    Vec<serde_json::Value>,
    tempfile::TempDir,
) {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["--clamd", clamd];
    args.extend_from_slice(extra);
    let (o, lines) = util::sanitize_json(dir, out.path(), &args);
    (o, lines, out)
}

fn line<'a>(lines: &'a [serde_json::Value], suffix: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["input"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no report for {suffix}"))
}

#[test]
fn eicar_in_text_zip_member_and_docx_is_detected_naming_signature_and_member() {
    let clamd = TestClamd::start();
    let src = tempfile::tempdir().unwrap();
    let mut txt = b"note\n".to_vec();
    txt.extend(eicar());
    fs::write(src.path().join("eicar.txt"), &txt).unwrap();
    fs::write(
        src.path().join("bundle.zip"),
        mugai_corpus::build::zip(&[("docs/readme.txt", b"hello\n"), ("docs/eicar.txt", &txt)]),
    )
    .unwrap();
    let docx = mugai_corpus::office::minimal_docx(&String::from_utf8_lossy(&eicar()));
    fs::write(src.path().join("letter.docx"), docx).unwrap();
    fs::write(
        src.path().join("pattern.csv"),
        [b"a,".as_slice(), TEST_PATTERN, b"\n"].concat(),
    )
    .unwrap();
    fs::write(src.path().join("fine.txt"), "nothing here\n").unwrap();

    let (o, lines, out) = sanitize(src.path(), clamd.addr(), &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let reason = |s: &str| line(&lines, s)["reason"].as_str().unwrap_or("").to_string();

    let r = reason("/eicar.txt");
    assert!(
        r.starts_with("av.detected") && r.contains("Eicar-Test-Signature"),
        "{r}"
    );
    let r = reason("/bundle.zip");
    assert!(
        r.starts_with("av.detected") && r.contains("Eicar-Test-Signature"),
        "{r}"
    );
    assert!(r.contains("docs/eicar.txt"), "the member is named: {r}");
    let r = reason("/letter.docx");
    assert!(
        r.starts_with("av.detected") && r.contains("Eicar-Test-Signature"),
        "{r}"
    );
    assert!(r.contains("word/document.xml"), "the part is named: {r}");
    let r = reason("/pattern.csv");
    assert!(
        r.starts_with("av.detected") && r.contains("Mugai.Test.Pattern"),
        "{r}"
    );
    assert_eq!(line(&lines, "/fine.txt")["verdict"], "clean");
    for name in ["eicar.txt", "bundle.zip", "letter.docx", "pattern.csv"] {
        assert!(
            !out.path().join(name).exists(),
            "{name} reached the clean side"
        );
    }
}

#[test]
fn the_generated_corpus_gets_the_same_verdicts_with_the_scanner_on() {
    let clamd = TestClamd::start();
    let corpus = util::corpus_dir();
    let manifest = mugai_corpus::read_manifest(corpus).unwrap();
    let (_, lines, _out) = sanitize(corpus, clamd.addr(), &[]);
    let mut diffs = Vec::new();
    for (path, expect) in &manifest {
        let input = corpus.join(path).display().to_string();
        let l = lines.iter().find(|l| l["input"] == input.as_str()).unwrap();
        // clamd's built-in heuristics (e.g. Heuristics.PDF.ObfuscatedNameObject)
        // may also flag a case that carries a danger factor: that is a second
        // opinion, not a false positive. Benign cases must pass untouched.
        let reason = l["reason"].as_str().unwrap_or("");
        let heuristic_on_dangerous = reason.starts_with("av.detected")
            && reason.contains("Heuristics.")
            && expect.verdict != mugai_core::Verdict::Clean;
        if l["verdict"] != expect.verdict.as_str() && !heuristic_on_dangerous {
            diffs.push(format!("{path}: {} ({})", l["verdict"], l["reason"]));
        }
        if expect.verdict == mugai_core::Verdict::Clean {
            assert!(
                !util::codes(l).contains("av.detected"),
                "{path}: false positive {reason}"
            );
        }
    }
    assert!(diffs.is_empty(), "{diffs:?}");
}

#[test]
fn with_clamd_stopped_everything_is_blocked_as_unavailable() {
    let clamd = TestClamd::start();
    let addr = clamd.addr().to_string();
    drop(clamd);
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "fine\n").unwrap();
    fs::write(src.path().join("b.csv"), "x,1\n").unwrap();
    let (o, lines, out) = sanitize(src.path(), &addr, &[]);
    assert_eq!(o.status.code(), Some(1));
    for l in &lines {
        assert_eq!(l["verdict"], "blocked");
        assert!(
            l["reason"].as_str().unwrap().starts_with("av.unavailable"),
            "{l}"
        );
    }
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "nothing reaches the clean side"
    );
    // check-config reports the failure in one line with exit 2.
    let o = util::mugai()
        .args(["check-config", "--clamd", &addr])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not reachable"));
}

#[test]
fn a_file_over_the_stream_limit_follows_the_policy() {
    let clamd = TestClamd::start();
    let src = tempfile::tempdir().unwrap();
    let big: String = "0123456789abcdef\n".repeat(STREAM_MAX / 17 * 2);
    fs::write(src.path().join("big.txt"), &big).unwrap();
    let (_, lines, _out) = sanitize(src.path(), clamd.addr(), &[]);
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("av.too_large"),
        "{}",
        lines[0]
    );

    let policy = src.path().join("../allow-large.toml");
    fs::write(&policy, "[av]\non_too_large = \"allow\"\n").unwrap();
    let (_, lines, _out) = sanitize(
        src.path(),
        clamd.addr(),
        &["--policy", policy.to_str().unwrap()],
    );
    let _ = fs::remove_file(&policy);
    assert_eq!(lines[0]["verdict"], "clean", "{}", lines[0]);
}

#[test]
fn check_config_prints_engine_and_signature_versions() {
    let clamd = TestClamd::start();
    let o = util::mugai()
        .arg("check-config")
        .arg(clamd.no_age_check())
        .args(["--clamd", clamd.addr()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("ClamAV"), "{s}");
    assert!(s.contains("signatures"), "{s}");
    // With the age check on (the default), a clamd without a dated
    // signature database is refused: exit 1.
    let o = util::mugai()
        .args(["check-config", "--clamd", clamd.addr()])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("no signature database is loaded"), "{s}");
}
