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
        let mut dec = TiffDecoder::new(reader)
            .map_err(|e| image_error(cx, FileType::Tiff, &what("cannot read the header"), e))?;
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
            | ColorType::Rgba16
            | ColorType::Rgb32F
            | ColorType::Rgba32F => img,
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
