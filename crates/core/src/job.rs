//! One file's job and outcome, and the [`Sanitize`] seam behind which
//! rebuilding runs (in process, or in a worker process).

use crate::config::Policy;
use crate::filetype::FileType;
use crate::finding::{Finding, Verdict};
use serde::{Deserialize, Serialize};

/// One file to sanitise.
#[derive(Debug, Clone)]
pub struct Job {
    /// The file's name (its last path component), used for the name and
    /// extension checks. Never trusted for the type.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// The detected true type of the input.
    pub input_type: FileType,
    /// The output's type (`None` when blocked).
    pub output_type: Option<FileType>,
    /// The safe name to write the output under (`None` when blocked): name
    /// findings neutralised, extension matching the output type.
    pub output_name: Option<String>,
    /// The rebuilt bytes (`None` when blocked).
    #[serde(skip)]
    pub output: Option<Vec<u8>>,
    pub findings: Vec<Finding>,
    /// The finding that blocked the file (`None` unless blocked).
    pub reason: Option<Finding>,
    pub sha256: String,
    pub output_sha256: Option<String>,
}

impl Outcome {
    /// A blocked outcome.
    pub fn blocked(
        input_type: FileType,
        sha256: String,
        mut findings: Vec<Finding>,
        reason: Finding,
    ) -> Self {
        if !findings.contains(&reason) {
            findings.push(reason.clone());
        }
        Outcome {
            verdict: Verdict::Blocked,
            input_type,
            output_type: None,
            output_name: None,
            output: None,
            findings,
            reason: Some(reason),
            sha256,
            output_sha256: None,
        }
    }
}

/// Where files are sanitised. The CLI, the daemon and the relay hold a
/// `dyn Sanitize`; the worker pool and the in-process engine implement it.
pub trait Sanitize: Send + Sync {
    fn sanitize(&self, policy: &Policy, job: Job) -> Outcome;

    /// The same, for a caller that has already hashed the input on this
    /// side of the worker boundary: `sha256` is the SHA-256 of
    /// `job.bytes` (lower-case hex), so that it is not computed again.
    /// The outcome's `output_sha256` is, as always, the hash of `output`
    /// computed on this side.
    fn sanitize_hashed(&self, policy: &Policy, job: Job, sha256: String) -> Outcome {
        let _ = sha256;
        self.sanitize(policy, job)
    }

    /// Rebuilds a password-protected file after decrypting it, where the
    /// rebuild runs (the worker process for the pool), with the first of
    /// `passwords` that opens it or each member: a ZIP (ZipCrypto, WinZip
    /// AES), an encrypted OOXML document (agile or standard encryption) or
    /// a PDF with a user password, nested in each other too. Where that is
    /// not possible the file stays blocked as encrypted.
    fn sanitize_unlocked(&self, policy: &Policy, job: Job, passwords: &Passwords) -> Outcome {
        let _ = (policy, passwords);
        Outcome::blocked(
            crate::FileType::Unknown,
            crate::sha256_hex(&job.bytes),
            Vec::new(),
            Finding::new(
                crate::Code::ArchiveEncrypted,
                crate::Action::Blocked,
                "unlocking is not available here",
            ),
        )
    }

    /// Takes the password-protected ZIP attachments out of a mail, where
    /// the rebuild runs (the worker process for the pool), so that the
    /// mail is parsed only there: at most `max_parts`, each at most the
    /// policy's `max_input_bytes`. Empty when the mail has none, when it
    /// cannot be parsed, and where this is not available.
    fn encrypted_zips(&self, policy: &Policy, mail: &[u8], max_parts: usize) -> Vec<HeldPart> {
        let _ = (policy, mail, max_parts);
        Vec::new()
    }
}

/// An attachment taken out of a mail by [`Sanitize::encrypted_zips`]:
/// its name (safe to show, no path) and bytes.
pub type HeldPart = (String, Vec<u8>);

/// The detail (after any member path) of an `archive.encrypted`,
/// `ooxml.encrypted` or `pdf.encrypted` block when none of the given
/// passwords opens the file or member.
pub const WRONG_PASSWORD: &str = "no given password opens";

/// Whether `reason` says that the given passwords were wrong (as opposed
/// to an unlock that worked but whose content was blocked).
pub fn is_wrong_password(reason: &Finding) -> bool {
    matches!(
        reason.code,
        crate::Code::ArchiveEncrypted | crate::Code::OoxmlEncrypted | crate::Code::PdfEncrypted
    ) && reason.detail.contains(WRONG_PASSWORD)
}

/// Passwords for [`Sanitize::sanitize_unlocked`]: never printed (the debug
/// form is redacted), never stored.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Passwords(pub Vec<String>);

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Passwords([{} redacted])", self.0.len())
    }
}

impl Passwords {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
