//! Integration tests: rebuilders that panic, abort, allocate without bound
//! or loop forever block their own file with the right code, and the batch
//! goes on. (The misbehaving rebuilders exist only in test builds.)

use crate::util;
use std::fs;

#[test]
fn each_failure_blocks_only_its_own_file_with_the_right_code() {
    let src = tempfile::tempdir().unwrap();
    let hooks = [
        ("panic", "rebuild.failed"),
        ("abort", "worker.crashed"),
        ("alloc", "limit.memory"),
        ("loop", "limit.time"),
    ];
    for (h, _) in hooks {
        fs::write(
            src.path().join(format!("{h}.txt")),
            format!("MUGAI-TEST-HOOK:{h}"),
        )
        .unwrap();
    }
    for i in 0..6 {
        fs::write(src.path().join(format!("ok{i}.txt")), format!("fine {i}\n")).unwrap();
    }
    let policy = src.path().join("../mugai-test-policy.toml");
    fs::write(
        &policy,
        "[limits]\ndeadline_secs = 2\nworker_memory_mib = 256\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let (o, lines) = util::sanitize_json(
        src.path(),
        out.path(),
        &["--policy", policy.to_str().unwrap(), "--workers", "2"],
    );
    let _ = fs::remove_file(&policy);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(lines.len(), 10);
    for (h, code) in hooks {
        let l = lines
            .iter()
            .find(|l| l["input"].as_str().unwrap().ends_with(&format!("/{h}.txt")))
            .unwrap();
        assert_eq!(l["verdict"], "blocked", "{h}: {l}");
        assert!(
            l["reason"].as_str().unwrap().starts_with(code),
            "{h}: want {code}, got {}",
            l["reason"]
        );
    }
    for i in 0..6 {
        let l = lines
            .iter()
            .find(|l| {
                l["input"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/ok{i}.txt"))
            })
            .unwrap();
        assert_eq!(l["verdict"], "clean", "ok{i}: {l}");
        assert_eq!(
            fs::read_to_string(out.path().join(format!("ok{i}.txt"))).unwrap(),
            format!("fine {i}\n")
        );
    }
}

#[test]
fn in_process_path_contains_panics_too() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("p.txt"), "MUGAI-TEST-HOOK:panic").unwrap();
    let out = tempfile::tempdir().unwrap();
    let (o, lines) = util::sanitize_json(src.path(), out.path(), &["--in-process"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(lines[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("rebuild.failed"));
}
