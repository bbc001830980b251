//! Entries the daemon does not take — symbolic links, hidden, lock and
//! temporary-upload names, special files — are never left unreported:
//! each is logged and audited once when first seen (verdict `unaccepted`)
//! and, if still there after `daemon.unaccepted_after_secs`, moved as it
//! is (a link as the link) to `quarantine/<date>/<id>/` beside a
//! `reason.json` (verdict `blocked`).

use crate::inbox::{FileId, Meta};
use crate::job::Shared;
use crate::place;
use mugai_audit::{clock, Record};
use mugai_detect::name;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Held {
    id: FileId,
    since: Instant,
    reason: &'static str,
}

/// Unaccepted entries seen, by path relative to the inbox.
#[derive(Debug, Default)]
pub struct Unaccepted {
    held: HashMap<PathBuf, Held>,
}

impl Unaccepted {
    /// Notes an entry; true when it is new (or a different object under
    /// the same name) and must be reported.
    pub fn note(&mut self, rel: &Path, m: &Meta, reason: &'static str) -> bool {
        match self.held.get(rel) {
            Some(h) if h.id == m.id => false,
            _ => {
                self.held.insert(
                    rel.to_path_buf(),
                    Held {
                        id: m.id,
                        since: Instant::now(),
                        reason,
                    },
                );
                true
            }
        }
    }

    /// Forgets entries a full scan no longer found.
    pub fn keep_only(&mut self, present: &HashSet<PathBuf>) {
        self.held.retain(|rel, _| present.contains(rel));
    }

    pub fn forget(&mut self, rel: &Path) {
        self.held.remove(rel);
    }

    /// Entries held at least `after`.
    pub fn due(&self, after: Duration) -> Vec<(PathBuf, FileId, &'static str)> {
        let mut v: Vec<_> = self
            .held
            .iter()
            .filter(|(_, h)| h.since.elapsed() >= after)
            .map(|(r, h)| (r.clone(), h.id, h.reason))
            .collect();
        v.sort();
        v
    }
}

fn rel_string(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

impl Shared {
    /// Logs and audits an entry that will not be taken.
    pub fn report_unaccepted(&self, rel: &Path, m: &Meta, reason: &str) -> io::Result<()> {
        let path = rel_string(rel);
        tracing::warn!(
            path = %path,
            reason = %reason,
            "not taken; moved to quarantine if still there after {} s",
            self.config().daemon.unaccepted_after_secs
        );
        self.audit_unaccepted(&path, m, "unaccepted", reason, None)
    }

    fn audit_unaccepted(
        &self,
        path: &str,
        m: &Meta,
        verdict: &str,
        reason: &str,
        output: Option<String>,
    ) -> io::Result<()> {
        let id = self.new_id();
        let mut audit = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        audit.append(Record {
            time: clock::rfc3339(clock::now()),
            id,
            path: path.to_string(),
            size: m.size,
            sha256: String::new(),
            output_sha256: None,
            file_type: m.kind.describe().to_string(),
            output_type: None,
            verdict: verdict.to_string(),
            codes: vec![],
            reason: Some(format!("inbox.unaccepted: {reason}")),
            duration_ms: 0,
            output,
            extra: Default::default(),
        })?;
        Ok(())
    }

    /// Moves an unaccepted entry that stayed too long to quarantine, with
    /// its reason. Returns false when it changed or went meanwhile.
    pub fn quarantine_unaccepted(
        &self,
        rel: &Path,
        expect: FileId,
        reason: &str,
    ) -> io::Result<bool> {
        let m = match self.inbox.stat(rel) {
            Ok(m) if m.id == expect => m,
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let id = self.new_id();
        let date = clock::today();
        let path = rel_string(rel);
        let qdir = self.dirs.quarantine.join(&date).join(&id);
        std::fs::create_dir_all(&qdir)?;
        let last = path.rsplit('/').next().unwrap_or("unnamed");
        let mut safe = name::safe_component(last);
        if safe == "reason.json" {
            safe.insert(0, '_');
        }
        let time = clock::rfc3339(clock::now());
        let reason_json = serde_json::json!({
            "id": id,
            "path": path,
            "time": time,
            "size": m.size,
            "type": m.kind.describe(),
            "reason": format!("inbox.unaccepted: {reason}"),
            "findings": [],
        });
        let text = serde_json::to_vec_pretty(&reason_json).map_err(io::Error::other)?;
        place::replace_file(&qdir, "reason.json", &text, &id)?;
        match self.inbox.move_out(rel, expect, &qdir, &safe, &id) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound || crate::inbox::is_changed(&e) => {
                let _ = std::fs::remove_dir_all(&qdir);
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        let shown = format!("quarantine/{date}/{id}");
        tracing::warn!(id = %id, path = %path, reason = %reason, output = %shown, "unaccepted entry quarantined");
        self.audit_unaccepted(&path, &m, "blocked", reason, Some(shown))?;
        Ok(true)
    }
}
