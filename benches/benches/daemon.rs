//! The whole transfer-share daemon: a burst of mixed files dropped into the
//! inbox of a running release `mugai daemon`; measures files/s sustained,
//! the latency from each file's last write to its result appearing on the
//! clean side (the sanitised file, or the notice of a blocked one), p50 and
//! p99, and the peak RSS of the daemon and of its largest worker.
//!
//! `cargo build --release -p mugai && cargo bench -p mugai-benches --bench daemon`
//! Environment: `MUGAI_BIN` (default `target/release/mugai`), `BENCH_FILES`
//! (default 1000), `BENCH_SETTLE_MS` (default 500).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00\x00\x00\x00\x00@\x00";

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// The mixed burst: text, CSV with formulas (sanitised), executables and
/// unknown binary data (blocked), a few KiB each, in ten subfolders.
fn burst(n: usize) -> Vec<(String, Vec<u8>, bool)> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|i| {
            let dir = format!("section{}", i % 10);
            match i % 4 {
                0 => {
                    let body: String = (0..100)
                        .map(|l| format!("報告 {i} 行 {l}: 本文の例です。\n"))
                        .collect();
                    (format!("{dir}/report{i}.txt"), body.into_bytes(), false)
                }
                1 => {
                    let body: String = (0..100)
                        .map(|l| format!("{l},=SUM(A{l}:B{l}),値{l}\n"))
                        .collect();
                    (format!("{dir}/table{i}.csv"), body.into_bytes(), false)
                }
                2 => {
                    let mut b = EXE.to_vec();
                    b.extend((0..4096).map(|_| rnd() as u8));
                    (format!("{dir}/setup{i}.exe"), b, true)
                }
                _ => {
                    let mut b: Vec<u8> = (0..4096).map(|_| rnd() as u8).collect();
                    b[0] = 0;
                    b[1] = 0xff;
                    (format!("{dir}/data{i}.bin"), b, true)
                }
            }
        })
        .collect()
}

fn hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn children(pid: u32) -> Vec<u32> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                v.extend(s.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
            }
        }
    }
    v
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let root_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = std::env::var_os("MUGAI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root_dir.join("target/release/mugai"));
    if !bin.exists() {
        eprintln!(
            "{} is missing: run `cargo build --release -p mugai` first",
            bin.display()
        );
        std::process::exit(2);
    }
    let n: usize = env_or("BENCH_FILES", 1000);
    let settle: u64 = env_or("BENCH_SETTLE_MS", 500);
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let config = root.join("mugai.toml");
    std::fs::write(
        &config,
        format!("[daemon]\nsettle_ms = {settle}\nrescan_secs = 5\n[log]\nlevel = \"warn\"\n"),
    )
    .expect("config");
    let sock_path = root.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).expect("socket");
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut cmd = Command::new(&bin);
    cmd.arg("daemon").arg("--config").arg(&config);
    for d in [
        "inbox",
        "clean",
        "quarantine",
        "originals",
        "state",
        "audit",
    ] {
        cmd.arg(format!("--{d}")).arg(root.join(d));
    }
    let mut child = cmd
        .env("NOTIFY_SOCKET", &sock_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let mut buf = [0u8; 64];
    let n_ready = sock.recv(&mut buf).expect("READY=1 from the daemon");
    assert!(String::from_utf8_lossy(&buf[..n_ready]).contains("READY=1"));

    let files = burst(n);
    let inbox = root.join("inbox");
    let clean = root.join("clean");
    let bytes: usize = files.iter().map(|f| f.1.len()).sum();
    let start = Instant::now();
    let mut pending: Vec<(PathBuf, Instant)> = Vec::with_capacity(n);
    for (rel, body, blocked) in &files {
        let p = inbox.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, body).expect("write");
        let written = Instant::now();
        let result = if *blocked {
            clean.join(format!("{rel}.mugai.txt"))
        } else {
            clean.join(rel)
        };
        pending.push((result, written));
    }
    let dropped = start.elapsed();
    let mut latencies = Vec::with_capacity(n);
    let mut peak_worker = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while !pending.is_empty() && Instant::now() < deadline {
        let now = Instant::now();
        pending.retain(|(p, t)| {
            if p.exists() {
                latencies.push(now - *t);
                false
            } else {
                true
            }
        });
        for c in children(child.id()) {
            peak_worker = peak_worker.max(hwm_kib(c).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let total = start.elapsed();
    let daemon_hwm = hwm_kib(child.id()).unwrap_or(0);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    assert!(
        pending.is_empty(),
        "{} file(s) never appeared",
        pending.len()
    );
    latencies.sort();
    println!(
        "daemon burst: {n} mixed files ({:.1} MiB; txt, csv, exe, unknown), settle {settle} ms",
        bytes as f64 / 1048576.0
    );
    println!(
        "  dropped in {:.2} s; all results after {:.2} s",
        dropped.as_secs_f64(),
        total.as_secs_f64()
    );
    println!("  sustained: {:.0} files/s", n as f64 / total.as_secs_f64());
    println!(
        "  latency last write -> result: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (includes the {settle} ms settle time)",
        pct(&latencies, 0.5).as_secs_f64() * 1e3,
        pct(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  peak RSS: daemon {} MiB, largest worker {} MiB",
        daemon_hwm / 1024,
        peak_worker / 1024
    );
}
