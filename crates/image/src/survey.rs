//! A bounds-checked walk over each container's structure, done before any
//! pixel is decoded: it finds the declared dimensions and frame count (so a
//! bomb is refused before allocation), the metadata the rebuild drops, and
//! where the file really ends (so bytes after the end marker are reported).

use mugai_core::{FileType, Reader};

/// What the structure of an image file says about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Survey {
    /// Declared canvas size, when the header could be read.
    pub width: u32,
    pub height: u32,
    /// Frames (GIF images, WebP ANMF chunks, APNG frames, TIFF pages); 1 for
    /// a still image.
    pub frames: u64,
    /// Each piece of metadata found, e.g. `EXIF (APP1)`.
    pub metadata: Vec<String>,
    /// Offset just past the end marker, when the walk reached it.
    pub end: Option<usize>,
    /// Bytes after the end marker.
    pub trailing: usize,
    /// The name of the end marker, for details (`EOI`, `IEND`, ...).
    pub end_marker: &'static str,
    /// WebP: a lossy (VP8) bitstream is present.
    pub lossy: bool,
    /// An ICC profile chunk/segment/tag is present.
    pub has_icc: bool,
    /// TIFF: the offset of each page's IFD, in order, and the byte order.
    pub ifds: Vec<u32>,
    pub little_endian: bool,
}

/// At most this many metadata items are listed; past it they are counted.
const MAX_ITEMS: usize = 32;
/// Bound on TIFF pages and IFD entries walked.
const MAX_IFDS: u64 = 4096;

impl Survey {
    fn note(&mut self, what: impl Into<String>) {
        let what = what.into();
        if self.metadata.len() < MAX_ITEMS && !self.metadata.contains(&what) {
            self.metadata.push(what);
        }
    }

    fn ended_at(&mut self, end: usize, len: usize, marker: &'static str) {
        self.end = Some(end);
        self.trailing = len.saturating_sub(end);
        self.end_marker = marker;
    }

    /// Pixels across every frame, saturating.
    pub fn total_pixels(&self) -> u64 {
        u64::from(self.width)
            .saturating_mul(u64::from(self.height))
            .saturating_mul(self.frames.max(1))
    }
}

/// Walks `bytes` as `ty`. Structural errors end the walk early; the decoder
/// then decides whether the file is readable at all.
pub fn survey(bytes: &[u8], ty: FileType) -> Survey {
    let mut s = Survey {
        frames: 1,
        ..Survey::default()
    };
    match ty {
        FileType::Jpeg => jpeg(bytes, &mut s),
        FileType::Png => png(bytes, &mut s),
        FileType::Gif => gif(bytes, &mut s),
        FileType::Bmp => bmp(bytes, &mut s),
        FileType::Tiff => tiff(bytes, &mut s),
        FileType::Webp => webp(bytes, &mut s),
        _ => None,
    };
    s
}

fn jpeg(bytes: &[u8], s: &mut Survey) -> Option<()> {
    let mut r = Reader::new(bytes);
    if r.take(2)? != [0xFF, 0xD8] {
        return None;
    }
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if r.u8()? != 0xFF {
            return None;
        }
        let mut m = r.u8()?;
        while m == 0xFF {
            m = r.u8()?;
        }
        match m {
            0xD9 => {
                s.ended_at(r.position(), bytes.len(), "EOI marker");
                return Some(());
            }
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let len = usize::from(r.u16_be()?);
        let body = r.take(len.checked_sub(2)?)?;
        match m {
            0xC0..=0xCF if m != 0xC4 && m != 0xC8 && m != 0xCC => {
                let mut b = Reader::new(body);
                b.skip(1)?;
                s.height = u32::from(b.u16_be()?);
                s.width = u32::from(b.u16_be()?);
            }
            0xE0 if body.starts_with(b"JFIF\0") => {}
            0xE0 if body.starts_with(b"JFXX\0") => s.note("JFXX thumbnail (APP0)"),
            0xE1 if body.starts_with(b"Exif\0") => s.note("EXIF (APP1)"),
            0xE1 if body.starts_with(b"http://ns.adobe.com/xap/1.0/") => s.note("XMP (APP1)"),
            0xE1 if body.starts_with(b"http://ns.adobe.com/xmp/extension/") => {
                s.note("extended XMP (APP1)")
            }
            0xE2 if body.starts_with(b"ICC_PROFILE\0") => s.has_icc = true,
            0xE2 if body.starts_with(b"MPF\0") => s.note("multi-picture index (APP2)"),
            0xED => s.note("IPTC/Photoshop (APP13)"),
            // Adobe's colour-transform flag is needed to read the pixels right.
            0xEE if body.starts_with(b"Adobe") => {}
            0xE0..=0xEF => s.note(format!("APP{} segment", m - 0xE0)),
            0xFE => s.note("comment (COM)"),
            0xDA => skip_entropy_coded(&mut r)?,
            _ => {}
        }
    }
}

/// Moves past entropy-coded data to the next real marker: 0xFF00 is a
/// stuffed byte and 0xFFD0..D7 are restart markers inside the scan.
fn skip_entropy_coded(r: &mut Reader<'_>) -> Option<()> {
    loop {
        if r.u8()? != 0xFF {
            continue;
        }
        let at = r.position() - 1;
        let mut next = r.u8()?;
        while next == 0xFF {
            next = r.u8()?;
        }
        if next == 0x00 || (0xD0..=0xD7).contains(&next) {
            continue;
        }
        return r.seek(at);
    }
}

/// PNG chunks that only describe how to show the pixels.
const PNG_RENDERING: [&[u8; 4]; 13] = [
    b"PLTE", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"pHYs", b"bKGD", b"hIST", b"cICP",
    b"mDCV", b"cLLI", b"sPLT",
];

fn png(bytes: &[u8], s: &mut Survey) -> Option<()> {
    let mut r = Reader::new(bytes);
    if r.take(8)? != b"\x89PNG\r\n\x1a\n" {
        return None;
    }
    loop {
        let len = usize::try_from(r.u32_be()?).ok()?;
        let ty: [u8; 4] = r.array()?;
        let data = r.take(len)?;
        r.skip(4)?;
        match &ty {
            b"IHDR" => {
                let mut d = Reader::new(data);
                s.width = d.u32_be()?;
                s.height = d.u32_be()?;
            }
            b"IEND" => {
                s.ended_at(r.position(), bytes.len(), "IEND chunk");
                return Some(());
            }
            b"IDAT" => {}
            b"iCCP" => s.has_icc = true,
            b"tEXt" | b"zTXt" | b"iTXt" => {
                s.note(format!("{} text chunk", String::from_utf8_lossy(&ty)))
            }
            b"eXIf" => s.note("EXIF (eXIf chunk)"),
            b"tIME" => s.note("timestamp (tIME chunk)"),
            b"acTL" => {
                let frames = Reader::new(data).u32_be()?;
                s.frames = u64::from(frames).max(1);
                s.note(format!(
                    "APNG animation ({frames} frames; the default image is kept)"
                ));
            }
            b"fcTL" | b"fdAT" => {}
            t if PNG_RENDERING.contains(&t) => {}
            t => s.note(format!(
                "{} chunk",
                String::from_utf8_lossy(t).escape_default()
            )),
        }
    }
}

fn gif(bytes: &[u8], s: &mut Survey) -> Option<()> {
    let mut r = Reader::new(bytes);
    let sig = r.take(6)?;
    if sig != b"GIF87a" && sig != b"GIF89a" {
        return None;
    }
    s.width = u32::from(r.u16_le()?);
    s.height = u32::from(r.u16_le()?);
    let flags = r.u8()?;
    r.skip(2)?;
    if flags & 0x80 != 0 {
        r.skip(3 << ((flags & 7) + 1))?;
    }
    s.frames = 0;
    loop {
        match r.u8()? {
            0x3B => {
                s.frames = s.frames.max(1);
                s.ended_at(r.position(), bytes.len(), "GIF trailer");
                return Some(());
            }
            0x21 => {
                let label = r.u8()?;
                let first = gif_sub_blocks(&mut r)?;
                match label {
                    0xF9 => {}
                    0xFE => s.note("comment extension"),
                    0x01 => s.note("plain-text extension"),
                    0xFF => match first {
                        b"NETSCAPE2.0" | b"ANIMEXTS1.0" => {}
                        b"XMP DataXMP" => s.note("XMP application extension"),
                        b"ICCRGBG1012" => s.has_icc = true,
                        id => s.note(format!(
                            "application extension {}",
                            String::from_utf8_lossy(id).escape_default()
                        )),
                    },
                    l => s.note(format!("extension 0x{l:02X}")),
                }
            }
            0x2C => {
                r.skip(8)?;
                let flags = r.u8()?;
                if flags & 0x80 != 0 {
                    r.skip(3 << ((flags & 7) + 1))?;
                }
                r.skip(1)?;
                gif_sub_blocks(&mut r)?;
                s.frames += 1;
            }
            _ => return None,
        }
    }
}

/// Skips a chain of GIF sub-blocks; returns the first one.
fn gif_sub_blocks<'a>(r: &mut Reader<'a>) -> Option<&'a [u8]> {
    let mut first: Option<&[u8]> = None;
    loop {
        let n = usize::from(r.u8()?);
        if n == 0 {
            return Some(first.unwrap_or(&[]));
        }
        let block = r.take(n)?;
        first.get_or_insert(block);
    }
}

fn bmp(bytes: &[u8], s: &mut Survey) -> Option<()> {
    let mut r = Reader::new(bytes);
    if r.take(2)? != b"BM" {
        return None;
    }
    r.skip(8)?;
    let off_bits = u64::from(r.u32_le()?);
    let dib = r.u32_le()?;
    let (w, h, bpp, compression, size_image) = if dib == 12 {
        let w = i64::from(r.u16_le()?);
        let h = i64::from(r.u16_le()?);
        r.skip(2)?;
        (w, h, u64::from(r.u16_le()?), 0, 0)
    } else {
        let w = i64::from(r.u32_le()? as i32);
        let h = i64::from(r.u32_le()? as i32);
        r.skip(2)?;
        let bpp = u64::from(r.u16_le()?);
        let compression = r.u32_le()?;
        (w, h, bpp, compression, u64::from(r.u32_le()?))
    };
    s.width = u32::try_from(w.unsigned_abs()).unwrap_or(u32::MAX);
    s.height = u32::try_from(h.unsigned_abs()).unwrap_or(u32::MAX);
    let data_len = match compression {
        // Uncompressed rows are padded to 4 bytes.
        0 | 3 | 6 => (u64::from(s.width).saturating_mul(bpp).saturating_add(31) / 32)
            .saturating_mul(4)
            .saturating_mul(u64::from(s.height)),
        _ => size_image,
    };
    let mut end = off_bits.saturating_add(data_len);
    if dib >= 124 {
        // BITMAPV5HEADER: an embedded (MBED) or linked (LINK: a file path) profile.
        let mut v5 = Reader::new(bytes);
        v5.seek(14 + 56)?;
        let cs_type = v5.take(4)?;
        v5.seek(14 + 112)?;
        let p_off = u64::from(v5.u32_le()?);
        let p_len = u64::from(v5.u32_le()?);
        if cs_type == b"DEBM" {
            s.has_icc = true;
            end = end.max(14 + p_off.saturating_add(p_len));
        } else if cs_type == b"KNIL" {
            s.note("linked colour profile (a file path)");
            end = end.max(14 + p_off.saturating_add(p_len));
        }
    }
    let end = usize::try_from(end).ok()?;
    let tail = bytes.get(end..).unwrap_or_default();
    // Up to three zero bytes are alignment padding many writers add.
    if tail.len() < 4 && tail.iter().all(|&b| b == 0) {
        s.ended_at(bytes.len(), bytes.len(), "end of the pixel data");
    } else if end <= bytes.len() {
        s.ended_at(end, bytes.len(), "end of the pixel data");
    }
    Some(())
}

/// TIFF tags that carry metadata rather than pixels or their layout.
fn tiff_metadata_tag(tag: u16) -> Option<&'static str> {
    Some(match tag {
        269 => "DocumentName",
        270 => "ImageDescription",
        271 => "Make",
        272 => "Model",
        285 => "PageName",
        305 => "Software",
        306 => "DateTime",
        315 => "Artist",
        316 => "HostComputer",
        700 => "XMP",
        33432 => "Copyright",
        33723 => "IPTC",
        34377 => "Photoshop",
        34665 => "EXIF IFD",
        34853 => "GPS IFD",
        37724 => "Photoshop layers",
        50341 => "PrintIM",
        _ => return None,
    })
}

fn tiff(bytes: &[u8], s: &mut Survey) -> Option<()> {
    let mut r = Reader::new(bytes);
    let le = match r.take(4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let u16_at = |r: &mut Reader<'_>| if le { r.u16_le() } else { r.u16_be() };
    let u32_at = |r: &mut Reader<'_>| if le { r.u32_le() } else { r.u32_be() };
    s.little_endian = le;
    let mut next = u32_at(&mut r)?;
    let mut seen = std::collections::HashSet::new();
    s.frames = 0;
    while next != 0 && s.frames < MAX_IFDS && seen.insert(next) {
        r.seek(usize::try_from(next).ok()?)?;
        s.ifds.push(next);
        let count = u16_at(&mut r)?;
        let first = s.frames == 0;
        for _ in 0..count {
            let tag = u16_at(&mut r)?;
            let ty = u16_at(&mut r)?;
            r.skip(4)?;
            let value = if ty == 3 {
                let v = u32::from(u16_at(&mut r)?);
                r.skip(2)?;
                v
            } else {
                u32_at(&mut r)?
            };
            match tag {
                256 if first => s.width = value,
                257 if first => s.height = value,
                34675 => s.has_icc = true,
                t => {
                    if let Some(name) = tiff_metadata_tag(t) {
                        s.note(format!("{name} tag"));
                    } else if t >= 32768 && !matches!(t, 32995..=32998 | 33550 | 33922 | 34264) {
                        s.note(format!("private tag {t}"));
                    }
                }
            }
        }
        s.frames += 1;
        next = u32_at(&mut r)?;
    }
    // Pages may differ in size: each is checked against the limit as it
    // is decoded; here only the first.
    s.frames = 1;
    Some(())
}

fn webp(bytes: &[u8], s: &mut Survey) -> Option<()> {
    let mut r = Reader::new(bytes);
    if r.take(4)? != b"RIFF" {
        return None;
    }
    let riff_len = usize::try_from(r.u32_le()?).ok()?;
    if r.take(4)? != b"WEBP" {
        return None;
    }
    let end = riff_len.checked_add(8)?;
    let body = bytes.get(12..end.min(bytes.len()))?;
    let mut frames = 0u64;
    webp_chunks(body, s, &mut frames, 0)?;
    if frames > 0 {
        s.frames = frames;
    }
    if frames > 1 {
        s.note(format!(
            "WebP animation ({frames} frames; the first frame is kept)"
        ));
    }
    if end <= bytes.len() {
        s.ended_at(end, bytes.len(), "end of the RIFF container");
    }
    Some(())
}

fn webp_chunks(body: &[u8], s: &mut Survey, frames: &mut u64, depth: u8) -> Option<()> {
    let mut r = Reader::new(body);
    while r.remaining() >= 8 {
        let id: [u8; 4] = r.array()?;
        let len = usize::try_from(r.u32_le()?).ok()?;
        let data = r.take(len)?;
        // Chunks are padded to an even length.
        if len % 2 == 1 {
            let _ = r.skip(1);
        }
        match &id {
            b"VP8X" if depth == 0 => {
                let mut d = Reader::new(data);
                d.skip(4)?;
                s.width = u24(&mut d)? + 1;
                s.height = u24(&mut d)? + 1;
            }
            b"VP8 " => {
                s.lossy = true;
                if s.width == 0 {
                    let mut d = Reader::new(data);
                    d.skip(6)?;
                    s.width = u32::from(d.u16_le()? & 0x3FFF);
                    s.height = u32::from(d.u16_le()? & 0x3FFF);
                }
            }
            b"VP8L" => {
                if s.width == 0 {
                    let mut d = Reader::new(data);
                    d.skip(1)?;
                    let bits = d.u32_le()?;
                    s.width = (bits & 0x3FFF) + 1;
                    s.height = ((bits >> 14) & 0x3FFF) + 1;
                }
            }
            b"ALPH" | b"ANIM" => {}
            b"ANMF" if depth == 0 => {
                *frames += 1;
                webp_chunks(data.get(16..)?, s, frames, 1)?;
            }
            b"ICCP" => s.has_icc = true,
            b"EXIF" => s.note("EXIF chunk"),
            b"XMP " => s.note("XMP chunk"),
            t => s.note(format!(
                "{} chunk",
                String::from_utf8_lossy(t).escape_default()
            )),
        }
    }
    Some(())
}

fn u24(r: &mut Reader<'_>) -> Option<u32> {
    let b: [u8; 3] = r.array()?;
    Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, RgbImage};

    fn encoded(f: ImageFormat) -> Vec<u8> {
        let img = RgbImage::from_fn(6, 4, |x, y| image::Rgb([x as u8 * 40, y as u8 * 60, 7]));
        let mut v = std::io::Cursor::new(Vec::new());
        img.write_to(&mut v, f).expect("encode");
        v.into_inner()
    }

    #[test]
    fn clean_files_end_at_their_end_marker() {
        for (f, t) in [
            (ImageFormat::Jpeg, FileType::Jpeg),
            (ImageFormat::Png, FileType::Png),
            (ImageFormat::Gif, FileType::Gif),
            (ImageFormat::Bmp, FileType::Bmp),
            (ImageFormat::WebP, FileType::Webp),
        ] {
            let b = encoded(f);
            let s = survey(&b, t);
            assert_eq!((s.width, s.height), (6, 4), "{t}");
            assert_eq!(s.end, Some(b.len()), "{t}");
            assert_eq!(s.trailing, 0, "{t}");
            assert!(s.metadata.is_empty(), "{t}: {:?}", s.metadata);
        }
    }

    #[test]
    fn appended_bytes_are_counted_after_the_end_marker() {
        for (f, t) in [
            (ImageFormat::Jpeg, FileType::Jpeg),
            (ImageFormat::Png, FileType::Png),
            (ImageFormat::Gif, FileType::Gif),
            (ImageFormat::Bmp, FileType::Bmp),
            (ImageFormat::WebP, FileType::Webp),
        ] {
            let mut b = encoded(f);
            let len = b.len();
            b.extend_from_slice(b"PK\x03\x04payload");
            let s = survey(&b, t);
            assert_eq!(s.end, Some(len), "{t}");
            assert_eq!(s.trailing, 11, "{t}");
        }
    }

    #[test]
    fn bmp_alignment_padding_is_not_trailing_data() {
        let mut b = encoded(ImageFormat::Bmp);
        b.extend_from_slice(&[0, 0]);
        assert_eq!(survey(&b, FileType::Bmp).trailing, 0);
        b.push(1);
        assert_eq!(survey(&b, FileType::Bmp).trailing, 3);
    }

    #[test]
    fn jpeg_metadata_segments_are_named() {
        let b = encoded(ImageFormat::Jpeg);
        let mut v = b[..2].to_vec();
        for (m, body) in [
            (0xE1u8, b"Exif\0\0II*\0".as_slice()),
            (0xFE, b"hello"),
            (0xED, b"Photoshop 3.0\0"),
            (0xE2, b"ICC_PROFILE\0\x01\x01"),
        ] {
            v.extend_from_slice(&[0xFF, m]);
            v.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
            v.extend_from_slice(body);
        }
        v.extend_from_slice(&b[2..]);
        let s = survey(&v, FileType::Jpeg);
        assert_eq!(
            s.metadata,
            ["EXIF (APP1)", "comment (COM)", "IPTC/Photoshop (APP13)"]
        );
        assert!(s.has_icc);
        assert_eq!(s.trailing, 0);
    }

    #[test]
    fn truncated_and_lying_headers_do_not_panic() {
        for (f, t) in [
            (ImageFormat::Jpeg, FileType::Jpeg),
            (ImageFormat::Png, FileType::Png),
            (ImageFormat::Gif, FileType::Gif),
            (ImageFormat::Bmp, FileType::Bmp),
            (ImageFormat::Tiff, FileType::Tiff),
            (ImageFormat::WebP, FileType::Webp),
        ] {
            let b = encoded(f);
            for cut in 0..b.len() {
                let s = survey(&b[..cut], t);
                assert!(s.end.is_none_or(|e| e <= cut), "{t} cut at {cut}");
            }
            let mut lying = b.clone();
            for i in 0..lying.len().min(64) {
                lying[i] = 0xFF;
                let _ = survey(&lying, t);
            }
        }
    }

    #[test]
    fn tiff_pages_are_listed_and_loops_stop() {
        let b = encoded(ImageFormat::Tiff);
        let s = survey(&b, FileType::Tiff);
        assert_eq!(s.ifds.len(), 1);
        assert_eq!((s.width, s.height), (6, 4));
        // Point the first IFD's next-IFD link back at itself.
        let ifd = s.ifds[0] as usize;
        let n = usize::from(u16::from_le_bytes([b[ifd], b[ifd + 1]]));
        let mut looped = b.clone();
        let link = ifd + 2 + 12 * n;
        looped[link..link + 4].copy_from_slice(&(ifd as u32).to_le_bytes());
        assert_eq!(survey(&looped, FileType::Tiff).ifds.len(), 1);
    }

    #[test]
    fn gif_frames_are_counted() {
        let mut b = encoded(ImageFormat::Gif);
        // Duplicate the single image block (descriptor + data) before the trailer.
        let start = b.iter().position(|&x| x == 0x2C).expect("image descriptor");
        let block = b[start..b.len() - 1].to_vec();
        let at = b.len() - 1;
        b.splice(at..at, block);
        assert_eq!(survey(&b, FileType::Gif).frames, 2);
    }
}
