//! Stream data: decoded with bounded filters, checked for what it claims
//! to be (JPEG; font programs in [`crate::fonts`]), and encoded anew with
//! Flate.

use lopdf::{Dictionary, Object, Stream};
use std::io::Write;

/// Why a stream's data cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// The data does not decode with its declared filters.
    Damaged(String),
    /// Flate data that ends before its last block, with what decodes.
    Truncated(Vec<u8>),
    /// It decodes to more than the per-stream cap.
    TooLarge(u64),
    /// An image codec the policy does not keep (JBIG2, JPX, CCITT).
    Codec(String),
}

/// Image codecs: the last filter of an image, kept or judged by itself.
const CODECS: &[&[u8]] = &[
    b"DCTDecode",
    b"JPXDecode",
    b"JBIG2Decode",
    b"CCITTFaxDecode",
];

fn full_name(f: &[u8]) -> &[u8] {
    match f {
        b"Fl" => b"FlateDecode",
        b"LZW" => b"LZWDecode",
        b"AHx" => b"ASCIIHexDecode",
        b"A85" => b"ASCII85Decode",
        b"RL" => b"RunLengthDecode",
        b"DCT" => b"DCTDecode",
        b"CCF" => b"CCITTFaxDecode",
        other => other,
    }
}

/// A stream's data with its general filters undone.
#[derive(Debug)]
pub struct Decoded {
    pub data: Vec<u8>,
    /// Whether Flate data ended early (`data` is what decoded).
    pub truncated: bool,
    /// The image codec still applied to `data`, if any.
    pub codec: Option<Vec<u8>>,
    /// Whether the stream's own bytes are a checked Flate encoding of
    /// `data` that may be written as it is (see [`Inflated::exact`]).
    pub exact: bool,
}

/// A filter's full name and its parameters.
type Filter = (Vec<u8>, Option<Dictionary>);

/// The filters of a stream (full names) with their parameters.
fn filters(dict: &Dictionary) -> Result<Vec<Filter>, StreamError> {
    let names: Vec<Vec<u8>> = match dict.get(b"Filter") {
        Err(_) | Ok(Object::Null) => Vec::new(),
        Ok(Object::Name(n)) => vec![full_name(n).to_vec()],
        Ok(Object::Array(a)) => a
            .iter()
            .map(|f| {
                f.as_name()
                    .map(|n| full_name(n).to_vec())
                    .map_err(|_| StreamError::Damaged("a filter is not a name".into()))
            })
            .collect::<Result<_, _>>()?,
        Ok(_) => {
            return Err(StreamError::Damaged(
                "/Filter is not a name or array".into(),
            ))
        }
    };
    if names.len() > 8 {
        return Err(StreamError::Damaged("more than 8 filters".into()));
    }
    let params: Vec<Option<Dictionary>> = match dict.get(b"DecodeParms") {
        Ok(Object::Dictionary(d)) => vec![Some(d.clone())],
        Ok(Object::Array(a)) => a
            .iter()
            .map(|p| match p {
                Object::Dictionary(d) => Some(d.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, params.get(i).cloned().flatten()))
        .collect())
}

/// Decodes the stream data `content` with the filters of `dict` (whose
/// references are already resolved) up to the image codec, at most `cap`
/// bytes per layer.
pub fn decode(dict: &Dictionary, content: &[u8], cap: usize) -> Result<Decoded, StreamError> {
    let chain = filters(dict)?;
    let mut data: Option<Vec<u8>> = None;
    let mut truncated = false;
    let n = chain.len();
    // A single Flate layer without a predictor is the one encoding the
    // output writes: when it decodes exactly, its bytes can stay.
    if n == 1 && chain[0].0 == b"FlateDecode" && predictor(chain[0].1.as_ref()) <= 1 {
        return match inflate_checked(content, cap) {
            Ok(i) => Ok(Decoded {
                data: i.data,
                truncated: false,
                codec: None,
                exact: i.exact,
            }),
            Err(StreamError::Truncated(part)) => Ok(Decoded {
                data: part,
                truncated: true,
                codec: None,
                exact: false,
            }),
            Err(e) => Err(e),
        };
    }
    for (i, (name, params)) in chain.into_iter().enumerate() {
        let input: &[u8] = data.as_deref().unwrap_or(content);
        if CODECS.contains(&name.as_slice()) {
            if i + 1 != n {
                return Err(StreamError::Damaged(format!(
                    "/{} is not the last filter",
                    String::from_utf8_lossy(&name)
                )));
            }
            return Ok(Decoded {
                data: input.to_vec(),
                truncated,
                codec: Some(name),
                exact: false,
            });
        }
        let out = match layer(&name, params, input, cap) {
            Err(StreamError::Truncated(part)) => {
                truncated = true;
                part
            }
            other => other?,
        };
        data = Some(out);
    }
    Ok(Decoded {
        data: data.unwrap_or_else(|| content.to_vec()),
        truncated,
        codec: None,
        exact: false,
    })
}

/// Whether the filters of `dict` (references resolved) end in an image
/// codec; filters that cannot be read count as none.
pub fn has_codec(dict: &Dictionary) -> bool {
    filters(dict).is_ok_and(|chain| chain.iter().any(|(n, _)| CODECS.contains(&n.as_slice())))
}

/// The data of a stream without an image codec as the output writes it:
/// its own bytes when they are exact Flate, else its data encoded anew.
#[derive(Debug)]
pub struct Encoded {
    /// Bytes the data decoded to.
    pub decoded: u64,
    /// Whether Flate data ended early (what decoded is encoded).
    pub truncated: bool,
    /// The Flate data, `None` for the stream's own bytes.
    pub data: Option<Vec<u8>>,
}

/// Decodes `content` as [`decode`] does and encodes it for the output
/// (exact Flate data keeps its bytes with `keep_exact`); not for data with
/// an image codec (see [`has_codec`]).
pub fn encode_plain(
    dict: &Dictionary,
    content: &[u8],
    cap: usize,
    keep_exact: bool,
) -> Result<Encoded, StreamError> {
    let d = decode(dict, content, cap)?;
    if d.codec.is_some() {
        return Err(StreamError::Damaged("an image codec".into()));
    }
    Ok(Encoded {
        decoded: d.data.len() as u64,
        truncated: d.truncated,
        data: (!(keep_exact && d.exact)).then(|| deflate(&d.data)),
    })
}

/// The `/Predictor` of a filter's parameters (1, none, when absent).
fn predictor(params: Option<&Dictionary>) -> i64 {
    params
        .and_then(|p| p.get(b"Predictor").ok())
        .and_then(|p| p.as_i64().ok())
        .unwrap_or(1)
}

fn layer(
    name: &[u8],
    params: Option<Dictionary>,
    input: &[u8],
    cap: usize,
) -> Result<Vec<u8>, StreamError> {
    let predictor = predictor(params.as_ref());
    if name == b"Crypt" {
        // Decrypted on loading; the identity crypt filter changes nothing.
        return Ok(input.to_vec());
    }
    if name == b"FlateDecode" {
        match inflate(input, cap) {
            Ok(raw) if predictor <= 1 => return Ok(raw),
            Ok(_) => {}
            Err(StreamError::Truncated(part)) if predictor <= 1 => {
                return Err(StreamError::Truncated(part))
            }
            Err(e) => return Err(e),
        }
    }
    let known = matches!(
        name,
        b"FlateDecode" | b"LZWDecode" | b"ASCIIHexDecode" | b"ASCII85Decode" | b"RunLengthDecode"
    );
    if !known {
        return Err(StreamError::Damaged(format!(
            "unknown filter /{}",
            String::from_utf8_lossy(name)
        )));
    }
    let mut d = Dictionary::new();
    d.set("Filter", Object::Name(name.to_vec()));
    if let Some(p) = params {
        d.set("DecodeParms", Object::Dictionary(p));
    }
    let one = Stream::new(d, input.to_vec());
    one.decompressed_content_with_limit(cap)
        .map_err(|e| match e {
            lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => {
                StreamError::TooLarge(cap as u64)
            }
            e => StreamError::Damaged(format!("{}: {e}", String::from_utf8_lossy(name))),
        })
}

/// Inflates zlib (or bare deflate) data that must reach its final block;
/// a truncated or corrupt stream is an error (the checksum is not
/// checked, as readers do not).
pub fn inflate(data: &[u8], cap: usize) -> Result<Vec<u8>, StreamError> {
    inflate_checked(data, cap).map(|i| i.data)
}

/// Flate data decoded, and whether its bytes may be written as they are.
#[derive(Debug)]
pub struct Inflated {
    pub data: Vec<u8>,
    /// The input is one zlib stream (no preset dictionary) that decodes
    /// to `data` to its final block, with the right checksum, followed by
    /// nothing but end-of-line bytes. The decoder refuses incomplete or
    /// over-subscribed codes and distances before the start, so every
    /// conforming reader decodes such bytes to the same `data`: writing
    /// them again is the same as encoding `data` anew, at no cost.
    pub exact: bool,
}

/// [`inflate`], saying whether the data is exact (see [`Inflated`]).
pub fn inflate_checked(data: &[u8], cap: usize) -> Result<Inflated, StreamError> {
    if data.is_empty() {
        return Ok(Inflated {
            data: Vec::new(),
            exact: false,
        });
    }
    let zlib = data.len() >= 2
        && data[0] & 0x0f == 8
        && data[0] >> 4 <= 7
        && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0
        && data[1] & 0x20 == 0;
    let body = if zlib { &data[2..] } else { data };
    let mut z = flate2::Decompress::new(false);
    let mut out: Vec<u8> = Vec::with_capacity(body.len().saturating_mul(4).min(cap).max(64));
    loop {
        if out.len() == out.capacity() {
            if out.len() > cap {
                return Err(StreamError::TooLarge(cap as u64));
            }
            out.reserve(out.len().max(4096));
        }
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let at = usize::try_from(in_before).unwrap_or(usize::MAX);
        let status = z
            .decompress_vec(
                body.get(at..).unwrap_or_default(),
                &mut out,
                flate2::FlushDecompress::None,
            )
            .map_err(|e| StreamError::Damaged(format!("Flate: {e}")))?;
        if status == flate2::Status::StreamEnd {
            if out.len() > cap {
                return Err(StreamError::TooLarge(cap as u64));
            }
            let end = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
            let exact = zlib
                && body
                    .get(end..end.saturating_add(4))
                    .is_some_and(|sum| sum == simd_adler32::adler32(&out.as_slice()).to_be_bytes())
                && body
                    .get(end.saturating_add(4)..)
                    .is_some_and(|rest| rest.iter().all(|b| matches!(b, b'\r' | b'\n')));
            return Ok(Inflated { data: out, exact });
        }
        let stalled = z.total_in() == in_before && z.total_out() == out_before;
        if stalled && out.len() < out.capacity() {
            if out.is_empty() {
                return Err(StreamError::Damaged("Flate: the data ends early".into()));
            }
            // Cut short: readers show what decodes, and so does the output.
            return Err(StreamError::Truncated(out));
        }
    }
}

/// Flate-encodes `data`.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2),
        // Level 1: most of the size at a fraction of the time.
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// Whether `data` is plain XMP metadata: UTF-8 XML with an `x:xmpmeta`
/// or `rdf:RDF` element and no document type declaration (entities).
pub fn check_xmp(data: &[u8]) -> Result<(), &'static str> {
    let text = std::str::from_utf8(data).map_err(|_| "not UTF-8")?;
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if !body.starts_with('<') {
        return Err("not XML");
    }
    if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") {
        return Err("a document type declaration");
    }
    if !(text.contains("<x:xmpmeta") || text.contains("<rdf:RDF")) {
        return Err("no XMP packet");
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err("control characters");
    }
    Ok(())
}

/// JPEG data written anew from its DCT coefficients (lossless, nothing of
/// its headers copied, see [`mugai_image::jpeg_coef`]); data that rebuild
/// does not handle (or finds damaged) is decoded fully instead
/// ([`check_jpeg`], as tolerant as a reader) and kept as it is. `Err` says
/// why it is not a JPEG a reader can show.
pub fn rebuild_jpeg(data: Vec<u8>, max_pixels: u64) -> Result<Vec<u8>, String> {
    let first = mugai_image::jpeg_coef::rebuild(&data, max_pixels);
    settle_jpeg(data, first, max_pixels)
}

/// What [`rebuild_jpeg`] makes of `data` once its rebuild from the
/// coefficients (done elsewhere, on another thread) gave `first`.
pub fn settle_jpeg(
    data: Vec<u8>,
    first: Result<Vec<u8>, mugai_image::jpeg_coef::CoefError>,
    max_pixels: u64,
) -> Result<Vec<u8>, String> {
    use mugai_image::jpeg_coef::CoefError;
    match first {
        Ok(out) => Ok(out),
        Err(e @ CoefError::TooLarge(..)) => Err(e.to_string()),
        Err(_) => check_jpeg(&data, max_pixels).map(|()| data),
    }
}

/// Checks that JPEG data decodes (bounded by `max_pixels`): every block's
/// coefficients, or else the full pixels; `Err` says why it is not a JPEG
/// a reader can show.
pub fn check_jpeg(data: &[u8], max_pixels: u64) -> Result<(), String> {
    if mugai_image::jpeg_coef::Jpeg::read(data, max_pixels).is_ok() {
        return Ok(());
    }
    let mut r =
        image::ImageReader::with_format(std::io::Cursor::new(data), image::ImageFormat::Jpeg);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(4).max(1 << 20));
    r.limits(limits);
    r.decode().map(|_| ()).map_err(|e| format!("JPEG: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flate_must_reach_its_end() {
        // Data that does not compress to nothing, so half of it decodes to
        // a part.
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * i % 251) as u8).collect();
        let z = deflate(&data);
        assert_eq!(inflate(&z, 1 << 20).map(|v| v.len()), Ok(10_000));
        match inflate(&z[..z.len() / 2], 1 << 20) {
            Err(StreamError::Truncated(part)) => {
                assert!(!part.is_empty() && data.starts_with(&part))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            inflate(&z[..2], 1 << 20),
            Err(StreamError::Damaged(_))
        ));
        assert!(matches!(
            inflate(b"garbage data", 1 << 20),
            Err(StreamError::Damaged(_))
        ));
        assert!(matches!(inflate(&z, 100), Err(StreamError::TooLarge(_))));
        // A wrong checksum is tolerated, as readers do.
        let mut bad = z.clone();
        let n = bad.len();
        bad[n - 1] ^= 0xff;
        assert_eq!(inflate(&bad, 1 << 20).map(|v| v.len()), Ok(10_000));
    }

    #[test]
    fn only_checked_zlib_data_is_exact() {
        let data: Vec<u8> = (0..5_000u32).map(|i| (i * 7 % 13) as u8).collect();
        let z = deflate(&data);
        let exact = |bytes: &[u8]| inflate_checked(bytes, 1 << 20).map(|i| (i.data, i.exact));
        assert_eq!(exact(&z), Ok((data.clone(), true)));
        let mut eol = z.clone();
        eol.extend_from_slice(b"\r\n");
        assert_eq!(
            exact(&eol),
            Ok((data.clone(), true)),
            "an end of line may follow"
        );
        let mut bad_sum = z.clone();
        let n = bad_sum.len();
        bad_sum[n - 1] ^= 1;
        assert_eq!(exact(&bad_sum), Ok((data.clone(), false)));
        let mut trailing = z.clone();
        trailing.extend_from_slice(b"%hidden");
        assert_eq!(exact(&trailing), Ok((data.clone(), false)));
        assert_eq!(exact(&z[..n - 4]), Ok((data.clone(), false)), "no checksum");
        // Bare deflate (no zlib header) decodes but is written anew.
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&data).unwrap();
        assert_eq!(exact(&raw.finish().unwrap()), Ok((data.clone(), false)));
        // Only a single Flate layer without a predictor keeps its bytes.
        let mut d = Dictionary::new();
        d.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        assert!(decode(&d, &z, 1 << 20).is_ok_and(|d| d.exact && d.data == data));
        let mut p = Dictionary::new();
        p.set("Predictor", Object::Integer(12));
        p.set("Columns", Object::Integer(10));
        d.set("DecodeParms", Object::Dictionary(p));
        let rows: Vec<u8> = (0..10).flat_map(|_| [0u8; 11]).collect();
        assert!(decode(&d, &deflate(&rows), 1 << 20).is_ok_and(|d| !d.exact));
        let mut e = encode_plain(&Dictionary::new(), b"plain", 1 << 20, true).unwrap();
        assert_eq!((e.decoded, e.truncated), (5, false));
        assert_eq!(
            e.data.take().map(|z| inflate(&z, 1 << 20)),
            Some(Ok(b"plain".to_vec()))
        );
    }

    #[test]
    fn chains_stop_at_the_image_codec() {
        let mut d = Dictionary::new();
        d.set(
            "Filter",
            Object::Array(vec![
                Object::Name(b"AHx".to_vec()),
                Object::Name(b"DCT".to_vec()),
            ]),
        );
        let s = Stream::new(d, b"4142>".to_vec());
        let got = decode(&s.dict, &s.content, 1 << 20).map(|d| (d.data, d.codec));
        assert_eq!(got, Ok((b"AB".to_vec(), Some(b"DCTDecode".to_vec()))));
    }

    #[test]
    fn jpeg_streams_are_written_anew_from_their_coefficients() {
        use image::ImageEncoder;
        let img = image::RgbImage::from_fn(33, 20, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 12) as u8, ((x ^ y) * 9) as u8])
        });
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
            .write_image(img.as_raw(), 33, 20, image::ExtendedColorType::Rgb8)
            .expect("jpeg");
        // A comment, an unknown application segment and appended bytes.
        jpeg.splice(2..2, b"\xff\xfe\0\x06note\xff\xe9\0\x04xy".iter().copied());
        jpeg.extend_from_slice(b"<script>");
        let out = rebuild_jpeg(jpeg.clone(), 1 << 20).expect("rebuilt");
        let px = |b: &[u8]| {
            image::load_from_memory_with_format(b, image::ImageFormat::Jpeg)
                .expect("decodes")
                .into_bytes()
        };
        assert_eq!(px(&jpeg), px(&out), "the same pixels");
        assert!(out.ends_with(b"\xff\xd9"), "nothing after the end marker");
        assert!(!out.windows(2).any(|w| w == b"\xff\xfe" || w == b"\xff\xe9"));
        assert_eq!(rebuild_jpeg(out.clone(), 1 << 20), Ok(out));
        assert!(rebuild_jpeg(b"\xff\xd8\xff\xe0garbage".to_vec(), 1 << 20).is_err());
        assert!(rebuild_jpeg(jpeg, 100).is_err(), "over the pixel limit");
    }

    #[test]
    fn garbage_jpeg_does_not_decode() {
        assert!(check_jpeg(b"\xff\xd8\xff\xe0garbage", 1 << 20).is_err());
    }
}
