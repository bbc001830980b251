//! Password-protected ZIP attachments ("PPAP") kept for the recipients:
//! each one becomes a held item the console can unlock, in
//! `held/<date>/mail-<time>-<random>/` (written under a temporary name,
//! fsynced, then renamed into view), with a one-time link to the console's
//! password page. Only the SHA-256 of the link's token is kept.
//!
//! Files of a held item: `reason.json` (as the daemon writes for its
//! quarantine), [`ORIGINAL`] (the attachment as it came), [`MAIL`] (the
//! envelope, [`MailInfo`]) and [`LINK`] (the link's state, [`Link`]).

use mugai_core::{sha256_hex, Action, Code, Finding};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub const ORIGINAL: &str = "original.zip";
pub const MAIL: &str = "mail.json";
pub const LINK: &str = "link.json";
/// Prefix of the ids of held mail parts (the daemon's ids are digits).
pub const ID_PREFIX: &str = "mail-";
/// Encrypted attachments kept per message at most.
pub const MAX_PARTS: usize = 8;

/// Where a held part came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailInfo {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients: who the link went to, and who gets the
    /// sanitised contents.
    pub to: Vec<String>,
    pub message_id: Option<String>,
    /// The original message's name in the originals folder.
    pub original: Option<String>,
}

/// The state of a one-time link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// SHA-256 (hex) of the token; the token itself is only in the mail.
    pub token_sha256: String,
    /// Unix seconds.
    pub created: u64,
    pub expires: u64,
    pub max_tries: u32,
    /// Password attempts made.
    pub tries: u32,
    /// Unix seconds of the successful unlock; the link is spent.
    pub spent: Option<u64>,
}

/// The relay's settings for held parts.
#[derive(Debug, Clone)]
pub struct Hold {
    pub dir: PathBuf,
    /// The console's address as the recipients reach it, e.g.
    /// `https://mugai.example.lg.jp`.
    pub public_url: String,
    pub link_days: u32,
    pub max_tries: u32,
}

/// One part kept, for the notice and the audit record.
#[derive(Clone)]
pub struct Held {
    /// `date/id`.
    pub key: String,
    pub name: String,
    pub sha256: String,
    pub size: usize,
    /// Unix seconds.
    pub expires: u64,
    /// The one-time link, token included: for the recipients' mail only,
    /// never for a log.
    pub url: String,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("key", &self.key)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> io::Result<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

impl Hold {
    /// Keeps each part as a held item with a fresh link; returns them.
    pub fn keep(
        &self,
        info: &MailInfo,
        parts: Vec<(String, Vec<u8>)>,
        now: SystemTime,
    ) -> io::Result<Vec<Held>> {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let local = mugai_audit::clock::at(now);
        let stamp = mugai_audit::clock::rfc3339(local);
        let date = mugai_audit::clock::date(local);
        let compact: String = stamp
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == 'T')
            .take(15)
            .collect();
        let day = self.dir.join(&date);
        std::fs::create_dir_all(&day)?;
        let mut out = Vec::new();
        for (name, bytes) in parts.into_iter().take(MAX_PARTS) {
            let id = format!("{ID_PREFIX}{compact}-{}", random_hex(8)?);
            let token = random_hex(32)?;
            let sha = sha256_hex(&bytes);
            let expires = secs + u64::from(self.link_days) * 86_400;
            let reason = serde_json::json!({
                "path": name,
                "time": stamp,
                "size": bytes.len(),
                "sha256": sha,
                "type": "zip",
                "source": "mail",
                "reason": Finding::new(
                    Code::ArchiveEncrypted,
                    Action::Blocked,
                    "a password-protected ZIP attached to a mail",
                ),
                "findings": [],
            });
            let link = Link {
                token_sha256: sha256_hex(token.as_bytes()),
                created: secs,
                expires,
                max_tries: self.max_tries,
                tries: 0,
                spent: None,
            };
            let tmp = day.join(format!(".mugai-tmp-{id}"));
            std::fs::create_dir(&tmp)?;
            let written = (|| {
                write_synced(&tmp.join(ORIGINAL), &bytes)?;
                write_synced(&tmp.join(MAIL), &serde_json::to_vec_pretty(info)?)?;
                write_synced(&tmp.join(LINK), &serde_json::to_vec_pretty(&link)?)?;
                write_synced(
                    &tmp.join("reason.json"),
                    &serde_json::to_vec_pretty(&reason)?,
                )?;
                std::fs::File::open(&tmp)?.sync_all()?;
                std::fs::rename(&tmp, day.join(&id))?;
                std::fs::File::open(&day)?.sync_all()
            })();
            if let Err(e) = written {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
            out.push(Held {
                key: format!("{date}/{id}"),
                url: format!(
                    "{}/recipient/{date}/{id}/{token}",
                    self.public_url.trim_end_matches('/')
                ),
                name,
                sha256: sha,
                size: bytes.len(),
                expires,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_part_has_its_files_and_only_the_token_hash() {
        let d = tempfile::tempdir().unwrap();
        let hold = Hold {
            dir: d.path().into(),
            public_url: "https://mugai.example.jp/".into(),
            link_days: 7,
            max_tries: 5,
        };
        let info = MailInfo {
            from: "a@example.com".into(),
            to: vec!["b@example.jp".into()],
            message_id: None,
            original: None,
        };
        let now = SystemTime::now();
        let held = hold
            .keep(
                &info,
                vec![("x.zip".into(), b"PK\x03\x04zip".to_vec())],
                now,
            )
            .unwrap();
        assert_eq!(held.len(), 1);
        let h = &held[0];
        let token = h.url.rsplit('/').next().unwrap();
        assert_eq!(token.len(), 64);
        assert!(h
            .url
            .starts_with(&format!("https://mugai.example.jp/recipient/{}/", h.key)));
        let dir = d.path().join(&h.key);
        let link: Link = serde_json::from_slice(&std::fs::read(dir.join(LINK)).unwrap()).unwrap();
        assert_eq!(link.token_sha256, sha256_hex(token.as_bytes()));
        assert_eq!(link.expires - link.created, 7 * 86_400);
        for f in [ORIGINAL, MAIL, LINK, "reason.json"] {
            let text = std::fs::read(dir.join(f)).unwrap();
            assert!(
                !String::from_utf8_lossy(&text).contains(token),
                "{f} holds no token"
            );
        }
        assert!(!format!("{h:?}").contains(token));
    }
}
