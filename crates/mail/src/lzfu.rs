//! Compressed RTF (MS-OXRTFCP): the `PR_RTF_COMPRESSED` body of an Outlook
//! message. LZ77 over a 4 KiB ring dictionary that starts with a fixed
//! RTF prefix; `MELA` marks data stored uncompressed. The output is
//! bounded by the declared raw size and by the caller's limit.

/// The dictionary's initial contents (MS-OXRTFCP 2.1.2.1).
const PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

const LZFU: u32 = 0x7546_5A4C;
const MELA: u32 = 0x414C_454D;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The RTF of a compressed-RTF stream; `Err` says why it cannot be read.
/// `max` bounds the output whatever the header declares.
pub fn decompress(data: &[u8], max: usize) -> Result<Vec<u8>, &'static str> {
    let (Some(comp_size), Some(raw_size), Some(kind)) =
        (u32_at(data, 0), u32_at(data, 4), u32_at(data, 8))
    else {
        return Err("shorter than its header");
    };
    let raw = usize::try_from(raw_size).map_err(|_| "raw size out of range")?;
    if raw > max {
        return Err("declares more than the limit");
    }
    let end = usize::try_from(comp_size)
        .ok()
        .and_then(|c| c.checked_add(4))
        .ok_or("size out of range")?
        .min(data.len());
    let body = data.get(16..end).ok_or("shorter than its header")?;
    match kind {
        MELA => Ok(body.get(..raw).unwrap_or(body).to_vec()),
        LZFU => lzfu(body, raw),
        _ => Err("neither LZFu nor MELA"),
    }
}

fn lzfu(body: &[u8], raw: usize) -> Result<Vec<u8>, &'static str> {
    let mut dict = [0u8; 4096];
    dict[..PREBUF.len()].copy_from_slice(PREBUF);
    let mut w = PREBUF.len();
    let mut out = Vec::with_capacity(raw.min(1 << 20));
    let mut i = 0usize;
    while i < body.len() {
        let control = body[i];
        i += 1;
        for bit in 0..8 {
            if out.len() >= raw {
                return Ok(out);
            }
            if control & (1 << bit) == 0 {
                let Some(&b) = body.get(i) else {
                    return Ok(out);
                };
                i += 1;
                out.push(b);
                dict[w] = b;
                w = (w + 1) % 4096;
            } else {
                let Some(pair) = body.get(i..i + 2) else {
                    return Err("a reference cut short");
                };
                i += 2;
                let v = usize::from(u16::from_be_bytes([pair[0], pair[1]]));
                let (offset, len) = (v >> 4, (v & 0xF) + 2);
                if offset == w {
                    return Ok(out);
                }
                for k in 0..len {
                    let b = dict[(offset + k) % 4096];
                    out.push(b);
                    dict[w] = b;
                    w = (w + 1) % 4096;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_example_decompresses() {
        assert_eq!(PREBUF.len(), 207);
        // MS-OXRTFCP 3.1.1.
        let data: &[u8] = &[
            0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5,
            0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42,
            0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0,
            0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0,
        ];
        let out = decompress(data, 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"
        );
        assert!(decompress(data, 10).is_err(), "over the limit");
        assert!(decompress(&data[..20], 1 << 20).is_err(), "cut short");
        let mut mela = vec![0u8; 16];
        mela[..4].copy_from_slice(&15u32.to_le_bytes());
        mela[4..8].copy_from_slice(&3u32.to_le_bytes());
        mela[8..12].copy_from_slice(&MELA.to_le_bytes());
        mela.extend_from_slice(b"{x}");
        assert_eq!(decompress(&mela, 100).as_deref(), Ok(&b"{x}"[..]));
    }
}
