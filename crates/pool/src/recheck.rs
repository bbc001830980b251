//! The side that trusts re-checks what comes back from a worker: a worker
//! may have been subverted by the file it parsed, so nothing it says is
//! taken on its word. A reply that fails a check blocks the file with
//! `worker.violation`.

use mugai_core::config::{AvScan, OnAvFailure};
use mugai_core::{
    sha256_hex, verdict_of, Blocked, Code, FileType, HeldPart, Job, Outcome, OutcomeFields, Output,
    Policy, ScanResult, Verdict,
};
use std::collections::HashMap;

/// Longest finding detail kept from a worker.
const MAX_DETAIL: usize = 4096;
/// Most findings accepted from a worker for one file.
const MAX_FINDINGS: usize = 100_000;

/// What the parent scanned for a worker during one job, by SHA-256.
#[derive(Debug, Default)]
pub struct Scans {
    results: HashMap<String, ScanResult>,
}

impl Scans {
    pub fn record(&mut self, bytes: &[u8], result: &ScanResult) {
        self.results.insert(sha256_hex(bytes), result.clone());
    }

    /// Whether the bytes of hash `sha256` were scanned with a result that
    /// lets a file pass under `policy`.
    fn passed(&self, sha256: &str, policy: &Policy) -> Result<(), String> {
        match self.results.get(sha256) {
            None => Err("was not scanned".into()),
            Some(ScanResult::Clean) => Ok(()),
            Some(ScanResult::Detected(sig)) => Err(format!("was found to contain {sig}")),
            Some(ScanResult::Unavailable(_)) if policy.av.on_unavailable == OnAvFailure::Allow => {
                Ok(())
            }
            Some(ScanResult::TooLarge) if policy.av.on_too_large == OnAvFailure::Allow => Ok(()),
            Some(_) => Err("could not be scanned".into()),
        }
    }
}

/// Checks a worker's reply against the parent's own view of the input and
/// of the output bytes, and only then builds the [`Outcome`]: a pass is
/// made here, from the bytes received, never taken from the worker.
/// `sha256` is the input's hash, computed once by the parent.
pub fn recheck(
    policy: &Policy,
    job: &Job,
    sha256: &str,
    o: OutcomeFields,
    body: Vec<u8>,
    scans: &Scans,
) -> Outcome {
    recheck_unlocking(policy, job, sha256, o, body, scans, false)
}

/// [`recheck`] for a job that came with passwords (`unlocking`): the
/// parent then lets an encrypted OOXML document through its own checks,
/// as the worker does.
pub fn recheck_unlocking(
    policy: &Policy,
    job: &Job,
    sha256: &str,
    mut o: OutcomeFields,
    body: Vec<u8>,
    scans: &Scans,
    unlocking: bool,
) -> Outcome {
    let (detected, would_block) = mugai_engine::precheck_unlocking(policy, job, unlocking);
    let bad = |why: String| {
        Outcome::blocked(
            detected,
            sha256.to_string(),
            Vec::new(),
            Blocked::new(
                Code::WorkerViolation,
                format!("worker reply rejected: {why}"),
            )
            .into_finding(),
        )
    };
    if o.sha256 != sha256 {
        return bad("input hash differs".into());
    }
    if o.input_type != detected {
        return bad(format!(
            "input type {} differs from the parent's detection ({})",
            o.input_type, detected
        ));
    }
    if o.findings.len() > MAX_FINDINGS {
        return bad("too many findings".into());
    }
    for f in &mut o.findings {
        if f.detail.len() > MAX_DETAIL {
            let mut cut = MAX_DETAIL;
            while !f.detail.is_char_boundary(cut) {
                cut -= 1;
            }
            f.detail.truncate(cut);
        }
    }
    if o.verdict == Verdict::Blocked {
        if !body.is_empty() {
            return bad("a blocked file came back with output".into());
        }
        let Some(reason) = o.reason else {
            return bad("a blocked file came back without a reason".into());
        };
        // Whatever else the worker said about an output is dropped.
        return Outcome::blocked(o.input_type, o.sha256, o.findings, reason);
    }

    // A pass. First: would the parent itself have let this input in?
    if let Some(b) = would_block {
        return bad(format!(
            "the worker passed a file the parent blocks ({}: {})",
            b.code, b.detail
        ));
    }
    if o.reason.is_some() {
        return bad("a passed file came back with a reason".into());
    }
    let Some(name) = o.output_name else {
        return bad("no output name".into());
    };
    let check = mugai_detect::check_name(&name);
    if check.safe_name != name || check.block.is_some() {
        return bad(format!(
            "unsafe output name `{}`",
            mugai_detect::name::printable(&name)
        ));
    }
    let Some(out_type) = o.output_type else {
        return bad("no output type".into());
    };
    if out_type.is_executable() || out_type == FileType::Unknown {
        return bad(format!("output type {out_type}"));
    }
    // The output's type from its own bytes; the label only has to agree.
    if let Err(b) = mugai_engine::check_output_type(out_type, &body) {
        return bad(b.detail);
    }
    let max = policy
        .limits
        .max_expanded_bytes
        .max(policy.limits.max_input_bytes);
    if body.len() as u64 > max {
        return bad("output over the size limit".into());
    }
    let out_sha = sha256_hex(&body);
    if o.output_sha256.as_deref() != Some(out_sha.as_str()) {
        return bad("output hash differs from the bytes sent".into());
    }
    if o.verdict != verdict_of(&o.findings) {
        return bad("verdict does not match the findings".into());
    }
    // The scans the policy asks for must have happened, through the
    // parent, with a result that lets the file pass.
    if policy.av.clamd.is_some() {
        let (orig, out) = match policy.av.scan {
            AvScan::Both => (true, true),
            AvScan::Original => (true, false),
            AvScan::Output => (false, true),
        };
        if orig {
            if let Err(why) = scans.passed(sha256, policy) {
                return bad(format!("the input {why}"));
            }
        }
        if out {
            if let Err(why) = scans.passed(&out_sha, policy) {
                return bad(format!("the output {why}"));
            }
        }
    }
    Outcome::passed(
        o.input_type,
        o.sha256,
        o.findings,
        Output {
            file_type: out_type,
            name,
            bytes: body,
            sha256: out_sha,
        },
    )
}

/// The parts a worker took out of a mail ([`mugai_core::Sanitize::encrypted_zips`]),
/// checked: no more than asked for, lengths that add up to the body, each
/// within the size limit, each a password-protected ZIP, each name already
/// safe to show. Any failed check rejects the whole reply.
pub fn recheck_parts(
    names: Vec<String>,
    lens: &[u64],
    body: &[u8],
    max_parts: usize,
    max_bytes: u64,
) -> Result<Vec<HeldPart>, String> {
    if names.len() != lens.len() || names.len() > max_parts {
        return Err(format!(
            "{} names and {} lengths for at most {max_parts} parts",
            names.len(),
            lens.len()
        ));
    }
    let mut rest = body;
    let mut parts = Vec::with_capacity(names.len());
    for (name, &len) in names.into_iter().zip(lens) {
        if len > max_bytes {
            return Err(format!("a part of {len} bytes is over the limit"));
        }
        let Some((bytes, tail)) = usize::try_from(len)
            .ok()
            .and_then(|n| rest.split_at_checked(n))
        else {
            return Err("the parts' lengths are longer than the body".into());
        };
        if !mugai_mail::parts::is_encrypted_zip(bytes) {
            return Err(format!("part {name:?} is not a password-protected ZIP"));
        }
        if !mugai_mail::parts::is_display_name(&name) {
            return Err(format!("part name {name:?} is not safe to show"));
        }
        parts.push((name, bytes.to_vec()));
        rest = tail;
    }
    if !rest.is_empty() {
        return Err("the body is longer than the parts' lengths".into());
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, bytes: &[u8]) -> Job {
        Job::new(name, bytes.to_vec())
    }

    /// An honest pass for `a.txt`, as the engine would reply.
    fn honest(j: &Job) -> (OutcomeFields, Vec<u8>) {
        mugai_engine::Engine
            .sanitize(&Policy::default(), None, j)
            .into_fields()
    }

    fn code(o: &Outcome) -> Option<Code> {
        o.reason().map(|r| r.code)
    }

    #[test]
    fn an_honest_reply_passes() {
        let p = Policy::default();
        let j = job("a.txt", b"hello\n");
        let sha = sha256_hex(&j.bytes);
        let (o, body) = honest(&j);
        let back = recheck(&p, &j, &sha, o, body, &Scans::default());
        assert_eq!(back.verdict(), Verdict::Clean);
        assert_eq!(back.output().unwrap().bytes, b"hello\n");
    }

    #[test]
    fn a_pass_for_an_executable_is_a_violation() {
        let p = Policy::default();
        let mut pe = b"MZ".to_vec();
        pe.resize(128, 0);
        let exe = job("a.txt", &pe);
        let sha = sha256_hex(&exe.bytes);
        // The worker claims the input was text and returns harmless text.
        let (mut o, body) = honest(&job("a.txt", b"hello\n"));
        o.sha256 = sha.clone();
        o.input_type = mugai_detect::detect(&exe.bytes);
        let back = recheck(&p, &exe, &sha, o, body, &Scans::default());
        assert_eq!(code(&back), Some(Code::WorkerViolation), "{back:?}");
        assert!(back.output().is_none());
    }

    #[test]
    fn a_mislabelled_or_altered_output_is_a_violation() {
        let p = Policy::default();
        let j = job("a.txt", b"hello\n");
        let sha = sha256_hex(&j.bytes);
        // An executable in place of the text output.
        let (o, _) = honest(&j);
        let mut pe = b"MZ".to_vec();
        pe.resize(128, 0);
        let back = recheck(&p, &j, &sha, o, pe, &Scans::default());
        assert_eq!(code(&back), Some(Code::WorkerViolation));
        // Other bytes than the hash the worker reported.
        let (o, _) = honest(&j);
        let back = recheck(&p, &j, &sha, o, b"other\n".to_vec(), &Scans::default());
        assert_eq!(code(&back), Some(Code::WorkerViolation));
        // A wrong input type.
        let (mut o, body) = honest(&j);
        o.input_type = FileType::Png;
        let back = recheck(&p, &j, &sha, o, body, &Scans::default());
        assert_eq!(code(&back), Some(Code::WorkerViolation));
        // A path in the output name.
        let (mut o, body) = honest(&j);
        o.output_name = Some("../a.txt".into());
        let back = recheck(&p, &j, &sha, o, body, &Scans::default());
        assert_eq!(code(&back), Some(Code::WorkerViolation));
    }

    #[test]
    fn a_pass_without_the_scans_the_policy_wants_is_a_violation() {
        let mut p = Policy::default();
        p.av.clamd = Some("/nonexistent/clamd.sock".into());
        let j = job("a.txt", b"hello\n");
        let sha = sha256_hex(&j.bytes);
        let (o, body) = honest(&j);
        let back = recheck(&p, &j, &sha, o, body.clone(), &Scans::default());
        assert_eq!(code(&back), Some(Code::WorkerViolation));
        let mut scans = Scans::default();
        scans.record(&j.bytes, &ScanResult::Clean);
        scans.record(&body, &ScanResult::Detected("Eicar-Test-Signature".into()));
        let (o, body2) = honest(&j);
        let back = recheck(&p, &j, &sha, o, body2, &scans);
        assert_eq!(code(&back), Some(Code::WorkerViolation));
        let mut scans = Scans::default();
        scans.record(&j.bytes, &ScanResult::Clean);
        scans.record(&body, &ScanResult::Clean);
        let (o, body3) = honest(&j);
        let back = recheck(&p, &j, &sha, o, body3, &scans);
        assert_eq!(back.verdict(), Verdict::Clean);
    }

    #[test]
    fn an_inconsistent_reply_is_a_violation_and_a_block_stays_blocked() {
        let p = Policy::default();
        let j = job("a.txt", b"hello\n");
        let sha = sha256_hex(&j.bytes);
        let reason = Blocked::new(Code::TextControl, "x").into_finding();
        // A pass that also names a reason.
        let (mut o, body) = honest(&j);
        o.reason = Some(reason.clone());
        let back = recheck(&p, &j, &sha, o, body, &Scans::default());
        assert_eq!(code(&back), Some(Code::WorkerViolation));
        // A verdict its findings do not give.
        let (mut o, body) = honest(&j);
        o.verdict = Verdict::Sanitized;
        let back = recheck(&p, &j, &sha, o, body, &Scans::default());
        assert_eq!(code(&back), Some(Code::WorkerViolation));
        // A block with output bytes, or without a reason.
        let (mut o, body) = honest(&j);
        o.verdict = Verdict::Blocked;
        o.reason = Some(reason.clone());
        let back = recheck(&p, &j, &sha, o.clone(), body, &Scans::default());
        assert_eq!(code(&back), Some(Code::WorkerViolation));
        let mut no_reason = o.clone();
        no_reason.reason = None;
        let back = recheck(&p, &j, &sha, no_reason, Vec::new(), &Scans::default());
        assert_eq!(code(&back), Some(Code::WorkerViolation));
        // An honest block keeps its reason; the output labels are dropped.
        let back = recheck(&p, &j, &sha, o, Vec::new(), &Scans::default());
        assert_eq!(back.reason(), Some(&reason));
        assert!(back.output().is_none());
    }

    #[test]
    fn parts_from_a_worker_are_checked_before_they_are_kept() {
        let mut zip = b"PK\x03\x04\x14\x00\x01\x00".to_vec();
        zip.resize(40, 7);
        let two = [zip.clone(), zip.clone()].concat();
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = recheck_parts(names(&["a.zip", "b.zip"]), &[40, 40], &two, 5, 100).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1], ("b.zip".to_string(), zip.clone()));
        // Each lie is caught.
        // (names, lengths, body, most parts, largest part)
        type Reply = (Vec<String>, Vec<u64>, Vec<u8>, usize, u64);
        let lies: [Reply; 7] = [
            (names(&["a.zip"]), vec![40, 40], two.clone(), 5, 100),
            (
                names(&["a.zip", "b.zip"]),
                vec![40, 40],
                two.clone(),
                1,
                100,
            ),
            (
                names(&["a.zip", "b.zip"]),
                vec![40, 41],
                two.clone(),
                5,
                100,
            ),
            (names(&["a.zip"]), vec![40], two.clone(), 5, 100),
            (names(&["a.zip"]), vec![40], zip.clone(), 5, 39),
            (names(&["../etc/a.zip"]), vec![40], zip.clone(), 5, 100),
            (
                names(&["a.zip"]),
                vec![40],
                [b"PK\x03\x04\x14\x00\x00".as_slice(), &zip[7..]].concat(),
                5,
                100,
            ),
        ];
        for (i, (n, l, b, max, size)) in lies.into_iter().enumerate() {
            assert!(
                recheck_parts(n, &l, &b, max, size).is_err(),
                "lie {i} was accepted"
            );
        }
    }
}
