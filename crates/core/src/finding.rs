//! Finding codes of the threat catalogue, actions and verdicts.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! codes {
    ($( $(#[$m:meta])* $variant:ident = $name:literal, $action:ident; )*) => {
        /// A danger factor (危険因子) or failure, by its stable name.
        ///
        /// The string names are part of the interface: reports, tests and
        /// the audit log use them, and they never change meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$m])* $variant, )*
        }

        impl Code {
            /// Every code, in catalogue order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable string name, e.g. `pdf.javascript`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            /// The catalogue's action for this code when it is found.
            pub fn default_action(self) -> Action {
                match self { $( Code::$variant => Action::$action, )* }
            }
        }

        impl FromStr for Code {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $name => Ok(Code::$variant), )*
                    _ => Err(UnknownCode(s.to_string())),
                }
            }
        }
    };
}

codes! {
    TypeUnknown = "type.unknown", Blocked;
    TypeExecutable = "type.executable", Blocked;
    TypeMismatch = "type.mismatch", Blocked;
    TypePolyglot = "type.polyglot", Removed;
    NameBidi = "name.bidi", Neutralised;
    NameDoubleExt = "name.double_ext", Neutralised;
    NameUnsafe = "name.unsafe", Neutralised;

    /// Text rules: control characters dropped from a text file.
    TextControl = "text.control", Removed;
    /// Text rules: a CSV/TSV cell that would run as a formula.
    TextFormula = "text.formula", Neutralised;

    PdfJavascript = "pdf.javascript", Removed;
    PdfOpenAction = "pdf.open_action", Removed;
    PdfAdditionalActions = "pdf.additional_actions", Removed;
    PdfLaunch = "pdf.launch", Removed;
    PdfRemoteGoto = "pdf.remote_goto", Removed;
    PdfUri = "pdf.uri", Neutralised;
    PdfEmbeddedFile = "pdf.embedded_file", Removed;
    PdfXfa = "pdf.xfa", Removed;
    PdfRichMedia = "pdf.rich_media", Removed;
    PdfObfuscatedName = "pdf.obfuscated_name", Removed;
    PdfIncrementalUpdate = "pdf.incremental_update", Removed;
    PdfEncrypted = "pdf.encrypted", Blocked;
    PdfMalformed = "pdf.malformed", Blocked;
    /// Any action other than navigation inside the document.
    PdfAction = "pdf.action", Removed;
    /// Keys, objects and annotation subtypes outside the kept list.
    PdfDropped = "pdf.dropped", Removed;
    /// An embedded font program that does not parse as the format it claims.
    PdfFont = "pdf.font", Removed;
    /// JBIG2, JPX or CCITT image streams.
    PdfImageCodec = "pdf.image_codec", Removed;
    /// A stream that does not decode with its declared filters.
    PdfDamagedStream = "pdf.damaged_stream", Removed;
    /// A broken cross-reference table rebuilt from the object headers.
    PdfRepaired = "pdf.repaired", Neutralised;

    OoxmlVba = "ooxml.vba", Removed;
    OoxmlXlmMacro = "ooxml.xlm_macro", Removed;
    OoxmlActivex = "ooxml.activex", Removed;
    OoxmlOleObject = "ooxml.ole_object", Removed;
    OoxmlExternalRel = "ooxml.external_rel", Removed;
    OoxmlHyperlink = "ooxml.hyperlink", Neutralised;
    OoxmlDde = "ooxml.dde", Removed;
    OoxmlCustomUi = "ooxml.custom_ui", Removed;
    OoxmlContentTypeLie = "ooxml.content_type_lie", Removed;
    OoxmlEncrypted = "ooxml.encrypted", Blocked;
    /// Field codes outside the kept list; formulas that call out or fetch.
    OoxmlField = "ooxml.field", Removed;
    /// Data connections, query tables, Power Query, web extensions.
    OoxmlDataConnection = "ooxml.data_connection", Removed;

    OleVba = "ole.vba", Removed;
    OleXlmMacro = "ole.xlm_macro", Blocked;
    OleEmbedded = "ole.embedded", Removed;
    OleEncrypted = "ole.encrypted", Blocked;
    OleUnknown = "ole.unknown", Blocked;
    RtfObject = "rtf.object", Removed;
    RtfTemplate = "rtf.template", Removed;
    /// Word binary field instructions outside the kept list.
    OleField = "ole.field", Neutralised;
    /// RTF field instructions outside the kept list.
    RtfField = "rtf.field", Removed;
    /// RTF destinations outside the kept list.
    RtfDropped = "rtf.dropped", Removed;
    /// Office: a part or picture no rebuilder handles (EMF/WMF, embedded
    /// fonts, printer settings, media, altChunk imports) was dropped.
    OfficeUnsupported = "office.unsupported", Removed;

    ImageMetadata = "image.metadata", Removed;
    ImageTrailingData = "image.trailing_data", Removed;
    ImageBomb = "image.bomb", Blocked;
    ImageSvg = "image.svg", Blocked;

    ArchivePathTraversal = "archive.path_traversal", Neutralised;
    ArchiveSymlink = "archive.symlink", Removed;
    ArchiveBomb = "archive.bomb", Blocked;
    ArchiveEncrypted = "archive.encrypted", Blocked;
    ArchiveNested = "archive.nested", Removed;
    ArchiveUnsupported = "archive.unsupported", Blocked;
    ArchiveNameEncoding = "archive.name_encoding", Neutralised;
    /// A member of a container was blocked and dropped (policy `drop`).
    ArchiveMemberDropped = "archive.member_dropped", Removed;
    /// Bytes of an archive that no entry refers to (between entries, after
    /// the end record): where a second file hides.
    ArchiveHiddenData = "archive.hidden_data", Removed;
    /// A member whose name gives it an active meaning on the desktop, or
    /// whose extension disagrees with its content.
    ArchiveMemberType = "archive.member_type", Neutralised;

    MailHtml = "mail.html", Neutralised;
    MailAttachment = "mail.attachment", Removed;
    MailLink = "mail.link", Neutralised;
    MailCharset = "mail.charset", Neutralised;
    MailMalformed = "mail.malformed", Neutralised;
    /// uuencode, yEnc or BinHex blocks inside a text body.
    MailEncodedPayload = "mail.encoded_payload", Removed;

    LimitSize = "limit.size", Blocked;
    LimitDepth = "limit.depth", Blocked;
    LimitCount = "limit.count", Blocked;
    LimitMemory = "limit.memory", Blocked;
    LimitTime = "limit.time", Blocked;
    WorkerCrashed = "worker.crashed", Blocked;
    /// The worker's sandbox stopped a forbidden system call.
    WorkerViolation = "worker.violation", Blocked;
    RebuildFailed = "rebuild.failed", Blocked;

    AvDetected = "av.detected", Blocked;
    AvUnavailable = "av.unavailable", Blocked;
    AvTooLarge = "av.too_large", Blocked;
}

/// A string that is not the name of any [`Code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown finding code `{0}`")]
pub struct UnknownCode(pub String);

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What was done about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The construct was dropped and the file rebuilt without it.
    Removed,
    /// The construct stays visible but inert.
    Neutralised,
    /// Nothing of the file reaches the clean side.
    Blocked,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Removed => "removed",
            Action::Neutralised => "neutralised",
            Action::Blocked => "blocked",
        }
    }
}

/// One danger factor found in a file and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub code: Code,
    pub action: Action,
    /// Where and what, e.g. `object 12: /OpenAction JavaScript`. For
    /// container members it starts with the member's path.
    pub detail: String,
}

impl Finding {
    pub fn new(code: Code, action: Action, detail: impl Into<String>) -> Self {
        Finding {
            code,
            action,
            detail: detail.into(),
        }
    }
}

/// The verdict for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Rebuilt (or, for inspect, checked) and nothing had to be removed.
    Clean,
    /// At least one finding was removed or neutralised.
    Sanitized,
    /// Nothing of the file reaches the clean side.
    Blocked,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Sanitized => "sanitized",
            Verdict::Blocked => "blocked",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_name() {
        for &c in Code::ALL {
            assert_eq!(c.as_str().parse::<Code>().unwrap(), c);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert!("pdf.nonsense".parse::<Code>().is_err());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
