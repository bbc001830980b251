//! Errors of the cluster client and worker, by cause.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A NATS or JetStream request failed (after retries where retried).
    #[error("NATS: {what}: {detail}")]
    Nats { what: &'static str, detail: String },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// No outcome arrived in time.
    #[error("no outcome within the submit timeout ({0} jobs still waiting)")]
    Timeout(usize),
    /// A message or result that does not parse.
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    /// The worker is missing a folder it needs.
    #[error("`cluster.{0}` is not set (or give it on the command line)")]
    Missing(&'static str),
}

impl ClusterError {
    pub(crate) fn nats(what: &'static str) -> impl FnOnce(String) -> ClusterError {
        move |detail| ClusterError::Nats { what, detail }
    }
}
