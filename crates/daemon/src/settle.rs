//! Waiting until a file is complete: size and mtime unchanged for the
//! settle time, and no writer still holding it open as far as inotify
//! tells (a `CREATE` or `MODIFY` not yet followed by `CLOSE_WRITE`), so an
//! upload that pauses longer than the settle time is not taken in pieces.
//! A writer that never closes is given up on after `stale_writer`.

use crate::inbox::{FileId, Inbox, Kind};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    id: FileId,
    size: u64,
    mtime: (i64, i64),
}

#[derive(Debug)]
struct Tracked {
    seen: Option<Seen>,
    since: Instant,
    /// Opened for writing and not closed yet.
    writing: bool,
}

/// A file ready to be taken, with the identity it settled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub rel: PathBuf,
    pub id: FileId,
    /// Taken although a writer never closed it.
    pub stale_writer: bool,
}

#[derive(Debug, Default)]
pub struct Tracker {
    files: HashMap<PathBuf, Tracked>,
}

impl Tracker {
    /// Notes a file (relative to the inbox) to watch.
    pub fn touch(&mut self, rel: PathBuf) {
        self.entry(rel);
    }

    fn entry(&mut self, rel: PathBuf) -> &mut Tracked {
        self.files.entry(rel).or_insert(Tracked {
            seen: None,
            since: Instant::now(),
            writing: false,
        })
    }

    /// A writer is at work on the file.
    pub fn writing(&mut self, rel: PathBuf) {
        let t = self.entry(rel);
        t.writing = true;
        t.since = Instant::now();
    }

    /// The (or a) writer closed it, or it was renamed into place.
    pub fn closed(&mut self, rel: PathBuf) {
        self.entry(rel).writing = false;
    }

    pub fn forget(&mut self, rel: &Path) {
        self.files.remove(rel);
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Stats every tracked file through the inbox's handles; returns those
    /// unchanged for `settle` and not held by a writer (excluding `busy`),
    /// and forgets entries that are gone or no longer regular files.
    pub fn ready(
        &mut self,
        inbox: &Inbox,
        settle: Duration,
        stale_writer: Duration,
        busy: &dyn Fn(&Path) -> bool,
    ) -> Vec<Ready> {
        let now = Instant::now();
        let mut out = Vec::new();
        self.files.retain(|rel, t| {
            if busy(rel) {
                return true;
            }
            let Ok(m) = inbox.stat(rel) else {
                return false;
            };
            if m.kind != Kind::File {
                return false;
            }
            let cur = Seen {
                id: m.id,
                size: m.size,
                mtime: m.mtime,
            };
            if t.seen != Some(cur) {
                t.seen = Some(cur);
                t.since = now;
                return true;
            }
            let quiet = now.duration_since(t.since);
            if quiet >= settle && (!t.writing || quiet >= stale_writer) {
                out.push(Ready {
                    rel: rel.clone(),
                    id: m.id,
                    stale_writer: t.writing,
                });
            }
            true
        });
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_ready_only_after_it_stops_changing_and_is_closed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.txt");
        std::fs::write(&p, "a").unwrap();
        let inbox = Inbox::open(d.path()).unwrap();
        let mut t = Tracker::default();
        t.touch("a.txt".into());
        t.touch("gone.txt".into());
        let settle = Duration::from_millis(150);
        let stale = Duration::from_secs(3600);
        let none = |_: &Path| false;
        let rels = |v: Vec<Ready>| v.into_iter().map(|r| r.rel).collect::<Vec<_>>();
        assert!(t.ready(&inbox, settle, stale, &none).is_empty());
        assert_eq!(t.len(), 1, "the missing file is forgotten");
        std::thread::sleep(Duration::from_millis(100));
        std::fs::write(&p, "ab").unwrap();
        assert!(t.ready(&inbox, settle, stale, &none).is_empty());
        std::thread::sleep(Duration::from_millis(100));
        assert!(t.ready(&inbox, settle, stale, &none).is_empty());
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            rels(t.ready(&inbox, settle, stale, &none)),
            vec![PathBuf::from("a.txt")]
        );
        assert!(t.ready(&inbox, settle, stale, &|_: &Path| true).is_empty());

        // Still open for writing: not ready however long it is quiet,
        // until closed or given up on.
        t.writing("a.txt".into());
        std::thread::sleep(Duration::from_millis(200));
        assert!(t.ready(&inbox, settle, stale, &none).is_empty());
        let short = Duration::from_millis(180);
        let r = t.ready(&inbox, settle, short, &none);
        assert_eq!(r.len(), 1);
        assert!(r[0].stale_writer);
        t.closed("a.txt".into());
        let r = t.ready(&inbox, settle, stale, &none);
        assert_eq!(rels(r), vec![PathBuf::from("a.txt")]);
    }
}
