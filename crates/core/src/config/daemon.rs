//! `[daemon]` and `[log]` sections.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[daemon]`: the transfer-share daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    pub inbox: Option<PathBuf>,
    pub clean: Option<PathBuf>,
    pub quarantine: Option<PathBuf>,
    pub originals: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub audit: Option<PathBuf>,
    /// Worker processes; 0 means one per core.
    pub workers: usize,
    /// How long size and mtime must be unchanged before a file is taken.
    pub settle_ms: u64,
    /// Full rescan of the inbox, for events missed (network filesystems).
    pub rescan_secs: u64,
    /// Days to keep originals (and quarantined files); 0 keeps forever.
    pub retention_days: u32,
    pub notice: NoticePlacement,
    /// `127.0.0.1:PORT` for the Prometheus endpoint; none when absent.
    pub metrics_listen: Option<String>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            inbox: None,
            clean: None,
            quarantine: None,
            originals: None,
            state: None,
            audit: None,
            workers: 0,
            settle_ms: 2000,
            rescan_secs: 30,
            retention_days: 30,
            notice: NoticePlacement::Beside,
            metrics_listen: None,
        }
    }
}

impl DaemonConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.rescan_secs == 0 {
            e.push("`daemon.rescan_secs`: must be greater than 0".into());
        }
        if let Some(m) = &self.metrics_listen {
            if m.parse::<std::net::SocketAddr>().is_err() {
                e.push(format!("`daemon.metrics_listen`: `{m}` is not HOST:PORT"));
            }
        }
        e
    }
}

/// Where the plain-text notice for LGWAN users goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticePlacement {
    /// `NAME.mugai.txt` beside each sanitised or blocked file's clean path.
    Beside,
    /// One `mugai-notice-YYYY-MM-DD.txt` per day at the top of the clean tree.
    Daily,
    None,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `mugai=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Plain,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Plain,
    Json,
}
