//! The ICAP server (RFC 3507) that puts web downloads and uploads through
//! the sanitiser.
//!
//! - [`Server`]: binds `icap://ADDR/mugai` and serves OPTIONS, REQMOD and
//!   RESPMOD on persistent connections, with Preview and `Allow: 204`.
//!   Each encapsulated body goes through a [`mugai_core::Sanitize`] (the
//!   worker pool) under the policy; a rebuilt body comes back in a new
//!   HTTP message, a blocked one as an HTTP 403 page ([`page`]).
//! - [`parse`]: the bounded reader of ICAP requests (head, encapsulated
//!   HTTP headers, chunked bodies): every limit is an error, never an
//!   allocation of what the client claims.
//! - [`Spool`]: a body held in memory up to a threshold, then in a
//!   temporary file.
//! - [`http::HttpHead`]: an encapsulated HTTP header block.
//! - [`istag`]: the ISTag, a hash of the policy, the engine and the
//!   malware signatures.

pub mod http;
pub mod istag;
pub mod page;
pub mod parse;
mod server;
mod spool;

pub use parse::ParseError;
pub use server::{Server, Settings};
pub use spool::Spool;
