//! `mugai cluster worker` and `mugai cluster submit`: mugai nodes sharing
//! the work through NATS JetStream (see docs/cluster.md).

use crate::exit;
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use futures_util::StreamExt;
use mugai_cluster::submit::Waiter;
use mugai_cluster::worker::{self, WorkerOptions};
use mugai_cluster::{job_id, Cluster, JobMsg, JobResult, Mode};
use mugai_core::{Code, Config, Outcome, Verdict};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Run a worker node: take jobs, rebuild, place, audit, post outcomes.
    Worker(WorkerArgs),
    /// Submit files to the cluster; one JSON line per file, like
    /// `sanitize --json`.
    Submit(SubmitArgs),
}

#[derive(Debug, Args)]
struct WorkerArgs {
    /// Configuration file (default: $MUGAI_CONFIG, else
    /// /etc/mugai/mugai.toml if it exists, else the embedded default).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// NATS server URL (repeatable; overrides `cluster.nats`).
    #[arg(long, value_name = "URL")]
    nats: Vec<String>,
    /// Shared folder for rebuilt files (overrides `cluster.clean`).
    #[arg(long, value_name = "DIR")]
    clean: Option<PathBuf>,
    /// Shared folder for blocked originals (overrides `cluster.quarantine`).
    #[arg(long, value_name = "DIR")]
    quarantine: Option<PathBuf>,
    /// This node's audit-log folder (overrides `cluster.audit`).
    #[arg(long, value_name = "DIR")]
    audit: Option<PathBuf>,
    /// This node's name in audit records and results (default: host name).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Worker processes of the local pool (0: `daemon.workers`, else one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    workers: usize,
    /// Rebuild in this process instead of worker processes (tests, benches).
    #[arg(long, hide = true)]
    in_process: bool,
}

#[derive(Debug, Args)]
struct SubmitArgs {
    /// Configuration file (default: $MUGAI_CONFIG, else
    /// /etc/mugai/mugai.toml if it exists, else the embedded default).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// NATS server URL (repeatable; overrides `cluster.nats`).
    #[arg(long, value_name = "URL")]
    nats: Vec<String>,
    /// Who submits (part of each job id; default: HOST:USER).
    #[arg(long, value_name = "NAME")]
    submitter: Option<String>,
    /// Files or directories (directories are recursed; symbolic links
    /// inside them are not followed).
    #[arg(value_name = "FILE", required = true)]
    inputs: Vec<PathBuf>,
}

pub fn run(a: ClusterArgs) -> anyhow::Result<u8> {
    match a.command {
        ClusterCommand::Worker(w) => run_worker(w),
        ClusterCommand::Submit(s) => run_submit(s),
    }
}

pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn load(config: Option<&Path>, nats: Vec<String>) -> anyhow::Result<Config> {
    let mut config = super::common::load_config(config)?;
    if !nats.is_empty() {
        config.cluster.nats = nats;
    }
    Ok(config)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run_worker(a: WorkerArgs) -> anyhow::Result<u8> {
    // The local offset can only be read while this is the only thread.
    mugai_audit::clock::init();
    let config = load(a.config.as_deref(), a.nats)?;
    super::common::init_logging(&config.log);
    let c = &config.cluster;
    let need = |v: Option<PathBuf>, d: &Option<PathBuf>, key: &str| {
        v.or_else(|| d.clone())
            .with_context(|| format!("`cluster.{key}` is not set (or give --{key} DIR)"))
    };
    let clean = need(a.clean, &c.clean, "clean")?;
    let quarantine = need(a.quarantine, &c.quarantine, "quarantine")?;
    let audit = need(a.audit, &c.audit, "audit")?;
    let workers = if a.workers > 0 {
        a.workers
    } else {
        config.daemon.workers
    };
    let sanitizer = super::common::sanitizer(&config, workers, a.in_process)?;
    let concurrency = match (c.concurrency, workers) {
        (0, 0) => std::thread::available_parallelism().map_or(2, |n| n.get()),
        (0, w) => w,
        (n, _) => n,
    };
    let opts = WorkerOptions {
        node: a.node.unwrap_or_else(host_name),
        clean,
        quarantine,
        audit,
        concurrency,
    };
    let policy = Arc::new(config.policy.clone());
    let cluster_config = config.cluster.clone();
    runtime()?.block_on(async move {
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            if let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                let _ = stop_tx.send(true);
            }
        });
        // A node waits for NATS rather than give up: the queue keeps the
        // jobs meanwhile.
        let cluster = loop {
            match Cluster::connect(&cluster_config, &opts.node).await {
                Ok(c) => break Arc::new(c),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the NATS cluster; retrying");
                    if *stop.borrow() {
                        return Ok(exit::OK);
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        worker::run(cluster, sanitizer, policy, opts, stop).await?;
        Ok(exit::OK)
    })
}

/// One input: where it came from and what it became.
struct Entry {
    path: PathBuf,
    id: Option<String>,
    line: Option<Result<(Outcome, Option<PathBuf>), String>>,
}

fn run_submit(a: SubmitArgs) -> anyhow::Result<u8> {
    let config = load(a.config.as_deref(), a.nats)?;
    let submitter = a.submitter.unwrap_or_else(|| {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        format!("{}:{user}", host_name())
    });
    let (items, mut errors) = super::sanitize::collect(&a.inputs);
    if items.is_empty() && errors.is_empty() {
        bail!("no FILE given");
    }
    let limit = config.policy.limits.max_input_bytes;
    let mut entries: Vec<Entry> = Vec::new();
    let mut jobs = Vec::new();
    for item in items {
        let name = item
            .rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut entry = Entry {
            path: item.path.clone(),
            id: None,
            line: None,
        };
        match std::fs::metadata(&item.path) {
            Err(e) => entry.line = Some(Err(format!("{}: {e}", item.path.display()))),
            Ok(m) if m.len() > limit => {
                // Not read at all, as `sanitize` does.
                let sha = std::fs::File::open(&item.path)
                    .and_then(mugai_core::sha256_reader)
                    .unwrap_or_default();
                let b = mugai_core::Blocked::new(
                    Code::LimitSize,
                    format!("{} bytes is over the input limit of {limit} bytes", m.len()),
                );
                entry.line = Some(Ok((
                    Outcome::blocked(
                        mugai_core::FileType::Unknown,
                        sha,
                        Vec::new(),
                        b.into_finding(),
                    ),
                    None,
                )));
            }
            Ok(_) => {
                let sha = std::fs::File::open(&item.path)
                    .and_then(mugai_core::sha256_reader)
                    .map_err(|e| format!("{}: {e}", item.path.display()));
                match sha {
                    Err(e) => entry.line = Some(Err(e)),
                    Ok(sha) => {
                        let id = job_id(&submitter, &name, &sha);
                        entry.id = Some(id.clone());
                        jobs.push((
                            entries.len(),
                            JobMsg {
                                id,
                                name,
                                sha256: sha,
                                size: 0,
                                submitter: submitter.clone(),
                                mode: Mode::Place,
                            },
                        ));
                    }
                }
            }
        }
        entries.push(entry);
    }

    let idle = Duration::from_secs(config.cluster.submit_timeout_secs);
    let cluster_config = config.cluster.clone();
    let stdout = std::io::stdout();
    let mut next = 0usize;
    let mut print_ready = |entries: &mut Vec<Entry>, errors: &mut Vec<String>| {
        while let Some(e) = entries.get_mut(next) {
            let Some(line) = e.line.take() else { break };
            match line {
                Ok((o, written)) => {
                    let text = super::sanitize::json_line(&e.path, &o, written.as_deref());
                    let mut out = stdout.lock();
                    let _ = writeln!(out, "{text}");
                    let _ = out.flush();
                    e.line = Some(Ok((o, None)));
                }
                Err(msg) => {
                    errors.push(msg.clone());
                    e.line = Some(Err(msg));
                }
            }
            next += 1;
        }
    };
    print_ready(&mut entries, &mut errors);
    let outcome: anyhow::Result<()> = runtime()?.block_on(async {
        let cluster = Cluster::connect(&cluster_config, "mugai-submit").await?;
        let mut waiter = Waiter::start(&cluster).await?;
        let paths: HashMap<usize, PathBuf> = jobs
            .iter()
            .map(|(i, _)| (*i, entries[*i].path.clone()))
            .collect();
        let results = futures_util::stream::iter(jobs.iter())
            .map(|(i, job)| {
                let cluster = &cluster;
                let path = paths[i].clone();
                async move {
                    let bytes =
                        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    if mugai_core::sha256_hex(&bytes) != job.sha256 {
                        return Err(format!("{}: changed while being submitted", path.display()));
                    }
                    let mut job = job.clone();
                    job.size = bytes.len() as u64;
                    cluster
                        .submit(&job, &bytes)
                        .await
                        .map_err(|e| format!("{}: {e}", path.display()))
                }
            })
            .buffered(4)
            .collect::<Vec<_>>()
            .await;
        let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
        for ((i, job), r) in jobs.iter().zip(results) {
            match r {
                Ok(()) => by_id.entry(job.id.clone()).or_default().push(*i),
                Err(e) => entries[*i].line = Some(Err(e)),
            }
        }
        print_ready(&mut entries, &mut errors);
        let ids: Vec<String> = by_id.keys().cloned().collect();
        let waited = waiter
            .wait(ids, idle, |r: JobResult| {
                for &i in by_id.get(&r.id).map(Vec::as_slice).unwrap_or_default() {
                    let written = match (&r.outcome.verdict(), &r.output) {
                        (Verdict::Blocked, _) | (_, None) => None,
                        (_, Some(p)) => Some(PathBuf::from(p)),
                    };
                    entries[i].line = Some(Ok((r.outcome.clone(), written)));
                }
                print_ready(&mut entries, &mut errors);
            })
            .await;
        if let Err(e) = waited {
            for e2 in entries
                .iter_mut()
                .filter(|e| e.line.is_none() && e.id.is_some())
            {
                e2.line = Some(Err(format!("{}: {e}", e2.path.display())));
            }
            print_ready(&mut entries, &mut errors);
        }
        Ok(())
    });
    outcome?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &entries {
        if let Some(Ok((o, _))) = &e.line {
            *counts.entry(o.verdict().as_str()).or_default() += 1;
        }
    }
    for e in &errors {
        eprintln!("mugai: {e}");
    }
    Ok(if !errors.is_empty() {
        exit::ERROR
    } else if counts.get("blocked").copied().unwrap_or(0) > 0 {
        exit::BLOCKED
    } else {
        exit::OK
    })
}
