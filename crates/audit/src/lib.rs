//! Hash-chained JSON Lines audit log, its verification and summary.
//!
//! - [`AuditLog`]: appends one [`Record`] (for a sanitised file:
//!   [`Record::for_outcome`]) per file to `audit-YYYY-MM-DD.jsonl`
//!   in a directory, fsynced, rotating daily; the chain (sequence number and
//!   the previous record's hash) continues across files and restarts.
//! - [`verify`]: walks files in order and reports the first edited, deleted,
//!   inserted or reordered record ([`Problem`]) with its position.
//! - [`summary`]: counts by verdict, type and finding code over a period.
//! - [`clock`]: local time with the offset found once at start-up.
//! - [`group`]: group commit ([`GroupSync`], [`Pending`]): one fsync for
//!   every record written before it, for the audit log and the daemon's
//!   journal alike.

pub mod clock;
pub mod group;
mod log;
mod record;
mod summary;
mod verify;

pub use group::{GroupSync, Pending};
pub use log::{contains_id_in, files_in, AuditLog, FILE_PREFIX, FILE_SUFFIX};
pub use record::{Record, GENESIS};
pub use summary::{summary, Summary};
pub use verify::{verify, Problem, ProblemKind, VerifyReport};
