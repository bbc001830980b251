//! `[console]`: the web console for quarantine review and release.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Where the console listens (HOST:PORT); `--listen` overrides it.
    pub listen: String,
    /// The accounts file (argon2id hashes), written by `mugai user`.
    pub users: Option<PathBuf>,
    /// Folder of the console's state (release requests).
    pub state: Option<PathBuf>,
    /// Folder of the console's own hash-chained audit log.
    pub audit: Option<PathBuf>,
    /// Mark session cookies `Secure` (sent over HTTPS only). Turn off only
    /// for plain-HTTP use on localhost behind a TLS-terminating proxy.
    pub secure_cookies: bool,
    /// Seconds without a request after which a session ends.
    pub idle_timeout_secs: u64,
    /// Seconds after the login at which a session ends however active.
    pub session_lifetime_secs: u64,
    /// Failed logins allowed per account and per address within
    /// `lockout_secs`; further attempts are refused until it passes.
    pub max_login_failures: u32,
    pub lockout_secs: u64,
    /// Wrong passwords allowed per held item within `lockout_secs` when
    /// unlocking a password-protected ZIP.
    pub max_unlock_failures: u32,
    /// Days a held item is kept in the quarantine; older ones are removed
    /// (and the removal audited). 0 keeps them until the daemon's retention.
    pub hold_days: u32,
    /// The language of the pages when the browser asks for none: "ja" or "en".
    pub language: String,
    /// The console's address as mail recipients reach it (e.g.
    /// `https://mugai.example.lg.jp`): the base of the one-time links
    /// the relay sends for password-protected ZIPs.
    pub public_url: Option<String>,
    /// Days a one-time link works.
    pub link_days: u32,
    /// Password attempts a one-time link allows.
    pub link_max_tries: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            listen: "127.0.0.1:8440".into(),
            users: None,
            state: None,
            audit: None,
            secure_cookies: true,
            idle_timeout_secs: 900,
            session_lifetime_secs: 43_200,
            max_login_failures: 5,
            lockout_secs: 300,
            max_unlock_failures: 5,
            hold_days: 0,
            language: "ja".into(),
            public_url: None,
            link_days: 7,
            link_max_tries: 5,
        }
    }
}

impl ConsoleConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            e.push(format!(
                "`console.listen`: `{}` is not HOST:PORT",
                self.listen
            ));
        }
        if self.idle_timeout_secs == 0 || self.session_lifetime_secs == 0 {
            e.push(
                "`console.idle_timeout_secs`, `console.session_lifetime_secs`: must be at least 1"
                    .into(),
            );
        }
        if self.max_login_failures == 0 || self.max_unlock_failures == 0 {
            e.push(
                "`console.max_login_failures`, `console.max_unlock_failures`: must be at least 1"
                    .into(),
            );
        }
        if let Some(u) = &self.public_url {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() > 8
                && u.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                e.push(format!("`console.public_url`: `{u}` is not an http(s) URL"));
            }
        }
        if self.link_days == 0 || self.link_max_tries == 0 {
            e.push("`console.link_days`, `console.link_max_tries`: must be at least 1".into());
        }
        if !matches!(self.language.as_str(), "ja" | "en") {
            e.push(format!(
                "`console.language`: `{}` is not \"ja\" or \"en\"",
                self.language
            ));
        }
        e
    }
}
