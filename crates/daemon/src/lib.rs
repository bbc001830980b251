//! The transfer-share daemon: watch, sanitise, drop atomically, quarantine, journal.
//!
//! - [`Daemon`] / [`Options`]: start-up (lock, journal replay, recovery of
//!   unfinished jobs), the watch-settle-dispatch loop, signals (SIGTERM
//!   drains, SIGHUP reloads), retention pruning, sd_notify and metrics.
//! - [`Dirs`]: the six directories, from the configuration and overrides.
//! - [`journal::Journal`]: the append-only, fsynced job journal.
//! - [`job`]: one file's way from the inbox to exactly one of clean or
//!   quarantine, each step idempotent so that a job can be redone after a
//!   crash at any point.
//! - [`inbox`]: the inbox reached only through directory handles, so that
//!   a subfolder swapped for a link never leads outside it.
//! - [`filter`]: temporary and hidden names that are not taken;
//!   [`unaccepted`]: how they (and links, special files) are reported and
//!   quarantined.
//! - [`notice`]: the plain-text notice for LGWAN users.

mod daemon;
pub mod dirs;
pub mod filter;
pub mod inbox;
pub mod job;
pub mod journal;
pub mod metrics;
pub mod notice;
pub mod place;
pub mod retention;
pub mod sdnotify;
mod settle;
pub mod signatures;
pub mod unaccepted;
mod watch;

pub use daemon::{Daemon, Options};
pub use dirs::{DirOverrides, Dirs};
