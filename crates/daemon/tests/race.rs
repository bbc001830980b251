//! A subfolder of the inbox swapped for a symbolic link to a victim folder
//! (here: the daemon's own audit folder and a folder of secrets), over and
//! over while jobs take files through that subfolder: nothing outside the
//! inbox is ever moved or read.

use mugai_audit::AuditLog;
use mugai_core::Config;
use mugai_daemon::inbox::FileId;
use mugai_daemon::job::{Handled, Shared};
use mugai_daemon::journal::Journal;
use mugai_daemon::metrics::Metrics;
use mugai_daemon::Dirs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

fn id_of(p: &Path) -> FileId {
    let m = std::fs::symlink_metadata(p).unwrap();
    FileId {
        dev: m.dev(),
        ino: m.ino(),
    }
}

fn all_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_subfolder_swapped_for_a_link_never_leads_outside_the_inbox() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut d = Dirs {
        inbox: root.join("inbox"),
        clean: root.join("clean"),
        quarantine: root.join("quarantine"),
        originals: root.join("originals"),
        state: root.join("state"),
        audit: root.join("audit"),
    };
    d.create().unwrap();
    let victim = root.join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("f.txt"), "SECRET victim file\n").unwrap();
    let s = Shared::new(
        d.clone(),
        Arc::new(Config::default()),
        Arc::new(mugai_engine::InProcess),
        Journal::open(&d.journal()).unwrap(),
        AuditLog::open(&d.audit).unwrap(),
        Arc::new(Metrics::default()),
    )
    .unwrap();
    // One record, so that the audit log file exists and is a target.
    std::fs::write(d.inbox.join("first.txt"), "first\n").unwrap();
    let first = s.inbox.stat(Path::new("first.txt")).unwrap().id;
    assert!(matches!(
        s.take(Path::new("first.txt"), first).1.unwrap(),
        Handled::Done { .. }
    ));
    let audit_file = std::fs::read_dir(&d.audit)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let audit_name = audit_file.file_name().unwrap().to_owned();
    let audit_id = id_of(&audit_file);
    let victim_id = id_of(&victim.join("f.txt"));
    let victim_before = all_files(&victim);

    let sub = d.inbox.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let (stop, swaps, inbox, audit, victim) = (
            stop.clone(),
            swaps.clone(),
            d.inbox.clone(),
            d.audit.clone(),
            victim.clone(),
        );
        std::thread::spawn(move || {
            let (real, link) = (inbox.join("sub"), inbox.join("sub.real"));
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let target = if n.is_multiple_of(2) { &audit } else { &victim };
                if std::fs::rename(&real, &link).is_ok() {
                    let _ = std::os::unix::fs::symlink(target, &real);
                    std::thread::yield_now();
                    let _ = std::fs::remove_file(&real);
                    let _ = std::fs::rename(&link, &real);
                    std::thread::yield_now();
                    n += 1;
                    swaps.store(n, Ordering::Relaxed);
                }
            }
        })
    };

    // Each round drops a file into the real subfolder, then tries to take
    // it and, as if a scan had looked through the link, the victim's file
    // and the audit log under the same subfolder, with their identities.
    // The real subfolder, held open: files are written into it through
    // its handle, never through the name that may be a link.
    let sub_handle = std::fs::File::open(&sub).unwrap();
    let sub_by_handle = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&sub_handle)
    ));
    let rounds = 400;
    let mut delivered = 0;
    for i in 0..rounds {
        let f = format!("f{i}.txt");
        std::fs::write(sub_by_handle.join(&f), format!("round {i}\n")).unwrap();
        let rel = Path::new("sub").join(&f);
        // Bounded retries: under load the swapper may hold the link in
        // place for many attempts in a row.
        for _ in 0..5000 {
            if let Ok(m) = s.inbox.stat(&rel) {
                if let Ok(Handled::Done { .. }) = s.take(&rel, m.id).1 {
                    delivered += 1;
                    break;
                }
            }
            std::thread::yield_now();
        }
        let _ = s.take(Path::new("sub/f.txt"), victim_id).1;
        let _ = s.take(&Path::new("sub").join(&audit_name), audit_id).1;
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    let swaps = swaps.load(Ordering::Relaxed);
    eprintln!("{rounds} rounds, {swaps} swaps, {delivered} delivered");
    assert!(swaps > 1000, "the swapper raced only {swaps} times");
    assert!(
        delivered > rounds / 10,
        "only {delivered} delivered: the test raced nothing"
    );

    assert_eq!(all_files(&victim), victim_before, "the victim was touched");
    assert_eq!(
        id_of(&audit_file),
        audit_id,
        "the audit log was moved or replaced"
    );
    for (p, bytes) in all_files(&d.clean)
        .into_iter()
        .chain(all_files(&d.originals))
        .chain(all_files(&d.quarantine))
    {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("SECRET") && !text.contains("\"prev\""),
            "{} holds a file from outside the inbox: {text}",
            p.display()
        );
    }
    let report = mugai_audit::verify(&mugai_audit::files_in(&d.audit).unwrap()).unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert_eq!(report.records, 1 + delivered);
}
