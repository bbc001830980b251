//! Image rebuilder: decodes to pixels and encodes a new file.
//!
//! Main type: [`ImageRebuilder`], the [`mugai_core::Rebuilder`] for this family.

use mugai_core::{Blocked, Code, Context, FileType, Rebuilder, Rebuilt};

/// The rebuilder for this format family.
#[derive(Debug, Default, Clone, Copy)]
pub struct ImageRebuilder;

impl Rebuilder for ImageRebuilder {
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
