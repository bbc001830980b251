//! Cases for the image rebuilder: clean images of every type, metadata,
//! bytes after the end marker, polyglots, decompression bombs and SVG.

use crate::{build, Case, Expect};
use image::codecs::bmp::BmpEncoder;
use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::tiff::TiffEncoder;
use image::codecs::webp::WebPEncoder;
use image::{Delay, Frame, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};
use mugai_core::Code;

/// A deterministic gradient with a few sharp edges.
pub fn sample_rgb(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            if (x / 4 + y / 4) % 2 == 0 { 40 } else { 200 },
        ])
    })
}

pub fn sample_rgba(w: u32, h: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        Rgba([
            (x * 7) as u8,
            (y * 11) as u8,
            ((x + y) * 3) as u8,
            if x < 2 { 0 } else { 255 },
        ])
    })
}

pub fn png(img: &RgbImage) -> Vec<u8> {
    let mut v = Vec::new();
    PngEncoder::new(&mut v)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("png");
    v
}

pub fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut v = Vec::new();
    JpegEncoder::new_with_quality(&mut v, 90)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("jpeg");
    v
}

/// A two-frame looping GIF with few enough colours to keep exact palettes.
pub fn gif_anim(w: u32, h: u32) -> Vec<u8> {
    let mut v = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut v);
        enc.set_repeat(Repeat::Infinite).expect("repeat");
        for k in 0..2u8 {
            let img = RgbaImage::from_fn(w, h, |x, y| {
                let on = (x / 3 + y / 3 + u32::from(k)) % 2 == 0;
                Rgba(if on {
                    [200, 30, 30, 255]
                } else {
                    [20, 20, 160, 255]
                })
            });
            let frame = Frame::from_parts(img, 0, 0, Delay::from_numer_denom_ms(100, 1));
            enc.encode_frame(frame).expect("gif frame");
        }
    }
    v
}

pub fn bmp(img: &RgbImage) -> Vec<u8> {
    let mut v = Vec::new();
    BmpEncoder::new(&mut v)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("bmp");
    v
}

pub fn tiff(img: &RgbImage) -> Vec<u8> {
    let mut v = std::io::Cursor::new(Vec::new());
    TiffEncoder::new(&mut v)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("tiff");
    v.into_inner()
}

pub fn webp(img: &RgbaImage, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut v = Vec::new();
    let mut enc = WebPEncoder::new_lossless(&mut v);
    if let Some(e) = exif {
        enc.set_exif_metadata(e).expect("exif");
    }
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgba8,
    )
    .expect("webp");
    v
}

/// A PNG chunk with its CRC.
pub fn png_chunk(ty: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(ty);
    v.extend_from_slice(data);
    v.extend_from_slice(&crc32(&v[4..]).to_be_bytes());
    v
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Inserts `chunks` after IHDR (which is always 8 + 25 bytes in).
pub fn png_with_chunks(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut v = png[..33].to_vec();
    for c in chunks {
        v.extend_from_slice(c);
    }
    v.extend_from_slice(&png[33..]);
    v
}

/// A tiny EXIF (TIFF) block with an orientation tag.
pub fn exif_orientation(o: u16) -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&274u16.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&u32::from(o).to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    t
}

/// Inserts JPEG segments right after SOI.
pub fn jpeg_with_segments(jpeg: &[u8], segments: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut v = jpeg[..2].to_vec();
    for (marker, body) in segments {
        v.extend_from_slice(&[0xFF, *marker]);
        v.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(body);
    }
    v.extend_from_slice(&jpeg[2..]);
    v
}

/// A synthetic but well-formed RGB ICC profile header.
pub fn icc_rgb() -> Vec<u8> {
    let mut p = vec![0u8; 132];
    let n = p.len() as u32;
    p[..4].copy_from_slice(&n.to_be_bytes());
    p[8..12].copy_from_slice(&[2, 0x10, 0, 0]);
    p[12..16].copy_from_slice(b"mntr");
    p[16..20].copy_from_slice(b"RGB ");
    p[20..24].copy_from_slice(b"XYZ ");
    p[36..40].copy_from_slice(b"acsp");
    p
}

/// A GIF whose header declares `w`×`h` with `frames` tiny frames; the frame
/// data is never reached because the header alone exceeds the limit.
fn gif_bomb(w: u16, h: u16, frames: usize) -> Vec<u8> {
    let mut v = b"GIF89a".to_vec();
    v.extend_from_slice(&w.to_le_bytes());
    v.extend_from_slice(&h.to_le_bytes());
    v.extend_from_slice(&[0x80, 0, 0]);
    v.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    for _ in 0..frames {
        v.push(0x2C);
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(&w.to_le_bytes());
        v.extend_from_slice(&h.to_le_bytes());
        v.push(0);
        v.extend_from_slice(&[2, 2, 0x4C, 0x01, 0]);
    }
    v.push(0x3B);
    v
}

/// A TIFF written by hand: 8-bit grey pages, uncompressed, optionally with
/// an ImageDescription and a Software tag on each page.
fn tiff_by_hand(pages: &[(u16, u16, &[u8])], tags: bool) -> Vec<u8> {
    let desc = b"secret project plan\0";
    let soft = b"ScanTool 1.0\0";
    let mut v = b"II*\0".to_vec();
    v.extend_from_slice(&8u32.to_le_bytes());
    for (i, (w, h, pixels)) in pages.iter().enumerate() {
        let entries: u16 = if tags { 11 } else { 9 };
        let ifd_at = v.len() as u32;
        let data_at = ifd_at + 2 + 12 * u32::from(entries) + 4;
        let desc_at = data_at;
        let soft_at = desc_at + desc.len() as u32;
        let pix_at = if tags {
            soft_at + soft.len() as u32
        } else {
            data_at
        };
        let next = if i + 1 < pages.len() {
            pix_at + pixels.len() as u32
        } else {
            0
        };
        v.extend_from_slice(&entries.to_le_bytes());
        let mut e = |tag: u16, ty: u16, count: u32, value: u32| {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&ty.to_le_bytes());
            v.extend_from_slice(&count.to_le_bytes());
            v.extend_from_slice(&value.to_le_bytes());
        };
        e(256, 3, 1, u32::from(*w));
        e(257, 3, 1, u32::from(*h));
        e(258, 3, 1, 8);
        e(259, 3, 1, 1);
        e(262, 3, 1, 1);
        if tags {
            e(270, 2, desc.len() as u32, desc_at);
        }
        e(273, 4, 1, pix_at);
        e(277, 3, 1, 1);
        e(278, 3, 1, u32::from(*h));
        e(279, 4, 1, pixels.len() as u32);
        if tags {
            e(305, 2, soft.len() as u32, soft_at);
        }
        v.extend_from_slice(&next.to_le_bytes());
        if tags {
            v.extend_from_slice(desc);
            v.extend_from_slice(soft);
        }
        v.extend_from_slice(pixels);
    }
    v
}

/// One TIFF field: tag, type (3 SHORT, 4 LONG), and its values.
type Field = (u16, u16, Vec<u32>);

/// A one-page little-endian TIFF with the given fields and pixel strips
/// (one strip per plane); StripOffsets and StripByteCounts are added.
fn tiff_fields(mut fields: Vec<Field>, strips: &[Vec<u8>]) -> Vec<u8> {
    let n = fields.len() as u32 + 2;
    let ifd_len = 2 + 12 * n + 4;
    // Out-of-line values go after the IFD, then the strips.
    let size = |ty: u16| if ty == 3 { 2 } else { 4 };
    let extra: u32 = fields
        .iter()
        .map(|(_, ty, v)| v.len() as u32 * size(*ty))
        .filter(|&b| b > 4)
        .sum::<u32>()
        + if strips.len() > 1 {
            8 * strips.len() as u32
        } else {
            0
        };
    let mut at = 8 + ifd_len + extra;
    let mut offsets = Vec::new();
    for s in strips {
        offsets.push(at);
        at += s.len() as u32;
    }
    fields.push((273, 4, offsets));
    fields.push((279, 4, strips.iter().map(|s| s.len() as u32).collect()));
    fields.sort_by_key(|f| f.0);
    let mut v = b"II*\0".to_vec();
    v.extend_from_slice(&8u32.to_le_bytes());
    v.extend_from_slice(&(n as u16).to_le_bytes());
    let mut out_of_line = Vec::new();
    let mut next = 8 + ifd_len;
    for (tag, ty, vals) in &fields {
        let mut bytes = Vec::new();
        for x in vals {
            if *ty == 3 {
                bytes.extend_from_slice(&(*x as u16).to_le_bytes());
            } else {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&ty.to_le_bytes());
        v.extend_from_slice(&(vals.len() as u32).to_le_bytes());
        if bytes.len() <= 4 {
            bytes.resize(4, 0);
            v.extend_from_slice(&bytes);
        } else {
            v.extend_from_slice(&next.to_le_bytes());
            next += bytes.len() as u32;
            out_of_line.extend_from_slice(&bytes);
        }
    }
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&out_of_line);
    for s in strips {
        v.extend_from_slice(s);
    }
    v
}

/// The basic fields of a `w`x`h` page.
fn tiff_base(w: u32, h: u32, bps: &[u32], photometric: u32, compression: u32) -> Vec<Field> {
    vec![
        (256, 4, vec![w]),
        (257, 4, vec![h]),
        (258, 3, bps.to_vec()),
        (259, 3, vec![compression]),
        (262, 3, vec![photometric]),
        (277, 3, vec![bps.len() as u32]),
        (278, 4, vec![h]),
    ]
}

/// An OS/2 2.x bitmap (64-byte info header) with RLE24 pixels.
fn os2_rle24(w: u32, h: u32) -> Vec<u8> {
    let mut rle = Vec::new();
    for y in 0..h {
        // Each row: a run of red-ish, then the rest in absolute mode.
        rle.extend_from_slice(&[2, 0, (y * 20) as u8, 200]);
        let rest = w - 2;
        rle.extend_from_slice(&[0, rest as u8]);
        for x in 0..rest {
            rle.extend_from_slice(&[(x * 30) as u8, 100, 50]);
        }
        if (rest * 3) % 2 == 1 {
            rle.push(0);
        }
        rle.extend_from_slice(&[0, 0]);
    }
    rle.extend_from_slice(&[0, 1]);
    let off = 14 + 64;
    let mut v = b"BM".to_vec();
    v.extend_from_slice(&((off + rle.len()) as u32).to_le_bytes());
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&(off as u32).to_le_bytes());
    let mut info = vec![0u8; 64];
    info[..4].copy_from_slice(&64u32.to_le_bytes());
    info[4..8].copy_from_slice(&w.to_le_bytes());
    info[8..12].copy_from_slice(&h.to_le_bytes());
    info[12..14].copy_from_slice(&1u16.to_le_bytes());
    info[14..16].copy_from_slice(&24u16.to_le_bytes());
    info[16..20].copy_from_slice(&4u32.to_le_bytes());
    info[20..24].copy_from_slice(&(rle.len() as u32).to_le_bytes());
    v.extend_from_slice(&info);
    v.extend_from_slice(&rle);
    v
}

/// A GIF comment extension and a plain-text extension, after the header.
fn gif_with_extensions(gif: &[u8]) -> Vec<u8> {
    // Header (13) + global colour table: find the first block after them.
    let flags = gif[10];
    let start = 13
        + if flags & 0x80 != 0 {
            3usize << ((flags & 7) + 1)
        } else {
            0
        };
    let mut v = gif[..start].to_vec();
    v.extend_from_slice(&[0x21, 0xFE, 11]);
    v.extend_from_slice(b"made by: me");
    v.push(0);
    v.extend_from_slice(&[0x21, 0x01, 12, 0, 0, 0, 0, 8, 0, 8, 0, 8, 8, 0, 1, 5]);
    v.extend_from_slice(b"hello");
    v.push(0);
    v.extend_from_slice(&gif[start..]);
    v
}

pub fn cases() -> Vec<Case> {
    let rgb = sample_rgb(48, 32);
    let mut v = Vec::new();

    v.push(Case::new(
        "image/clean.png",
        png(&rgb),
        Expect::clean("plain RGB PNG"),
    ));
    v.push(Case::new(
        "image/clean.jpg",
        jpeg(&rgb),
        Expect::clean("baseline JFIF JPEG"),
    ));
    v.push(Case::new(
        "image/clean_anim.gif",
        gif_anim(30, 20),
        Expect::clean("two-frame looping GIF: animation kept"),
    ));
    v.push(Case::new(
        "image/clean.bmp",
        bmp(&rgb),
        Expect::clean("24-bit BMP"),
    ));
    v.push(Case::new(
        "image/clean.tiff",
        tiff(&rgb),
        Expect::clean("RGB TIFF"),
    ));
    v.push(Case::new(
        "image/clean_lossless.webp",
        webp(&sample_rgba(40, 24), None),
        Expect::clean("lossless WebP with alpha"),
    ));
    v.push(Case::new(
        "image/icc_profile.png",
        png_with_chunks(
            &png(&rgb),
            &[png_chunk(b"iCCP", &{
                let mut d = b"sRGB-ish\0\0".to_vec();
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                std::io::Write::write_all(&mut z, &icc_rgb()).expect("zlib");
                d.extend_from_slice(&z.finish().expect("zlib"));
                d
            })],
        ),
        Expect::clean("plain RGB ICC profile: kept"),
    ));

    let mut text_png = png_with_chunks(
        &png(&rgb),
        &[
            png_chunk(b"tEXt", b"Comment\0<script>alert(1)</script>"),
            png_chunk(b"zTXt", &{
                let mut d = b"Author\0\0".to_vec();
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                std::io::Write::write_all(&mut z, b"Yamada Taro").expect("zlib");
                d.extend_from_slice(&z.finish().expect("zlib"));
                d
            }),
            png_chunk(
                b"iTXt",
                "Title\0\0\0ja\0\u{984c}\0\u{7121}\u{5bb3}\u{5316}".as_bytes(),
            ),
            png_chunk(b"prVt", b"private payload"),
        ],
    );
    text_png.extend_from_slice(b"#!/bin/sh\nrm -rf /\n");
    v.push(Case::new(
        "image/text_chunks_trailing.png",
        text_png,
        Expect::sanitized(
            &[Code::ImageMetadata, Code::ImageTrailingData],
            "tEXt/zTXt/iTXt and a private chunk, then a shell script after IEND",
        ),
    ));

    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend_from_slice(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>");
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&exif_orientation(6));
    let mut iptc = b"Photoshop 3.0\0".to_vec();
    iptc.extend_from_slice(b"8BIM\x04\x04\0\0\0\0\0\x05\x1c\x02\x78\0\x01x");
    v.push(Case::new(
        "image/exif_rotated.jpg",
        jpeg_with_segments(
            &jpeg(&sample_rgb(40, 24)),
            &[
                (0xE1, exif),
                (0xE1, xmp),
                (0xED, iptc),
                (0xFE, b"camera owner: Sato".to_vec()),
            ],
        ),
        Expect::sanitized(
            &[Code::ImageMetadata],
            "EXIF (orientation 6: pixels rotated), XMP, IPTC and a comment",
        ),
    ));

    let mut polyglot = jpeg(&rgb);
    polyglot.extend_from_slice(&build::zip(&[("run.vbs", b"MsgBox \"hi\"\r\n".as_slice())]));
    v.push(Case::new(
        "image/appended_zip.jpg",
        polyglot,
        Expect::sanitized(
            &[Code::ImageTrailingData, Code::TypePolyglot],
            "JPEG+ZIP polyglot: the ZIP after EOI is dropped",
        ),
    ));

    let mut gif_script = gif_anim(16, 16);
    gif_script.extend_from_slice(b"\n<script>alert(document.cookie)</script>\n");
    v.push(Case::new(
        "image/trailing_script.gif",
        gif_script,
        Expect::sanitized(
            &[Code::ImageTrailingData, Code::TypePolyglot],
            "script after the GIF trailer",
        ),
    ));
    v.push(Case::new(
        "image/comment.gif",
        gif_with_extensions(&gif_anim(16, 16)),
        Expect::sanitized(&[Code::ImageMetadata], "comment and plain-text extensions"),
    ));
    v.push(Case::new(
        "image/exif_xmp.webp",
        webp(&sample_rgba(20, 20), Some(exif_orientation(1))),
        Expect::sanitized(&[Code::ImageMetadata], "lossless WebP with an EXIF chunk"),
    ));
    v.push(Case::new(
        "image/description.tiff",
        tiff_by_hand(&[(4, 2, &[0, 60, 120, 180, 240, 200, 100, 10])], true),
        Expect::sanitized(&[Code::ImageMetadata], "ImageDescription and Software tags"),
    ));
    v.push(Case::new(
        "image/multipage.tiff",
        tiff_by_hand(
            &[
                (4, 2, &[0, 60, 120, 180, 240, 200, 100, 10]),
                (3, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9]),
                (2, 1, &[255, 0]),
            ],
            false,
        ),
        Expect::clean("three-page TIFF (a scanned document): every page kept"),
    ));
    v.push(Case::new(
        "image/grey4.tiff",
        tiff_fields(tiff_base(4, 2, &[4], 1, 1), &[vec![0x0F, 0x37, 0xFA, 0x50]]),
        Expect::clean("4-bit grey TIFF: decoded here and written as 8-bit grey"),
    ));
    let mut palette4 = tiff_base(4, 2, &[4], 3, 1);
    palette4.push((
        320,
        3,
        (0..48u32)
            .map(|i| (i % 16) * 4096 + (i / 16) * 1000)
            .collect(),
    ));
    v.push(Case::new(
        "image/palette4.tiff",
        tiff_fields(palette4, &[vec![0x01, 0x23, 0x45, 0x67]]),
        Expect::clean("palette TIFF (4-bit indices): expanded to RGB through its colour map"),
    ));
    let mut planar = tiff_base(2, 2, &[16, 16, 16], 2, 1);
    planar.push((284, 3, vec![2]));
    let plane = |k: u16| -> Vec<u8> {
        (0..4u16)
            .flat_map(|i| (i * 9000 + k).to_le_bytes())
            .collect()
    };
    v.push(Case::new(
        "image/planar16.tiff",
        tiff_fields(planar, &[plane(1), plane(2), plane(3)]),
        Expect::clean("16-bit RGB TIFF stored plane by plane"),
    ));
    v.push(Case::new(
        "image/os2_rle24.bmp",
        os2_rle24(5, 3),
        Expect::clean("OS/2 2.x bitmap (64-byte header) with RLE24 pixels, decoded here"),
    ));
    v.push(Case::new(
        "image/old_jpeg.tiff",
        tiff_fields(
            tiff_base(2, 2, &[8, 8, 8], 6, 6),
            &[vec![0xFF, 0xD8, 0xFF, 0xD9]],
        ),
        Expect::blocked(
            Code::RebuildFailed,
            &[],
            "old-style JPEG compression in TIFF: refused, naming the feature",
        ),
    ));
    v.push(Case::new(
        "image/ycbcr_subsampled.tiff",
        tiff_fields(
            tiff_base(2, 2, &[8, 8, 8], 6, 1),
            &[vec![100, 110, 120, 130, 128, 128]],
        ),
        Expect::blocked(
            Code::RebuildFailed,
            &[],
            "uncompressed subsampled YCbCr TIFF: refused, naming the feature",
        ),
    ));
    let mut bmp_trailing = bmp(&sample_rgb(10, 6));
    bmp_trailing.extend_from_slice(b"PAYLOAD");
    v.push(Case::new(
        "image/trailing.bmp",
        bmp_trailing,
        Expect::sanitized(&[Code::ImageTrailingData], "bytes after the BMP pixel data"),
    ));

    // Decompression bombs: refused from the header, before allocation.
    let mut ihdr = 60000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut z, &vec![0u8; 1 << 20]).expect("zlib");
    let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
    bomb.extend_from_slice(&png_chunk(b"IHDR", &ihdr));
    bomb.extend_from_slice(&png_chunk(b"IDAT", &z.finish().expect("zlib")));
    bomb.extend_from_slice(&png_chunk(b"IEND", b""));
    v.push(Case::new(
        "image/bomb_60000x60000.png",
        bomb,
        Expect::blocked(Code::ImageBomb, &[], "PNG declaring 60000x60000 pixels"),
    ));
    let mut jpeg_bomb = jpeg(&sample_rgb(8, 8));
    // Patch the SOF0 dimensions (after FFC0, length, precision).
    if let Some(at) = jpeg_bomb.windows(2).position(|w| w == [0xFF, 0xC0]) {
        jpeg_bomb[at + 5..at + 9].copy_from_slice(&[0xFF, 0xF0, 0xFF, 0xF0]);
    }
    v.push(Case::new(
        "image/bomb_65520x65520.jpg",
        jpeg_bomb,
        Expect::blocked(
            Code::ImageBomb,
            &[],
            "JPEG SOF declaring 65520x65520 pixels",
        ),
    ));
    v.push(Case::new(
        "image/bomb_frames.gif",
        gif_bomb(10_000, 10_000, 3),
        Expect::blocked(Code::ImageBomb, &[], "GIF 10000x10000 canvas x 3 frames"),
    ));
    let mut bmp_bomb = bmp(&sample_rgb(4, 4));
    bmp_bomb[18..22].copy_from_slice(&200_000u32.to_le_bytes());
    bmp_bomb[22..26].copy_from_slice(&200_000u32.to_le_bytes());
    v.push(Case::new(
        "image/bomb_200000x200000.bmp",
        bmp_bomb,
        Expect::blocked(Code::ImageBomb, &[], "BMP declaring 200000x200000 pixels"),
    ));

    let mut truncated = png(&rgb);
    truncated.truncate(truncated.len() / 2);
    v.push(Case::new(
        "image/truncated.png",
        truncated,
        Expect::blocked(Code::RebuildFailed, &[], "PNG cut in the middle of IDAT"),
    ));

    v.push(Case::new(
        "image/script.svg",
        b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">\n<script>alert(document.domain)</script>\n<rect width=\"10\" height=\"10\"/>\n</svg>\n".to_vec(),
        Expect::blocked(Code::ImageSvg, &[], "SVG with <script>"),
    ));
    v
}
