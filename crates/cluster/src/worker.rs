//! A cluster node: takes jobs from the shared pull consumer, rebuilds them
//! through the local `dyn Sanitize` (the worker-process pool), places the
//! result exactly once, writes this node's audit record, posts the
//! outcome, and only then acknowledges the job.
//!
//! Order for one delivery of a job, and what a redelivery finds:
//! 1. a result already posted: the job is final; acknowledge.
//! 2. fetch the file from the object store (bounded by the input limit) and
//!    check it against the SHA-256 submitted; rebuild, sending in-progress
//!    acknowledgements every `progress_secs` meanwhile. A job delivered more
//!    than `max_deliver` times is not rebuilt: it is quarantined as
//!    `worker.crashed` (every node that took it stopped or hung).
//! 3. place ([`crate::placement`]): create-if-absent, keyed by the job id.
//! 4. audit: when this delivery's placement created the entry; or, when
//!    the entry was there already, if no node's log has the job (a node
//!    stopped between placing and auditing). Peers' logs are the sibling
//!    folders of this node's audit folder (one shared audit root).
//! 5. post the result (job id → outcome JSON), acknowledge, delete the
//!    file from the object store.
//!
//! Remaining window: a node that is alive but stalled past the ack wait
//! while another node redelivers the same job can, in the instant between
//! one node's existence check and its link, place the job in the other
//! tree (clean vs quarantine) if the two rebuilds disagree (a time limit hit
//! under load); and the two audit checks can both see no record and both
//! write one. Both need a job running twice at once, which in-progress
//! acknowledgements prevent unless a node stalls for a whole ack wait.

use crate::conn::{retry, Cluster};
use crate::error::ClusterError;
use crate::job::{valid_id, JobMsg, JobResult, Mode};
use crate::placement::{self, Placed};
use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use mugai_audit::{AuditLog, Record};
use mugai_core::{
    sha256_hex, Action, Code, FileType, Finding, Job, Outcome, Policy, Sanitize, Verdict,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// What a worker node needs besides the cluster and the sanitizer.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// This node's name (in audit records and results).
    pub node: String,
    pub clean: PathBuf,
    pub quarantine: PathBuf,
    /// This node's own audit-log folder.
    pub audit: PathBuf,
    /// Jobs rebuilt at once.
    pub concurrency: usize,
}

/// How long reading one file from the object store may take.
const READ_FOR: Duration = Duration::from_secs(60);
/// How long an acknowledgement or a clean-up request may take.
const SHORT: Duration = Duration::from_secs(10);
/// A pull that has brought nothing for this long is made anew (a server
/// that went away may leave it silent).
const IDLE_PULL: Duration = Duration::from_secs(20);

struct Shared {
    cluster: Arc<Cluster>,
    sanitizer: Arc<dyn Sanitize>,
    policy: Arc<Policy>,
    opts: WorkerOptions,
    audit: Mutex<AuditLog>,
}

/// Serves jobs until `stop` turns true; then finishes the jobs in hand.
pub async fn run(
    cluster: Arc<Cluster>,
    sanitizer: Arc<dyn Sanitize>,
    policy: Arc<Policy>,
    opts: WorkerOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), ClusterError> {
    for (dir, _) in [(&opts.clean, "clean"), (&opts.quarantine, "quarantine")] {
        std::fs::create_dir_all(dir).map_err(|source| ClusterError::Io {
            path: dir.clone(),
            source,
        })?;
    }
    let audit = AuditLog::open(&opts.audit).map_err(|source| ClusterError::Io {
        path: opts.audit.clone(),
        source,
    })?;
    let concurrency = opts.concurrency.max(1);
    let consumer = cluster.consumer().await?;
    let shared = Arc::new(Shared {
        cluster,
        sanitizer,
        policy,
        opts,
        audit: Mutex::new(audit),
    });
    let slots = Arc::new(Semaphore::new(concurrency));
    tracing::info!(node = %shared.opts.node, concurrency, "cluster worker ready");
    'outer: loop {
        if *stop.borrow() {
            break;
        }
        let pull = consumer
            .stream()
            .max_messages_per_batch(concurrency)
            .messages();
        let pulled = match tokio::time::timeout(SHORT, pull).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("no answer in time".to_string()),
        };
        let mut messages = match pulled {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot pull jobs; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let permit = tokio::select! {
                p = Arc::clone(&slots).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break 'outer,
                },
                _ = stopped(&mut stop) => break 'outer,
            };
            let next = tokio::select! {
                m = tokio::time::timeout(IDLE_PULL, messages.next()) => match m {
                    Ok(m) => m,
                    Err(_) => break,
                },
                _ = stopped(&mut stop) => break 'outer,
            };
            match next {
                Some(Ok(msg)) => {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        handle(&shared, msg).await;
                        drop(permit);
                    });
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "pulling jobs failed; pulling again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
                None => break,
            }
        }
    }
    // Finish what is in hand (it is acknowledged only when final).
    let _ = slots.acquire_many(concurrency as u32).await;
    tracing::info!("cluster worker stopped");
    Ok(())
}

/// Resolves when `stop` turns true (never, if its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// One delivery of one job; errors leave it unacknowledged for redelivery.
async fn handle(sh: &Arc<Shared>, msg: jetstream::Message) {
    let job: JobMsg = match serde_json::from_slice(&msg.payload) {
        Ok(j) => j,
        Err(e) => {
            // Nothing names a file to place: drop the message, loudly.
            tracing::error!(error = %e, "malformed job message dropped");
            let _ = msg.ack_with(AckKind::Term).await;
            return;
        }
    };
    if !valid_id(&job.id) {
        tracing::error!(id = %job.id, "job with an invalid id dropped");
        let _ = msg.ack_with(AckKind::Term).await;
        return;
    }
    let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
    let msg = Arc::new(msg);
    let every = Duration::from_secs(sh.cluster.config.progress_secs);
    let ticker = {
        let msg = Arc::clone(&msg);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let _ = tokio::time::timeout(SHORT, msg.ack_with(AckKind::Progress)).await;
            }
        })
    };
    let result = process(sh, &job, delivered).await;
    ticker.abort();
    match result {
        Ok(()) => {
            if !matches!(
                tokio::time::timeout(SHORT, msg.double_ack()).await,
                Ok(Ok(()))
            ) {
                // The job is final; a redelivery finds its result and acks.
                tracing::warn!(id = %job.id, "acknowledgement not confirmed");
            }
            let _ = tokio::time::timeout(SHORT, sh.cluster.files.delete(&job.id)).await;
        }
        Err(e) => {
            tracing::warn!(id = %job.id, name = %job.name, error = %e, "job not finished; it will be delivered again");
            // Backing off (2, 4, 8, 16, 32 s) lets a NATS cluster that
            // is electing leaders settle before the job's last delivery.
            let delay = Duration::from_secs(1 << delivered.clamp(1, 5));
            let _ = tokio::time::timeout(SHORT, msg.ack_with(AckKind::Nak(Some(delay)))).await;
        }
    }
}

fn blocked(sha: &str, code: Code, detail: String) -> Outcome {
    Outcome::blocked(
        FileType::Unknown,
        sha.to_string(),
        vec![],
        Finding::new(code, Action::Blocked, detail),
    )
}

/// Reads the job's file from the object store, at most `max + 1` bytes;
/// `None` when it is not there. Bounded: a server going away mid-read
/// leaves the job for redelivery.
async fn fetch(cluster: &Cluster, id: &str, max: u64) -> Result<Option<Vec<u8>>, ClusterError> {
    tokio::time::timeout(READ_FOR, cluster.read_file(id, max))
        .await
        .unwrap_or_else(|_| Err(ClusterError::nats("read file")("no answer in time".into())))
}

async fn process(sh: &Arc<Shared>, job: &JobMsg, delivered: i64) -> Result<(), ClusterError> {
    let cluster = &sh.cluster;
    if cluster.result(&job.id).await?.is_some() {
        return Ok(());
    }
    let started = Instant::now();
    let max = sh.policy.limits.max_input_bytes;
    let limit = cluster.config.max_deliver;
    let mut original = None;
    let mut outcome = if delivered > limit {
        blocked(
            &job.sha256,
            Code::WorkerCrashed,
            format!("delivered {delivered} times without an outcome (each node that took it stopped or hung); not rebuilt again"),
        )
    } else if job.size > max {
        blocked(
            &job.sha256,
            Code::LimitSize,
            format!("{} bytes is over the input limit of {max} bytes", job.size),
        )
    } else {
        match fetch(cluster, &job.id, max).await? {
            // A replica that has just rejoined can answer "not found" for a
            // file the others hold: deliver again; only a file still
            // missing on the last allowed delivery is given up.
            None if delivered < limit => {
                return Err(ClusterError::nats("read file")(
                    "not found (yet) in the object store".into(),
                ))
            }
            None => blocked(
                &job.sha256,
                Code::RebuildFailed,
                "the submitted file is no longer in the object store".into(),
            ),
            Some(b) if b.len() as u64 > max => blocked(
                &job.sha256,
                Code::LimitSize,
                format!("over the input limit of {max} bytes"),
            ),
            Some(b) if sha256_hex(&b) != job.sha256 => blocked(
                &job.sha256,
                Code::RebuildFailed,
                "the stored file does not match the SHA-256 submitted".into(),
            ),
            Some(b) => {
                let sanitizer = Arc::clone(&sh.sanitizer);
                let policy = Arc::clone(&sh.policy);
                let name = job.name.clone();
                let sha = job.sha256.clone();
                let input = b.clone();
                original = Some(b);
                tokio::task::spawn_blocking(move || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        sanitizer.sanitize(&policy, Job::new(name, input))
                    }))
                    .unwrap_or_else(|_| {
                        blocked(
                            &sha,
                            Code::WorkerCrashed,
                            "the rebuild failed unexpectedly".into(),
                        )
                    })
                })
                .await
                .unwrap_or_else(|_| {
                    blocked(
                        &job.sha256,
                        Code::WorkerCrashed,
                        "the rebuild failed unexpectedly".into(),
                    )
                })
            }
        }
    };
    // Fail closed: a verdict that lets the file through needs an output.
    if outcome.verdict() != Verdict::Blocked
        && (outcome.output().is_none() || outcome.output_name().is_none())
    {
        outcome = Outcome::blocked(
            outcome.input_type,
            job.sha256.clone(),
            outcome.findings.clone(),
            Finding::new(
                Code::RebuildFailed,
                Action::Blocked,
                "no output was produced",
            ),
        );
    }
    let output = match job.mode {
        Mode::Place => {
            Some(place_and_audit(sh, job, &outcome, original, started, delivered).await?)
        }
        Mode::Return => {
            tracing::info!(id = %job.id, name = %job.name, verdict = outcome.verdict().as_str(), "rebuilt for the caller");
            match outcome.output_mut() {
                Some(out) => {
                    // The bytes go through the object store, not the result.
                    let bytes = std::mem::take(&mut out.bytes);
                    let name = format!("{}.out", job.id);
                    retry("store output", || async {
                        let mut reader = &bytes[..];
                        cluster.files.put(name.as_str(), &mut reader).await
                    })
                    .await?;
                    Some(name)
                }
                None => None,
            }
        }
    };
    let result = JobResult {
        id: job.id.clone(),
        node: sh.opts.node.clone(),
        outcome,
        output,
    };
    let value = serde_json::to_vec(&result).map_err(|e| ClusterError::Malformed {
        what: "result",
        detail: e.to_string(),
    })?;
    retry("post result", || {
        cluster.results.put(&job.id, value.clone().into())
    })
    .await?;
    Ok(())
}

/// A file-name-safe form of the node name for temporary names.
fn tag(node: &str, id: &str) -> String {
    let n: String = node
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    format!("{n}-{}-{id}", std::process::id())
}

/// Whether any node's audit log (this one's, or a sibling folder under
/// the same audit root) has a record of job `id`.
fn audited_anywhere(own: &AuditLog, id: &str) -> bool {
    if own.contains_id(id).unwrap_or(false) {
        return true;
    }
    let Some(root) = own.dir().parent() else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(root) else {
        return false;
    };
    entries.filter_map(|e| e.ok()).any(|e| {
        let p = e.path();
        p != own.dir() && p.is_dir() && mugai_audit::contains_id_in(&p, id).unwrap_or(false)
    })
}

async fn place_and_audit(
    sh: &Arc<Shared>,
    job: &JobMsg,
    outcome: &Outcome,
    original: Option<Vec<u8>>,
    started: Instant,
    delivered: i64,
) -> Result<String, ClusterError> {
    let sh2 = Arc::clone(sh);
    let job = job.clone();
    let outcome = outcome.clone();
    tokio::task::spawn_blocking(move || {
        place_and_audit_blocking(&sh2, &job, &outcome, original, started, delivered)
    })
    .await
    .map_err(|e| ClusterError::Malformed {
        what: "placement task",
        detail: e.to_string(),
    })?
}

fn place_and_audit_blocking(
    sh: &Shared,
    job: &JobMsg,
    outcome: &Outcome,
    original: Option<Vec<u8>>,
    started: Instant,
    delivered: i64,
) -> Result<String, ClusterError> {
    let o = &sh.opts;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ClusterError::Io { path, source }
    };
    let tag = tag(&o.node, &job.id);
    let time = mugai_audit::clock::rfc3339(mugai_audit::clock::now());
    let placed = match outcome.output() {
        None => {
            let reason = serde_json::json!({
                "id": job.id,
                "path": job.name,
                "submitter": job.submitter,
                "node": o.node,
                "time": time,
                "size": job.size,
                "sha256": job.sha256,
                "type": outcome.input_type.name(),
                "reason": outcome.reason(),
                "findings": outcome.findings,
            });
            let text = serde_json::to_vec_pretty(&reason).map_err(|e| ClusterError::Malformed {
                what: "reason",
                detail: e.to_string(),
            })?;
            let name = mugai_detect::name::safe_component(&job.name);
            placement::place_quarantine(
                &o.clean,
                &o.quarantine,
                &job.id,
                original.as_deref().map(|b| (name.as_str(), b)),
                &text,
                &tag,
            )
            .map_err(io(&o.quarantine))?
        }
        Some(out) => {
            let name = mugai_detect::name::safe_component(&out.name);
            placement::place_clean(&o.clean, &o.quarantine, &job.id, &name, &out.bytes, &tag)
                .map_err(io(&o.clean))?
        }
    };
    let mut audit = sh.audit.lock().unwrap_or_else(|p| p.into_inner());
    let write = match &placed {
        Placed::Created(_) => true,
        Placed::Existing(_) => !audited_anywhere(&audit, &job.id),
    };
    let shown = placed.path().display().to_string();
    if write {
        let mut extra = serde_json::Map::new();
        extra.insert("node".into(), o.node.clone().into());
        extra.insert("submitter".into(), job.submitter.clone().into());
        extra.insert("delivery".into(), delivered.into());
        if !placed.created() {
            // Placed by a delivery that stopped before its record.
            extra.insert("recovered".into(), true.into());
        }
        audit
            .append(Record {
                time,
                // The hash the job was submitted with (checked against
                // the object before the rebuild).
                sha256: job.sha256.clone(),
                duration_ms: started.elapsed().as_millis() as u64,
                output: Some(shown.clone()),
                extra,
                ..Record::for_outcome(job.id.clone(), job.name.clone(), job.size, outcome)
            })
            .map_err(io(&o.audit))?;
    }
    drop(audit);
    match &placed {
        Placed::Created(_) => {
            tracing::info!(id = %job.id, name = %job.name, verdict = outcome.verdict().as_str(), output = %shown, "placed")
        }
        Placed::Existing(_) => {
            tracing::info!(id = %job.id, name = %job.name, output = %shown, audited = write, "placed by an earlier delivery")
        }
    }
    Ok(shown)
}
