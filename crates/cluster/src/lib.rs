//! mugai nodes sharing work through NATS JetStream.
//!
//! - [`Cluster`]: one connection, with the work-queue stream, the
//!   object-store bucket (claim check: file bytes never travel in queue
//!   messages) and the results key-value bucket made sure of.
//! - [`JobMsg`] / [`JobResult`] and [`job_id`]: what the queue and the
//!   results bucket carry, and how a job's id derives from its input.
//! - [`submit`]: upload, queue, wait for outcomes.
//! - [`worker`]: take jobs, rebuild them through a `dyn Sanitize`, place
//!   each exactly once ([`placement`]), audit, post the outcome, then ack.
//! - [`ClusterSanitizer`]: a blocking [`mugai_core::Sanitize`] over the
//!   cluster, for the daemon (or any caller of the seam).
//! - [`ClusterError`]: what can go wrong, by cause.

mod conn;
mod error;
mod job;
pub mod placement;
mod sanitizer;
pub mod submit;
pub mod worker;

pub use conn::Cluster;
pub use error::ClusterError;
pub use job::{job_id, valid_id, JobMsg, JobResult, Mode};
pub use sanitizer::ClusterSanitizer;
