//! The rebuild: survey the structure, refuse bombs from the header, decode
//! to pixels within limits, encode a new file of the same type.

use crate::icc;
use crate::jpeg_coef::Jpeg;
use crate::survey::{survey, Survey};
use image::codecs::bmp::BmpEncoder;
use image::codecs::tiff::TiffEncoder;
use image::codecs::webp::WebPEncoder;
use image::error::LimitErrorKind;
use image::metadata::Orientation;
use image::{
    ColorType, DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader,
    Limits,
};
use mugai_core::config::JpegRebuild;
use mugai_core::{Blocked, Code, Context, FileType, Rebuilder, Rebuilt};
use std::io::{Cursor, Write};

/// Rebuilds JPEG, PNG, GIF, BMP, TIFF and WebP images from their pixels.
///
/// What survives: the pixels (orientation applied), GIF animation (frames,
/// delays, disposal, loop count, palettes) and an ICC profile in JPEG, PNG,
/// TIFF and WebP. Everything else (EXIF, XMP, IPTC, comments, text chunks,
/// private chunks and tags, bytes after the end marker) is left behind.
#[derive(Debug, Default, Clone, Copy)]
pub struct ImageRebuilder;

impl Rebuilder for ImageRebuilder {
    fn rebuild(
        &self,
        input: &[u8],
        file_type: FileType,
        cx: &mut Context<'_>,
    ) -> Result<Rebuilt, Blocked> {
        let format = match file_type {
            FileType::Jpeg => ImageFormat::Jpeg,
            FileType::Png => ImageFormat::Png,
            FileType::Gif => ImageFormat::Gif,
            FileType::Bmp => ImageFormat::Bmp,
            FileType::Tiff => ImageFormat::Tiff,
            FileType::Webp => ImageFormat::WebP,
            other => {
                return Err(cx.block(
                    Code::TypeUnknown,
                    format!("{} is not a raster image type", other.name()),
                ))
            }
        };
        let s = survey(input, file_type);
        check_pixels(cx, file_type, s.width, s.height, s.frames)?;
        cx.check_deadline()?;
        let mut dropped = s.metadata.clone();
        let bytes = if file_type == FileType::Gif {
            if s.has_icc {
                dropped.push("ICC profile (GIF output cannot carry one)".into());
            }
            crate::gif::rebuild(input, &s, cx)?
        } else if file_type == FileType::Tiff && !s.ifds.is_empty() {
            crate::tiff::rebuild(input, &s.ifds, s.little_endian, &mut dropped, cx)?
        } else if let Some(bytes) = coefficients(input, file_type, &s, &mut dropped, cx)? {
            bytes
        } else if let Some(size) = crate::os2bmp::header_size(input) {
            match crate::os2bmp::read(input, size, cx)? {
                crate::os2bmp::Os2::Windows(bmp) => {
                    still(&bmp, file_type, format, &s, &mut dropped, cx)?
                }
                crate::os2bmp::Os2::Pixels(img) => {
                    let img = convert_for(FileType::Bmp, img);
                    let mut out = Vec::new();
                    encode(BmpEncoder::new(&mut out), &img, None)
                        .map_err(|e| image_error(cx, file_type, "cannot encode", e))?;
                    out
                }
            }
        } else {
            still(input, file_type, format, &s, &mut dropped, cx)?
        };
        if !dropped.is_empty() {
            cx.removed(
                Code::ImageMetadata,
                format!("{}: removed {}", file_type.name(), dropped.join(", ")),
            );
        }
        if s.trailing > 0 {
            cx.removed(
                Code::ImageTrailingData,
                format!(
                    "{}: {} bytes after the {} removed",
                    file_type.name(),
                    s.trailing,
                    s.end_marker
                ),
            );
        }
        Ok(Rebuilt::new(bytes, file_type))
    }
}

/// Blocks with `image.bomb` when width × height × frames is over the policy.
pub(crate) fn check_pixels(
    cx: &Context<'_>,
    ty: FileType,
    width: u32,
    height: u32,
    frames: u64,
) -> Result<(), Blocked> {
    let max = cx.policy().limits.max_image_pixels;
    let total = u64::from(width)
        .saturating_mul(u64::from(height))
        .saturating_mul(frames.max(1));
    if total > max {
        return Err(cx.block(
            Code::ImageBomb,
            format!(
                "{}: {width}x{height} pixels x {} frame(s) = {total} pixels is over the limit of {max}",
                ty.name(),
                frames.max(1)
            ),
        ));
    }
    Ok(())
}

/// The decoder limits derived from the policy: no side longer than the
/// whole pixel budget, and no allocation past 8 bytes (16-bit RGBA) per
/// allowed pixel.
pub(crate) fn limits(cx: &Context<'_>) -> Limits {
    let max = cx.policy().limits.max_image_pixels;
    let side = u32::try_from(max).unwrap_or(u32::MAX);
    let mut l = Limits::default();
    l.max_image_width = Some(side);
    l.max_image_height = Some(side);
    l.max_alloc = Some(max.saturating_mul(8).saturating_add(16 << 20));
    l
}

/// Maps a decoder or encoder error to the block it causes.
pub(crate) fn image_error(cx: &Context<'_>, ty: FileType, what: &str, e: ImageError) -> Blocked {
    let msg = one_line(&e.to_string());
    match &e {
        ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError => cx.block(
                Code::ImageBomb,
                format!("{}: dimensions over the limit: {msg}", ty.name()),
            ),
            LimitErrorKind::InsufficientMemory => cx.block(
                Code::LimitMemory,
                format!(
                    "{}: decoding needs more memory than allowed: {msg}",
                    ty.name()
                ),
            ),
            _ => cx.block(Code::RebuildFailed, format!("{}: {what}: {msg}", ty.name())),
        },
        _ => cx.block(Code::RebuildFailed, format!("{}: {what}: {msg}", ty.name())),
    }
}

/// Whether every chunk of the RIFF container in `input` (after its
/// 12-byte header) lies inside the file.
fn riff_chunks_fit(input: &[u8]) -> bool {
    let mut pos = 12usize;
    while let Some(head) = input.get(pos..pos.saturating_add(8)) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let Some(end) = (pos + 8).checked_add(len) else {
            return false;
        };
        if end > input.len() {
            return false;
        }
        // Chunks are padded to an even length.
        pos = end + len % 2;
    }
    true
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lossless JPEG rebuild from the DCT coefficients, when the policy
/// asks for it and the file allows it; `None` sends the file down the
/// pixel path (unsupported coding, EXIF orientation to apply, damage the
/// pixel decoder may tolerate).
fn coefficients(
    input: &[u8],
    ty: FileType,
    s: &Survey,
    dropped: &mut Vec<String>,
    cx: &mut Context<'_>,
) -> Result<Option<Vec<u8>>, Blocked> {
    if ty != FileType::Jpeg || cx.policy().image.jpeg != JpegRebuild::Coefficients {
        return Ok(None);
    }
    let Ok(j) = Jpeg::read(input, cx.policy().limits.max_image_pixels) else {
        return Ok(None);
    };
    if j.orientation() != 1 {
        return Ok(None);
    }
    let (w, h) = j.dimensions();
    check_pixels(cx, ty, w, h, 1)?;
    // Charged as the pixel path would: the decoded size of the image.
    cx.charge_expanded(u64::from(w) * u64::from(h) * j.components() as u64)?;
    cx.check_deadline()?;
    let mut notes = Vec::new();
    let mut icc = None;
    match j.icc_profile() {
        Ok(Some(_)) if j.components() == 4 => {
            notes.push("ICC profile (CMYK profiles are not kept)".to_string())
        }
        Ok(Some(p)) => {
            let color = if j.components() == 1 {
                ColorType::L8
            } else {
                ColorType::Rgb8
            };
            match icc::check(&p, color) {
                Ok(()) => icc = Some(p),
                Err(why) => notes.push(format!("ICC profile ({why})")),
            }
        }
        Ok(None) if s.has_icc => notes.push("unreadable ICC profile".into()),
        Ok(None) => {}
        Err(why) => notes.push(format!("ICC profile ({why})")),
    }
    match j.write(icc.as_deref()) {
        Ok(bytes) => {
            dropped.extend(notes);
            Ok(Some(bytes))
        }
        Err(_) => Ok(None),
    }
}

/// Decodes a still image (or the first frame of an animation) and encodes it.
fn still(
    input: &[u8],
    ty: FileType,
    format: ImageFormat,
    s: &Survey,
    dropped: &mut Vec<String>,
    cx: &mut Context<'_>,
) -> Result<Vec<u8>, Blocked> {
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    reader.limits(limits(cx));
    let mut dec = reader
        .into_decoder()
        .map_err(|e| image_error(cx, ty, "cannot read the header", e))?;
    let (w, h) = dec.dimensions();
    // The decoder's own idea of the size, in case the survey missed it.
    check_pixels(cx, ty, w, h, 1)?;
    cx.charge_expanded(dec.total_bytes())?;
    // The WebP decoder allocates a metadata chunk at its declared size
    // before reading it: a chunk that runs past the file is refused first.
    if ty == FileType::Webp && !riff_chunks_fit(input) {
        return Err(cx.block(
            Code::RebuildFailed,
            "webp: a chunk runs past the end of the file",
        ));
    }
    let orientation = dec.orientation().unwrap_or(Orientation::NoTransforms);
    let profile = dec.icc_profile().ok().flatten();
    let mut img = DynamicImage::from_decoder(dec)
        .map_err(|e| image_error(cx, ty, "cannot decode the pixels", e))?;
    cx.check_deadline()?;
    img.apply_orientation(orientation);
    let img = convert_for(ty, img);
    let (w, h) = (img.width(), img.height());
    let color = img.color();

    let mut icc = None;
    match profile {
        Some(p) => match icc::check(&p, color) {
            Ok(()) if matches!(ty, FileType::Bmp) => {
                dropped.push("ICC profile (BMP output cannot carry one)".into())
            }
            Ok(()) => icc = Some(p),
            Err(why) => dropped.push(format!("ICC profile ({why})")),
        },
        None if s.has_icc => dropped.push("unreadable ICC profile".into()),
        None => {}
    }

    let mut out = Vec::new();
    let encoded = match ty {
        FileType::Jpeg => encode_jpeg(&mut out, &img, icc, cx.policy().image.jpeg_quality),
        FileType::Png => encode_png(&mut out, &img, icc),
        FileType::Bmp => encode(BmpEncoder::new(&mut out), &img, None),
        FileType::Tiff => encode(TiffEncoder::new(Cursor::new(&mut out)), &img, icc),
        FileType::Webp => encode(WebPEncoder::new_lossless(&mut out), &img, icc),
        _ => Err(ImageError::Unsupported(
            image::error::UnsupportedError::from_format_and_kind(
                format.into(),
                image::error::UnsupportedErrorKind::Format(format.into()),
            ),
        )),
    };
    encoded.map_err(|e| image_error(cx, ty, &format!("cannot encode {w}x{h} {color:?}"), e))?;
    Ok(out)
}

fn encode(
    mut enc: impl ImageEncoder,
    img: &DynamicImage,
    icc: Option<Vec<u8>>,
) -> Result<(), ImageError> {
    if let Some(p) = icc {
        // Formats that cannot carry it were filtered out by the caller.
        let _ = enc.set_icc_profile(p);
    }
    enc.write_image(
        img.as_bytes(),
        img.width(),
        img.height(),
        img.color().into(),
    )
}

/// Encodes PNG (fast deflate, adaptive filters) a row at a time:
/// `image`'s own encoder holds a big-endian copy of a 16-bit picture and
/// the whole compressed stream besides the output, which tripled the
/// memory a large scan needs.
fn encode_png(
    out: &mut Vec<u8>,
    img: &DynamicImage,
    icc: Option<Vec<u8>>,
) -> Result<(), ImageError> {
    use png::{BitDepth, ColorType as Png};
    let (color, depth) = match img.color() {
        ColorType::L8 => (Png::Grayscale, BitDepth::Eight),
        ColorType::La8 => (Png::GrayscaleAlpha, BitDepth::Eight),
        ColorType::Rgb8 => (Png::Rgb, BitDepth::Eight),
        ColorType::Rgba8 => (Png::Rgba, BitDepth::Eight),
        ColorType::L16 => (Png::Grayscale, BitDepth::Sixteen),
        ColorType::La16 => (Png::GrayscaleAlpha, BitDepth::Sixteen),
        ColorType::Rgb16 => (Png::Rgb, BitDepth::Sixteen),
        ColorType::Rgba16 => (Png::Rgba, BitDepth::Sixteen),
        other => {
            return Err(ImageError::Unsupported(
                image::error::UnsupportedError::from_format_and_kind(
                    ImageFormat::Png.into(),
                    image::error::UnsupportedErrorKind::Color(other.into()),
                ),
            ))
        }
    };
    let failed = |e: png::EncodingError| ImageError::IoError(std::io::Error::other(e));
    let mut info = png::Info::with_size(img.width(), img.height());
    info.icc_profile = icc.map(std::borrow::Cow::Owned);
    let mut enc = png::Encoder::with_info(out, info).map_err(failed)?;
    enc.set_color(color);
    enc.set_depth(depth);
    enc.set_compression(png::Compression::Fast);
    enc.set_filter(png::Filter::Adaptive);
    let mut w = enc.write_header().map_err(failed)?;
    let mut s = w.stream_writer().map_err(failed)?;
    let bytes = img.as_bytes();
    if depth == BitDepth::Sixteen {
        // PNG samples are big-endian; `image` holds them in native order.
        let row = bytes.len() / img.height().max(1) as usize;
        let mut be = vec![0u8; row];
        for line in bytes.chunks(row.max(1)) {
            for (o, i) in be.chunks_exact_mut(2).zip(line.chunks_exact(2)) {
                let v = u16::from_ne_bytes([i[0], i[1]]);
                o.copy_from_slice(&v.to_be_bytes());
            }
            s.write_all(&be[..line.len()])?;
        }
    } else {
        s.write_all(bytes)?;
    }
    s.finish().map_err(failed)
}

/// Encodes baseline JPEG with the SIMD encoder (several times faster than
/// `image`'s own), no chroma subsampling (4:4:4, as `image`'s encoder
/// wrote), so text and fine lines keep their colour; `convert_for` has
/// left 8-bit grey or RGB.
fn encode_jpeg(
    out: &mut Vec<u8>,
    img: &DynamicImage,
    icc: Option<Vec<u8>>,
    quality: u8,
) -> Result<(), ImageError> {
    use image::error::{EncodingError, LimitError};
    let too_large = || ImageError::Limits(LimitError::from_kind(LimitErrorKind::DimensionError));
    let w = u16::try_from(img.width()).map_err(|_| too_large())?;
    let h = u16::try_from(img.height()).map_err(|_| too_large())?;
    let color = match img.color() {
        ColorType::L8 => jpeg_encoder::ColorType::Luma,
        ColorType::Rgb8 => jpeg_encoder::ColorType::Rgb,
        _ => {
            return Err(ImageError::Unsupported(
                image::error::UnsupportedError::from_format_and_kind(
                    ImageFormat::Jpeg.into(),
                    image::error::UnsupportedErrorKind::Color(img.color().into()),
                ),
            ))
        }
    };
    let failed = |e: jpeg_encoder::EncodingError| {
        ImageError::Encoding(EncodingError::new(ImageFormat::Jpeg.into(), e))
    };
    let mut enc = jpeg_encoder::Encoder::new(out, quality.clamp(1, 100));
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
    if let Some(p) = icc {
        enc.add_icc_profile(&p).map_err(failed)?;
    }
    enc.encode(img.as_bytes(), w, h, color).map_err(failed)
}

/// Converts the pixels to a layout the output encoder writes; lossless
/// wherever the output format can hold the input's samples.
fn convert_for(ty: FileType, img: DynamicImage) -> DynamicImage {
    let c = img.color();
    match ty {
        FileType::Jpeg => match c {
            ColorType::L8 => img,
            ColorType::La8 | ColorType::L16 | ColorType::La16 => {
                DynamicImage::ImageLuma8(img.to_luma8())
            }
            ColorType::Rgb8 => img,
            _ => DynamicImage::ImageRgb8(img.to_rgb8()),
        },
        FileType::Png => match c {
            ColorType::L8
            | ColorType::La8
            | ColorType::Rgb8
            | ColorType::Rgba8
            | ColorType::L16
            | ColorType::La16
            | ColorType::Rgb16
            | ColorType::Rgba16 => img,
            _ if c.has_alpha() => DynamicImage::ImageRgba16(img.to_rgba16()),
            _ => DynamicImage::ImageRgb16(img.to_rgb16()),
        },
        FileType::Tiff => match c {
            ColorType::L8
            | ColorType::Rgb8
            | ColorType::Rgba8
            | ColorType::L16
            | ColorType::Rgb16
            | ColorType::Rgba16 => img,
            // Float samples become 16-bit integers, which every reader opens.
            ColorType::Rgb32F => DynamicImage::ImageRgb16(img.to_rgb16()),
            ColorType::La8 => DynamicImage::ImageRgba8(img.to_rgba8()),
            _ => DynamicImage::ImageRgba16(img.to_rgba16()),
        },
        // BMP and WebP hold 8-bit samples only.
        _ => match c {
            ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8 => img,
            _ if c.has_alpha() => DynamicImage::ImageRgba8(img.to_rgba8()),
            _ => DynamicImage::ImageRgb8(img.to_rgb8()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use mugai_core::{Budget, NoMembers, Policy};

    fn run(policy: &Policy, bytes: &[u8], ty: FileType) -> (Result<Rebuilt, Blocked>, Vec<Code>) {
        let budget = Budget::new(&policy.limits);
        let mut cx = Context::new(policy, &budget, &NoMembers, None);
        let r = ImageRebuilder.rebuild(bytes, ty, &mut cx);
        (r, cx.findings().iter().map(|f| f.code).collect())
    }

    #[test]
    fn fuzz_image_webp_exif_chunk_past_end() {
        // 258 bytes whose EXIF chunk claims 3.4 GB: the decoder would
        // allocate that before reading. Blocked without the allocation.
        let bytes = include_bytes!("../tests/data/fuzz_image_webp_exif_chunk_past_end.bin");
        let (r, _) = run(&Policy::default(), bytes, FileType::Webp);
        let e = r.expect_err("blocked");
        assert_eq!(e.code, Code::RebuildFailed);
        assert!(e.detail.contains("past the end"), "{}", e.detail);
        assert!(riff_chunks_fit(b"RIFF\x0e\0\0\0WEBPABCD\x01\0\0\0x\0"));
        assert!(!riff_chunks_fit(b"RIFF\x0e\0\0\0WEBPABCD\x03\0\0\0x\0"));
    }

    fn two_page_tiff() -> Vec<u8> {
        use ::tiff::encoder::{colortype::Gray8, TiffEncoder};
        let mut out = Cursor::new(Vec::new());
        let mut enc = TiffEncoder::new(&mut out).expect("tiff");
        enc.write_image::<Gray8>(3, 2, &[0, 50, 100, 150, 200, 250])
            .expect("page 1");
        enc.write_image::<Gray8>(2, 2, &[9, 8, 7, 6])
            .expect("page 2");
        out.into_inner()
    }

    #[test]
    fn every_tiff_page_is_rebuilt_with_its_pixels() {
        let input = two_page_tiff();
        let (r, codes) = run(&Policy::default(), &input, FileType::Tiff);
        let out = r.expect("rebuilt").bytes;
        assert!(codes.is_empty(), "{codes:?}");
        let s = survey(&out, FileType::Tiff);
        assert_eq!(s.ifds.len(), 2);
        let mut dec = ::tiff::decoder::Decoder::new(Cursor::new(&out)).expect("decodes");
        assert_eq!(dec.dimensions().expect("dims"), (3, 2));
        dec.next_image().expect("page 2");
        assert_eq!(dec.dimensions().expect("dims"), (2, 2));
        match dec.read_image().expect("pixels") {
            ::tiff::decoder::DecodingResult::U8(px) => assert_eq!(px, [9, 8, 7, 6]),
            _ => panic!("page 2 is not 8-bit grey"),
        }
    }

    #[test]
    fn pages_and_frames_count_against_the_pixel_limit() {
        let mut policy = Policy::default();
        // Page 1 (6 pixels) fits; pages 1 + 2 (10 pixels) do not.
        policy.limits.max_image_pixels = 8;
        let (r, _) = run(&policy, &two_page_tiff(), FileType::Tiff);
        assert_eq!(r.expect_err("blocked").code, Code::ImageBomb);
        policy.limits.max_image_pixels = 10;
        assert!(run(&policy, &two_page_tiff(), FileType::Tiff).0.is_ok());
    }

    #[test]
    fn jpeg_quality_comes_from_the_policy() {
        let img = image::RgbImage::from_fn(64, 64, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 4) as u8, ((x ^ y) * 4) as u8])
        });
        let mut input = Vec::new();
        JpegEncoder::new_with_quality(&mut input, 95)
            .write_image(img.as_raw(), 64, 64, image::ExtendedColorType::Rgb8)
            .expect("jpeg");
        let mut policy = Policy::default();
        policy.image.jpeg = JpegRebuild::Pixels;
        policy.image.jpeg_quality = 30;
        let low = run(&policy, &input, FileType::Jpeg)
            .0
            .expect("rebuilt")
            .bytes;
        policy.image.jpeg_quality = 95;
        let high = run(&policy, &input, FileType::Jpeg)
            .0
            .expect("rebuilt")
            .bytes;
        assert!(
            low.len() < high.len(),
            "q30 {} bytes, q95 {} bytes",
            low.len(),
            high.len()
        );
    }

    #[test]
    fn jpeg_is_rebuilt_from_its_coefficients_by_default() {
        let img = image::RgbImage::from_fn(40, 24, |x, y| {
            image::Rgb([(x * 6) as u8, (y * 10) as u8, ((x ^ y) * 8) as u8])
        });
        let mut input = Vec::new();
        JpegEncoder::new_with_quality(&mut input, 75)
            .write_image(img.as_raw(), 40, 24, image::ExtendedColorType::Rgb8)
            .expect("jpeg");
        input.splice(2..2, b"\xff\xfe\0\x05abc".iter().copied());
        let out = run(&Policy::default(), &input, FileType::Jpeg)
            .0
            .expect("rebuilt")
            .bytes;
        let px = |b: &[u8]| image::load_from_memory(b).expect("decodes").into_bytes();
        assert_eq!(px(&input), px(&out), "lossless");
        assert!(!out.windows(2).any(|w| w == [0xFF, 0xFE]), "comment left");
        let again = run(&Policy::default(), &out, FileType::Jpeg)
            .0
            .expect("rebuilt")
            .bytes;
        assert_eq!(again, out, "a second pass changes nothing");
        // The pixel path re-encodes (4:4:4 at the policy's quality).
        let mut policy = Policy::default();
        policy.image.jpeg = JpegRebuild::Pixels;
        let pixels = run(&policy, &input, FileType::Jpeg)
            .0
            .expect("rebuilt")
            .bytes;
        assert_ne!(px(&input), px(&pixels));
    }

    #[test]
    fn non_image_types_are_refused() {
        let (r, _) = run(&Policy::default(), b"%PDF-1.7", FileType::Pdf);
        assert_eq!(r.expect_err("blocked").code, Code::TypeUnknown);
    }
}
