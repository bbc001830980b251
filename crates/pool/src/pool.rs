//! The parent side: a pool of confined, short-lived worker processes.

use crate::protocol::{read_frame, write_frame, FromWorker, ToWorker, WireScan};
use crate::recheck::{recheck_parts, recheck_unlocking, Scans};
use crate::sandbox::Layers;
use mugai_core::config::SandboxConfig;
use mugai_core::{
    sha256_hex, Blocked, Code, Config, FileType, HeldPart, Job, Outcome, OutcomeFields, Passwords,
    Policy, Sanitize,
};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Bytes of a worker's stderr kept to explain its death.
const STDERR_TAIL: usize = 4096;
/// Time allowed past the policy deadline before a worker is killed; the
/// engine's own deadline checks normally answer first, with a finding.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// Time a new worker has to confine itself and say it is ready.
const START_LIMIT: Duration = Duration::from_secs(10);
/// Signals that end a worker, as the kernel numbers them on Linux.
const SIGKILL: i32 = 9;
const SIGXCPU: i32 = 24;
const SIGSYS: i32 = 31;

/// How to start workers.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The executable to run (normally the `mugai` binary itself).
    pub exe: PathBuf,
    /// Arguments that put it in worker mode, before the worker options.
    pub args: Vec<OsString>,
    /// Worker processes at most.
    pub size: usize,
    /// Address-space limit of each worker.
    pub memory_mib: u64,
    /// The layers each worker must apply, and how many files it serves.
    pub sandbox: SandboxConfig,
    /// CPU seconds a worker may use in its whole life.
    pub cpu_secs: u64,
}

impl PoolConfig {
    /// Workers of the running executable (`<exe> __worker`), one per core,
    /// limited as the configuration says.
    pub fn current_exe(config: &Config) -> io::Result<PoolConfig> {
        let files = u64::from(config.sandbox.max_files_per_worker.max(1));
        Ok(PoolConfig {
            exe: std::env::current_exe()?,
            args: vec!["__worker".into()],
            size: std::thread::available_parallelism().map_or(2, |n| n.get()),
            memory_mib: config.policy.limits.worker_memory_mib,
            sandbox: config.sandbox.clone(),
            cpu_secs: config
                .policy
                .limits
                .deadline_secs
                .saturating_mul(files)
                .saturating_add(KILL_GRACE.as_secs()),
        })
    }
}

struct Worker {
    child: Arc<Mutex<Child>>,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    layers: Layers,
    served: u32,
}

struct State {
    idle: Vec<Worker>,
    live: usize,
}

/// A pool of worker processes. Cheap to share: `sanitize` takes `&self`
/// and may be called from many threads; at most `size` files are rebuilt
/// at once and further callers wait. A worker is replaced after
/// `max_files_per_worker` files, and after any failure.
pub struct Pool {
    config: PoolConfig,
    state: Mutex<State>,
    freed: Condvar,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .finish()
    }
}

/// Why a worker could not be started.
#[derive(Debug)]
pub enum StartError {
    /// The process could not be run or did not answer.
    Spawn(io::Error),
    /// It ran, but refused to serve: a required sandbox layer is missing.
    Refused(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Spawn(e) => write!(f, "cannot start a worker: {e}"),
            StartError::Refused(why) => write!(f, "the worker refused to serve: {why}"),
        }
    }
}

impl std::error::Error for StartError {}

/// How one job across the boundary went wrong.
enum JobError {
    /// The pipe broke: the worker died or was killed.
    Pipe(io::Error),
    /// The worker said something the protocol does not allow.
    Protocol(String),
}

impl Pool {
    pub fn new(mut config: PoolConfig) -> Pool {
        config.size = config.size.max(1);
        config.sandbox.max_files_per_worker = config.sandbox.max_files_per_worker.max(1);
        Pool {
            config,
            state: Mutex::new(State {
                idle: Vec::new(),
                live: 0,
            }),
            freed: Condvar::new(),
        }
    }

    pub fn size(&self) -> usize {
        self.config.size
    }

    /// Starts one worker and returns the sandbox layers it obtained; an
    /// error when it cannot start or refuses (a required layer is missing).
    /// The daemon, relay and CLI call this first, so that a host that
    /// cannot confine workers stops them with one clear error.
    pub fn probe(&self) -> Result<Layers, StartError> {
        let w = self.checkout()?;
        let layers = w.layers.clone();
        self.checkin(w);
        Ok(layers)
    }

    fn checkout(&self) -> Result<Worker, StartError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(w) = st.idle.pop() {
                return Ok(w);
            }
            if st.live < self.config.size {
                st.live += 1;
                drop(st);
                return self.spawn().inspect_err(|_| self.retire());
            }
            st = self.freed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn checkin(&self, w: Worker) {
        if w.served >= self.config.sandbox.max_files_per_worker {
            // Closing its stdin ends the worker; wait so no zombie is left.
            let Worker { child, stdin, .. } = w;
            drop(stdin);
            let _ = child.lock().unwrap_or_else(|p| p.into_inner()).wait();
            self.retire();
            return;
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.idle.push(w);
        self.freed.notify_one();
    }

    /// A worker died, was killed or was used up: its place is free.
    fn retire(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.live = st.live.saturating_sub(1);
        self.freed.notify_one();
    }

    fn spawn(&self) -> Result<Worker, StartError> {
        let c = &self.config;
        let sandbox = serde_json::to_string(&c.sandbox).map_err(|e| StartError::Spawn(e.into()))?;
        let mut child = Command::new(&c.exe)
            .args(&c.args)
            .arg("--memory-mib")
            .arg(c.memory_mib.to_string())
            .arg("--cpu-secs")
            .arg(c.cpu_secs.to_string())
            .arg("--sandbox")
            .arg(sandbox)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The worker needs nothing from the environment, and should
            // not see what the parent's holds.
            .env_clear()
            // One malloc arena for every thread: a thread's own arena would
            // read /proc/sys/vm/overcommit_memory when it first shrinks,
            // an `open` the sandbox answers by killing the worker.
            .env("GLIBC_TUNABLES", "glibc.malloc.arena_max=1")
            .spawn()
            .map_err(StartError::Spawn)?;
        let missing = |what: &str| StartError::Spawn(io::Error::other(format!("no worker {what}")));
        let stdin = child.stdin.take().ok_or_else(|| missing("stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| missing("stdout"))?;
        let stderr = child.stderr.take().ok_or_else(|| missing("stderr"))?;
        widen_pipe(&stdin);
        widen_pipe(&stdout);
        let tail = keep_stderr_tail(stderr).map_err(StartError::Spawn)?;
        let child = Arc::new(Mutex::new(child));
        let mut stdout = BufReader::with_capacity(1 << 16, stdout);

        let hello = with_watchdog(&child, START_LIMIT, || {
            read_frame::<_, FromWorker>(&mut stdout, 0)
        })
        .1;
        let layers = match hello {
            Ok(Some((FromWorker::Ready { layers }, _))) => layers,
            other => {
                let _ = reap(&child);
                return Err(match other {
                    Ok(Some((FromWorker::Refused { reason }, _))) => StartError::Refused(reason),
                    Ok(_) => {
                        StartError::Spawn(io::Error::other("the worker did not say it was ready"))
                    }
                    Err(e) => StartError::Spawn(e),
                });
            }
        };
        Ok(Worker {
            child,
            stdin,
            stdout,
            stderr: tail,
            layers,
            served: 0,
        })
    }

    /// Sends the job, answers the worker's scan requests, and returns its
    /// final reply with the record of what was scanned.
    fn run_job(
        &self,
        w: &mut Worker,
        policy: &Policy,
        job: &Job,
        passwords: &Passwords,
    ) -> Result<(OutcomeFields, Vec<u8>, Scans), JobError> {
        let req = ToWorker::Job {
            name: job.name.clone(),
            declared: job.declared,
            policy: Box::new(policy.clone()),
            passwords: passwords.clone(),
        };
        write_frame(&mut w.stdin, &req, &job.bytes).map_err(JobError::Pipe)?;
        let max_body = policy
            .limits
            .max_expanded_bytes
            .max(policy.limits.max_input_bytes);
        let clamd = mugai_clamd::from_policy(&policy.av);
        let mut scans = Scans::default();
        loop {
            let frame = read_frame::<_, FromWorker>(&mut w.stdout, max_body).map_err(|e| {
                if e.kind() == io::ErrorKind::Other {
                    JobError::Protocol(e.to_string())
                } else {
                    JobError::Pipe(e)
                }
            })?;
            match frame {
                None => {
                    return Err(JobError::Pipe(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "worker closed its output",
                    )))
                }
                Some((FromWorker::Done { outcome }, body)) => return Ok((outcome, body, scans)),
                Some((FromWorker::Scan, body)) => {
                    let result = match &clamd {
                        Some(c) => mugai_core::Scanner::scan(c, &body),
                        None => {
                            mugai_core::ScanResult::Unavailable("no scanner is configured".into())
                        }
                    };
                    scans.record(&body, &result);
                    let answer = ToWorker::Scanned {
                        result: WireScan::from(result),
                    };
                    write_frame(&mut w.stdin, &answer, &[]).map_err(JobError::Pipe)?;
                }
                Some((other, _)) => {
                    return Err(JobError::Protocol(format!(
                        "unexpected message during a job: {other:?}"
                    )))
                }
            }
        }
    }
}

impl Sanitize for Pool {
    fn sanitize(&self, policy: &Policy, job: Job) -> Outcome {
        let sha256 = sha256_hex(&job.bytes);
        self.run(policy, job, sha256, &Passwords::default())
    }

    fn sanitize_hashed(&self, policy: &Policy, job: Job, sha256: String) -> Outcome {
        self.run(policy, job, sha256, &Passwords::default())
    }

    fn sanitize_unlocked(&self, policy: &Policy, job: Job, passwords: &Passwords) -> Outcome {
        let sha256 = sha256_hex(&job.bytes);
        self.run(policy, job, sha256, passwords)
    }

    /// In a worker, like a rebuild: the parent never parses the mail. A
    /// worker that fails, or whose reply fails [`recheck_parts`], gives
    /// nothing (logged at error level) and serves no other file.
    fn encrypted_zips(&self, policy: &Policy, mail: &[u8], max_parts: usize) -> Vec<HeldPart> {
        let sha256 = sha256_hex(mail);
        let mut w = match self.checkout() {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(sha256 = %sha256, "cannot take attachments out of a mail: {e}");
                return Vec::new();
            }
        };
        w.served += 1;
        let limit = Duration::from_secs(policy.limits.deadline_secs) + KILL_GRACE;
        let child = Arc::clone(&w.child);
        let max_bytes = policy.limits.max_input_bytes;
        let (timed_out, reply) = with_watchdog(&child, limit, || {
            let req = ToWorker::EncryptedZips {
                policy: Box::new(policy.clone()),
                max_parts: u32::try_from(max_parts).unwrap_or(u32::MAX),
            };
            write_frame(&mut w.stdin, &req, mail)?;
            let max_body = max_bytes.saturating_mul(max_parts as u64);
            match read_frame::<_, FromWorker>(&mut w.stdout, max_body)? {
                Some((FromWorker::Parts { names, lens }, body)) => {
                    recheck_parts(names, &lens, &body, max_parts, max_bytes)
                        .map_err(io::Error::other)
                }
                _ => Err(io::Error::other("the worker did not answer with parts")),
            }
        });
        match reply {
            Ok(parts) => {
                self.checkin(w);
                parts
            }
            Err(e) => {
                let status = reap(&w.child);
                self.retire();
                let why = if timed_out {
                    format!(
                        "the worker was killed at the deadline ({} s)",
                        limit.as_secs()
                    )
                } else {
                    format!("{e} (worker {status:?})")
                };
                tracing::error!(sha256 = %sha256, code = %Code::WorkerViolation,
                    "no attachment taken out of a mail: {why}");
                Vec::new()
            }
        }
    }
}

impl Pool {
    /// One file through a worker: send, watch, check the reply. The
    /// input's hash comes from the caller (this side of the boundary); the
    /// worker's reply is checked against it, and the output is hashed here
    /// once, from the bytes received ([`recheck`]).
    fn run(&self, policy: &Policy, job: Job, sha256: String, passwords: &Passwords) -> Outcome {
        let fail = |b: Blocked| {
            if b.code == Code::WorkerViolation {
                tracing::error!(file = %job.name, sha256 = %sha256, code = %b.code, "{}", b.detail);
            }
            Outcome::blocked(
                FileType::Unknown,
                sha256.clone(),
                Vec::new(),
                b.into_finding(),
            )
        };
        let mut w = match self.checkout() {
            Ok(w) => w,
            Err(e) => return fail(Blocked::new(Code::WorkerCrashed, e.to_string())),
        };
        w.served += 1;

        let limit = Duration::from_secs(policy.limits.deadline_secs) + KILL_GRACE;
        let child = Arc::clone(&w.child);
        let (timed_out, result) = with_watchdog(&child, limit, || {
            self.run_job(&mut w, policy, &job, passwords)
        });

        match result {
            Ok((outcome, body, scans)) => {
                let unlocking = !passwords.is_empty();
                let checked =
                    recheck_unlocking(policy, &job, &sha256, outcome, body, &scans, unlocking);
                if let Some(r) = checked.reason() {
                    if r.code == Code::WorkerViolation {
                        tracing::error!(file = %job.name, sha256 = %sha256, code = %r.code, "{}", r.detail);
                        // A worker caught lying serves no other file.
                        let _ = reap(&w.child);
                        self.retire();
                        return checked;
                    }
                }
                self.checkin(w);
                checked
            }
            Err(e) => {
                let status = reap(&w.child);
                let stderr: Vec<u8> = w
                    .stderr
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .copied()
                    .collect();
                self.retire();
                let b = match e {
                    // The worker was alive and said something malformed.
                    JobError::Protocol(why) if !timed_out => Blocked::new(
                        Code::WorkerViolation,
                        format!("the worker broke the protocol: {why}"),
                    ),
                    JobError::Protocol(why) => {
                        classify_death(timed_out, status, &stderr, &why, limit)
                    }
                    JobError::Pipe(err) => {
                        classify_death(timed_out, status, &stderr, &err.to_string(), limit)
                    }
                };
                fail(b)
            }
        }
    }
}

/// Runs `f`, killing the worker if it has not returned within `limit`.
/// Returns whether the watchdog fired, and `f`'s result.
fn with_watchdog<T>(
    child: &Arc<Mutex<Child>>,
    limit: Duration,
    f: impl FnOnce() -> T,
) -> (bool, T) {
    let timed_out = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = {
        let child = Arc::clone(child);
        let timed_out = Arc::clone(&timed_out);
        std::thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(limit) {
                timed_out.store(true, Ordering::SeqCst);
                let _ = child.lock().unwrap_or_else(|p| p.into_inner()).kill();
            }
        })
    };
    let result = f();
    let _ = done_tx.send(());
    let _ = watchdog.join();
    (timed_out.load(Ordering::SeqCst), result)
}

/// Widens a pipe to the worker to 1 MiB (the unprivileged maximum), so
/// that a file crosses it in a few large steps rather than in 64 KiB
/// ones, each a switch between the processes. Best effort: the pipe
/// works at any size.
fn widen_pipe(pipe: &impl std::os::fd::AsFd) {
    let _ = rustix::pipe::fcntl_setpipe_size(pipe, 1 << 20);
}

/// Keeps the last bytes a worker writes to stderr.
fn keep_stderr_tail(
    mut stderr: impl Read + Send + 'static,
) -> io::Result<Arc<Mutex<VecDeque<u8>>>> {
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
    let tail2 = Arc::clone(&tail);
    std::thread::Builder::new()
        .name("mugai-worker-stderr".into())
        .spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut t = tail2.lock().unwrap_or_else(|p| p.into_inner());
                for &b in &buf[..n] {
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(b);
                }
            }
        })?;
    Ok(tail)
}

/// Kills (if still running) and waits for a worker, so no zombie is left.
fn reap(child: &Arc<Mutex<Child>>) -> Option<ExitStatus> {
    let mut c = child.lock().unwrap_or_else(|p| p.into_inner());
    if let Ok(Some(st)) = c.try_wait() {
        return Some(st);
    }
    // It may still be exiting on its own; give it a moment before killing.
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(5));
        if let Ok(Some(st)) = c.try_wait() {
            return Some(st);
        }
    }
    let _ = c.kill();
    c.wait().ok()
}

fn classify_death(
    timed_out: bool,
    status: Option<ExitStatus>,
    stderr: &[u8],
    err: &str,
    limit: Duration,
) -> Blocked {
    use std::os::unix::process::ExitStatusExt;
    if timed_out {
        return Blocked::new(
            Code::LimitTime,
            format!(
                "the worker was killed at the deadline ({} s)",
                limit.as_secs()
            ),
        );
    }
    let signal = status.and_then(|s| s.signal());
    if signal == Some(SIGSYS) {
        // The seccomp filter killed it: the kernel does not tell the
        // parent which call, only that the sandbox refused one.
        return Blocked::new(
            Code::WorkerViolation,
            "the sandbox killed the worker (SIGSYS) for a forbidden system call",
        );
    }
    if signal == Some(SIGXCPU) {
        return Blocked::new(Code::LimitTime, "the file used up its CPU time (SIGXCPU)");
    }
    let text = String::from_utf8_lossy(stderr);
    if text.contains("memory allocation of")
        || text.contains("failed to allocate")
        || text.contains("out of memory")
    {
        return Blocked::new(Code::LimitMemory, "the worker hit its memory limit");
    }
    match (signal, status) {
        (Some(SIGKILL), _) => {
            Blocked::new(Code::LimitMemory, "the worker was killed (out of memory)")
        }
        (Some(sig), _) => Blocked::new(
            Code::WorkerCrashed,
            format!("the worker died with signal {sig}"),
        ),
        (None, Some(st)) => Blocked::new(
            Code::WorkerCrashed,
            format!(
                "the worker exited ({}) while handling the file",
                st.code().unwrap_or(-1)
            ),
        ),
        (None, None) => Blocked::new(Code::WorkerCrashed, format!("the worker failed: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugai_core::Verdict;
    use std::os::unix::process::ExitStatusExt;

    fn died(sig: i32) -> Blocked {
        classify_death(
            false,
            Some(ExitStatus::from_raw(sig)),
            b"",
            "broken pipe",
            Duration::from_secs(1),
        )
    }

    /// A worker that speaks the protocol but lies: it says `Ready`, and to
    /// every job answers as its first argument says (`forge`: a clean pass
    /// with consistent hashes; `garbage`: a malformed frame).
    const FAKE_WORKER: &str = r#"
import hashlib, json, struct, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
def send(h, body=b""):
    h = json.dumps(h).encode()
    out.write(struct.pack("<I", len(h)) + h + struct.pack("<Q", len(body)) + body)
    out.flush()
send({"msg": "ready", "layers": {"no_new_privs": True, "seccomp": True, "namespaces": [],
      "landlock_abi": 0, "landlock": "not", "rlimits": True}})
while True:
    n = inp.read(4)
    if len(n) < 4:
        break
    h = json.loads(inp.read(struct.unpack("<I", n)[0]))
    body = inp.read(struct.unpack("<Q", inp.read(8))[0])
    if sys.argv[1] == "garbage":
        out.write(struct.pack("<I", 5) + b"nope!")
        out.flush()
        continue
    text = b"harmless\n"
    send({"msg": "done", "outcome": {"verdict": "clean", "input_type": "text",
          "output_type": "text", "output_name": "a.txt", "findings": [], "reason": None,
          "sha256": hashlib.sha256(body).hexdigest(),
          "output_sha256": hashlib.sha256(text).hexdigest()}}, text)
"#;

    fn fake_pool(mode: &str, script: &std::path::Path) -> Pool {
        std::fs::write(script, FAKE_WORKER).unwrap();
        Pool::new(PoolConfig {
            exe: "python3".into(),
            args: vec![script.as_os_str().to_owned(), mode.into()],
            size: 1,
            memory_mib: 256,
            sandbox: SandboxConfig::default(),
            cpu_secs: 10,
        })
    }

    fn executable() -> Job {
        let mut pe = b"MZ".to_vec();
        pe.resize(128, 0);
        Job::new("a.txt", pe)
    }

    #[test]
    fn a_lying_or_babbling_worker_is_a_violation() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake_worker.py");
        // A clean pass for an executable, with consistent hashes.
        let pool = fake_pool("forge", &script);
        let o = pool.sanitize(&Policy::default(), executable());
        assert_eq!(o.verdict(), Verdict::Blocked, "{o:?}");
        assert_eq!(o.reason().unwrap().code, Code::WorkerViolation);
        assert!(o.output().is_none());
        // Malformed frames.
        let pool = fake_pool("garbage", &script);
        let o = pool.sanitize(&Policy::default(), executable());
        assert_eq!(
            o.reason().unwrap().code,
            Code::WorkerViolation,
            "{:?}",
            o.findings
        );
    }

    #[test]
    fn deaths_are_classified_by_signal() {
        assert_eq!(died(SIGSYS).code, Code::WorkerViolation);
        assert!(died(SIGSYS).detail.contains("SIGSYS"));
        assert_eq!(died(SIGXCPU).code, Code::LimitTime);
        assert_eq!(died(SIGKILL).code, Code::LimitMemory);
        assert_eq!(died(6).code, Code::WorkerCrashed);
        let t = classify_death(true, None, b"", "x", Duration::from_secs(3));
        assert_eq!(t.code, Code::LimitTime);
    }
}
