//! inotify on the inbox's folders, for the events that mean new data only.
//!
//! The mask is `CREATE | MODIFY | CLOSE_WRITE | MOVED_TO`: never the
//! access, open or close-without-write events that the daemon's own
//! listing and reading cause (those made a rescan trigger itself forever).
//! Each folder is watched through `/proc/self/fd/N` of a handle opened
//! without following links, so the watch is on the folder that was walked,
//! not on whatever a path names at that moment.

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

type Raw = (WatchDescriptor, EventMask, Option<OsString>);

/// What happened in the inbox, relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A file is being written (created or modified).
    Writing(PathBuf),
    /// A writer closed the file.
    Closed(PathBuf),
    /// An entry was renamed into place (file, folder or other).
    Arrived(PathBuf),
    /// A folder was created.
    Folder(PathBuf),
    /// Events were lost: everything must be looked at again.
    Overflow,
}

/// The inotify instance is read by a thread of its own (the async
/// runtime offers no safe way to register a raw descriptor); it wakes at
/// least once a second to see whether it should stop.
pub struct Watcher {
    watches: Watches,
    rx: mpsc::UnboundedReceiver<io::Result<Vec<Raw>>>,
    stop: Arc<AtomicBool>,
    dirs: HashMap<WatchDescriptor, PathBuf>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn reader(
    mut inotify: Inotify,
    tx: mpsc::UnboundedSender<io::Result<Vec<Raw>>>,
    stop: Arc<AtomicBool>,
) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut buf = vec![0u8; 64 * 1024];
    let second = Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    while !stop.load(Ordering::Relaxed) {
        let ready = {
            let mut fds = [PollFd::new(&inotify, PollFlags::IN)];
            poll(&mut fds, Some(&second))
        };
        match ready {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Err(e.into()));
                return;
            }
        }
        let batch = match inotify.read_events(&mut buf) {
            Ok(evs) => Ok(evs
                .map(|e| (e.wd, e.mask, e.name.map(|n| n.to_os_string())))
                .collect::<Vec<Raw>>()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => Err(e),
        };
        let failed = batch.is_err();
        if tx.send(batch).is_err() || failed {
            return;
        }
    }
}

const MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::MODIFY)
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::ONLYDIR)
    .union(WatchMask::EXCL_UNLINK);

impl Watcher {
    pub fn new() -> io::Result<Watcher> {
        let inotify = Inotify::init()?;
        let watches = inotify.watches();
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        std::thread::Builder::new()
            .name("mugai-inotify".into())
            .spawn(move || reader(inotify, tx, st))?;
        Ok(Watcher {
            watches,
            rx,
            stop,
            dirs: HashMap::new(),
        })
    }

    /// Watches the folder `rel` whose handle is `dir`.
    pub fn add(&mut self, dir: &OwnedFd, rel: &Path) -> io::Result<()> {
        let by_handle = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        let wd = self.watches.add(&by_handle, MASK)?;
        self.dirs.insert(wd, rel.to_path_buf());
        Ok(())
    }

    /// Waits for the next batch of events.
    pub async fn next(&mut self) -> io::Result<Vec<Event>> {
        loop {
            let Some(batch) = self.rx.recv().await else {
                return Err(io::Error::other("the inotify reader stopped"));
            };
            let raw = batch?;
            let mut out = Vec::new();
            for (wd, mask, name) in raw {
                if mask.contains(EventMask::Q_OVERFLOW) {
                    out.push(Event::Overflow);
                    continue;
                }
                if mask.contains(EventMask::IGNORED) {
                    self.dirs.remove(&wd);
                    continue;
                }
                let (Some(dir), Some(name)) = (self.dirs.get(&wd), name) else {
                    continue;
                };
                let rel = dir.join(name);
                let is_dir = mask.contains(EventMask::ISDIR);
                out.push(if mask.contains(EventMask::MOVED_TO) {
                    Event::Arrived(rel)
                } else if is_dir && mask.contains(EventMask::CREATE) {
                    Event::Folder(rel)
                } else if mask.contains(EventMask::CLOSE_WRITE) {
                    Event::Closed(rel)
                } else if mask.intersects(EventMask::CREATE | EventMask::MODIFY) {
                    Event::Writing(rel)
                } else {
                    continue;
                });
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }
}
