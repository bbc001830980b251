//! The writer: append, fsync, rotate daily, continue the chain.

use crate::clock;
use crate::group::{GroupSync, Pending};
use crate::record::{self, Record, GENESIS};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const FILE_PREFIX: &str = "audit-";
pub const FILE_SUFFIX: &str = ".jsonl";

/// An open audit log directory. One writer per directory.
#[derive(Debug)]
pub struct AuditLog {
    dir: PathBuf,
    date: String,
    file: File,
    sync: Arc<GroupSync>,
    seq: u64,
    prev: String,
}

fn file_name(date: &str) -> String {
    format!("{FILE_PREFIX}{date}{FILE_SUFFIX}")
}

/// The log files of `dir`, oldest first (names sort by date).
pub fn files_in(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(FILE_PREFIX) && n.ends_with(FILE_SUFFIX))
        })
        .collect();
    v.sort();
    Ok(v)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Cuts a torn last line (a crash during a write) so that the file ends
/// with a whole record; returns the last whole line.
fn repair_tail(path: &Path) -> io::Result<Option<String>> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let keep = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    if keep != bytes.len() {
        f.set_len(keep as u64)?;
        f.sync_all()?;
    }
    let whole = bytes.get(..keep).unwrap_or_default();
    let last = whole
        .split(|&b| b == b'\n')
        .rfind(|l| !l.is_empty())
        .map(|l| String::from_utf8_lossy(l).into_owned());
    Ok(last)
}

impl AuditLog {
    /// Opens (creating) the log in `dir` and finds where the chain stands.
    pub fn open(dir: &Path) -> io::Result<AuditLog> {
        std::fs::create_dir_all(dir)?;
        let mut seq = 0;
        let mut prev = GENESIS.to_string();
        for path in files_in(dir)?.iter().rev() {
            if let Some(line) = repair_tail(path)? {
                let hash = record::check_line(&line).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: last record: {e}", path.display()),
                    )
                })?;
                let (chain, _) = record::parse(&line).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: last record unreadable", path.display()),
                    )
                })?;
                seq = chain.seq;
                prev = hash;
                break;
            }
        }
        let date = clock::today();
        let file = Self::open_file(dir, &date)?;
        Ok(AuditLog {
            dir: dir.to_path_buf(),
            date,
            sync: GroupSync::new(file.try_clone()?),
            file,
            seq,
            prev,
        })
    }

    fn open_file(dir: &Path, date: &str) -> io::Result<File> {
        let path = dir.join(file_name(date));
        let existed = path.exists();
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        if !existed {
            sync_dir(dir)?;
        }
        Ok(file)
    }

    /// Appends one record (filling in `time` when empty) and fsyncs it.
    /// Returns the record's sequence number.
    pub fn append(&mut self, record: Record) -> io::Result<u64> {
        let (seq, pending) = self.write(record)?;
        pending.wait()?;
        Ok(seq)
    }

    /// Appends one record without waiting for the disk: the record is
    /// durable once the returned ticket has been waited on, which a caller
    /// does after releasing its lock on the log, so that concurrent
    /// writers share one fsync (group commit). Returns the record's
    /// sequence number with the ticket.
    pub fn write(&mut self, mut record: Record) -> io::Result<(u64, Pending)> {
        let now = clock::now();
        if record.time.is_empty() {
            record.time = clock::rfc3339(now);
        }
        let today = clock::date(now);
        if today != self.date {
            // Yesterday's file is complete and durable before today's
            // continues the chain.
            self.sync.sync_all_written()?;
            self.file = Self::open_file(&self.dir, &today)?;
            self.sync = GroupSync::new(self.file.try_clone()?);
            self.date = today;
        }
        let seq = self.seq + 1;
        let (mut line, hash) =
            record::encode(seq, &self.prev, &record).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.seq = seq;
        self.prev = hash;
        Ok((seq, self.sync.wrote()))
    }

    /// Records written but not yet known durable (group commit).
    pub fn unsynced(&self) -> u64 {
        self.sync.unsynced()
    }

    /// The sequence number of the last record written (0 when none).
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a record with this id is in the current or the previous
    /// file (used after a crash to avoid writing a job's record twice).
    pub fn contains_id(&self, id: &str) -> io::Result<bool> {
        contains_id_in(&self.dir, id)
    }
}

/// Whether a record with this id is in the current or the previous file
/// of the log in `dir` (read only; another writer's log may be given).
pub fn contains_id_in(dir: &Path, id: &str) -> io::Result<bool> {
    let files = files_in(dir)?;
    let needle = format!(
        "\"id\":{}",
        serde_json::to_string(id).map_err(io::Error::other)?
    );
    for path in files.iter().rev().take(2) {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(0))?;
        for line in BufReader::new(f).lines() {
            if line?.contains(&needle) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> Record {
        Record {
            id: id.into(),
            path: format!("{id}.txt"),
            verdict: "clean".into(),
            file_type: "text".into(),
            ..Record::default()
        }
    }

    #[test]
    fn open_creates_missing_folders() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("var/log/mugai");
        let mut log = AuditLog::open(&dir).unwrap();
        log.append(Record::default()).unwrap();
        assert_eq!(files_in(&dir).unwrap().len(), 1);
    }

    #[test]
    fn chain_continues_across_reopen_and_torn_tail() {
        let d = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(d.path()).unwrap();
        log.append(rec("a")).unwrap();
        log.append(rec("b")).unwrap();
        drop(log);
        // A torn write at the end.
        let files = files_in(d.path()).unwrap();
        let mut f = OpenOptions::new().append(true).open(&files[0]).unwrap();
        f.write_all(b"{\"seq\":3,\"pre").unwrap();
        drop(f);
        let mut log = AuditLog::open(d.path()).unwrap();
        assert_eq!(log.last_seq(), 2);
        assert!(log.contains_id("b").unwrap());
        assert!(!log.contains_id("c").unwrap());
        log.append(rec("c")).unwrap();
        let report = crate::verify(&files).unwrap();
        assert!(report.problem.is_none(), "{report:?}");
        assert_eq!(report.records, 3);
    }

    #[test]
    fn chain_continues_into_a_new_days_file() {
        let d = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(d.path()).unwrap();
        log.append(rec("a")).unwrap();
        // Pretend yesterday's file was written, then today's continues it.
        let today = files_in(d.path()).unwrap().remove(0);
        let yesterday = d.path().join(file_name("2000-01-01"));
        std::fs::rename(&today, &yesterday).unwrap();
        drop(log);
        let mut log = AuditLog::open(d.path()).unwrap();
        log.append(rec("b")).unwrap();
        let files = files_in(d.path()).unwrap();
        assert_eq!(files.len(), 2);
        let report = crate::verify(&files).unwrap();
        assert!(report.problem.is_none(), "{report:?}");
        assert_eq!(report.records, 2);
        // The second file alone starts mid-chain: reported, not an error.
        let report = crate::verify(&files[1..]).unwrap();
        assert!(report.problem.is_none());
        assert_eq!(report.first_seq, Some(2));
    }
}
