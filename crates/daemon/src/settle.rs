//! Waiting until a file has stopped changing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    size: u64,
    mtime: Option<SystemTime>,
}

#[derive(Debug, Default)]
pub struct Tracker {
    files: HashMap<PathBuf, (Seen, Instant)>,
}

impl Tracker {
    /// Notes a file (relative to `inbox`) to watch.
    pub fn touch(&mut self, rel: PathBuf) {
        self.files.entry(rel).or_insert((
            Seen {
                size: u64::MAX,
                mtime: None,
            },
            Instant::now(),
        ));
    }

    pub fn forget(&mut self, rel: &Path) {
        self.files.remove(rel);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Stats every tracked file; returns those whose size and mtime have
    /// not changed for `settle` (excluding `busy`), and forgets files that
    /// are gone or no longer regular files.
    pub fn ready(
        &mut self,
        inbox: &Path,
        settle: Duration,
        busy: &dyn Fn(&Path) -> bool,
    ) -> Vec<PathBuf> {
        let now = Instant::now();
        let mut out = Vec::new();
        self.files.retain(|rel, (seen, since)| {
            if busy(rel) {
                return true;
            }
            let Ok(m) = inbox.join(rel).symlink_metadata() else {
                return false;
            };
            if !m.file_type().is_file() {
                return false;
            }
            let cur = Seen {
                size: m.len(),
                mtime: m.modified().ok(),
            };
            if cur != *seen {
                *seen = cur;
                *since = now;
            } else if now.duration_since(*since) >= settle {
                out.push(rel.clone());
            }
            true
        });
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_ready_only_after_it_stops_changing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.txt");
        std::fs::write(&p, "a").unwrap();
        let mut t = Tracker::default();
        t.touch("a.txt".into());
        t.touch("gone.txt".into());
        let settle = Duration::from_millis(150);
        let none = |_: &Path| false;
        assert!(t.ready(d.path(), settle, &none).is_empty());
        assert_eq!(t.len(), 1, "the missing file is forgotten");
        std::thread::sleep(Duration::from_millis(100));
        std::fs::write(&p, "ab").unwrap();
        assert!(t.ready(d.path(), settle, &none).is_empty());
        std::thread::sleep(Duration::from_millis(100));
        assert!(t.ready(d.path(), settle, &none).is_empty());
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            t.ready(d.path(), settle, &none),
            vec![PathBuf::from("a.txt")]
        );
        assert!(t.ready(d.path(), settle, &|_: &Path| true).is_empty());
    }
}
