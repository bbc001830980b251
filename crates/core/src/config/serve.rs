//! `[serve]`: the REST API (`mugai serve`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Where the API listens (HOST:PORT).
    pub listen: String,
    /// The bearer tokens accepted, each under a name that the audit log
    /// records. Only the SHA-256 of a token is stored here.
    pub tokens: Vec<ApiToken>,
    /// Largest request body accepted; larger ones get 413 while streaming.
    pub max_body_bytes: u64,
    /// A body larger than this is spooled to a file in the results folder
    /// rather than held in memory while it waits for a worker.
    pub spool_above_bytes: u64,
    /// Folder of the jobs' results (and the spool); required to serve.
    pub results: Option<PathBuf>,
    /// Seconds a finished job's result is kept before it is removed.
    pub keep_results_secs: u64,
    /// Files sanitised at once; 0 means one per core.
    pub max_jobs: usize,
    /// Folder of the API's hash-chained audit log; `RESULTS/audit` when unset.
    pub audit: Option<PathBuf>,
    /// Seconds a request body may take to arrive, beyond what
    /// `min_data_rate` allows; then 408 and nothing is kept.
    pub client_timeout_secs: u64,
    /// Bytes per second a client must keep up while sending a body: the
    /// time allowed is `client_timeout_secs` plus the bytes received
    /// divided by this.
    pub min_data_rate: u64,
}

/// One accepted bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Who holds the token (letters, digits, `.`, `_`, `-`); written to
    /// the audit record of every file it submits.
    pub name: String,
    /// Lower-case hex SHA-256 of the token (`printf %s TOKEN | sha256sum`).
    pub sha256: String,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8480".into(),
            tokens: Vec::new(),
            max_body_bytes: 256 << 20,
            spool_above_bytes: 1 << 20,
            results: None,
            keep_results_secs: 86400,
            max_jobs: 0,
            audit: None,
            client_timeout_secs: 60,
            min_data_rate: 10_000,
        }
    }
}

impl ServeConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            e.push(format!(
                "`serve.listen`: `{}` is not HOST:PORT",
                self.listen
            ));
        }
        if self.max_body_bytes == 0 {
            e.push("`serve.max_body_bytes`: must be greater than 0".into());
        }
        if self.client_timeout_secs == 0 {
            e.push("`serve.client_timeout_secs`: must be greater than 0".into());
        }
        if self.min_data_rate == 0 {
            e.push("`serve.min_data_rate`: must be greater than 0".into());
        }
        if self.keep_results_secs == 0 {
            e.push("`serve.keep_results_secs`: must be greater than 0".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.name.is_empty()
                || t.name.len() > 64
                || !t
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                e.push(format!(
                    "`serve.tokens[{i}].name`: `{}` must be 1 to 64 letters, digits, `.`, `_` or `-`",
                    t.name
                ));
            } else if !names.insert(t.name.as_str()) {
                e.push(format!(
                    "`serve.tokens[{i}].name`: `{}` is used twice",
                    t.name
                ));
            }
            if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                e.push(format!(
                    "`serve.tokens[{i}].sha256`: must be 64 hex digits (the SHA-256 of the token, not the token)"
                ));
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tokens_are_named() {
        let c = ServeConfig {
            tokens: vec![
                ApiToken {
                    name: "proxy-1".into(),
                    sha256: "ab".repeat(32),
                },
                ApiToken {
                    name: "proxy-1".into(),
                    sha256: "secret".into(),
                },
                ApiToken {
                    name: "a b".into(),
                    sha256: "AB".repeat(32),
                },
            ],
            ..ServeConfig::default()
        };
        let e = c.validate();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("tokens[1].name"), "{e:?}");
        assert!(e[1].contains("tokens[1].sha256"), "{e:?}");
        assert!(e[2].contains("tokens[2].name"), "{e:?}");
        assert!(ServeConfig::default().validate().is_empty());
    }
}
