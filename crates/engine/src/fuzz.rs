//! Entry points for cargo-fuzz targets and the mutation smoke tests.
//!
//! Both run a rebuilder in process *without* the panic guard, so that a
//! panic is a failure the fuzzer or test sees.

use crate::engine::rebuild_unguarded;
use mugai_core::{Budget, Context, FileType, Policy};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The default policy with the smaller limits of fuzzing runs: the limit
/// checks still run, but one input cannot take seconds of a run that
/// stops at the first 10-second input. Inputs of odd length take the
/// choices that are not the default where a choice selects other code.
fn fuzz_policy(data: &[u8]) -> Policy {
    let mut policy = Policy::default();
    if data.len() % 2 == 1 {
        policy.pdf.flate = mugai_core::config::FlateData::KeepExact;
    }
    policy.limits.max_expanded_bytes = 64 << 20;
    // 4 MP: a 16 MP limit let a few bytes of BMP run-length data ask for
    // 64 MB of pixels, four runs a second.
    policy.limits.max_image_pixels = 4_000_000;
    policy
}

/// Rebuilds `data` as `ty` with the fuzzing policy; for fuzz targets.
pub fn rebuild_as(ty: FileType, data: &[u8]) {
    let policy = fuzz_policy(data);
    let budget = Budget::new(&policy.limits);
    let mut cx = Context::new(&policy, &budget, &crate::Engine, None);
    let _ = rebuild_unguarded(ty, data, &mut cx);
}

/// Detects and sanitises `data` through the whole engine; for fuzz targets.
pub fn sanitize(data: &[u8]) {
    let policy = fuzz_policy(data);
    let job = mugai_core::Job::new("fuzz.bin", data.to_vec());
    let _ = crate::Engine.sanitize(&policy, None, &job);
}

/// What a mutation smoke run saw.
#[derive(Debug, Default)]
pub struct SmokeReport {
    pub runs: usize,
    /// Inputs whose rebuild panicked, with the panic message.
    pub panics: Vec<(Vec<u8>, String)>,
    /// Slowest single rebuild.
    pub slowest: Duration,
    pub rebuilt: usize,
    pub blocked: usize,
}

/// A small deterministic PRNG (xorshift64*), so runs are repeatable.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// One byte-level mutation of `seed`: flips, overwrites with interesting
/// values, deletions, duplications and truncations.
pub fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if v.is_empty() {
            v.push(rng.next_u64() as u8);
            continue;
        }
        let at = rng.below(v.len());
        match rng.below(7) {
            0 => v[at] ^= 1 << rng.below(8),
            1 => v[at] = [0u8, 0xFF, 0x7F, 0x80, b'0', b'9', b'/', b'<'][rng.below(8)],
            2 => {
                let n = 1 + rng.below(16.min(v.len() - at));
                v.drain(at..at + n);
            }
            3 => {
                let n = 1 + rng.below(64.min(v.len() - at));
                let chunk = v[at..at + n].to_vec();
                let to = rng.below(v.len());
                v.splice(to..to, chunk);
            }
            4 => v.truncate(at.max(1)),
            5 => {
                let digits = [b"4294967295".as_slice(), b"-1", b"99999999999", b"0"];
                let d = digits[rng.below(digits.len())];
                v.splice(at..at, d.iter().copied());
            }
            _ => {
                let n = 1 + rng.below(8.min(v.len() - at));
                for b in &mut v[at..at + n] {
                    *b = rng.next_u64() as u8;
                }
            }
        }
    }
    v
}

/// Runs up to `count` mutations of `seeds` through the `ty` rebuilder, for
/// at most `time_budget`. A single rebuild that runs past `hang_after`
/// aborts the whole process after writing the input to
/// `$TMPDIR/mugai-hang-<ty>.bin`, since a hang cannot be interrupted.
pub fn smoke(
    ty: FileType,
    seeds: &[Vec<u8>],
    count: usize,
    time_budget: Duration,
    hang_after: Duration,
) -> SmokeReport {
    let mut report = SmokeReport::default();
    if seeds.is_empty() {
        return report;
    }
    // Keep each run small so that many fit in the budget.
    let policies = [fuzz_policy(b""), fuzz_policy(b"x")];
    let mut rng = Rng::new(0x006d_7567_6169 ^ ty.name().len() as u64);
    let started = Instant::now();
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..count {
        if started.elapsed() > time_budget {
            break;
        }
        let input = mutate(&seeds[i % seeds.len()], &mut rng);
        let policy = &policies[input.len() % 2];
        let watchdog = Watchdog::arm(ty, &input, hang_after);
        let budget = Budget::new(&policy.limits);
        let t0 = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut cx = Context::new(policy, &budget, &crate::Engine, None);
            rebuild_unguarded(ty, &input, &mut cx).is_ok()
        }));
        let took = t0.elapsed();
        drop(watchdog);
        report.slowest = report.slowest.max(took);
        report.runs += 1;
        match result {
            Ok(true) => report.rebuilt += 1,
            Ok(false) => report.blocked += 1,
            Err(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                report.panics.push((input, msg));
            }
        }
    }
    std::panic::set_hook(prev_hook);
    report
}

struct Watchdog {
    done: std::sync::mpsc::Sender<()>,
}

impl Watchdog {
    fn arm(ty: FileType, input: &[u8], after: Duration) -> Watchdog {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let input = input.to_vec();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(after) {
                let path = std::env::temp_dir().join(format!("mugai-hang-{}.bin", ty.name()));
                let _ = std::fs::write(&path, &input);
                eprintln!(
                    "mutation smoke: a {} rebuild ran past {:?}; input saved to {}",
                    ty.name(),
                    after,
                    path.display()
                );
                std::process::abort();
            }
        });
        Watchdog { done: tx }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.done.send(());
    }
}
