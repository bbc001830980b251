//! Integration tests: the transfer-share daemon, on real directories,
//! running the real binary.

use crate::util;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// One daemon's directories, configuration and process.
struct D {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    child: Option<Child>,
    notify: UnixDatagram,
    starts: u32,
}

const TIMEOUT: Duration = Duration::from_secs(60);

impl D {
    fn new(config: &str) -> D {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let config_path = root.join("mugai.toml");
        std::fs::write(&config_path, config).unwrap();
        let notify = UnixDatagram::bind(root.join("notify.sock")).unwrap();
        notify
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        for d in util::DAEMON_DIRS {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        D {
            _tmp: tmp,
            root,
            config: config_path,
            child: None,
            notify,
            starts: 0,
        }
    }

    fn dir(&self, d: &str) -> PathBuf {
        self.root.join(d)
    }

    fn log(&self) -> String {
        let mut s = String::new();
        for i in 1..=self.starts {
            s += &std::fs::read_to_string(self.root.join(format!("log-{i}.txt")))
                .unwrap_or_default();
        }
        s
    }

    /// Starts the daemon and waits for READY=1 on the notify socket.
    fn start(&mut self) {
        self.starts += 1;
        let log =
            std::fs::File::create(self.root.join(format!("log-{}.txt", self.starts))).unwrap();
        let mut cmd = util::mugai();
        cmd.arg("daemon").arg("--config").arg(&self.config);
        for d in util::DAEMON_DIRS {
            cmd.arg(format!("--{d}")).arg(self.dir(d));
        }
        cmd.env("NOTIFY_SOCKET", self.root.join("notify.sock"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(cmd.spawn().unwrap());
        self.wait_notify("READY=1");
    }

    fn wait_notify(&mut self, what: &str) {
        let t = Instant::now();
        let mut buf = [0u8; 256];
        while t.elapsed() < TIMEOUT {
            if let Ok(n) = self.notify.recv(&mut buf) {
                if String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .any(|l| l == what)
                {
                    return;
                }
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("daemon exited ({st}) before {what}:\n{}", self.log());
            }
        }
        panic!("no {what} from the daemon:\n{}", self.log());
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let st = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// SIGTERM; waits for the exit and returns whether it was clean.
    fn stop(&mut self) -> std::process::ExitStatus {
        self.signal("-TERM");
        let mut child = self.child.take().unwrap();
        let t = Instant::now();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            if t.elapsed() > TIMEOUT {
                let _ = child.kill();
                panic!("daemon did not stop after SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill9(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn drop_file(&self, rel: &str, bytes: &[u8]) {
        let p = self.dir("inbox").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn wait_for(&self, what: &str, cond: impl Fn() -> bool) {
        let t = Instant::now();
        while !cond() {
            if t.elapsed() > TIMEOUT {
                panic!("timed out waiting for {what}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn inbox_files(&self) -> Vec<String> {
        files_under(&self.dir("inbox"))
    }

    /// The audit records of files taken (not of entries left unaccepted).
    fn audit_records(&self) -> Vec<serde_json::Value> {
        self.all_audit_records()
            .into_iter()
            .filter(|r| {
                r["reason"]
                    .as_str()
                    .is_none_or(|r| !r.starts_with("inbox.unaccepted"))
            })
            .collect()
    }

    fn all_audit_records(&self) -> Vec<serde_json::Value> {
        let mut v = Vec::new();
        for f in sorted_files(&self.dir("audit")) {
            for l in std::fs::read_to_string(f).unwrap().lines() {
                v.push(serde_json::from_str(l).unwrap());
            }
        }
        v
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }
}

impl Drop for D {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Every file under `root`, as `/`-separated relative paths, sorted.
fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    out
}

fn sha(bytes: &[u8]) -> String {
    mugai_core::sha256_hex(bytes)
}

const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00\x00\x00\x00\x00@\x00";

fn config(extra: &str) -> String {
    format!("[daemon]\nsettle_ms = 300\nrescan_secs = 1\nworkers = 2\n{extra}\n")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn settle_temp_names_subfolders_collisions_placement_notice_and_metrics() {
    let port = free_port();
    let mut d = D::new(&config(&format!("metrics_listen = \"127.0.0.1:{port}\"")));
    d.start();

    // Temporary and hidden names are left alone until renamed.
    d.drop_file("report.txt.tmp", b"report\n");
    d.drop_file("~$draft.txt", b"lock\n");
    d.drop_file(".hidden.txt", b"hidden\n");
    d.drop_file("big.part", b"partial\n");
    // A file written slowly, with pauses shorter than the settle time.
    let slow = d.dir("inbox").join("slow.txt");
    let mut f = std::fs::File::create(&slow).unwrap();
    for i in 0..8 {
        writeln!(f, "line {i}").unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(120));
        assert!(slow.exists(), "taken while still being written");
    }
    drop(f);
    d.wait_for("slow.txt", || d.dir("clean/slow.txt").exists());
    let text = std::fs::read_to_string(d.dir("clean/slow.txt")).unwrap();
    assert_eq!(
        text.lines().count(),
        8,
        "the whole file was taken: {text:?}"
    );
    // Two rescans later the temporary names are still there, untouched.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        d.inbox_files(),
        vec![".hidden.txt", "big.part", "report.txt.tmp", "~$draft.txt"]
    );
    std::fs::rename(d.dir("inbox/report.txt.tmp"), d.dir("inbox/report.txt")).unwrap();
    d.wait_for("renamed file", || d.dir("clean/report.txt").exists());

    // Subfolders are kept; a dangerous folder name is neutralised.
    d.drop_file("総務課/2026/議事録.txt", "議事録\n".as_bytes());
    d.drop_file("CON/a.txt", b"a\n");
    d.wait_for("subfolder file", || {
        d.dir("clean/総務課/2026/議事録.txt").exists()
    });
    d.wait_for("device-name folder", || d.dir("clean/_CON/a.txt").exists());

    // A name collision never overwrites.
    d.drop_file("dup.txt", b"one\n");
    d.wait_for("dup.txt", || d.dir("clean/dup.txt").exists());
    d.drop_file("dup.txt", b"two\n");
    d.wait_for("dup (1).txt", || d.dir("clean/dup (1).txt").exists());
    assert_eq!(std::fs::read(d.dir("clean/dup.txt")).unwrap(), b"one\n");
    assert_eq!(std::fs::read(d.dir("clean/dup (1).txt")).unwrap(), b"two\n");

    // Sanitised, blocked and unknown files.
    d.drop_file("list.csv", b"name,value\n=1+2,3\n");
    d.drop_file("tool.exe", EXE);
    d.drop_file(
        "blob.dat",
        &[
            0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 0xff, 0xfe, 7, 9, 0, 0, 1,
        ],
    );
    d.wait_for("blocked files", || {
        d.dir("clean/tool.exe.mugai.txt").exists() && d.dir("clean/blob.dat.mugai.txt").exists()
    });
    d.wait_for("list.csv", || d.dir("clean/list.csv.mugai.txt").exists());
    let csv = std::fs::read_to_string(d.dir("clean/list.csv")).unwrap();
    assert!(csv.contains("'=1+2"), "{csv}");
    let notice = std::fs::read_to_string(d.dir("clean/list.csv.mugai.txt")).unwrap();
    assert!(
        notice.contains("無害化済み") && notice.contains("text.formula"),
        "{notice}"
    );
    let notice = std::fs::read_to_string(d.dir("clean/tool.exe.mugai.txt")).unwrap();
    assert!(
        notice.contains("遮断") && notice.contains("type.executable"),
        "{notice}"
    );
    assert!(!d.dir("clean/tool.exe").exists());
    assert!(
        !d.dir("clean/report.txt.mugai.txt").exists(),
        "clean files get no notice"
    );

    // Everything taken is gone from the inbox; only the ignored names stay.
    d.wait_for("empty inbox", || d.inbox_files().len() == 3);

    // Originals and quarantine, one directory per job under the day.
    d.wait_for("nine records", || d.audit_records().len() == 9);
    d.wait_for("work to finish", || {
        files_under(&d.dir("state/work")).is_empty()
    });
    let records = d.audit_records();
    for r in &records {
        let id = r["id"].as_str().unwrap();
        let day = &r["time"].as_str().unwrap()[..10];
        let name = r["path"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        if r["verdict"] == "blocked" {
            let q = d.dir("quarantine").join(day).join(id);
            assert_eq!(
                sha(&std::fs::read(q.join(&name)).unwrap()),
                r["sha256"].as_str().unwrap()
            );
            let reason: serde_json::Value =
                serde_json::from_slice(&std::fs::read(q.join("reason.json")).unwrap()).unwrap();
            assert_eq!(reason["reason"]["code"], r["codes"][0]);
        } else {
            let o = d.dir("originals").join(day).join(id).join(&name);
            assert_eq!(
                sha(&std::fs::read(&o).unwrap()),
                r["sha256"].as_str().unwrap(),
                "{}",
                o.display()
            );
            let out = r["output"].as_str().unwrap();
            assert_eq!(
                sha(&std::fs::read(d.root.join(out)).unwrap()),
                r["output_sha256"].as_str().unwrap()
            );
        }
    }
    let by_path: BTreeMap<&str, &str> = records
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(by_path["list.csv"], "sanitized");
    assert_eq!(by_path["tool.exe"], "blocked");
    assert_eq!(by_path["blob.dat"], "blocked");
    assert_eq!(by_path["slow.txt"], "clean");

    // Metrics (counted just after the audit record is written).
    d.wait_for("metrics of nine files", || {
        http_get(port).contains("mugai_latency_seconds_count 9")
    });
    let m = http_get(port);
    assert!(
        m.contains("mugai_files_total{verdict=\"blocked\",type=\"executable\"} 1"),
        "{m}"
    );
    assert!(m.contains("mugai_latency_seconds_count 9"), "{m}");
    assert!(m.contains("mugai_queue_depth 0"), "{m}");

    assert!(d.stop().success(), "{}", d.log());
    // No temporary file is left in the clean tree.
    assert!(files_under(&d.dir("clean"))
        .iter()
        .all(|f| !f.contains(".mugai-tmp")));
    let o = util::run(&[
        "audit".as_ref(),
        "verify".as_ref(),
        d.dir("audit").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn retention_prunes_old_days_and_daily_notice() {
    let mut d = D::new(&config("retention_days = 7\nnotice = \"daily\""));
    for root in ["originals", "quarantine"] {
        for day in ["2000-01-01", "2001-12-31"] {
            let p = d.dir(root).join(day).join("x");
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("old.txt"), b"old").unwrap();
        }
    }
    d.start();
    d.drop_file("a.csv", b"=HYPERLINK(\"http://x\"),1\n");
    d.drop_file("b.exe", EXE);
    d.wait_for("both handled", || d.audit_records().len() == 2);
    let days = |root: &str| -> Vec<String> {
        sorted_files(&d.dir(root))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    // Judge the folders once both files are in today's, not only in the
    // audit log.
    d.wait_for("today's folders", || {
        ["originals", "quarantine"]
            .iter()
            .all(|r| days(r).iter().any(|d| d.as_str() > "2001-12-31"))
    });
    for root in ["originals", "quarantine"] {
        let days = days(root);
        assert_eq!(days.len(), 1, "{root}: {days:?}");
        assert!(days[0].as_str() > "2001-12-31", "{days:?}");
    }
    let day = &d.audit_records()[0]["time"].as_str().unwrap()[..10].to_string();
    d.wait_for("notice", || {
        std::fs::read_to_string(d.dir("clean").join(format!("mugai-notice-{day}.txt")))
            .is_ok_and(|t| t.contains("type.executable") && t.contains("text.formula"))
    });
    assert!(!d.dir("clean/a.csv.mugai.txt").exists());
    assert!(d.stop().success());
}

#[test]
fn sighup_reloads_a_good_config_and_keeps_the_old_on_a_bad_one() {
    let mut d = D::new(&config(""));
    d.start();
    d.drop_file("one.txt", b"one\n");
    d.wait_for("one.txt", || d.dir("clean/one.txt").exists());

    // Good: text is no longer allowed.
    std::fs::write(&d.config, config("") + "[types]\nallow = [\"csv\"]\n").unwrap();
    d.signal("-HUP");
    d.wait_for("reload", || d.log().contains("configuration reloaded"));
    d.drop_file("two.txt", b"two\n");
    d.wait_for("two.txt blocked", || {
        d.dir("clean/two.txt.mugai.txt").exists()
    });
    assert!(!d.dir("clean/two.txt").exists());

    // Bad: rejected, the previous configuration stays in force.
    std::fs::write(&d.config, "[daemon]\nsettle_ms = \"soon\"\n[nonsense]\n").unwrap();
    d.signal("-HUP");
    d.wait_for("rejection", || {
        d.log().contains("configuration reload rejected")
    });
    assert!(d.log().contains("daemon.settle_ms"), "{}", d.log());
    d.drop_file("three.txt", b"three\n");
    d.drop_file("four.csv", b"a,b\n");
    d.wait_for("four.csv", || d.dir("clean/four.csv").exists());
    d.wait_for("three.txt blocked", || {
        d.dir("clean/three.txt.mugai.txt").exists()
    });
    assert!(!d.dir("clean/three.txt").exists());
    assert!(d.stop().success());
}

#[test]
fn sigterm_drains_in_flight_work() {
    let mut d = D::new(
        &(config("workers = 1").replace("workers = 2\n", "") + "[limits]\ndeadline_secs = 2\n"),
    );
    d.start();
    // A file whose rebuild hangs until the deadline, then more behind it.
    d.drop_file("slow", b"MUGAI-TEST-HOOK:loop");
    d.wait_for("slow claimed", || !d.dir("inbox/slow").exists());
    for i in 0..5 {
        d.drop_file(&format!("after{i}.txt"), b"later\n");
    }
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    let st = d.stop();
    assert!(st.success(), "{st}: {}", d.log());
    // It waited for the hung file to be finished (killed at its deadline).
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    let records = d.audit_records();
    let slow = records
        .iter()
        .find(|r| r["path"] == "slow")
        .expect("slow was finished");
    assert_eq!(slow["verdict"], "blocked");
    assert_eq!(slow["codes"][0], "limit.time", "{slow}");
    // Every other file is either fully handled or untouched in the inbox.
    let inbox = d.inbox_files();
    for i in 0..5 {
        let n = format!("after{i}.txt");
        let handled = records.iter().filter(|r| r["path"] == n.as_str()).count();
        let waiting = inbox.contains(&n) as usize;
        assert_eq!(handled + waiting, 1, "{n}");
        assert_eq!(d.dir("clean").join(&n).exists(), handled == 1, "{n}");
    }
    assert!(files_under(&d.dir("state/work")).is_empty());
    // On restart the waiting files are taken.
    d.start();
    d.wait_for("the rest", || d.inbox_files().is_empty());
    d.wait_for("all records", || d.audit_records().len() == 6);
    assert!(d.stop().success());
}

/// A deterministic mixed burst: clean text, sanitisable CSV, executables,
/// unknown binary data; in subfolders.
fn burst(n: usize) -> Vec<(String, Vec<u8>, &'static str)> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|i| {
            let dir = format!("課{}", i % 7);
            match i % 4 {
                0 => (
                    format!("{dir}/note{i}.txt"),
                    format!("note {i}\nline two\n").into_bytes(),
                    "clean",
                ),
                1 => (
                    format!("{dir}/sheet{i}.csv"),
                    format!("a,b\n=SUM(A{i}),{i}\n").into_bytes(),
                    "sanitized",
                ),
                2 => {
                    let mut b = EXE.to_vec();
                    b.extend((0..64).map(|_| rnd() as u8));
                    (format!("{dir}/tool{i}.exe"), b, "blocked")
                }
                _ => {
                    let mut b: Vec<u8> = (0..512).map(|_| rnd() as u8).collect();
                    b[0] = 0x00;
                    b[1] = 0xff;
                    (format!("{dir}/blob{i}.dat"), b, "blocked")
                }
            }
        })
        .collect()
}

#[test]
fn crash_burst_with_repeated_kill_9_ends_in_exactly_one_place() {
    let mut d = D::new(&config("settle_ms = 100").replace("settle_ms = 300\n", ""));
    let files = burst(520);
    d.start();
    for (rel, bytes, _) in &files {
        d.drop_file(rel, bytes);
    }
    // Kill -9 at pseudo-random moments while the burst is being handled.
    let mut nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut kills = 0;
    while kills < 4 {
        nanos = nanos
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(150 + (nanos >> 33) % 900));
        d.kill9();
        kills += 1;
        d.start();
    }
    d.wait_for("the inbox to empty", || d.inbox_files().is_empty());
    d.wait_for("work to finish", || {
        files_under(&d.dir("state/work")).is_empty()
    });
    assert!(d.stop().success());
    let log = d.log();
    assert!(
        log.contains("recovering") || log.matches("mugai daemon ready").count() == 5,
        "{log}"
    );

    // One audit record per input, with the expected verdict and hash.
    let records = d.audit_records();
    let mut by_path: BTreeMap<String, &serde_json::Value> = BTreeMap::new();
    for r in &records {
        let p = r["path"].as_str().unwrap().to_string();
        assert!(
            by_path.insert(p.clone(), r).is_none(),
            "two records for {p}"
        );
    }
    assert_eq!(by_path.len(), files.len());
    let mut clean_expected = BTreeSet::new();
    let (mut originals, mut quarantined, mut notices) = (0, 0, 0);
    for (rel, bytes, verdict) in &files {
        let r = by_path[rel.as_str()];
        assert_eq!(r["verdict"], *verdict, "{rel}");
        assert_eq!(r["sha256"].as_str().unwrap(), sha(bytes), "{rel}");
        let id = r["id"].as_str().unwrap();
        let day = &r["time"].as_str().unwrap()[..10];
        let name = rel.rsplit('/').next().unwrap();
        if *verdict == "blocked" {
            let q = d.dir("quarantine").join(day).join(id);
            assert_eq!(
                sha(&std::fs::read(q.join(name)).unwrap()),
                sha(bytes),
                "{rel}"
            );
            assert!(q.join("reason.json").exists());
            quarantined += 1;
            notices += 1;
        } else {
            let out = r["output"]
                .as_str()
                .unwrap()
                .strip_prefix("clean/")
                .unwrap()
                .to_string();
            assert_eq!(out, *rel, "no numbered duplicate for {rel}");
            let got = std::fs::read(d.dir("clean").join(&out)).unwrap();
            assert_eq!(sha(&got), r["output_sha256"].as_str().unwrap());
            clean_expected.insert(out);
            let o = d.dir("originals").join(day).join(id).join(name);
            assert_eq!(sha(&std::fs::read(&o).unwrap()), sha(bytes), "{rel}");
            originals += 1;
            if *verdict == "sanitized" {
                notices += 1;
            }
        }
    }
    // Nothing else in the clean tree: no duplicate, no partial, no temp file.
    let clean = files_under(&d.dir("clean"));
    let (notice_files, outputs): (Vec<_>, Vec<_>) =
        clean.iter().partition(|f| f.ends_with(".mugai.txt"));
    let outputs: BTreeSet<String> = outputs.into_iter().cloned().collect();
    assert_eq!(outputs, clean_expected);
    assert_eq!(
        notice_files.len(),
        notices,
        "one notice per sanitised or blocked file"
    );
    assert_eq!(files_under(&d.dir("originals")).len(), originals);
    assert_eq!(files_under(&d.dir("quarantine")).len(), 2 * quarantined);

    let o = util::run(&[
        "audit".as_ref(),
        "verify".as_ref(),
        d.dir("audit").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn audit_verify_finds_each_tampering_with_its_position() {
    let mut d = D::new(&config(""));
    d.start();
    for i in 0..6 {
        d.drop_file(&format!("f{i}.txt"), format!("file {i}\n").as_bytes());
    }
    d.wait_for("six records", || d.audit_records().len() == 6);
    assert!(d.stop().success());
    let file = sorted_files(&d.dir("audit")).remove(0);
    let lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let verify = |lines: &[String]| {
        let p = d.root.join("tampered.jsonl");
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        let o = util::run(&["audit".as_ref(), "verify".as_ref(), p.as_os_str()]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, out) = verify(&lines);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("6 record(s)"), "{out}");

    let mut edited = lines.clone();
    edited[2] = edited[2].replacen("\"size\":7", "\"size\":8", 1);
    assert_ne!(edited[2], lines[2]);
    let (code, out) = verify(&edited);
    assert_eq!(code, Some(1));
    assert!(out.contains("record 3 ") && out.contains("edited"), "{out}");

    let mut deleted = lines.clone();
    deleted.remove(3);
    let (code, out) = verify(&deleted);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("record 4 ") && out.contains("deleted"),
        "{out}"
    );

    let mut inserted = lines.clone();
    inserted.insert(5, lines[1].clone());
    let (code, out) = verify(&inserted);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("record 6 ") && out.contains("inserted"),
        "{out}"
    );

    let mut swapped = lines.clone();
    swapped.swap(0, 1);
    let (code, out) = verify(&swapped);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("record 1 ") && out.contains("reordered"),
        "{out}"
    );

    let o = util::run(&[
        "audit".as_ref(),
        "summary".as_ref(),
        d.dir("audit").as_os_str(),
    ]);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && s.contains("records: 6") && s.contains("clean"),
        "{s}"
    );
}

#[test]
fn systemd_units_are_hardened_to_an_exposure_of_1_or_less() {
    for unit in [
        "mugai.service",
        "mugai-relay.service",
        "mugai-icap.service",
        "mugai-serve.service",
    ] {
        check_unit(unit);
    }
    // The LGWAN-side reader's group: set up, and the clean folder setgid.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../systemd");
    let sysusers = std::fs::read_to_string(dir.join("mugai.sysusers")).unwrap();
    assert!(sysusers.contains("\ng mugai-lgwan -") && sysusers.contains("\nm mugai mugai-lgwan"));
    let tmpfiles = std::fs::read_to_string(dir.join("mugai.tmpfiles")).unwrap();
    assert!(
        tmpfiles.contains("/srv/mugai/clean          2750 mugai mugai-lgwan"),
        "{tmpfiles}"
    );
}

fn check_unit(name: &str) {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../systemd")
        .join(name);
    let text = std::fs::read_to_string(&unit).unwrap();
    for line in [
        "Type=notify",
        "ExecStartPre=/usr/bin/mugai check-config",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "UMask=0077",
        "MemoryMax=",
        "WatchdogSec=",
    ] {
        assert!(text.contains(line), "missing {line:?}");
    }
    let Ok(o) = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
    else {
        crate::util::skip(
            "the exposure score: systemd-analyze is not installed (apt-get install systemd)",
        );
        return;
    };
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no score: {out}{}", String::from_utf8_lossy(&o.stderr)));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unreadable score line {line:?}"));
    eprintln!("systemd-analyze security: {line}");
    assert!(score <= 1.0, "{line}");
    if name == "mugai.service" {
        assert!(text.contains("PrivateNetwork=yes"));
    } else {
        assert!(text.contains("IPAddressDeny=any\nIPAddressAllow=localhost"));
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

#[test]
fn idle_cpu_is_near_zero_with_subfolders_present() {
    let mut d = D::new(&config(""));
    // Empty, nested and non-empty subfolders, and entries never taken.
    for sub in ["empty", "a/b/c", "課/2026"] {
        std::fs::create_dir_all(d.dir("inbox").join(sub)).unwrap();
    }
    std::fs::write(d.dir("inbox/a/b/.keep"), b"").unwrap();
    std::fs::write(d.dir("inbox/課/~$lock.docx"), b"lock").unwrap();
    d.start();
    d.drop_file("a/b/c/one.txt", b"one\n");
    d.drop_file("課/2026/two.txt", b"two\n");
    d.wait_for("both taken", || d.audit_records().len() == 2);
    std::thread::sleep(Duration::from_secs(2));
    let (t0, c0) = (Instant::now(), cpu_ticks(d.pid()));
    std::thread::sleep(Duration::from_secs(10));
    let used = (cpu_ticks(d.pid()) - c0) as f64 / clock_ticks_per_second() as f64;
    let share = used / t0.elapsed().as_secs_f64();
    eprintln!(
        "idle daemon: {used:.2} s of CPU in 10 s ({:.2}% of a core)",
        share * 100.0
    );
    assert!(share <= 0.02, "idle CPU {:.1}% of a core", share * 100.0);
    // Still responsive, with the subfolders there.
    d.drop_file("a/b/c/three.txt", b"three\n");
    d.wait_for("three.txt", || d.dir("clean/a/b/c/three.txt").exists());
    // Clean outputs readable by the reader's group, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(d.dir(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("clean/a/b/c/three.txt"), 0o640);
    assert_eq!(mode("clean/a/b/c"), 0o750);
    // No colour codes when stderr is not a terminal.
    assert!(!d.log().contains('\u{1b}'), "{}", d.log());
    // Emptied subfolders went (not the inbox, not a folder with entries).
    d.wait_for("emptied subfolders removed", || {
        !d.dir("inbox/empty").exists() && !d.dir("inbox/課/2026").exists()
    });
    assert!(d.dir("inbox/a/b").exists() && d.dir("inbox/課").exists());
    assert!(d.stop().success());
}

#[test]
fn unaccepted_entries_are_reported_once_then_quarantined_with_a_reason() {
    let mut d = D::new(&config("unaccepted_after_secs = 4"));
    let outside = d.root.join("outside.txt");
    std::fs::write(&outside, b"outside the inbox\n").unwrap();
    d.start();
    std::os::unix::fs::symlink(&outside, d.dir("inbox/link.txt")).unwrap();
    d.drop_file(".hidden.txt", b"hidden\n");
    d.drop_file("~$report.docx", b"lock\n");
    d.drop_file("upload.part", b"partial\n");
    d.drop_file(".git/config", b"[core]\n");
    let fifo = std::process::Command::new("mkfifo")
        .arg(d.dir("inbox/pipe"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let names = [
        ".git",
        ".hidden.txt",
        "link.txt",
        "pipe",
        "upload.part",
        "~$report.docx",
    ];
    let unaccepted = |verdict: &str| -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for r in d.all_audit_records() {
            if r["verdict"] == verdict {
                *m.entry(r["path"].as_str().unwrap().to_string())
                    .or_default() += 1;
                assert!(
                    r["reason"]
                        .as_str()
                        .unwrap()
                        .starts_with("inbox.unaccepted: "),
                    "{r}"
                );
            }
        }
        m
    };
    d.wait_for("every entry reported", || {
        unaccepted("unaccepted").len() == names.len()
    });
    d.wait_for("every entry quarantined", || {
        unaccepted("blocked").len() == names.len()
    });
    assert_eq!(
        d.inbox_files(),
        Vec::<String>::new(),
        "{:?}",
        d.inbox_files()
    );
    // Reported once each although several rescans saw them.
    for (n, count) in unaccepted("unaccepted") {
        assert_eq!(count, 1, "{n} reported {count} times");
    }
    assert_eq!(
        unaccepted("blocked").keys().cloned().collect::<Vec<_>>(),
        names.to_vec()
    );
    let log = d.log();
    assert!(
        log.contains("symbolic link") && log.contains("temporary upload name"),
        "{log}"
    );
    assert!(!log.contains("Some("), "{log}");
    // In quarantine as they were, each with its reason; the link's target
    // stays where it was; nothing reached the clean folder.
    let mut reasons = BTreeMap::new();
    for r in d
        .all_audit_records()
        .iter()
        .filter(|r| r["verdict"] == "blocked")
    {
        let q = d.root.join(r["output"].as_str().unwrap());
        let reason: serde_json::Value =
            serde_json::from_slice(&std::fs::read(q.join("reason.json")).unwrap()).unwrap();
        let name = r["path"].as_str().unwrap();
        let kept: Vec<_> = std::fs::read_dir(&q)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(kept.len(), 2, "{name}: {kept:?} in {}", q.display());
        reasons.insert(
            name.to_string(),
            reason["reason"].as_str().unwrap().to_string(),
        );
    }
    assert!(reasons["link.txt"].contains("symbolic link"), "{reasons:?}");
    assert!(reasons["pipe"].contains("special file"), "{reasons:?}");
    assert!(reasons[".git"].contains("hidden"), "{reasons:?}");
    assert!(
        reasons["upload.part"].contains("temporary upload"),
        "{reasons:?}"
    );
    assert_eq!(std::fs::read(&outside).unwrap(), b"outside the inbox\n");
    assert!(files_under(&d.dir("clean")).is_empty());
    assert!(d.stop().success());
    let o = util::run(&[
        "audit".as_ref(),
        "verify".as_ref(),
        d.dir("audit").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn an_upload_that_pauses_longer_than_the_settle_time_is_taken_whole() {
    let mut d = D::new(&config(""));
    d.start();
    let p = d.dir("inbox/upload.txt");
    let mut f = std::fs::File::create(&p).unwrap();
    for i in 0..3 {
        writeln!(f, "part {i}").unwrap();
        f.flush().unwrap();
        // Four settle times without a change, the writer still holding it.
        std::thread::sleep(Duration::from_millis(1200));
        assert!(p.exists(), "taken while its writer still had it open");
    }
    drop(f);
    d.wait_for("upload.txt", || d.dir("clean/upload.txt").exists());
    assert_eq!(
        std::fs::read_to_string(d.dir("clean/upload.txt")).unwrap(),
        "part 0\npart 1\npart 2\n"
    );
    assert_eq!(files_under(&d.dir("clean")), vec!["upload.txt"]);
    assert!(d.stop().success());
}

#[test]
fn a_subfolder_swapped_for_a_link_while_the_daemon_runs_leads_nowhere() {
    let mut d = D::new(&config("settle_ms = 50").replace("settle_ms = 300\n", ""));
    let victim = d.root.join("victim");
    std::fs::create_dir(&victim).unwrap();
    for i in 0..5 {
        std::fs::write(
            victim.join(format!("secret{i}.txt")),
            format!("SECRET {i}\n"),
        )
        .unwrap();
    }
    let sub = d.dir("inbox/sub");
    std::fs::create_dir(&sub).unwrap();
    d.start();
    // One record first, so that the audit log exists as a target too.
    d.drop_file("first.txt", b"first\n");
    d.wait_for("first", || d.audit_records().len() == 1);
    let audit_files = sorted_files(&d.dir("audit"));
    let audit_before: Vec<Vec<u8>> = audit_files
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (stop, inbox, targets) = (
            stop.clone(),
            d.dir("inbox"),
            [victim.clone(), d.dir("audit")],
        );
        std::thread::spawn(move || {
            let (real, aside) = (inbox.join("sub"), inbox.join("sub.real"));
            let mut n = 0u64;
            let mut seed = 0x2545_f491_4f6c_dd1du64;
            let mut pause = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                Duration::from_micros(seed % 15_000)
            };
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if std::fs::rename(&real, &aside).is_ok() {
                    let _ = std::os::unix::fs::symlink(&targets[(n % 2) as usize], &real);
                    std::thread::sleep(pause());
                    let _ = std::fs::remove_file(&real);
                    let _ = std::fs::rename(&aside, &real);
                    n += 1;
                }
                std::thread::sleep(pause());
            }
            n
        })
    };
    // Files keep arriving in the real subfolder (written through its handle).
    let handle = std::fs::File::open(&sub).unwrap();
    let by_handle = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&handle)
    ));
    // The names dropped are those of the victims: a path recorded in the
    // real subfolder names a victim once the subfolder is a link.
    let audit_name = audit_files[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let names: Vec<String> = (0..5)
        .map(|i| format!("secret{i}.txt"))
        .chain([audit_name.clone()])
        .collect();
    let t = Instant::now();
    let mut dropped = 0;
    while t.elapsed() < Duration::from_secs(8) {
        for n in &names {
            let p = by_handle.join(n);
            if !p.exists() {
                std::fs::write(&p, format!("ordinary {dropped}\n")).unwrap();
                dropped += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!("{swaps} swaps, {dropped} files dropped during the race");
    assert!(swaps > 300, "only {swaps} swaps");
    d.wait_for("the dropped files to be taken", || {
        std::fs::read_dir(&sub).map_or(true, |rd| rd.count() == 0)
    });
    assert!(d.stop().success(), "{}", d.log());

    // The victim and the audit log untouched; nothing from them delivered.
    for i in 0..5 {
        assert_eq!(
            std::fs::read_to_string(victim.join(format!("secret{i}.txt"))).unwrap(),
            format!("SECRET {i}\n")
        );
    }
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 5);
    for (f, before) in audit_files.iter().zip(&audit_before) {
        let now = std::fs::read(f).unwrap();
        assert!(
            now.starts_with(before),
            "{} was moved or rewritten",
            f.display()
        );
    }
    for root in ["clean", "originals", "quarantine"] {
        for f in files_under(&d.dir(root)) {
            let p = d.dir(root).join(&f);
            if p.symlink_metadata().unwrap().is_symlink() {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            assert!(
                !text.contains("SECRET") && !text.contains("\"prev\""),
                "{root}/{f} came from outside the inbox: {text}"
            );
        }
    }
    // Each dropped file taken once, under `sub/` or, when a scan came by
    // while the swapper had it aside, `sub.real/` (both inside the inbox).
    let mut taken = 0;
    for r in d.audit_records() {
        let p = r["path"].as_str().unwrap();
        let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
        if names.iter().any(|n| n == name) {
            assert!(dir == "sub" || dir == "sub.real", "{p}");
            taken += 1;
        }
    }
    assert_eq!(taken, dropped, "every dropped file taken once");
    let o = util::run(&[
        "audit".as_ref(),
        "verify".as_ref(),
        d.dir("audit").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn audit_verify_refuses_nothing_to_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"not a log\n").unwrap();
    let blank = tmp.path().join("audit-2026-12-01.jsonl");
    std::fs::write(&blank, b"").unwrap();
    let text = tmp.path().join("text.jsonl");
    std::fs::write(&text, b"{\"a\":1}\n").unwrap();
    let missing = tmp.path().join("missing");
    for (p, want) in [
        (&empty, "holds no audit log"),
        (&other, "holds no audit log"),
        (&blank, "no records"),
        (&text, "record 1 "),
        (&missing, "no such audit log"),
    ] {
        let o = util::run(&["audit".as_ref(), "verify".as_ref(), p.as_os_str()]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{}: {out}", p.display());
        assert!(
            out.contains("FAILED") && out.contains(want),
            "{}: {out}",
            p.display()
        );
    }
}
