//! Office rebuilder throughput over the corpus-ext Office and RTF files
//! (files/s as elements, MB/s as bytes).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mugai_core::{Budget, Context, FileType, Policy, Rebuilder};
use mugai_office::OfficeRebuilder;

/// The corpus-ext Office/RTF files that rebuild, with their types.
fn inputs(policy: &Policy) -> Vec<(FileType, Vec<u8>)> {
    let Some(root) = mugai_benches::corpus_ext() else {
        eprintln!("skipping: ../shared/corpus-ext is absent (set MUGAI_CORPUS_EXT)");
        return Vec::new();
    };
    let Ok(manifest) = std::fs::read_to_string(root.join("MANIFEST.tsv")) else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(cat)) = (cols.get(2), cols.get(4)) else {
            continue;
        };
        if !(cat.starts_with("ooxml") || cat.starts_with("ole2") || cat.starts_with("rtf")) {
            continue;
        }
        let Ok(bytes) = std::fs::read(root.join(path)) else {
            continue;
        };
        let ty = mugai_detect_type(&bytes);
        if rebuild(policy, ty, &bytes).is_some() {
            v.push((ty, bytes));
        }
    }
    v
}

fn mugai_detect_type(bytes: &[u8]) -> FileType {
    // The engine's detection decides the type, as in production.
    let policy = Policy::default();
    let job = mugai_core::Job::new("x", bytes.to_vec());
    mugai_engine::Engine
        .sanitize(&policy, None, &job)
        .input_type
}

fn rebuild(policy: &Policy, ty: FileType, bytes: &[u8]) -> Option<usize> {
    let budget = Budget::new(&policy.limits);
    let mut cx = Context::new(policy, &budget, &mugai_engine::Engine, None);
    OfficeRebuilder
        .rebuild(bytes, ty, &mut cx)
        .ok()
        .map(|r| r.bytes.len())
}

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    let files = inputs(&policy);
    if files.is_empty() {
        return;
    }
    let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    eprintln!("office bench: {} files, {} bytes", files.len(), total);
    let mut g = c.benchmark_group("office");
    g.sample_size(10);
    g.throughput(Throughput::Elements(files.len() as u64));
    g.bench_function("corpus-ext files", |b| {
        b.iter(|| {
            files
                .iter()
                .filter_map(|(t, f)| rebuild(&policy, *t, f))
                .sum::<usize>()
        })
    });
    g.throughput(Throughput::Bytes(total));
    g.bench_function("corpus-ext bytes", |b| {
        b.iter(|| {
            files
                .iter()
                .filter_map(|(t, f)| rebuild(&policy, *t, f))
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
