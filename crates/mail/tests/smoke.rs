//! Mutation smoke test: byte-level mutations of the mail cases (and of the
//! external corpus's mail, when present) through the mail rebuilder without
//! the engine's panic guard.

use mugai_core::FileType;
use std::path::Path;
use std::time::Duration;

#[test]
fn mutated_mail_never_panics_or_hangs() {
    let mut seeds: Vec<Vec<u8>> = mugai_corpus::mail::cases()
        .into_iter()
        .filter(|c| c.bytes.len() < 64 * 1024)
        .map(|c| c.bytes)
        .collect();
    let ext = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus-ext"
    ));
    for dir in [
        "stalwartlabs_mail-parser/eml-malformed",
        "mikel_mail/eml-benign",
        "jhillyerd_enmime/eml-malformed",
    ] {
        for f in std::fs::read_dir(ext.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(b) = std::fs::read(f.path()) {
                if b.len() < 64 * 1024 {
                    seeds.push(b);
                }
            }
        }
    }
    assert!(seeds.len() >= 10);
    let r = mugai_engine::fuzz::smoke(
        FileType::Eml,
        &seeds,
        100_000,
        Duration::from_secs(40),
        Duration::from_secs(10),
    );
    println!(
        "mail smoke: {} runs, {} rebuilt, {} blocked, slowest {:?}",
        r.runs, r.rebuilt, r.blocked, r.slowest
    );
    assert!(
        r.panics.is_empty(),
        "panics: {:?}",
        r.panics.iter().map(|p| &p.1).collect::<Vec<_>>()
    );
    assert!(r.runs >= 20_000, "only {} runs", r.runs);
    assert!(
        r.slowest < Duration::from_secs(2),
        "slowest {:?}",
        r.slowest
    );
}
