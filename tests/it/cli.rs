//! Integration tests: the CLI's contract (arguments, exit codes, errors,
//! where files go).

use crate::util::{self, mugai};
use std::fs;

fn one_line_stderr(o: &std::process::Output) -> String {
    let s = String::from_utf8_lossy(&o.stderr).trim().to_string();
    assert_eq!(
        s.lines().count(),
        1,
        "expected one line of stderr, got {s:?}"
    );
    s
}

#[test]
fn missing_out_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), "x").unwrap();
    let o = mugai()
        .arg("sanitize")
        .arg(dir.path().join("a.txt"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(one_line_stderr(&o).contains("--out"));
}

#[test]
fn unreadable_input_is_an_io_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.txt");
    let dangling = dir.path().join("dangling.txt");
    std::os::unix::fs::symlink(dir.path().join("gone"), &dangling).unwrap();
    for input in [&missing, &dangling] {
        let o = mugai()
            .args(["sanitize", "--out"])
            .arg(dir.path().join("out"))
            .arg(input)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        let first = err.lines().next().unwrap_or("");
        assert!(
            first.contains(&*input.file_name().unwrap().to_string_lossy()),
            "{err}"
        );
        assert!(first.contains("no such file"), "{err}");
    }
}

#[test]
fn out_inside_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), "x").unwrap();
    let o = mugai()
        .args(["sanitize", "--out"])
        .arg(dir.path().join("sub/out"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(one_line_stderr(&o).contains("inside the input directory"));
    assert!(!dir.path().join("sub").exists(), "nothing may be created");
}

#[test]
fn malformed_and_misspelt_policies_are_rejected_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), "x").unwrap();
    let cases = [
        (
            "misspelt.toml",
            "[limits]\nmax_depht = 3\n",
            "limits.max_depht",
        ),
        (
            "malformed.toml",
            "[limits\nmax_depth = 3\n",
            "malformed.toml",
        ),
        (
            "badvalue.toml",
            "[image]\njpeg_quality = 500\n",
            "image.jpeg_quality",
        ),
        (
            "badtype.toml",
            "[types]\nallow = [\"pdf\", \"exe-ish\"]\n",
            "types.allow",
        ),
    ];
    for (name, text, needle) in cases {
        let p = dir.path().join(name);
        fs::write(&p, text).unwrap();
        let o = mugai()
            .args(["sanitize", "--policy"])
            .arg(&p)
            .arg("--out")
            .arg(dir.path().join("out"))
            .arg(dir.path().join("a.txt"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}");
        let line = one_line_stderr(&o);
        assert!(line.contains(needle), "{name}: {line}");
    }
    let o = mugai()
        .arg("check-config")
        .arg(dir.path().join("misspelt.toml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = mugai().arg("check-config").output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "the embedded configuration is valid"
    );
}

#[test]
fn outputs_keep_relative_paths_and_never_overwrite() {
    let src = tempfile::tempdir().unwrap();
    fs::create_dir_all(src.path().join("a/b")).unwrap();
    fs::write(src.path().join("a/b/memo.txt"), "hello\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let (o, lines) = util::sanitize_json(src.path(), out.path(), &[]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(lines.len(), 1);
    }
    assert_eq!(
        fs::read_to_string(out.path().join("a/b/memo.txt")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        fs::read_to_string(out.path().join("a/b/memo (1).txt")).unwrap(),
        "hello\n"
    );
    let leftovers: Vec<_> = fs::read_dir(out.path().join("a/b"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".mugai-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn symlinks_inside_input_directories_are_not_followed() {
    let secret = tempfile::tempdir().unwrap();
    fs::write(secret.path().join("secret.txt"), "do not copy\n").unwrap();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("ok.txt"), "fine\n").unwrap();
    std::os::unix::fs::symlink(
        secret.path().join("secret.txt"),
        src.path().join("link.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(secret.path(), src.path().join("linkdir")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (_, lines) = util::sanitize_json(src.path(), out.path(), &[]);
    assert_eq!(lines.len(), 1, "only ok.txt is an input");
    assert!(!out.path().join("link.txt").exists());
    assert!(!out.path().join("linkdir").exists());
}

#[test]
fn blocked_inputs_go_to_quarantine_with_a_reason_and_exit_1() {
    let src = tempfile::tempdir().unwrap();
    let mut pe = b"MZ".to_vec();
    pe.resize(256, 0);
    fs::write(src.path().join("invoice.pdf"), &pe).unwrap();
    fs::write(src.path().join("ok.txt"), "fine\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let q = tempfile::tempdir().unwrap();
    let (o, lines) = util::sanitize_json(
        src.path(),
        out.path(),
        &["--quarantine", q.path().to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    let blocked = lines.iter().find(|l| l["verdict"] == "blocked").unwrap();
    assert_eq!(blocked["type"], "executable");
    assert!(blocked["output"].is_null());
    assert!(blocked["reason"]
        .as_str()
        .unwrap()
        .starts_with("type.executable"));
    assert_eq!(blocked["findings"][0]["action"], "blocked");
    assert_eq!(fs::read(q.path().join("invoice.pdf")).unwrap(), pe);
    let reason: serde_json::Value =
        serde_json::from_slice(&fs::read(q.path().join("invoice.pdf.reason.json")).unwrap())
            .unwrap();
    assert_eq!(reason["reason"]["code"], "type.executable");
    assert!(!out.path().join("invoice.pdf").exists());
    for key in [
        "input",
        "output",
        "verdict",
        "type",
        "sha256",
        "output_sha256",
        "findings",
        "reason",
    ] {
        assert!(lines[0].get(key).is_some(), "JSON report lacks {key}");
    }
}

#[test]
fn inspect_writes_nothing_and_exits_by_what_it_found() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("clean.txt"), "fine\n").unwrap();
    let o = mugai()
        .args(["inspect", "--json"])
        .arg(src.path().join("clean.txt"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(util::json_lines(&o)[0]["verdict"], "clean");
    fs::write(src.path().join("f.csv"), "a,=1+1\n").unwrap();
    let o = mugai()
        .args(["inspect", "--json"])
        .arg(src.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let lines = util::json_lines(&o);
    let f = lines
        .iter()
        .find(|l| l["input"].as_str().unwrap().ends_with("f.csv"))
        .unwrap();
    assert_eq!(f["verdict"], "sanitized");
    assert!(f["output"].is_null());
    let names: Vec<_> = fs::read_dir(src.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "inspect wrote something: {names:?}");
}

#[test]
fn human_output_has_one_line_per_file_and_a_total() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "x\n").unwrap();
    fs::write(src.path().join("b.csv"), "=1\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = mugai()
        .args(["sanitize", "--out"])
        .arg(out.path())
        .arg(src.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.contains("sanitized") && stdout.contains("text.formula"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("2 files sanitised: 1 clean, 1 sanitized, 0 blocked"),
        "{stderr}"
    );
}
