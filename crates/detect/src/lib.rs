//! True-type detection from content, and file-name checks.
//!
//! - [`detect`] finds a file's [`FileType`] from its bytes alone: magic
//!   numbers (infer) refined by structure — a ZIP is told apart as OOXML /
//!   ODF / JAR / plain zip by its parts, a CFB file as Word / Excel /
//!   PowerPoint / MSG / Ichitaro / MSI / encrypted OOXML by its streams, a
//!   PDF is found behind leading junk, and text by its encoding.
//! - [`polyglot`] finds a second personality (an archive or script behind
//!   an image or PDF).
//! - [`name::check`] finds the `name.*` danger factors and gives a safe name.
//! - [`ext`] maps extensions to the types they claim, for `type.mismatch`.

pub mod ext;
pub mod magic;
pub mod name;
pub mod text;

pub use ext::{active_meaning, claimed_types, extension_of, output_name};
pub use magic::{detect, html_has_script, polyglot};
pub use name::{check as check_name, NameCheck};
pub use text::{sniff_text, TextEncoding};
