//! Release requests and their decisions, kept in one JSON file in the
//! console's state folder (replaced atomically on every change).

use mugai_core::config::BlockedMember;
use mugai_core::{FileType, Policy};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The named policy change a release is sanitised under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Override {
    /// The policy as configured.
    None,
    /// One more type allowed.
    AllowType(FileType),
    /// Blocked archive members dropped instead of blocking the archive.
    DropBlockedMembers,
}

impl Override {
    pub fn parse(s: &str) -> Option<Override> {
        match s {
            "none" => Some(Override::None),
            "drop-blocked-members" => Some(Override::DropBlockedMembers),
            _ => {
                let t = s.strip_prefix("allow-type:")?;
                FileType::from_name(t)
                    .filter(|t| {
                        !t.is_executable() && !matches!(t, FileType::Unknown | FileType::TestHook)
                    })
                    .map(Override::AllowType)
            }
        }
    }

    pub fn name(&self) -> String {
        match self {
            Override::None => "none".into(),
            Override::AllowType(t) => format!("allow-type:{}", t.name()),
            Override::DropBlockedMembers => "drop-blocked-members".into(),
        }
    }

    /// The policy with this change.
    pub fn apply(&self, policy: &Policy) -> Policy {
        let mut p = policy.clone();
        match self {
            Override::None => {}
            Override::AllowType(t) => {
                if !p.types.allow.contains(t) {
                    p.types.allow.push(*t);
                }
            }
            Override::DropBlockedMembers => p.archive.blocked_member = BlockedMember::Drop,
        }
        p
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Rejected,
    /// Approved, sanitised and delivered.
    Released,
    /// Approved, but sanitising under the override still blocked it.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Rejected => "rejected",
            Status::Released => "released",
            Status::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: String,
    /// `date/id` of the held item.
    pub item: String,
    pub requested_by: String,
    pub reason: String,
    /// [`Override::name`].
    pub policy_override: String,
    pub time: String,
    pub status: Status,
    pub decided_by: Option<String>,
    pub decided_time: Option<String>,
    /// Where the sanitised file went, or why it failed.
    pub result: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: not a requests file: {1}")]
    Parse(PathBuf, String),
}

/// The requests file.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    pub requests: Vec<Request>,
}

const FILE: &str = "requests.json";

impl Store {
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(dir.into(), e))?;
        let path = dir.join(FILE);
        let requests = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| StoreError::Parse(path.clone(), e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError::Io(path, e)),
        };
        Ok(Store {
            dir: dir.into(),
            requests,
        })
    }

    /// Writes the file (temporary name, fsync, rename, folder fsync).
    pub fn save(&self) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(&self.requests)
            .map_err(|e| StoreError::Parse(self.dir.join(FILE), e.to_string()))?;
        mugai_daemon::place::replace_file(&self.dir, FILE, &bytes, "console-requests")
            .map_err(|e| StoreError::Io(self.dir.join(FILE), e))
    }

    pub fn get(&self, id: &str) -> Option<&Request> {
        self.requests.iter().find(|r| r.id == id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Request> {
        self.requests.iter_mut().find(|r| r.id == id)
    }

    pub fn for_item(&self, item: &str) -> Vec<&Request> {
        self.requests.iter().filter(|r| r.item == item).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_and_apply() {
        let p = Policy::default();
        let o = Override::parse("allow-type:csv").unwrap();
        assert_eq!(o.name(), "allow-type:csv");
        let mut narrow = p.clone();
        narrow.types.allow.retain(|t| *t != FileType::Csv);
        assert!(o.apply(&narrow).types.allow.contains(&FileType::Csv));
        assert!(Override::parse("allow-type:exe").is_none());
        assert!(Override::parse("allow-type:nonsense").is_none());
        assert_eq!(
            Override::parse("drop-blocked-members")
                .unwrap()
                .apply(&p)
                .archive
                .blocked_member,
            BlockedMember::Drop
        );
    }
}
