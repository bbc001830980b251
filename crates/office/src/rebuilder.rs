//! The family's entry point: routes each type to its rebuilder.

use mugai_core::{Blocked, Code, Context, FileType, Rebuilder, Rebuilt};

/// The rebuilder for OOXML, legacy OLE2 Office documents and RTF.
#[derive(Debug, Default, Clone, Copy)]
pub struct OfficeRebuilder;

impl Rebuilder for OfficeRebuilder {
    fn rebuild(
        &self,
        input: &[u8],
        file_type: FileType,
        cx: &mut Context<'_>,
    ) -> Result<Rebuilt, Blocked> {
        match file_type {
            FileType::OoxmlEncrypted if !cx.passwords().is_empty() => {
                crate::crypto::rebuild(input, cx)
            }
            FileType::OoxmlEncrypted => Err(cx.block(
                Code::OoxmlEncrypted,
                "encrypted Office document; send it without a password",
            )),
            t if t.is_ooxml() => crate::ooxml::rebuild(input, t, cx),
            FileType::Doc | FileType::Xls | FileType::Ppt => {
                crate::ole::rebuild(input, file_type, cx)
            }
            FileType::Rtf => crate::rtf::rebuild(input, cx),
            other => Err(cx.block(
                Code::OleUnknown,
                format!(
                    "{} is not an Office type this rebuilder handles",
                    other.name()
                ),
            )),
        }
    }
}
