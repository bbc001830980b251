//! [`ClusterSanitizer`]: the `Sanitize` seam over the cluster, so that the
//! daemon (and any other caller of the seam) hands files to the cluster's
//! workers instead of its own pool, unchanged.

use crate::conn::{retry, Cluster};
use crate::error::ClusterError;
use crate::job::{job_id, JobMsg, Mode};
use mugai_core::config::ClusterConfig;
use mugai_core::{sha256_hex, Action, Code, FileType, Finding, Job, Outcome, Policy, Sanitize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one read of a job's result may take.
const POLL_GET: Duration = Duration::from_secs(5);

struct Request {
    job: Job,
    reply: std_mpsc::Sender<Outcome>,
}

/// A blocking facade over the cluster client: `sanitize` submits the job
/// in return mode (the worker sends the rebuilt bytes back through the
/// object store and neither places nor audits; the caller does both, as
/// with its own pool) and waits for the outcome. Any failure (NATS down,
/// no outcome within `submit_timeout_secs`, an output that does not match
/// its SHA-256) blocks the file with a reason: fail closed.
///
/// The policy applied is the workers' own (every node must load the same
/// configuration); the `policy` argument is not sent.
pub struct ClusterSanitizer {
    tx: mpsc::UnboundedSender<Request>,
}

impl std::fmt::Debug for ClusterSanitizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSanitizer").finish_non_exhaustive()
    }
}

fn failed(sha: &str, detail: String) -> Outcome {
    Outcome::blocked(
        FileType::Unknown,
        sha.to_string(),
        vec![],
        Finding::new(Code::WorkerCrashed, Action::Blocked, detail),
    )
}

impl ClusterSanitizer {
    /// Connects (on a runtime thread of its own, so that callers may be
    /// inside or outside a tokio runtime) as node `node`.
    pub fn connect(config: &ClusterConfig, node: &str) -> Result<ClusterSanitizer, ClusterError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let config = config.clone();
        let node = node.to_string();
        std::thread::Builder::new()
            .name("mugai-cluster".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(ClusterError::Io {
                            path: "tokio runtime".into(),
                            source: e,
                        }));
                        return;
                    }
                };
                rt.block_on(async move {
                    let cluster = match Cluster::connect(&config, &node).await {
                        Ok(c) => Arc::new(c),
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let counter = Arc::new(AtomicU64::new(0));
                    while let Some(req) = rx.recv().await {
                        let cluster = Arc::clone(&cluster);
                        let node = node.clone();
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(async move {
                            let sha = sha256_hex(&req.job.bytes);
                            let outcome = match one(&cluster, &node, n, req.job, &sha).await {
                                Ok(o) => o,
                                Err(e) => failed(&sha, format!("cluster: {e}")),
                            };
                            let _ = req.reply.send(outcome);
                        });
                    }
                });
            })
            .map_err(|source| ClusterError::Io {
                path: "cluster client thread".into(),
                source,
            })?;
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(ClusterError::nats("connect")("client thread ended".into())))?;
        Ok(ClusterSanitizer { tx })
    }
}

/// One job through the cluster in return mode.
async fn one(
    cluster: &Cluster,
    node: &str,
    n: u64,
    job: Job,
    sha: &str,
) -> Result<Outcome, ClusterError> {
    // A fresh job every time: the caller journals and places by itself.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let submitter = format!("{node}/{}/{now}/{n}", std::process::id());
    let id = job_id(&submitter, &job.name, sha);
    let msg = JobMsg {
        id: id.clone(),
        name: job.name.clone(),
        sha256: sha.to_string(),
        size: job.bytes.len() as u64,
        submitter,
        mode: Mode::Return,
    };
    cluster.submit(&msg, &job.bytes).await?;
    // Polled rather than watched: a watch is a consumer, and on a NATS
    // cluster every consumer is a replicated asset, slow to make while a
    // server is down.
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(cluster.config.submit_timeout_secs);
    let mut pause = Duration::from_millis(50);
    let result = loop {
        if let Ok(Ok(Some(r))) = tokio::time::timeout(POLL_GET, cluster.results.get(&id)).await {
            if let Ok(r) = serde_json::from_slice::<crate::JobResult>(&r) {
                break r;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::Timeout(1));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    };
    let mut outcome = result.outcome;
    // A result is an outcome only if its fields agree (a pass names its
    // output); the bytes come from the object store and must match.
    let Some(out) = outcome.output_mut() else {
        return Ok(outcome);
    };
    let Some(object) = result.output else {
        return Ok(failed(sha, "the worker returned no output".into()));
    };
    let bytes = retry("read output", || async {
        match cluster.read_file(&object, u64::MAX - 1).await {
            Ok(Some(b)) => Ok(b),
            Ok(None) => Err("not found (yet) in the object store".to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await?;
    let _ = tokio::time::timeout(POLL_GET, cluster.files.delete(&object)).await;
    if out.sha256 != sha256_hex(&bytes) {
        return Ok(failed(
            sha,
            "the returned output does not match its SHA-256".into(),
        ));
    }
    out.bytes = bytes;
    Ok(outcome)
}

impl Sanitize for ClusterSanitizer {
    fn sanitize(&self, _policy: &Policy, job: Job) -> Outcome {
        let sha = sha256_hex(&job.bytes);
        let (reply, rx) = std_mpsc::channel();
        if self.tx.send(Request { job, reply }).is_err() {
            return failed(&sha, "cluster client stopped".into());
        }
        rx.recv()
            .unwrap_or_else(|_| failed(&sha, "cluster client stopped".into()))
    }
}
