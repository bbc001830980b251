//! Counters and the Prometheus text endpoint.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Latency histogram bucket bounds, seconds.
const BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Debug, Default)]
pub struct Metrics {
    files: Mutex<BTreeMap<(String, String), u64>>,
    latency: Mutex<(Vec<u64>, u64, f64)>,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub errors: AtomicU64,
    pub queue_depth: AtomicU64,
    pub in_flight: AtomicU64,
    /// Age of clamd's signature database (0 until known).
    pub signature_age_seconds: AtomicU64,
}

impl Metrics {
    /// Records one handled file.
    pub fn file(&self, verdict: &str, file_type: &str, bytes_in: u64, bytes_out: u64, secs: f64) {
        if let Ok(mut m) = self.files.lock() {
            *m.entry((verdict.to_string(), file_type.to_string()))
                .or_default() += 1;
        }
        self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        if let Ok(mut l) = self.latency.lock() {
            if l.0.is_empty() {
                l.0 = vec![0; BUCKETS.len()];
            }
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    l.0[i] += 1;
                }
            }
            l.1 += 1;
            l.2 += secs;
        }
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP mugai_files_total Files handled, by verdict and detected type."
        );
        let _ = writeln!(s, "# TYPE mugai_files_total counter");
        if let Ok(m) = self.files.lock() {
            for ((v, t), n) in m.iter() {
                let _ = writeln!(s, "mugai_files_total{{verdict=\"{v}\",type=\"{t}\"}} {n}");
            }
        }
        for (name, help, v) in [
            (
                "mugai_input_bytes_total",
                "Bytes of input files handled.",
                &self.bytes_in,
            ),
            (
                "mugai_output_bytes_total",
                "Bytes written to the clean tree.",
                &self.bytes_out,
            ),
            (
                "mugai_errors_total",
                "Jobs that failed with an I/O error and wait for a retry.",
                &self.errors,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        for (name, help, v) in [
            (
                "mugai_queue_depth",
                "Settled files waiting for a worker.",
                &self.queue_depth,
            ),
            ("mugai_in_flight", "Files being handled.", &self.in_flight),
            (
                "mugai_signature_age_seconds",
                "Age of clamd's signature database (0: unknown or no scanner).",
                &self.signature_age_seconds,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP mugai_latency_seconds Time from taking a file to its result."
        );
        let _ = writeln!(s, "# TYPE mugai_latency_seconds histogram");
        if let Ok(l) = self.latency.lock() {
            for (i, b) in BUCKETS.iter().enumerate() {
                let n = l.0.get(i).copied().unwrap_or(0);
                let _ = writeln!(s, "mugai_latency_seconds_bucket{{le=\"{b}\"}} {n}");
            }
            let _ = writeln!(s, "mugai_latency_seconds_bucket{{le=\"+Inf\"}} {}", l.1);
            let _ = writeln!(s, "mugai_latency_seconds_sum {}", l.2);
            let _ = writeln!(s, "mugai_latency_seconds_count {}", l.1);
        }
        s
    }
}

/// Serves `GET /metrics` (any path) on a loopback listener.
pub async fn serve(listener: tokio::net::TcpListener, metrics: std::sync::Arc<Metrics>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            // Read the request head (bounded); its content does not matter.
            let mut buf = [0u8; 2048];
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut buf)).await;
            let body = metrics.render();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_counts_and_histogram() {
        let m = Metrics::default();
        m.file("clean", "text", 10, 10, 0.2);
        m.file("blocked", "executable", 5, 0, 3.0);
        m.error();
        let s = m.render();
        assert!(
            s.contains("mugai_files_total{verdict=\"clean\",type=\"text\"} 1"),
            "{s}"
        );
        assert!(s.contains("mugai_input_bytes_total 15"));
        assert!(s.contains("mugai_errors_total 1"));
        assert!(s.contains("mugai_latency_seconds_bucket{le=\"0.25\"} 1"));
        assert!(s.contains("mugai_latency_seconds_bucket{le=\"5\"} 2"));
        assert!(s.contains("mugai_latency_seconds_count 2"));
    }
}
