//! TIFF, every page kept. Each page is decoded by pointing the header's
//! first-IFD offset at that page's IFD (every offset in a TIFF is absolute,
//! so the rest of the file reads unchanged), then all pages are written to
//! one new Deflate-compressed TIFF with only the tags that describe pixels.

use crate::icc;
use crate::rebuild::{check_pixels, image_error, limits, one_line};
use image::codecs::tiff::TiffDecoder;
use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder};
use mugai_core::{Blocked, Code, Context, FileType};
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use tiff::encoder::colortype::{
    self, Gray16, Gray8, RGB32Float, RGBA32Float, RGB16, RGB8, RGBA16, RGBA8,
};
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{Compression, TiffEncoder, TiffKind, TiffValue};
use tiff::tags::Tag;

/// The input with bytes 4..8 (the first-IFD offset) replaced.
struct Patched<'a> {
    data: &'a [u8],
    patch: [u8; 4],
    pos: u64,
}

impl Read for Patched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let start = usize::try_from(self.pos).unwrap_or(usize::MAX);
        let src = self.data.get(start..).unwrap_or_default();
        let n = src.len().min(buf.len());
        for (i, (d, s)) in buf.iter_mut().zip(src).enumerate() {
            let at = start + i;
            *d = if (4..8).contains(&at) {
                self.patch[at - 4]
            } else {
                *s
            };
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Patched<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let len = self.data.len() as i128;
        let next = match to {
            SeekFrom::Start(n) => i128::from(n),
            SeekFrom::End(d) => len + i128::from(d),
            SeekFrom::Current(d) => i128::from(self.pos) + i128::from(d),
        };
        self.pos = u64::try_from(next).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

/// One decoded page and the profile to keep with it.
struct Page {
    img: DynamicImage,
    icc: Option<Vec<u8>>,
}

pub fn rebuild(
    input: &[u8],
    ifds: &[u32],
    little_endian: bool,
    dropped: &mut Vec<String>,
    cx: &mut Context<'_>,
) -> Result<Vec<u8>, Blocked> {
    let mut pages = Vec::new();
    let mut pixels: u64 = 0;
    for (n, &ifd) in ifds.iter().enumerate() {
        cx.check_deadline()?;
        let patch = if little_endian {
            ifd.to_le_bytes()
        } else {
            ifd.to_be_bytes()
        };
        let reader = BufReader::new(Patched {
            data: input,
            patch,
            pos: 0,
        });
        let what = |w: &str| format!("page {}: {w}", n + 1);
        if let Some(pal) = palette(input, ifd, little_endian) {
            let img = decode_palette(input, patch, &pal, cx, n + 1)?;
            pixels = pixels
                .saturating_add(u64::from(img.width()).saturating_mul(u64::from(img.height())));
            check_pixels(cx, FileType::Tiff, 1, 1, pixels)?;
            pages.push(Page { img, icc: None });
            continue;
        }
        let mut dec = match TiffDecoder::new(reader) {
            Ok(d) => d,
            Err(image::ImageError::Unsupported(_)) => {
                let reader = BufReader::new(Patched {
                    data: input,
                    patch,
                    pos: 0,
                });
                let img = decode_other(reader, cx, n + 1)?;
                pixels = pixels
                    .saturating_add(u64::from(img.width()).saturating_mul(u64::from(img.height())));
                check_pixels(cx, FileType::Tiff, 1, 1, pixels)?;
                pages.push(Page { img, icc: None });
                continue;
            }
            Err(e) => {
                return Err(image_error(
                    cx,
                    FileType::Tiff,
                    &what("cannot read the header"),
                    e,
                ))
            }
        };
        dec.set_limits(limits(cx))
            .map_err(|e| image_error(cx, FileType::Tiff, &what("limits"), e))?;
        let (w, h) = dec.dimensions();
        // Every page counts against the one pixel budget.
        pixels = pixels.saturating_add(u64::from(w).saturating_mul(u64::from(h)));
        check_pixels(cx, FileType::Tiff, 1, 1, pixels)?;
        cx.charge_expanded(dec.total_bytes())?;
        let orientation = dec.orientation().unwrap_or(Orientation::NoTransforms);
        let profile = dec.icc_profile().ok().flatten();
        let mut img = DynamicImage::from_decoder(dec)
            .map_err(|e| image_error(cx, FileType::Tiff, &what("cannot decode the pixels"), e))?;
        img.apply_orientation(orientation);
        let img = match img.color() {
            ColorType::L8
            | ColorType::Rgb8
            | ColorType::Rgba8
            | ColorType::L16
            | ColorType::Rgb16
            | ColorType::Rgba16 => img,
            // Float samples are written as 16-bit integers, which every
            // reader opens (most cannot open float TIFF).
            ColorType::Rgb32F => DynamicImage::ImageRgb16(img.to_rgb16()),
            ColorType::La8 => DynamicImage::ImageRgba8(img.to_rgba8()),
            _ => DynamicImage::ImageRgba16(img.to_rgba16()),
        };
        let icc = match profile {
            Some(p) => match icc::check(&p, img.color()) {
                Ok(()) => Some(p),
                Err(why) => {
                    dropped.push(format!("page {}: ICC profile ({why})", n + 1));
                    None
                }
            },
            None => None,
        };
        pages.push(Page { img, icc });
    }
    if pages.is_empty() {
        return Err(cx.block(Code::RebuildFailed, "tiff: no image directory"));
    }

    let mut out = Cursor::new(Vec::new());
    let fail = |cx: &Context<'_>, e: tiff::TiffError| {
        cx.block(
            Code::RebuildFailed,
            format!("tiff: cannot encode: {}", one_line(&e.to_string())),
        )
    };
    {
        let mut enc = TiffEncoder::new(&mut out)
            .map_err(|e| fail(cx, e))?
            .with_compression(Compression::Deflate(DeflateLevel::Fast));
        for p in &pages {
            cx.check_deadline()?;
            write_page(&mut enc, p).map_err(|e| fail(cx, e))?;
        }
    }
    Ok(out.into_inner())
}

fn write_page<W: std::io::Write + Seek, K: TiffKind>(
    enc: &mut TiffEncoder<W, K>,
    p: &Page,
) -> tiff::TiffResult<()> {
    let (w, h) = (p.img.width(), p.img.height());
    let icc = p.icc.as_deref();
    match &p.img {
        DynamicImage::ImageLuma8(b) => put::<_, Gray8, K>(enc, w, h, b.as_raw(), icc),
        DynamicImage::ImageLuma16(b) => put::<_, Gray16, K>(enc, w, h, b.as_raw(), icc),
        DynamicImage::ImageRgb8(b) => put::<_, RGB8, K>(enc, w, h, b.as_raw(), icc),
        DynamicImage::ImageRgb16(b) => put::<_, RGB16, K>(enc, w, h, b.as_raw(), icc),
        DynamicImage::ImageRgba8(b) => put::<_, RGBA8, K>(enc, w, h, b.as_raw(), icc),
        DynamicImage::ImageRgba16(b) => put::<_, RGBA16, K>(enc, w, h, b.as_raw(), icc),
        DynamicImage::ImageRgb32F(b) => put::<_, RGB32Float, K>(enc, w, h, b.as_raw(), icc),
        DynamicImage::ImageRgba32F(b) => put::<_, RGBA32Float, K>(enc, w, h, b.as_raw(), icc),
        other => {
            let b = other.to_rgba16();
            put::<_, RGBA16, K>(enc, w, h, b.as_raw(), icc)
        }
    }
}

fn put<W: std::io::Write + Seek, C: colortype::ColorType, K: TiffKind>(
    enc: &mut TiffEncoder<W, K>,
    w: u32,
    h: u32,
    data: &[C::Inner],
    icc: Option<&[u8]>,
) -> tiff::TiffResult<()>
where
    [C::Inner]: TiffValue,
{
    let mut img = enc.new_image::<C>(w, h)?;
    if let Some(p) = icc {
        img.encoder().write_tag(Tag::IccProfile, p)?;
    }
    // The encoder leaves the fourth sample undeclared; say it is alpha
    // (unassociated), as the decoder read it.
    if C::BITS_PER_SAMPLE.len() == 4 {
        img.encoder().write_tag(Tag::ExtraSamples, 2u16)?;
    }
    img.write_data(data)
}

/// Pages in sample layouts the general decoder does not map to pixels:
/// grey at 2 or 4 bits and JPEG-compressed YCbCr. Read
/// with the `tiff` crate (bounds-checked, limited) and expanded here; any
/// other layout is refused with a reason that names it.
pub(crate) fn decode_other<R: Read + Seek>(
    reader: R,
    cx: &Context<'_>,
    page: usize,
) -> Result<DynamicImage, Blocked> {
    use tiff::decoder::{Decoder, DecodingResult, Limits};
    use tiff::ColorType as T;
    let fail = |what: String| cx.block(Code::RebuildFailed, format!("tiff: page {page}: {what}"));
    let terr = |e: tiff::TiffError| fail(one_line(&e.to_string()));
    let max = cx.policy().limits.max_image_pixels;
    let mut limits = Limits::default();
    limits.decoding_buffer_size =
        usize::try_from(max.saturating_mul(8).saturating_add(1 << 20)).unwrap_or(usize::MAX);
    let mut dec = Decoder::new(reader).map_err(terr)?.with_limits(limits);
    let (w, h) = dec.dimensions().map_err(terr)?;
    check_pixels(cx, FileType::Tiff, w, h, 1)?;
    cx.charge_expanded(u64::from(w) * u64::from(h) * 3)?;
    let color = dec.colortype().map_err(terr)?;
    let compression = dec
        .find_tag_unsigned::<u16>(Tag::Compression)
        .map_err(terr)?
        .unwrap_or(1);
    let photometric = dec
        .find_tag_unsigned::<u16>(Tag::PhotometricInterpretation)
        .map_err(terr)?;
    let supported = match color {
        T::Gray(1 | 2 | 4) => true,
        T::YCbCr(8) => matches!(compression, 6 | 7),
        _ => false,
    };
    if !supported {
        let what = match color {
            T::YCbCr(_) => {
                "TIFF with YCbCr colour without JPEG compression is not supported".into()
            }
            other => format!("TIFF with {other:?} samples is not supported"),
        };
        return Err(fail(what));
    }
    if compression == 6 {
        return Err(fail(
            "TIFF with old-style JPEG compression (6) is not supported".into(),
        ));
    }
    let px = usize::try_from(u64::from(w) * u64::from(h)).map_err(|_| fail("too large".into()))?;
    let data = match dec.read_image().map_err(terr)? {
        DecodingResult::U8(v) => v,
        _ => return Err(fail(format!("unexpected sample size for {color:?}"))),
    };
    let short = || fail(format!("{color:?}: fewer samples than {w}x{h} pixels"));
    let img = match color {
        T::Gray(bits) => {
            let row = (w as usize * usize::from(bits)).div_ceil(8);
            let invert = photometric == Some(0);
            let max_v = (1u16 << bits) - 1;
            let mut out = Vec::with_capacity(px);
            for y in 0..h as usize {
                let r = data.get(y * row..(y + 1) * row).ok_or_else(short)?;
                for x in 0..w as usize {
                    let v = u16::from(sample(r, x, bits));
                    let v = if invert { max_v - v } else { v };
                    out.push((v * 255 / max_v) as u8);
                }
            }
            image::GrayImage::from_raw(w, h, out).map(DynamicImage::ImageLuma8)
        }
        // JPEG-compressed YCbCr: the JPEG stream is decoded without colour
        // conversion, which is done here (full-range BT.601, as in JPEG).
        _ => {
            let ycc = data.get(..px * 3).ok_or_else(short)?;
            let mut out = Vec::with_capacity(px * 3);
            for p in ycc.chunks_exact(3) {
                let (y, cb, cr) = (
                    f32::from(p[0]),
                    f32::from(p[1]) - 128.0,
                    f32::from(p[2]) - 128.0,
                );
                for v in [
                    y + 1.402 * cr,
                    y - 0.344_136 * cb - 0.714_136 * cr,
                    y + 1.772 * cb,
                ] {
                    out.push(v.round().clamp(0.0, 255.0) as u8);
                }
            }
            image::RgbImage::from_raw(w, h, out).map(DynamicImage::ImageRgb8)
        }
    };
    img.ok_or_else(short)
}

/// A palette (indexed-colour) page: where its PhotometricInterpretation
/// value sits, its bits per index and its colour map (red, green and blue
/// tables of 2^bits 16-bit entries).
struct Palette {
    photometric_at: usize,
    bits: u8,
    map: Vec<u16>,
}

/// The palette of the IFD at `ifd`, read from its entries; `None` when the
/// page is not indexed colour (or its tags are not in the usual shape, and
/// the general decoder then says what it lacks).
fn palette(input: &[u8], ifd: u32, le: bool) -> Option<Palette> {
    let u16_at = |at: usize| {
        let b = input.get(at..at + 2)?;
        Some(if le {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| {
        let b = input.get(at..at + 4)?;
        Some(if le {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        })
    };
    let start = usize::try_from(ifd).ok()?;
    let count = usize::from(u16_at(start)?);
    let (mut photometric_at, mut bits, mut samples, mut map) = (None, 1u16, 1u16, None);
    for i in 0..count {
        let e = start + 2 + i * 12;
        let (tag, ty, n) = (u16_at(e)?, u16_at(e + 2)?, u32_at(e + 4)?);
        let short1 = ty == 3 && n == 1;
        match tag {
            262 if short1 => {
                if u16_at(e + 8)? != 3 {
                    return None;
                }
                photometric_at = Some(e + 8);
            }
            258 if short1 => bits = u16_at(e + 8)?,
            277 if short1 => samples = u16_at(e + 8)?,
            320 if ty == 3 => map = Some((n, usize::try_from(u32_at(e + 8)?).ok()?)),
            _ => {}
        }
    }
    let photometric_at = photometric_at?;
    if samples != 1 || !matches!(bits, 1 | 2 | 4 | 8) {
        return None;
    }
    let entries = 1usize << bits;
    let (n, at) = map?;
    if usize::try_from(n).ok()? != 3 * entries {
        return None;
    }
    let map = (0..3 * entries)
        .map(|i| u16_at(at + 2 * i))
        .collect::<Option<Vec<u16>>>()?;
    Some(Palette {
        photometric_at,
        bits: u8::try_from(bits).ok()?,
        map,
    })
}

/// Decodes a palette page: the indices are read as grey samples (the
/// PhotometricInterpretation is patched to BlackIsZero in a copy) and
/// expanded through the colour map to 8-bit RGB.
fn decode_palette(
    input: &[u8],
    patch: [u8; 4],
    pal: &Palette,
    cx: &Context<'_>,
    page: usize,
) -> Result<DynamicImage, Blocked> {
    use tiff::decoder::{Decoder, DecodingResult, Limits};
    let fail = |what: String| {
        cx.block(
            Code::RebuildFailed,
            format!("tiff: page {page}: palette: {what}"),
        )
    };
    let terr = |e: tiff::TiffError| fail(one_line(&e.to_string()));
    let mut grey = input.to_vec();
    // BlackIsZero, in either byte order (one byte is 1, the other 0).
    let le = input.first() == Some(&b'I');
    let v: [u8; 2] = if le { [1, 0] } else { [0, 1] };
    grey.get_mut(pal.photometric_at..pal.photometric_at + 2)
        .ok_or_else(|| fail("tag out of range".into()))?
        .copy_from_slice(&v);
    let reader = BufReader::new(Patched {
        data: &grey,
        patch,
        pos: 0,
    });
    let max = cx.policy().limits.max_image_pixels;
    let mut limits = Limits::default();
    limits.decoding_buffer_size =
        usize::try_from(max.saturating_add(1 << 20)).unwrap_or(usize::MAX);
    let mut dec = Decoder::new(reader).map_err(terr)?.with_limits(limits);
    let (w, h) = dec.dimensions().map_err(terr)?;
    check_pixels(cx, FileType::Tiff, w, h, 1)?;
    cx.charge_expanded(u64::from(w) * u64::from(h) * 3)?;
    let data = match dec.read_image().map_err(terr)? {
        DecodingResult::U8(v) => v,
        _ => return Err(fail("unexpected sample size".into())),
    };
    let (bits, entries) = (pal.bits, 1usize << pal.bits);
    let row = (w as usize * usize::from(bits)).div_ceil(8);
    let short = || fail(format!("fewer samples than {w}x{h} pixels"));
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h as usize {
        let r = data.get(y * row..(y + 1) * row).ok_or_else(short)?;
        for x in 0..w as usize {
            let i = if bits == 8 {
                usize::from(r[x])
            } else {
                usize::from(sample(r, x, bits))
            };
            for c in 0..3 {
                let v = u32::from(pal.map[c * entries + i]);
                out.push(((v * 255 + 32_767) / 65_535) as u8);
            }
        }
    }
    image::RgbImage::from_raw(w, h, out)
        .map(DynamicImage::ImageRgb8)
        .ok_or_else(short)
}

/// Sample `x` of a row packed at `bits` (1, 2, 4 or 8) bits, MSB first.
fn sample(row: &[u8], x: usize, bits: u8) -> u8 {
    let bits = usize::from(bits);
    let bit = x * bits;
    let byte = row.get(bit / 8).copied().unwrap_or(0);
    let shift = 8 - bits - bit % 8;
    (byte >> shift) & ((1u16 << bits) - 1) as u8
}
