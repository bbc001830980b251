//! One audit record and its hashed line form.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev` of the very first record of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened to one file. `seq`, `prev` and `hash` are added when the
/// record is written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339 with offset; filled in by [`crate::AuditLog::append`] when empty.
    #[serde(default)]
    pub time: String,
    /// The job's id (unique per file handled).
    pub id: String,
    /// Where the file came from, relative to its inbox (or a message id).
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub output_sha256: Option<String>,
    #[serde(rename = "type")]
    pub file_type: String,
    pub output_type: Option<String>,
    /// `clean`, `sanitized` or `blocked`.
    pub verdict: String,
    /// Distinct finding codes.
    pub codes: Vec<String>,
    /// The blocking finding, `code: detail`.
    pub reason: Option<String>,
    pub duration_ms: u64,
    /// Where the result went (relative path of the output or quarantine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Further fields for other producers (e.g. the mail relay).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Record {
    /// The record of `outcome` for file `path` (job `id`, `size` bytes):
    /// hashes, types, verdict, distinct finding codes (sorted) and the
    /// blocking reason (`code: detail`) from the outcome. The time (empty:
    /// filled in when appended), the duration, where the result went and
    /// any further fields are the caller's to set.
    pub fn for_outcome(
        id: impl Into<String>,
        path: impl Into<String>,
        size: u64,
        outcome: &mugai_core::Outcome,
    ) -> Record {
        let mut codes: Vec<String> = outcome
            .findings
            .iter()
            .map(|f| f.code.as_str().to_string())
            .collect();
        codes.sort();
        codes.dedup();
        Record {
            time: String::new(),
            id: id.into(),
            path: path.into(),
            size,
            sha256: outcome.sha256.clone(),
            output_sha256: outcome.output_sha256().map(str::to_string),
            file_type: outcome.input_type.name().to_string(),
            output_type: outcome.output_type().map(|t| t.name().to_string()),
            verdict: outcome.verdict().as_str().to_string(),
            codes,
            reason: outcome.reason_text(),
            duration_ms: 0,
            output: None,
            extra: serde_json::Map::new(),
        }
    }
}

#[derive(Serialize)]
struct Chained<'a> {
    seq: u64,
    prev: &'a str,
    #[serde(flatten)]
    record: &'a Record,
}

/// The fields every chained line has besides the record.
#[derive(Deserialize)]
pub(crate) struct ChainFields {
    pub seq: u64,
    pub prev: String,
}

/// Length of `,"hash":"<64 hex>"}`.
const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

/// Builds the line (without newline) for `record`; returns it and its hash.
pub(crate) fn encode(
    seq: u64,
    prev: &str,
    record: &Record,
) -> Result<(String, String), serde_json::Error> {
    let body = serde_json::to_string(&Chained { seq, prev, record })?;
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    // `body` is a JSON object, so it ends with `}`.
    let open = body.strip_suffix('}').unwrap_or(&body);
    Ok((format!("{open},\"hash\":\"{hash}\"}}"), hash))
}

/// Splits a line into its body (as hashed) and the hash it claims; checks
/// that the claim matches. `Ok(hash)` when the line is intact.
pub(crate) fn check_line(line: &str) -> Result<String, &'static str> {
    if line.len() <= HASH_SUFFIX_LEN || !line.is_char_boundary(line.len() - HASH_SUFFIX_LEN) {
        return Err("not a chained record");
    }
    let (head, tail) = line.split_at(line.len() - HASH_SUFFIX_LEN);
    let claimed = tail
        .strip_prefix(",\"hash\":\"")
        .and_then(|t| t.strip_suffix("\"}"))
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or("not a chained record")?;
    let body = format!("{head}}}");
    let actual = hex::encode(Sha256::digest(body.as_bytes()));
    if actual != claimed {
        return Err("content does not match its hash (edited or forged)");
    }
    Ok(actual)
}

/// Parses the chain fields and the record of an intact line.
pub(crate) fn parse(line: &str) -> Option<(ChainFields, Record)> {
    let chain: ChainFields = serde_json::from_str(line).ok()?;
    let mut value: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).ok()?;
    for k in ["seq", "prev", "hash"] {
        value.remove(k);
    }
    let record: Record = serde_json::from_value(serde_json::Value::Object(value)).ok()?;
    Some((chain, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugai_core::{Action, Code, FileType, Finding, Outcome};

    #[test]
    fn a_record_for_an_outcome_names_its_codes_once_and_its_reason() {
        let f = |c: Code| Finding::new(c, c.default_action(), "d");
        let o = Outcome::blocked(
            FileType::Pdf,
            "aa".into(),
            vec![f(Code::PdfUri), f(Code::PdfJavascript), f(Code::PdfUri)],
            Finding::new(Code::PdfEncrypted, Action::Blocked, "no key"),
        );
        let r = Record::for_outcome("j1", "課/a.pdf", 7, &o);
        assert_eq!(
            (r.id.as_str(), r.path.as_str(), r.size, r.sha256.as_str()),
            ("j1", "課/a.pdf", 7, "aa")
        );
        assert_eq!(r.codes, ["pdf.encrypted", "pdf.javascript", "pdf.uri"]);
        assert_eq!(r.verdict, "blocked");
        assert_eq!(r.file_type, "pdf");
        assert_eq!(r.reason.as_deref(), Some("pdf.encrypted: no key"));
        assert_eq!((r.output_sha256, r.output_type), (None, None));
    }

    #[test]
    fn encoded_lines_check_and_edits_do_not() {
        let r = Record {
            id: "a".into(),
            path: "x/y.txt".into(),
            verdict: "clean".into(),
            ..Record::default()
        };
        let (line, hash) = encode(1, GENESIS, &r).unwrap();
        assert_eq!(check_line(&line).unwrap(), hash);
        let (c, back) = parse(&line).unwrap();
        assert_eq!((c.seq, c.prev.as_str()), (1, GENESIS));
        assert_eq!(back, r);
        let edited = line.replace("y.txt", "z.txt");
        assert!(check_line(&edited).is_err());
        assert!(check_line("{}").is_err());
        assert!(check_line(&"é".repeat(60)).is_err());
    }
}
