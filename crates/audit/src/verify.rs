//! Verification of the chain over one or more files, in order.

use crate::record::{self, GENESIS};
use std::collections::HashSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The record's content does not match its own hash, or is not a record.
    Edited,
    /// Records are missing before this one.
    Deleted,
    /// This record repeats an earlier sequence number or does not chain to
    /// the previous record.
    Inserted,
    /// A later record comes before this position.
    Reordered,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Edited => "edited",
            ProblemKind::Deleted => "deleted",
            ProblemKind::Inserted => "inserted",
            ProblemKind::Reordered => "reordered",
        }
    }
}

/// The first bad record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// 1-based position among all records of all files given.
    pub position: u64,
    pub file: PathBuf,
    /// 1-based line in `file`.
    pub line: u64,
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {} ({}:{}): {}: {}",
            self.position,
            self.file.display(),
            self.line,
            self.kind.as_str(),
            self.detail
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked before the first problem (all, when none).
    pub records: u64,
    /// The sequence number the chain starts at (1 for a whole chain).
    pub first_seq: Option<u64>,
    /// Whether the first record is the genesis of the chain.
    pub from_genesis: bool,
    pub last_seq: Option<u64>,
    pub problem: Option<Problem>,
}

struct Line {
    file: usize,
    line: u64,
    text: String,
}

/// Verifies `files` as one chain, in the order given.
pub fn verify<P: AsRef<Path>>(files: &[P]) -> io::Result<VerifyReport> {
    let mut lines = Vec::new();
    for (fi, path) in files.iter().enumerate() {
        let bytes = std::fs::read(path.as_ref())?;
        for (li, l) in bytes.split(|&b| b == b'\n').enumerate() {
            if l.is_empty() {
                continue;
            }
            lines.push(Line {
                file: fi,
                line: li as u64 + 1,
                text: String::from_utf8_lossy(l).into_owned(),
            });
        }
    }
    // Sequence numbers of all intact lines, to tell a gap (deleted) from
    // an out-of-order record (reordered).
    let seqs: Vec<Option<u64>> = lines
        .iter()
        .map(|l| {
            record::check_line(&l.text)
                .ok()
                .and_then(|_| record::parse(&l.text))
                .map(|(c, _)| c.seq)
        })
        .collect();

    let mut report = VerifyReport::default();
    let mut prev: Option<(u64, String)> = None;
    let mut seen = HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        let position = i as u64 + 1;
        let problem = |kind, detail: String| Problem {
            kind,
            position,
            file: files[l.file].as_ref().to_path_buf(),
            line: l.line,
            detail,
        };
        let hash = match record::check_line(&l.text) {
            Ok(h) => h,
            Err(e) => {
                report.problem = Some(problem(ProblemKind::Edited, e.to_string()));
                return Ok(report);
            }
        };
        let Some((chain, _)) = record::parse(&l.text) else {
            report.problem = Some(problem(ProblemKind::Edited, "not a valid record".into()));
            return Ok(report);
        };
        match &prev {
            None => {
                let later_min = seqs.get(i + 1..).unwrap_or_default().iter().flatten().min();
                if let Some(&m) = later_min.filter(|&&m| m < chain.seq) {
                    report.problem = Some(problem(
                        ProblemKind::Reordered,
                        format!("sequence {} comes before sequence {m}", chain.seq),
                    ));
                    return Ok(report);
                }
                report.first_seq = Some(chain.seq);
                report.from_genesis = chain.seq == 1 && chain.prev == GENESIS;
            }
            Some((pseq, phash)) => {
                let expected = pseq + 1;
                if chain.seq > expected {
                    let later = seqs.get(i + 1..).unwrap_or_default();
                    let kind = if later.contains(&Some(expected)) {
                        ProblemKind::Reordered
                    } else {
                        ProblemKind::Deleted
                    };
                    let detail = match kind {
                        ProblemKind::Reordered => {
                            format!("sequence {} comes before sequence {expected}", chain.seq)
                        }
                        _ if chain.seq == expected + 1 => {
                            format!("record with sequence {expected} is missing before this one")
                        }
                        _ => format!(
                            "records with sequence {expected}..{} are missing before this one",
                            chain.seq - 1
                        ),
                    };
                    report.problem = Some(problem(kind, detail));
                    return Ok(report);
                }
                if chain.seq < expected {
                    let kind = if seen.contains(&chain.seq) {
                        ProblemKind::Inserted
                    } else {
                        ProblemKind::Reordered
                    };
                    let detail = format!("sequence {} where {expected} was due", chain.seq);
                    report.problem = Some(problem(kind, detail));
                    return Ok(report);
                }
                if &chain.prev != phash {
                    report.problem = Some(problem(
                        ProblemKind::Inserted,
                        "does not chain to the previous record (forged here, or the previous record was rewritten)".into(),
                    ));
                    return Ok(report);
                }
            }
        }
        seen.insert(chain.seq);
        report.records += 1;
        report.last_seq = Some(chain.seq);
        prev = Some((chain.seq, hash));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditLog, Record};

    fn log_of(n: usize) -> (tempfile::TempDir, PathBuf, Vec<String>) {
        let d = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(d.path()).unwrap();
        for i in 0..n {
            log.append(Record {
                id: format!("id{i}"),
                path: format!("f{i}.txt"),
                verdict: "clean".into(),
                ..Record::default()
            })
            .unwrap();
        }
        let path = crate::log::files_in(d.path()).unwrap().remove(0);
        let lines = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        (d, path, lines)
    }

    fn check(path: &Path, lines: &[String]) -> Option<Problem> {
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
        verify(&[path]).unwrap().problem
    }

    #[test]
    fn each_tampering_is_found_at_its_position() {
        let (_d, path, lines) = log_of(8);
        assert!(check(&path, &lines).is_none());

        let mut l = lines.clone();
        l[3] = l[3].replace("f3.txt", "f9.txt");
        let p = check(&path, &l).unwrap();
        assert_eq!((p.kind, p.position), (ProblemKind::Edited, 4));

        let mut l = lines.clone();
        l.remove(5);
        let p = check(&path, &l).unwrap();
        assert_eq!((p.kind, p.position), (ProblemKind::Deleted, 6));

        let mut l = lines.clone();
        l.swap(2, 3);
        let p = check(&path, &l).unwrap();
        assert_eq!((p.kind, p.position), (ProblemKind::Reordered, 3));

        let mut l = lines.clone();
        l.swap(0, 1);
        let p = check(&path, &l).unwrap();
        assert_eq!((p.kind, p.position), (ProblemKind::Reordered, 1));

        let mut l = lines.clone();
        let copy = l[1].clone();
        l.insert(4, copy);
        let p = check(&path, &l).unwrap();
        assert_eq!((p.kind, p.position), (ProblemKind::Inserted, 5));

        // A forged record with a correct own hash and the next sequence.
        let mut l = lines.clone();
        let (forged, _) = crate::record::encode(
            5,
            GENESIS,
            &Record {
                id: "x".into(),
                ..Record::default()
            },
        )
        .unwrap();
        l.insert(4, forged);
        let p = check(&path, &l).unwrap();
        assert_eq!((p.kind, p.position), (ProblemKind::Inserted, 5));

        // The last record deleted cannot be told from a shorter log, but
        // the report says where the chain ends.
        let mut l = lines.clone();
        l.pop();
        std::fs::write(&path, l.join("\n") + "\n").unwrap();
        assert_eq!(verify(&[&path]).unwrap().last_seq, Some(7));
    }
}
