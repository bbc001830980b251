//! The mail text-ization SMTP relay: an after-queue content filter.
//!
//! [`serve`] (or [`Relay::bind`] then [`Relay::run`]) accepts SMTP from the
//! Internet-side MTA (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, with
//! SIZE and 8BITMIME), keeps each original in an Internet-side Maildir
//! ([`Originals`]), converts the message through a [`mugai_core::Sanitize`]
//! and delivers the text-only result to the next hop with the same envelope
//! ([`client::deliver`]). It answers `250` to DATA only after the next hop
//! accepted, `451` otherwise, so the sending MTA keeps the message: the relay
//! has no queue of its own. Every message gets a record in the hash-chained
//! audit log ([`AuditLog`], over `mugai-audit`). Password-protected ZIP
//! attachments are kept for the console's one-time link ([`held`]).

pub mod audit;
pub mod client;
pub mod data;
pub mod held;
pub mod notice;
pub mod originals;
mod pipeline;
mod server;

pub use audit::AuditLog;
pub use originals::Originals;
pub use server::{serve, Relay};
