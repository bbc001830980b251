//! Counts over a period, for the periodic log review.

use crate::record;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub records: u64,
    pub bytes: u64,
    pub by_verdict: BTreeMap<String, u64>,
    pub by_type: BTreeMap<String, u64>,
    pub by_code: BTreeMap<String, u64>,
    /// Lines that are not intact records (see `verify`).
    pub unreadable: u64,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
}

/// Summarises the records of `files` whose local date (`YYYY-MM-DD`, the
/// date part of `time`) lies in `since..=until` (either end open).
pub fn summary<P: AsRef<Path>>(
    files: &[P],
    since: Option<&str>,
    until: Option<&str>,
) -> io::Result<Summary> {
    let mut s = Summary::default();
    for path in files {
        let text = std::fs::read(path.as_ref())?;
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = String::from_utf8_lossy(line);
            let Some((_, r)) = record::check_line(&line)
                .ok()
                .and_then(|_| record::parse(&line))
            else {
                s.unreadable += 1;
                continue;
            };
            let date = r.time.get(..10).unwrap_or("");
            if since.is_some_and(|d| date < d) || until.is_some_and(|d| date > d) {
                continue;
            }
            s.records += 1;
            s.bytes += r.size;
            *s.by_verdict.entry(r.verdict.clone()).or_default() += 1;
            *s.by_type.entry(r.file_type.clone()).or_default() += 1;
            for c in &r.codes {
                *s.by_code.entry(c.clone()).or_default() += 1;
            }
            if s.first_time.as_ref().is_none_or(|t| &r.time < t) {
                s.first_time = Some(r.time.clone());
            }
            if s.last_time.as_ref().is_none_or(|t| &r.time > t) {
                s.last_time = Some(r.time.clone());
            }
        }
    }
    Ok(s)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "records: {}", self.records)?;
        writeln!(f, "bytes: {}", self.bytes)?;
        if let (Some(a), Some(b)) = (&self.first_time, &self.last_time) {
            writeln!(f, "period: {a} .. {b}")?;
        }
        for (title, map) in [
            ("verdict", &self.by_verdict),
            ("type", &self.by_type),
            ("finding", &self.by_code),
        ] {
            writeln!(f, "by {title}:")?;
            for (k, v) in map {
                writeln!(f, "  {k:<28} {v}")?;
            }
        }
        if self.unreadable > 0 {
            writeln!(
                f,
                "unreadable lines: {} (run `mugai audit verify`)",
                self.unreadable
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditLog, Record};

    #[test]
    fn counts_by_verdict_type_and_code_in_period() {
        let d = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(d.path()).unwrap();
        for (v, t, codes, time) in [
            ("clean", "text", vec![], ""),
            ("sanitized", "csv", vec!["text.formula"], ""),
            ("blocked", "exe", vec!["type.executable"], ""),
            (
                "blocked",
                "exe",
                vec!["type.executable"],
                "2001-01-01T00:00:00Z",
            ),
        ] {
            log.append(Record {
                time: time.into(),
                verdict: v.into(),
                file_type: t.into(),
                codes: codes.into_iter().map(String::from).collect(),
                size: 10,
                ..Record::default()
            })
            .unwrap();
        }
        let files = crate::log::files_in(d.path()).unwrap();
        let all = summary(&files, None, None).unwrap();
        assert_eq!(all.records, 4);
        assert_eq!(all.by_verdict["blocked"], 2);
        assert_eq!(all.by_code["type.executable"], 2);
        let recent = summary(&files, Some("2002-01-01"), None).unwrap();
        assert_eq!(recent.records, 3);
        assert_eq!(recent.by_type["exe"], 1);
        assert_eq!(recent.bytes, 30);
        let old = summary(&files, None, Some("2001-12-31")).unwrap();
        assert_eq!(old.records, 1);
        assert!(all.to_string().contains("text.formula"));
    }
}
