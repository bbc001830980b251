//! `[cluster]`: mugai nodes sharing work through NATS JetStream.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// NATS server URLs (any member of the NATS cluster; the client finds
    /// the others and reconnects).
    pub nats: Vec<String>,
    /// The work-queue stream that carries job ids.
    pub stream: String,
    /// The subject prefix of job messages (`<subject>.<job id>`).
    pub subject: String,
    /// The durable pull consumer the workers share.
    pub consumer: String,
    /// The object-store bucket that holds submitted files (claim check).
    pub objects: String,
    /// The key-value bucket that holds outcomes (job id → JSON).
    pub results: String,
    /// Stream and bucket replicas (1, or 3 on a three-server cluster).
    pub replicas: usize,
    /// Seconds before an unacknowledged job is delivered again.
    pub ack_wait_secs: u64,
    /// Seconds between in-progress acknowledgements during a long file.
    pub progress_secs: u64,
    /// Deliveries of one job before it is quarantined undone.
    pub max_deliver: i64,
    /// Seconds `mugai cluster submit` waits for each file's outcome.
    pub submit_timeout_secs: u64,
    /// Seconds outcomes are kept in the results bucket.
    pub results_ttl_secs: u64,
    /// Where workers place rebuilt files (shared by all nodes).
    pub clean: Option<PathBuf>,
    /// Where workers place blocked originals with their `reason.json`.
    pub quarantine: Option<PathBuf>,
    /// This node's audit-log folder (each node keeps its own chain).
    pub audit: Option<PathBuf>,
    /// Rebuilds a worker runs at once (0: one per core).
    pub concurrency: usize,
    /// The daemon sends files to the cluster instead of its own pool.
    pub daemon: bool,
    /// `mugai serve` sends files to the cluster instead of its own pool.
    pub serve: bool,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nats: vec!["nats://127.0.0.1:4222".into()],
            stream: "MUGAI_JOBS".into(),
            subject: "mugai.jobs".into(),
            consumer: "mugai-workers".into(),
            objects: "mugai-files".into(),
            results: "mugai-results".into(),
            replicas: 1,
            ack_wait_secs: 30,
            progress_secs: 5,
            max_deliver: 5,
            submit_timeout_secs: 600,
            results_ttl_secs: 86_400,
            clean: None,
            quarantine: None,
            audit: None,
            concurrency: 0,
            daemon: false,
            serve: false,
        }
    }
}

impl ClusterConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        if self.nats.is_empty() {
            e.push("`cluster.nats`: name at least one server URL".into());
        }
        for (key, v) in [
            ("stream", &self.stream),
            ("consumer", &self.consumer),
            ("objects", &self.objects),
            ("results", &self.results),
        ] {
            if v.is_empty()
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                e.push(format!(
                    "`cluster.{key}`: `{v}` must be letters, digits, `-` and `_`"
                ));
            }
        }
        if self.subject.is_empty()
            || self.subject.contains(['*', '>', ' '])
            || self.subject.split('.').any(str::is_empty)
        {
            e.push(format!(
                "`cluster.subject`: `{}` is not a plain subject",
                self.subject
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            e.push("`cluster.replicas`: must be 1 to 5".into());
        }
        if self.ack_wait_secs == 0 {
            e.push("`cluster.ack_wait_secs`: must be greater than 0".into());
        }
        if self.progress_secs == 0 || self.progress_secs >= self.ack_wait_secs {
            e.push(
                "`cluster.progress_secs`: must be at least 1 and less than `ack_wait_secs`".into(),
            );
        }
        if self.max_deliver < 1 {
            e.push("`cluster.max_deliver`: must be at least 1".into());
        }
        if self.submit_timeout_secs == 0 {
            e.push("`cluster.submit_timeout_secs`: must be greater than 0".into());
        }
        if self.results_ttl_secs == 0 {
            e.push("`cluster.results_ttl_secs`: must be greater than 0".into());
        }
        e
    }
}
