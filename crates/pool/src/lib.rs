//! Worker-process pool: the trust boundary.
//!
//! Parsers of untrusted formats can abort the process (a failed huge
//! allocation is not a panic), spin forever, or be subverted by the file
//! they parse. So each file is analysed and rebuilt in a worker process:
//! the same binary started in worker mode, fed over a pipe, confined
//! before it reads its first byte, killed at the file's deadline, and
//! replaced after a few files.
//!
//! - [`Pool`]: short-lived workers behind the [`mugai_core::Sanitize`] seam.
//!   A worker that dies or is killed is replaced and its file is blocked
//!   (`limit.memory`, `limit.time`, `worker.crashed`, and
//!   `worker.violation` when the sandbox killed it or its reply fails the
//!   parent's checks).
//! - [`sandbox`]: the layers a worker applies to itself.
//! - [`worker::serve`]: the worker side of the protocol.
//! - [`protocol`]: the framed protocol across the boundary (bytes and
//!   policy in; scan requests, bytes and report out). The worker has no
//!   socket: the parent scans for it.
//! - [`recheck`]: the parent's checks of every reply.

pub mod pool;
pub mod protocol;
pub mod recheck;
pub mod sandbox;
pub mod worker;

pub use pool::{Pool, PoolConfig, StartError};
pub use sandbox::Layers;
