//! Mail text-ization: converts internet mail to one text-only message.
//!
//! Main type: [`MailRebuilder`], the [`mugai_core::Rebuilder`] for this family.

use mugai_core::{Blocked, Code, Context, FileType, Rebuilder, Rebuilt};

/// The rebuilder for this format family.
#[derive(Debug, Default, Clone, Copy)]
pub struct MailRebuilder;

impl Rebuilder for MailRebuilder {
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
