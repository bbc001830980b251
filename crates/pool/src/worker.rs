//! The worker side: limits and confines itself, then serves requests until
//! stdin ends.

use crate::protocol::{read_frame, write_frame, FromWorker, ToWorker};
use crate::sandbox;
use mugai_core::config::SandboxConfig;
use mugai_core::{Job, ScanResult, Scanner};
use std::cell::RefCell;
use std::io::{self, BufReader, BufWriter, StdinLock, StdoutLock, Write};

type Input = BufReader<StdinLock<'static>>;
type Output = BufWriter<StdoutLock<'static>>;

/// Applies the limits and the sandbox, says so to the parent, and serves
/// requests on stdin/stdout. Returns when the parent closes stdin; an
/// error when a required sandbox layer is missing (after telling the
/// parent why).
pub fn serve(memory_mib: u64, config: &SandboxConfig, cpu_secs: u64) -> io::Result<()> {
    // Never ask for more than an inherited hard limit allows: raising it
    // would fail and leave the worker unable to start.
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::AS)?;
    let bytes = memory_mib.saturating_mul(1 << 20).min(hard);
    rlimit::setrlimit(rlimit::Resource::AS, bytes, bytes)?;
    // Panics are caught per file and reported in the outcome; the default
    // hook's stderr text would only be noise (and a backtrace would open
    // files, which the sandbox forbids).
    std::panic::set_hook(Box::new(|_| {}));

    // The pipes exist before the sandbox closes the door behind them.
    let mut output: Output = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let input: Input = BufReader::with_capacity(1 << 16, io::stdin().lock());
    let layers = match sandbox::confine(config, cpu_secs) {
        Ok(l) => l,
        Err(refused) => {
            let reason = refused.to_string();
            write_frame(
                &mut output,
                &FromWorker::Refused {
                    reason: reason.clone(),
                },
                &[],
            )?;
            return Err(io::Error::other(reason));
        }
    };
    write_frame(&mut output, &FromWorker::Ready { layers }, &[])?;

    let pipe = Pipe {
        io: RefCell::new((input, output)),
    };
    let engine = mugai_engine::Engine;
    loop {
        let next = {
            let mut io = pipe.io.borrow_mut();
            read_frame::<_, ToWorker>(&mut io.0, u64::MAX >> 1)?
        };
        let Some((msg, body)) = next else {
            return Ok(());
        };
        let (job, policy, passwords) = match msg {
            ToWorker::Job {
                name,
                declared,
                policy,
                passwords,
            } => (
                Job {
                    declared,
                    ..Job::new(name, body)
                },
                policy,
                passwords,
            ),
            ToWorker::EncryptedZips { policy, max_parts } => {
                sandbox::limit_cpu_per_file(policy.limits.deadline_secs)?;
                let parts = mugai_engine::encrypted_zips(&policy, &body, max_parts as usize);
                let (names, bodies): (Vec<String>, Vec<Vec<u8>>) = parts.into_iter().unzip();
                let lens = bodies.iter().map(|b| b.len() as u64).collect();
                let mut io = pipe.io.borrow_mut();
                write_frame(
                    &mut io.1,
                    &FromWorker::Parts { names, lens },
                    &bodies.concat(),
                )?;
                io.1.flush()?;
                continue;
            }
            ToWorker::Scanned { .. } => {
                return Err(io::Error::other("a scan result came without a scan"));
            }
        };
        // A CPU budget for this file alone, on top of the parent's
        // wall-clock deadline: threads cannot spend it twice as fast
        // unnoticed, and a file cannot use the time left by the files
        // before it.
        sandbox::limit_cpu_per_file(policy.limits.deadline_secs)?;
        // The parent holds the scanner; ask it only when one is configured.
        let scanner = policy.av.clamd.is_some().then_some(&pipe as &dyn Scanner);
        let outcome = if passwords.is_empty() {
            engine.sanitize(&policy, scanner, &job)
        } else {
            engine.sanitize_unlocked(&policy, scanner, &job, &passwords.0)
        };
        let (outcome, out) = outcome.into_fields();
        let mut io = pipe.io.borrow_mut();
        write_frame(&mut io.1, &FromWorker::Done { outcome }, &out)?;
        io.1.flush()?;
    }
}

/// The worker's [`Scanner`]: the bytes go to the parent, which asks clamd.
struct Pipe {
    io: RefCell<(Input, Output)>,
}

impl Scanner for Pipe {
    fn scan(&self, bytes: &[u8]) -> ScanResult {
        let mut io = self.io.borrow_mut();
        let (input, output) = &mut *io;
        let asked = write_frame(output, &FromWorker::Scan, bytes)
            .and_then(|()| read_frame::<_, ToWorker>(input, 0));
        match asked {
            Ok(Some((ToWorker::Scanned { result }, _))) => result.into(),
            Ok(_) => ScanResult::Unavailable("the parent did not answer the scan".into()),
            Err(e) => ScanResult::Unavailable(format!("the parent did not answer the scan: {e}")),
        }
    }
}
