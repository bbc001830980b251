//! The ZIP rebuilder through the real engine, in process: every archive
//! case of the corpus, independent checks of every output, policies.

use mugai_core::config::BlockedMember;
use mugai_core::{Code, FileType, Job, Outcome, Policy, Verdict};
use mugai_corpus::archive::{self as gen, RawEntry};
use mugai_engine::Engine;
use std::collections::BTreeSet;
use std::io::Read;

fn run(policy: &Policy, name: &str, bytes: &[u8]) -> Outcome {
    Engine.sanitize(policy, None, &Job::new(name, bytes.to_vec()))
}

fn codes(o: &Outcome) -> BTreeSet<Code> {
    o.findings.iter().map(|f| f.code).collect()
}

/// An independent reading of the central directory (not the crate's
/// parser): (flags, external attributes, raw name) of every entry.
fn central_records(z: &[u8]) -> Vec<(u16, u32, Vec<u8>)> {
    let eocd = z.len() - 22;
    assert_eq!(
        &z[eocd..eocd + 4],
        b"PK\x05\x06",
        "output ends with a bare end record"
    );
    let n = u16::from_le_bytes([z[eocd + 10], z[eocd + 11]]) as usize;
    let mut at = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let mut out = Vec::new();
    for _ in 0..n {
        assert_eq!(&z[at..at + 4], b"PK\x01\x02");
        let u16_at = |o: usize| u16::from_le_bytes([z[at + o], z[at + o + 1]]);
        let flags = u16_at(8);
        let name_len = u16_at(28) as usize;
        let extra_len = u16_at(30) as usize;
        let comment_len = u16_at(32) as usize;
        let ext = u32::from_le_bytes(z[at + 38..at + 42].try_into().unwrap());
        out.push((flags, ext, z[at + 46..at + 46 + name_len].to_vec()));
        at += 46 + name_len + extra_len + comment_len;
    }
    out
}

/// The independent checks every ZIP output must pass: safe UTF-8 names
/// with the flag, no symlinks, nothing encrypted, no duplicates, and each
/// member clean when sanitised again by its own type's rules.
fn check_output_zip(z: &[u8], policy: &Policy) {
    let mut seen = BTreeSet::new();
    for (flags, ext, raw) in central_records(z) {
        assert!(flags & (1 << 11) != 0, "UTF-8 flag set");
        assert!(flags & 1 == 0, "not encrypted");
        assert_eq!(ext >> 16, 0, "no Unix mode, so no symlink");
        let name = String::from_utf8(raw).expect("UTF-8 name");
        assert!(!name.is_empty() && !name.starts_with('/'), "{name}");
        assert!(!name.contains('\\') && !name.contains(':'), "{name}");
        assert!(!name.chars().any(char::is_control), "{name}");
        for comp in name.split('/') {
            assert!(!comp.is_empty() && comp != "." && comp != "..", "{name}");
        }
        assert!(seen.insert(name.to_lowercase()), "duplicate {name}");
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(z)).expect("zip crate reads it");
    assert!(!archive.has_overlapping_files().unwrap_or(true));
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).expect("entry");
        assert!(!f.encrypted());
        assert!(f.unix_mode().is_none_or(|m| m & 0o170000 != 0o120000));
        let name = f.name().expect("name").to_string();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).expect("member reads back");
        let base = name.rsplit('/').next().unwrap_or(&name);
        let again = run(policy, base, &bytes);
        assert_ne!(
            again.verdict(),
            Verdict::Blocked,
            "{name} re-sanitised: {:?}",
            again.reason()
        );
        if again.output_type() == Some(FileType::Zip) {
            // A rebuilt nested ZIP is clean: nothing left to report.
            assert!(again.findings.is_empty(), "{name}: {:?}", again.findings);
            check_output_zip(&bytes, policy);
        } else {
            assert_eq!(
                again.verdict(),
                Verdict::Clean,
                "{name} re-sanitised: {:?}",
                again.findings
            );
        }
    }
}

#[test]
fn every_archive_case_gets_its_expected_verdict_and_codes() {
    let policy = Policy::default();
    let cases = gen::cases();
    assert!(cases.len() >= 35);
    for c in &cases {
        let name = c.path.rsplit('/').next().unwrap();
        let o = run(&policy, name, &c.bytes);
        assert_eq!(
            o.verdict(),
            c.expect.verdict,
            "{}: {:?}",
            c.path,
            o.findings
        );
        assert_eq!(
            o.reason().map(|r| r.code),
            c.expect.reason,
            "{}: {:?}",
            c.path,
            o.reason()
        );
        assert_eq!(codes(&o), c.expect.codes, "{}: {:?}", c.path, o.findings);
        if let Some(out) = o.output().map(|x| &x.bytes) {
            if o.output_type() == Some(FileType::Zip) {
                check_output_zip(out, &policy);
            }
        }
    }
}

#[test]
fn cp932_names_come_out_as_the_right_japanese_utf8() {
    let c = gen::cases()
        .into_iter()
        .find(|c| c.path == "archive/cp932_names.zip")
        .unwrap();
    let o = run(&Policy::default(), "c.zip", &c.bytes);
    let out = &o.output().expect("rebuilt").bytes;
    let names: Vec<String> = central_records(out)
        .into_iter()
        .map(|(_, _, n)| String::from_utf8(n).unwrap())
        .collect();
    assert_eq!(names, gen::CP932_NAMES);
    assert!(o
        .findings
        .iter()
        .any(|f| f.code == Code::ArchiveNameEncoding && f.detail.contains("令和6年度 報告書.txt")));
}

#[test]
fn encrypted_archives_tell_the_user_to_send_without_a_password() {
    let o = run(&Policy::default(), "ppap.zip", &gen::zipcrypto_zip());
    let r = o.reason().unwrap();
    assert_eq!(r.code, Code::ArchiveEncrypted);
    assert!(r.detail.contains("without a password"), "{}", r.detail);
    assert!(r.detail.contains("ZipCrypto") && r.detail.contains("minutes.txt"));
}

#[test]
fn drop_policy_drops_and_lists_blocked_members_but_never_limits() {
    let mut policy = Policy::default();
    policy.archive.blocked_member = BlockedMember::Drop;
    let z = gen::raw_zip(
        &[
            RawEntry::deflated("readme.txt", b"keep me\n"),
            RawEntry::deflated("setup.exe", &gen::pe_bytes()),
            RawEntry::deflated("blob.bin", &[0, 1, 2, 3, 0, 0, 0, 0, 200, 201, 0, 0]),
        ],
        b"",
    );
    let o = run(&policy, "mixed.zip", &z);
    assert_eq!(o.verdict(), Verdict::Sanitized, "{:?}", o.findings);
    let dropped: Vec<_> = o
        .findings
        .iter()
        .filter(|f| f.code == Code::ArchiveMemberDropped)
        .collect();
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(
        dropped[0].detail.contains("setup.exe") && dropped[0].detail.contains("type.executable")
    );
    assert!(dropped[1].detail.contains("blob.bin") && dropped[1].detail.contains("type.unknown"));
    let out = o.into_output().unwrap().bytes;
    let names: Vec<_> = central_records(&out).into_iter().map(|r| r.2).collect();
    assert_eq!(names, vec![b"readme.txt".to_vec()]);
    check_output_zip(&out, &policy);

    // Limits still end the whole archive.
    let bomb = gen::overlap_bomb(50, 1 << 16);
    assert_eq!(
        run(&policy, "b.zip", &bomb).reason().unwrap().code,
        Code::ArchiveBomb
    );
}

#[test]
fn entry_and_expanded_limits_block_as_bombs() {
    let mut policy = Policy::default();
    policy.limits.max_entries = 5;
    let many: Vec<_> = (0..10)
        .map(|i| RawEntry::deflated(&format!("{i}.txt"), b"x\n"))
        .collect();
    let o = run(&policy, "many.zip", &gen::raw_zip(&many, b""));
    assert_eq!(o.reason().unwrap().code, Code::ArchiveBomb);

    // Entries are counted across the tree: 3 + 3 nested is over 5.
    let inner = gen::raw_zip(&many[..3], b"");
    let outer = gen::raw_zip(
        &[
            RawEntry::deflated("a.zip", &inner),
            RawEntry::deflated("b.zip", &inner),
        ],
        b"",
    );
    let o = run(&policy, "tree.zip", &outer);
    assert_eq!(o.reason().unwrap().code, Code::ArchiveBomb);

    let mut policy = Policy::default();
    policy.limits.max_expanded_bytes = 200_000;
    let text = vec![b'a'; 150_000];
    let inner = gen::raw_zip(&[RawEntry::deflated("big.txt", &text)], b"");
    let outer = gen::raw_zip(
        &[
            RawEntry::deflated("1.zip", &inner),
            RawEntry::deflated("2.zip", &inner),
        ],
        b"",
    );
    let o = run(&policy, "grow.zip", &outer);
    let r = o.reason().unwrap();
    assert_eq!(r.code, Code::ArchiveBomb, "{}", r.detail);
    assert!(r.detail.contains("2.zip"), "{}", r.detail);
    // One copy fits.
    let o = run(
        &policy,
        "one.zip",
        &gen::raw_zip(&[RawEntry::deflated("1.zip", &inner)], b""),
    );
    assert_eq!(o.verdict(), Verdict::Clean, "{:?}", o.findings);
}

#[test]
fn nesting_within_the_depth_limit_is_rebuilt_and_past_it_blocked() {
    let policy = Policy::default();
    // max_depth 5: the text file of 5 nested zips sits at depth 5.
    let o = run(&policy, "ok.zip", &gen::nested(5));
    assert_eq!(o.verdict(), Verdict::Clean, "{:?}", o.findings);
    check_output_zip(&o.output().unwrap().bytes, &policy);
    let o = run(&policy, "deep.zip", &gen::nested(6));
    let r = o.reason().unwrap();
    assert_eq!(r.code, Code::LimitDepth);
    assert!(r.detail.contains("level1.zip"), "{}", r.detail);
}

#[test]
fn overlapping_entries_are_refused_before_anything_is_inflated() {
    let policy = Policy::default();
    let o = run(&policy, "o.zip", &gen::overlap_bomb(3, 10));
    let r = o.reason().unwrap();
    assert_eq!(r.code, Code::ArchiveBomb);
    assert!(r.detail.contains("overlap"), "{}", r.detail);
}

#[test]
fn truncated_and_damaged_archives_are_blocked_not_passed() {
    let policy = Policy::default();
    let good = gen::raw_zip(&[RawEntry::deflated("a.txt", b"hello hello hello\n")], b"");
    for cut in [good.len() - 1, good.len() / 2, 10] {
        let o = run(&policy, "t.zip", &good[..cut]);
        assert_eq!(o.verdict(), Verdict::Blocked, "cut {cut}");
    }
    // A flipped data byte: CRC mismatch.
    let mut bad = good.clone();
    bad[40] ^= 0xFF;
    let o = run(&policy, "c.zip", &bad);
    assert_eq!(o.reason().unwrap().code, Code::RebuildFailed);
}

#[test]
fn zip64_written_by_the_zip_crate_is_read() {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    w.start_file("big-format.txt", opts).unwrap();
    w.write_all(b"zip64 headers, small data\n").unwrap();
    let z = w.finish().unwrap().into_inner();
    let o = run(&Policy::default(), "z64.zip", &z);
    assert_eq!(o.verdict(), Verdict::Clean, "{:?}", o.findings);
}
