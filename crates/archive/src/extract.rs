//! Streaming extraction of one entry under the limits.
//!
//! Bytes are produced in chunks; before a chunk is kept it is charged to
//! the shared expanded-size budget and checked against the entry's declared
//! size and the ratio limit, so extraction stops at the first chunk past a
//! limit, never after the whole member was inflated.

use crate::names::crc32;
use crate::read::{ratio_exceeded, Entry};
use mugai_core::{Blocked, Code};
use std::io::Read;

/// Size of one extraction step.
pub const CHUNK: usize = 64 * 1024;

/// Largest buffer reserved up front from a declared size; more grows as
/// real bytes arrive, so a lying header cannot make us allocate.
const MAX_RESERVE: u64 = 1 << 20;

/// Why an entry could not be extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractError {
    /// The compression method is not one mugai opens; only this member is
    /// affected.
    Unsupported(Blocked),
    /// Damage, a lie or a limit: the whole archive is refused.
    Archive(Blocked),
}

/// The hooks extraction reports to: the shared budget and the deadline.
pub trait Meter {
    /// Charges `n` more expanded bytes; `Err` once over the limit.
    fn charge(&mut self, n: u64) -> Result<(), Blocked>;
    /// `Err` once the deadline has passed.
    fn tick(&mut self) -> Result<(), Blocked>;
}

/// A name for compression method `m`, for the report.
pub fn method_name(m: u16) -> &'static str {
    match m {
        0 => "stored",
        1 => "Shrink",
        2..=5 => "Reduce",
        6 => "Implode",
        8 => "Deflate",
        9 => "Deflate64",
        12 => "BZIP2",
        14 => "LZMA",
        93 => "Zstandard",
        95 => "XZ",
        98 => "PPMd",
        99 => "AES",
        _ => "unknown",
    }
}

/// Extracts `e`'s data, checking size and CRC against the central record.
pub fn extract(
    e: &Entry<'_>,
    max_ratio: u64,
    meter: &mut dyn Meter,
) -> Result<Vec<u8>, ExtractError> {
    let name = e.shown_name();
    let fail = |d: String| ExtractError::Archive(Blocked::failed(format!("{name}: {d}")));
    let mut out =
        Vec::with_capacity(usize::try_from(e.uncompressed_size.min(MAX_RESERVE)).unwrap_or(0));
    match e.method {
        0 => {
            if e.compressed_size != e.uncompressed_size {
                return Err(fail("stored entry whose sizes differ".into()));
            }
            for chunk in e.data.chunks(CHUNK) {
                step(&mut out, chunk, e, max_ratio, meter, &name)?;
            }
        }
        8 => {
            let mut d = flate2::bufread::DeflateDecoder::new(e.data);
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match d.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(err) => return Err(fail(format!("damaged Deflate data ({err})"))),
                };
                let got = buf.get(..n).ok_or_else(|| fail("inflate overrun".into()))?;
                step(&mut out, got, e, max_ratio, meter, &name)?;
            }
        }
        m => {
            return Err(ExtractError::Unsupported(Blocked::new(
                Code::ArchiveUnsupported,
                format!(
                    "{name}: compression method {m} ({}) is not supported; re-create the ZIP with Deflate",
                    method_name(m)
                ),
            )))
        }
    }
    if out.len() as u64 != e.uncompressed_size {
        return Err(fail(format!(
            "{} bytes extracted but {} declared",
            out.len(),
            e.uncompressed_size
        )));
    }
    if crc32(&out) != e.crc32 {
        return Err(fail("CRC-32 mismatch: the data is damaged".into()));
    }
    Ok(out)
}

/// Checks one chunk against every limit, then keeps it.
fn step(
    out: &mut Vec<u8>,
    chunk: &[u8],
    e: &Entry<'_>,
    max_ratio: u64,
    meter: &mut dyn Meter,
    name: &str,
) -> Result<(), ExtractError> {
    let arch = ExtractError::Archive;
    meter.tick().map_err(arch)?;
    let total = out.len() as u64 + chunk.len() as u64;
    if total > e.uncompressed_size {
        return Err(arch(Blocked::failed(format!(
            "{name}: inflates past its declared size of {} bytes",
            e.uncompressed_size
        ))));
    }
    if ratio_exceeded(total, e.compressed_size, max_ratio) {
        return Err(arch(Blocked::new(
            Code::ArchiveBomb,
            format!(
                "{name}: {} compressed bytes inflate past {total} bytes, a ratio over {max_ratio}",
                e.compressed_size
            ),
        )));
    }
    meter.charge(chunk.len() as u64).map_err(|b| {
        arch(Blocked::new(
            Code::ArchiveBomb,
            format!("{name}: {} ({})", b.detail, b.code),
        ))
    })?;
    out.extend_from_slice(chunk);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::RATIO_FLOOR;
    use std::io::Write;

    struct Counting {
        charged: u64,
        limit: u64,
    }

    impl Meter for Counting {
        fn charge(&mut self, n: u64) -> Result<(), Blocked> {
            self.charged += n;
            if self.charged > self.limit {
                Err(Blocked::new(Code::LimitSize, "over"))
            } else {
                Ok(())
            }
        }
        fn tick(&mut self) -> Result<(), Blocked> {
            Ok(())
        }
    }

    fn zeros_entry(data: &[u8], len: usize) -> Entry<'_> {
        Entry {
            index: 0,
            raw_name: b"z.txt",
            extra: &[],
            made_by: 20,
            flags: 0,
            method: 8,
            dos_time: 0,
            dos_date: 0,
            crc32: crc32(&vec![0u8; len]),
            compressed_size: data.len() as u64,
            uncompressed_size: len as u64,
            external_attrs: 0,
            local_offset: 0,
            data,
            span: (0, 0),
        }
    }

    fn deflated_zeros(len: usize) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0u8; len]).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn extraction_stops_at_the_first_chunk_past_the_budget() {
        let data = deflated_zeros(8 << 20);
        let e = zeros_entry(&data, 8 << 20);
        let mut m = Counting {
            charged: 0,
            limit: 100_000,
        };
        let err = extract(&e, u64::MAX / 2, &mut m).unwrap_err();
        let ExtractError::Archive(b) = err else {
            panic!("{err:?}")
        };
        assert_eq!(b.code, Code::ArchiveBomb);
        assert!(m.charged <= 100_000 + CHUNK as u64, "{}", m.charged);
    }

    #[test]
    fn extraction_stops_when_the_ratio_is_crossed() {
        let data = deflated_zeros(64 << 20);
        let e = zeros_entry(&data, 64 << 20);
        let mut m = Counting {
            charged: 0,
            limit: u64::MAX,
        };
        let err = extract(&e, 200, &mut m).unwrap_err();
        let ExtractError::Archive(b) = err else {
            panic!("{err:?}")
        };
        assert_eq!(b.code, Code::ArchiveBomb);
        assert!(b.detail.contains("ratio"), "{}", b.detail);
        let limit = RATIO_FLOOR.max(data.len() as u64 * 200);
        assert!(m.charged <= limit + CHUNK as u64, "{} > {limit}", m.charged);
        assert!(m.charged < (64 << 20) / 2, "stopped early: {}", m.charged);
    }

    #[test]
    fn extraction_stops_at_the_declared_size() {
        let data = deflated_zeros(8 << 20);
        let mut e = zeros_entry(&data, 8 << 20);
        e.uncompressed_size = 1000;
        let mut m = Counting {
            charged: 0,
            limit: u64::MAX,
        };
        let err = extract(&e, u64::MAX / 2, &mut m).unwrap_err();
        let ExtractError::Archive(b) = err else {
            panic!("{err:?}")
        };
        assert_eq!(b.code, Code::RebuildFailed);
        assert_eq!(m.charged, 0, "nothing past the declared size is kept");
    }

    #[test]
    fn stored_and_deflated_entries_extract_with_crc_checked() {
        let data = deflated_zeros(3000);
        let e = zeros_entry(&data, 3000);
        let mut m = Counting {
            charged: 0,
            limit: u64::MAX,
        };
        assert_eq!(extract(&e, 200, &mut m).unwrap(), vec![0u8; 3000]);
        assert_eq!(m.charged, 3000);
        let mut bad = zeros_entry(&data, 3000);
        bad.crc32 ^= 1;
        assert!(matches!(
            extract(&bad, 200, &mut m),
            Err(ExtractError::Archive(_))
        ));
        let mut other = zeros_entry(&data, 3000);
        other.method = 14;
        let Err(ExtractError::Unsupported(b)) = extract(&other, 200, &mut m) else {
            panic!()
        };
        assert!(b.detail.contains("LZMA"));
    }
}
