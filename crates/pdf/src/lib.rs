//! PDF rebuilder: writes a fresh PDF from what is known to be safe.
//!
//! Main type: [`PdfRebuilder`], the [`mugai_core::Rebuilder`] for this family.
//! The input is parsed with lopdf, decrypted when it opens with an empty user
//! password, and selected from the catalog ([`select`]): every object keeps
//! only the keys its role allows ([`roles`]), every kept stream is decoded
//! and encoded anew ([`streams`]), font programs are rebuilt ([`fonts`]), content streams are re-serialised from
//! the known operators ([`content`]), the page tree is checked ([`pages`]),
//! and one fresh revision is written ([`emit`], each object serialised as
//! soon as it is final). A file whose cross-reference table
//! or catalog cannot be read is loaded again with a table rebuilt from its
//! object headers ([`xref`]).

mod cff;
pub mod codecs;
pub mod content;
pub mod emit;
pub mod fonts;
pub mod jpx;
pub mod names;
pub mod pages;
mod rebuild;
mod report;
pub mod roles;
pub mod select;
pub mod streams;
mod type1;
pub mod xref;

pub use rebuild::PdfRebuilder;
