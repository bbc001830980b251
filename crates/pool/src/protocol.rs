//! Framing across the worker boundary.
//!
//! Each message is `u32 LE header length | header JSON | u64 LE body
//! length | body`. Requests carry the policy and the file name in the
//! header and the file in the body; responses carry the [`Outcome`] (less
//! its bytes) in the header and the rebuilt file in the body.

use mugai_core::{Outcome, Policy};
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// Largest header accepted from either side.
pub const MAX_HEADER: u32 = 16 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub name: String,
    pub policy: Policy,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Response {
    pub outcome: Outcome,
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
    let mut body = Vec::new();
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
        let req = Request {
            name: "a.txt".into(),
            policy: Policy::default(),
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &req, b"hello").unwrap();
        let (back, body): (Request, Vec<u8>) = read_frame(&mut &buf[..], 100).unwrap().unwrap();
        assert_eq!(back.name, "a.txt");
        assert_eq!(body, b"hello");
        assert!(read_frame::<_, Request>(&mut &buf[..], 4).is_err());
        assert!(read_frame::<_, Request>(&mut &buf[..buf.len() - 1], 100).is_err());
        assert!(read_frame::<_, Request>(&mut &[][..], 100)
            .unwrap()
            .is_none());
    }
}
