//! Shared pieces of mugai's benchmarks: inputs from the generated corpus
//! and from the external corpus, when present.

use std::path::{Path, PathBuf};

/// `../shared/corpus-ext` beside the repository, or `$MUGAI_CORPUS_EXT`.
pub fn corpus_ext() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MUGAI_CORPUS_EXT") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus-ext");
    p.join("MANIFEST.tsv").exists().then_some(p)
}

/// Every file under `dir` whose path contains `/<category>` (e.g. `/pdf-`),
/// with its bytes.
pub fn files_in(dir: &Path, category: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().contains(category) {
                if let Ok(b) = std::fs::read(&p) {
                    out.push((p, b));
                }
            }
        }
    }
    out.sort();
    out
}
