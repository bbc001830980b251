//! [`Report`]: the JSON form of one file's outcome, as `mugai sanitize
//! --json` prints it (one line per file) and the REST API returns it.

use crate::finding::{Finding, Verdict};
use crate::job::Outcome;
use serde::Serialize;

/// One file's outcome for machines: one JSON object.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// The input as the caller named it (a path, or an uploaded file's name).
    pub input: String,
    /// Where the output went (a path, or the output's file name); `None`
    /// when nothing was written.
    pub output: Option<String>,
    pub verdict: Verdict,
    #[serde(rename = "type")]
    pub file_type: &'a str,
    pub sha256: &'a str,
    pub output_sha256: Option<&'a str>,
    pub findings: &'a [Finding],
    /// The blocking finding, `code: detail`.
    pub reason: Option<String>,
}

impl<'a> Report<'a> {
    pub fn new(input: String, output: Option<String>, o: &'a Outcome) -> Self {
        Report {
            input,
            output,
            verdict: o.verdict(),
            file_type: o.input_type.name(),
            sha256: &o.sha256,
            output_sha256: o.output_sha256(),
            findings: &o.findings,
            reason: o.reason_text(),
        }
    }

    /// The report as one line of JSON.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
    }
}
