//! PDF rebuilder: writes a fresh PDF without active content.
//!
//! Main type: [`PdfRebuilder`], the [`mugai_core::Rebuilder`] for this family.

use mugai_core::{Blocked, Code, Context, FileType, Rebuilder, Rebuilt};

/// The rebuilder for this format family.
#[derive(Debug, Default, Clone, Copy)]
pub struct PdfRebuilder;

impl Rebuilder for PdfRebuilder {
    fn rebuild(
        &self,
        _input: &[u8],
        file_type: FileType,
        _cx: &mut Context<'_>,
    ) -> Result<Rebuilt, Blocked> {
        // Not implemented yet: fail closed.
        Err(Blocked::new(
            Code::TypeUnknown,
            format!("no rebuilder for {file_type} yet"),
        ))
    }
}
