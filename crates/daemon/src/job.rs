//! One file's way from the inbox to exactly one of clean or quarantine.
//!
//! Files are taken in batches ([`Shared::take_batch`]); each step is made
//! for every file of a batch before the next one starts, so that the
//! journal, the audit log and each folder touched are fsynced once per
//! step for the whole batch rather than once per file. Steps, each
//! announced in the journal before it happens and each able to recognise
//! its own earlier work when a job is redone after a crash:
//!
//! 1. claim: `Claim` is journalled for the batch (one fsync), then each
//!    input moves from the inbox into `state/work/<id>/input` (so the
//!    inbox no longer offers it); the work folders and the inbox folders
//!    are fsynced, each once;
//! 2. sanitise, each file on its own thread (redone on recovery; the
//!    result is not persisted); the output is written to a hidden
//!    temporary name in its clean directory and fsynced;
//! 3. output: a free name is chosen for every output of the batch,
//!    announced with `Out{dest}` (one fsync), then each temporary file is
//!    hard-linked to its `dest` (which never replaces a file) — a redo
//!    finds `dest` with the announced SHA-256 and does not place it
//!    again. Blocked: `reason.json` in `quarantine/<date>/<id>/`. Then
//!    the notices, announced the same way; then every folder touched is
//!    fsynced once;
//! 4. audit records (one fsync), then `Audit` (a redo first looks for the
//!    id in the log);
//! 5. the inputs move to `originals/<date>/<id>/` (or beside
//!    `reason.json`), those folders fsynced once each; once an input is
//!    gone from the work directory its job is complete;
//! 6. the work directories are removed, the work root fsynced, then
//!    `Done`.
//!
//! The ordering argument is written at [`Shared::take_batch`]'s steps (in
//! `process`). `Audit` and `Done` are not waited on (a redo recognises
//! the finished step) and become durable with the next entry that is.

use crate::dirs::Dirs;
use crate::inbox::{self, FileId, Inbox, Kind};
use crate::journal::{Entry, JobState, Journal};
use crate::metrics::Metrics;
use crate::notice::{self, NoticeInput};
use crate::place::{self, TMP_PREFIX};
use mugai_audit::{clock, AuditLog, Pending, Record};
use mugai_core::config::NoticePlacement;
use mugai_core::{
    sha256_hex, Action, Code, Config, FileType, Finding, Job, Outcome, Sanitize, Verdict,
};
use mugai_detect::name;
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// What a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The input was gone before it could be claimed.
    Void,
    /// The entry was no longer the file seen settling; nothing was taken.
    Changed,
    /// Finished earlier; only the journal entry was missing.
    AlreadyDone,
    Done {
        verdict: Verdict,
        output: String,
    },
}

/// Everything jobs share.
pub struct Shared {
    pub dirs: Dirs,
    /// The inbox, reached only through directory handles.
    pub inbox: Inbox,
    pub config: RwLock<Arc<Config>>,
    pub sanitizer: Arc<dyn Sanitize>,
    pub journal: Mutex<Journal>,
    pub audit: Mutex<AuditLog>,
    /// Serialises choosing a free name and linking to it.
    place_lock: Mutex<()>,
    /// Day folders (of originals and quarantine) whose entry in their
    /// parent is known to be durable.
    durable_days: Mutex<HashSet<PathBuf>>,
    pub metrics: Arc<Metrics>,
    counter: AtomicU64,
    /// Stops every batch after this step, as a crash there would.
    stop_after: Mutex<Option<Stage>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("dirs", &self.dirs).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A delivered file may not pass for one of the daemon's notices.
pub fn not_a_notice_name(name: &str) -> String {
    let lower = name.to_lowercase();
    if lower.ends_with(".mugai.txt") || lower.starts_with("mugai-notice-") {
        format!("_{name}")
    } else {
        name.to_string()
    }
}

/// The path components of `rel` (`/`-separated).
fn components(rel: &str) -> Vec<&str> {
    rel.split('/').filter(|c| !c.is_empty()).collect()
}

impl Shared {
    pub fn new(
        dirs: Dirs,
        config: Arc<Config>,
        sanitizer: Arc<dyn Sanitize>,
        journal: Journal,
        audit: AuditLog,
        metrics: Arc<Metrics>,
    ) -> io::Result<Shared> {
        Ok(Shared {
            inbox: Inbox::open(&dirs.inbox)?,
            dirs,
            config: RwLock::new(config),
            sanitizer,
            journal: Mutex::new(journal),
            audit: Mutex::new(audit),
            place_lock: Mutex::new(()),
            durable_days: Mutex::new(HashSet::new()),
            metrics,
            counter: AtomicU64::new(0),
            stop_after: Mutex::new(None),
        })
    }

    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_config(&self, c: Arc<Config>) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = c;
    }

    /// Journals an entry and waits until it is durable (group commit: the
    /// wait is outside the journal's lock).
    fn journal(&self, e: Entry) -> io::Result<()> {
        let pending = lock(&self.journal).write(e)?;
        pending.wait()
    }

    /// Journals an entry whose loss a redo tolerates, without waiting.
    fn journal_lazy(&self, e: Entry) -> io::Result<()> {
        lock(&self.journal).write(e).map(drop)
    }

    /// Makes the entry of the day folder `day` in its parent durable, once
    /// per folder and process (every job of the day adds to it).
    fn day_durable(&self, day: &Path) -> io::Result<()> {
        if lock(&self.durable_days).contains(day) {
            return Ok(());
        }
        if let Some(root) = day.parent() {
            place::sync_dir(root)?;
        }
        lock(&self.durable_days).insert(day.to_path_buf());
        Ok(())
    }

    pub(crate) fn new_id(&self) -> String {
        let t = clock::now();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}{:03}-{n:06}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }

    /// Takes a settled file from the inbox (`rel` relative to it), if it
    /// is still the object `expect` seen settling.
    /// Returns the job's id with the result; after an error the job may be
    /// left open in the journal, to be retried with [`Shared::resume`].
    pub fn take(&self, rel: &Path, expect: FileId) -> (String, io::Result<Handled>) {
        let mut v = self.take_batch(&[(rel.to_path_buf(), expect)]);
        v.pop()
            .unwrap_or_else(|| (String::new(), Err(io::Error::other("no job"))))
    }

    /// Takes a batch of settled files (see [`Shared::take`]); each step is
    /// made for every file of the batch before the next step, so that the
    /// journal, the audit log and each directory touched are fsynced once
    /// per step for the whole batch. Returns each file's job id and result,
    /// in order.
    pub fn take_batch(&self, items: &[(PathBuf, FileId)]) -> Vec<(String, io::Result<Handled>)> {
        let started = Instant::now();
        let date = clock::today();
        let mut slots: Vec<Slot> = items
            .iter()
            .map(|(rel, _)| Slot {
                st: JobState {
                    id: self.new_id(),
                    rel: rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/"),
                    date: date.clone(),
                    ..JobState::default()
                },
                recovered: false,
                started,
                result: None,
            })
            .collect();
        // 1. Claim: every `Claim` is durable before any input moves.
        let claimed = self.journal_all(slots.iter().map(|s| Entry::Claim {
            id: s.st.id.clone(),
            rel: s.st.rel.clone(),
            date: s.st.date.clone(),
        }));
        if let Err(e) = claimed {
            for s in &mut slots {
                s.result = Some(Err(copy_err(&e)));
            }
        }
        let mut inbox_dirs = Vec::new();
        let mut work_dirs = Vec::new();
        for (s, (rel, expect)) in slots.iter_mut().zip(items) {
            if s.result.is_some() {
                continue;
            }
            let work = self.dirs.job_dir(&s.st.id);
            let moved = std::fs::create_dir_all(&work).and_then(|()| {
                self.inbox
                    .claim_unsynced(rel, *expect, &work, "input", &s.st.id)
            });
            match moved {
                Ok(dir) => {
                    inbox_dirs.push(dir);
                    work_dirs.push(work);
                }
                Err(e) => {
                    let end = if e.kind() == io::ErrorKind::NotFound {
                        Ok(Handled::Void)
                    } else if inbox::is_changed(&e) {
                        Ok(Handled::Changed)
                    } else {
                        // Nothing was moved: forget the job; the file stays
                        // in the inbox and is tried again.
                        Err(e)
                    };
                    s.result = Some(self.finish(&s.st.id).and(end));
                }
            }
        }
        // The moves are durable (the new job folders, the inputs in them,
        // their absence from the inbox) before anything is placed: a crash
        // can no longer bring an input back to the inbox once an output
        // of it may exist.
        let synced = place::sync_dir(&self.dirs.work())
            .and_then(|()| place::sync_dirs(&work_dirs))
            .and_then(|()| inbox::sync_each(&inbox_dirs));
        if let Err(e) = synced {
            // Left open in the journal, redone by a retry.
            for s in slots.iter_mut().filter(|s| s.result.is_none()) {
                s.result = Some(Err(copy_err(&e)));
            }
        }
        if !self.stopped(Stage::Claimed, &mut slots) {
            self.process(&mut slots);
        }
        slots
            .into_iter()
            .map(|s| {
                let r = s
                    .result
                    .unwrap_or_else(|| Err(io::Error::other("the job did not finish")));
                (s.st.id, r)
            })
            .collect()
    }

    /// Redoes an unfinished job found in the journal.
    pub fn resume(&self, st: &JobState) -> io::Result<Handled> {
        let mut slots = [Slot {
            st: st.clone(),
            recovered: true,
            started: Instant::now(),
            result: None,
        }];
        self.process(&mut slots);
        let [s] = slots;
        s.result
            .unwrap_or_else(|| Err(io::Error::other("the job did not finish")))
    }

    /// Writes the entries and waits until all are durable (one fsync for
    /// all of them, unless the journal was compacted in between).
    fn journal_all(&self, entries: impl IntoIterator<Item = Entry>) -> io::Result<()> {
        let mut pending = Vec::new();
        {
            let mut j = lock(&self.journal);
            for e in entries {
                pending.push(j.write(e)?);
            }
        }
        for p in pending {
            p.wait()?;
        }
        Ok(())
    }

    /// Makes every batch stop after `stage` (`None`: run to the end),
    /// leaving the disk as a crash there would: for tests of recovery.
    #[doc(hidden)]
    pub fn stop_after(&self, stage: Option<Stage>) {
        *lock(&self.stop_after) = stage;
    }

    /// Whether the batch stops after `stage`; its open jobs then fail
    /// (they stay open in the journal).
    fn stopped(&self, stage: Stage, slots: &mut [Slot]) -> bool {
        if *lock(&self.stop_after) != Some(stage) {
            return false;
        }
        for s in slots.iter_mut().filter(|s| s.result.is_none()) {
            s.result = Some(Err(io::Error::other(format!("stopped after {stage:?}"))));
        }
        true
    }

    /// `Done`, then the work directory goes. Neither is waited on: if
    /// either is lost, the redo finds the input gone from the work
    /// directory and recognises the finished job, and a work directory
    /// left without an open job is removed at start-up.
    fn finish(&self, id: &str) -> io::Result<()> {
        self.journal_lazy(Entry::Done { id: id.to_string() })?;
        remove_work(&self.dirs.job_dir(id))
    }

    /// Where the original ends up: originals, or beside `reason.json`.
    fn original_place(&self, st: &JobState, blocked: bool) -> (PathBuf, String) {
        let comps = components(&st.rel);
        let mut safe = name::safe_component(comps.last().copied().unwrap_or("unnamed"));
        if blocked {
            if safe == "reason.json" {
                safe.insert(0, '_');
            }
            (self.dirs.quarantine.join(&st.date).join(&st.id), safe)
        } else {
            (self.dirs.originals.join(&st.date).join(&st.id), safe)
        }
    }

    /// Steps 2 to 7 for claimed jobs (a batch, or one job redone).
    ///
    /// Ordering (what makes a crash at any moment lose and duplicate
    /// nothing; each step waits for the fsyncs of the one before):
    /// - the claims are durable before this starts (see
    ///   [`Shared::take_batch`]), so an input that may have an output is
    ///   no longer in the inbox;
    /// - an output's or notice's name is durable in the journal (`Out`,
    ///   `Notice`, one fsync for the batch) before its link is made, so a
    ///   redo recognises a link that survived instead of linking again;
    /// - every clean and quarantine folder touched is fsynced (once) and
    ///   the audit records are durable (one fsync) before any original
    ///   leaves its work folder: an input gone from work is what marks a
    ///   job complete for a redo;
    /// - the originals' folders are fsynced (once each) before the work
    ///   folders are removed, and the work root is fsynced before `Done`
    ///   is written: a job whose `Done` may be on disk has no input left
    ///   in work that could come back after a crash.
    ///
    /// A crash between any two of these leaves each job open in the
    /// journal with its input either in work (redone; every finished step
    /// recognised) or in its originals/quarantine folder (complete).
    fn process(&self, slots: &mut [Slot]) {
        // 2. Sanitise, each job on its own thread (the pool bounds how
        // many files are rebuilt at once).
        let open: Vec<usize> = (0..slots.len())
            .filter(|&i| slots[i].result.is_none())
            .collect();
        let results: Vec<(usize, io::Result<Step>)> = if open.len() <= 1 {
            open.iter()
                .map(|&i| (i, self.sanitize_and_write(&slots[i].st, slots[i].recovered)))
                .collect()
        } else {
            let slots_ref = &*slots;
            std::thread::scope(|sc| {
                let handles: Vec<_> = open
                    .iter()
                    .map(|&i| {
                        let s = &slots_ref[i];
                        (
                            i,
                            sc.spawn(move || self.sanitize_and_write(&s.st, s.recovered)),
                        )
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|(i, h)| {
                        (
                            i,
                            h.join().unwrap_or_else(|_| {
                                Err(io::Error::other("the job's thread panicked"))
                            }),
                        )
                    })
                    .collect()
            })
        };
        let mut going = Vec::new();
        for (i, r) in results {
            match r {
                Ok(Step::Ended(h)) => slots[i].result = Some(Ok(h)),
                Ok(Step::Going(g)) => going.push((i, *g)),
                Err(e) => slots[i].result = Some(Err(e)),
            }
        }
        let fail = |slots: &mut [Slot], i: usize, e: io::Error| slots[i].result = Some(Err(e));
        if self.stopped(Stage::Sanitised, slots) {
            return;
        }

        // 3. Outputs (written by each job's thread) or the quarantine's
        // reasons, then notices.
        let mut to_sync: Vec<PathBuf> = Vec::new();
        let mut links = Vec::new();
        let mut kept = Vec::new();
        for (i, mut g) in going {
            to_sync.append(&mut g.to_sync);
            if let Some(item) = g.link.take() {
                links.push((kept.len(), item));
            }
            kept.push((i, g));
        }
        let linked = self.link_batch(&links.iter().map(|(_, l)| l).collect::<Vec<_>>());
        let mut failed = HashSet::new();
        for ((k, item), r) in links.iter().zip(linked) {
            match r {
                Ok(chosen) => {
                    kept[*k].1.dest_shown = format!("{}{chosen}", item.prefix);
                    to_sync.push(item.dir.clone());
                }
                Err(e) => {
                    failed.insert(*k);
                    fail(slots, kept[*k].0, e);
                }
            }
        }
        let mut going: Vec<(usize, Going)> = kept
            .into_iter()
            .enumerate()
            .filter(|(k, _)| !failed.contains(k))
            .map(|(_, x)| x)
            .collect();
        if self.stopped(Stage::OutputsLinked, slots) {
            return;
        }
        let mut links = Vec::new();
        let mut failed = HashSet::new();
        for (k, (i, g)) in going.iter().enumerate() {
            if g.outcome.verdict() == Verdict::Clean {
                continue;
            }
            match self.write_notice(&slots[*i].st, g) {
                Ok(Some(item)) => links.push((k, item)),
                Ok(None) => {}
                Err(e) => {
                    failed.insert(k);
                    fail(slots, *i, e);
                }
            }
        }
        let linked = self.link_batch(&links.iter().map(|(_, l)| l).collect::<Vec<_>>());
        for ((k, item), r) in links.iter().zip(linked) {
            match r {
                Ok(_) => to_sync.push(item.dir.clone()),
                Err(e) => {
                    failed.insert(*k);
                    fail(slots, going[*k].0, e);
                }
            }
        }
        going = going
            .into_iter()
            .enumerate()
            .filter(|(k, _)| !failed.contains(k))
            .map(|(_, x)| x)
            .collect();
        if self.stopped(Stage::NoticesLinked, slots) {
            return;
        }
        if let Err(e) = place::sync_dirs(&to_sync) {
            for (i, _) in going.drain(..) {
                fail(slots, i, copy_err(&e));
            }
        }
        if self.stopped(Stage::Placed, slots) {
            return;
        }

        // 4. The audit records, durable together before any original moves.
        let mut pending = Vec::new();
        let mut audited = Vec::new();
        for (i, g) in going {
            if slots[i].st.audited {
                audited.push((i, g));
                continue;
            }
            match self.write_record(&slots[i], &g) {
                Ok(p) => {
                    pending.extend(p);
                    audited.push((i, g));
                }
                Err(e) => fail(slots, i, e),
            }
        }
        let mut going = audited;
        if let Err(e) = pending.iter().try_for_each(|p| p.wait()) {
            for (i, _) in going.drain(..) {
                fail(slots, i, copy_err(&e));
            }
        }
        for (i, _) in &going {
            if !slots[*i].st.audited {
                if let Err(e) = self.journal_lazy(Entry::Audit {
                    id: slots[*i].st.id.clone(),
                }) {
                    fail(slots, *i, e);
                }
            }
        }
        going.retain(|(i, _)| slots[*i].result.is_none());
        if self.stopped(Stage::Audited, slots) {
            return;
        }

        // 5. The originals, their folders fsynced once each.
        let mut to_sync = Vec::new();
        let mut moved = Vec::new();
        for (i, g) in going {
            let st = &slots[i].st;
            let input = self.dirs.job_dir(&st.id).join("input");
            let (odir, oname) = self.original_place(st, g.blocked);
            let r = std::fs::create_dir_all(&odir)
                .and_then(|()| match odir.parent() {
                    Some(day) => {
                        to_sync.push(day.to_path_buf());
                        self.day_durable(day)
                    }
                    None => Ok(()),
                })
                .and_then(|()| place::move_file_unsynced(&input, &odir, &oname, &st.id));
            match r {
                Ok(()) => {
                    to_sync.push(odir);
                    moved.push((i, g));
                }
                Err(e) => fail(slots, i, e),
            }
        }
        let mut going = moved;
        if let Err(e) = place::sync_dirs(&to_sync) {
            for (i, _) in going.drain(..) {
                fail(slots, i, copy_err(&e));
            }
        }

        if self.stopped(Stage::OriginalsMoved, slots) {
            return;
        }

        // 6. The work folders go; once that is durable, `Done`.
        for (i, _) in &going {
            if let Err(e) = remove_work(&self.dirs.job_dir(&slots[*i].st.id)) {
                fail(slots, *i, e);
            }
        }
        going.retain(|(i, _)| slots[*i].result.is_none());
        if let Err(e) = place::sync_dir(&self.dirs.work()) {
            for (i, _) in going.drain(..) {
                fail(slots, i, copy_err(&e));
            }
        }
        if self.stopped(Stage::WorkRemoved, slots) {
            return;
        }
        for (i, g) in going {
            let st = &slots[i].st;
            self.metrics.file(
                g.outcome.verdict().as_str(),
                g.outcome.input_type.name(),
                g.size,
                g.out_len,
                slots[i].started.elapsed().as_secs_f64(),
            );
            if let Err(e) = self.journal_lazy(Entry::Done { id: st.id.clone() }) {
                fail(slots, i, e);
                continue;
            }
            let outcome = &g.outcome;
            let dest_shown = g.dest_shown;
            if g.blocked {
                tracing::info!(id = %st.id, path = %st.rel, verdict = "blocked", reason = %outcome.reason_text().unwrap_or_default(), "quarantined");
            } else {
                tracing::info!(id = %st.id, path = %st.rel, verdict = outcome.verdict().as_str(), output = %dest_shown, "delivered");
            }
            slots[i].result = Some(Ok(Handled::Done {
                verdict: g.outcome.verdict(),
                output: dest_shown,
            }));
        }
    }

    /// Step 2 and the first half of step 3 for one job, on its own
    /// thread: sanitised, then its output written and fsynced under a
    /// temporary name (or its `reason.json` placed).
    fn sanitize_and_write(&self, st: &JobState, recovered: bool) -> io::Result<Step> {
        let mut step = self.sanitize_one(st, recovered)?;
        if let Step::Going(g) = &mut step {
            let mut to_sync = Vec::new();
            g.link = self.prepare_output(st, g, &mut to_sync)?;
            g.to_sync = to_sync;
        }
        Ok(step)
    }

    /// Step 2 for one job: its input read and sanitised (or found gone: a
    /// job finished before a crash, or a claim that never moved it).
    fn sanitize_one(&self, st: &JobState, recovered: bool) -> io::Result<Step> {
        let input = self.dirs.job_dir(&st.id).join("input");
        if input.symlink_metadata().is_err() {
            let done = [false, true].iter().any(|&b| {
                let (dir, n) = self.original_place(st, b);
                dir.join(n).exists()
            });
            self.finish(&st.id)?;
            return Ok(Step::Ended(if done {
                Handled::AlreadyDone
            } else {
                Handled::Void
            }));
        }
        let config = self.config();
        let policy = &config.policy;
        let comps = components(&st.rel);
        let file_name = comps.last().copied().unwrap_or("unnamed").to_string();
        let dir_parts: Vec<String> = comps
            .iter()
            .take(comps.len().saturating_sub(1))
            .map(|c| name::safe_component(c))
            .collect();

        // Read from a handle that cannot be a link, bounded by the policy's
        // input limit.
        let max = policy.limits.max_input_bytes;
        let (read, size) = read_input(&input, max)?;
        let (bytes, sha) = match read {
            Input::Bytes(buf) => {
                let sha = sha256_hex(&buf);
                (Ok(buf), sha)
            }
            other => (Err(other), String::new()),
        };
        if recovered && !sha.is_empty() {
            // A claim across filesystems copies, then removes the inbox
            // file; a crash between the two leaves it behind.
            self.inbox.remove_if_content(Path::new(&st.rel), &sha)?;
        }
        let outcome = match bytes {
            Err(Input::NotAFile(kind)) => Outcome::blocked(
                FileType::Unknown,
                sha.clone(),
                vec![],
                Finding::new(
                    Code::TypeUnknown,
                    Action::Blocked,
                    format!("not a regular file ({})", kind.describe()),
                ),
            ),
            Err(_) => Outcome::blocked(
                FileType::Unknown,
                sha.clone(),
                vec![],
                Finding::new(
                    Code::LimitSize,
                    Action::Blocked,
                    format!("{size} bytes exceed the limit of {max}"),
                ),
            ),
            Ok(bytes) => {
                let job = Job::new(file_name.clone(), bytes);
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.sanitizer.sanitize_hashed(policy, job, sha.clone())
                }))
                .unwrap_or_else(|_| {
                    Outcome::blocked(
                        FileType::Unknown,
                        sha.clone(),
                        vec![],
                        Finding::new(
                            Code::WorkerCrashed,
                            Action::Blocked,
                            "the rebuild failed unexpectedly",
                        ),
                    )
                })
            }
        };
        let blocked = outcome.is_blocked();
        let time = clock::rfc3339(clock::now());
        Ok(Step::Going(Box::new(Going {
            config,
            outcome,
            sha,
            size,
            blocked,
            time,
            dir_parts,
            dest_dir: PathBuf::new(),
            dest_shown: String::new(),
            output_sha: None,
            out_len: 0,
            link: None,
            to_sync: Vec::new(),
        })))
    }

    /// Step 3 for one job: the quarantine's `reason.json` (its folders
    /// added to `to_sync`), or the output written and fsynced under a
    /// temporary name and returned as a link to make. An output placed
    /// before a crash (announced, present with its SHA-256) is kept.
    fn prepare_output(
        &self,
        st: &JobState,
        g: &mut Going,
        to_sync: &mut Vec<PathBuf>,
    ) -> io::Result<Option<LinkItem>> {
        let outcome = &g.outcome;
        let Some(output) = outcome.output() else {
            let (qdir, _) = self.original_place(st, true);
            std::fs::create_dir_all(&qdir)?;
            if let Some(day) = qdir.parent() {
                self.day_durable(day)?;
                to_sync.push(day.to_path_buf());
            }
            let reason = serde_json::json!({
                "id": st.id,
                "path": st.rel,
                "time": g.time,
                "size": g.size,
                "sha256": g.sha,
                "type": outcome.input_type.name(),
                "reason": outcome.reason(),
                "findings": outcome.findings,
            });
            let text = serde_json::to_vec_pretty(&reason).map_err(io::Error::other)?;
            place::replace_file_unsynced(&qdir, "reason.json", &text, &st.id)?;
            to_sync.push(qdir);
            g.dest_shown = format!("quarantine/{}/{}", st.date, st.id);
            g.dest_dir = place::ensure_dir(&self.dirs.clean, &g.dir_parts)?;
            return Ok(None);
        };
        let out = &output.bytes[..];
        let out_name = not_a_notice_name(&output.name);
        let dir = place::ensure_dir(&self.dirs.clean, &g.dir_parts)?;
        let tmp = dir.join(format!("{TMP_PREFIX}{}", st.id));
        g.out_len = out.len() as u64;
        g.dest_dir = dir.clone();
        let prior = st.outs.iter().rev().find(|(dest, sha)| {
            let p = self.dirs.clean.join(dest);
            p.is_file() && std::fs::read(&p).is_ok_and(|b| &sha256_hex(&b) == sha)
        });
        if let Some((dest, sha)) = prior {
            let _ = std::fs::remove_file(&tmp);
            g.dest_shown = dest.clone();
            g.output_sha = Some(sha.clone());
            return Ok(None);
        }
        // Hashed once on this side, by the sanitizer (the pool hashes the
        // bytes its worker returned).
        let out_sha = output.sha256.clone();
        place::write_synced(&tmp, out)?;
        place::share_with_reader(&tmp)?;
        g.output_sha = Some(out_sha.clone());
        Ok(Some(LinkItem {
            id: st.id.clone(),
            tmp,
            dir,
            prefix: g
                .dir_parts
                .iter()
                .map(|p| format!("{p}/"))
                .collect::<String>(),
            name: out_name,
            sha: Some(out_sha),
        }))
    }

    /// Links each already-synced temporary file under a free name, never
    /// replacing anything: every name is chosen and announced in the
    /// journal (one fsync for the batch) before any link is made. A name
    /// taken meanwhile by something else falls back to the next free one,
    /// announced on its own. The directories are not fsynced here.
    fn link_batch(&self, items: &[&LinkItem]) -> Vec<io::Result<String>> {
        if items.is_empty() {
            return Vec::new();
        }
        let _g = lock(&self.place_lock);
        let mut reserved = HashSet::new();
        let mut chosen: Vec<io::Result<String>> = items
            .iter()
            .map(|it| place::free_name(&it.dir, &it.name, &mut reserved))
            .collect();
        let announced = self.journal_all(
            items
                .iter()
                .zip(&chosen)
                .filter_map(|(it, c)| c.as_ref().ok().map(|c| it.entry(c))),
        );
        if let Err(e) = announced {
            return items.iter().map(|_| Err(copy_err(&e))).collect();
        }
        for (it, c) in items.iter().zip(chosen.iter_mut()) {
            let Ok(name) = c.as_ref() else { continue };
            *c = match std::fs::hard_link(&it.tmp, it.dir.join(name)) {
                Ok(()) => std::fs::remove_file(&it.tmp).map(|()| name.clone()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    place::link_new(&it.tmp, &it.dir, &it.name, |cand| {
                        self.journal(it.entry(cand))
                    })
                }
                Err(e) => Err(e),
            };
        }
        chosen
    }

    /// Step 4 for one job: its audit record written (unless a redo finds
    /// it in the log); the returned ticket makes it durable.
    fn write_record(&self, slot: &Slot, g: &Going) -> io::Result<Option<Pending>> {
        let (st, recovered, started) = (&slot.st, slot.recovered, slot.started);
        let (outcome, time, size) = (&g.outcome, &g.time, g.size);
        let (blocked, dest_shown, output_sha) = (g.blocked, &g.dest_shown, &g.output_sha);
        let mut audit = lock(&self.audit);
        if recovered && audit.contains_id(&st.id)? {
            return Ok(None);
        }
        let (_, p) = audit.write(Record {
            time: time.clone(),
            // The hash of what was placed (an earlier run's output when
            // recovering).
            output_sha256: output_sha.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            output: Some(if blocked {
                dest_shown.clone()
            } else {
                format!("clean/{dest_shown}")
            }),
            ..Record::for_outcome(st.id.clone(), st.rel.clone(), size, outcome)
        })?;
        Ok(Some(p))
    }

    /// The notice for LGWAN users: written as a temporary file and
    /// returned as a link to make (beside the file), or appended to the
    /// day's notice file (daily).
    fn write_notice(&self, st: &JobState, g: &Going) -> io::Result<Option<LinkItem>> {
        let (config, outcome, time) = (&*g.config, &g.outcome, g.time.as_str());
        let (dest_shown, dest_dir, blocked) =
            (g.dest_shown.as_str(), g.dest_dir.as_path(), g.blocked);
        let input = NoticeInput {
            id: &st.id,
            time,
            rel: &st.rel,
            output: (!blocked).then_some(dest_shown),
            outcome,
        };
        let text = notice::text(config.daemon.notice_language, &input);
        match config.daemon.notice {
            NoticePlacement::None => Ok(None),
            NoticePlacement::Beside => {
                if st.notices.iter().any(|d| self.dirs.clean.join(d).exists()) {
                    return Ok(None);
                }
                let base = if blocked {
                    not_a_notice_name(&name::safe_component(
                        components(&st.rel).last().copied().unwrap_or("unnamed"),
                    ))
                } else {
                    dest_shown
                        .rsplit('/')
                        .next()
                        .unwrap_or(dest_shown)
                        .to_string()
                };
                let tmp = dest_dir.join(format!("{TMP_PREFIX}{}-notice", st.id));
                place::write_synced(&tmp, text.as_bytes())?;
                place::share_with_reader(&tmp)?;
                let prefix = dest_dir
                    .strip_prefix(&self.dirs.clean)
                    .map(|p| {
                        p.components()
                            .map(|c| format!("{}/", c.as_os_str().to_string_lossy()))
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                Ok(Some(LinkItem {
                    id: st.id.clone(),
                    tmp,
                    dir: dest_dir.to_path_buf(),
                    prefix,
                    name: format!("{base}.mugai.txt"),
                    sha: None,
                }))
            }
            NoticePlacement::Daily => {
                use std::io::Write;
                let path = self
                    .dirs
                    .clean
                    .join(format!("mugai-notice-{}.txt", st.date));
                let _g = lock(&self.place_lock);
                let marker = notice::marker(&st.id);
                if std::fs::read_to_string(&path).is_ok_and(|t| t.contains(&marker)) {
                    return Ok(None);
                }
                let existed = path.exists();
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)?;
                if !existed {
                    place::share_with_reader(&path)?;
                }
                f.write_all(text.as_bytes())?;
                f.write_all(b"\r\n")?;
                f.sync_all()?;
                if !existed {
                    place::sync_dir(&self.dirs.clean)?;
                }
                Ok(None)
            }
        }
    }
}

/// The steps of a batch, in order (see [`Shared::stop_after`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Claimed,
    Sanitised,
    OutputsLinked,
    NoticesLinked,
    Placed,
    Audited,
    OriginalsMoved,
    WorkRemoved,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Claimed,
        Stage::Sanitised,
        Stage::OutputsLinked,
        Stage::NoticesLinked,
        Stage::Placed,
        Stage::Audited,
        Stage::OriginalsMoved,
        Stage::WorkRemoved,
    ];
}

/// One job of a batch, carried from step to step.
struct Slot {
    st: JobState,
    recovered: bool,
    started: Instant,
    /// How the job ended (or failed); later steps skip it.
    result: Option<io::Result<Handled>>,
}

/// What step 2 came to.
enum Step {
    Ended(Handled),
    Going(Box<Going>),
}

/// A sanitised job on its way to its places.
struct Going {
    config: Arc<Config>,
    outcome: Outcome,
    sha: String,
    size: u64,
    blocked: bool,
    time: String,
    dir_parts: Vec<String>,
    /// The clean folder of its output (or of its notice, when blocked).
    dest_dir: PathBuf,
    /// The output's path under clean, or its quarantine folder.
    dest_shown: String,
    output_sha: Option<String>,
    out_len: u64,
    /// The output to link, written under its temporary name.
    link: Option<LinkItem>,
    /// Folders to fsync for what step 3 placed.
    to_sync: Vec<PathBuf>,
}

/// A file to link into the clean tree under a free name.
struct LinkItem {
    id: String,
    tmp: PathBuf,
    dir: PathBuf,
    /// `dir` under clean, `/`-terminated (for the journal).
    prefix: String,
    name: String,
    /// The output's SHA-256; `None` for a notice.
    sha: Option<String>,
}

impl LinkItem {
    /// The journal entry announcing `name`.
    fn entry(&self, name: &str) -> Entry {
        let dest = format!("{}{name}", self.prefix);
        match &self.sha {
            Some(sha) => Entry::Out {
                id: self.id.clone(),
                dest,
                sha: sha.clone(),
            },
            None => Entry::Notice {
                id: self.id.clone(),
                dest,
            },
        }
    }
}

/// The same error again (one failed fsync fails every job it covered).
fn copy_err(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

/// Removes a job's work folder (gone already is fine).
fn remove_work(work: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(work) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// What the claimed input turned out to be.
enum Input {
    Bytes(Vec<u8>),
    TooLarge,
    NotAFile(Kind),
}

/// Reads the claimed input without following a link, at most `max` bytes;
/// returns it with its size.
fn read_input(input: &Path, max: u64) -> io::Result<(Input, u64)> {
    use rustix::fs::{self as rfs, Mode, OFlags};
    let fd = match rfs::open(
        input,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP) => return Ok((Input::NotAFile(Kind::Symlink), 0)),
        Err(e) => return Err(e.into()),
    };
    let st = rfs::fstat(&fd)?;
    let size = u64::try_from(st.st_size).unwrap_or(0);
    match rfs::FileType::from_raw_mode(st.st_mode) {
        rfs::FileType::RegularFile => {}
        rfs::FileType::Directory => return Ok((Input::NotAFile(Kind::Dir), 0)),
        _ => return Ok((Input::NotAFile(Kind::Special), 0)),
    }
    if size > max {
        return Ok((Input::TooLarge, size));
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    std::fs::File::from(fd)
        .take(max.saturating_add(1))
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Ok((Input::TooLarge, buf.len() as u64));
    }
    let size = buf.len() as u64;
    Ok((Input::Bytes(buf), size))
}
