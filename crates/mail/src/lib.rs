//! Mail text-ization (メールテキスト化): converts internet mail to one
//! text-only RFC 5322 message.
//!
//! Main type: [`MailRebuilder`], the [`mugai_core::Rebuilder`] for
//! `FileType::Eml` and Outlook `FileType::Msg` (read by `msg` into MIME
//! first). The output keeps From, To, Cc, Reply-To, Date, Subject,
//! Message-ID, In-Reply-To and References (decoded and re-encoded), adds
//! `X-Mugai-Verdict` and `X-Mugai-Original-SHA256`, and carries exactly one
//! `text/plain` part: a notice, the text (HTML converted by [`html`]), nested
//! messages, and the list of removed attachments; links are neutralised by
//! [`links`]. With `mail.attachments = "sanitize"` the sanitised attachments
//! follow the text part in a `multipart/mixed`. [`parts`] takes out the
//! password-protected ZIP attachments the relay keeps for the recipient.

mod convert;
pub mod encode;
pub mod html;
pub mod links;
mod lzfu;
mod msg;
pub mod notice;
pub mod parts;
pub mod payload;

pub use convert::{attachment_part, MailRebuilder};
