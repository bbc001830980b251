//! Deterministic generator of mugai's test corpus.
//!
//! Every [`Case`] is a file built in code (no downloads) with its
//! [`Expect`]ed verdict and finding codes. [`all`] returns every case;
//! [`write`] writes them under a directory with one `expected.json`
//! manifest. Integration tests run the real `mugai` binary over the written
//! corpus and compare. Each format family has its own module.

pub mod archive;
pub mod build;
pub mod image;
pub mod mail;
pub mod office;
pub mod pdf;
pub mod text;
pub mod types;

use mugai_core::{Code, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// One generated test file.
#[derive(Debug, Clone)]
pub struct Case {
    /// Relative path under the corpus directory, e.g. `pdf/open_action_js.pdf`.
    pub path: String,
    pub bytes: Vec<u8>,
    pub expect: Expect,
}

/// What mugai must say about a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    pub verdict: Verdict,
    /// Exactly the set of distinct finding codes in the report.
    pub codes: BTreeSet<Code>,
    /// For blocked cases, the code of the reason.
    pub reason: Option<Code>,
    /// What the case is about.
    pub note: String,
}

impl Case {
    pub fn new(path: impl Into<String>, bytes: Vec<u8>, expect: Expect) -> Self {
        Case {
            path: path.into(),
            bytes,
            expect,
        }
    }
}

impl Expect {
    /// Rebuilt with nothing to remove.
    pub fn clean(note: &str) -> Self {
        Expect {
            verdict: Verdict::Clean,
            codes: BTreeSet::new(),
            reason: None,
            note: note.into(),
        }
    }

    /// Rebuilt with these codes removed or neutralised.
    pub fn sanitized(codes: &[Code], note: &str) -> Self {
        Expect {
            verdict: Verdict::Sanitized,
            codes: codes.iter().copied().collect(),
            reason: None,
            note: note.into(),
        }
    }

    /// Blocked for `reason`; `also` lists other codes reported on the way.
    pub fn blocked(reason: Code, also: &[Code], note: &str) -> Self {
        let mut codes: BTreeSet<Code> = also.iter().copied().collect();
        codes.insert(reason);
        Expect {
            verdict: Verdict::Blocked,
            codes,
            reason: Some(reason),
            note: note.into(),
        }
    }
}

/// Every case of every family.
pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(types::cases());
    v.extend(text::cases());
    v.extend(pdf::cases());
    v.extend(office::cases());
    v.extend(image::cases());
    v.extend(archive::cases());
    v.extend(mail::cases());
    v
}

/// The manifest file written beside the cases.
pub const MANIFEST: &str = "expected.json";

/// Writes `cases` under `dir` and the manifest mapping path to [`Expect`].
pub fn write(dir: &Path, cases: &[Case]) -> std::io::Result<()> {
    let mut manifest = std::collections::BTreeMap::new();
    for c in cases {
        let p = dir.join(&c.path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, &c.bytes)?;
        if manifest.insert(c.path.clone(), c.expect.clone()).is_some() {
            return Err(std::io::Error::other(format!(
                "duplicate case path {}",
                c.path
            )));
        }
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(MANIFEST), json)
}

/// Reads a manifest written by [`write`].
pub fn read_manifest(dir: &Path) -> std::io::Result<std::collections::BTreeMap<String, Expect>> {
    let bytes = std::fs::read(dir.join(MANIFEST))?;
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    #[test]
    fn generation_is_deterministic_and_paths_unique() {
        let a = super::all();
        let b = super::all();
        assert_eq!(a.len(), b.len());
        let mut paths = std::collections::HashSet::new();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.path, y.path);
            assert!(x.bytes == y.bytes, "{} is not deterministic", x.path);
            assert!(paths.insert(x.path.clone()), "duplicate {}", x.path);
        }
    }
}
