//! One file's job and outcome, and the [`Sanitize`] seam behind which
//! rebuilding runs (in process, or in a worker process).

use crate::config::Policy;
use crate::filetype::FileType;
use crate::finding::{Action, Finding, Verdict};
use serde::{Deserialize, Serialize};

/// One file to sanitise.
#[derive(Debug, Clone)]
pub struct Job {
    /// The file's name (its last path component), used for the name and
    /// extension checks. Never trusted for the type.
    pub name: String,
    pub bytes: Vec<u8>,
    /// The type the caller knows the file to be (the relay: a mail), in
    /// place of what the name's extension claims. The content must still
    /// be of that type, or the file is blocked as a type mismatch.
    pub declared: Option<FileType>,
}

impl Job {
    /// A file known by its name only.
    pub fn new(name: impl Into<String>, bytes: Vec<u8>) -> Job {
        Job {
            name: name.into(),
            bytes,
            declared: None,
        }
    }

    /// The same job, declared to be of type `t`.
    pub fn declared(mut self, t: FileType) -> Job {
        self.declared = Some(t);
        self
    }
}

/// What happened to one file: blocked with a reason, or passed with an
/// output. Built only through [`Outcome::blocked`] and [`Outcome::passed`],
/// so a pass always carries its output and a block always its reason.
///
/// The serialised form (reports, stored API jobs, the work queue, the
/// worker pipe) is the flat [`OutcomeFields`]; the output's bytes are not
/// part of it, so a deserialised pass has empty `bytes` until its holder
/// attaches the bytes it fetched and checked against `sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The detected true type of the input.
    pub input_type: FileType,
    pub sha256: String,
    pub findings: Vec<Finding>,
    pub disposition: Disposition,
}

/// Whether a file was blocked or passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Blocked: nothing is written but the quarantine entry.
    Blocked {
        /// The finding that blocked the file (also in the findings).
        reason: Finding,
    },
    /// Passed: the rebuilt file.
    Passed(Output),
}

/// A rebuilt file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The output's type.
    pub file_type: FileType,
    /// The safe name to write the output under: name findings
    /// neutralised, extension matching the output type.
    pub name: String,
    /// The rebuilt bytes.
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes` (lower-case hex), computed on the trusting side.
    pub sha256: String,
}

impl Outcome {
    /// A blocked outcome; `reason` is added to the findings if missing.
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
            input_type,
            sha256,
            findings,
            disposition: Disposition::Blocked { reason },
        }
    }

    /// A passed outcome.
    pub fn passed(
        input_type: FileType,
        sha256: String,
        findings: Vec<Finding>,
        output: Output,
    ) -> Self {
        Outcome {
            input_type,
            sha256,
            findings,
            disposition: Disposition::Passed(output),
        }
    }

    /// Blocked; else sanitised when any finding changed the file (an
    /// action other than blocked), else clean.
    pub fn verdict(&self) -> Verdict {
        match &self.disposition {
            Disposition::Blocked { .. } => Verdict::Blocked,
            Disposition::Passed(_) => verdict_of(&self.findings),
        }
    }

    pub fn is_blocked(&self) -> bool {
        matches!(self.disposition, Disposition::Blocked { .. })
    }

    /// The output, when the file passed.
    pub fn output(&self) -> Option<&Output> {
        match &self.disposition {
            Disposition::Passed(o) => Some(o),
            Disposition::Blocked { .. } => None,
        }
    }

    /// The output when the file passed, else the finding that blocked it.
    pub fn as_result(&self) -> Result<&Output, &Finding> {
        match &self.disposition {
            Disposition::Passed(o) => Ok(o),
            Disposition::Blocked { reason } => Err(reason),
        }
    }

    /// The output, when the file passed, by value.
    pub fn into_output(self) -> Option<Output> {
        match self.disposition {
            Disposition::Passed(o) => Some(o),
            Disposition::Blocked { .. } => None,
        }
    }

    /// The output, mutably (to attach bytes fetched for a deserialised
    /// outcome).
    pub fn output_mut(&mut self) -> Option<&mut Output> {
        match &mut self.disposition {
            Disposition::Passed(o) => Some(o),
            Disposition::Blocked { .. } => None,
        }
    }

    /// The finding that blocked the file, when it was blocked.
    pub fn reason(&self) -> Option<&Finding> {
        match &self.disposition {
            Disposition::Blocked { reason } => Some(reason),
            Disposition::Passed(_) => None,
        }
    }

    /// The blocking finding as `code: detail`, when blocked.
    pub fn reason_text(&self) -> Option<String> {
        self.reason().map(|r| format!("{}: {}", r.code, r.detail))
    }

    /// The output's SHA-256, when the file passed.
    pub fn output_sha256(&self) -> Option<&str> {
        self.output().map(|o| o.sha256.as_str())
    }

    /// The output's type, when the file passed.
    pub fn output_type(&self) -> Option<FileType> {
        self.output().map(|o| o.file_type)
    }

    /// The output's name, when the file passed.
    pub fn output_name(&self) -> Option<&str> {
        self.output().map(|o| o.name.as_str())
    }

    /// The flat serialised form and the output's bytes (empty when
    /// blocked), without copying either.
    pub fn into_fields(self) -> (OutcomeFields, Vec<u8>) {
        let verdict = self.verdict();
        let (reason, output) = match self.disposition {
            Disposition::Blocked { reason } => (Some(reason), None),
            Disposition::Passed(o) => (None, Some(o)),
        };
        let (output_type, output_name, output_sha256, bytes) = match output {
            Some(o) => (Some(o.file_type), Some(o.name), Some(o.sha256), o.bytes),
            None => (None, None, None, Vec::new()),
        };
        let fields = OutcomeFields {
            verdict,
            input_type: self.input_type,
            output_type,
            output_name,
            findings: self.findings,
            reason,
            sha256: self.sha256,
            output_sha256,
        };
        (fields, bytes)
    }

    /// The flat serialised form (without the output's bytes).
    pub fn fields(&self) -> OutcomeFields {
        let out = self.output();
        OutcomeFields {
            verdict: self.verdict(),
            input_type: self.input_type,
            output_type: out.map(|o| o.file_type),
            output_name: out.map(|o| o.name.clone()),
            findings: self.findings.clone(),
            reason: self.reason().cloned(),
            sha256: self.sha256.clone(),
            output_sha256: out.map(|o| o.sha256.clone()),
        }
    }
}

/// The verdict of a pass with these findings: sanitised when any finding
/// changed the file (an action other than blocked), else clean.
pub fn verdict_of(findings: &[Finding]) -> Verdict {
    if findings.iter().any(|f| f.action != Action::Blocked) {
        Verdict::Sanitized
    } else {
        Verdict::Clean
    }
}

/// An [`Outcome`] as it is serialised: flat, with optional fields that an
/// outcome keeps consistent. What comes in this form from elsewhere (a
/// worker, a stored job) becomes an [`Outcome`] only through
/// [`OutcomeFields::into_outcome`], which refuses an inconsistent one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeFields {
    pub verdict: Verdict,
    pub input_type: FileType,
    pub output_type: Option<FileType>,
    pub output_name: Option<String>,
    pub findings: Vec<Finding>,
    pub reason: Option<Finding>,
    pub sha256: String,
    pub output_sha256: Option<String>,
}

/// Why [`OutcomeFields`] do not make an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent outcome: {0}")]
pub struct Inconsistent(pub &'static str);

impl OutcomeFields {
    /// The outcome these fields describe, with `bytes` as the output's
    /// bytes when it passed. The fields must agree with each other (a
    /// block has a reason and no output; a pass has an output type, name
    /// and hash, no reason, and the verdict its findings give); `bytes`
    /// are not checked against the hash here.
    pub fn into_outcome(self, bytes: Vec<u8>) -> Result<Outcome, Inconsistent> {
        let OutcomeFields {
            verdict,
            input_type,
            output_type,
            output_name,
            findings,
            reason,
            sha256,
            output_sha256,
        } = self;
        if verdict == Verdict::Blocked {
            let Some(reason) = reason else {
                return Err(Inconsistent("blocked without a reason"));
            };
            if output_type.is_some()
                || output_name.is_some()
                || output_sha256.is_some()
                || !bytes.is_empty()
            {
                return Err(Inconsistent("blocked with an output"));
            }
            return Ok(Outcome {
                input_type,
                sha256,
                findings,
                disposition: Disposition::Blocked { reason },
            });
        }
        if reason.is_some() {
            return Err(Inconsistent("passed with a reason"));
        }
        let (Some(file_type), Some(name), Some(out_sha)) =
            (output_type, output_name, output_sha256)
        else {
            return Err(Inconsistent("passed without an output"));
        };
        if verdict_of(&findings) != verdict {
            return Err(Inconsistent("verdict does not match the findings"));
        }
        Ok(Outcome::passed(
            input_type,
            sha256,
            findings,
            Output {
                file_type,
                name,
                bytes,
                sha256: out_sha,
            },
        ))
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Borrowed, so that serialising does not copy the findings.
        #[derive(Serialize)]
        struct Flat<'a> {
            verdict: Verdict,
            input_type: FileType,
            output_type: Option<FileType>,
            output_name: Option<&'a str>,
            findings: &'a [Finding],
            reason: Option<&'a Finding>,
            sha256: &'a str,
            output_sha256: Option<&'a str>,
        }
        Flat {
            verdict: self.verdict(),
            input_type: self.input_type,
            output_type: self.output_type(),
            output_name: self.output_name(),
            findings: &self.findings,
            reason: self.reason(),
            sha256: &self.sha256,
            output_sha256: self.output_sha256(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        OutcomeFields::deserialize(d)?
            .into_outcome(Vec::new())
            .map_err(serde::de::Error::custom)
    }
}

/// Where files are sanitised. The CLI, the daemon and the relay hold a
/// `dyn Sanitize`; the worker pool and the in-process engine implement it.
pub trait Sanitize: Send + Sync {
    fn sanitize(&self, policy: &Policy, job: Job) -> Outcome;

    /// The same, for a caller that has already hashed the input on this
    /// side of the worker boundary: `sha256` is the SHA-256 of
    /// `job.bytes` (lower-case hex), so that it is not computed again.
    /// The output's `sha256` is, as always, the hash of its bytes
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    fn pass(findings: Vec<Finding>) -> Outcome {
        Outcome::passed(
            FileType::Text,
            "aa".into(),
            findings,
            Output {
                file_type: FileType::Text,
                name: "a.txt".into(),
                bytes: b"hi".to_vec(),
                sha256: "bb".into(),
            },
        )
    }

    #[test]
    fn the_verdict_follows_the_disposition_and_findings() {
        assert_eq!(pass(vec![]).verdict(), Verdict::Clean);
        let removed = Finding::new(Code::TextControl, Action::Removed, "x");
        assert_eq!(pass(vec![removed]).verdict(), Verdict::Sanitized);
        let b = Finding::new(Code::TypeExecutable, Action::Blocked, "pe");
        let o = Outcome::blocked(FileType::Executable, "aa".into(), vec![], b.clone());
        assert_eq!(o.verdict(), Verdict::Blocked);
        assert_eq!(o.reason(), Some(&b));
        assert_eq!(o.findings, vec![b]);
        assert!(o.output().is_none() && o.is_blocked());
    }

    #[test]
    fn the_flat_form_is_unchanged_and_round_trips_without_bytes() {
        let o = pass(vec![]);
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(
            json,
            r#"{"verdict":"clean","input_type":"text","output_type":"text","output_name":"a.txt","findings":[],"reason":null,"sha256":"aa","output_sha256":"bb"}"#
        );
        let back: Outcome = serde_json::from_str(&json).unwrap();
        assert_eq!(back.output().unwrap().bytes, b"");
        assert_eq!(back.output_sha256(), Some("bb"));
        let b = Outcome::blocked(
            FileType::Unknown,
            "aa".into(),
            vec![],
            Finding::new(Code::TypeUnknown, Action::Blocked, "?"),
        );
        let back: Outcome = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn inconsistent_fields_make_no_outcome() {
        let good = pass(vec![]).fields();
        let mut f = good.clone();
        f.verdict = Verdict::Blocked;
        assert!(
            f.into_outcome(Vec::new()).is_err(),
            "blocked without reason"
        );
        let mut f = good.clone();
        f.output_name = None;
        assert!(f.into_outcome(Vec::new()).is_err(), "pass without a name");
        let mut f = good.clone();
        f.verdict = Verdict::Sanitized;
        assert!(f.into_outcome(Vec::new()).is_err(), "verdict vs findings");
        let mut f = good.clone();
        f.reason = Some(Finding::new(Code::TypeUnknown, Action::Blocked, "?"));
        assert!(f.into_outcome(Vec::new()).is_err(), "pass with a reason");
        let out = good.into_outcome(b"hi".to_vec()).unwrap();
        assert_eq!(out, pass(vec![]));
    }
}
