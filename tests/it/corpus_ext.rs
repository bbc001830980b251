//! Integration tests: the whole external corpus (real-world files written
//! by others) goes through without a crash or hang, one report per file,
//! and only types with a rebuilder reach --out.

use crate::util;
use std::collections::BTreeMap;

#[test]
fn whole_external_corpus_one_report_per_file_no_crash() {
    let Some(ext) = util::corpus_ext() else {
        return;
    };
    let files: Vec<_> = walk(&ext);
    let out = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (o, lines) = util::sanitize_json(&ext, out.path(), &[]);
    let elapsed = started.elapsed();
    assert_ne!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.code().is_some(), "mugai was killed by a signal");
    assert_eq!(lines.len(), files.len(), "one JSON line per input file");

    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    for l in &lines {
        *verdicts
            .entry(l["verdict"].as_str().unwrap().to_string())
            .or_default() += 1;
        if l["verdict"] == "blocked" {
            assert!(l["output"].is_null());
            assert!(
                l["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "blocked without a reason: {l}"
            );
        } else {
            let p = l["output"].as_str().unwrap();
            let bytes = std::fs::read(p).unwrap();
            let t = mugai_detect::detect(&bytes);
            let rebuildable = t.is_text()
                || t.is_ooxml()
                || t.is_raster_image()
                || matches!(
                    t,
                    mugai_core::FileType::Pdf
                        | mugai_core::FileType::Rtf
                        | mugai_core::FileType::Doc
                        | mugai_core::FileType::Xls
                        | mugai_core::FileType::Ppt
                        | mugai_core::FileType::Zip
                        | mugai_core::FileType::Eml
                );
            assert!(rebuildable, "{p}: written output of type {t}");
        }
    }
    eprintln!(
        "corpus-ext: {} files in {:.1?}: {verdicts:?}",
        files.len(),
        elapsed
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            v.extend(walk(&e.path()));
        } else if t.is_file() {
            v.push(e.path());
        }
    }
    v
}
