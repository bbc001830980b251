//! JPEG 2000 (`/JPXDecode`) images rebuilt as Flate images: the data is
//! decoded by a memory-safe decoder ([`crate::codecs::jpx`]) and the
//! image dictionary is given the explicit `/ColorSpace`,
//! `/BitsPerComponent` and, for an image with its own opacity, `/SMask`
//! that match the decoded samples ([`Reshape`]), since a Flate image
//! cannot take them from the data as JPX does. Samples in an ICC space
//! (the image's own profile, or CIELab and ROMM-RGB, which the decoder
//! gives through a profile) keep it as an `/ICCBased` colour space.

use crate::codecs::{self, JpxSpace};
use crate::streams;
use flate2::write::ZlibEncoder;
use lopdf::{Dictionary, Document, Object, Stream};
use std::io::Write;

/// What the image dictionary of a re-encoded JPX image needs changed
/// once it is cleaned.
#[derive(Debug)]
pub struct Reshape {
    /// Entries set (replacing what the input had).
    set: Vec<(&'static [u8], Object)>,
    /// Entries that mean something for JPX data only (`/Decode` is
    /// ignored for JPX but not for Flate; `/SMaskInData`).
    remove: &'static [&'static [u8]],
    /// The colour space written when the cleaned dictionary has none.
    fallback: JpxSpace,
    /// The image's own alpha, as a Flate-compressed 8-bit plane.
    smask: Option<Vec<u8>>,
    /// The ICC profile of the samples, Flate-compressed, for an
    /// `/ICCBased` colour space.
    icc: Option<Vec<u8>>,
    width: u32,
    height: u32,
}

/// A JPX image decoded: the Flate data, the dictionary changes, and a
/// note on what changed for the report.
#[derive(Debug)]
pub struct Rebuilt {
    pub data: Vec<u8>,
    /// Bytes of decoded samples (colour and alpha), for the byte budget.
    pub decoded: u64,
    pub reshape: Reshape,
    pub note: String,
}

fn resolve<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    let mut cur = o;
    for _ in 0..8 {
        match cur {
            Object::Reference(id) => match doc.objects.get(id) {
                Some(t) => cur = t,
                None => return &Object::Null,
            },
            _ => return cur,
        }
    }
    &Object::Null
}

/// The number of colour components of a PDF colour space, when known;
/// `Some(0)` marks `/Indexed` (one index per pixel, kept as it is).
fn components(doc: &Document, cs: &Object) -> Option<usize> {
    match resolve(doc, cs) {
        Object::Name(n) => match n.as_slice() {
            b"DeviceGray" | b"CalGray" | b"G" => Some(1),
            b"DeviceRGB" | b"CalRGB" | b"RGB" => Some(3),
            b"DeviceCMYK" | b"CMYK" => Some(4),
            _ => None,
        },
        Object::Array(a) => {
            let family = match a.first().map(|f| resolve(doc, f)) {
                Some(Object::Name(n)) => n.as_slice(),
                _ => return None,
            };
            match family {
                b"Indexed" | b"I" => Some(0),
                b"CalGray" | b"Separation" => Some(1),
                b"CalRGB" | b"Lab" => Some(3),
                b"DeviceN" => match a.get(1).map(|x| resolve(doc, x)) {
                    Some(Object::Array(names)) => Some(names.len()),
                    _ => None,
                },
                b"ICCBased" => match a.get(1).map(|x| resolve(doc, x)) {
                    Some(Object::Stream(s)) => match s.dict.get(b"N").map(|n| resolve(doc, n)) {
                        Ok(Object::Integer(n)) => usize::try_from(*n).ok(),
                        _ => None,
                    },
                    _ => None,
                },
                _ => components(doc, a.first()?),
            }
        }
        _ => None,
    }
}

/// Decodes the JPX `data` of the image with dictionary `dict`.
pub fn rebuild(
    doc: &Document,
    dict: &Dictionary,
    data: &[u8],
    max_pixels: u64,
) -> Result<Rebuilt, String> {
    let get = |k: &[u8]| dict.get(k).ok().map(|v| resolve(doc, v));
    if matches!(get(b"ImageMask"), Some(Object::Boolean(true))) {
        return Err("a JPX image mask".into());
    }
    let declared = get(b"ColorSpace").and_then(|cs| components(doc, cs));
    let indexed = declared == Some(0);
    let img = codecs::jpx(data, !indexed, max_pixels)?;
    let mut set: Vec<(&'static [u8], Object)> = vec![
        (b"Width", Object::Integer(img.width.into())),
        (b"Height", Object::Integer(img.height.into())),
        (b"BitsPerComponent", Object::Integer(8)),
    ];
    let mut note = String::from("/JPXDecode image: decoded and stored with Flate");
    let mut profile = img.profile.clone();
    // Palette indices are scaled back from 8 bits to the depth they were
    // coded in.
    let mut index_max = None;
    if indexed {
        // Palette indices, one channel.
        if img.space != JpxSpace::Gray || img.depth > 8 || img.depth == 0 {
            return Err("JPX: an /Indexed image that is not one channel of 8 bits or less".into());
        }
        index_max = Some((1u32 << img.depth) - 1);
    } else if declared != Some(img.space.channels()) {
        // No colour space, or one that does not match the decoded samples:
        // the data's own space, written explicitly.
        set.push((b"ColorSpace", Object::Name(img.space.pdf_name().to_vec())));
        if profile.is_some() {
            note.push_str("; its ICC colour space kept as /ICCBased");
        }
    } else {
        profile = None;
    }
    // The data's alpha is the soft mask when /SMaskInData asks for it
    // (1, or 2 for colour premultiplied by it) and no /SMask overrides.
    let smask_in_data = match get(b"SMaskInData") {
        Some(Object::Integer(i)) => *i,
        _ => 0,
    };
    let keep_alpha = img.alpha && !indexed && smask_in_data > 0 && get(b"SMask").is_none();
    let premultiplied = keep_alpha && smask_in_data == 2;
    let n = img.space.channels();
    let pixels = u64::from(img.width) * u64::from(img.height);
    let decoded = pixels * (n as u64 + u64::from(img.alpha && !indexed));
    // Each strip of 8-bit samples goes straight into the Flate encoder:
    // only the decoder's planes and the compressed data are ever whole.
    let (data, smask) = img.decode(|mut strips| {
        let mut colour = Vec::new();
        let mut alpha = Vec::new();
        let mut out = deflater();
        let mut out_alpha = keep_alpha.then(deflater);
        while strips.next(STRIP, &mut colour, keep_alpha.then_some(&mut alpha)) {
            if let Some(max) = index_max {
                for s in &mut colour {
                    *s = ((u32::from(*s) * max + 127) / 255) as u8;
                }
            }
            if premultiplied {
                unpremultiply(&mut colour, &alpha, n);
            }
            write(&mut out, &colour)?;
            if let Some(e) = out_alpha.as_mut() {
                write(e, &alpha)?;
            }
        }
        Ok((finish(out)?, out_alpha.map(finish).transpose()?))
    })?;
    Ok(Rebuilt {
        data,
        decoded,
        reshape: Reshape {
            set,
            remove: &[b"Decode", b"SMaskInData"],
            fallback: img.space,
            smask,
            icc: profile.as_deref().map(streams::deflate),
            width: img.width,
            height: img.height,
        },
        note,
    })
}

/// Pixels converted to 8 bits and compressed at a time.
const STRIP: usize = 1 << 16;

/// A Flate encoder at the level of [`streams::deflate`].
fn deflater() -> ZlibEncoder<Vec<u8>> {
    ZlibEncoder::new(Vec::new(), flate2::Compression::fast())
}

fn write(e: &mut ZlibEncoder<Vec<u8>>, data: &[u8]) -> Result<(), String> {
    e.write_all(data).map_err(|e| format!("Flate: {e}"))
}

fn finish(e: ZlibEncoder<Vec<u8>>) -> Result<Vec<u8>, String> {
    e.finish().map_err(|e| format!("Flate: {e}"))
}

fn unpremultiply(samples: &mut [u8], alpha: &[u8], n: usize) {
    for (px, &a) in samples.chunks_exact_mut(n).zip(alpha) {
        if a == 0 {
            continue;
        }
        for c in px {
            *c = ((u32::from(*c) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8;
        }
    }
}

impl Reshape {
    /// Applies the changes to the cleaned image stream; `alloc` numbers
    /// the new objects (ICC profile, soft mask), returned with them. They
    /// are numbered in the order a second pass over the output meets them.
    pub fn apply<E>(
        self,
        image: &mut Object,
        mut alloc: impl FnMut() -> Result<lopdf::ObjectId, E>,
    ) -> Result<Vec<(lopdf::ObjectId, Object)>, E> {
        let mut added = Vec::new();
        let Object::Stream(s) = image else {
            return Ok(added);
        };
        for k in self.remove {
            s.dict.remove(k);
        }
        for (k, v) in self.set {
            s.dict.set(k, v);
        }
        if !s.dict.has(b"ColorSpace") {
            s.dict.set(
                "ColorSpace",
                Object::Name(self.fallback.pdf_name().to_vec()),
            );
        }
        if let Some(profile) = self.icc {
            // Last but for the soft mask, so that a second pass numbers
            // the profile after everything else the image holds.
            s.dict.remove(b"ColorSpace");
            let id = alloc()?;
            let mut d = Dictionary::new();
            d.set("N", Object::Integer(self.fallback.channels() as i64));
            d.set("Alternate", Object::Name(self.fallback.pdf_name().to_vec()));
            d.set("Filter", Object::Name(b"FlateDecode".to_vec()));
            s.dict.set(
                "ColorSpace",
                Object::Array(vec![
                    Object::Name(b"ICCBased".to_vec()),
                    Object::Reference(id),
                ]),
            );
            added.push((id, Object::Stream(Stream::new(d, profile))));
        }
        if let Some(alpha) = self.smask {
            let id = alloc()?;
            s.dict.set("SMask", Object::Reference(id));
            added.push((
                id,
                Object::Stream(Stream::new(soft_mask(self.width, self.height), alpha)),
            ));
        }
        // The filter entries last, where a second pass puts them (all
        // taken out first: removing moves the last entry into the gap).
        let tail: Vec<(&[u8], Object)> = [b"Filter".as_slice(), b"DecodeParms", b"Length"]
            .into_iter()
            .filter_map(|k| s.dict.remove(k).map(|v| (k, v)))
            .collect();
        for (k, v) in tail {
            s.dict.set(k, v);
        }
        Ok(added)
    }
}

/// The dictionary of an 8-bit soft mask of `width` by `height`.
fn soft_mask(width: u32, height: u32) -> Dictionary {
    let mut d = Dictionary::new();
    d.set("Type", Object::Name(b"XObject".to_vec()));
    d.set("Subtype", Object::Name(b"Image".to_vec()));
    d.set("Width", Object::Integer(width.into()));
    d.set("Height", Object::Integer(height.into()));
    d.set("ColorSpace", Object::Name(b"DeviceGray".to_vec()));
    d.set("BitsPerComponent", Object::Integer(8));
    d.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_space_components() {
        let doc = Document::new();
        let n = |o: Object| components(&doc, &o);
        assert_eq!(n(Object::Name(b"DeviceRGB".to_vec())), Some(3));
        assert_eq!(n(Object::Name(b"DeviceGray".to_vec())), Some(1));
        assert_eq!(
            n(Object::Array(vec![
                Object::Name(b"Indexed".to_vec()),
                Object::Name(b"DeviceRGB".to_vec())
            ])),
            Some(0)
        );
        assert_eq!(n(Object::Name(b"Pattern".to_vec())), None);
    }

    #[test]
    fn premultiplied_colour_is_restored() {
        let mut s = vec![64, 128, 0, 10];
        unpremultiply(&mut s, &[128, 0], 2);
        assert_eq!(s, vec![128, 255, 0, 10]);
    }

    fn inflate(data: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(data)
            .read_to_end(&mut out)
            .expect("Flate data");
        out
    }

    #[test]
    fn rebuilt_samples_are_the_decoded_image_premultiplication_undone() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../corpus/fixtures/jpx/lossy.pdf");
        let doc = Document::load(path).expect("fixture");
        let image = doc
            .objects
            .values()
            .find_map(|o| match o {
                Object::Stream(s) if s.dict.has(b"SMaskInData") => Some(s),
                _ => None,
            })
            .expect("the JPX image");
        let r = rebuild(&doc, &image.dict, &image.content, 1 << 24).expect("rebuilt");
        // The whole image as the decoder gives it, split and restored here.
        let settings = hayro_jpeg2000::DecodeSettings::default();
        let whole = hayro_jpeg2000::Image::new(&image.content, &settings).expect("image");
        let mut ctx = hayro_jpeg2000::DecoderContext::default();
        let all = whole.decode(&mut ctx).expect("decode").data_u8();
        let mut colour: Vec<u8> = all.chunks_exact(4).flat_map(|p| &p[..3]).copied().collect();
        let alpha: Vec<u8> = all.chunks_exact(4).map(|p| p[3]).collect();
        assert!(
            alpha.iter().any(|&a| a > 0 && a < 255),
            "partly opaque pixels"
        );
        unpremultiply(&mut colour, &alpha, 3);
        assert!(inflate(&r.data) == colour, "colour");
        let smask = r
            .reshape
            .smask
            .as_deref()
            .expect("the alpha is the soft mask");
        assert!(inflate(smask) == alpha, "alpha");
        assert_eq!(r.decoded, 96 * 64 * 4);
    }

    #[test]
    fn garbage_is_an_error() {
        let d = Dictionary::new();
        let doc = Document::new();
        assert!(rebuild(&doc, &d, b"\x00\x00\x00\x0cjP  garbage", 1 << 20).is_err());
        assert!(rebuild(&doc, &d, b"", 1 << 20).is_err());
    }
}
