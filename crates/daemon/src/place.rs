//! Durable file placement: temporary name, fsync, link without
//! overwriting, directory fsync.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Prefix of temporary files; hidden, and removed on recovery.
pub const TMP_PREFIX: &str = ".mugai-tmp-";

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes a file or folder of the clean tree readable by its group (the
/// LGWAN-side reader's `mugai-lgwan`, inherited from the setgid clean
/// folder), whatever the service's umask: files 0640, folders 0750 with
/// the setgid bit kept so that the group passes on.
pub fn share_with_reader(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::symlink_metadata(path)?;
    let mode = if m.is_dir() {
        (m.permissions().mode() & 0o2000) | 0o750
    } else {
        0o640
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Creates `root/parts...` (folders of the clean tree, shared with the
/// reader's group), fsyncing each parent whose entry was created.
pub fn ensure_dir(root: &Path, parts: &[String]) -> io::Result<PathBuf> {
    let mut cur = root.to_path_buf();
    for p in parts {
        let next = cur.join(p);
        match std::fs::create_dir(&next) {
            Ok(()) => {
                share_with_reader(&next)?;
                sync_dir(&cur)?
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        cur = next;
    }
    Ok(cur)
}

/// Writes `bytes` to `path` and fsyncs it (truncating any earlier file).
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes `bytes` to `dir/name` atomically, replacing it (for files that
/// only this job writes, like `reason.json`).
pub fn replace_file(dir: &Path, name: &str, bytes: &[u8], tag: &str) -> io::Result<()> {
    replace_file_unsynced(dir, name, bytes, tag)?;
    sync_dir(dir)
}

/// [`replace_file`] without fsyncing `dir` (the caller does).
pub fn replace_file_unsynced(dir: &Path, name: &str, bytes: &[u8], tag: &str) -> io::Result<()> {
    let tmp = dir.join(format!("{TMP_PREFIX}{tag}"));
    write_synced(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// `name`, `name (1).ext`, `name (2).ext`, ...
pub fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_string();
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() && ext.len() <= 10 => {
            format!("{stem} ({n}).{ext}")
        }
        _ => format!("{name} ({n})"),
    }
}

/// The first of `name`, `name (1).ext`, ... that is free in `dir` and not
/// in `reserved` (names already chosen for other files of a batch, whose
/// links are not made yet); it is added to `reserved`.
pub fn free_name(
    dir: &Path,
    name: &str,
    reserved: &mut std::collections::HashSet<PathBuf>,
) -> io::Result<String> {
    for n in 0..=100_000u32 {
        let candidate = numbered(name, n);
        let dest = dir.join(&candidate);
        if !reserved.contains(&dest) && dest.symlink_metadata().is_err() {
            reserved.insert(dest);
            return Ok(candidate);
        }
    }
    Err(io::Error::other(format!(
        "no free name for `{name}` in {}",
        dir.display()
    )))
}

/// Fsyncs each directory once.
pub fn sync_dirs<'a>(dirs: impl IntoIterator<Item = &'a PathBuf>) -> io::Result<()> {
    let mut seen = std::collections::HashSet::new();
    for d in dirs {
        if seen.insert(d) {
            sync_dir(d)?;
        }
    }
    Ok(())
}

/// Links the already-synced temporary file `tmp` into `dir` under `name`
/// or the first free numbered variant, never replacing anything. `announce`
/// is called with the chosen name before the link is made (the journal
/// entry); if the name is taken meanwhile, the next one is announced.
pub fn link_new(
    tmp: &Path,
    dir: &Path,
    name: &str,
    mut announce: impl FnMut(&str) -> io::Result<()>,
) -> io::Result<String> {
    let mut n = 0u32;
    loop {
        let candidate = numbered(name, n);
        let dest = dir.join(&candidate);
        if dest.symlink_metadata().is_err() {
            announce(&candidate)?;
            match std::fs::hard_link(tmp, &dest) {
                Ok(()) => {
                    std::fs::remove_file(tmp)?;
                    sync_dir(dir)?;
                    return Ok(candidate);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        n += 1;
        if n > 100_000 {
            return Err(io::Error::other(format!(
                "no free name for `{name}` in {}",
                dir.display()
            )));
        }
    }
}

/// Moves `src` to `dir/name` (replacing a partial copy from an earlier
/// attempt), across filesystems if need be; fsyncs both directories.
pub fn move_file(src: &Path, dir: &Path, name: &str, tag: &str) -> io::Result<()> {
    move_file_unsynced(src, dir, name, tag)?;
    sync_dir(dir)?;
    if let Some(parent) = src.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// [`move_file`] without the final fsyncs, which the caller makes (once
/// per directory for a batch of files).
pub fn move_file_unsynced(src: &Path, dir: &Path, name: &str, tag: &str) -> io::Result<()> {
    let dest = dir.join(name);
    match std::fs::rename(src, &dest) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
            let tmp = dir.join(format!("{TMP_PREFIX}{tag}"));
            let _ = std::fs::remove_file(&tmp);
            if src.symlink_metadata()?.is_symlink() {
                // Moved as the link it is, never as what it points to.
                std::os::unix::fs::symlink(std::fs::read_link(src)?, &tmp)?;
            } else {
                let mut from = std::fs::File::from(rustix::fs::open(
                    src,
                    rustix::fs::OFlags::RDONLY
                        | rustix::fs::OFlags::NOFOLLOW
                        | rustix::fs::OFlags::NONBLOCK
                        | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )?);
                let mut to = File::create(&tmp)?;
                io::copy(&mut from, &mut to)?;
                to.sync_all()?;
            }
            std::fs::rename(&tmp, &dest)?;
            sync_dir(dir)?;
            std::fs::remove_file(src)?;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names() {
        assert_eq!(numbered("a.txt", 0), "a.txt");
        assert_eq!(numbered("a.txt", 2), "a (2).txt");
        assert_eq!(numbered("README", 1), "README (1)");
        assert_eq!(numbered(".x", 1), ".x (1)");
        assert_eq!(numbered("a.tar.gz", 1), "a.tar (1).gz");
    }

    #[test]
    fn link_never_overwrites() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.txt"), "first").unwrap();
        std::fs::write(d.path().join("a (1).txt"), "second").unwrap();
        let tmp = d.path().join(".mugai-tmp-x");
        std::fs::write(&tmp, "third").unwrap();
        let mut announced = Vec::new();
        let name = link_new(&tmp, d.path(), "a.txt", |n| {
            announced.push(n.to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(name, "a (2).txt");
        assert_eq!(announced, vec!["a (2).txt"]);
        assert_eq!(
            std::fs::read_to_string(d.path().join("a.txt")).unwrap(),
            "first"
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("a (2).txt")).unwrap(),
            "third"
        );
        assert!(!tmp.exists());
    }
}
