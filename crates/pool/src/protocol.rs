//! Framing across the worker boundary.
//!
//! Each message is `u32 LE header length | header JSON | u64 LE body
//! length | body`. The worker speaks first: [`FromWorker::Ready`] with the
//! sandbox layers it obtained, or [`FromWorker::Refused`]. Then, per file,
//! the parent sends a [`ToWorker::Job`] (the file in the body); the worker
//! may send any number of [`FromWorker::Scan`] (the bytes to scan in the
//! body), each answered by a [`ToWorker::Scanned`], and ends with
//! [`FromWorker::Done`] (the rebuilt file in the body). The worker has no
//! socket of its own: only the parent reaches the malware scanner.
//! A [`ToWorker::EncryptedZips`] (a mail in the body) is answered by one
//! [`FromWorker::Parts`] (the parts one after another in the body).

use crate::sandbox::Layers;
use mugai_core::{FileType, OutcomeFields, Passwords, Policy, ScanResult};
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// Largest header accepted from either side.
pub const MAX_HEADER: u32 = 16 << 20;

/// Parent to worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum ToWorker {
    /// Rebuild the file in the body (first unlocking it with `passwords`,
    /// when there are any).
    Job {
        name: String,
        /// The type the caller declared ([`mugai_core::Job::declared`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        declared: Option<FileType>,
        policy: Box<Policy>,
        #[serde(default, skip_serializing_if = "Passwords::is_empty")]
        passwords: Passwords,
    },
    /// The answer to the last [`FromWorker::Scan`].
    Scanned { result: WireScan },
    /// Take the password-protected ZIP attachments out of the mail in the
    /// body.
    EncryptedZips { policy: Box<Policy>, max_parts: u32 },
}

/// Worker to parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum FromWorker {
    /// Confined; ready for jobs.
    Ready { layers: Layers },
    /// A required sandbox layer could not be applied; the worker exits.
    Refused { reason: String },
    /// Scan the body with the malware scanner.
    Scan,
    /// The file's outcome as the worker claims it (checked by the parent,
    /// [`crate::recheck`]); the rebuilt file in the body.
    Done { outcome: OutcomeFields },
    /// The parts an [`ToWorker::EncryptedZips`] asked for: their names, and
    /// their lengths in the order their bytes follow in the body.
    Parts { names: Vec<String>, lens: Vec<u64> },
}

/// [`ScanResult`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", content = "detail", rename_all = "snake_case")]
pub enum WireScan {
    Clean,
    Detected(String),
    Unavailable(String),
    TooLarge,
}

impl From<ScanResult> for WireScan {
    fn from(r: ScanResult) -> Self {
        match r {
            ScanResult::Clean => WireScan::Clean,
            ScanResult::Detected(s) => WireScan::Detected(s),
            ScanResult::Unavailable(s) => WireScan::Unavailable(s),
            ScanResult::TooLarge => WireScan::TooLarge,
        }
    }
}

impl From<WireScan> for ScanResult {
    fn from(r: WireScan) -> Self {
        match r {
            WireScan::Clean => ScanResult::Clean,
            WireScan::Detected(s) => ScanResult::Detected(s),
            WireScan::Unavailable(s) => ScanResult::Unavailable(s),
            WireScan::TooLarge => ScanResult::TooLarge,
        }
    }
}

pub fn write_frame<W: Write>(w: &mut W, header: &impl Serialize, body: &[u8]) -> io::Result<()> {
    let h = serde_json::to_vec(header).map_err(io::Error::other)?;
    let hlen = u32::try_from(h.len()).map_err(|_| io::Error::other("header too large"))?;
    w.write_all(&hlen.to_le_bytes())?;
    w.write_all(&h)?;
    w.write_all(&(body.len() as u64).to_le_bytes())?;
    w.write_all(body)?;
    w.flush()
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame.
/// `max_body` bounds the body; a larger one is an error, not an allocation.
pub fn read_frame<R: Read, H: for<'de> Deserialize<'de>>(
    r: &mut R,
    max_body: u64,
) -> io::Result<Option<(H, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let hlen = u32::from_le_bytes(len);
    if hlen > MAX_HEADER {
        return Err(io::Error::other(format!(
            "header of {hlen} bytes is over the limit"
        )));
    }
    let mut h = vec![0u8; hlen as usize];
    r.read_exact(&mut h)?;
    let header: H = serde_json::from_slice(&h).map_err(io::Error::other)?;
    let mut blen = [0u8; 8];
    r.read_exact(&mut blen)?;
    let blen = u64::from_le_bytes(blen);
    if blen > max_body {
        return Err(io::Error::other(format!(
            "body of {blen} bytes is over the limit of {max_body}"
        )));
    }
    // Sized once for what is announced (a peer that announces more than
    // it sends costs at most the first 64 MiB, and only as address space).
    let mut body = Vec::with_capacity(usize::try_from(blen.min(64 << 20)).unwrap_or(0));
    r.by_ref().take(blen).read_to_end(&mut body)?;
    if body.len() as u64 != blen {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "truncated body",
        ));
    }
    Ok(Some((header, body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversize_bodies_are_refused() {
        let req = ToWorker::Job {
            name: "a.txt".into(),
            declared: Some(FileType::Csv),
            policy: Box::default(),
            passwords: Passwords::default(),
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &req, b"hello").unwrap();
        let (back, body): (ToWorker, Vec<u8>) = read_frame(&mut &buf[..], 100).unwrap().unwrap();
        assert!(
            matches!(back, ToWorker::Job { name, declared: Some(FileType::Csv), .. } if name == "a.txt")
        );
        assert_eq!(body, b"hello");
        assert!(read_frame::<_, ToWorker>(&mut &buf[..], 4).is_err());
        assert!(read_frame::<_, ToWorker>(&mut &buf[..buf.len() - 1], 100).is_err());
        assert!(read_frame::<_, ToWorker>(&mut &[][..], 100)
            .unwrap()
            .is_none());
    }

    #[test]
    fn scan_results_survive_the_wire() {
        for r in [
            ScanResult::Clean,
            ScanResult::Detected("Eicar-Test-Signature".into()),
            ScanResult::Unavailable("down".into()),
            ScanResult::TooLarge,
        ] {
            let msg = ToWorker::Scanned {
                result: r.clone().into(),
            };
            let mut buf = Vec::new();
            write_frame(&mut buf, &msg, b"").unwrap();
            let (back, _): (ToWorker, Vec<u8>) = read_frame(&mut &buf[..], 0).unwrap().unwrap();
            let ToWorker::Scanned { result } = back else {
                panic!("wrong message")
            };
            assert_eq!(ScanResult::from(result), r);
        }
    }
}
