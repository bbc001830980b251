//! Integration tests: archive. The real binary over the generated archive
//! cases, bombs under an address-space limit, the external corpus's ZIPs,
//! policies, and a mutation smoke run of the ZIP rebuilder.

use crate::util;
use mugai_core::FileType;
use mugai_corpus::archive::{self as gen, RawEntry};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs `mugai sanitize --json` over `inputs` with `extra` arguments.
fn sanitize(inputs: &[&Path], out: &Path, extra: &[&str]) -> (std::process::Output, Vec<Value>) {
    let mut cmd = util::mugai();
    cmd.arg("sanitize")
        .arg("--json")
        .arg("--out")
        .arg(out)
        .args(extra);
    cmd.args(inputs);
    let o = cmd.output().expect("run mugai");
    let lines = util::json_lines(&o);
    (o, lines)
}

fn reason_code(r: &Value) -> Option<String> {
    r["reason"]
        .as_str()
        .map(|s| s.split(':').next().unwrap_or("").to_string())
}

/// Independent checks of a rebuilt ZIP with the zip crate: safe UTF-8
/// names with the flag, no symlinks, nothing encrypted, no overlaps, no
/// duplicates. Returns the members, for re-sanitising.
fn check_zip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    // The UTF-8 flag, read from the central records directly.
    let eocd = bytes.len() - 22;
    assert_eq!(&bytes[eocd..eocd + 4], b"PK\x05\x06");
    let mut at = u32::from_le_bytes(bytes[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let n = u16::from_le_bytes([bytes[eocd + 10], bytes[eocd + 11]]);
    for _ in 0..n {
        let flags = u16::from_le_bytes([bytes[at + 8], bytes[at + 9]]);
        assert!(flags & 0x0800 != 0, "UTF-8 flag");
        let len = |o: usize| u16::from_le_bytes([bytes[at + o], bytes[at + o + 1]]) as usize;
        at += 46 + len(28) + len(30) + len(32);
    }
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("readable ZIP");
    assert!(!z.has_overlapping_files().unwrap_or(true));
    let mut seen = BTreeSet::new();
    let mut members = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).expect("entry");
        assert!(!f.encrypted());
        assert!(!f.is_symlink() && !f.is_dir());
        let name = String::from_utf8(f.name_raw().to_vec()).expect("UTF-8 name");
        assert!(f.enclosed_name().is_some(), "{name} escapes");
        assert!(
            !name.starts_with('/') && !name.contains('\\') && !name.contains(':'),
            "{name}"
        );
        assert!(
            name.split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."),
            "{name}"
        );
        assert!(!name.chars().any(char::is_control), "{name}");
        assert!(seen.insert(name.to_lowercase()), "duplicate {name}");
        let mut data = Vec::new();
        f.read_to_end(&mut data).expect("member reads back");
        members.push((name, data));
    }
    members
}

/// Writes every member of every ZIP output under `dir` and runs mugai on
/// them: each must pass its own type's checks (clean; a nested ZIP only
/// reports that it is nested, and its own output is checked the same way).
fn members_pass_their_own_checks(outputs: &[PathBuf], depth: usize) {
    assert!(depth < 8, "runaway nesting");
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (i, out) in outputs.iter().enumerate() {
        let bytes = std::fs::read(out).unwrap();
        for (j, (name, data)) in check_zip(&bytes).into_iter().enumerate() {
            let base = name.rsplit('/').next().unwrap().to_string();
            let p = dir.path().join(format!("{i}-{j}-{base}"));
            std::fs::write(&p, data).unwrap();
            inputs.push(p);
        }
    }
    if inputs.is_empty() {
        return;
    }
    let outdir = tempfile::tempdir().unwrap();
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let (_, reports) = sanitize(&refs, outdir.path(), &[]);
    assert_eq!(reports.len(), inputs.len());
    let mut nested = Vec::new();
    for r in &reports {
        let input = r["input"].as_str().unwrap();
        if r["type"] == "zip" {
            assert_ne!(r["verdict"], "blocked", "{input}: {r}");
            assert!(util::codes(r).is_empty(), "{input}: {r}");
            nested.push(PathBuf::from(r["output"].as_str().unwrap()));
        } else {
            assert_eq!(r["verdict"], "clean", "{input}: {r}");
        }
    }
    if !nested.is_empty() {
        members_pass_their_own_checks(&nested, depth + 1);
    }
}

#[test]
fn archive_cases_match_their_expectations_and_outputs_pass_independent_checks() {
    let corpus = util::corpus_dir();
    let manifest = mugai_corpus::read_manifest(corpus).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (o, reports) = sanitize(&[&corpus.join("archive")], out.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "some archive cases are blocked");
    let archive_cases = manifest
        .keys()
        .filter(|k| k.starts_with("archive/"))
        .count();
    assert_eq!(reports.len(), archive_cases);
    let mut outputs = Vec::new();
    for r in &reports {
        let input = r["input"].as_str().unwrap();
        let rel = Path::new(input).strip_prefix(corpus).unwrap();
        let expect = &manifest[rel.to_str().unwrap()];
        assert_eq!(r["verdict"], expect.verdict.as_str(), "{input}: {r}");
        assert_eq!(
            reason_code(r),
            expect.reason.map(|c| c.as_str().to_string()),
            "{input}"
        );
        let want: BTreeSet<String> = expect
            .codes
            .iter()
            .map(|c| c.as_str().to_string())
            .collect();
        assert_eq!(util::codes(r), want, "{input}: {r}");
        if r["type"] == "zip" && r["verdict"] != "blocked" {
            outputs.push(PathBuf::from(r["output"].as_str().unwrap()));
        }
    }
    assert!(outputs.len() >= 15, "{}", outputs.len());
    members_pass_their_own_checks(&outputs, 0);
}

#[test]
fn cp932_names_are_written_as_japanese_utf8() {
    let corpus = util::corpus_dir();
    let out = tempfile::tempdir().unwrap();
    let (_, reports) = sanitize(&[&corpus.join("archive/cp932_names.zip")], out.path(), &[]);
    let bytes = std::fs::read(reports[0]["output"].as_str().unwrap()).unwrap();
    let names: Vec<String> = check_zip(&bytes).into_iter().map(|m| m.0).collect();
    assert_eq!(names, gen::CP932_NAMES);
}

/// The bomb cases, with a few built here that would need gigabytes if
/// inflated naively, under `prlimit --as=512MiB`: blocked, not killed.
#[test]
fn bombs_are_blocked_not_killed_under_a_512_mib_address_space_limit() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = util::corpus_dir().join("archive");
    let mut cases: Vec<(PathBuf, &str)> = [
        ("ratio_bomb.zip", "archive.bomb"),
        ("overlap_bomb.zip", "archive.bomb"),
        ("recursive_fanout.zip", "archive.bomb"),
        ("recursive_deep.zip", "limit.depth"),
        ("nested_too_deep.zip", "limit.depth"),
        ("size_lie.zip", "rebuild.failed"),
    ]
    .into_iter()
    .map(|(n, c)| (corpus.join(n), c))
    .collect();
    // 1 GiB of zeros in ~1 MiB: declared honestly, and declared as 1000 bytes.
    let big = gen::zeros_entry("zeros.txt", 1024);
    let honest = dir.path().join("gigabyte.zip");
    std::fs::write(&honest, gen::raw_zip(std::slice::from_ref(&big), b"")).unwrap();
    cases.push((honest, "archive.bomb"));
    let liar = dir.path().join("gigabyte_liar.zip");
    let lie = RawEntry {
        uncompressed_size: 1000,
        ..big.clone()
    };
    std::fs::write(&liar, gen::raw_zip(&[lie], b"")).unwrap();
    cases.push((liar, "rebuild.failed"));
    // Fifield-style with 10000 records on a 1 GiB stream.
    let fifield = dir.path().join("fifield_10k.zip");
    std::fs::write(&fifield, gen::overlap_bomb_of(big, 10_000)).unwrap();
    cases.push((fifield, "archive.bomb"));

    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[limits]\nworker_memory_mib = 512\n").unwrap();
    for mode in [
        &["--in-process"][..],
        &["--workers", "1", "--policy", policy.to_str().unwrap()][..],
    ] {
        let out = tempfile::tempdir().unwrap();
        let o = std::process::Command::new("prlimit")
            .arg(format!("--as={}", 512u64 << 20))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_mugai"))
            .args(["sanitize", "--json", "--out"])
            .arg(out.path())
            .args(mode)
            .args(cases.iter().map(|c| &c.0))
            .output()
            .expect("prlimit (util-linux) runs mugai");
        assert_eq!(
            o.status.code(),
            Some(1),
            "{mode:?}: exit status {:?}, stderr {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        let reports = util::json_lines(&o);
        assert_eq!(reports.len(), cases.len(), "{mode:?}");
        let by_input: BTreeMap<String, &Value> = reports
            .iter()
            .map(|r| (r["input"].as_str().unwrap().to_string(), r))
            .collect();
        for (path, code) in &cases {
            let r = by_input[&path.display().to_string()];
            assert_eq!(r["verdict"], "blocked", "{mode:?} {}: {r}", path.display());
            assert_eq!(
                reason_code(r).as_deref(),
                Some(*code),
                "{mode:?} {}: {r}",
                path.display()
            );
        }
    }
}

#[test]
fn blocked_members_are_dropped_and_listed_when_the_policy_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("drop.toml");
    std::fs::write(&policy, "[archive]\nblocked_member = \"drop\"\n").unwrap();
    let input = dir.path().join("mixed.zip");
    std::fs::write(
        &input,
        gen::raw_zip(
            &[
                RawEntry::deflated("報告.txt", "本文\n".as_bytes()),
                RawEntry::deflated("setup.exe", &gen::pe_bytes()),
            ],
            b"",
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (o, r) = sanitize(&[&input], &out, &["--policy", policy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{r:?}");
    assert_eq!(r[0]["verdict"], "sanitized");
    let dropped: Vec<&Value> = r[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "archive.member_dropped")
        .collect();
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0]["detail"].as_str().unwrap().contains("setup.exe"));
    let bytes = std::fs::read(r[0]["output"].as_str().unwrap()).unwrap();
    let names: Vec<String> = check_zip(&bytes).into_iter().map(|m| m.0).collect();
    assert_eq!(names, vec!["報告.txt".to_string()]);

    // The default policy blocks the whole archive for the same member.
    let (_, r) = sanitize(&[&input], &dir.path().join("out2"), &[]);
    assert_eq!(reason_code(&r[0]).as_deref(), Some("type.executable"));
}

/// Every ZIP of the external corpus: sanitised or blocked with a reason,
/// never a crash. Prints the numbers.
#[test]
fn corpus_ext_zips_are_sanitised_or_blocked_with_a_reason() {
    let Some(ext) = util::corpus_ext() else {
        return;
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    for source in std::fs::read_dir(&ext).unwrap().flatten() {
        if !source.path().is_dir() {
            continue;
        }
        for d in std::fs::read_dir(source.path()).unwrap().flatten() {
            if d.file_name().to_string_lossy().starts_with("zip-") {
                dirs.push(d.path());
            }
        }
    }
    dirs.sort();
    assert!(!dirs.is_empty());
    let files: usize = dirs
        .iter()
        .map(|d| std::fs::read_dir(d).unwrap().count())
        .sum();
    let out = tempfile::tempdir().unwrap();
    let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let (o, reports) = sanitize(&refs, out.path(), &[]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{:?}", o.status);
    assert_eq!(reports.len(), files, "one report per file");
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut outputs = Vec::new();
    for r in &reports {
        let input = r["input"].as_str().unwrap();
        let verdict = r["verdict"].as_str().unwrap().to_string();
        let category = Path::new(input)
            .parent()
            .and_then(|p| p.file_name())
            .unwrap()
            .to_string_lossy()
            .to_string();
        let what = match verdict.as_str() {
            "blocked" => {
                let code = reason_code(r).expect("a blocked file has a reason");
                assert!(!code.is_empty(), "{input}");
                format!("blocked {code}")
            }
            "clean" | "sanitized" => {
                if r["type"] == "zip" {
                    outputs.push(PathBuf::from(r["output"].as_str().unwrap()));
                }
                verdict.clone()
            }
            other => panic!("{input}: verdict {other}"),
        };
        eprintln!("corpus-ext {category}: {what}: {input}");
        *counts.entry((category.clone(), what)).or_default() += 1;
        if category == "zip-encrypted" {
            assert_eq!(
                reason_code(r).as_deref(),
                Some("archive.encrypted"),
                "{input}"
            );
        }
    }
    for ((cat, what), n) in &counts {
        eprintln!("corpus-ext summary: {cat}: {what}: {n}");
    }
    members_pass_their_own_checks(&outputs, 0);
}

#[test]
fn mutation_smoke_zip() {
    let seeds: Vec<Vec<u8>> = gen::cases()
        .into_iter()
        // Small seeds; the fan-out bomb costs seconds per run by design.
        .filter(|c| {
            c.path.ends_with(".zip") && c.bytes.len() < 16 * 1024 && !c.path.contains("fanout")
        })
        .map(|c| c.bytes)
        .collect();
    assert!(seeds.len() >= 25);
    let report = mugai_engine::fuzz::smoke(
        FileType::Zip,
        &seeds,
        200_000,
        Duration::from_secs(45),
        Duration::from_secs(20),
    );
    eprintln!(
        "zip mutation smoke: {} runs, {} rebuilt, {} blocked, slowest {:?}",
        report.runs, report.rebuilt, report.blocked, report.slowest
    );
    assert!(
        report.panics.is_empty(),
        "panics: {:?}",
        report.panics.first().map(|p| &p.1)
    );
    assert!(report.runs >= 5_000, "{} runs", report.runs);
    assert!(report.rebuilt > 0 && report.blocked > 0);
    assert!(
        report.slowest < Duration::from_secs(5),
        "{:?}",
        report.slowest
    );
}
