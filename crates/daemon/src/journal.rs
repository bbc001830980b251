//! The append-only, fsynced journal of job states.
//!
//! Each step is written (and fsynced) before it is carried out, naming what
//! it will create, so that after a crash a job can be redone and every
//! step recognises its own earlier work instead of repeating it. Entries
//! are made durable by group commit ([`Journal::write`] returns a ticket
//! that the caller waits on after releasing the journal): jobs running at
//! the same time share one fsync.

use mugai_audit::{GroupSync, Pending};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Compact the journal when no job is open and it is larger than this.
const COMPACT_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "s", rename_all = "snake_case")]
pub enum Entry {
    /// The job exists; its input is about to move from `inbox/rel` into
    /// the work directory. `date` places its original and quarantine.
    Claim {
        id: String,
        rel: String,
        date: String,
    },
    /// The output is about to be linked at `clean/dest`, with this SHA-256.
    Out {
        id: String,
        dest: String,
        sha: String,
    },
    /// A notice is about to be linked at `clean/dest`.
    Notice { id: String, dest: String },
    /// The audit record is written.
    Audit { id: String },
    /// Finished (or void: the input was gone before it was claimed).
    Done { id: String },
}

impl Entry {
    fn id(&self) -> &str {
        match self {
            Entry::Claim { id, .. }
            | Entry::Out { id, .. }
            | Entry::Notice { id, .. }
            | Entry::Audit { id }
            | Entry::Done { id } => id,
        }
    }
}

/// What the journal knows of an unfinished job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobState {
    pub id: String,
    pub rel: String,
    pub date: String,
    /// Output placements announced, in order: (path under clean, SHA-256).
    pub outs: Vec<(String, String)>,
    pub notices: Vec<String>,
    pub audited: bool,
}

impl JobState {
    fn apply(&mut self, e: &Entry) {
        match e {
            Entry::Claim { id, rel, date } => {
                self.id = id.clone();
                self.rel = rel.clone();
                self.date = date.clone();
            }
            Entry::Out { dest, sha, .. } => self.outs.push((dest.clone(), sha.clone())),
            Entry::Notice { dest, .. } => self.notices.push(dest.clone()),
            Entry::Audit { .. } => self.audited = true,
            Entry::Done { .. } => {}
        }
    }
}

#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    sync: Arc<GroupSync>,
    open: BTreeMap<String, JobState>,
}

impl Journal {
    /// Opens the journal, replaying it. A torn last line (a crash during a
    /// write) is ignored: its step had not started.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let mut open: BTreeMap<String, JobState> = BTreeMap::new();
        if path.exists() {
            for line in BufReader::new(File::open(path)?).lines() {
                let line = line.unwrap_or_default();
                let Ok(e) = serde_json::from_str::<Entry>(&line) else {
                    continue;
                };
                if let Entry::Done { id } = &e {
                    open.remove(id);
                } else {
                    open.entry(e.id().to_string()).or_default().apply(&e);
                }
            }
        }
        // Rewrite it with only the open jobs, so that it ends with a whole
        // line and does not grow across restarts.
        let tmp = path.with_extension("jsonl.new");
        {
            let mut f = File::create(&tmp)?;
            for j in open.values() {
                for e in entries_of(j) {
                    writeln!(
                        f,
                        "{}",
                        serde_json::to_string(&e).map_err(io::Error::other)?
                    )?;
                }
            }
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(parent) = path.parent() {
            crate::place::sync_dir(parent)?;
        }
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Journal {
            path: path.to_path_buf(),
            sync: GroupSync::new(file.try_clone()?),
            file,
            open,
        })
    }

    /// Unfinished jobs.
    pub fn open_jobs(&self) -> Vec<JobState> {
        self.open.values().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<&JobState> {
        self.open.get(id)
    }

    /// Writes and fsyncs one entry.
    pub fn append(&mut self, e: Entry) -> io::Result<()> {
        self.write(e)?.wait()
    }

    /// Writes one entry; it is durable once the ticket has been waited on
    /// (after releasing the journal, so that other jobs' entries share the
    /// fsync). An entry whose loss recovery tolerates (`Audit`, `Done`: a
    /// redo recognises the finished step) need not be waited on; it
    /// becomes durable with the next one that is.
    pub fn write(&mut self, e: Entry) -> io::Result<Pending> {
        let mut line = serde_json::to_string(&e).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        let pending = self.sync.wrote();
        if let Entry::Done { id } = &e {
            self.open.remove(id);
            if self.open.is_empty() && self.file.metadata()?.len() > COMPACT_BYTES {
                self.compact()?;
            }
        } else {
            self.open.entry(e.id().to_string()).or_default().apply(&e);
        }
        Ok(pending)
    }

    /// Syncs made so far (group commit shares them between entries).
    pub fn syncs(&self) -> u64 {
        self.sync.syncs()
    }

    /// Replaces the journal with an empty one (only when no job is open).
    fn compact(&mut self) -> io::Result<()> {
        let tmp = self.path.with_extension("jsonl.new");
        File::create(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(parent) = self.path.parent() {
            crate::place::sync_dir(parent)?;
        }
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.sync = GroupSync::new(self.file.try_clone()?);
        Ok(())
    }
}

fn entries_of(j: &JobState) -> Vec<Entry> {
    let mut v = vec![Entry::Claim {
        id: j.id.clone(),
        rel: j.rel.clone(),
        date: j.date.clone(),
    }];
    for (dest, sha) in &j.outs {
        v.push(Entry::Out {
            id: j.id.clone(),
            dest: dest.clone(),
            sha: sha.clone(),
        });
    }
    for dest in &j.notices {
        v.push(Entry::Notice {
            id: j.id.clone(),
            dest: dest.clone(),
        });
    }
    if j.audited {
        v.push(Entry::Audit { id: j.id.clone() });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_keeps_unfinished_jobs_and_ignores_a_torn_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("journal.jsonl");
        let mut j = Journal::open(&p).unwrap();
        let claim = |id: &str| Entry::Claim {
            id: id.into(),
            rel: format!("{id}.txt"),
            date: "2026-01-01".into(),
        };
        j.append(claim("a")).unwrap();
        j.append(claim("b")).unwrap();
        j.append(Entry::Out {
            id: "b".into(),
            dest: "b.txt".into(),
            sha: "00".into(),
        })
        .unwrap();
        j.append(Entry::Done { id: "a".into() }).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"s\":\"audit\",\"id\":\"b").unwrap();
        drop(f);
        let j = Journal::open(&p).unwrap();
        let open = j.open_jobs();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].id, "b");
        assert_eq!(open[0].outs, vec![("b.txt".to_string(), "00".to_string())]);
        assert!(!open[0].audited);
        // Reopening again gives the same state (the rewrite is faithful).
        drop(j);
        assert_eq!(Journal::open(&p).unwrap().open_jobs(), open);
    }
}
