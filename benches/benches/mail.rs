//! Mail text-ization: messages/s converted over the corpus messages, and
//! messages/s through the relay end to end (SMTP client -> relay ->
//! conversion -> SMTP next hop, all on loopback).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mugai_core::config::RelayConfig;
use mugai_core::{Job, Policy, Sanitize};
use mugai_engine::InProcess;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The generated mail cases (without the 2 MB one, measured on its own)
/// and, when present, the external corpus's mail.
fn messages() -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut small = Vec::new();
    let mut big = Vec::new();
    for c in mugai_corpus::mail::cases() {
        if c.bytes.len() > 1 << 20 {
            big = c.bytes;
        } else {
            small.push(c.bytes);
        }
    }
    let ext = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus-ext"
    ));
    for owner in std::fs::read_dir(ext).into_iter().flatten().flatten() {
        for kind in std::fs::read_dir(owner.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if kind.file_name().to_string_lossy().starts_with("eml-") {
                for f in std::fs::read_dir(kind.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    if let Ok(b) = std::fs::read(f.path()) {
                        small.push(b);
                    }
                }
            }
        }
    }
    (small, big)
}

fn convert(c: &mut Criterion) {
    let policy = Policy::default();
    let (small, big) = messages();
    let mut g = c.benchmark_group("mail_convert");
    g.throughput(Throughput::Elements(small.len() as u64));
    g.bench_function(format!("corpus_{}_messages", small.len()), |b| {
        b.iter(|| {
            for m in &small {
                let o = InProcess.sanitize(&policy, Job::new("m.eml", m.clone()));
                std::hint::black_box(o);
            }
        })
    });
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("single_line_2mb", |b| {
        b.iter(|| InProcess.sanitize(&policy, Job::new("m.eml", big.clone())))
    });
    g.finish();
}

/// A next hop that accepts everything and forgets it.
async fn sink(listener: TcpListener) {
    loop {
        let Ok((s, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let (r, mut w) = s.into_split();
            let mut r = BufReader::new(r);
            let _ = w.write_all(b"220 sink\r\n").await;
            let mut in_data = false;
            let mut line = Vec::new();
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let reply: &[u8] = if in_data {
                    if line != b".\r\n" {
                        continue;
                    }
                    in_data = false;
                    b"250 ok\r\n"
                } else if line.starts_with(b"DATA") {
                    in_data = true;
                    b"354 go\r\n"
                } else if line.starts_with(b"QUIT") {
                    let _ = w.write_all(b"221 bye\r\n").await;
                    return;
                } else {
                    b"250 ok\r\n"
                };
                if w.write_all(reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn relay(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (small, _) = messages();
    let relay_addr = rt.block_on(async {
        let hop = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hop_addr = hop.local_addr().unwrap();
        tokio::spawn(sink(hop));
        let config = RelayConfig {
            listen: "127.0.0.1:0".into(),
            next_hop: hop_addr.to_string(),
            ..RelayConfig::default()
        };
        let relay = mugai_relay::Relay::bind(config, Policy::default(), Arc::new(InProcess))
            .await
            .unwrap();
        let addr = relay.local_addr().unwrap();
        tokio::spawn(relay.run());
        addr.to_string()
    });
    let rcpts = vec!["a@lg.example.jp".to_string(), "b@lg.example.jp".to_string()];
    let mut g = c.benchmark_group("relay_end_to_end");
    g.throughput(Throughput::Elements(small.len() as u64));
    // One message at a time, and eight sessions in parallel (Postfix runs
    // several deliveries to its content filter at once).
    for parallel in [1usize, 8] {
        g.bench_function(
            format!("corpus_{}_messages_x{parallel}", small.len()),
            |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let chunks: Vec<Vec<Vec<u8>>> = (0..parallel)
                            .map(|i| small.iter().skip(i).step_by(parallel).cloned().collect())
                            .collect();
                        let mut tasks = Vec::new();
                        for chunk in chunks {
                            let addr = relay_addr.clone();
                            let rcpts = rcpts.clone();
                            tasks.push(tokio::spawn(async move {
                                for m in chunk {
                                    let r = mugai_relay::client::deliver(
                                        &addr,
                                        "bench",
                                        "s@example.com",
                                        &rcpts,
                                        &m,
                                        Duration::from_secs(60),
                                    )
                                    .await;
                                    assert!(r.is_ok(), "{r:?}");
                                }
                            }));
                        }
                        for t in tasks {
                            t.await.unwrap();
                        }
                    })
                })
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = convert, relay
}
criterion_main!(benches);
