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
    /// An entry the daemon does not take (link, hidden or temporary name,
    /// special file) is reported at once and moved to quarantine after
    /// this long; a file a writer still holds open is taken after this
    /// long without change.
    pub unaccepted_after_secs: u64,
    /// Days to keep originals (and quarantined files); 0 keeps forever.
    pub retention_days: u32,
    pub notice: NoticePlacement,
    /// Language of the notice: `ja` or `en`.
    pub notice_language: NoticeLanguage,
    /// Files waiting for a worker at most; 0 means four per worker.
    pub queue: usize,
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
            unaccepted_after_secs: 3600,
            retention_days: 30,
            notice: NoticePlacement::Beside,
            notice_language: NoticeLanguage::Ja,
            queue: 0,
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
        if self.unaccepted_after_secs == 0 {
            e.push("`daemon.unaccepted_after_secs`: must be greater than 0".into());
        }
        if self.settle_ms == 0 {
            e.push("`daemon.settle_ms`: must be greater than 0".into());
        }
        if let Some(m) = &self.metrics_listen {
            match m.parse::<std::net::SocketAddr>() {
                Err(_) => e.push(format!("`daemon.metrics_listen`: `{m}` is not HOST:PORT")),
                Ok(a) if !a.ip().is_loopback() => e.push(format!(
                    "`daemon.metrics_listen`: `{m}` is not a loopback address"
                )),
                Ok(_) => {}
            }
        }
        let named = [
            ("inbox", &self.inbox),
            ("clean", &self.clean),
            ("quarantine", &self.quarantine),
            ("originals", &self.originals),
            ("state", &self.state),
            ("audit", &self.audit),
        ];
        for (i, (a, pa)) in named.iter().enumerate() {
            for (b, pb) in named.iter().skip(i + 1) {
                if let (Some(pa), Some(pb)) = (pa, pb) {
                    if pa.starts_with(pb) || pb.starts_with(pa) {
                        e.push(format!(
                            "`daemon.{a}` and `daemon.{b}` must be separate directories, neither inside the other"
                        ));
                    }
                }
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

/// The notice's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLanguage {
    Ja,
    En,
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
