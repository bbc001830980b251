//! Start-up, the watch-settle-dispatch loop, signals.

use crate::dirs::{DirOverrides, Dirs};
use crate::filter;
use crate::inbox::Kind;
use crate::job::Shared;
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::retention;
use crate::sdnotify;
use crate::settle::{Ready, Tracker};
use crate::unaccepted::Unaccepted;
use crate::watch::{Event, Watcher};
use anyhow::Context as _;
use mugai_audit::AuditLog;
use mugai_core::{Config, Sanitize};
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// How the daemon was configured: the loaded file (or the embedded
/// default) and the command-line directories over it.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: Config,
    /// Reloaded on SIGHUP; `None` runs on the embedded default.
    pub config_path: Option<PathBuf>,
    pub overrides: DirOverrides,
}

impl Options {
    /// The effective configuration (overrides applied) and its directories.
    pub fn effective(&self) -> anyhow::Result<(Config, Dirs)> {
        let mut c = self.config.clone();
        self.overrides.apply(&mut c.daemon);
        let errors = c.daemon.validate();
        if !errors.is_empty() {
            anyhow::bail!("invalid configuration: {}", errors.join("; "));
        }
        let dirs = Dirs::from_config(&c.daemon).map_err(anyhow::Error::msg)?;
        Ok((c, dirs))
    }

    fn reload(&self) -> anyhow::Result<Config> {
        let path = self
            .config_path
            .as_ref()
            .context("no configuration file to reload (running on the embedded default)")?;
        let mut c = Config::load(path)?;
        self.overrides.apply(&mut c.daemon);
        let errors = c.daemon.validate();
        if !errors.is_empty() {
            anyhow::bail!("invalid configuration: {}", errors.join("; "));
        }
        Dirs::from_config(&c.daemon).map_err(anyhow::Error::msg)?;
        Ok(c)
    }
}

/// The daemon. [`Daemon::run`] returns after SIGTERM/SIGINT once in-flight
/// work has drained.
pub struct Daemon {
    options: Options,
    sanitizer: Arc<dyn Sanitize>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("options", &self.options)
            .finish()
    }
}

/// Files per batch per worker process. A batch makes each step for all its
/// files at once (one fsync of the journal, of the audit log and of each
/// folder touched per step, see `Shared::take_batch`).
const BATCH_PER_WORKER: usize = 2;

/// Batches in flight at once: while some wait on the disk, the files of
/// others are rebuilt (the pool still rebuilds at most `workers` files at
/// once). Each job in flight holds its input in memory: at most
/// `BATCHES * BATCH_PER_WORKER` inputs per worker process.
const BATCHES: usize = 4;

fn workers(c: &Config) -> usize {
    if c.daemon.workers > 0 {
        c.daemon.workers
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

impl Daemon {
    pub fn new(options: Options, sanitizer: Arc<dyn Sanitize>) -> Daemon {
        Daemon { options, sanitizer }
    }

    pub fn run(self) -> anyhow::Result<()> {
        self.options.effective()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(BATCHES + 8)
            .enable_all()
            .build()?;
        rt.block_on(self.main())
    }

    async fn main(self) -> anyhow::Result<()> {
        let (config, mut dirs) = self.options.effective()?;
        let configured_dirs = dirs.clone();
        dirs.create()
            .context("cannot create the daemon's directories")?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dirs.lock())
            .with_context(|| format!("cannot open {}", dirs.lock().display()))?;
        if lock.try_lock().is_err() {
            anyhow::bail!("another mugai daemon is using {}", dirs.state.display());
        }
        let journal = Journal::open(&dirs.journal()).context("cannot open the journal")?;
        let audit = AuditLog::open(&dirs.audit).context("cannot open the audit log")?;
        let metrics = Arc::new(Metrics::default());
        let n_workers = workers(&config);
        let batch_size = n_workers * BATCH_PER_WORKER;
        let shared = Arc::new(
            Shared::new(
                dirs.clone(),
                Arc::new(config.clone()),
                self.sanitizer.clone(),
                journal,
                audit,
                metrics.clone(),
            )
            .with_context(|| format!("cannot open the inbox {}", dirs.inbox.display()))?,
        );

        // Redo unfinished jobs before anything new is taken.
        let open = shared
            .journal
            .lock()
            .map(|j| j.open_jobs())
            .unwrap_or_default();
        if !open.is_empty() {
            tracing::info!("recovering {} unfinished job(s)", open.len());
        }
        let sh = shared.clone();
        let failed: Vec<String> = tokio::task::spawn_blocking(move || {
            let mut failed = Vec::new();
            for st in open {
                match sh.resume(&st) {
                    Ok(h) => tracing::info!(id = %st.id, path = %st.rel, "recovered: {h:?}"),
                    Err(e) => {
                        tracing::error!(id = %st.id, path = %st.rel, "recovery failed: {e}");
                        sh.metrics.error();
                        failed.push(st.id.clone());
                    }
                }
            }
            failed
        })
        .await?;
        remove_stray_work(&dirs, &shared);
        prune(&dirs, config.daemon.retention_days).await;

        if let Some(addr) = &config.daemon.metrics_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for metrics"))?;
            tokio::spawn(crate::metrics::serve(listener, metrics.clone()));
            tracing::info!("metrics on http://{addr}/metrics");
        }

        {
            let (sh, m) = (shared.clone(), metrics.clone());
            tokio::spawn(crate::signatures::watch(
                move || sh.config().policy.av.clone(),
                move |age| m.signature_age_seconds.store(age, Ordering::Relaxed),
            ));
        }
        let mut watcher = Watcher::new().context("cannot set up inotify")?;
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sighup = signal(SignalKind::hangup())?;

        let mut scan = Scan::default();
        scan.run(&shared, &mut watcher, Path::new(""), settle_of(&config));
        let mut settle = settle_of(&config);
        let mut unaccepted_after = Duration::from_secs(config.daemon.unaccepted_after_secs);
        let mut tick = tokio::time::interval(tick_of(settle));
        let mut rescan_every =
            tokio::time::interval(Duration::from_secs(config.daemon.rescan_secs));
        rescan_every.reset();
        let mut prune_every = tokio::time::interval(Duration::from_secs(3600));
        prune_every.reset();
        let watchdog = sdnotify::watchdog_interval();
        let mut watchdog_every =
            tokio::time::interval(watchdog.map_or(Duration::from_secs(3600), |d| d / 2));
        let mut retry_every = tokio::time::interval(Duration::from_secs(30));
        retry_every.reset();
        let mut retry: Vec<String> = failed;

        let mut queue: VecDeque<Ready> = VecDeque::new();
        let mut busy: HashSet<PathBuf> = HashSet::new();
        let mut running = tokio::task::JoinSet::new();
        let mut cfg = config;
        let mut capacity = queue_cap(&cfg, n_workers);

        sdnotify::notify("READY=1");
        tracing::info!(
            inbox = %dirs.inbox.display(),
            clean = %dirs.clean.display(),
            workers = n_workers,
            "mugai daemon ready"
        );

        loop {
            tokio::select! {
                events = watcher.next() => match events {
                    Ok(events) => for ev in events {
                        match ev {
                            Event::Overflow => scan.run(&shared, &mut watcher, Path::new(""), settle),
                            Event::Folder(rel) if !filter::is_ignored(&rel) => scan.run(&shared, &mut watcher, &rel, settle),
                            Event::Folder(rel) => if let Ok(m) = shared.inbox.stat(&rel) {
                                scan.unaccepted_entry(&shared, &rel, &m);
                            },
                            Event::Writing(rel) if !filter::is_ignored(&rel) => scan.tracker.writing(rel),
                            Event::Closed(rel) if !filter::is_ignored(&rel) => scan.tracker.closed(rel),
                            Event::Arrived(rel) => match shared.inbox.stat(&rel) {
                                Ok(m) if m.kind == Kind::Dir && !filter::is_ignored(&rel) => scan.run(&shared, &mut watcher, &rel, settle),
                                Ok(m) if m.kind == Kind::File && !filter::is_ignored(&rel) => scan.tracker.closed(rel),
                                Ok(m) => scan.unaccepted_entry(&shared, &rel, &m),
                                Err(_) => {}
                            },
                            Event::Writing(_) | Event::Closed(_) => {}
                        }
                    },
                    Err(e) => {
                        tracing::error!("inotify failed: {e}; relying on rescans");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                _ = tick.tick(), if !scan.tracker.is_empty() => {}
                _ = rescan_every.tick() => {
                    scan.run(&shared, &mut watcher, Path::new(""), settle);
                    for (rel, id, reason) in scan.unaccepted.due(unaccepted_after) {
                        match shared.quarantine_unaccepted(&rel, id, reason) {
                            Ok(_) => scan.unaccepted.forget(&rel),
                            Err(e) => tracing::error!(path = %rel.display(), "cannot quarantine an unaccepted entry: {e}"),
                        }
                    }
                }
                _ = prune_every.tick() => prune(&dirs, cfg.daemon.retention_days).await,
                _ = watchdog_every.tick() => if watchdog.is_some() { sdnotify::notify("WATCHDOG=1") },
                _ = retry_every.tick() => {
                    let open = shared.journal.lock().map(|j| {
                        retry.iter().filter_map(|id| j.get(id).cloned()).collect::<Vec<_>>()
                    }).unwrap_or_default();
                    retry.clear();
                    for st in open {
                        let sh = shared.clone();
                        running.spawn_blocking(move || vec![(PathBuf::new(), Some(st.id.clone()), sh.resume(&st))]);
                    }
                }
                Some(done) = running.join_next() => {
                    for done in done.map_or_else(|e| vec![Err(e)], |v| v.into_iter().map(Ok).collect()) {
                    match done {
                        Ok((rel, id, res)) => {
                            busy.remove(&rel);
                            // A new file may have been dropped under the
                            // same name meanwhile: it settles afresh.
                            scan.tracker.forget(&rel);
                            if !rel.as_os_str().is_empty()
                                && shared.inbox.stat(&rel).is_ok_and(|m| m.kind == Kind::File)
                            {
                                scan.tracker.touch(rel.clone());
                            }
                            if let Err(e) = res {
                                tracing::error!(path = %rel.display(), "job failed: {e}; it will be retried");
                                shared.metrics.error();
                                // Retried if it was left open in the journal.
                                if let Some(id) = id {
                                    if !retry.contains(&id) {
                                        retry.push(id);
                                    }
                                }
                            }
                        }
                        Err(e) => tracing::error!("job task failed: {e}"),
                    }
                    }
                }
                _ = sigterm.recv() => break,
                _ = sigint.recv() => break,
                _ = sighup.recv() => {
                    sdnotify::notify("RELOADING=1");
                    match self.options.reload() {
                        Ok(c) => {
                            if Dirs::from_config(&c.daemon).ok().as_ref() != Some(&configured_dirs) {
                                tracing::warn!("directory changes take effect only after a restart");
                            }
                            settle = settle_of(&c);
                            unaccepted_after = Duration::from_secs(c.daemon.unaccepted_after_secs);
                            tick = tokio::time::interval(tick_of(settle));
                            capacity = queue_cap(&c, n_workers);
                            shared.set_config(Arc::new(c.clone()));
                            cfg = c;
                            tracing::info!("configuration reloaded");
                        }
                        Err(e) => tracing::error!("configuration reload rejected, keeping the previous one: {e:#}"),
                    }
                    sdnotify::notify("READY=1");
                }
            }

            // Settled files join the queue while it has room; the rest stay
            // in the inbox (back-pressure) and are looked at again next tick.
            if queue.len() < capacity {
                let is_busy = |p: &Path| busy.contains(p);
                for r in scan
                    .tracker
                    .ready(&shared.inbox, settle, unaccepted_after, &is_busy)
                {
                    if queue.len() >= capacity {
                        break;
                    }
                    if r.stale_writer {
                        tracing::warn!(path = %r.rel.display(), "taken although its writer never closed it (unchanged for {} s)", unaccepted_after.as_secs());
                    }
                    busy.insert(r.rel.clone());
                    queue.push_back(r);
                }
            }
            // Files go in batches (see `Shared::take_batch`), a few batches
            // at once so that one's files are rebuilt while another waits
            // on the disk.
            while running.len() < BATCHES && !queue.is_empty() {
                let n = queue.len().min(batch_size);
                let batch: Vec<Ready> = queue.drain(..n).collect();
                let sh = shared.clone();
                running.spawn_blocking(move || {
                    let items: Vec<_> = batch.iter().map(|r| (r.rel.clone(), r.id)).collect();
                    sh.take_batch(&items)
                        .into_iter()
                        .zip(batch)
                        .map(|((id, res), r)| (r.rel, Some(id), res))
                        .collect::<Vec<_>>()
                });
            }
            shared
                .metrics
                .queue_depth
                .store(queue.len() as u64, Ordering::Relaxed);
            shared
                .metrics
                .in_flight
                .store(running.len() as u64, Ordering::Relaxed);
        }

        // Drain: nothing new is taken; files in flight are finished.
        sdnotify::notify("STOPPING=1");
        drop(watcher);
        tracing::info!("stopping: finishing {} file(s) in flight", running.len());
        while let Some(done) = running.join_next().await {
            for (rel, _, res) in done.unwrap_or_default() {
                if let Err(e) = res {
                    tracing::error!(path = %rel.display(), "job failed while stopping: {e}");
                }
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}

fn tick_of(settle: Duration) -> Duration {
    (settle / 4).clamp(Duration::from_millis(20), Duration::from_millis(500))
}

fn queue_cap(c: &Config, workers: usize) -> usize {
    if c.daemon.queue > 0 {
        c.daemon.queue
    } else {
        workers * 4
    }
}

fn settle_of(c: &Config) -> Duration {
    Duration::from_millis(c.daemon.settle_ms)
}

/// What full and partial scans of the inbox keep between runs.
#[derive(Debug, Default)]
struct Scan {
    tracker: Tracker,
    unaccepted: Unaccepted,
    /// Subfolders found empty by the last full scan.
    empty: HashSet<PathBuf>,
}

impl Scan {
    /// Walks `rel` through directory handles: watches every folder, tracks
    /// regular files, reports what will not be taken. A full scan (`rel`
    /// empty) also removes subfolders found empty by two scans in a row and
    /// unchanged for a settle time plus a rescan period, and forgets
    /// unaccepted entries that are gone.
    fn run(&mut self, shared: &Shared, watcher: &mut Watcher, rel: &Path, settle: Duration) {
        let rescan = Duration::from_secs(shared.config().daemon.rescan_secs);
        let full = rel.as_os_str().is_empty();
        let mut present = HashSet::new();
        let mut empty = HashSet::new();
        let mut stack = vec![rel.to_path_buf()];
        while let Some(dir_rel) = stack.pop() {
            let dir = match shared.inbox.open_dir(&dir_rel) {
                Ok(d) => d,
                Err(e) => {
                    if full && dir_rel.as_os_str().is_empty() {
                        tracing::error!(
                            "cannot read the inbox {}: {e}",
                            shared.inbox.path().display()
                        );
                    }
                    continue;
                }
            };
            if let Err(e) = watcher.add(&dir, &dir_rel) {
                tracing::warn!(path = %dir_rel.display(), "cannot watch: {e}; found by rescans only");
            }
            let Ok(entries) = shared.inbox.list(&dir_rel) else {
                continue;
            };
            if entries.is_empty() && !dir_rel.as_os_str().is_empty() {
                empty.insert(dir_rel.clone());
            }
            for (name, m) in entries {
                let child = dir_rel.join(&name);
                if filter::is_ignored(Path::new(&name))
                    || m.kind == Kind::Symlink
                    || m.kind == Kind::Special
                {
                    present.insert(child.clone());
                    self.unaccepted_entry(shared, &child, &m);
                    continue;
                }
                match m.kind {
                    Kind::Dir => stack.push(child),
                    Kind::File => self.tracker.touch(child),
                    _ => {}
                }
            }
        }
        if full {
            self.unaccepted.keep_only(&present);
            for d in &empty {
                // Emptied longer ago than a settle time and a rescan period:
                // a folder just made for an upload is left for it.
                let settled = shared
                    .inbox
                    .stat(d)
                    .is_ok_and(|m| m.age_secs() >= (settle + rescan).as_secs().max(1));
                if self.empty.contains(d) && settled {
                    match shared.inbox.remove_empty_dir(d) {
                        Ok(true) => {
                            tracing::info!(path = %d.display(), "removed the emptied subfolder")
                        }
                        Ok(false) => {}
                        Err(e) => {
                            tracing::debug!(path = %d.display(), "subfolder not removed: {e}")
                        }
                    }
                }
            }
            self.empty = empty;
        }
    }

    /// Notes an entry that will not be taken; reports it the first time.
    fn unaccepted_entry(&mut self, shared: &Shared, rel: &Path, m: &crate::inbox::Meta) {
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let reason = match m.kind {
            Kind::Symlink => "symbolic link",
            Kind::Special => "special file (FIFO, socket or device)",
            _ => match filter::why_ignored(&name) {
                Some(r) => r,
                // Below a folder with such a name: the folder is reported.
                None => return,
            },
        };
        if self.unaccepted.note(rel, m, reason) {
            if let Err(e) = shared.report_unaccepted(rel, m, reason) {
                tracing::error!(path = %rel.display(), "cannot audit an unaccepted entry: {e}");
            }
        }
    }
}

async fn prune(dirs: &Dirs, days: u32) {
    if days == 0 {
        return;
    }
    let roots = [dirs.originals.clone(), dirs.quarantine.clone()];
    let _ = tokio::task::spawn_blocking(move || {
        let keep = retention::cutoff(days);
        for root in roots {
            match retention::prune(&root, &keep) {
                Ok(v) if !v.is_empty() => tracing::info!(
                    "retention: removed {} from {}",
                    v.join(", "),
                    root.display()
                ),
                Ok(_) => {}
                Err(e) => tracing::error!("retention pruning of {} failed: {e}", root.display()),
            }
        }
    })
    .await;
}

/// Removes work directories no open job owns (left by a crash after `Done`).
fn remove_stray_work(dirs: &Dirs, shared: &Shared) {
    let open: HashSet<String> = shared
        .journal
        .lock()
        .map(|j| j.open_jobs().into_iter().map(|s| s.id).collect())
        .unwrap_or_default();
    let Ok(rd) = std::fs::read_dir(dirs.work()) else {
        return;
    };
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if open.contains(&id) {
            continue;
        }
        if e.path().join("input").exists() {
            tracing::warn!(
                "work directory {} has an input but no journal entry; left in place",
                e.path().display()
            );
        } else {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
