//! Shared helpers: the binary, the generated corpus, the external corpus.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `mugai` binary under test.
pub fn mugai() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mugai"))
}

/// The generated corpus, written once per test run.
pub fn corpus_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        mugai_corpus::write(dir.path(), &mugai_corpus::all()).expect("write corpus");
        dir
    })
    .path()
}

/// `../shared/corpus-ext` beside the repository (or `$MUGAI_CORPUS_EXT`).
/// `None`, with a message, when it is absent (a user's fresh clone).
pub fn corpus_ext() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MUGAI_CORPUS_EXT") {
        return Some(PathBuf::from(p));
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = repo.join("../shared/corpus-ext");
    if p.join("MANIFEST.tsv").exists() {
        Some(p.canonicalize().unwrap_or(p))
    } else {
        skip("../shared/corpus-ext is absent (set MUGAI_CORPUS_EXT)");
        None
    }
}

/// The daemon's folders, each given as `--NAME DIR`.
pub const DAEMON_DIRS: [&str; 6] = [
    "inbox",
    "clean",
    "quarantine",
    "originals",
    "state",
    "audit",
];

/// Reports that a test skips for a missing component. Under `CI=true` a
/// skip is a failure: CI installs every component the tests need.
pub fn skip(why: &str) {
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but a test would skip: {why}"
    );
    eprintln!("skipping: {why}");
}

/// Runs `mugai` with `args`; returns the output.
pub fn run(args: &[&std::ffi::OsStr]) -> Output {
    mugai().args(args).output().expect("run mugai")
}

/// Parses JSON Lines from stdout.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// `mugai sanitize --json --out OUT [extra...] INPUT` → (output, reports).
pub fn sanitize_json(input: &Path, out: &Path, extra: &[&str]) -> (Output, Vec<Value>) {
    let mut cmd = mugai();
    cmd.arg("sanitize").arg("--json").arg("--out").arg(out);
    cmd.args(extra);
    cmd.arg(input);
    let o = cmd.output().expect("run mugai");
    let lines = json_lines(&o);
    (o, lines)
}

/// The distinct finding codes of a report line.
pub fn codes(report: &Value) -> std::collections::BTreeSet<String> {
    report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
