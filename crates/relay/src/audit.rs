//! The relay's audit log: one JSON object per line, appended and flushed to
//! disk before the SMTP reply is given.
//!
//! A small local writer; the records are meant to move onto the project's
//! hash-chained audit log (`mugai-audit`) once that is in place.

use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

/// The log file's name inside the audit folder.
pub const FILE_NAME: &str = "relay-audit.jsonl";

impl AuditLog {
    pub fn open(dir: &Path) -> io::Result<AuditLog> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(AuditLog {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and flushes it to disk.
    pub fn write(&self, record: &Value) -> io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(&line)?;
        f.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_one_line_per_record() {
        let d = tempfile::tempdir().unwrap();
        let a = AuditLog::open(d.path()).unwrap();
        a.write(&serde_json::json!({"n": 1, "s": "a\nb"})).unwrap();
        a.write(&serde_json::json!({"n": 2})).unwrap();
        let text = std::fs::read_to_string(a.path()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["s"], "a\nb");
    }
}
