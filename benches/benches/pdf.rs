//! PDF rebuild throughput over the corpus-ext PDFs (or the generated PDF
//! cases when corpus-ext is absent), and the time `qpdf in.pdf out.pdf`
//! takes on the same files in the same run, as a ratio.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mugai_core::{Budget, Context, FileType, Policy, Rebuilder};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn corpus_ext() -> Option<PathBuf> {
    let p = std::env::var_os("MUGAI_CORPUS_EXT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus-ext"));
    p.join("MANIFEST.tsv").exists().then_some(p)
}

/// (path, bytes) of every input PDF.
fn inputs() -> Vec<(Option<PathBuf>, Vec<u8>)> {
    if let Some(ext) = corpus_ext() {
        let manifest = std::fs::read_to_string(ext.join("MANIFEST.tsv")).unwrap_or_default();
        let mut v: Vec<(Option<PathBuf>, Vec<u8>)> = manifest
            .lines()
            .skip(1)
            .filter_map(|l| l.split('\t').nth(2))
            .filter(|p| p.to_ascii_lowercase().ends_with(".pdf"))
            .map(|p| ext.join(p))
            .filter_map(|p| std::fs::read(&p).ok().map(|b| (Some(p), b)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        return v;
    }
    eprintln!("corpus-ext absent: benchmarking the generated PDF cases");
    mugai_corpus::pdf::cases()
        .into_iter()
        .map(|c| (None, c.bytes))
        .collect()
}

fn rebuild_all(policy: &Policy, files: &[(Option<PathBuf>, Vec<u8>)]) -> (usize, usize) {
    let (mut ok, mut blocked) = (0, 0);
    for (_, bytes) in files {
        let budget = Budget::new(&policy.limits);
        let mut cx = Context::new(policy, &budget, &mugai_engine::Engine, None);
        match mugai_pdf::PdfRebuilder.rebuild(bytes, FileType::Pdf, &mut cx) {
            Ok(_) => ok += 1,
            Err(_) => blocked += 1,
        }
    }
    (ok, blocked)
}

/// One timed pass of ours and of qpdf over the same files, printed as
/// files/s, MB/s and the ratio of the two times.
fn compare_with_qpdf(policy: &Policy, files: &[(Option<PathBuf>, Vec<u8>)]) {
    let bytes: usize = files.iter().map(|f| f.1.len()).sum();
    let mb = bytes as f64 / 1e6;
    let runs = 5;
    let mut ours = Duration::MAX;
    let mut counts = (0, 0);
    for _ in 0..runs {
        let t = Instant::now();
        counts = rebuild_all(policy, files);
        ours = ours.min(t.elapsed());
    }
    let s = ours.as_secs_f64();
    eprintln!(
        "pdf rebuild: {} files ({} rebuilt, {} blocked), {:.2} MB in {:.3} s: {:.0} files/s, {:.1} MB/s",
        files.len(),
        counts.0,
        counts.1,
        mb,
        s,
        files.len() as f64 / s,
        mb / s
    );
    let paths: Vec<&PathBuf> = files.iter().filter_map(|f| f.0.as_ref()).collect();
    if paths.is_empty() || Command::new("qpdf").arg("--version").output().is_err() {
        eprintln!("qpdf comparison skipped (no corpus-ext files or no qpdf)");
        return;
    }
    let Ok(tmp) = std::env::temp_dir().canonicalize() else {
        return;
    };
    let out = tmp.join("mugai-bench-qpdf-out.pdf");
    let t = Instant::now();
    for p in &paths {
        let _ = Command::new("qpdf").arg(p).arg(&out).output();
    }
    let q = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&out);
    eprintln!(
        "qpdf in.pdf out.pdf: same {} files in {:.3} s ({:.0} files/s, {:.1} MB/s); ratio mugai/qpdf = {:.3}",
        paths.len(),
        q,
        paths.len() as f64 / q,
        mb / q,
        s / q
    );
}

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    let files = inputs();
    compare_with_qpdf(&policy, &files);
    let bytes: usize = files.iter().map(|f| f.1.len()).sum();
    let mut g = c.benchmark_group("pdf");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("rebuild_corpus", |b| {
        b.iter(|| rebuild_all(&policy, &files))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
