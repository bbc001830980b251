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
//! - [`filter`]: temporary and hidden names that are left alone.
//! - [`notice`]: the plain-text notice for LGWAN users.

mod daemon;
pub mod dirs;
pub mod filter;
pub mod job;
pub mod journal;
pub mod metrics;
pub mod notice;
pub mod place;
pub mod retention;
pub mod sdnotify;
mod settle;

pub use daemon::{Daemon, Options};
pub use dirs::{DirOverrides, Dirs};
