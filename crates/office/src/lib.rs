//! Office rebuilder: OOXML packages, legacy OLE2 documents and RTF.
//!
//! Main type: [`OfficeRebuilder`], the [`mugai_core::Rebuilder`] for this
//! family. OOXML packages are rebuilt part by part ([`ooxml`], with XML
//! parts re-serialised by [`xml`]); OLE2 compound files are rewritten
//! without their macro and object storages ([`ole`]); RTF is re-tokenised
//! without object groups and external references ([`rtf`]). An encrypted
//! OOXML document is decrypted with the passwords of an unlock
//! ([`crypto`], agile and standard encryption) and then rebuilt as any
//! other.

pub mod crypto;
pub mod field;
pub mod ole;
pub mod ooxml;
mod rebuilder;
pub mod rtf;
mod word;
pub mod xml;

pub use rebuilder::OfficeRebuilder;
