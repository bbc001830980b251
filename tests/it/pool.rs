//! Integration tests: rebuilders that panic, abort, allocate without bound
//! or loop forever block their own file with the right code, and the batch
//! goes on. (The misbehaving rebuilders exist only in test builds.)

use crate::util;
use std::fs;

#[test]
fn each_failure_blocks_only_its_own_file_with_the_right_code() {
    let src = tempfile::tempdir().unwrap();
    let hooks = [
        ("panic", "rebuild.failed"),
        ("abort", "worker.crashed"),
        ("alloc", "limit.memory"),
        ("loop", "limit.time"),
    ];
    for (h, _) in hooks {
        fs::write(
            src.path().join(format!("{h}.txt")),
            format!("MUGAI-TEST-HOOK:{h}"),
        )
        .unwrap();
    }
    for i in 0..6 {
        fs::write(src.path().join(format!("ok{i}.txt")), format!("fine {i}\n")).unwrap();
    }
    let policy = src.path().join("../mugai-test-policy.toml");
    fs::write(
        &policy,
        "[limits]\ndeadline_secs = 2\nworker_memory_mib = 256\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let (o, lines) = util::sanitize_json(
        src.path(),
        out.path(),
        &["--policy", policy.to_str().unwrap(), "--workers", "2"],
    );
    let _ = fs::remove_file(&policy);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(lines.len(), 10);
    for (h, code) in hooks {
        let l = lines
            .iter()
            .find(|l| l["input"].as_str().unwrap().ends_with(&format!("/{h}.txt")))
            .unwrap();
        assert_eq!(l["verdict"], "blocked", "{h}: {l}");
        assert!(
            l["reason"].as_str().unwrap().starts_with(code),
            "{h}: want {code}, got {}",
            l["reason"]
        );
    }
    for i in 0..6 {
        let l = lines
            .iter()
            .find(|l| {
                l["input"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/ok{i}.txt"))
            })
            .unwrap();
        assert_eq!(l["verdict"], "clean", "ok{i}: {l}");
        assert_eq!(
            fs::read_to_string(out.path().join(format!("ok{i}.txt"))).unwrap(),
            format!("fine {i}\n")
        );
    }
}

#[test]
fn in_process_path_contains_panics_too() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("p.txt"), "MUGAI-TEST-HOOK:panic").unwrap();
    let out = tempfile::tempdir().unwrap();
    let (o, lines) = util::sanitize_json(src.path(), out.path(), &["--in-process"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(lines[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("rebuild.failed"));
}

/// Writes one test-hook file per command and `n` plain text files.
fn hook_batch(dir: &std::path::Path, hooks: &[&str], n: usize) {
    for h in hooks {
        fs::write(dir.join(format!("{h}.txt")), format!("MUGAI-TEST-HOOK:{h}")).unwrap();
    }
    for i in 0..n {
        fs::write(dir.join(format!("ok{i}.txt")), format!("fine {i}\n")).unwrap();
    }
}

fn line_for<'a>(lines: &'a [serde_json::Value], file: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["input"].as_str().unwrap().ends_with(&format!("/{file}")))
        .unwrap_or_else(|| panic!("no report for {file}"))
}

/// The escape attempts of a subverted parser: each kills its worker (the
/// seccomp filter), its file is blocked `worker.violation`, and the other
/// files of the batch come out as usual.
fn assert_escapes_are_contained(wrap: &[&str]) {
    let src = tempfile::tempdir().unwrap();
    let escapes = ["open", "socket", "exec", "write", "fork"];
    hook_batch(src.path(), &escapes, 6);
    hook_batch(src.path(), &["thread"], 0);
    let out = tempfile::tempdir().unwrap();
    let mut cmd = if wrap.is_empty() {
        util::mugai()
    } else {
        let mut c = std::process::Command::new(wrap[0]);
        c.args(&wrap[1..]).arg(env!("CARGO_BIN_EXE_mugai"));
        c
    };
    let o = cmd
        .args(["sanitize", "--json", "--workers", "2", "--out"])
        .arg(out.path())
        .arg(src.path())
        .output()
        .unwrap();
    let lines = util::json_lines(&o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(lines.len(), 12, "{stderr}");
    for h in escapes {
        let l = line_for(&lines, &format!("{h}.txt"));
        assert_eq!(l["verdict"], "blocked", "{h}: {l}");
        let reason = l["reason"].as_str().unwrap();
        assert!(reason.starts_with("worker.violation"), "{h}: {reason}");
        assert!(reason.contains("SIGSYS"), "{h}: {reason}");
    }
    // Threads are not an escape: a rebuilder may use them.
    let l = line_for(&lines, "thread.txt");
    assert_eq!(l["verdict"], "clean", "{l}");
    for i in 0..6 {
        let l = line_for(&lines, &format!("ok{i}.txt"));
        assert_eq!(l["verdict"], "clean", "ok{i}: {l}");
        assert_eq!(
            fs::read_to_string(out.path().join(format!("ok{i}.txt"))).unwrap(),
            format!("fine {i}\n")
        );
    }
    for e in fs::read_dir(out.path()).unwrap() {
        let text = fs::read(e.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&text).contains("ESCAPED"));
    }
}

#[test]
fn a_subverted_worker_can_open_connect_exec_write_or_fork_nothing() {
    assert_escapes_are_contained(&[]);
}

/// The shipped unit runs the daemon with its own user, network and IPC
/// namespaces, no capabilities and no-new-privileges. `systemd-run` needs
/// a running systemd; `unshare` and `setpriv` give the same restrictions,
/// and the workers must still confine themselves inside them.
#[test]
fn workers_confine_themselves_under_the_units_restrictions() {
    let have = |p: &str| std::path::Path::new(p).exists();
    if !(have("/usr/bin/unshare") && have("/usr/bin/setpriv")) {
        util::skip("unshare/setpriv are not installed (util-linux)");
        return;
    }
    assert_escapes_are_contained(&[
        "unshare",
        "--user",
        "--map-root-user",
        "--net",
        "--ipc",
        "--mount",
        "setpriv",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ]);
}

/// The PIDs of the worker processes whose parent is `parent`.
fn workers_of(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let status = fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .map(|v| v.trim().parse::<u32>().unwrap_or(0));
        if ppid == Some(parent) && String::from_utf8_lossy(&cmdline).contains("__worker") {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_running_worker_has_no_new_privs_a_seccomp_filter_and_a_cpu_limit_per_file() {
    let src = tempfile::tempdir().unwrap();
    hook_batch(src.path(), &["hold"], 0);
    let out = tempfile::tempdir().unwrap();
    let child = util::mugai()
        .args(["sanitize", "--json", "--workers", "1", "--out"])
        .arg(out.path())
        .arg(src.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A worker just started has not confined itself yet (it does so
    // before reading the file, which holds it for 3 s): watch until it
    // has, or the time is up, and judge the last state seen.
    let start = std::time::Instant::now();
    let mut status: Option<String> = None;
    let mut cpu = (u64::MAX, 0);
    while start.elapsed() < std::time::Duration::from_secs(10) {
        if let Some((s, l)) = workers_of(child.id()).into_iter().find_map(|pid| {
            let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            Some((s, fs::read_to_string(format!("/proc/{pid}/limits")).ok()?))
        }) {
            let confined = s
                .lines()
                .any(|l| l.starts_with("Seccomp:") && l.ends_with('2'));
            status = Some(s);
            cpu = cpu_time_limits(&l);
            // The per-file limit is set once the file has arrived.
            if confined && cpu.0 <= PER_FILE_CPU_MAX {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    let status = status.expect("no worker process seen");
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(field("NoNewPrivs:"), "1", "{status}");
    assert_eq!(field("Seccomp:"), "2", "{status}");
    // The default deadline is 60 s and a worker serves 10 files: the hard
    // limit is the worker's whole budget, the soft one this file's 60 s
    // (plus the second or so the worker has used before it).
    assert!(cpu.0 <= PER_FILE_CPU_MAX, "soft CPU limit {cpu:?}");
    assert!(cpu.1 >= 600, "hard CPU limit {cpu:?}");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The highest soft CPU limit a worker may have while it rebuilds a file
/// under the default 60 s deadline.
const PER_FILE_CPU_MAX: u64 = 62;

/// The soft and hard "Max cpu time" of a `/proc/PID/limits` text.
fn cpu_time_limits(limits: &str) -> (u64, u64) {
    let n = |v: Option<&str>| v.and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max cpu time"))
        .map(|l| {
            let mut v = l.split_whitespace();
            (n(v.next()), n(v.next()))
        })
        .unwrap_or((u64::MAX, 0))
}

/// `strace` makes the `seccomp` call fail in every worker: with the
/// layer required, the command stops with one line before touching a
/// file; with it best effort, the batch runs and check-config says so.
#[test]
fn a_missing_required_layer_stops_the_command_with_one_line() {
    if !std::path::Path::new("/usr/bin/strace").exists() {
        util::skip("strace is not installed (apt-get install strace)");
        return;
    }
    let src = tempfile::tempdir().unwrap();
    hook_batch(src.path(), &[], 2);
    let out = tempfile::tempdir().unwrap();
    let cfg = tempfile::NamedTempFile::new().unwrap();
    let run = |config: &str, args: &[&std::ffi::OsStr]| {
        fs::write(cfg.path(), config).unwrap();
        std::process::Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=seccomp"])
            .args(["-e", "inject=seccomp:error=ENOSYS"])
            .arg(env!("CARGO_BIN_EXE_mugai"))
            .args(args)
            .output()
            .unwrap()
    };
    let sanitize = |config: &str| {
        run(
            config,
            &[
                "sanitize".as_ref(),
                "--policy".as_ref(),
                cfg.path().as_os_str(),
                "--out".as_ref(),
                out.path().as_os_str(),
                src.path().as_os_str(),
            ],
        )
    };
    let o = sanitize("");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("`seccomp`"), "{stderr}");
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);

    let best = "[sandbox]\nseccomp = \"best_effort\"\n";
    let o = sanitize(best);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 2);

    let o = run(best, &["check-config".as_ref(), cfg.path().as_os_str()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("seccomp off"), "{text}");
    let o = util::run(&["check-config".as_ref()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("no_new_privs on, seccomp on"), "{text}");
}
