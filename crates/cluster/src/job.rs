//! What the work queue and the results bucket carry.

use mugai_core::{sha256_hex, Outcome};
use serde::{Deserialize, Serialize};

/// One queued job: names the file held in the object store under `id`.
/// Never the bytes themselves (claim check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMsg {
    pub id: String,
    /// The file's name (last path component) as submitted.
    pub name: String,
    /// SHA-256 of the submitted bytes; the worker checks the object
    /// against it.
    pub sha256: String,
    pub size: u64,
    /// Who submitted it (`host:user`, or the daemon's node name).
    pub submitter: String,
    #[serde(default)]
    pub mode: Mode,
}

/// Where the result goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The worker places the output (or quarantine entry) in the shared
    /// folders and writes the audit record (`mugai cluster submit`).
    #[default]
    Place,
    /// The worker returns the rebuilt bytes through the object store; the
    /// submitter places and audits ([`crate::ClusterSanitizer`]).
    Return,
}

/// A job's outcome as posted in the results bucket under its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResult {
    pub id: String,
    /// The node that posted it.
    pub node: String,
    pub outcome: Outcome,
    /// [`Mode::Place`]: the placed file (clean) or quarantine folder.
    /// [`Mode::Return`]: the object holding the rebuilt bytes.
    pub output: Option<String>,
}

/// The id of a job: the first 32 hex digits of
/// SHA-256(`mugai-cluster-job`, submitter, name, SHA-256 of the bytes).
///
/// It is derived from the input rather than drawn at random so that
/// submitting the same file again (a `mugai cluster submit` that crashed
/// or timed out, rerun on the same files) names the same job: within the
/// stream's duplicate window the queue drops the second message
/// (`Nats-Msg-Id`), and after it the worker finds the job's placement
/// (create-if-absent, keyed by this id) and the posted result, so no second
/// output and no second audit record appear. The submitter is part of the
/// key so that different submitters handing in the same file each get a
/// job of their own; the same submitter handing in the same bytes under
/// the same name again gets the first job's result. Callers that need a
/// fresh job each time (the daemon, which places outputs itself) add a
/// unique submitter suffix.
pub fn job_id(submitter: &str, name: &str, sha256: &str) -> String {
    let key = format!("mugai-cluster-job\0{submitter}\0{name}\0{sha256}");
    let mut h = sha256_hex(key.as_bytes());
    h.truncate(32);
    h
}

/// Whether `id` has the form [`job_id`] gives: 32 lower-case hex digits.
/// Ids come from queue messages and name folders: nothing else is taken.
pub fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_derive_from_the_input_and_are_valid() {
        let a = job_id("h:u", "a.txt", &sha256_hex(b"x"));
        assert_eq!(a, job_id("h:u", "a.txt", &sha256_hex(b"x")));
        assert_ne!(a, job_id("h:u", "a.txt", &sha256_hex(b"y")));
        assert_ne!(a, job_id("h:v", "a.txt", &sha256_hex(b"x")));
        assert_ne!(a, job_id("h:u", "b.txt", &sha256_hex(b"x")));
        assert!(valid_id(&a));
        assert!(!valid_id("../../etc"));
        assert!(!valid_id(&a.to_uppercase()));
    }
}
