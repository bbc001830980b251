//! The relay's audit log: one record per message in the project's
//! hash-chained log (`mugai-audit`, `audit-YYYY-MM-DD.jsonl`), fsynced
//! before the SMTP reply is given, checked by `mugai audit verify` like
//! the daemon's.
//!
//! The pipeline builds the record as a JSON object; the fields every
//! producer shares (time, id, path, size, SHA-256s, verdict, codes, reason,
//! output) go into their places, the mail-only ones (envelope, Message-ID,
//! result, replies) into the record's extra fields.

use mugai_audit::Record;
use serde_json::{Map, Value};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug)]
pub struct AuditLog {
    dir: PathBuf,
    log: Mutex<mugai_audit::AuditLog>,
    counter: AtomicU64,
}

impl AuditLog {
    /// Opens (creating) the log in `dir`.
    pub fn open(dir: &Path) -> io::Result<AuditLog> {
        Ok(AuditLog {
            dir: dir.to_path_buf(),
            log: Mutex::new(mugai_audit::AuditLog::open(dir)?),
            counter: AtomicU64::new(0),
        })
    }

    /// The audit folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one record (chained, fsynced).
    pub fn write(&self, record: &Value) -> io::Result<()> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let r = to_record(record, n);
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.append(r)?;
        Ok(())
    }
}

fn take_str(m: &mut Map<String, Value>, k: &str) -> Option<String> {
    match m.remove(k) {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    }
}

/// The record of one message: shared fields in place, the rest as extra.
fn to_record(v: &Value, n: u64) -> Record {
    let mut m = v.as_object().cloned().unwrap_or_default();
    let sha = take_str(&mut m, "sha256").unwrap_or_default();
    let time = take_str(&mut m, "time").unwrap_or_default();
    let message_id = m
        .get("message_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut codes: Vec<String> = m
        .get("findings")
        .and_then(Value::as_array)
        .map(|fs| {
            fs.iter()
                .filter_map(|f| f.get("code").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    codes.sort();
    codes.dedup();
    let reason = m.remove("reason").and_then(|r| match r {
        Value::Null => None,
        Value::Object(o) => Some(format!(
            "{}: {}",
            o.get("code").and_then(Value::as_str).unwrap_or(""),
            o.get("detail").and_then(Value::as_str).unwrap_or("")
        )),
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    });
    let size = m.remove("size").and_then(|s| s.as_u64()).unwrap_or(0);
    let duration_ms = m
        .remove("duration_ms")
        .and_then(|s| s.as_u64())
        .unwrap_or(0);
    let verdict = take_str(&mut m, "verdict").unwrap_or_else(|| "none".into());
    Record {
        time,
        id: format!("mail-{}-{n:06}", sha.get(..12).unwrap_or("000000000000")),
        path: message_id.unwrap_or_else(|| "(no Message-ID)".into()),
        size,
        output_sha256: take_str(&mut m, "output_sha256"),
        sha256: sha,
        file_type: "mail".into(),
        output_type: None,
        verdict,
        codes,
        reason,
        duration_ms,
        output: take_str(&mut m, "original"),
        extra: m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_chained_and_verify() {
        let d = tempfile::tempdir().unwrap();
        let a = AuditLog::open(d.path()).unwrap();
        a.write(&serde_json::json!({
            "time": "2026-12-01T22:47:00+09:00",
            "message_id": "<a@b>",
            "rcpt_to": ["x@y.jp"],
            "size": 10,
            "sha256": "ab".repeat(32),
            "verdict": "sanitized",
            "findings": [{"code": "mail.html"}, {"code": "mail.html"}],
            "reason": null,
            "result": "delivered",
        }))
        .unwrap();
        a.write(&serde_json::json!({"sha256": "cd".repeat(32), "result": "deferred"}))
            .unwrap();
        let files = mugai_audit::files_in(d.path()).unwrap();
        let report = mugai_audit::verify(&files).unwrap();
        assert!(report.problem.is_none(), "{:?}", report.problem);
        assert_eq!(report.records, 2);
        let text = std::fs::read_to_string(&files[0]).unwrap();
        let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["path"], "<a@b>");
        assert_eq!(first["codes"], serde_json::json!(["mail.html"]));
        assert_eq!(first["rcpt_to"], serde_json::json!(["x@y.jp"]));
        assert_eq!(first["result"], "delivered");
        // A changed recipient breaks the chain.
        std::fs::write(&files[0], text.replacen("x@y.jp", "z@y.jp", 1)).unwrap();
        assert!(mugai_audit::verify(&files).unwrap().problem.is_some());
    }
}
