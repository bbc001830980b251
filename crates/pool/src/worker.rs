//! The worker side: limits itself, then serves requests until stdin ends.

use crate::protocol::{read_frame, write_frame, Request, Response};
use mugai_core::{Job, Sanitize};
use std::io::{self, BufReader, BufWriter};

/// Applies the address-space limit and serves requests on stdin/stdout.
/// Returns when the parent closes stdin.
pub fn serve(memory_mib: u64) -> io::Result<()> {
    let bytes = memory_mib.saturating_mul(1 << 20);
    rlimit::setrlimit(rlimit::Resource::AS, bytes, bytes)?;
    // A crashing parser must not leave core files of untrusted data.
    let _ = rlimit::setrlimit(rlimit::Resource::CORE, 0, 0);
    // Panics are caught per file and reported in the outcome; the default
    // hook's stderr text would only be noise.
    std::panic::set_hook(Box::new(|_| {}));

    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    let mut input = BufReader::with_capacity(1 << 16, stdin);
    let mut output = BufWriter::with_capacity(1 << 16, stdout);
    let engine = mugai_engine::InProcess;
    while let Some((req, body)) = read_frame::<_, Request>(&mut input, u64::MAX >> 1)? {
        let job = Job {
            name: req.name,
            bytes: body,
        };
        let mut outcome = engine.sanitize(&req.policy, job);
        let out = outcome.output.take().unwrap_or_default();
        write_frame(&mut output, &Response { outcome }, &out)?;
    }
    Ok(())
}
