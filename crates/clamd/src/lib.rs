//! clamd client implementing the [`mugai_core::Scanner`] seam.
//!
//! [`Clamd`] speaks clamd's `INSTREAM` protocol over a UNIX socket or TCP:
//! the bytes go in length-prefixed chunks, and clamd answers `stream: OK`,
//! `stream: NAME FOUND`, or a size-limit error when the stream is over its
//! `StreamMaxLength`. Every connection has connect, read and write
//! timeouts. [`Clamd::ping`] and [`Clamd::version`] serve `check-config`;
//! [`signatures`] tells how old the signature database is.

mod client;
pub mod signatures;

pub use client::{from_policy, Address, Clamd};
pub use signatures::Signatures;
