//! One file's way from the inbox to exactly one of clean or quarantine.
//!
//! Steps, each announced in the journal before it happens and each able to
//! recognise its own earlier work when a job is redone after a crash:
//!
//! 1. claim: `Claim` is journalled, then the input moves from the inbox into
//!    `state/work/<id>/input` (so the inbox no longer offers it);
//! 2. sanitise (redone on recovery; the result is not persisted);
//! 3. output: written to a hidden temporary name in its clean directory,
//!    fsynced, then `Out{dest}` is journalled and the file hard-linked to
//!    `dest` (which never replaces a file) — a redo finds `dest` with the
//!    announced SHA-256 and does not place it again. Blocked: `reason.json`
//!    in `quarantine/<date>/<id>/`;
//! 4. notice (announced the same way);
//! 5. audit record, then `Audit` (a redo first looks for the id in the log);
//! 6. the input moves to `originals/<date>/<id>/` (or beside `reason.json`);
//!    once it is gone from the work directory the job is complete;
//! 7. `Done`, and the work directory is removed.
//!
//! Journal entries and audit records are made durable by group commit:
//! a job waits for the fsync that covers its own entry, outside the locks,
//! so that the jobs in flight share fsyncs. A step waits before it acts
//! wherever recovery needs the entry (claim, output, notice, the audit
//! record before the original leaves the work directory); `Audit` and
//! `Done` are not waited on (a redo recognises the finished step) and
//! become durable with the next entry that is.

use crate::dirs::Dirs;
use crate::inbox::{self, FileId, Inbox, Kind};
use crate::journal::{Entry, JobState, Journal};
use crate::metrics::Metrics;
use crate::notice::{self, NoticeInput};
use crate::place::{self, TMP_PREFIX};
use mugai_audit::{clock, AuditLog, Record};
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
        let id = self.new_id();
        let res = self.take_as(&id, rel, expect);
        (id, res)
    }

    fn take_as(&self, id: &str, rel: &Path, expect: FileId) -> io::Result<Handled> {
        let started = Instant::now();
        let rel_s = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let st = JobState {
            id: id.to_string(),
            rel: rel_s,
            date: clock::today(),
            ..JobState::default()
        };
        self.journal(Entry::Claim {
            id: st.id.clone(),
            rel: st.rel.clone(),
            date: st.date.clone(),
        })?;
        let work = self.dirs.job_dir(&st.id);
        std::fs::create_dir_all(&work)?;
        match self.inbox.claim(rel, expect, &work, "input", &st.id) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.finish(&st.id)?;
                return Ok(Handled::Void);
            }
            Err(e) if inbox::is_changed(&e) => {
                self.finish(&st.id)?;
                return Ok(Handled::Changed);
            }
            Err(e) => {
                // Nothing was moved: forget the job; the file stays in the
                // inbox and is tried again.
                self.finish(&st.id)?;
                return Err(e);
            }
        }
        self.run(&st, false, started)
    }

    /// Redoes an unfinished job found in the journal.
    pub fn resume(&self, st: &JobState) -> io::Result<Handled> {
        self.run(st, true, Instant::now())
    }

    /// `Done`, then the work directory goes. Neither is waited on: if
    /// either is lost, the redo finds the input gone from the work
    /// directory and recognises the finished job, and a work directory
    /// left without an open job is removed at start-up.
    fn finish(&self, id: &str) -> io::Result<()> {
        self.journal_lazy(Entry::Done { id: id.to_string() })?;
        let work = self.dirs.job_dir(id);
        match std::fs::remove_dir_all(&work) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
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

    fn run(&self, st: &JobState, recovered: bool, started: Instant) -> io::Result<Handled> {
        let input = self.dirs.job_dir(&st.id).join("input");
        if input.symlink_metadata().is_err() {
            let done = [false, true].iter().any(|&b| {
                let (dir, n) = self.original_place(st, b);
                dir.join(n).exists()
            });
            self.finish(&st.id)?;
            return Ok(if done {
                Handled::AlreadyDone
            } else {
                Handled::Void
            });
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
                let job = Job {
                    name: file_name.clone(),
                    bytes,
                };
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

        // Output, or the quarantine's reason.
        let (dest_shown, output_sha, out_len, dest_dir) = match outcome.output() {
            None => {
                let (qdir, _) = self.original_place(st, true);
                std::fs::create_dir_all(&qdir)?;
                if let Some(day) = qdir.parent() {
                    self.day_durable(day)?;
                    place::sync_dir(day)?;
                }
                let reason = serde_json::json!({
                    "id": st.id,
                    "path": st.rel,
                    "time": time,
                    "size": size,
                    "sha256": sha,
                    "type": outcome.input_type.name(),
                    "reason": outcome.reason(),
                    "findings": outcome.findings,
                });
                let text = serde_json::to_vec_pretty(&reason).map_err(io::Error::other)?;
                place::replace_file(&qdir, "reason.json", &text, &st.id)?;
                let shown = format!("quarantine/{}/{}", st.date, st.id);
                (
                    shown,
                    None,
                    0u64,
                    place::ensure_dir(&self.dirs.clean, &dir_parts)?,
                )
            }
            Some(output) => {
                let out = &output.bytes[..];
                let out_name = not_a_notice_name(&output.name);
                let dir = place::ensure_dir(&self.dirs.clean, &dir_parts)?;
                let tmp = dir.join(format!("{TMP_PREFIX}{}", st.id));
                let prior = st.outs.iter().rev().find(|(dest, sha)| {
                    let p = self.dirs.clean.join(dest);
                    p.is_file() && std::fs::read(&p).is_ok_and(|b| &sha256_hex(&b) == sha)
                });
                let (dest, out_sha) = match prior {
                    Some((dest, sha)) => {
                        let _ = std::fs::remove_file(&tmp);
                        (dest.clone(), sha.clone())
                    }
                    None => {
                        // Hashed once on this side, by the sanitizer (the pool
                        // hashes the bytes its worker returned).
                        let out_sha = output.sha256.clone();
                        place::write_synced(&tmp, out)?;
                        place::share_with_reader(&tmp)?;
                        let _g = lock(&self.place_lock);
                        let prefix = dir_parts
                            .iter()
                            .map(|p| format!("{p}/"))
                            .collect::<String>();
                        let chosen = place::link_new(&tmp, &dir, &out_name, |cand| {
                            self.journal(Entry::Out {
                                id: st.id.clone(),
                                dest: format!("{prefix}{cand}"),
                                sha: out_sha.clone(),
                            })
                        })?;
                        (format!("{prefix}{chosen}"), out_sha)
                    }
                };
                (dest, Some(out_sha), out.len() as u64, dir)
            }
        };

        // The notice for LGWAN users.
        if outcome.verdict() != Verdict::Clean {
            self.write_notice(
                st,
                &config,
                &outcome,
                &time,
                &dest_shown,
                &dest_dir,
                blocked,
            )?;
        }

        // The audit record.
        if !st.audited {
            let mut audit = lock(&self.audit);
            let mut pending = None;
            if !(recovered && audit.contains_id(&st.id)?) {
                let (_, p) = audit.write(Record {
                    time: time.clone(),
                    // The hash of what was placed (an earlier run's output
                    // when recovering).
                    output_sha256: output_sha.clone(),
                    duration_ms: started.elapsed().as_millis() as u64,
                    output: Some(if blocked {
                        dest_shown.clone()
                    } else {
                        format!("clean/{dest_shown}")
                    }),
                    ..Record::for_outcome(st.id.clone(), st.rel.clone(), size, &outcome)
                })?;
                pending = Some(p);
            }
            drop(audit);
            // The record is durable before the original leaves the work
            // directory (which is what acknowledges the job).
            if let Some(p) = pending {
                p.wait()?;
            }
            self.journal_lazy(Entry::Audit { id: st.id.clone() })?;
        }

        // The original.
        let (odir, oname) = self.original_place(st, blocked);
        std::fs::create_dir_all(&odir)?;
        if let Some(day) = odir.parent() {
            self.day_durable(day)?;
            place::sync_dir(day)?;
        }
        place::move_file(&input, &odir, &oname, &st.id)?;
        self.metrics.file(
            outcome.verdict().as_str(),
            outcome.input_type.name(),
            size,
            out_len,
            started.elapsed().as_secs_f64(),
        );
        self.finish(&st.id)?;

        if blocked {
            tracing::info!(id = %st.id, path = %st.rel, verdict = "blocked", reason = %outcome.reason_text().unwrap_or_default(), "quarantined");
        } else {
            tracing::info!(id = %st.id, path = %st.rel, verdict = outcome.verdict().as_str(), output = %dest_shown, "delivered");
        }
        Ok(Handled::Done {
            verdict: outcome.verdict(),
            output: dest_shown,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn write_notice(
        &self,
        st: &JobState,
        config: &Config,
        outcome: &Outcome,
        time: &str,
        dest_shown: &str,
        dest_dir: &Path,
        blocked: bool,
    ) -> io::Result<()> {
        let input = NoticeInput {
            id: &st.id,
            time,
            rel: &st.rel,
            output: (!blocked).then_some(dest_shown),
            outcome,
        };
        let text = notice::text(config.daemon.notice_language, &input);
        match config.daemon.notice {
            NoticePlacement::None => Ok(()),
            NoticePlacement::Beside => {
                if st.notices.iter().any(|d| self.dirs.clean.join(d).exists()) {
                    return Ok(());
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
                let _g = lock(&self.place_lock);
                place::link_new(&tmp, dest_dir, &format!("{base}.mugai.txt"), |cand| {
                    self.journal(Entry::Notice {
                        id: st.id.clone(),
                        dest: format!("{prefix}{cand}"),
                    })
                })?;
                Ok(())
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
                    return Ok(());
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
                Ok(())
            }
        }
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
