//! The ZIP writer for rebuilt archives: fast Deflate (or stored when Deflate
//! does not help), UTF-8 names with the flag set, no extra fields, no
//! comments, no Unix modes, no data descriptors.

use crate::names::crc32;
use mugai_core::Blocked;
use std::io::Write;

const VERSION: u16 = 20;

/// A ZIP being written in memory.
#[derive(Debug, Default)]
pub struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    count: u16,
}

fn too_large() -> Blocked {
    Blocked::failed("the rebuilt archive would need ZIP64 (over 4 GiB or 65535 entries)")
}

fn u32_of(v: usize) -> Result<u32, Blocked> {
    u32::try_from(v)
        .ok()
        .filter(|&v| v != u32::MAX)
        .ok_or_else(too_large)
}

impl ZipWriter {
    pub fn new() -> Self {
        ZipWriter::default()
    }

    /// Adds a file. `name` must already be safe.
    pub fn add(
        &mut self,
        name: &str,
        data: &[u8],
        dos_time: u16,
        dos_date: u16,
    ) -> Result<(), Blocked> {
        let name_len = u16::try_from(name.len()).map_err(|_| Blocked::failed("name too long"))?;
        let crc = crc32(data);
        let mut enc = flate2::write::DeflateEncoder::new(
            Vec::with_capacity(data.len() / 2 + 64),
            flate2::Compression::fast(),
        );
        enc.write_all(data)
            .map_err(|e| Blocked::failed(format!("deflate: {e}")))?;
        let deflated = enc
            .finish()
            .map_err(|e| Blocked::failed(format!("deflate: {e}")))?;
        let (method, body): (u16, &[u8]) = if deflated.len() < data.len() {
            (8, &deflated)
        } else {
            (0, data)
        };
        let offset = u32_of(self.out.len())?;
        let csize = u32_of(body.len())?;
        let usize_ = u32_of(data.len())?;
        self.count = self
            .count
            .checked_add(1)
            .filter(|&c| c != u16::MAX)
            .ok_or_else(too_large)?;
        let flags: u16 = 1 << 11;

        let o = &mut self.out;
        o.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for v in [VERSION, flags, method, dos_time, dos_date] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, csize, usize_] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        o.extend_from_slice(&name_len.to_le_bytes());
        o.extend_from_slice(&0u16.to_le_bytes());
        o.extend_from_slice(name.as_bytes());
        o.extend_from_slice(body);
        u32_of(o.len())?;

        let c = &mut self.central;
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        // Made by: MS-DOS host, so no Unix mode is implied.
        for v in [VERSION, VERSION, flags, method, dos_time, dos_date] {
            c.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, csize, usize_] {
            c.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name_len, 0, 0, 0, 0] {
            c.extend_from_slice(&v.to_le_bytes());
        }
        c.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(name.as_bytes());
        Ok(())
    }

    /// The finished archive.
    pub fn finish(mut self) -> Result<Vec<u8>, Blocked> {
        let cd_offset = u32_of(self.out.len())?;
        let cd_size = u32_of(self.central.len())?;
        self.out.extend_from_slice(&self.central);
        u32_of(self.out.len())?;
        self.out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        for v in [0u16, 0, self.count, self.count] {
            self.out.extend_from_slice(&v.to_le_bytes());
        }
        self.out.extend_from_slice(&cd_size.to_le_bytes());
        self.out.extend_from_slice(&cd_offset.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes());
        Ok(self.out)
    }
}
