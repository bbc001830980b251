//! OS/2 2.x bitmaps (a 16- or 64-byte info header), which the general
//! decoder does not read. Their first 40 header bytes have the Windows
//! layout and their palette is the Windows one, so an uncompressed, RLE8
//! or RLE4 bitmap is re-headed as a Windows bitmap in memory and decoded
//! as such; RLE24 (compression 4, OS/2 only) is decoded here; Huffman 1D
//! (compression 3) is refused with a reason that names it.

use image::{DynamicImage, RgbImage};
use mugai_core::{Blocked, Code, Context, Reader};

/// The OS/2 2.x info header size of `input`, if it is one.
pub fn header_size(input: &[u8]) -> Option<u32> {
    let mut r = Reader::new(input);
    if r.take(2)? != b"BM" {
        return None;
    }
    r.seek(14)?;
    let size = r.u32_le()?;
    matches!(size, 16 | 64).then_some(size)
}

/// What to do with an OS/2 2.x bitmap.
pub enum Os2 {
    /// The same bitmap with a Windows info header: decode it as a BMP.
    Windows(Vec<u8>),
    /// Decoded here.
    Pixels(DynamicImage),
}

/// Reads the OS/2 2.x bitmap `input` with a `size`-byte info header.
pub fn read(input: &[u8], size: u32, cx: &Context<'_>) -> Result<Os2, Blocked> {
    let fail = |d: &str| cx.block(Code::RebuildFailed, format!("bmp: OS/2 2.x bitmap: {d}"));
    let mut r = Reader::new(input);
    r.seek(10).ok_or_else(|| fail("truncated header"))?;
    let off_bits = r.u32_le().ok_or_else(|| fail("truncated header"))?;
    r.seek(18).ok_or_else(|| fail("truncated header"))?;
    let (Some(w), Some(h), Some(_planes), Some(bpp)) =
        (r.u32_le(), r.u32_le(), r.u16_le(), r.u16_le())
    else {
        return Err(fail("truncated header"));
    };
    let compression = if size >= 20 {
        r.u32_le().unwrap_or(0)
    } else {
        0
    };
    match (compression, bpp) {
        (0..=2, _) => {
            // Re-head as BITMAPINFOHEADER: 40 bytes, the rest shifted.
            let hsize = size as usize;
            let body = input
                .get(14 + hsize..)
                .ok_or_else(|| fail("truncated header"))?;
            let mut info = input
                .get(14..14 + hsize.min(40))
                .ok_or_else(|| fail("truncated header"))?
                .to_vec();
            info.resize(40, 0);
            info[..4].copy_from_slice(&40u32.to_le_bytes());
            let shift = 40i64 - hsize as i64;
            let off = u32::try_from(i64::from(off_bits) + shift)
                .map_err(|_| fail("pixel data offset out of range"))?;
            let mut out = Vec::with_capacity(input.len() + 24);
            out.extend_from_slice(input.get(..10).ok_or_else(|| fail("truncated"))?);
            out.extend_from_slice(&off.to_le_bytes());
            out.extend_from_slice(&info);
            out.extend_from_slice(body);
            let total = u32::try_from(out.len()).unwrap_or(u32::MAX);
            out[2..6].copy_from_slice(&total.to_le_bytes());
            Ok(Os2::Windows(out))
        }
        (4, 24) => {
            let width = w as i32;
            let height = h as i32;
            if width <= 0 || height == 0 {
                return Err(fail("empty or negative width"));
            }
            let (w, top_down) = (width as u32, height < 0);
            let h = height.unsigned_abs();
            crate::rebuild::check_pixels(cx, mugai_core::FileType::Bmp, w, h, 1)?;
            cx.charge_expanded(u64::from(w) * u64::from(h) * 3)?;
            let data = input
                .get(off_bits as usize..)
                .ok_or_else(|| fail("pixel data outside the file"))?;
            let px = rle24(data, w, h).ok_or_else(|| fail("damaged RLE24 data"))?;
            let mut img = RgbImage::from_raw(w, h, px).ok_or_else(|| fail("size"))?;
            if !top_down {
                image::imageops::flip_vertical_in_place(&mut img);
            }
            Ok(Os2::Pixels(DynamicImage::ImageRgb8(img)))
        }
        (3, _) => Err(fail("Huffman 1D compression is not supported")),
        (c, b) => Err(fail(&format!(
            "compression {c} at {b} bits is not supported"
        ))),
    }
}

/// Decodes RLE24 (rows bottom-first as stored): pairs of (count, BGR) and
/// escapes 0/0 end of line, 0/1 end of bitmap, 0/2 delta, 0/n n absolute
/// pixels (padded to 16 bits). Pixels never written stay black.
fn rle24(data: &[u8], w: u32, h: u32) -> Option<Vec<u8>> {
    let (w, h) = (w as usize, h as usize);
    let mut out = vec![0u8; w.checked_mul(h)?.checked_mul(3)?];
    let (mut x, mut y) = (0usize, 0usize);
    let mut r = Reader::new(data);
    let put = |x: usize, y: usize, bgr: &[u8], out: &mut Vec<u8>| {
        if x < w && y < h {
            let i = (y * w + x) * 3;
            out[i] = bgr[2];
            out[i + 1] = bgr[1];
            out[i + 2] = bgr[0];
        }
    };
    while y < h {
        let n = r.u8()?;
        let v = r.u8()?;
        if n > 0 {
            let mut bgr = [v, 0, 0];
            bgr[1] = r.u8()?;
            bgr[2] = r.u8()?;
            for _ in 0..n {
                put(x, y, &bgr, &mut out);
                x += 1;
            }
            continue;
        }
        match v {
            0 => {
                x = 0;
                y += 1;
            }
            1 => break,
            2 => {
                x += usize::from(r.u8()?);
                y += usize::from(r.u8()?);
            }
            n => {
                for _ in 0..n {
                    let bgr = r.take(3)?;
                    put(x, y, bgr, &mut out);
                    x += 1;
                }
                if (usize::from(n) * 3) % 2 == 1 {
                    r.skip(1)?;
                }
            }
        }
    }
    // Rows were produced bottom-first; the caller flips.
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rle24_runs_absolute_runs_and_escapes() {
        // 3x2: row 0 = run of 3 red; row 1 = absolute 1 green, delta, end.
        let data = [
            3, 0, 0, 255, 0, 0, // run, end of line
            0, 3, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, // absolute 3 (9 bytes + pad)
            0, 1,
        ];
        let px = rle24(&data, 3, 2).unwrap();
        assert_eq!(&px[..9], &[255, 0, 0, 255, 0, 0, 255, 0, 0]);
        assert_eq!(&px[9..], &[0, 255, 0, 0, 255, 0, 0, 255, 0]);
        assert!(rle24(&[5, 0], 3, 2).is_none(), "truncated run");
    }
}
