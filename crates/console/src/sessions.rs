//! Browser sessions. Logged-in sessions are kept in `sessions.json` in the
//! console's state folder (mode 0600, replaced atomically), so that a
//! restart does not log everyone out; only the SHA-256 of each session id
//! is kept, in memory and on disk. The idle timeout and the absolute
//! lifetime count in wall-clock seconds and hold across restarts.

use crate::users::Role;
use mugai_core::sha256_hex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One browser session: anonymous (a login or password form) or logged in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Session {
    pub user: Option<(String, Role)>,
    pub csrf: String,
    /// Unix seconds of the login (or of the form).
    pub created: u64,
    /// Unix seconds of the last request.
    pub last: u64,
    /// `last` as written to the file.
    #[serde(skip)]
    saved_last: u64,
}

/// Sessions by the SHA-256 of their id.
#[derive(Debug)]
pub(crate) struct Sessions {
    by_hash: HashMap<String, Session>,
    path: Option<PathBuf>,
    idle: u64,
    lifetime: u64,
}

/// Sessions kept at most (anonymous ones are dropped first beyond it).
const MAX_SESSIONS: usize = 10_000;

/// `last` is written again once it moved this far (a session may so end
/// up to this much earlier after a restart, never later).
const TOUCH_SAVE_SECS: u64 = 60;

/// The sessions file's name in the state folder.
pub const FILE: &str = "sessions.json";

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// 32 random bytes as hex.
pub(crate) fn random_token() -> String {
    let mut b = [0u8; 32];
    // Without randomness no session or token can be safe: stop.
    getrandom::fill(&mut b).expect("the system random source failed");
    hex::encode(b)
}

impl Sessions {
    /// Sessions in memory only.
    pub fn memory(idle: u64, lifetime: u64) -> Sessions {
        Sessions {
            by_hash: HashMap::new(),
            path: None,
            idle,
            lifetime,
        }
    }

    /// Loads the sessions file of `state` (none yet: no sessions). A file
    /// that cannot be read as sessions is an error naming it.
    pub fn open(state: &Path, idle: u64, lifetime: u64) -> Result<Sessions, String> {
        let path = state.join(FILE);
        let mut s = Sessions::memory(idle, lifetime);
        match std::fs::read(&path) {
            Ok(b) => {
                let mut m: HashMap<String, Session> = serde_json::from_slice(&b)
                    .map_err(|e| format!("{}: not a sessions file: {e}", path.display()))?;
                m.retain(|k, v| {
                    k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()) && v.user.is_some()
                });
                for v in m.values_mut() {
                    v.saved_last = v.last;
                }
                s.by_hash = m;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        s.path = Some(path);
        s.prune();
        Ok(s)
    }

    fn alive(&self, v: &Session, t: u64) -> bool {
        t.saturating_sub(v.last) < self.idle && t.saturating_sub(v.created) < self.lifetime
    }

    /// Drops sessions past their idle timeout or lifetime; writes the file
    /// if a logged-in one went.
    fn prune(&mut self) {
        let t = now();
        let before = self.logged_in();
        let (idle, lifetime) = (self.idle, self.lifetime);
        self.by_hash.retain(|_, v| {
            t.saturating_sub(v.last) < idle && t.saturating_sub(v.created) < lifetime
        });
        if self.by_hash.len() >= MAX_SESSIONS {
            self.by_hash.retain(|_, s| s.user.is_some());
        }
        if self.logged_in() != before {
            self.save_logged();
        }
    }

    fn logged_in(&self) -> usize {
        self.by_hash.values().filter(|s| s.user.is_some()).count()
    }

    /// A new session; returns its id and CSRF token. A logged-in session
    /// that cannot be written to the file is not created.
    pub fn create(&mut self, user: Option<(String, Role)>) -> std::io::Result<(String, String)> {
        self.prune();
        let sid = random_token();
        let csrf = random_token();
        let t = now();
        let persist = user.is_some();
        let h = sha256_hex(sid.as_bytes());
        self.by_hash.insert(
            h.clone(),
            Session {
                user,
                csrf: csrf.clone(),
                created: t,
                last: t,
                saved_last: t,
            },
        );
        if persist {
            if let Err(e) = self.save() {
                self.by_hash.remove(&h);
                return Err(e);
            }
        }
        Ok((sid, csrf))
    }

    /// The live session of `sid` (without touching it).
    pub fn peek(&mut self, sid: &str) -> Option<&Session> {
        self.prune();
        self.by_hash.get(&sha256_hex(sid.as_bytes()))
    }

    /// The live session of `sid`, its last use set to now.
    pub fn touch(&mut self, sid: &str) -> Option<Session> {
        self.prune();
        let t = now();
        let h = sha256_hex(sid.as_bytes());
        let s = self.by_hash.get_mut(&h)?;
        s.last = t;
        let save = s.user.is_some() && t.saturating_sub(s.saved_last) >= TOUCH_SAVE_SECS;
        let out = s.clone();
        if save {
            self.save_logged();
        }
        Some(out)
    }

    /// Ends the session of `sid`.
    pub fn remove(&mut self, sid: &str) {
        if let Some(s) = self.by_hash.remove(&sha256_hex(sid.as_bytes())) {
            if s.user.is_some() {
                self.save_logged();
            }
        }
    }

    /// Ends every session of account `name`.
    pub fn remove_user(&mut self, name: &str) {
        let before = self.by_hash.len();
        self.by_hash
            .retain(|_, s| s.user.as_ref().is_none_or(|(n, _)| n != name));
        if self.by_hash.len() != before {
            self.save_logged();
        }
    }

    fn save_logged(&mut self) {
        if let Err(e) = self.save() {
            tracing::error!(error = %e, "writing the sessions file");
        }
    }

    /// Writes the logged-in sessions (mode 0600, temporary file, fsync,
    /// rename, folder fsync).
    fn save(&mut self) -> std::io::Result<()> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let t = now();
        let keep: HashMap<&String, &Session> = self
            .by_hash
            .iter()
            .filter(|(_, s)| s.user.is_some() && self.alive(s, t))
            .collect();
        let bytes = serde_json::to_vec(&keep).map_err(std::io::Error::other)?;
        crate::users::write_private(&path, &bytes)?;
        for s in self.by_hash.values_mut() {
            s.saved_last = s.last;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(path: &Path, m: &serde_json::Value) {
        std::fs::write(path, serde_json::to_vec(m).unwrap()).unwrap();
    }

    #[test]
    fn logged_in_sessions_survive_a_reload_hashed_and_expire() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Sessions::open(d.path(), 900, 3600).unwrap();
        let (anon, _) = s.create(None).unwrap();
        let (sid, csrf) = s.create(Some(("alice".into(), Role::Operator))).unwrap();
        let path = d.path().join(FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&sid), "the id itself is never written");
        assert!(text.contains(&sha256_hex(sid.as_bytes())));
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(&path).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
        }
        let mut s2 = Sessions::open(d.path(), 900, 3600).unwrap();
        let got = s2.touch(&sid).unwrap();
        assert_eq!(got.user, Some(("alice".into(), Role::Operator)));
        assert_eq!(got.csrf, csrf);
        assert!(s2.peek(&anon).is_none(), "anonymous sessions are not kept");
        s2.remove_user("alice");
        let reopen = || Sessions::open(d.path(), 900, 3600).unwrap();
        assert!(reopen().peek(&sid).is_none());

        // Idle timeout and absolute lifetime, from the times in the file.
        let (sid, _) = s.create(Some(("bob".into(), Role::Approver))).unwrap();
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let h = sha256_hex(sid.as_bytes());
        m[&h]["last"] = (now() - 1000).into();
        rewrite(&path, &m);
        assert!(reopen().peek(&sid).is_none(), "idle too long");
        m[&h]["last"] = now().into();
        m[&h]["created"] = (now() - 4000).into();
        rewrite(&path, &m);
        assert!(reopen().peek(&sid).is_none(), "past its lifetime");
        m[&h]["created"] = now().into();
        rewrite(&path, &m);
        let mut s3 = reopen();
        assert!(s3.peek(&sid).is_some());
        s3.remove(&sid);
        assert!(reopen().peek(&sid).is_none(), "logged out");
        std::fs::write(&path, "not json").unwrap();
        let e = Sessions::open(d.path(), 900, 3600).unwrap_err();
        assert!(e.contains("sessions.json"), "{e}");
    }
}
