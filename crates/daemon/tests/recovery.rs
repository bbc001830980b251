//! Recovery from each crash point of a job, in process: the states a
//! crash can leave are built by hand, then a fresh start redoes the job.

use mugai_audit::AuditLog;
use mugai_core::Config;
use mugai_daemon::job::{Handled, Shared};
use mugai_daemon::journal::{Entry, Journal};
use mugai_daemon::metrics::Metrics;
use mugai_daemon::Dirs;
use std::path::Path;
use std::sync::Arc;

fn dirs(root: &Path) -> Dirs {
    let mut d = Dirs {
        inbox: root.join("inbox"),
        clean: root.join("clean"),
        quarantine: root.join("quarantine"),
        originals: root.join("originals"),
        state: root.join("state"),
        audit: root.join("audit"),
    };
    d.create().unwrap();
    d
}

/// A start of the daemon's job machinery (journal and audit reopened).
fn start(d: &Dirs) -> Shared {
    Shared::new(
        d.clone(),
        Arc::new(Config::default()),
        Arc::new(mugai_engine::InProcess),
        Journal::open(&d.journal()).unwrap(),
        AuditLog::open(&d.audit).unwrap(),
        Arc::new(Metrics::default()),
    )
    .unwrap()
}

/// Takes `rel` as the daemon does once it has settled.
fn take(s: &Shared, rel: &str) -> std::io::Result<Handled> {
    let id = s.inbox.stat(Path::new(rel)).unwrap().id;
    s.take(Path::new(rel), id).1
}

fn audit_lines(d: &Dirs) -> Vec<serde_json::Value> {
    mugai_audit::files_in(&d.audit)
        .unwrap()
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(
                    e.path()
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

/// Handles `a.csv` once, then rewinds to the state a crash after the
/// output link leaves: input back in work, `Claim` and `Out` journalled,
/// a stale temporary file; either before the notice, or after the notice
/// and the audit record.
fn crashed_after_link(keep_audit: bool) -> (tempfile::TempDir, Dirs, String) {
    let tmp = tempfile::tempdir().unwrap();
    let d = dirs(tmp.path());
    std::fs::write(d.inbox.join("a.csv"), "x,=1+1\n").unwrap();
    let s = start(&d);
    let Handled::Done { output, .. } = take(&s, "a.csv").unwrap() else {
        panic!("not done")
    };
    assert_eq!(output, "a.csv");
    drop(s);
    let rec = audit_lines(&d).remove(0);
    let id = rec["id"].as_str().unwrap().to_string();
    let date = rec["time"].as_str().unwrap()[..10].to_string();
    let orig = d.originals.join(&date).join(&id).join("a.csv");
    std::fs::create_dir_all(d.job_dir(&id)).unwrap();
    std::fs::rename(&orig, d.job_dir(&id).join("input")).unwrap();
    std::fs::write(d.clean.join(format!(".mugai-tmp-{id}")), "partial").unwrap();
    if !keep_audit {
        // The crash came before the notice and the audit record.
        std::fs::remove_file(d.clean.join("a.csv.mugai.txt")).unwrap();
        for f in mugai_audit::files_in(&d.audit).unwrap() {
            std::fs::remove_file(f).unwrap();
        }
    }
    let mut j = Journal::open(&d.journal()).unwrap();
    j.append(Entry::Claim {
        id: id.clone(),
        rel: "a.csv".into(),
        date,
    })
    .unwrap();
    j.append(Entry::Out {
        id: id.clone(),
        dest: "a.csv".into(),
        sha: rec["output_sha256"].as_str().unwrap().into(),
    })
    .unwrap();
    if keep_audit {
        j.append(Entry::Notice {
            id: id.clone(),
            dest: "a.csv.mugai.txt".into(),
        })
        .unwrap();
    }
    (tmp, d, id)
}

fn resume_all(d: &Dirs) -> Vec<Handled> {
    let s = start(d);
    let open = s.journal.lock().unwrap().open_jobs();
    let out = open.iter().map(|st| s.resume(st).unwrap()).collect();
    assert!(s.journal.lock().unwrap().open_jobs().is_empty());
    out
}

#[test]
fn redo_after_the_output_link_places_nothing_twice() {
    let (_t, d, _id) = crashed_after_link(false);
    let h = resume_all(&d);
    assert!(
        matches!(&h[..], [Handled::Done { output, .. }] if output == "a.csv"),
        "{h:?}"
    );
    // One output, one notice, no temporary file, no numbered copy.
    assert_eq!(files(&d.clean), vec!["a.csv", "a.csv.mugai.txt"]);
    assert_eq!(audit_lines(&d).len(), 1);
    assert_eq!(files(&d.originals).len(), 1);
    assert!(files(&d.work()).is_empty());
}

#[test]
fn redo_after_the_audit_record_does_not_write_it_twice() {
    let (_t, d, id) = crashed_after_link(true);
    resume_all(&d);
    let lines = audit_lines(&d);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["id"], id.as_str());
    assert_eq!(files(&d.clean), vec!["a.csv", "a.csv.mugai.txt"]);
    let report = mugai_audit::verify(&mugai_audit::files_in(&d.audit).unwrap()).unwrap();
    assert!(report.problem.is_none());
}

#[test]
fn a_claim_that_never_moved_the_input_is_void_and_the_file_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dirs(tmp.path());
    std::fs::write(d.inbox.join("b.txt"), "b\n").unwrap();
    let mut j = Journal::open(&d.journal()).unwrap();
    j.append(Entry::Claim {
        id: "J".into(),
        rel: "b.txt".into(),
        date: "2026-01-01".into(),
    })
    .unwrap();
    drop(j);
    assert_eq!(resume_all(&d), vec![Handled::Void]);
    assert_eq!(files(&d.inbox), vec!["b.txt"]);
    assert!(files(&d.clean).is_empty());
}

#[test]
fn a_job_whose_original_already_moved_is_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dirs(tmp.path());
    std::fs::write(
        d.inbox.join("c.exe"),
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00",
    )
    .unwrap();
    let s = start(&d);
    assert!(matches!(take(&s, "c.exe").unwrap(), Handled::Done { .. }));
    drop(s);
    let rec = audit_lines(&d).remove(0);
    let mut j = Journal::open(&d.journal()).unwrap();
    j.append(Entry::Claim {
        id: rec["id"].as_str().unwrap().into(),
        rel: "c.exe".into(),
        date: rec["time"].as_str().unwrap()[..10].into(),
    })
    .unwrap();
    drop(j);
    assert_eq!(resume_all(&d), vec![Handled::AlreadyDone]);
    assert_eq!(audit_lines(&d).len(), 1);
    assert_eq!(files(&d.clean), vec!["c.exe.mugai.txt"]);
    assert_eq!(files(&d.quarantine).len(), 2);
}

#[test]
fn a_dropped_file_cannot_pass_for_a_notice() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dirs(tmp.path());
    std::fs::write(d.inbox.join("report.pdf.mugai.txt"), "forged notice\n").unwrap();
    std::fs::write(d.inbox.join("mugai-notice-2026-01-01.txt"), "forged\n").unwrap();
    let s = start(&d);
    for n in ["report.pdf.mugai.txt", "mugai-notice-2026-01-01.txt"] {
        assert!(matches!(take(&s, n).unwrap(), Handled::Done { .. }));
    }
    assert_eq!(
        files(&d.clean),
        vec!["_mugai-notice-2026-01-01.txt", "_report.pdf.mugai.txt"]
    );
}

/// Group commit: jobs running at once share the fsyncs of the journal and
/// the audit log, yet each job is acknowledged (its original moved, `take`
/// returned) only once its audit record is on disk; every file ends in
/// exactly one place with one record, and the chain verifies.
#[test]
fn concurrent_jobs_are_durable_when_acknowledged_and_end_in_one_place() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dirs(tmp.path());
    let (threads, per) = (8, 12);
    for t in 0..threads {
        for i in 0..per {
            let (name, body) = if i % 2 == 0 {
                (format!("t{t}-{i}.txt"), format!("text {t} {i}\n"))
            } else {
                (format!("t{t}-{i}.csv"), format!("{i},=SUM(A{i}:B{i})\n"))
            };
            std::fs::write(d.inbox.join(name), body).unwrap();
        }
    }
    let s = start(&d);
    std::thread::scope(|sc| {
        for t in 0..threads {
            let s = &s;
            sc.spawn(move || {
                for i in 0..per {
                    let ext = if i % 2 == 0 { "txt" } else { "csv" };
                    let h = take(s, &format!("t{t}-{i}.{ext}")).unwrap();
                    assert!(matches!(h, Handled::Done { .. }), "{h:?}");
                }
            });
        }
    });
    let n = threads * per;
    // Acknowledged means durable: no audit record is left unsynced, and
    // of the journal only entries whose loss a redo tolerates may be.
    assert_eq!(s.audit.lock().unwrap().unsynced(), 0);
    let journal = s.journal.lock().unwrap();
    assert!(journal.open_jobs().is_empty());
    assert!(journal.syncs() >= 1);
    drop(journal);
    drop(s);
    let clean = files(&d.clean);
    let outputs = clean.iter().filter(|f| !f.ends_with(".mugai.txt")).count();
    assert_eq!(outputs, n, "{clean:?}");
    assert_eq!(clean.len(), n + n / 2, "one notice per sanitised CSV");
    assert_eq!(files(&d.originals).len(), n);
    assert!(files(&d.inbox).is_empty());
    assert!(files(&d.work()).is_empty());
    let lines = audit_lines(&d);
    assert_eq!(lines.len(), n);
    let mut ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
    let report = mugai_audit::verify(&mugai_audit::files_in(&d.audit).unwrap()).unwrap();
    assert!(report.problem.is_none(), "{report:?}");
}

/// A crash right after a job was acknowledged may lose the entries that
/// are not waited on (`Audit`, `Done`): the redo recognises the finished
/// job and places nothing twice.
#[test]
fn losing_the_entries_not_waited_on_loses_and_duplicates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = dirs(tmp.path());
    std::fs::write(d.inbox.join("a.csv"), "x,=1+1\n").unwrap();
    let s = start(&d);
    assert!(matches!(take(&s, "a.csv").unwrap(), Handled::Done { .. }));
    drop(s);
    let rec = audit_lines(&d).remove(0);
    let id = rec["id"].as_str().unwrap().to_string();
    // The journal as the disk may hold it: the waited-on entries only.
    std::fs::remove_file(d.journal()).unwrap();
    let mut j = Journal::open(&d.journal()).unwrap();
    j.append(Entry::Claim {
        id: id.clone(),
        rel: "a.csv".into(),
        date: rec["time"].as_str().unwrap()[..10].into(),
    })
    .unwrap();
    j.append(Entry::Out {
        id: id.clone(),
        dest: "a.csv".into(),
        sha: rec["output_sha256"].as_str().unwrap().into(),
    })
    .unwrap();
    j.append(Entry::Notice {
        id,
        dest: "a.csv.mugai.txt".into(),
    })
    .unwrap();
    drop(j);
    let before = (files(&d.clean), files(&d.originals));
    assert_eq!(resume_all(&d), vec![Handled::AlreadyDone]);
    assert_eq!((files(&d.clean), files(&d.originals)), before);
    assert_eq!(files(&d.clean), vec!["a.csv", "a.csv.mugai.txt"]);
    assert_eq!(audit_lines(&d).len(), 1);
}

/// A batch stopped after each of its steps, as a crash there would leave
/// it, then a fresh start that redoes the open jobs and takes what is
/// still in the inbox: every input ends in exactly one place (an
/// original, or beside its reason in quarantine), with one output or
/// notice each and one audit record, and nothing is left in work.
#[test]
fn a_batch_stopped_after_any_step_recovers_each_file_to_exactly_one_place() {
    use mugai_daemon::job::Stage;
    let inputs: [(&str, &[u8]); 5] = [
        ("a.txt", b"plain text\n"),
        ("b.csv", b"1,=SUM(A1:B1)\n"),
        (
            "c.exe",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00",
        ),
        ("sub/d.txt", b"in a subfolder\n"),
        // Its output's name is taken in clean before the batch: placed
        // under the next free name, once.
        ("e.txt", b"second e\n"),
    ];
    for stage in Stage::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let d = dirs(tmp.path());
        std::fs::create_dir_all(d.inbox.join("sub")).unwrap();
        for (rel, body) in inputs {
            std::fs::write(d.inbox.join(rel), body).unwrap();
        }
        std::fs::write(d.clean.join("e.txt"), "already there\n").unwrap();
        let s = start(&d);
        s.stop_after(Some(stage));
        let items: Vec<_> = inputs
            .iter()
            .map(|(rel, _)| (rel.into(), s.inbox.stat(Path::new(rel)).unwrap().id))
            .collect();
        let res = s.take_batch(&items);
        assert!(res.iter().all(|(_, r)| r.is_err()), "{stage:?}: {res:?}");
        drop(s);

        // The restart: open jobs redone, then the inbox taken again.
        let s = start(&d);
        let open = s.journal.lock().unwrap().open_jobs();
        assert_eq!(open.len(), inputs.len(), "{stage:?}");
        for st in &open {
            s.resume(st).unwrap();
        }
        let left: Vec<String> = files(&d.inbox);
        for rel in &left {
            let h = take(&s, rel).unwrap();
            assert!(matches!(h, Handled::Done { .. }), "{stage:?} {rel}: {h:?}");
        }
        assert!(s.journal.lock().unwrap().open_jobs().is_empty());
        drop(s);

        assert!(files(&d.inbox).is_empty(), "{stage:?}");
        assert!(files(&d.work()).is_empty(), "{stage:?}");
        // Each input's bytes exactly once among the originals and the
        // quarantine.
        let mut kept: Vec<Vec<u8>> = files(&d.originals)
            .iter()
            .map(|f| std::fs::read(d.originals.join(f)).unwrap())
            .chain(
                files(&d.quarantine)
                    .iter()
                    .filter(|f| !f.ends_with("reason.json"))
                    .map(|f| std::fs::read(d.quarantine.join(f)).unwrap()),
            )
            .collect();
        kept.sort();
        let mut want: Vec<Vec<u8>> = inputs.iter().map(|(_, b)| b.to_vec()).collect();
        want.sort();
        assert_eq!(kept, want, "{stage:?}");
        assert_eq!(
            files(&d.quarantine)
                .iter()
                .filter(|f| f.ends_with("reason.json"))
                .count(),
            1,
            "{stage:?}"
        );
        // One output per delivered file, one notice per changed or
        // blocked one; no numbered copy but the one for the taken name.
        assert_eq!(
            files(&d.clean),
            vec![
                "a.txt",
                "b.csv",
                "b.csv.mugai.txt",
                "c.exe.mugai.txt",
                "e (1).txt",
                "e.txt",
                "sub/d.txt",
            ],
            "{stage:?}"
        );
        assert_eq!(
            std::fs::read(d.clean.join("e (1).txt")).unwrap(),
            b"second e\n",
            "{stage:?}"
        );
        // One record per input, and the chain verifies.
        let lines = audit_lines(&d);
        let mut paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
        paths.sort();
        let mut want_paths: Vec<&str> = inputs.iter().map(|(r, _)| *r).collect();
        want_paths.sort();
        assert_eq!(paths, want_paths, "{stage:?}");
        let report = mugai_audit::verify(&mugai_audit::files_in(&d.audit).unwrap()).unwrap();
        assert!(report.problem.is_none(), "{stage:?}: {report:?}");
    }
}
