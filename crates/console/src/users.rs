//! The accounts file: names, roles and argon2id hashes, written durably
//! with mode 0600.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Views held items, requests releases, enters passwords.
    Operator,
    /// Approves or rejects release requests.
    Approver,
    /// Reads only: items and the audit log.
    Auditor,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "operator" => Some(Role::Operator),
            "approver" => Some(Role::Approver),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// PHC string, `$argon2id$...`.
    pub hash: String,
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    #[serde(default, rename = "user")]
    pub users: Vec<User>,
}

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: not an accounts file: {1}")]
    Parse(PathBuf, String),
    #[error("`{0}` is not a valid account name (letters, digits, `.`, `_`, `-`; at most 64)")]
    BadName(String),
    #[error("account `{0}` exists already")]
    Exists(String),
    #[error("no account `{0}`")]
    Missing(String),
    #[error("the password must be 8 to 1024 characters")]
    BadPassword,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Writes `path` durably and readable by its owner only: a temporary file
/// with mode 0600, fsync, rename over the old one, fsync of the folder.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path))
        .and_then(|()| std::fs::File::open(&dir)?.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Account names: short, plain ASCII.
pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub fn hash_password(password: &str) -> Result<String, UsersError> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(UsersError::BadPassword);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| UsersError::Hash(e.to_string()))
}

/// A hash of a password nobody has, checked when the account is unknown so
/// that a missing account takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        Argon2::default()
            .hash_password(b"decoy password that matches nothing")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).ok().is_some_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

impl Users {
    /// Reads the file; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Users::default()),
            Err(e) => return Err(UsersError::Io(path.into(), e)),
        };
        toml::from_str(&text)
            .map_err(|e| UsersError::Parse(path.into(), e.message().replace('\n', " ")))
    }

    /// Writes the file durably with mode 0600 ([`write_private`]).
    pub fn save(&self, path: &Path) -> Result<(), UsersError> {
        let text =
            toml::to_string(self).map_err(|e| UsersError::Parse(path.into(), e.to_string()))?;
        write_private(path, text.as_bytes()).map_err(|e| UsersError::Io(path.into(), e))
    }

    pub fn get(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    pub fn add(&mut self, name: &str, role: Role, password: &str) -> Result<(), UsersError> {
        if !valid_name(name) {
            return Err(UsersError::BadName(name.into()));
        }
        if self.get(name).is_some() {
            return Err(UsersError::Exists(name.into()));
        }
        let hash = hash_password(password)?;
        self.users.push(User {
            name: name.into(),
            role,
            hash,
            disabled: false,
        });
        Ok(())
    }

    pub fn passwd(&mut self, name: &str, password: &str) -> Result<(), UsersError> {
        let hash = hash_password(password)?;
        let u = self
            .users
            .iter_mut()
            .find(|u| u.name == name)
            .ok_or_else(|| UsersError::Missing(name.into()))?;
        u.hash = hash;
        Ok(())
    }

    pub fn disable(&mut self, name: &str) -> Result<(), UsersError> {
        let u = self
            .users
            .iter_mut()
            .find(|u| u.name == name)
            .ok_or_else(|| UsersError::Missing(name.into()))?;
        u.disabled = true;
        Ok(())
    }

    /// The account if `password` is its password and it is enabled. Takes
    /// the same time whether or not the account exists.
    pub fn check(&self, name: &str, password: &str) -> Option<&User> {
        match self.get(name) {
            Some(u) => (verify(&u.hash, password) && !u.disabled).then_some(u),
            None => {
                verify(decoy_hash(), password);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn add_check_passwd_disable_and_file_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("users.toml");
        let mut u = Users::load(&p).unwrap();
        u.add("alice", Role::Operator, "correct horse").unwrap();
        assert!(matches!(
            u.add("alice", Role::Approver, "another one"),
            Err(UsersError::Exists(_))
        ));
        assert!(matches!(
            u.add("../x", Role::Approver, "another one"),
            Err(UsersError::BadName(_))
        ));
        assert!(matches!(
            u.add("bob", Role::Approver, "short"),
            Err(UsersError::BadPassword)
        ));
        u.save(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("$argon2id$") && !text.contains("correct horse"));
        let mut u = Users::load(&p).unwrap();
        assert!(u.check("alice", "correct horse").is_some());
        assert!(u.check("alice", "wrong horse!").is_none());
        assert!(u.check("nobody", "correct horse").is_none());
        u.passwd("alice", "battery staple").unwrap();
        assert!(u.check("alice", "correct horse").is_none());
        assert!(u.check("alice", "battery staple").is_some());
        u.disable("alice").unwrap();
        assert!(u.check("alice", "battery staple").is_none());
    }
}
