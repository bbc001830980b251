//! PDF rebuilder: writes a fresh PDF without active content.
//!
//! Main type: [`PdfRebuilder`], the [`mugai_core::Rebuilder`] for this family.
//! The input is parsed with lopdf, decrypted when it opens with an empty user
//! password, walked from the trailer ([`walk`]) with every active element
//! removed, its page tree checked ([`pages`]), and written as one fresh
//! revision holding only the reachable objects, renumbered.

pub mod names;
pub mod pages;
mod rebuild;
pub mod walk;

pub use rebuild::PdfRebuilder;
