//! ZIP rebuild throughput: archives/s and MB/s of input, through the
//! engine (detection, member dispatch, text members, nested ZIPs), plus
//! how fast bombs are refused.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mugai_core::{Job, Policy};
use mugai_corpus::archive::{self as gen, RawEntry};
use mugai_engine::Engine;
use std::hint::black_box;

/// Deterministic Japanese/English office text of about `len` bytes.
fn text(seed: usize, len: usize) -> Vec<u8> {
    let lines = [
        "令和6年度 第3回 定例会議 議事録\n",
        "出席者: 総務課、情報政策課、財政課\n",
        "Agenda item {n}: budget review and network segmentation.\n",
        "議題{n}: LGWAN接続系への持ち込みファイルの無害化について\n",
        "項目,金額,備考\n事務用品,{n}000,消耗品\n",
    ];
    let mut out = String::with_capacity(len + 128);
    let mut n = seed;
    while out.len() < len {
        out.push_str(&lines[n % lines.len()].replace("{n}", &n.to_string()));
        n = n.wrapping_mul(31).wrapping_add(7);
    }
    out.into_bytes()
}

fn office_zip() -> Vec<u8> {
    let mut entries = Vec::new();
    for i in 0..12 {
        entries.push(RawEntry::deflated(
            &format!("資料/議事録{i:02}.txt"),
            &text(i, 48 * 1024),
        ));
    }
    for i in 0..4 {
        entries.push(RawEntry::deflated(
            &format!("集計/表{i}.csv"),
            &text(100 + i, 16 * 1024),
        ));
    }
    gen::raw_zip(&entries, b"")
}

fn nested_zip() -> Vec<u8> {
    let inner = office_zip();
    gen::raw_zip(
        &[
            RawEntry::deflated("part1.zip", &inner),
            RawEntry::deflated("part2.zip", &inner),
            RawEntry::deflated("readme.txt", &text(7, 4096)),
        ],
        b"",
    )
}

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    let cases = [
        ("office_16_members", office_zip()),
        ("nested_2x16_members", nested_zip()),
        (
            "overlap_bomb_10k",
            gen::overlap_bomb_of(gen::zeros_entry("z.txt", 1024), 10_000),
        ),
        ("fanout_bomb_16x4", gen::fanout(16, 4, &[b'x'; 1024])),
    ];
    for (name, bytes) in &cases {
        let job = Job::new(format!("{name}.zip"), bytes.clone());
        // Sanity: the benign ones are rebuilt, the bombs blocked.
        let o = Engine.sanitize(&policy, None, &job);
        assert_eq!(
            o.is_blocked(),
            name.contains("bomb"),
            "{name}: {:?}",
            o.reason()
        );

        let mut g = c.benchmark_group(format!("zip/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("MB/s", |b| {
            b.iter(|| Engine.sanitize(&policy, None, black_box(&job)))
        });
        g.throughput(Throughput::Elements(1));
        g.bench_function("archives/s", |b| {
            b.iter(|| Engine.sanitize(&policy, None, black_box(&job)))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
