//! Text rebuilder: plain text, CSV and TSV.
//!
//! [`TextRebuilder`] decodes the input (UTF-8, Shift_JIS/CP932, EUC-JP,
//! ISO-2022-JP, UTF-16 with BOM), drops NUL and control characters other
//! than tab, CR and LF, neutralises CSV/TSV cells that a spreadsheet would
//! run as formulas (see [`formula`]) and SYLK formulas, names and links
//! (see [`sylk`]), and writes the text back in its
//! original encoding (or UTF-8, by policy).

pub mod formula;
mod rebuild;
pub mod sylk;

pub use rebuild::TextRebuilder;
