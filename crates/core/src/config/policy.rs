//! The policy: allowed types, per-type choices and limits.

use crate::filetype::FileType;
use serde::{Deserialize, Serialize};

/// Everything that decides what happens to a file. Sent to the worker with
/// each job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub types: TypesPolicy,
    pub limits: Limits,
    pub text: TextPolicy,
    pub pdf: PdfPolicy,
    pub office: OfficePolicy,
    pub image: ImagePolicy,
    pub archive: ArchivePolicy,
    pub mail: MailPolicy,
    pub av: AvPolicy,
}

impl Policy {
    /// The embedded default policy.
    pub fn embedded() -> Policy {
        crate::Config::embedded().policy
    }

    pub fn allows(&self, t: FileType) -> bool {
        self.types.allow.contains(&t)
    }

    pub fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        for t in &self.types.allow {
            if t.is_executable() || *t == FileType::Unknown || *t == FileType::TestHook {
                e.push(format!("`types.allow`: `{t}` can never be allowed"));
            }
        }
        let l = &self.limits;
        let positive: [(&str, u64); 9] = [
            ("max_input_bytes", l.max_input_bytes),
            ("max_expanded_bytes", l.max_expanded_bytes),
            ("max_depth", u64::from(l.max_depth)),
            ("max_entries", l.max_entries),
            ("max_ratio", l.max_ratio),
            ("max_image_pixels", l.max_image_pixels),
            ("max_objects", l.max_objects),
            ("max_nesting", u64::from(l.max_nesting)),
            ("deadline_secs", l.deadline_secs),
        ];
        for (k, v) in positive {
            if v == 0 {
                e.push(format!("`limits.{k}`: must be greater than 0"));
            }
        }
        if l.worker_memory_mib < 64 {
            e.push("`limits.worker_memory_mib`: must be at least 64".into());
        }
        if self.av.on_stale == OnStaleSignatures::Block {
            if self.av.on_unavailable != OnAvFailure::Block {
                e.push("`av.on_stale = \"block\"` needs `av.on_unavailable = \"block\"` (stale signatures make the scanner unavailable)".into());
            }
            if self.av.max_signature_age_hours == 0 {
                e.push(
                    "`av.on_stale = \"block\"` needs `av.max_signature_age_hours` greater than 0"
                        .into(),
                );
            }
        }
        if !(1..=100).contains(&self.image.jpeg_quality) {
            e.push("`image.jpeg_quality`: must be from 1 to 100".into());
        }
        if self.av.timeout_secs == 0 {
            e.push("`av.timeout_secs`: must be greater than 0".into());
        }
        if let Some(addr) = &self.av.clamd {
            if addr.is_empty() {
                e.push("`av.clamd`: empty address (omit the key to disable scanning)".into());
            }
        }
        e
    }
}

/// `[types]`: the allow-list and what to do when name and content disagree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TypesPolicy {
    /// True types that may be rebuilt; everything else is `type.unknown`.
    pub allow: Vec<FileType>,
    /// A known extension that disagrees with the content.
    pub on_mismatch: MismatchAction,
}

impl Default for TypesPolicy {
    fn default() -> Self {
        use FileType::*;
        TypesPolicy {
            allow: vec![
                Text, Csv, Tsv, Pdf, Rtf, Docx, Docm, Dotx, Dotm, Xlsx, Xlsm, Xltx, Xltm, Pptx,
                Pptm, Potx, Potm, Ppsx, Ppsm, Doc, Xls, Ppt, Jpeg, Png, Gif, Bmp, Tiff, Webp, Zip,
                Eml, Msg,
            ],
            on_mismatch: MismatchAction::Block,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchAction {
    /// Block with `type.mismatch`.
    Block,
    /// Rebuild as the true type (if allowed) and name the output for it.
    Rebuild,
}

/// `[limits]`: every bound on what one input may cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest input file.
    pub max_input_bytes: u64,
    /// Bytes produced by decompression/extraction across the whole tree.
    pub max_expanded_bytes: u64,
    /// Container nesting: 1 means members of the top-level file only.
    pub max_depth: u32,
    /// Entries (archive members, package parts) across the whole tree.
    pub max_entries: u64,
    /// Largest compression ratio of one archive member.
    pub max_ratio: u64,
    /// Largest image, in pixels (width × height × frames).
    pub max_image_pixels: u64,
    /// Largest number of objects in one document (PDF objects, XML elements).
    pub max_objects: u64,
    /// Deepest nesting inside one document (PDF dictionaries, XML elements).
    pub max_nesting: u32,
    /// Wall-clock deadline per top-level file.
    pub deadline_secs: u64,
    /// Address-space limit of a worker process.
    pub worker_memory_mib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 256 << 20,
            max_expanded_bytes: 1 << 30,
            max_depth: 5,
            max_entries: 10_000,
            max_ratio: 200,
            max_image_pixels: 100_000_000,
            max_objects: 1_000_000,
            max_nesting: 64,
            deadline_secs: 60,
            worker_memory_mib: 2048,
        }
    }
}

/// `[text]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextPolicy {
    /// Prefix CSV/TSV cells starting with `= + - @`, tab or CR with `'`.
    pub csv_formula_guard: bool,
    pub output_encoding: TextEncoding,
}

impl Default for TextPolicy {
    fn default() -> Self {
        TextPolicy {
            csv_formula_guard: true,
            output_encoding: TextEncoding::Original,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    /// Write back in the encoding the input was in.
    Original,
    #[serde(rename = "utf-8")]
    Utf8,
}

/// What to do with links (PDF URI actions, OOXML hyperlinks, mail URLs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkAction {
    /// The visible text stays; the target goes (or is defanged).
    Neutralise,
    Keep,
}

/// `[pdf]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PdfPolicy {
    pub uri: LinkAction,
    /// Embedded font programs: kept after a full parse, or all dropped.
    pub fonts: FontPrograms,
    /// JBIG2, JPX and CCITT images.
    pub image_codecs: ImageCodecs,
    /// Streams that do not decode with their declared filters.
    pub damaged_streams: DamagedStreams,
    /// Flate data that decodes exactly: encoded anew, or kept as it is.
    pub flate: FlateData,
}

impl Default for PdfPolicy {
    fn default() -> Self {
        PdfPolicy {
            uri: LinkAction::Neutralise,
            fonts: FontPrograms::Rebuild,
            image_codecs: ImageCodecs::Reencode,
            damaged_streams: DamagedStreams::Drop,
            flate: FlateData::Reencode,
        }
    }
}

/// `[pdf] fonts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FontPrograms {
    /// Kept (re-compressed) when they parse fully as the format they
    /// claim; dropped otherwise.
    Rebuild,
    /// Always dropped; text shows in a substitute font.
    Drop,
}

/// `[pdf] image_codecs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageCodecs {
    /// JBIG2 and CCITT images are decoded by memory-safe decoders and
    /// stored with Flate; JPX images are dropped.
    Reencode,
    /// Images in these codecs are dropped and reported.
    Drop,
}

/// `[pdf] damaged_streams`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DamagedStreams {
    /// The stream is dropped and reported.
    Drop,
    /// The file is blocked.
    Block,
}

/// `[pdf] flate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlateData {
    /// Every kept stream's data is encoded anew.
    Reencode,
    /// A stream whose only filter is Flate without a predictor, and whose
    /// bytes are one zlib stream that decodes completely with the right
    /// checksum and nothing after it, keeps its bytes when the checks
    /// leave its data as it was: every conforming reader decodes them to
    /// that data, and encoding it anew would only cost time.
    KeepExact,
}

/// `[office]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfficePolicy {
    pub hyperlinks: LinkAction,
}

impl Default for OfficePolicy {
    fn default() -> Self {
        OfficePolicy {
            hyperlinks: LinkAction::Neutralise,
        }
    }
}

/// `[image]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImagePolicy {
    /// JPEG re-encoding quality, 1–100.
    pub jpeg_quality: u8,
    /// How a JPEG is rebuilt.
    pub jpeg: JpegRebuild,
}

impl Default for ImagePolicy {
    fn default() -> Self {
        ImagePolicy {
            jpeg_quality: 90,
            jpeg: JpegRebuild::Coefficients,
        }
    }
}

/// `image.jpeg`: how a JPEG is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JpegRebuild {
    /// A new JPEG written from the decoded DCT coefficients (lossless);
    /// files it cannot handle are decoded to pixels and re-encoded.
    Coefficients,
    /// Always decoded to pixels and re-encoded at `jpeg_quality`.
    Pixels,
}

/// `[archive]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchivePolicy {
    pub blocked_member: BlockedMember,
}

impl Default for ArchivePolicy {
    fn default() -> Self {
        ArchivePolicy {
            blocked_member: BlockedMember::Block,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockedMember {
    /// One blocked member blocks the whole archive.
    Block,
    /// Blocked members are dropped and listed.
    Drop,
}

/// `[mail]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailPolicy {
    pub links: LinkAction,
    pub attachments: MailAttachments,
    /// Language of the notice at the top of converted mail (`ja` or `en`).
    pub notice_language: String,
    /// Replaces the built-in notice text when set.
    pub notice: Option<String>,
    pub output_charset: MailCharset,
}

impl Default for MailPolicy {
    fn default() -> Self {
        MailPolicy {
            links: LinkAction::Neutralise,
            attachments: MailAttachments::List,
            notice_language: "ja".into(),
            notice: None,
            output_charset: MailCharset::Utf8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailAttachments {
    /// Remove every attachment and list it in the body.
    List,
    /// Sanitise each attachment and attach the result.
    Sanitize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailCharset {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "iso-2022-jp")]
    Iso2022Jp,
}

/// `[av]`: the malware scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AvPolicy {
    /// clamd address: a UNIX socket path or `tcp:HOST:PORT`. No scanning
    /// when absent.
    pub clamd: Option<String>,
    pub scan: AvScan,
    pub on_unavailable: OnAvFailure,
    pub on_too_large: OnAvFailure,
    pub timeout_secs: u64,
    /// clamd's signature database may be at most this old (from its
    /// `VERSION` date); 0 turns the check off.
    pub max_signature_age_hours: u64,
    /// Older signatures: a warning (`warn`), or every scan fails closed
    /// as `av.unavailable` (`block`).
    pub on_stale: OnStaleSignatures,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnStaleSignatures {
    Warn,
    Block,
}

impl Default for AvPolicy {
    fn default() -> Self {
        AvPolicy {
            clamd: None,
            scan: AvScan::Both,
            on_unavailable: OnAvFailure::Block,
            on_too_large: OnAvFailure::Block,
            timeout_secs: 30,
            max_signature_age_hours: 48,
            on_stale: OnStaleSignatures::Warn,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvScan {
    Original,
    Output,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnAvFailure {
    /// Fail closed: block the file.
    Block,
    /// Let the file through unscanned, with a finding in the report.
    Allow,
}
