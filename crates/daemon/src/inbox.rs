//! The inbox, reached only through directory handles.
//!
//! Uploaders own the inbox and may swap any subfolder for a symbolic link
//! at any moment. So nothing here resolves a path: the root is opened
//! once, every subfolder is opened with `openat(O_DIRECTORY|O_NOFOLLOW)`
//! relative to its parent's handle, entries are examined with
//! `statat(AT_SYMLINK_NOFOLLOW)` and moved with `renameat` relative to held
//! handles. A symbolic link met on the way ends the walk (`ELOOP` or
//! `ENOTDIR`); a link as the last component is moved as the link itself.
//! What is taken is checked by (device, inode) against what was seen.

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Identity of a filesystem object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// What an inbox entry is (never following a link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// FIFO, socket or device node.
    Special,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::File => "regular file",
            Kind::Dir => "folder",
            Kind::Symlink => "symbolic link",
            Kind::Special => "special file (FIFO, socket or device)",
        }
    }
}

/// An entry's metadata as `lstat` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub id: FileId,
    pub kind: Kind,
    pub size: u64,
    /// Modification time (seconds, nanoseconds).
    pub mtime: (i64, i64),
}

impl Meta {
    fn of(st: &rfs::Stat) -> Meta {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Special,
        };
        Meta {
            id: FileId {
                dev: st.st_dev,
                ino: st.st_ino,
            },
            kind,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: (st.st_mtime, st.st_mtime_nsec as i64),
        }
    }

    /// Seconds since the last modification (0 when in the future).
    pub fn age_secs(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        u64::try_from(now - self.mtime.0).unwrap_or(0)
    }
}

/// The object taken was not the one seen: it changed in between.
#[derive(Debug)]
pub struct Changed;

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the entry changed while it was being taken")
    }
}

impl std::error::Error for Changed {}

/// Whether an error is [`Changed`].
pub fn is_changed(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<Changed>())
}

fn changed() -> io::Error {
    io::Error::other(Changed)
}

const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Opens a directory of the daemon's own (followed as configured).
pub fn open_own_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

fn fsync(fd: impl AsFd) -> io::Result<()> {
    Ok(rfs::fsync(fd)?)
}

/// Fsyncs each folder once, however many of the handles name it.
pub fn sync_each(dirs: &[OwnedFd]) -> io::Result<()> {
    let mut seen = std::collections::HashSet::new();
    for d in dirs {
        if seen.insert(Meta::of(&rfs::fstat(d)?).id) {
            fsync(d)?;
        }
    }
    Ok(())
}

/// The inbox root, held open for the whole run.
#[derive(Debug)]
pub struct Inbox {
    root: OwnedFd,
    path: PathBuf,
}

fn names(rel: &Path) -> io::Result<Vec<&OsStr>> {
    rel.components()
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{}` is not a plain relative path", rel.display()),
            )),
        })
        .collect()
}

impl Inbox {
    pub fn open(path: &Path) -> io::Result<Inbox> {
        Ok(Inbox {
            root: open_own_dir(path)?,
            path: path.to_path_buf(),
        })
    }

    /// The path the root was opened at (for messages only).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle of the folder `rel` (empty: the root), each component
    /// opened relative to its parent without following links.
    pub fn open_dir(&self, rel: &Path) -> io::Result<OwnedFd> {
        let mut cur = rfs::openat(&self.root, ".", DIR, Mode::empty())?;
        for n in names(rel)? {
            cur = rfs::openat(&cur, n, DIR, Mode::empty())?;
        }
        Ok(cur)
    }

    /// The handle of `rel`'s folder and its last name.
    fn parent<'a>(&self, rel: &'a Path) -> io::Result<(OwnedFd, &'a OsStr)> {
        let n = names(rel)?;
        let Some((last, dirs)) = n.split_last() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the inbox root is not an entry",
            ));
        };
        let mut cur = rfs::openat(&self.root, ".", DIR, Mode::empty())?;
        for d in dirs {
            cur = rfs::openat(&cur, *d, DIR, Mode::empty())?;
        }
        Ok((cur, last))
    }

    /// `lstat` of an entry, reached through handles.
    pub fn stat(&self, rel: &Path) -> io::Result<Meta> {
        let (dir, name) = self.parent(rel)?;
        Ok(Meta::of(&rfs::statat(
            &dir,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?))
    }

    /// The entries of folder `rel` with their metadata.
    pub fn list(&self, rel: &Path) -> io::Result<Vec<(OsString, Meta)>> {
        let dir = self.open_dir(rel)?;
        let mut out = Vec::new();
        for e in rfs::Dir::read_from(&dir)? {
            let e = e?;
            let name = e.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let name = OsStr::from_bytes(name).to_os_string();
            // Gone meanwhile: not listed.
            if let Ok(st) = rfs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
                out.push((name, Meta::of(&st)));
            }
        }
        Ok(out)
    }

    /// Moves the regular file `rel`, which must still be the object
    /// `expect`, to `dest_dir/dest_name` (a directory of the daemon's own);
    /// across filesystems by copying from the verified handle. Fsyncs both
    /// directories. Errors: `NotFound` when gone, [`Changed`] when `rel`
    /// is now something else (nothing was moved).
    pub fn claim(
        &self,
        rel: &Path,
        expect: FileId,
        dest_dir: &Path,
        dest_name: &str,
        tag: &str,
    ) -> io::Result<()> {
        let dir = self.claim_unsynced(rel, expect, dest_dir, dest_name, tag)?;
        fsync(open_own_dir(dest_dir)?)?;
        fsync(&dir)?;
        Ok(())
    }

    /// [`Inbox::claim`] without the final fsyncs: the move is durable only
    /// once the caller has fsynced `dest_dir` and the returned handle of
    /// `rel`'s inbox folder (a batch syncs each folder once for all its
    /// files).
    pub fn claim_unsynced(
        &self,
        rel: &Path,
        expect: FileId,
        dest_dir: &Path,
        dest_name: &str,
        tag: &str,
    ) -> io::Result<OwnedFd> {
        let (dir, name) = self.parent(rel)?;
        // O_PATH: the object is identified without opening it for I/O
        // (a device node is never opened).
        let held = rfs::openat(
            &dir,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let seen = Meta::of(&rfs::fstat(&held)?);
        if seen.kind != Kind::File || seen.id != expect {
            return Err(changed());
        }
        let dest = open_own_dir(dest_dir)?;
        match rfs::renameat(&dir, name, &dest, dest_name) {
            Ok(()) => {
                let got = Meta::of(&rfs::statat(&dest, dest_name, AtFlags::SYMLINK_NOFOLLOW)?);
                if got.id != expect {
                    // Swapped inside the same inbox folder between the check
                    // and the rename: what was moved still came from the
                    // inbox, and the job treats it as whatever it is.
                    tracing::warn!(
                        path = %rel.display(),
                        "the entry was replaced while being taken; handling what was moved ({})",
                        got.kind.describe()
                    );
                }
            }
            Err(rustix::io::Errno::XDEV) => {
                let src = rfs::openat(
                    &dir,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                let st = Meta::of(&rfs::fstat(&src)?);
                if st.id != expect || st.kind != Kind::File {
                    return Err(changed());
                }
                let tmp = format!("{}{tag}", crate::place::TMP_PREFIX);
                let out = rfs::openat(
                    &dest,
                    tmp.as_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::TRUNC
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )?;
                let mut from = std::fs::File::from(src);
                let mut to = std::fs::File::from(out);
                io::copy(&mut from, &mut to)?;
                to.sync_all()?;
                rfs::renameat(&dest, tmp.as_str(), &dest, dest_name)?;
                fsync(&dest)?;
                // Removed only if it is still the object copied.
                match rfs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(now) if Meta::of(&now).id == expect => {
                        rfs::unlinkat(&dir, name, AtFlags::empty())?
                    }
                    _ => {
                        tracing::warn!(path = %rel.display(), "the entry was replaced while being copied; the new one is left in the inbox")
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(dir)
    }

    /// Moves any entry `rel` (which must still be `expect`) as it is — a
    /// link as the link, a folder with its contents — into `dest_dir`
    /// under `dest_name`. Across filesystems only regular files are
    /// copied; other kinds are removed after being recorded by the caller.
    pub fn move_out(
        &self,
        rel: &Path,
        expect: FileId,
        dest_dir: &Path,
        dest_name: &str,
        tag: &str,
    ) -> io::Result<()> {
        let (dir, name) = self.parent(rel)?;
        let now = Meta::of(&rfs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?);
        if now.id != expect {
            return Err(changed());
        }
        if now.kind == Kind::File {
            return self.claim(rel, expect, dest_dir, dest_name, tag);
        }
        let dest = open_own_dir(dest_dir)?;
        match rfs::renameat(&dir, name, &dest, dest_name) {
            Ok(()) => {}
            Err(rustix::io::Errno::XDEV) if now.kind != Kind::Dir => {
                rfs::unlinkat(&dir, name, AtFlags::empty())?;
            }
            Err(e) => return Err(e.into()),
        }
        fsync(&dest)?;
        fsync(&dir)?;
        Ok(())
    }

    /// Removes the regular file `rel` if its content has the SHA-256 `sha`
    /// (a copy left behind by a claim across filesystems).
    pub fn remove_if_content(&self, rel: &Path, sha: &str) -> io::Result<bool> {
        let (dir, name) = match self.parent(rel) {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let fd = match rfs::openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(_) => return Ok(false),
        };
        let m = Meta::of(&rfs::fstat(&fd)?);
        if m.kind != Kind::File {
            return Ok(false);
        }
        let mut buf = Vec::new();
        io::Read::read_to_end(&mut std::fs::File::from(fd), &mut buf)?;
        if mugai_core::sha256_hex(&buf) != sha {
            return Ok(false);
        }
        match rfs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(now) if Meta::of(&now).id == m.id => {
                rfs::unlinkat(&dir, name, AtFlags::empty())?;
                fsync(&dir)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Removes the folder `rel` (never the root) if it is empty.
    pub fn remove_empty_dir(&self, rel: &Path) -> io::Result<bool> {
        let (dir, name) = self.parent(rel)?;
        match rfs::unlinkat(&dir, name, AtFlags::REMOVEDIR) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let inbox = d.path().join("inbox");
        let victim = d.path().join("victim");
        let work = d.path().join("work");
        for p in [&inbox, &victim, &work] {
            std::fs::create_dir(p).unwrap();
        }
        std::fs::write(victim.join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(&victim, inbox.join("sub")).unwrap();
        std::os::unix::fs::symlink(victim.join("secret.txt"), inbox.join("link.txt")).unwrap();
        let i = Inbox::open(&inbox).unwrap();
        assert!(i.list(Path::new("sub")).is_err());
        assert!(i.stat(Path::new("sub/secret.txt")).is_err());
        assert_eq!(i.stat(Path::new("sub")).unwrap().kind, Kind::Symlink);
        let link = i.stat(Path::new("link.txt")).unwrap();
        assert_eq!(link.kind, Kind::Symlink);
        let target = std::fs::metadata(victim.join("secret.txt")).unwrap();
        let tid = FileId {
            dev: std::os::unix::fs::MetadataExt::dev(&target),
            ino: std::os::unix::fs::MetadataExt::ino(&target),
        };
        // Neither through the folder link nor as a file link.
        assert!(i
            .claim(Path::new("sub/secret.txt"), tid, &work, "input", "t")
            .is_err());
        let e = i
            .claim(Path::new("link.txt"), link.id, &work, "input", "t")
            .unwrap_err();
        assert!(is_changed(&e), "{e}");
        assert!(victim.join("secret.txt").exists());
        assert!(std::fs::read_dir(&work).unwrap().next().is_none());
        // The link itself can be moved out, the target stays.
        i.move_out(Path::new("link.txt"), link.id, &work, "link", "t")
            .unwrap();
        assert!(work.join("link").symlink_metadata().unwrap().is_symlink());
        assert_eq!(
            std::fs::read_to_string(victim.join("secret.txt")).unwrap(),
            "secret"
        );
    }

    #[test]
    fn a_file_is_claimed_only_if_it_is_the_one_seen() {
        let d = tempfile::tempdir().unwrap();
        let inbox = d.path().join("inbox");
        let work = d.path().join("work");
        std::fs::create_dir_all(inbox.join("a/b")).unwrap();
        std::fs::create_dir(&work).unwrap();
        std::fs::write(inbox.join("a/b/f.txt"), "one").unwrap();
        let i = Inbox::open(&inbox).unwrap();
        let seen = i.stat(Path::new("a/b/f.txt")).unwrap();
        assert_eq!((seen.kind, seen.size), (Kind::File, 3));
        // Replaced by another file under the same name.
        std::fs::remove_file(inbox.join("a/b/f.txt")).unwrap();
        std::fs::write(inbox.join("a/b/g.txt"), "two").unwrap();
        std::fs::rename(inbox.join("a/b/g.txt"), inbox.join("a/b/f.txt")).unwrap();
        let now = i.stat(Path::new("a/b/f.txt")).unwrap();
        if now.id != seen.id {
            let e = i
                .claim(Path::new("a/b/f.txt"), seen.id, &work, "input", "t")
                .unwrap_err();
            assert!(is_changed(&e));
        }
        i.claim(Path::new("a/b/f.txt"), now.id, &work, "input", "t")
            .unwrap();
        assert_eq!(std::fs::read_to_string(work.join("input")).unwrap(), "two");
        assert!(!i.remove_empty_dir(Path::new("a")).unwrap());
        assert!(i.remove_empty_dir(Path::new("a/b")).unwrap());
        assert!(i.remove_empty_dir(Path::new("a")).unwrap());
        assert!(i.list(Path::new("")).unwrap().is_empty());
        assert!(i.remove_empty_dir(Path::new("")).is_err());
    }
}
