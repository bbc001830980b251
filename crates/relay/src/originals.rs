//! The Internet-side folder of originals: a Maildir (`tmp/`, `new/`,
//! `cur/`). A message is written to `tmp/`, flushed to disk, and renamed
//! into `new/`, so a crash never leaves a half-written original in view.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub struct Originals {
    dir: PathBuf,
    hostname: String,
    retention_days: u32,
    seq: AtomicU64,
}

impl Originals {
    /// Opens (creating if needed) the Maildir at `dir`.
    pub fn open(dir: &Path, hostname: &str, retention_days: u32) -> io::Result<Originals> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        Ok(Originals {
            dir: dir.to_path_buf(),
            hostname: hostname.replace(['/', ':'], "_"),
            retention_days,
            seq: AtomicU64::new(0),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores one original durably; returns its path under `new/`.
    pub fn store(&self, bytes: &[u8]) -> io::Result<PathBuf> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let name = format!(
            "{}.M{}P{}Q{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed),
            self.hostname
        );
        let tmp = self.dir.join("tmp").join(&name);
        let new = self.dir.join("new").join(&name);
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let written = f.write_all(bytes).and_then(|_| f.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        drop(f);
        fs::rename(&tmp, &new)?;
        // The rename itself must survive a crash.
        File::open(self.dir.join("new"))?.sync_all()?;
        Ok(new)
    }

    /// Removes an original the sending MTA still holds (the message was
    /// deferred and will come again).
    pub fn discard(&self, path: &Path) -> io::Result<()> {
        if path.starts_with(&self.dir) {
            fs::remove_file(path)?;
        }
        Ok(())
    }

    /// Deletes originals older than the retention; returns how many.
    pub fn sweep(&self) -> io::Result<usize> {
        if self.retention_days == 0 {
            return Ok(0);
        }
        let limit = Duration::from_secs(u64::from(self.retention_days) * 86_400);
        let now = SystemTime::now();
        let mut removed = 0;
        for sub in ["new", "cur", "tmp"] {
            for entry in fs::read_dir(self.dir.join(sub))?.flatten() {
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age > limit);
                if old && fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_into_new_and_sweeps_by_age() {
        let d = tempfile::tempdir().unwrap();
        let o = Originals::open(d.path(), "h", 1).unwrap();
        let p = o.store(b"mail").unwrap();
        assert!(p.starts_with(d.path().join("new")));
        assert_eq!(fs::read(&p).unwrap(), b"mail");
        assert_eq!(fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
        let p2 = o.store(b"mail 2").unwrap();
        assert_ne!(p, p2);
        assert_eq!(o.sweep().unwrap(), 0, "fresh files stay");
        let old = SystemTime::now() - Duration::from_secs(3 * 86_400);
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(o.sweep().unwrap(), 1);
        assert!(!p.exists() && p2.exists());
        o.discard(&p2).unwrap();
        assert!(!p2.exists());
    }
}
