//! Detection, the text rebuilder and the whole in-process engine over the
//! generated corpus.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mugai_core::{Job, Policy};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let cases = mugai_corpus::all();
    let total: u64 = cases.iter().map(|c| c.bytes.len() as u64).sum();
    let policy = Policy::default();

    let mut g = c.benchmark_group("generated-corpus");
    g.throughput(Throughput::Bytes(total));
    g.bench_function("detect", |b| {
        b.iter(|| {
            for case in &cases {
                black_box(mugai_detect::detect(&case.bytes));
            }
        })
    });
    g.bench_function("engine", |b| {
        b.iter(|| {
            for case in &cases {
                let job = Job::new(
                    case.path.rsplit('/').next().unwrap_or("x").to_string(),
                    case.bytes.clone(),
                );
                black_box(mugai_engine::Engine.sanitize(&policy, None, &job));
            }
        })
    });
    g.finish();

    // A 4 MiB Shift_JIS CSV with formulas: the text rebuilder's hot path.
    let row = "受付番号,氏名,=HYPERLINK(\"x\"),-12.5,備考です\r\n";
    let csv = encoding_rs::SHIFT_JIS
        .encode(&row.repeat((4 << 20) / row.len()))
        .0
        .into_owned();
    let mut g = c.benchmark_group("text");
    g.throughput(Throughput::Bytes(csv.len() as u64));
    g.bench_function("sjis-csv-4MiB", |b| {
        b.iter(|| {
            let job = Job::new("big.csv", csv.clone());
            black_box(mugai_engine::Engine.sanitize(&policy, None, &job))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
