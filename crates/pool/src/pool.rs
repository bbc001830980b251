//! The parent side: a pool of long-lived worker processes.

use crate::protocol::{read_frame, write_frame, Request, Response};
use mugai_core::{sha256_hex, Blocked, Code, FileType, Job, Outcome, Policy, Sanitize, Verdict};
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

/// How to start workers.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The executable to run (normally the `mugai` binary itself).
    pub exe: PathBuf,
    /// Arguments that put it in worker mode, before `--memory-mib N`.
    pub args: Vec<OsString>,
    /// Worker processes at most.
    pub size: usize,
    /// Address-space limit of each worker.
    pub memory_mib: u64,
}

impl PoolConfig {
    /// Workers of the running executable (`<exe> __worker`), one per core.
    pub fn current_exe(memory_mib: u64) -> io::Result<PoolConfig> {
        Ok(PoolConfig {
            exe: std::env::current_exe()?,
            args: vec!["__worker".into()],
            size: std::thread::available_parallelism().map_or(2, |n| n.get()),
            memory_mib,
        })
    }
}

struct Worker {
    child: Arc<Mutex<Child>>,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
}

struct State {
    idle: Vec<Worker>,
    live: usize,
}

/// A pool of worker processes. Cheap to share: `sanitize` takes `&self`
/// and may be called from many threads; at most `size` files are rebuilt
/// at once and further callers wait.
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

impl Pool {
    pub fn new(mut config: PoolConfig) -> Pool {
        config.size = config.size.max(1);
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

    fn checkout(&self) -> io::Result<Worker> {
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
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.idle.push(w);
        self.freed.notify_one();
    }

    /// A worker died or was killed: its place is free for a new one.
    fn retire(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.live = st.live.saturating_sub(1);
        self.freed.notify_one();
    }

    fn spawn(&self) -> io::Result<Worker> {
        let mut child = Command::new(&self.config.exe)
            .args(&self.config.args)
            .arg("--memory-mib")
            .arg(self.config.memory_mib.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("RUST_BACKTRACE")
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no worker stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no worker stdout"))?;
        let mut stderr = child
            .stderr
            .take()
            .ok_or_else(|| io::Error::other("no worker stderr"))?;
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
        Ok(Worker {
            child: Arc::new(Mutex::new(child)),
            stdin,
            stdout: BufReader::with_capacity(1 << 16, stdout),
            stderr: tail,
        })
    }

    fn run_job(
        &self,
        w: &mut Worker,
        policy: &Policy,
        job: &Job,
    ) -> io::Result<(Outcome, Vec<u8>)> {
        let req = Request {
            name: job.name.clone(),
            policy: policy.clone(),
        };
        write_frame(&mut w.stdin, &req, &job.bytes)?;
        let max_body = policy
            .limits
            .max_expanded_bytes
            .max(policy.limits.max_input_bytes);
        match read_frame::<_, Response>(&mut w.stdout, max_body)? {
            Some((resp, body)) => Ok((resp.outcome, body)),
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "worker closed its output",
            )),
        }
    }
}

impl Sanitize for Pool {
    fn sanitize(&self, policy: &Policy, job: Job) -> Outcome {
        let sha256 = sha256_hex(&job.bytes);
        let fail = |b: Blocked| {
            Outcome::blocked(
                FileType::Unknown,
                sha256.clone(),
                Vec::new(),
                b.into_finding(),
            )
        };
        let mut w = match self.checkout() {
            Ok(w) => w,
            Err(e) => {
                return fail(Blocked::new(
                    Code::WorkerCrashed,
                    format!("cannot start a worker: {e}"),
                ))
            }
        };

        // The watchdog kills the worker at the deadline; the blocked read
        // below then ends with an error.
        let timed_out = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let limit = Duration::from_secs(policy.limits.deadline_secs) + KILL_GRACE;
        let watchdog = {
            let child = Arc::clone(&w.child);
            let timed_out = Arc::clone(&timed_out);
            std::thread::spawn(move || {
                if let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(limit) {
                    timed_out.store(true, Ordering::SeqCst);
                    let _ = child.lock().unwrap_or_else(|p| p.into_inner()).kill();
                }
            })
        };
        let result = self.run_job(&mut w, policy, &job);
        let _ = done_tx.send(());
        let _ = watchdog.join();

        match result {
            Ok((outcome, body)) => {
                let checked = recheck(policy, outcome, body, &sha256);
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
                fail(classify_death(
                    timed_out.load(Ordering::SeqCst),
                    status,
                    &stderr,
                    &e,
                    limit,
                ))
            }
        }
    }
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
    err: &io::Error,
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
    let text = String::from_utf8_lossy(stderr);
    if text.contains("memory allocation of")
        || text.contains("failed to allocate")
        || text.contains("out of memory")
    {
        return Blocked::new(Code::LimitMemory, "the worker hit its memory limit");
    }
    match status {
        Some(st) if st.signal() == Some(9) => {
            Blocked::new(Code::LimitMemory, "the worker was killed (out of memory)")
        }
        Some(st) if st.signal().is_some() => Blocked::new(
            Code::WorkerCrashed,
            format!("the worker died with signal {}", st.signal().unwrap_or(0)),
        ),
        Some(st) => Blocked::new(
            Code::WorkerCrashed,
            format!(
                "the worker exited ({}) while handling the file",
                st.code().unwrap_or(-1)
            ),
        ),
        None => Blocked::new(Code::WorkerCrashed, format!("the worker failed: {err}")),
    }
}

/// The side that trusts re-checks what comes back from the worker.
fn recheck(policy: &Policy, mut o: Outcome, body: Vec<u8>, sha256: &str) -> Outcome {
    let bad = |why: String| {
        Outcome::blocked(
            o.input_type,
            sha256.to_string(),
            Vec::new(),
            Blocked::new(Code::RebuildFailed, format!("worker reply rejected: {why}"))
                .into_finding(),
        )
    };
    if o.sha256 != sha256 {
        return bad("input hash differs".into());
    }
    if o.findings.len() > 100_000 {
        return bad("too many findings".into());
    }
    for f in &mut o.findings {
        if f.detail.len() > 4096 {
            let mut cut = 4096;
            while !f.detail.is_char_boundary(cut) {
                cut -= 1;
            }
            f.detail.truncate(cut);
        }
    }
    match o.verdict {
        Verdict::Blocked => {
            if !body.is_empty() || o.reason.is_none() {
                return bad("a blocked file came back with output or without a reason".into());
            }
            o.output = None;
            o.output_name = None;
            o.output_sha256 = None;
            o.output_type = None;
            o
        }
        Verdict::Clean | Verdict::Sanitized => {
            let Some(name) = o.output_name.clone() else {
                return bad("no output name".into());
            };
            let check = mugai_detect::check_name(&name);
            if check.safe_name != name || check.block.is_some() {
                return bad(format!(
                    "unsafe output name `{}`",
                    mugai_detect::name::printable(&name)
                ));
            }
            let Some(out_type) = o.output_type else {
                return bad("no output type".into());
            };
            if out_type.is_executable() || out_type == FileType::Unknown {
                return bad(format!("output type {out_type}"));
            }
            if body.len() as u64
                > policy
                    .limits
                    .max_expanded_bytes
                    .max(policy.limits.max_input_bytes)
            {
                return bad("output over the size limit".into());
            }
            let has_findings = o
                .findings
                .iter()
                .any(|f| f.action != mugai_core::Action::Blocked);
            if (o.verdict == Verdict::Clean) == has_findings {
                return bad("verdict does not match the findings".into());
            }
            o.output_sha256 = Some(sha256_hex(&body));
            o.output = Some(body);
            o.reason = None;
            o
        }
    }
}
