//! The results folder: one folder per job, named by its id, holding
//! `job.json` (the [`JobRecord`]), the `input` while the job waits and the
//! `output` once it is done. Every file is placed durably (temporary name,
//! fsync, rename); the folder survives a restart, and jobs that were
//! queued or running are run again. [`Store::sweep`] removes finished jobs
//! older than the keep time.

use crate::body::Received;
use crate::ids::JobId;
use mugai_core::Outcome;
use mugai_daemon::place;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The spool folder inside the results folder.
pub const SPOOL: &str = ".spool";
const RECORD: &str = "job.json";
const INPUT: &str = "input";
const OUTPUT: &str = "output";

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Running,
    Done,
    /// Not decided: the result could not be recorded (the audit log or the
    /// results folder failed). Nothing of the file is given out.
    Failed,
}

/// A job as `job.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    /// The name of the token that submitted it.
    pub client: String,
    pub client_job_id: Option<String>,
    /// The file name the client gave.
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub state: State,
    /// RFC 3339.
    pub created: String,
    pub finished: Option<String>,
    /// Seconds since the epoch when it finished (for expiry).
    pub finished_unix: Option<u64>,
    pub outcome: Option<Outcome>,
    /// Why a failed job failed.
    pub error: Option<String>,
}

/// Client job ids are kept per token: `(token name, client job id)`.
pub type ClientKey = (String, String);

/// What the index knows of a client job id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: JobId,
    pub sha256: String,
}

/// The results folder.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    spool: PathBuf,
    clients: Mutex<HashMap<ClientKey, Claimed>>,
}

/// The answer to [`Store::claim`].
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The id is new: the job may be created under `JobId`.
    New(JobId),
    /// The same client job id with the same body: that job.
    Same(JobId),
    /// The same client job id with a different body.
    Conflict(JobId),
}

impl Store {
    /// Opens (creating) the results folder, empties its spool, forgets job
    /// folders left without a record, and returns the jobs that were
    /// queued or running (to be run again).
    pub fn open(root: &Path) -> io::Result<(Store, Vec<JobRecord>)> {
        std::fs::create_dir_all(root)?;
        let spool = root.join(SPOOL);
        match std::fs::remove_dir_all(&spool) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir(&spool)?;
        let mut clients = HashMap::new();
        let mut pending = Vec::new();
        for entry in std::fs::read_dir(root)? {
            let entry = entry?;
            let Some(id) = entry.file_name().to_str().and_then(JobId::parse) else {
                continue;
            };
            let dir = entry.path();
            let rec = match read_record(&dir) {
                Ok(r) => r,
                // Left alone (and never expired): an administrator looks.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    tracing::warn!(error = %e, "job record unreadable; job left as it is");
                    continue;
                }
                Err(e) => return Err(e),
            };
            match rec {
                Some(rec) => {
                    if let Some(c) = &rec.client_job_id {
                        clients.insert(
                            (rec.client.clone(), c.clone()),
                            Claimed {
                                id: id.clone(),
                                sha256: rec.sha256.clone(),
                            },
                        );
                    }
                    if matches!(rec.state, State::Queued | State::Running) {
                        pending.push(rec);
                    }
                }
                // Created but never recorded: the client was never told
                // the id (the record is written before the answer).
                None => std::fs::remove_dir_all(&dir)?,
            }
        }
        pending.sort_by(|a, b| a.created.cmp(&b.created));
        Ok((
            Store {
                root: root.to_path_buf(),
                spool,
                clients: Mutex::new(clients),
            },
            pending,
        ))
    }

    pub fn spool_dir(&self) -> &Path {
        &self.spool
    }

    fn dir(&self, id: &JobId) -> PathBuf {
        self.root.join(id.as_str())
    }

    /// The job's record, `None` when there is no such job.
    pub fn load(&self, id: &JobId) -> io::Result<Option<JobRecord>> {
        read_record(&self.dir(id))
    }

    /// Writes the job's record (atomically replacing the earlier one).
    pub fn save(&self, rec: &JobRecord) -> io::Result<()> {
        let id = JobId::parse(&rec.id).ok_or_else(|| io::Error::other("bad job id"))?;
        let bytes = serde_json::to_vec_pretty(rec).map_err(io::Error::other)?;
        place::replace_file(&self.dir(&id), RECORD, &bytes, "job")
    }

    /// Reserves a client job id for a body with `sha256`, or finds the job
    /// that already has it.
    pub fn claim(&self, key: Option<ClientKey>, sha256: &str) -> io::Result<Claim> {
        let new = JobId::new().map_err(io::Error::other)?;
        let Some(key) = key else {
            return Ok(Claim::New(new));
        };
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match clients.get(&key) {
            Some(c) if c.sha256 == sha256 => Claim::Same(c.id.clone()),
            Some(c) => Claim::Conflict(c.id.clone()),
            None => {
                clients.insert(
                    key,
                    Claimed {
                        id: new.clone(),
                        sha256: sha256.to_string(),
                    },
                );
                Claim::New(new)
            }
        })
    }

    /// Gives up a reservation made by [`Store::claim`] (the job could not
    /// be created).
    pub fn release(&self, key: &ClientKey, id: &JobId) {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if clients.get(key).is_some_and(|c| &c.id == id) {
            clients.remove(key);
        }
    }

    /// Creates the job's folder with its input and its (queued) record.
    pub fn create(&self, rec: &JobRecord, input: Received) -> io::Result<()> {
        let id = JobId::parse(&rec.id).ok_or_else(|| io::Error::other("bad job id"))?;
        let dir = self.dir(&id);
        std::fs::create_dir(&dir)?;
        let r = input
            .persist(&dir, INPUT, "input")
            .and_then(|()| self.save(rec))
            .and_then(|()| place::sync_dir(&self.root));
        if r.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        r
    }

    /// The job's input.
    pub fn input(&self, id: &JobId) -> io::Result<Vec<u8>> {
        std::fs::read(self.dir(id).join(INPUT))
    }

    /// The path of the job's output (present once it is done, unless
    /// blocked).
    pub fn output_path(&self, id: &JobId) -> PathBuf {
        self.dir(id).join(OUTPUT)
    }

    /// Records the job's end: the output first (when there is one), then
    /// the record; the input is removed last.
    pub fn finish(&self, rec: &JobRecord, output: Option<&[u8]>) -> io::Result<()> {
        let id = JobId::parse(&rec.id).ok_or_else(|| io::Error::other("bad job id"))?;
        let dir = self.dir(&id);
        if let Some(bytes) = output {
            place::replace_file(&dir, OUTPUT, bytes, "output")?;
        }
        self.save(rec)?;
        match std::fs::remove_file(dir.join(INPUT)) {
            Ok(()) => place::sync_dir(&dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes the jobs that finished `keep_secs` or more before `now`
    /// (seconds since the epoch); returns how many.
    pub fn sweep(&self, keep_secs: u64, now: u64) -> io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            let Some(id) = entry.file_name().to_str().and_then(JobId::parse) else {
                continue;
            };
            let Ok(Some(rec)) = self.load(&id) else {
                continue;
            };
            let expired = matches!(rec.state, State::Done | State::Failed)
                && rec
                    .finished_unix
                    .is_some_and(|t| t.saturating_add(keep_secs) <= now);
            if !expired {
                continue;
            }
            if let Some(c) = &rec.client_job_id {
                self.release(&(rec.client.clone(), c.clone()), &id);
            }
            std::fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
        if removed > 0 {
            place::sync_dir(&self.root)?;
        }
        Ok(removed)
    }
}

fn read_record(dir: &Path) -> io::Result<Option<JobRecord>> {
    match std::fs::read(dir.join(RECORD)) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", dir.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &JobId, client_job_id: Option<&str>) -> JobRecord {
        JobRecord {
            id: id.to_string(),
            client: "proxy-1".into(),
            client_job_id: client_job_id.map(String::from),
            name: "a.txt".into(),
            size: 3,
            sha256: mugai_core::sha256_hex(b"abc"),
            state: State::Queued,
            created: "2026-12-01T00:00:00Z".into(),
            finished: None,
            finished_unix: None,
            outcome: None,
            error: None,
        }
    }

    #[test]
    fn jobs_survive_a_reopen_and_queued_ones_come_back() {
        let d = tempfile::tempdir().unwrap();
        let (store, pending) = Store::open(d.path()).unwrap();
        assert!(pending.is_empty());
        let key = ("proxy-1".to_string(), "c-1".to_string());
        let sha = mugai_core::sha256_hex(b"abc");
        let Claim::New(a) = store.claim(Some(key.clone()), &sha).unwrap() else {
            panic!("new")
        };
        store
            .create(
                &record(&a, Some("c-1")),
                Received::from_bytes(b"abc".to_vec()),
            )
            .unwrap();
        let Claim::New(b) = store.claim(None, "x").unwrap() else {
            panic!("new")
        };
        let mut rb = record(&b, None);
        store
            .create(&rb, Received::from_bytes(b"abc".to_vec()))
            .unwrap();
        assert_eq!(store.input(&b).unwrap(), b"abc");
        rb.state = State::Done;
        rb.finished_unix = Some(100);
        store.finish(&rb, Some(b"out")).unwrap();
        assert!(store.input(&b).is_err());
        assert_eq!(std::fs::read(store.output_path(&b)).unwrap(), b"out");
        // A folder without a record, one with a damaged record, and a
        // stray spool file.
        std::fs::create_dir(d.path().join("0".repeat(32))).unwrap();
        std::fs::create_dir(d.path().join("1".repeat(32))).unwrap();
        std::fs::write(d.path().join("1".repeat(32)).join(RECORD), "{").unwrap();
        std::fs::write(d.path().join(SPOOL).join(".mugai-tmp-x"), "x").unwrap();
        drop(store);

        let (store, pending) = Store::open(d.path()).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].id, a.as_str());
        assert!(!d.path().join("0".repeat(32)).exists());
        assert!(d.path().join("1".repeat(32)).join(RECORD).exists());
        assert_eq!(std::fs::read_dir(d.path().join(SPOOL)).unwrap().count(), 0);
        assert_eq!(store.load(&b).unwrap().unwrap(), rb);
        // The client job id is still known after the reopen.
        assert_eq!(
            store.claim(Some(key.clone()), &sha).unwrap(),
            Claim::Same(a.clone())
        );
        assert_eq!(
            store.claim(Some(key), &"2".repeat(64)).unwrap(),
            Claim::Conflict(a)
        );
    }

    #[test]
    fn the_sweep_removes_only_finished_jobs_past_their_time() {
        let d = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(d.path()).unwrap();
        let mut ids = Vec::new();
        for (state, finished) in [
            (State::Done, Some(100)),
            (State::Failed, Some(150)),
            (State::Done, Some(195)),
            (State::Queued, None),
        ] {
            let Claim::New(id) = store.claim(None, "x").unwrap() else {
                panic!()
            };
            let mut r = record(&id, None);
            store.create(&r, Received::from_bytes(vec![1])).unwrap();
            r.state = state;
            r.finished_unix = finished;
            store.save(&r).unwrap();
            ids.push(id);
        }
        assert_eq!(store.sweep(50, 200).unwrap(), 2);
        let left: Vec<bool> = ids
            .iter()
            .map(|i| store.load(i).unwrap().is_some())
            .collect();
        assert_eq!(left, [false, false, true, true]);
    }
}
