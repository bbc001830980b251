//! Integration tests: `mugai sanitize --json` over the generated corpus
//! gives exactly the expected verdicts and codes.

use crate::util;
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn every_generated_case_gets_its_expected_verdict_and_codes() {
    let corpus = util::corpus_dir();
    let manifest = mugai_corpus::read_manifest(corpus).expect("manifest");
    let out = tempfile::tempdir().unwrap();
    let q = tempfile::tempdir().unwrap();
    let (o, lines) = util::sanitize_json(
        corpus,
        out.path(),
        &["--quarantine", q.path().to_str().unwrap()],
    );
    assert_ne!(
        o.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    let mut by_input = BTreeMap::new();
    for l in &lines {
        let input = l["input"].as_str().unwrap().to_string();
        assert!(
            by_input.insert(input.clone(), l.clone()).is_none(),
            "two lines for {input}"
        );
    }
    // One line per case plus the manifest itself (a JSON text file).
    assert_eq!(lines.len(), manifest.len() + 1);

    let mut failures = Vec::new();
    for (path, expect) in &manifest {
        let input = corpus.join(path).display().to_string();
        let Some(r) = by_input.get(&input) else {
            failures.push(format!("{path}: no report"));
            continue;
        };
        let verdict = r["verdict"].as_str().unwrap_or("");
        let codes: BTreeSet<String> = util::codes(r);
        let want: BTreeSet<String> = expect
            .codes
            .iter()
            .map(|c| c.as_str().to_string())
            .collect();
        let reason_code = r["reason"]
            .as_str()
            .and_then(|s| s.split(':').next())
            .map(String::from);
        let want_reason = expect.reason.map(|c| c.as_str().to_string());
        if verdict != expect.verdict.as_str() || codes != want || reason_code != want_reason {
            failures.push(format!(
                "{path} ({}): got {verdict} {codes:?} reason {reason_code:?}; want {} {want:?} reason {want_reason:?}; findings {}",
                expect.note, expect.verdict, r["findings"]
            ));
        }
        // Blocked means nothing on the clean side; otherwise an output exists.
        match verdict {
            "blocked" => assert!(r["output"].is_null(), "{path}: blocked but has output"),
            _ => {
                let p = r["output"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path}: no output path"));
                assert!(
                    std::path::Path::new(p).starts_with(out.path()),
                    "{path}: output {p} outside --out"
                );
                let bytes = std::fs::read(p).unwrap();
                assert_eq!(
                    mugai_core::sha256_hex(&bytes),
                    r["output_sha256"].as_str().unwrap(),
                    "{path}: output hash"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        manifest.len(),
        failures.join("\n")
    );
}

#[test]
fn name_findings_rename_the_output() {
    let corpus = util::corpus_dir();
    let out = tempfile::tempdir().unwrap();
    let (_, lines) = util::sanitize_json(&corpus.join("names"), out.path(), &[]);
    let outputs: Vec<String> = lines
        .iter()
        .filter_map(|l| l["output"].as_str())
        .map(|p| {
            std::path::Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(outputs.contains(&"_CON.txt".to_string()), "{outputs:?}");
    assert!(outputs.contains(&"notes.txt".to_string()), "{outputs:?}");
    assert!(outputs.contains(&"memovsc.txt".to_string()), "{outputs:?}");
    for o in &outputs {
        assert!(
            !o.contains(['\\', ':', '\u{202E}', '\u{7}']),
            "unsafe output name {o:?}"
        );
        assert!(o.len() <= 200, "{o} too long");
    }
    // Nothing was written outside --out.
    for entry in std::fs::read_dir(out.path()).unwrap() {
        assert!(entry.unwrap().path().starts_with(out.path()));
    }
}

#[test]
fn shift_jis_csv_stays_shift_jis_with_formulas_quoted() {
    let corpus = util::corpus_dir();
    let out = tempfile::tempdir().unwrap();
    let (o, lines) = util::sanitize_json(&corpus.join("text/hyperlink.csv"), out.path(), &[]);
    assert_eq!(o.status.code(), Some(0));
    let written = std::fs::read(lines[0]["output"].as_str().unwrap()).unwrap();
    let (text, _, errors) = encoding_rs::SHIFT_JIS.decode(&written);
    assert!(!errors, "output is not Shift_JIS");
    assert!(text.contains("山田,'=HYPERLINK("), "{text}");
}
