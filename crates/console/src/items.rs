//! Held items: what the daemon left in its quarantine folder,
//! `quarantine/<date>/<id>/` with `reason.json` and the original beside it,
//! and the password-protected ZIPs the mail relay kept
//! (`held/<date>/mail-.../`, see [`mugai_relay::held`]). Ids are checked
//! against their form before any path is built.

use mugai_core::{FileType, Finding, Outcome};
use mugai_relay::held::{self, Link, MailInfo};
use serde::Deserialize;
use std::io::Read;
use std::path::PathBuf;

/// A held item's key: its day and the daemon's job id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ItemKey {
    pub date: String,
    pub id: String,
}

/// `YYYY-MM-DD`.
pub fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// The daemon's job ids: ASCII letters, digits and `-`, not starting with
/// `-`, at most 64 (so never `.`, `..`, `/` or anything a path would read).
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl ItemKey {
    pub fn parse(date: &str, id: &str) -> Option<ItemKey> {
        (valid_date(date) && valid_id(id)).then(|| ItemKey {
            date: date.into(),
            id: id.into(),
        })
    }

    pub fn as_string(&self) -> String {
        format!("{}/{}", self.date, self.id)
    }
}

#[derive(Debug, Deserialize)]
struct ReasonFile {
    #[serde(default)]
    path: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    sha256: String,
    #[serde(default, rename = "type")]
    file_type: String,
    #[serde(default)]
    reason: Option<Finding>,
    #[serde(default)]
    findings: Vec<Finding>,
}

/// One held item as the console shows it.
#[derive(Debug, Clone)]
pub struct Item {
    pub key: ItemKey,
    /// Where it came from: the path in the inbox.
    pub path: String,
    pub time: String,
    pub size: u64,
    pub sha256: String,
    pub file_type: String,
    pub reason: Option<Finding>,
    pub findings: Vec<Finding>,
    /// `share` (the transfer-share daemon) or `mail` (the relay).
    pub source: &'static str,
    /// For a mail part: its envelope.
    pub mail: Option<MailInfo>,
    /// The original's file name in the item's folder, if it is still there.
    pub original: Option<String>,
}

impl Item {
    /// The codes of the reason and the findings.
    pub fn codes(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self
            .reason
            .iter()
            .chain(self.findings.iter())
            .map(|f| f.code.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The file name the original arrived under.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The outcome the daemon recorded, for re-rendering its notice.
    pub fn outcome(&self) -> Option<Outcome> {
        let reason = self.reason.clone()?;
        Some(Outcome::blocked(
            FileType::from_name(&self.file_type).unwrap_or(FileType::Unknown),
            self.sha256.clone(),
            self.findings.clone(),
            reason,
        ))
    }
}

/// List filters; empty fields match everything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
    /// A reason or finding code, e.g. `archive.encrypted`.
    pub code: String,
    /// The detected type, e.g. `zip`.
    #[serde(rename = "type")]
    pub file_type: String,
    /// `share` or `mail`.
    pub source: String,
    /// A mail sender (only mail items have one).
    pub sender: String,
}

impl Filter {
    pub fn matches(&self, it: &Item) -> bool {
        (self.from.is_empty() || it.key.date.as_str() >= self.from.as_str())
            && (self.to.is_empty() || it.key.date.as_str() <= self.to.as_str())
            && (self.code.is_empty() || it.codes().contains(&self.code.as_str()))
            && (self.file_type.is_empty() || it.file_type == self.file_type)
            && (self.source.is_empty() || it.source == self.source)
            && (self.sender.is_empty()
                || it
                    .mail
                    .as_ref()
                    .is_some_and(|m| m.from.to_lowercase().contains(&self.sender.to_lowercase())))
    }
}

/// The quarantine folder, and the relay's folder of held mail parts.
#[derive(Debug, Clone)]
pub struct Quarantine {
    pub root: PathBuf,
    pub mail: Option<PathBuf>,
}

/// Whether `name` in an item's folder is one of the item's own files
/// rather than the original.
fn bookkeeping(name: &str) -> bool {
    name == "reason.json"
        || name == held::MAIL
        || name == held::LINK
        || name.starts_with(mugai_daemon::place::TMP_PREFIX)
}

/// Largest `reason.json` read.
const MAX_REASON: u64 = 4 << 20;

/// A small JSON file of an item, never through a link.
fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Option<T> {
    if !std::fs::symlink_metadata(path).ok()?.is_file() {
        return None;
    }
    let mut text = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_REASON)
        .read_to_end(&mut text)
        .ok()?;
    serde_json::from_slice(&text).ok()
}

impl Quarantine {
    /// The folder of `key`; `None` for a mail part without a mail folder.
    fn dir(&self, key: &ItemKey) -> Option<PathBuf> {
        let root = if key.id.starts_with(held::ID_PREFIX) {
            self.mail.as_ref()?
        } else {
            &self.root
        };
        Some(root.join(&key.date).join(&key.id))
    }

    /// Loads one item; `None` if it is not there or not an item.
    pub fn get(&self, key: &ItemKey) -> Option<Item> {
        let dir = self.dir(key)?;
        if !std::fs::symlink_metadata(&dir).ok()?.is_dir() {
            return None;
        }
        let rp = dir.join("reason.json");
        if !std::fs::symlink_metadata(&rp).ok()?.is_file() {
            return None;
        }
        let mut text = Vec::new();
        std::fs::File::open(&rp)
            .ok()?
            .take(MAX_REASON)
            .read_to_end(&mut text)
            .ok()?;
        let r: ReasonFile = serde_json::from_slice(&text).ok()?;
        let original = std::fs::read_dir(&dir).ok()?.flatten().find_map(|e| {
            let n = e.file_name().to_str()?.to_string();
            let is_file = e.file_type().ok()?.is_file();
            (is_file && !bookkeeping(&n)).then_some(n)
        });
        let mail: Option<MailInfo> = if key.id.starts_with(held::ID_PREFIX) {
            Some(read_json(&dir.join(held::MAIL))?)
        } else {
            None
        };
        Some(Item {
            key: key.clone(),
            path: r.path,
            time: r.time,
            size: r.size,
            sha256: r.sha256,
            file_type: r.file_type,
            reason: r.reason,
            findings: r.findings,
            source: if mail.is_some() { "mail" } else { "share" },
            mail,
            original,
        })
    }

    /// The one-time link of a held mail part.
    pub fn link(&self, it: &Item) -> Option<Link> {
        it.mail.as_ref()?;
        read_json(&self.dir(&it.key)?.join(held::LINK))
    }

    /// Replaces the link's state (temporary file, fsync, rename).
    pub fn save_link(&self, it: &Item, link: &Link) -> std::io::Result<()> {
        let dir = self
            .dir(&it.key)
            .ok_or_else(|| std::io::Error::other("no folder of held mail"))?;
        let bytes = serde_json::to_vec_pretty(link).map_err(std::io::Error::other)?;
        mugai_daemon::place::replace_file(&dir, held::LINK, &bytes, "console-link")
    }

    /// Every item, newest first.
    pub fn list(&self) -> Vec<Item> {
        let mut keys = Vec::new();
        let roots = std::iter::once(&self.root).chain(self.mail.as_ref());
        for day in roots.flat_map(std::fs::read_dir).flatten().flatten() {
            let Some(date) = day.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !valid_date(&date) {
                continue;
            }
            for e in std::fs::read_dir(day.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if let Some(k) = e
                    .file_name()
                    .to_str()
                    .and_then(|id| ItemKey::parse(&date, id))
                {
                    keys.push(k);
                }
            }
        }
        keys.sort_by(|a, b| b.cmp(a));
        keys.dedup();
        keys.iter().filter_map(|k| self.get(k)).collect()
    }

    /// The original's bytes, at most `max`; never through a link.
    pub fn original_bytes(&self, it: &Item, max: u64) -> std::io::Result<Vec<u8>> {
        let name = it
            .original
            .as_deref()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "original gone"))?;
        let path = self
            .dir(&it.key)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "original gone"))?
            .join(name);
        let f = std::fs::File::from(rustix::fs::open(
            &path,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?);
        if !f.metadata()?.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let mut buf = Vec::new();
        f.take(max.saturating_add(1)).read_to_end(&mut buf)?;
        if buf.len() as u64 > max {
            return Err(std::io::Error::other(format!(
                "larger than the limit of {max} bytes"
            )));
        }
        Ok(buf)
    }

    /// Removes the items of days before `keep_from`; returns their keys.
    pub fn expire(&self, keep_from: &str) -> std::io::Result<Vec<ItemKey>> {
        let mut gone = Vec::new();
        for it in self.list() {
            if it.key.date.as_str() < keep_from {
                if let Some(dir) = self.dir(&it.key) {
                    std::fs::remove_dir_all(dir)?;
                }
                gone.push(it.key);
            }
        }
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_outside_the_daemon_form_are_refused() {
        assert!(ItemKey::parse("2026-12-01", "20261201T101010123-000001").is_some());
        for (d, i) in [
            ("2026-12-01", ".."),
            ("2026-12-01", "../x"),
            ("2026-12-01", "a/b"),
            ("..", "x"),
            ("2026-12-01", ""),
            ("2026-12-01", "-x"),
            ("2026-1-01", "x"),
            ("2026-12-01", "x%2F"),
        ] {
            assert!(ItemKey::parse(d, i).is_none(), "{d} {i}");
        }
    }
}
