//! `mugai sanitize` and `mugai inspect`.

use crate::exit;
use anyhow::{bail, Context as _};
use clap::Args;
use mugai_core::{Code, Job, Outcome, Policy, Report, Sanitize, Verdict};
use std::collections::BTreeMap;
use std::fs;
use std::io::{IsTerminal, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

#[derive(Debug, Args)]
pub struct SanitizeArgs {
    /// One JSON object per input on stdout (JSON Lines).
    #[arg(long)]
    json: bool,
    /// Policy/configuration file (default: $MUGAI_CONFIG, else
    /// /etc/mugai/mugai.toml if it exists, else the embedded default).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Copy blocked inputs here, each with a NAME.reason.json.
    #[arg(long, value_name = "DIR")]
    quarantine: Option<PathBuf>,
    /// Where sanitised files are written (same relative paths).
    #[arg(long, value_name = "DIR", required = true)]
    out: Option<PathBuf>,
    /// Scan with clamd at this address (UNIX socket path or tcp:HOST:PORT).
    #[arg(long, value_name = "ADDR")]
    clamd: Option<String>,
    /// Worker processes (0: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    workers: usize,
    /// Rebuild in this process instead of worker processes (tests, benches).
    #[arg(long, hide = true)]
    in_process: bool,
    /// Files or directories (directories are recursed; symbolic links inside
    /// them are not followed).
    #[arg(value_name = "INPUT", required = true)]
    inputs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// One JSON object per input on stdout (JSON Lines).
    #[arg(long)]
    json: bool,
    /// Policy/configuration file (default: $MUGAI_CONFIG, else
    /// /etc/mugai/mugai.toml if it exists, else the embedded default).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Scan with clamd at this address (UNIX socket path or tcp:HOST:PORT).
    #[arg(long, value_name = "ADDR")]
    clamd: Option<String>,
    /// Worker processes (0: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    workers: usize,
    /// Check in this process instead of worker processes (tests, benches).
    #[arg(long, hide = true)]
    in_process: bool,
    /// Files or directories (recursed).
    #[arg(value_name = "INPUT", required = true)]
    inputs: Vec<PathBuf>,
}

/// An input file found under an input argument.
#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) path: PathBuf,
    /// Path relative to the input argument (its file name for a file).
    pub(crate) rel: PathBuf,
}

struct Settings {
    json: bool,
    write: Option<Writer>,
    policy: Arc<Policy>,
}

struct Writer {
    out: PathBuf,
    quarantine: Option<PathBuf>,
}

pub fn run_sanitize(a: SanitizeArgs) -> anyhow::Result<u8> {
    let Some(out) = a.out.clone() else {
        bail!("--out DIR is required (where sanitised files are written)");
    };
    if a.inputs.is_empty() {
        bail!("no INPUT given");
    }
    let mut config = super::common::load_config(a.policy.as_deref())?;
    if let Some(c) = &a.clamd {
        config.policy.av.clamd = Some(c.clone());
    }
    refuse_inside_inputs(&out, &a.inputs, "--out")?;
    if let Some(q) = &a.quarantine {
        refuse_inside_inputs(q, &a.inputs, "--quarantine")?;
    }
    fs::create_dir_all(&out).with_context(|| format!("{}: cannot create", out.display()))?;
    if let Some(q) = &a.quarantine {
        fs::create_dir_all(q).with_context(|| format!("{}: cannot create", q.display()))?;
    }
    let sanitizer = super::common::sanitizer(&config, a.workers, a.in_process)?;
    let settings = Settings {
        json: a.json,
        write: Some(Writer {
            out,
            quarantine: a.quarantine,
        }),
        policy: Arc::new(config.policy),
    };
    run_batch(&a.inputs, sanitizer, settings, a.workers)
}

pub fn run_inspect(a: InspectArgs) -> anyhow::Result<u8> {
    if a.inputs.is_empty() {
        bail!("no INPUT given");
    }
    let mut config = super::common::load_config(a.policy.as_deref())?;
    if let Some(c) = &a.clamd {
        config.policy.av.clamd = Some(c.clone());
    }
    let sanitizer = super::common::sanitizer(&config, a.workers, a.in_process)?;
    let settings = Settings {
        json: a.json,
        write: None,
        policy: Arc::new(config.policy),
    };
    run_batch(&a.inputs, sanitizer, settings, a.workers)
}

/// Refuses a destination inside (or equal to) any input directory.
fn refuse_inside_inputs(dest: &Path, inputs: &[PathBuf], flag: &str) -> anyhow::Result<()> {
    let dest_abs = absolute_lenient(dest);
    for i in inputs {
        let Ok(meta) = fs::metadata(i) else { continue };
        if !meta.is_dir() {
            continue;
        }
        let input_abs = absolute_lenient(i);
        if dest_abs.starts_with(&input_abs) {
            bail!(
                "{flag} {} is inside the input directory {}; choose a directory outside it",
                dest.display(),
                i.display()
            );
        }
    }
    Ok(())
}

/// The canonical path of `p`, resolving the longest existing prefix.
fn absolute_lenient(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return abs,
        }
    }
}

/// Expands inputs to files. Symlinks inside directories are not followed;
/// errors (an unreadable input) are returned with the items found.
pub(crate) fn collect(inputs: &[PathBuf]) -> (Vec<Item>, Vec<String>) {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for input in inputs {
        match fs::metadata(input) {
            Ok(m) if m.is_dir() => walk(input, Path::new(""), &mut items, &mut errors),
            Ok(m) if m.is_file() => items.push(Item {
                path: input.clone(),
                rel: PathBuf::from(input.file_name().unwrap_or(input.as_os_str())),
            }),
            Ok(_) => errors.push(format!(
                "{}: not a regular file or directory",
                input.display()
            )),
            Err(e) => errors.push(format!("{}: {}", input.display(), io_reason(&e))),
        }
    }
    (items, errors)
}

fn walk(root: &Path, rel: &Path, items: &mut Vec<Item>, errors: &mut Vec<String>) {
    let dir = root.join(rel);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(format!("{}: {}", dir.display(), io_reason(&e)));
            return;
        }
    };
    let mut names: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let rel_child = rel.join(&name);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                errors.push(format!("{}: symbolic link not followed", path.display()));
            }
            Ok(m) if m.is_dir() => walk(root, &rel_child, items, errors),
            Ok(m) if m.is_file() => items.push(Item {
                path,
                rel: rel_child,
            }),
            Ok(_) => errors.push(format!("{}: not a regular file", path.display())),
            Err(e) => errors.push(format!("{}: {}", path.display(), io_reason(&e))),
        }
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// What happened to one item, ready to print.
struct Done {
    index: usize,
    line: Result<(Outcome, Option<PathBuf>), String>,
    item: Item,
}

fn run_batch(
    inputs: &[PathBuf],
    sanitizer: Arc<dyn Sanitize>,
    settings: Settings,
    workers: usize,
) -> anyhow::Result<u8> {
    let (items, mut errors) = collect(inputs);
    let settings = Arc::new(settings);
    let total = items.len();
    let threads = super::common::worker_count(workers).min(total.max(1));

    let bar = if std::io::stderr().is_terminal() && total > 5 && !settings.json {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };

    let queue = Arc::new(Mutex::new(
        items
            .into_iter()
            .enumerate()
            .collect::<std::collections::VecDeque<_>>(),
    ));
    let (tx, rx) = mpsc::channel::<Done>();
    let mut handles = Vec::new();
    for _ in 0..threads {
        let queue = Arc::clone(&queue);
        let tx = tx.clone();
        let sanitizer = Arc::clone(&sanitizer);
        let settings = Arc::clone(&settings);
        handles.push(std::thread::spawn(move || loop {
            let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
            let Some((index, item)) = next else { break };
            let line = process(&item, sanitizer.as_ref(), &settings);
            if tx.send(Done { index, line, item }).is_err() {
                break;
            }
        }));
    }
    drop(tx);

    // Print in input order as results arrive.
    let mut pending = BTreeMap::new();
    let mut next = 0usize;
    let mut counts = [0usize; 3];
    let stdout = std::io::stdout();
    for done in rx {
        pending.insert(done.index, done);
        while let Some(d) = pending.remove(&next) {
            next += 1;
            if let Some(b) = &bar {
                b.inc(1);
            }
            match d.line {
                Ok((outcome, written)) => {
                    counts[outcome.verdict() as usize] += 1;
                    let text = render(&settings, &d.item, &outcome, written.as_deref());
                    let print = || {
                        let mut out = stdout.lock();
                        let _ = writeln!(out, "{text}");
                    };
                    match &bar {
                        Some(b) => b.suspend(print),
                        None => print(),
                    }
                }
                Err(e) => errors.push(e),
            }
        }
    }
    for h in handles {
        let _ = h.join();
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for e in &errors {
        eprintln!("mugai: {e}");
    }
    if !settings.json {
        let verb = if settings.write.is_some() {
            "sanitised"
        } else {
            "inspected"
        };
        eprintln!(
            "{} files {verb}: {} clean, {} sanitized, {} blocked{}",
            counts.iter().sum::<usize>(),
            counts[Verdict::Clean as usize],
            counts[Verdict::Sanitized as usize],
            counts[Verdict::Blocked as usize],
            if errors.is_empty() {
                String::new()
            } else {
                format!(", {} errors", errors.len())
            }
        );
    }
    Ok(if !errors.is_empty() {
        exit::ERROR
    } else if counts[Verdict::Blocked as usize] > 0
        || (settings.write.is_none() && counts[Verdict::Sanitized as usize] > 0)
    {
        exit::BLOCKED
    } else {
        exit::OK
    })
}

/// Reads, sanitises and writes one item.
fn process(
    item: &Item,
    sanitizer: &dyn Sanitize,
    settings: &Settings,
) -> Result<(Outcome, Option<PathBuf>), String> {
    let limit = settings.policy.limits.max_input_bytes;
    let meta = fs::metadata(&item.path)
        .map_err(|e| format!("{}: {}", item.path.display(), io_reason(&e)))?;
    let name = item
        .rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let outcome = if meta.len() > limit {
        // Not read at all: over the limit is blocked on its size alone.
        let b = mugai_core::Blocked::new(
            Code::LimitSize,
            format!(
                "{} bytes is over the input limit of {limit} bytes",
                meta.len()
            ),
        );
        let sha = fs::File::open(&item.path)
            .and_then(mugai_core::sha256_reader)
            .map_err(|e| format!("{}: {}", item.path.display(), io_reason(&e)))?;
        Outcome::blocked(
            mugai_core::FileType::Unknown,
            sha,
            Vec::new(),
            b.into_finding(),
        )
    } else {
        let bytes = fs::read(&item.path)
            .map_err(|e| format!("{}: {}", item.path.display(), io_reason(&e)))?;
        sanitizer.sanitize(&settings.policy, Job::new(name, bytes))
    };
    let written = match &settings.write {
        Some(w) => write_outcome(w, item, &outcome)
            .map_err(|e| format!("{}: {e:#}", item.path.display()))?,
        None => None,
    };
    Ok((outcome, written))
}

/// Writes the output (or the quarantine copy); returns the output path.
fn write_outcome(w: &Writer, item: &Item, outcome: &Outcome) -> anyhow::Result<Option<PathBuf>> {
    let rel_dir = safe_rel_dir(&item.rel);
    match outcome.output() {
        Some(out) => {
            let dir = w.out.join(&rel_dir);
            fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let path = write_new(&dir, &out.name, &out.bytes)?;
            Ok(Some(path))
        }
        None => {
            if let Some(q) = &w.quarantine {
                let dir = q.join(&rel_dir);
                fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let name = mugai_detect::name::safe_component(
                    &item
                        .rel
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
                let original = fs::read(&item.path)
                    .with_context(|| format!("cannot re-read {}", item.path.display()))?;
                let qpath = write_new(&dir, &name, &original)?;
                let reason = serde_json::to_vec_pretty(&serde_json::json!({
                    "input": item.path.display().to_string(),
                    "verdict": outcome.verdict(),
                    "type": outcome.input_type,
                    "sha256": mugai_core::sha256_hex(&original),
                    "reason": outcome.reason(),
                    "findings": outcome.findings,
                }))?;
                let qname = qpath
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(name);
                write_new(&dir, &format!("{qname}.reason.json"), &reason)?;
            }
            Ok(None)
        }
    }
}

/// The relative directory of an item, each component made safe.
fn safe_rel_dir(rel: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            if let Component::Normal(s) = c {
                out.push(mugai_detect::name::safe_component(&s.to_string_lossy()));
            }
        }
    }
    out
}

/// Writes `bytes` as `dir/name` without ever overwriting: to a temporary
/// name, synced, then linked to the first free name (`a.txt`, `a (1).txt`,
/// ...); a hard link fails rather than replace an existing file.
fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let tmp = dir.join(format!(".mugai-tmp-{}-{}", std::process::id(), unique()));
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all()?;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    for n in 0..10_000u32 {
        let candidate = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        match fs::hard_link(&tmp, &candidate) {
            Ok(()) => {
                let _ = fs::remove_file(&tmp);
                if let Ok(d) = fs::File::open(dir) {
                    let _ = d.sync_all();
                }
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e).with_context(|| format!("cannot create {}", candidate.display()));
            }
        }
    }
    let _ = fs::remove_file(&tmp);
    bail!("no free name for {name} in {}", dir.display())
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The `--json` line for one input (also printed by `mugai cluster submit`).
pub(crate) fn json_line(input: &Path, o: &Outcome, written: Option<&Path>) -> String {
    Report::new(
        input.display().to_string(),
        written.map(|p| p.display().to_string()),
        o,
    )
    .to_json_line()
}

fn render(s: &Settings, item: &Item, o: &Outcome, written: Option<&Path>) -> String {
    if s.json {
        json_line(&item.path, o, written)
    } else {
        let reason = o.reason_text();
        let mut codes: Vec<&str> = o.findings.iter().map(|f| f.code.as_str()).collect();
        codes.dedup();
        match (o.verdict(), written) {
            (Verdict::Blocked, _) => format!(
                "blocked    {}  {}",
                item.path.display(),
                reason.unwrap_or_default()
            ),
            (v, Some(p)) => format!(
                "{:<10} {} -> {}  {}",
                v.as_str(),
                item.path.display(),
                p.display(),
                codes.join(" ")
            ),
            (v, None) => format!(
                "{:<10} {}  {}",
                v.as_str(),
                item.path.display(),
                codes.join(" ")
            ),
        }
    }
}
