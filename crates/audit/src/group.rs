//! Group commit: many writers append to one file, and one `fdatasync`
//! makes every record written before it durable.
//!
//! A writer appends under its own lock and takes a [`Pending`] ticket
//! ([`GroupSync::wrote`]); it waits on the ticket outside that lock. The
//! first waiter to find no sync running syncs for everyone who wrote
//! before it started; waiters that arrive meanwhile wait for it, or for
//! the next one. Databases and Postfix's queue manager work the same way.
//! A failed sync fails every later wait: after a write-back error the
//! kernel may have dropped the pages, and a later sync that succeeds would
//! not bring them back.

use std::fs::File;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct State {
    /// Records written (numbered from 1, in file order).
    written: u64,
    /// Records known durable.
    synced: u64,
    /// A sync is running.
    syncing: bool,
    /// Syncs done (for tests and metrics).
    syncs: u64,
    /// The first sync error, kept: the file is no longer trusted.
    failed: Option<String>,
}

/// The sync side of one append-only file.
#[derive(Debug)]
pub struct GroupSync {
    file: File,
    state: Mutex<State>,
    done: Condvar,
}

/// A record written but perhaps not yet durable.
#[derive(Debug, Clone)]
#[must_use = "a record is durable only once its ticket has been waited on"]
pub struct Pending {
    sync: Arc<GroupSync>,
    seq: u64,
}

impl Pending {
    /// Returns once the record is on disk (or the sync failed).
    pub fn wait(&self) -> io::Result<()> {
        self.sync.wait(self.seq)
    }
}

impl GroupSync {
    /// `file` is a handle to the file the writer appends to (a
    /// `try_clone` of it), used only to sync.
    pub fn new(file: File) -> Arc<GroupSync> {
        Arc::new(GroupSync {
            file,
            state: Mutex::new(State::default()),
            done: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes that one more record has been written in full; call it under
    /// the writer's lock, right after the write, so that tickets follow
    /// the file's order.
    pub fn wrote(self: &Arc<Self>) -> Pending {
        let mut st = self.lock();
        st.written += 1;
        Pending {
            sync: Arc::clone(self),
            seq: st.written,
        }
    }

    /// Makes everything written so far durable.
    pub fn sync_all_written(self: &Arc<Self>) -> io::Result<()> {
        let seq = self.lock().written;
        self.wait(seq)
    }

    /// How many syncs have been made.
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Records written but not yet known durable.
    pub fn unsynced(&self) -> u64 {
        let st = self.lock();
        st.written - st.synced
    }

    fn wait(&self, seq: u64) -> io::Result<()> {
        let mut st = self.lock();
        loop {
            if let Some(e) = &st.failed {
                return Err(io::Error::other(format!("an earlier sync failed: {e}")));
            }
            if st.synced >= seq {
                return Ok(());
            }
            if !st.syncing {
                st.syncing = true;
                let target = st.written;
                drop(st);
                let r = self.file.sync_data();
                st = self.lock();
                st.syncing = false;
                st.syncs += 1;
                match &r {
                    Ok(()) => st.synced = st.synced.max(target),
                    Err(e) => st.failed = Some(e.to_string()),
                }
                self.done.notify_all();
                continue;
            }
            st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Barrier;

    #[test]
    fn one_sync_serves_every_record_written_before_it() {
        let d = tempfile::tempdir().unwrap();
        let mut f = File::create(d.path().join("log")).unwrap();
        let g = GroupSync::new(f.try_clone().unwrap());
        let tickets: Vec<Pending> = (0..10)
            .map(|i| {
                writeln!(f, "record {i}").unwrap();
                g.wrote()
            })
            .collect();
        // Written is not durable: nothing was synced before a wait.
        assert_eq!((g.syncs(), g.unsynced()), (0, 10));
        tickets.last().unwrap().wait().unwrap();
        assert_eq!(g.unsynced(), 0);
        assert_eq!(g.syncs(), 1);
        // Every earlier ticket is already durable: no further sync.
        for t in &tickets {
            t.wait().unwrap();
        }
        assert_eq!(g.syncs(), 1);
        // A record written after the sync needs a new one.
        writeln!(f, "late").unwrap();
        g.wrote().wait().unwrap();
        assert_eq!(g.syncs(), 2);
    }

    #[test]
    fn concurrent_writers_share_syncs_and_each_returns_only_when_covered() {
        let d = tempfile::tempdir().unwrap();
        let f = Arc::new(Mutex::new(File::create(d.path().join("log")).unwrap()));
        let g = GroupSync::new(f.lock().unwrap().try_clone().unwrap());
        let threads = 8;
        let per = 20;
        let start = Barrier::new(threads);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (f, g, start) = (&f, &g, &start);
                s.spawn(move || {
                    start.wait();
                    for i in 0..per {
                        let ticket = {
                            let mut f = f.lock().unwrap();
                            writeln!(f, "{t} {i}").unwrap();
                            g.wrote()
                        };
                        ticket.wait().unwrap();
                        // Durable means: a sync that started after this
                        // record was written has finished.
                        assert!(g.lock().synced >= ticket.seq);
                    }
                });
            }
        });
        let syncs = g.syncs();
        assert!(syncs >= 1 && syncs <= (threads * per) as u64, "{syncs}");
        assert_eq!(g.lock().synced, (threads * per) as u64);
    }
}
