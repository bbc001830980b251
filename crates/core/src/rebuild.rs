//! The `Rebuilder` trait: one implementation per format family.

use crate::context::Context;
use crate::filetype::FileType;
use crate::finding::{Action, Code, Finding};
use std::fmt;

/// A format family's rebuilder.
///
/// It reads `input` (whose true type is `file_type`), records what it
/// removes or neutralises through `cx`, and writes a **new** file. It never
/// returns its input unchanged because it "looked fine": anything it does
/// not understand is an `Err(Blocked)`.
pub trait Rebuilder {
    fn rebuild(
        &self,
        input: &[u8],
        file_type: FileType,
        cx: &mut Context<'_>,
    ) -> Result<Rebuilt, Blocked>;
}

/// A rebuilt file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub bytes: Vec<u8>,
    /// The output's type; differs from the input's when, e.g., a docm is
    /// rebuilt as a docx.
    pub file_type: FileType,
}

impl Rebuilt {
    pub fn new(bytes: Vec<u8>, file_type: FileType) -> Self {
        Rebuilt { bytes, file_type }
    }
}

/// Why a file (or member) is blocked: nothing of it reaches the clean side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub code: Code,
    pub detail: String,
}

impl Blocked {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Blocked {
            code,
            detail: detail.into(),
        }
    }

    /// The input could not be parsed or rebuilt (`rebuild.failed`).
    pub fn failed(detail: impl Into<String>) -> Self {
        Blocked::new(Code::RebuildFailed, detail)
    }

    pub fn into_finding(self) -> Finding {
        Finding::new(self.code, Action::Blocked, self.detail)
    }
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for Blocked {}
