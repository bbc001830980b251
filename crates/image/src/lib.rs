//! Image rebuilder: decodes to pixels and encodes a new file.
//!
//! Main type: [`ImageRebuilder`], the [`mugai_core::Rebuilder`] for JPEG,
//! PNG, GIF, BMP, TIFF and WebP. [`survey()`] walks a file's container
//! structure (bounds-checked) before decoding, to refuse decompression bombs
//! from the header and to report the metadata and trailing bytes the rebuild
//! leaves behind.

mod gif;
mod icc;
pub mod jpeg_coef;
mod os2bmp;
mod rebuild;
pub mod survey;
mod tiff;

pub use rebuild::ImageRebuilder;
pub use survey::{survey, Survey};
