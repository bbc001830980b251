//! The dispatcher: from a file's bytes to its [`mugai_core::Outcome`].
//!
//! [`Engine`] finds the true type ([`mugai_detect`]), applies the name and
//! type rules and the allow-list, scans with the configured scanner, and
//! hands the file to its family's [`mugai_core::Rebuilder`] by a `match` on
//! the type. Containers come back through [`mugai_core::Dispatch`] for their
//! members, which take the same path as a top-level file (one function
//! applies the name, type, rebuild, output, scan and polyglot rules in one
//! order at every depth). A rebuilder error, a limit, or a panic blocks the
//! file.
//!
//! [`InProcess`] is the [`mugai_core::Sanitize`] that runs the engine in the
//! calling process (tests, benches, and inside each worker process).

mod engine;
pub mod fuzz;
#[cfg(feature = "test-hooks")]
mod hooks;

pub use engine::{
    check_output_type, encrypted_zips, precheck, precheck_unlocking, Engine, InProcess,
};
