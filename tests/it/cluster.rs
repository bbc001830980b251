//! The cluster on real NATS JetStream servers started here: a worker and
//! a NATS server killed mid-run, and every file still ends exactly once in clean or
//! quarantine with exactly one audit record.

use crate::console::free_port;
use crate::util;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn nats_server() -> Option<PathBuf> {
    for p in [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ] {
        if Path::new(p).exists() {
            return Some(PathBuf::from(p));
        }
    }
    util::skip("nats-server is not installed (Debian package nats-server)");
    None
}

/// A child process killed (SIGKILL) and reaped when dropped.
struct Proc(Child);

impl Proc {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One nats-server of the test cluster.
struct Server {
    bin: PathBuf,
    name: String,
    port: u16,
    cluster_port: u16,
    routes: String,
    store: PathBuf,
    log: PathBuf,
}

impl Server {
    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn start(&self) -> Proc {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js"])
            .arg("-sd")
            .arg(&self.store)
            .args(["-n", &self.name]);
        if !self.routes.is_empty() {
            cmd.args(["--cluster_name", "mugai"])
                .args([
                    "--cluster",
                    &format!("nats://127.0.0.1:{}", self.cluster_port),
                ])
                .args(["--routes", &self.routes]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server {} did not listen",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Proc(child)
    }
}

fn servers(bin: &Path, base: &Path, n: usize) -> Vec<Server> {
    let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
    let routes = if n > 1 {
        ports
            .iter()
            .map(|(_, c)| format!("nats://127.0.0.1:{c}"))
            .collect::<Vec<_>>()
            .join(",")
    } else {
        String::new()
    };
    (0..n)
        .map(|i| Server {
            bin: bin.to_path_buf(),
            name: format!("s{}", i + 1),
            port: ports[i].0,
            cluster_port: ports[i].1,
            routes: routes.clone(),
            store: base.join(format!("nats-s{}", i + 1)),
            log: base.join(format!("nats-s{}.log", i + 1)),
        })
        .collect()
}

struct Layout {
    config: PathBuf,
    clean: PathBuf,
    quarantine: PathBuf,
    audit: PathBuf,
    base: PathBuf,
    urls: Vec<String>,
}

impl Layout {
    fn new(base: &Path, urls: Vec<String>, extra: &str) -> Layout {
        let config = base.join("mugai.toml");
        fs::write(&config, format!("[cluster]\n{extra}")).unwrap();
        Layout {
            config,
            clean: base.join("clean"),
            quarantine: base.join("quarantine"),
            audit: base.join("audit"),
            base: base.to_path_buf(),
            urls,
        }
    }

    fn nats_args(&self, cmd: &mut Command) {
        for u in &self.urls {
            cmd.arg("--nats").arg(u);
        }
    }

    fn worker(&self, node: &str) -> Proc {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.base.join(format!("{node}.log")))
            .unwrap();
        let mut cmd = util::mugai();
        cmd.args(["cluster", "worker", "--config"])
            .arg(&self.config);
        self.nats_args(&mut cmd);
        cmd.arg("--clean")
            .arg(&self.clean)
            .arg("--quarantine")
            .arg(&self.quarantine)
            .arg("--audit")
            .arg(self.audit.join(node))
            .args(["--node", node, "--workers", "1"])
            .env("RUST_LOG", "info");
        Proc(
            cmd.stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start worker"),
        )
    }

    fn submit(&self, inputs: &[&Path]) -> (Proc, PathBuf) {
        let out = self.base.join("submit.jsonl");
        let mut cmd = util::mugai();
        cmd.args(["cluster", "submit", "--config"])
            .arg(&self.config);
        self.nats_args(&mut cmd);
        cmd.args(["--submitter", "test"]).args(inputs);
        let child = cmd
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(self.base.join("submit.err")).unwrap())
            .spawn()
            .expect("start submit");
        (Proc(child), out)
    }

    /// Job folders in clean and quarantine that are final.
    fn placed(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let list = |dir: &Path, quarantine: bool| -> BTreeSet<String> {
            let Ok(rd) = fs::read_dir(dir) else {
                return BTreeSet::new();
            };
            rd.filter_map(|e| e.ok())
                .filter(|e| {
                    if quarantine {
                        e.path().join("reason.json").is_file()
                    } else {
                        fs::read_dir(e.path()).is_ok_and(|mut r| {
                            r.any(|f| {
                                f.is_ok_and(|f| {
                                    !f.file_name().to_string_lossy().starts_with(".mugai-tmp-")
                                })
                            })
                        })
                    }
                })
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        };
        (list(&self.clean, false), list(&self.quarantine, true))
    }

    /// Every audit record of every node, by node.
    fn audit_records(&self) -> BTreeMap<String, Vec<Value>> {
        let mut out = BTreeMap::new();
        let Ok(rd) = fs::read_dir(&self.audit) else {
            return out;
        };
        for node in rd.filter_map(|e| e.ok()) {
            let mut recs = Vec::new();
            for f in fs::read_dir(node.path()).unwrap().filter_map(|e| e.ok()) {
                for line in fs::read_to_string(f.path()).unwrap().lines() {
                    recs.push(serde_json::from_str(line).unwrap());
                }
            }
            out.insert(node.file_name().to_string_lossy().into_owned(), recs);
        }
        out
    }
}

fn wait_child(p: &mut Proc, limit: Duration, base: &Path) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = p.0.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "still running after {limit:?}\n{}",
            show_logs(base)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn show_logs(base: &Path) -> String {
    let mut s = String::new();
    for e in fs::read_dir(base).unwrap().filter_map(|e| e.ok()) {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "log" || x == "err") {
            let text = fs::read_to_string(&p).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            s += &format!(
                "--- {}\n{}\n",
                p.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
    s
}

/// `n` small files of four kinds: text (clean), CSV with formulas and PDF
/// with JavaScript (sanitised), a Windows executable (blocked).
fn mixed_files(dir: &Path, n: usize) {
    fs::create_dir_all(dir).unwrap();
    let js = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>".as_slice();
    let pdf = mugai_corpus::pdf::doc("/OpenAction 6 0 R", "", &[js]);
    let exe = mugai_corpus::archive::pe_bytes();
    for i in 0..n {
        let (name, bytes) = match i % 4 {
            0 => (
                format!("note{i:03}.txt"),
                format!("議事録 {i}\nline two\n").into_bytes(),
            ),
            1 => (
                format!("list{i:03}.csv"),
                format!("name,value\n=1+{i},{i}\n").into_bytes(),
            ),
            2 => (format!("form{i:03}.pdf"), pdf.clone()),
            _ => (format!("tool{i:03}.exe"), exe.clone()),
        };
        fs::write(dir.join(name), bytes).unwrap();
    }
}

fn expected_verdict(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("txt") => "clean",
        Some("csv") | Some("pdf") => "sanitized",
        _ => "blocked",
    }
}

/// Checks the end state: every input once in the submit output with the
/// expected verdict, exactly once in clean or quarantine, one audit record
/// per job over all nodes, every node's chain intact.
fn check_exactly_once(l: &Layout, out: &Path, n: usize) {
    let lines: Vec<Value> = fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    assert_eq!(lines.len(), n, "one line per file\n{}", show_logs(&l.base));
    let mut inputs = BTreeSet::new();
    let mut outputs = BTreeSet::new();
    for line in &lines {
        let input = line["input"].as_str().unwrap();
        assert!(inputs.insert(input.to_string()), "{input} reported twice");
        let name = Path::new(input).file_name().unwrap().to_string_lossy();
        assert_eq!(line["verdict"], expected_verdict(&name), "{line}");
        if line["verdict"] == "blocked" {
            assert!(line["output"].is_null(), "{line}");
        } else {
            let o = line["output"].as_str().unwrap();
            assert!(Path::new(o).is_file(), "{line}");
            assert!(outputs.insert(o.to_string()), "{o} reported twice");
        }
    }
    let (clean, quarantine) = l.placed();
    assert!(clean.is_disjoint(&quarantine), "a job in both trees");
    assert_eq!(clean.len() + quarantine.len(), n, "placements");
    assert_eq!(clean.len(), outputs.len());
    assert_eq!(
        quarantine.len(),
        lines.iter().filter(|x| x["verdict"] == "blocked").count()
    );
    for id in &clean {
        let files: Vec<_> = fs::read_dir(l.clean.join(id)).unwrap().collect();
        assert_eq!(
            files.len(),
            1,
            "job {id}: one output, no temporary file left"
        );
    }
    for id in &quarantine {
        let files: Vec<String> = fs::read_dir(l.quarantine.join(id))
            .unwrap()
            .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            files.len(),
            2,
            "job {id}: the original and reason.json: {files:?}"
        );
    }

    let records = l.audit_records();
    let mut ids = BTreeMap::new();
    for (node, recs) in records.iter().filter(|(_, r)| !r.is_empty()) {
        // (A node that placed nothing has an empty log, which verify refuses.)
        let o = util::run(&[
            "audit".as_ref(),
            "verify".as_ref(),
            l.audit.join(node).as_os_str(),
        ]);
        assert!(
            o.status.success(),
            "audit of {node}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        for r in recs {
            *ids.entry(r["id"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    let total: usize = records.values().map(Vec::len).sum();
    assert_eq!(total, n, "audit records over all nodes");
    assert!(ids.values().all(|&c| c == 1), "a job audited twice");
    let all: BTreeSet<String> = clean.union(&quarantine).cloned().collect();
    assert_eq!(
        ids.keys().cloned().collect::<BTreeSet<_>>(),
        all,
        "audited jobs = placed jobs"
    );
}

#[test]
fn cluster_three_nodes_survive_a_killed_worker_and_nats_server() {
    let Some(bin) = nats_server() else { return };
    const N: usize = 500;
    let base = tempfile::tempdir().unwrap();
    let base = base.path();
    eprintln!("cluster test folder: {}", base.display());
    let srv = servers(&bin, base, 3);
    let mut running: Vec<Proc> = srv.iter().map(Server::start).collect();
    let l = Layout::new(
        base,
        srv.iter().map(Server::url).collect(),
        "replicas = 3\nack_wait_secs = 6\nprogress_secs = 2\nmax_deliver = 5\nsubmit_timeout_secs = 120\nconcurrency = 2\n",
    );
    let mut workers: Vec<Proc> = ["w1", "w2", "w3"].iter().map(|n| l.worker(n)).collect();
    let src = base.join("in");
    mixed_files(&src, N);
    let (mut submit, out) = l.submit(&[&src]);
    let placed = |l: &Layout| {
        let (c, q) = l.placed();
        c.len() + q.len()
    };
    let wait_placed = |at_least: usize, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let n = placed(&l);
            if n >= at_least {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {n} placed, waiting for {at_least}\n{}",
                show_logs(base)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    // Mid-run: one worker and one NATS server die without warning.
    let before = wait_placed(40, "nothing placed");
    assert!(before < N, "the run ended before the kill");
    workers[1].kill();
    running[0].kill();
    eprintln!("killed worker w2 and nats-server s1 after {before} placements");
    std::thread::sleep(Duration::from_secs(2));
    workers[1] = l.worker("w2");
    // The two servers left carry on: the run goes on without s1.
    let during = wait_placed((before + 40).min(N), "no progress with s1 down");
    // s1 comes back (its store as it was when killed) and catches up.
    running[0] = srv[0].start();
    eprintln!("restarted nats-server s1 after {during} placements");

    let status = wait_child(&mut submit, Duration::from_secs(300), base);
    assert_eq!(
        status.code(),
        Some(1),
        "some files are blocked, none failed\n{}",
        show_logs(base)
    );
    check_exactly_once(&l, &out, N);
    drop(workers);
    drop(running);
}

#[test]
fn cluster_job_of_a_killed_worker_is_redelivered_and_placed_once() {
    let Some(bin) = nats_server() else { return };
    let base = tempfile::tempdir().unwrap();
    let base = base.path();
    let srv = servers(&bin, base, 1);
    let _server = srv[0].start();
    let l = Layout::new(
        base,
        vec![srv[0].url()],
        "ack_wait_secs = 3\nprogress_secs = 1\nsubmit_timeout_secs = 60\n",
    );
    let src = base.join("in");
    fs::create_dir_all(&src).unwrap();
    // Holds its worker for 3 s (a test hook of the engine).
    let file = src.join("slow.txt");
    fs::write(&file, b"MUGAI-TEST-HOOK:hold").unwrap();

    let mut first = l.worker("a");
    let (mut submit, out) = l.submit(&[&file]);
    // Wait until node a has the job in hand (its rebuild runs), then kill it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fs::read_to_string(base.join("a.log"))
        .unwrap_or_default()
        .contains("cluster worker ready")
    {
        assert!(Instant::now() < deadline, "{}", show_logs(base));
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    first.kill();
    assert!(l.placed().0.is_empty(), "killed before it could place");
    let _second = l.worker("b");

    let status = wait_child(&mut submit, Duration::from_secs(90), base);
    assert_eq!(status.code(), Some(0), "{}", show_logs(base));
    check_exactly_once(&l, &out, 1);
    let records = l.audit_records();
    let b = &records["b"];
    assert_eq!(b.len(), 1);
    assert!(
        b[0]["delivery"].as_i64().unwrap() >= 2,
        "redelivered: {}",
        b[0]
    );
    assert!(records.get("a").is_none_or(Vec::is_empty));
}

/// A single NATS server and one worker; returns them with the layout.
fn one_server_and_worker(base: &Path, extra: &str) -> Option<(Proc, Proc, Layout)> {
    let bin = nats_server()?;
    let srv = servers(&bin, base, 1);
    let server = srv[0].start();
    let l = Layout::new(base, vec![srv[0].url()], extra);
    let worker = l.worker("w");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fs::read_to_string(base.join("w.log"))
        .unwrap_or_default()
        .contains("cluster worker ready")
    {
        assert!(Instant::now() < deadline, "{}", show_logs(base));
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((server, worker, l))
}

/// The names the worker reports having rebuilt for a caller.
fn returned_by_worker(base: &Path) -> String {
    fs::read_to_string(base.join("w.log")).unwrap_or_default()
}

#[test]
fn cluster_daemon_hands_its_files_to_the_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let Some((_server, _worker, l)) = one_server_and_worker(base, "submit_timeout_secs = 60\n")
    else {
        return;
    };
    // The daemon's own configuration: the cluster as its sanitizer.
    let config = base.join("daemon.toml");
    fs::write(
        &config,
        format!(
            "[daemon]\nsettle_ms = 300\nrescan_secs = 1\n[cluster]\ndaemon = true\nsubmit_timeout_secs = 60\nnats = [\"{}\"]\n",
            l.urls[0]
        ),
    )
    .unwrap();
    let d = |n: &str| base.join("d").join(n);
    for n in util::DAEMON_DIRS {
        fs::create_dir_all(d(n)).unwrap();
    }
    let mut cmd = util::mugai();
    cmd.arg("daemon").arg("--config").arg(&config);
    for n in util::DAEMON_DIRS {
        cmd.arg(format!("--{n}")).arg(d(n));
    }
    let _daemon = Proc(
        cmd.stdout(Stdio::null())
            .stderr(fs::File::create(base.join("daemon.log")).unwrap())
            .spawn()
            .expect("start the daemon"),
    );
    let files = [
        ("memo.txt", b"cluster memo\n".to_vec(), "clean"),
        ("sums.csv", b"a,b\n=1+2,3\n".to_vec(), "sanitized"),
        ("tool.exe", mugai_corpus::archive::pe_bytes(), "blocked"),
    ];
    for (name, bytes, _) in &files {
        fs::write(d("inbox").join(name), bytes).unwrap();
    }
    // Wait for one audit record per file.
    let deadline = Instant::now() + Duration::from_secs(120);
    let records = loop {
        let recs: Vec<Value> = mugai_audit::files_in(&d("audit"))
            .unwrap_or_default()
            .iter()
            .flat_map(|f| {
                fs::read_to_string(f)
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|x| serde_json::from_str(x).ok())
                    .collect::<Vec<Value>>()
            })
            .collect();
        if recs.len() >= files.len() {
            break recs;
        }
        assert!(Instant::now() < deadline, "{}", show_logs(base));
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(records.len(), files.len(), "{records:?}");
    let o = util::run(&["audit".as_ref(), "verify".as_ref(), d("audit").as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let worker = returned_by_worker(base);
    for (name, _, verdict) in &files {
        let r = records
            .iter()
            .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .unwrap_or_else(|| panic!("no record of {name}: {records:?}"));
        assert_eq!(r["verdict"], *verdict, "{r}");
        // Rebuilt by the cluster's worker, not a pool of the daemon's own.
        assert!(
            worker.contains(&format!("name={name}")),
            "{name} not rebuilt by the worker\n{}",
            show_logs(base)
        );
        let tree = if *verdict == "blocked" {
            "quarantine"
        } else {
            "clean"
        };
        let found = walk(&d(tree)).into_iter().any(|p| {
            p.file_name().is_some_and(|f| {
                f.to_string_lossy()
                    .starts_with(name.split('.').next().unwrap())
            })
        });
        assert!(found, "{name} not in {tree}: {:?}", walk(&d(tree)));
    }
    assert!(
        fs::read_dir(d("inbox")).unwrap().next().is_none(),
        "inbox emptied"
    );
}

#[test]
fn cluster_serve_hands_its_files_to_the_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let Some((_server, _worker, l)) = one_server_and_worker(base, "submit_timeout_secs = 60\n")
    else {
        return;
    };
    let api_dir = base.join("api");
    fs::create_dir_all(&api_dir).unwrap();
    let s = crate::rest::Server::start(
        &api_dir,
        &format!(
            "[cluster]\nserve = true\nsubmit_timeout_secs = 60\nnats = [\"{}\"]\n",
            l.urls[0]
        ),
    );
    let csv = base.join("sums.csv");
    fs::write(&csv, b"a,b\n=1+2,3\n").unwrap();
    let r = crate::rest::post_file(&s, "/v1/sanitize", &csv, &[]);
    assert_eq!(
        r.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&r.body),
        s.log()
    );
    // The formula neutralised (a leading quote), by the worker's policy.
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("'=1+2"), "formula not neutralised: {body}");
    let exe = base.join("tool.exe");
    fs::write(&exe, mugai_corpus::archive::pe_bytes()).unwrap();
    let r = crate::rest::post_file(&s, "/v1/sanitize", &exe, &[]);
    let p = r.problem(422);
    assert_eq!(p["verdict"], "blocked", "{p}");
    let worker = returned_by_worker(base);
    for name in ["sums.csv", "tool.exe"] {
        assert!(
            worker.contains(&format!("name={name}")),
            "{name} not rebuilt by the worker\n{}\n{}",
            show_logs(base),
            s.log()
        );
    }
    let audit = api_dir.join("results/audit");
    let o = util::run(&["audit".as_ref(), "verify".as_ref(), audit.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("OK: 2 record(s)"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
