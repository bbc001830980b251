//! The per-file context a rebuilder works in.

use crate::budget::Budget;
use crate::config::Policy;
use crate::config::{AvScan, OnAvFailure};
use crate::finding::{Action, Code, Finding};
use crate::rebuild::{Blocked, Rebuilt};
use crate::scan::{ScanResult, Scanner};

/// Which copy of a file a scan looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStage {
    Original,
    Output,
}

/// The result of sanitising one member of a container.
pub type MemberOutcome = Result<Rebuilt, Blocked>;

/// The way back from a container's rebuilder into the dispatcher, so that
/// a member is sanitised by its own type's rules. Implemented by the engine.
pub trait Dispatch {
    /// Detects `bytes`' true type, checks it against the policy and rebuilds
    /// it in the member context `cx`.
    fn dispatch(&self, name: &str, bytes: &[u8], cx: &mut Context<'_>) -> MemberOutcome;
}

/// The [`Dispatch`] of a file that has no members (and of rebuilder
/// tests): a member asked for is blocked.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMembers;

impl Dispatch for NoMembers {
    fn dispatch(&self, name: &str, _: &[u8], cx: &mut Context<'_>) -> MemberOutcome {
        Err(cx.block(
            Code::TypeUnknown,
            format!("no member is expected here ({name})"),
        ))
    }
}

/// State of one file (or member) being rebuilt.
pub struct Context<'a> {
    policy: &'a Policy,
    budget: &'a Budget,
    dispatch: &'a dyn Dispatch,
    scanner: Option<&'a dyn Scanner>,
    depth: u32,
    path: String,
    findings: Vec<Finding>,
    passwords: &'a [String],
}

impl<'a> Context<'a> {
    /// The context of a top-level file.
    pub fn new(
        policy: &'a Policy,
        budget: &'a Budget,
        dispatch: &'a dyn Dispatch,
        scanner: Option<&'a dyn Scanner>,
    ) -> Self {
        Context {
            policy,
            budget,
            dispatch,
            scanner,
            depth: 0,
            path: String::new(),
            findings: Vec::new(),
            passwords: &[],
        }
    }

    /// The same context with passwords to try on encrypted content (an
    /// unlock the recipient asked for); members inherit them.
    pub fn with_passwords(mut self, passwords: &'a [String]) -> Self {
        self.passwords = passwords;
        self
    }

    /// The passwords to try on encrypted content, in order; empty unless
    /// this is an unlock. Never to be recorded in a finding.
    pub fn passwords(&self) -> &'a [String] {
        self.passwords
    }

    pub fn policy(&self) -> &'a Policy {
        self.policy
    }

    pub fn budget(&self) -> &'a Budget {
        self.budget
    }

    pub fn scanner(&self) -> Option<&'a dyn Scanner> {
        self.scanner
    }

    /// 0 for the top-level file, 1 for its members, and so on.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The member path (`outer.zip/inner.docx/word/media/a.png`), empty at
    /// the top level.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Records a finding; the detail is prefixed with the member path.
    pub fn record(&mut self, code: Code, action: Action, detail: impl Into<String>) {
        let detail = self.qualify(detail.into());
        self.findings.push(Finding::new(code, action, detail));
    }

    /// Records that `code` was removed.
    pub fn removed(&mut self, code: Code, detail: impl Into<String>) {
        self.record(code, Action::Removed, detail);
    }

    /// Records that `code` was neutralised.
    pub fn neutralised(&mut self, code: Code, detail: impl Into<String>) {
        self.record(code, Action::Neutralised, detail);
    }

    /// A [`Blocked`] whose detail names the member path.
    pub fn block(&self, code: Code, detail: impl Into<String>) -> Blocked {
        Blocked::new(code, self.qualify(detail.into()))
    }

    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Forgets the findings recorded after the first `len`, e.g. those of
    /// an attempt that is about to be made again.
    pub fn truncate_findings(&mut self, len: usize) {
        self.findings.truncate(len);
    }

    pub fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }

    pub fn check_deadline(&self) -> Result<(), Blocked> {
        self.budget.check_deadline().map_err(|b| self.requalify(b))
    }

    pub fn charge_expanded(&self, n: u64) -> Result<(), Blocked> {
        self.budget
            .charge_expanded(n)
            .map_err(|b| self.requalify(b))
    }

    pub fn charge_entries(&self, n: u64) -> Result<(), Blocked> {
        self.budget.charge_entries(n).map_err(|b| self.requalify(b))
    }

    /// Sanitises a container member by its own type's rules, one level
    /// deeper. Its findings join this context's, named by the member path.
    /// A returned `Blocked` already names the member.
    pub fn member(&mut self, name: &str, bytes: &[u8]) -> MemberOutcome {
        let max = self.policy.limits.max_depth;
        if self.depth + 1 > max {
            return Err(self.block(
                Code::LimitDepth,
                format!("{name}: nested deeper than {max} levels"),
            ));
        }
        let mut child = Context {
            policy: self.policy,
            budget: self.budget,
            dispatch: self.dispatch,
            scanner: self.scanner,
            depth: self.depth + 1,
            path: if self.path.is_empty() {
                name.to_string()
            } else {
                format!("{}/{}", self.path, name)
            },
            findings: Vec::new(),
            passwords: self.passwords,
        };
        let dispatch = self.dispatch;
        let result = dispatch.dispatch(name, bytes, &mut child);
        if result.is_ok() {
            self.findings.append(&mut child.findings);
        }
        result
    }

    /// Scans `bytes` (this file's original, or its rebuilt output) if the
    /// policy asks for that stage. A hit, or a scanner failure under a
    /// fail-closed policy, is a `Blocked` naming this member's path.
    pub fn scan(&self, stage: ScanStage, bytes: &[u8]) -> Result<(), Blocked> {
        self.scan_named(None, stage, bytes)
    }

    /// Scans a part of this file that is not dispatched as a member of its
    /// own (e.g. an XML part of an Office package), so that a hit names
    /// the part.
    pub fn scan_part(&self, part: &str, bytes: &[u8]) -> Result<(), Blocked> {
        self.scan_named(Some(part), ScanStage::Original, bytes)
    }

    fn scan_named(
        &self,
        part: Option<&str>,
        stage: ScanStage,
        bytes: &[u8],
    ) -> Result<(), Blocked> {
        let Some(scanner) = self.scanner else {
            return Ok(());
        };
        let av = &self.policy.av;
        let wanted = matches!(
            (av.scan, stage),
            (AvScan::Both, _)
                | (AvScan::Original, ScanStage::Original)
                | (AvScan::Output, ScanStage::Output)
        );
        if !wanted {
            return Ok(());
        }
        let what = match (part, stage) {
            (Some(p), _) => format!("{p}: "),
            (None, ScanStage::Original) => String::new(),
            (None, ScanStage::Output) => "rebuilt output: ".to_string(),
        };
        match scanner.scan(bytes) {
            ScanResult::Clean => Ok(()),
            ScanResult::Detected(sig) => {
                Err(self.block(Code::AvDetected, format!("{what}{sig} found")))
            }
            ScanResult::Unavailable(why) => match av.on_unavailable {
                OnAvFailure::Block => Err(self.block(
                    Code::AvUnavailable,
                    format!("{what}scanner unavailable: {why}"),
                )),
                OnAvFailure::Allow => Ok(()),
            },
            ScanResult::TooLarge => match av.on_too_large {
                OnAvFailure::Block => Err(self.block(
                    Code::AvTooLarge,
                    format!(
                        "{what}{} bytes is over the scanner's stream limit",
                        bytes.len()
                    ),
                )),
                OnAvFailure::Allow => Ok(()),
            },
        }
    }

    fn qualify(&self, detail: String) -> String {
        if self.path.is_empty() {
            detail
        } else if detail.is_empty() {
            self.path.clone()
        } else {
            format!("{}: {}", self.path, detail)
        }
    }

    fn requalify(&self, b: Blocked) -> Blocked {
        Blocked::new(b.code, self.qualify(b.detail))
    }
}
