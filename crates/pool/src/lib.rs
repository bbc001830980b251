//! Worker-process pool.
//!
//! Parsers of untrusted formats can abort the process (a failed huge
//! allocation is not a panic) or spin forever, and a blocking thread cannot
//! be cancelled. So each file is analysed and rebuilt in a worker process:
//! the same binary started in worker mode, fed over a pipe, with an
//! address-space limit, and killed at the file's deadline.
//!
//! - [`Pool`]: long-lived workers behind the [`mugai_core::Sanitize`] seam.
//!   A worker that dies or is killed is replaced and its file is blocked
//!   (`limit.memory`, `limit.time`, `worker.crashed`).
//! - [`worker::serve`]: the worker side of the protocol.
//! - [`protocol`]: the tiny framed protocol across the boundary (bytes and
//!   policy in, bytes and report out). The parent re-checks what comes back.

pub mod pool;
pub mod protocol;
pub mod worker;

pub use pool::{Pool, PoolConfig};
