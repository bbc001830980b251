//! The final placement of one job, keyed by its id, created only if
//! absent: a job delivered twice (redelivery after a node stopped, or a
//! node past its ack wait) still yields exactly one output or one
//! quarantine entry.
//!
//! Layout (both folders shared by every node, e.g. one NFS export):
//! - rebuilt: `<clean>/<job id>/<safe output name>`;
//! - blocked: `<quarantine>/<job id>/<safe input name>` (the original, when
//!   the object store still had it) and `<quarantine>/<job id>/reason.json`.
//!
//! The file that decides is linked from a synced temporary name with
//! `link(2)`, which never replaces: the output for a rebuilt file,
//! `reason.json` for a blocked one. Whoever's link succeeds created the
//! placement ([`Placed::Created`]); everyone else finds it
//! ([`Placed::Existing`]). Before placing, both trees are checked for the
//! id, so that a job rebuilt once and blocked once (a limit hit under load)
//! does not end in both.

use mugai_daemon::place::{self, TMP_PREFIX};
use std::io;
use std::path::{Path, PathBuf};

/// What [`place_clean`] or [`place_quarantine`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// This call made the placement.
    Created(PathBuf),
    /// It was there already (an earlier delivery of the same job).
    Existing(PathBuf),
}

impl Placed {
    pub fn path(&self) -> &Path {
        match self {
            Placed::Created(p) | Placed::Existing(p) => p,
        }
    }
    pub fn created(&self) -> bool {
        matches!(self, Placed::Created(_))
    }
}

/// The name of the file in a quarantine entry that decides it.
pub const REASON: &str = "reason.json";

/// The placement of job `id`, if any: the clean output file, or the
/// quarantine folder holding `reason.json`.
pub fn existing(clean: &Path, quarantine: &Path, id: &str) -> io::Result<Option<PathBuf>> {
    let q = quarantine.join(id);
    if q.join(REASON).is_file() {
        return Ok(Some(q));
    }
    let c = clean.join(id);
    match std::fs::read_dir(&c) {
        Ok(entries) => {
            for e in entries {
                let e = e?;
                let name = e.file_name();
                let name = name.to_string_lossy();
                if !name.starts_with(TMP_PREFIX) && e.file_type()?.is_file() {
                    return Ok(Some(e.path()));
                }
            }
            Ok(None)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to a temporary name in `dir`, synced; `tag` keeps
/// concurrent writers apart.
fn temp(dir: &Path, bytes: &[u8], tag: &str) -> io::Result<PathBuf> {
    let tmp = dir.join(format!("{TMP_PREFIX}{tag}"));
    place::write_synced(&tmp, bytes)?;
    Ok(tmp)
}

/// Links `tmp` to `dest` unless `dest` exists; removes `tmp` either way.
fn link_once(tmp: &Path, dest: &Path) -> io::Result<bool> {
    let made = match std::fs::hard_link(tmp, dest) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(e) => {
            let _ = std::fs::remove_file(tmp);
            return Err(e);
        }
    };
    std::fs::remove_file(tmp)?;
    if let Some(dir) = dest.parent() {
        place::sync_dir(dir)?;
    }
    Ok(made)
}

/// Places a rebuilt file as `<clean>/<id>/<name>` unless job `id` is
/// placed already. `name` must be a safe single component.
pub fn place_clean(
    clean: &Path,
    quarantine: &Path,
    id: &str,
    name: &str,
    bytes: &[u8],
    tag: &str,
) -> io::Result<Placed> {
    if let Some(p) = existing(clean, quarantine, id)? {
        return Ok(Placed::Existing(p));
    }
    let dir = place::ensure_dir(clean, &[id.to_string()])?;
    let tmp = temp(&dir, bytes, tag)?;
    place::share_with_reader(&tmp)?;
    let dest = dir.join(name);
    if link_once(&tmp, &dest)? {
        Ok(Placed::Created(dest))
    } else {
        Ok(Placed::Existing(dest))
    }
}

/// Places a quarantine entry `<quarantine>/<id>/` (the original as `name`
/// when given, then `reason.json`) unless job `id` is placed already.
pub fn place_quarantine(
    clean: &Path,
    quarantine: &Path,
    id: &str,
    original: Option<(&str, &[u8])>,
    reason: &[u8],
    tag: &str,
) -> io::Result<Placed> {
    if let Some(p) = existing(clean, quarantine, id)? {
        return Ok(Placed::Existing(p));
    }
    let dir = quarantine.join(id);
    match std::fs::create_dir(&dir) {
        Ok(()) => place::sync_dir(quarantine)?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    if let Some((name, bytes)) = original {
        let tmp = temp(&dir, bytes, &format!("{tag}-original"))?;
        // An earlier delivery may have linked the same original already.
        link_once(&tmp, &dir.join(name))?;
    }
    let tmp = temp(&dir, reason, tag)?;
    if link_once(&tmp, &dir.join(REASON))? {
        Ok(Placed::Created(dir))
    } else {
        Ok(Placed::Existing(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_placed_once_whatever_comes_second() {
        let d = tempfile::tempdir().unwrap();
        let (c, q) = (d.path().join("clean"), d.path().join("q"));
        std::fs::create_dir_all(&c).unwrap();
        std::fs::create_dir_all(&q).unwrap();
        let id = "0123456789abcdef0123456789abcdef";
        let first = place_clean(&c, &q, id, "a.txt", b"one", "t1").unwrap();
        assert!(first.created());
        let again = place_clean(&c, &q, id, "a.txt", b"two", "t2").unwrap();
        assert_eq!(again, Placed::Existing(first.path().to_path_buf()));
        let blocked = place_quarantine(&c, &q, id, Some(("a.txt", b"x")), b"{}", "t3").unwrap();
        assert!(!blocked.created());
        assert_eq!(std::fs::read(first.path()).unwrap(), b"one");
        assert!(!q.join(id).exists());
        let names: Vec<_> = std::fs::read_dir(c.join(id)).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left");

        let id2 = "fedcba9876543210fedcba9876543210";
        let qd = place_quarantine(&c, &q, id2, Some(("b.exe", b"MZ")), b"{}", "t4").unwrap();
        assert!(qd.created());
        let qd2 = place_quarantine(&c, &q, id2, Some(("b.exe", b"MZ")), b"{}", "t5").unwrap();
        assert!(!qd2.created());
        assert!(!place_clean(&c, &q, id2, "b.txt", b"x", "t6")
            .unwrap()
            .created());
        assert_eq!(std::fs::read_dir(q.join(id2)).unwrap().count(), 2);
    }
}
