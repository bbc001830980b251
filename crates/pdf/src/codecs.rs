//! Image codecs with a history of exploits in readers (JBIG2, CCITT fax,
//! JPEG 2000) decoded by memory-safe decoders into plain rows, which the
//! output stores with Flate: no reader's JBIG2, fax or JPX decoder ever
//! sees the original data. Main items: [`jbig2`], [`ccitt`] and [`jpx`]
//! (a [`Jpx`] image, decoded into [`JpxStrips`] of samples).

use lopdf::{Dictionary, Object};

/// Packed 1-bit rows as the PDF filter would output them.
struct Rows {
    width: u32,
    height: u32,
    /// The bit value of a black pixel in the output.
    black_bit: bool,
    row: Vec<u8>,
    x: u32,
    out: Vec<u8>,
    rows: u32,
}

impl Rows {
    fn new(width: u32, height: u32, black_bit: bool) -> Self {
        let stride = width.div_ceil(8) as usize;
        let white = if black_bit { 0x00 } else { 0xff };
        Rows {
            width,
            height,
            black_bit,
            row: vec![white; stride],
            x: 0,
            out: Vec::with_capacity(stride.saturating_mul(height as usize).min(64 << 20)),
            rows: 0,
        }
    }

    fn white_row(&self) -> Vec<u8> {
        let byte = if self.black_bit { 0x00 } else { 0xff };
        vec![byte; self.row.len()]
    }

    fn pixel(&mut self, black: bool) {
        if self.x < self.width {
            let on = black == self.black_bit;
            if let Some(b) = self.row.get_mut((self.x / 8) as usize) {
                let bit = 0x80u8 >> (self.x % 8);
                if on {
                    *b |= bit;
                } else {
                    *b &= !bit;
                }
            }
        }
        self.x = self.x.saturating_add(1);
    }

    fn end_row(&mut self) {
        if self.rows < self.height {
            self.out.extend_from_slice(&self.row);
            self.rows += 1;
        }
        self.row = self.white_row();
        self.x = 0;
    }

    /// The image, padded with white rows to its declared height.
    fn finish(mut self) -> Vec<u8> {
        let white = self.white_row();
        while self.rows < self.height {
            self.out.extend_from_slice(&white);
            self.rows += 1;
        }
        self.out
    }
}

impl hayro_jbig2::Decoder for Rows {
    fn push_pixel(&mut self, black: bool) {
        self.pixel(black);
    }

    fn push_pixel_chunk(&mut self, black: bool, chunk_count: u32) {
        for _ in 0..chunk_count
            .saturating_mul(8)
            .min(self.width.saturating_add(8))
        {
            self.pixel(black);
        }
    }

    fn next_line(&mut self) {
        self.end_row();
    }
}

impl hayro_ccitt::Decoder for Rows {
    fn push_row(&mut self, changes: &[u32]) {
        let mut black = false;
        let mut next = changes.iter().copied().peekable();
        for x in 0..self.width {
            while next.peek() == Some(&x) {
                black = !black;
                next.next();
            }
            self.pixel(black);
        }
        self.end_row();
    }
}

fn checked(width: u32, height: u32, max_pixels: u64) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err("an image without a size".into());
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(format!("{width}x{height} pixels, past the limit"));
    }
    Ok(())
}

/// Decodes embedded JBIG2 data (with its `/JBIG2Globals`, decoded) into
/// rows of `width` 1-bit pixels, black as 0 as the filter outputs it.
pub fn jbig2(
    data: &[u8],
    globals: Option<&[u8]>,
    width: u32,
    height: u32,
    max_pixels: u64,
) -> Result<Vec<u8>, String> {
    checked(width, height, max_pixels)?;
    let settings = hayro_jbig2::DecodeSettings::default();
    let globals = match globals {
        Some(g) => Some(
            hayro_jbig2::Globals::new(g, &settings).map_err(|e| format!("JBIG2 globals: {e:?}"))?,
        ),
        None => None,
    };
    let page = hayro_jbig2::Page::new_embedded(data, globals.as_ref(), &settings)
        .map_err(|e| format!("JBIG2: {e:?}"))?;
    if page.width() != width {
        return Err(format!(
            "JBIG2: {} pixels wide, the image says {width}",
            page.width()
        ));
    }
    checked(page.width(), page.height(), max_pixels)?;
    let mut rows = Rows::new(width, height, false);
    page.decode(&mut rows)
        .map_err(|e| format!("JBIG2: {e:?}"))?;
    Ok(rows.finish())
}

fn int(d: Option<&Dictionary>, key: &[u8], default: i64) -> i64 {
    d.and_then(|d| d.get(key).ok())
        .and_then(|o| o.as_i64().ok())
        .unwrap_or(default)
}

fn flag(d: Option<&Dictionary>, key: &[u8], default: bool) -> bool {
    match d.and_then(|d| d.get(key).ok()) {
        Some(Object::Boolean(b)) => *b,
        _ => default,
    }
}

/// Decodes CCITT fax data with its `/DecodeParms` into rows of `width`
/// 1-bit pixels as the filter outputs them.
pub fn ccitt(
    data: &[u8],
    params: Option<&Dictionary>,
    width: u32,
    height: u32,
    max_pixels: u64,
) -> Result<Vec<u8>, String> {
    checked(width, height, max_pixels)?;
    let k = int(params, b"K", 0);
    let columns =
        u32::try_from(int(params, b"Columns", 1728)).map_err(|_| "CCITT: bad /Columns")?;
    if columns != width {
        return Err(format!("CCITT: {columns} columns, the image says {width}"));
    }
    let rows = u32::try_from(int(params, b"Rows", 0)).unwrap_or(0);
    let settings = hayro_ccitt::DecodeSettings {
        columns,
        rows: if rows == 0 { height } else { rows.min(height) },
        end_of_block: flag(params, b"EndOfBlock", true),
        end_of_line: flag(params, b"EndOfLine", false),
        rows_are_byte_aligned: flag(params, b"EncodedByteAlign", false),
        encoding: match k {
            k if k < 0 => hayro_ccitt::EncodingMode::Group4,
            0 => hayro_ccitt::EncodingMode::Group3_1D,
            _ => hayro_ccitt::EncodingMode::Group3_2D,
        },
        strict: false,
    };
    let black_is_1 = flag(params, b"BlackIs1", false);
    let mut out = Rows::new(width, height, black_is_1);
    let mut ctx = hayro_ccitt::DecoderContext::new(settings);
    hayro_ccitt::decode(data, &mut out, &mut ctx).map_err(|e| format!("CCITT: {e:?}"))?;
    if out.rows == 0 {
        return Err("CCITT: no row decodes".into());
    }
    Ok(out.finish())
}

/// The colour space of decoded JPEG 2000 samples, as a PDF device space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JpxSpace {
    Gray,
    Rgb,
    Cmyk,
}

impl JpxSpace {
    pub fn channels(self) -> usize {
        match self {
            JpxSpace::Gray => 1,
            JpxSpace::Rgb => 3,
            JpxSpace::Cmyk => 4,
        }
    }

    /// The PDF name of the device colour space.
    pub fn pdf_name(self) -> &'static [u8] {
        match self {
            JpxSpace::Gray => b"DeviceGray",
            JpxSpace::Rgb => b"DeviceRGB",
            JpxSpace::Cmyk => b"DeviceCMYK",
        }
    }
}

/// A JPEG 2000 image whose header is read: what its samples will be.
/// [`Jpx::decode`] decodes it and hands out the samples a strip at a time
/// ([`JpxStrips`]), so that no whole 8-bit copy of the image is ever held
/// next to the decoder's own planes.
pub struct Jpx<'a> {
    image: hayro_jpeg2000::Image<'a>,
    pub width: u32,
    pub height: u32,
    pub space: JpxSpace,
    /// Whether the image has an opacity channel (after its colour).
    pub alpha: bool,
    /// The bit depth the samples were coded in (they are scaled to 8).
    pub depth: u8,
    /// The ICC profile the samples are in: the image's own, or the one
    /// the decoder gives for a space it decodes through a profile (CIELab,
    /// ROMM-RGB); the device space when `None`.
    pub profile: Option<Vec<u8>>,
}

impl std::fmt::Debug for Jpx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jpx")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("space", &self.space)
            .field("alpha", &self.alpha)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// Reads the header of JPEG 2000 data (a JP2 file or a bare codestream).
/// `palette` resolves palette indices into colours; without it a
/// paletted image comes out as its 1-channel indices (for a PDF
/// `/Indexed` colour space). Every sample the decoder will hold counts
/// against `max_pixels`.
pub fn jpx(data: &[u8], palette: bool, max_pixels: u64) -> Result<Jpx<'_>, String> {
    let settings = hayro_jpeg2000::DecodeSettings {
        resolve_palette_indices: palette,
        ..Default::default()
    };
    let image = hayro_jpeg2000::Image::new(data, &settings).map_err(|e| format!("JPX: {e}"))?;
    let (width, height) = (image.width(), image.height());
    checked(width, height, max_pixels)?;
    let (space, profile) = match image.color_space() {
        hayro_jpeg2000::ColorSpace::Gray => (JpxSpace::Gray, None),
        hayro_jpeg2000::ColorSpace::RGB => (JpxSpace::Rgb, None),
        hayro_jpeg2000::ColorSpace::CMYK => (JpxSpace::Cmyk, None),
        hayro_jpeg2000::ColorSpace::Icc {
            num_channels,
            profile,
        } => match num_channels {
            1 => (JpxSpace::Gray, Some(profile.clone())),
            3 => (JpxSpace::Rgb, Some(profile.clone())),
            4 => (JpxSpace::Cmyk, Some(profile.clone())),
            n => return Err(format!("JPX: an ICC colour space of {n} channels")),
        },
        hayro_jpeg2000::ColorSpace::Unknown { num_channels } => match num_channels {
            1 => (JpxSpace::Gray, None),
            3 => (JpxSpace::Rgb, None),
            4 => (JpxSpace::Cmyk, None),
            n => return Err(format!("JPX: {n} channels of unknown colour")),
        },
    };
    let alpha = image.has_alpha();
    let channels = space.channels() + usize::from(alpha);
    let pixels = u64::from(width) * u64::from(height);
    if pixels.saturating_mul(channels as u64) > max_pixels {
        return Err(format!(
            "JPX: {width}x{height} pixels of {channels} channels, past the limit"
        ));
    }
    let depth = image.original_bit_depth();
    Ok(Jpx {
        image,
        width,
        height,
        space,
        alpha,
        depth,
        profile,
    })
}

impl Jpx<'_> {
    /// Decodes the image and gives `read` its samples, strip by strip;
    /// the decoder's planes are freed when `read` returns.
    ///
    /// The decoder's own memory bounds what this can save: it keeps every
    /// component as a whole plane of `f32` (4 bytes a sample) and, for its
    /// largest tile, the wavelet coefficients, the inverse transform's
    /// output (4 bytes a pixel each) and a quarter-size scratch plane, all
    /// held until it is dropped; a JP2 with a channel definition box
    /// (every image with alpha) has its planes copied once more while
    /// they are put in order. An untiled RGB image thus peaks at about
    /// 21 bytes a pixel, 8 times its 8-bit samples.
    pub fn decode<R>(
        &self,
        read: impl FnOnce(JpxStrips<'_>) -> Result<R, String>,
    ) -> Result<R, String> {
        let channels = self.space.channels() + usize::from(self.alpha);
        let plane = usize::try_from(u64::from(self.width) * u64::from(self.height))
            .map_err(|_| "JPX: too many pixels".to_string())?;
        let mut ctx = hayro_jpeg2000::DecoderContext::default();
        let decoded = self
            .image
            .decode(&mut ctx)
            .map_err(|e| format!("JPX: {e}"))?;
        let comps = decoded.components();
        if comps.len() != channels {
            return Err(format!(
                "JPX: {} components for {channels} channels",
                comps.len()
            ));
        }
        if comps.iter().any(|c| c.samples().len() != plane) {
            return Err("JPX: components of unequal sizes".into());
        }
        // The decoder's own scaling to 8 bits (its `data_u8`): a sample
        // of `b` bits times 255 / (2^b - 1).
        let mut scales = Vec::with_capacity(channels);
        for c in comps {
            let max = 1u32
                .checked_shl(u32::from(c.bit_depth()))
                .filter(|&m| m > 1)
                .ok_or_else(|| format!("JPX: a component of {} bits", c.bit_depth()))?
                - 1;
            scales.push(255.0 / max as f32);
        }
        read(JpxStrips {
            planes: comps,
            scales,
            colour: self.space.channels(),
            alpha: self.alpha,
            at: 0,
        })
    }
}

/// The samples of a decoded JPEG 2000 image as 8 bits, in order, a strip
/// of pixels at a time: colour interleaved, alpha apart.
pub struct JpxStrips<'a> {
    planes: &'a [hayro_jpeg2000::ComponentData],
    scales: Vec<f32>,
    /// Colour channels (the planes before the alpha plane).
    colour: usize,
    alpha: bool,
    /// The next pixel.
    at: usize,
}

/// A decoder sample to 8 bits exactly as the decoder's `data_u8` does it
/// (scaled, plus one half, truncated and saturated).
#[inline(always)]
fn to_u8(x: f32, scale: f32) -> u8 {
    (x * scale + 0.5) as u8
}

fn interleave<const N: usize>(planes: [&[f32]; N], scales: [f32; N], out: &mut [u8]) {
    for (i, px) in out.as_chunks_mut::<N>().0.iter_mut().enumerate() {
        for c in 0..N {
            px[c] = to_u8(planes[c][i], scales[c]);
        }
    }
}

impl JpxStrips<'_> {
    /// Puts the next `pixels` pixels (fewer at the end) into `colour`
    /// (interleaved) and, when `alpha` is given and the image has one,
    /// its opacity into `alpha`; both are cleared first. False when no
    /// pixel is left.
    pub fn next(
        &mut self,
        pixels: usize,
        colour: &mut Vec<u8>,
        mut alpha: Option<&mut Vec<u8>>,
    ) -> bool {
        colour.clear();
        if let Some(a) = alpha.as_deref_mut() {
            a.clear();
        }
        let total = self.planes.first().map_or(0, |p| p.samples().len());
        let end = self.at.saturating_add(pixels.max(1)).min(total);
        if self.at >= end {
            return false;
        }
        let range = self.at..end;
        self.at = end;
        let n = self.colour;
        colour.resize(range.len() * n, 0);
        let p = |c: usize| &self.planes[c].samples()[range.clone()];
        let s = &self.scales;
        match n {
            1 => interleave([p(0)], [s[0]], colour),
            3 => interleave([p(0), p(1), p(2)], [s[0], s[1], s[2]], colour),
            4 => interleave([p(0), p(1), p(2), p(3)], [s[0], s[1], s[2], s[3]], colour),
            _ => {
                for (i, px) in colour.chunks_exact_mut(n).enumerate() {
                    for (c, v) in px.iter_mut().enumerate() {
                        *v = to_u8(p(c)[i], s[c]);
                    }
                }
            }
        }
        if let (Some(a), true) = (alpha, self.alpha) {
            a.extend(p(n).iter().map(|&x| to_u8(x, s[n])));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_does_not_decode() {
        assert!(jbig2(b"\x97JB2 garbage", None, 8, 8, 1 << 20).is_err());
        assert!(ccitt(b"", None, 1728, 10, 1 << 20).is_err());
        assert!(jbig2(b"", None, 0, 8, 1 << 20).is_err());
    }

    /// The JPX data of each committed JPEG 2000 fixture PDF.
    fn jpx_fixtures() -> Vec<(String, Vec<u8>)> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/fixtures/jpx");
        let mut out = Vec::new();
        for name in ["rgb.pdf", "gray.pdf", "alpha.pdf", "lossy.pdf"] {
            let doc = lopdf::Document::load(dir.join(name)).expect("fixture");
            for o in doc.objects.values() {
                if let Object::Stream(st) = o {
                    if matches!(st.dict.get(b"Filter"), Ok(Object::Name(n)) if n == b"JPXDecode") {
                        out.push((name.to_string(), st.content.clone()));
                    }
                }
            }
        }
        assert_eq!(out.len(), 4, "one JPX image in each fixture");
        out
    }

    #[test]
    fn jpx_strips_are_the_decoders_own_8_bit_samples() {
        for (name, data) in jpx_fixtures() {
            // The decoder's whole-image conversion, colour then alpha.
            let settings = hayro_jpeg2000::DecodeSettings::default();
            let image = hayro_jpeg2000::Image::new(&data, &settings).expect("image");
            let mut ctx = hayro_jpeg2000::DecoderContext::default();
            let decoded = image.decode(&mut ctx).expect("decode");
            if name == "lossy.pdf" {
                // Samples between integers: the rounding is exercised.
                let planes = decoded.components();
                assert!(planes
                    .iter()
                    .any(|p| p.samples().iter().any(|x| x.fract() != 0.0)));
            }
            let all = decoded.data_u8();
            let img = jpx(&data, true, 1 << 24).expect("header");
            let n = img.space.channels();
            let step = n + usize::from(img.alpha);
            assert_eq!(all.len(), img.width as usize * img.height as usize * step);
            let (want_colour, want_alpha): (Vec<u8>, Vec<u8>) = if img.alpha {
                (
                    all.chunks_exact(step)
                        .flat_map(|p| &p[..n])
                        .copied()
                        .collect(),
                    all.chunks_exact(step).map(|p| p[n]).collect(),
                )
            } else {
                (all.clone(), Vec::new())
            };
            // Strips of odd sizes, ending anywhere in a row.
            for strip in [1, 7, 1000, 1 << 20] {
                let (colour, alpha) = img
                    .decode(|mut s| {
                        let (mut c, mut a, mut ca, mut aa) = (vec![], vec![], vec![], vec![]);
                        while s.next(strip, &mut c, Some(&mut a)) {
                            assert!(c.len() <= strip * n);
                            ca.extend_from_slice(&c);
                            aa.extend_from_slice(&a);
                        }
                        Ok((ca, aa))
                    })
                    .expect("strips");
                assert!(colour == want_colour, "{name}: colour, strips of {strip}");
                assert!(alpha == want_alpha, "{name}: alpha, strips of {strip}");
            }
            // Without an alpha buffer only the colour comes out.
            let colour = img
                .decode(|mut s| {
                    let (mut c, mut ca) = (vec![], vec![]);
                    while s.next(333, &mut c, None) {
                        ca.extend_from_slice(&c);
                    }
                    Ok(ca)
                })
                .expect("strips");
            assert!(colour == want_colour, "{name}: colour alone");
        }
    }

    #[test]
    fn jpx_sample_conversion_saturates_as_the_decoder_does() {
        assert_eq!(to_u8(-3.0, 1.0), 0);
        assert_eq!(to_u8(f32::NAN, 1.0), 0);
        assert_eq!(to_u8(254.49, 1.0), 254);
        assert_eq!(to_u8(254.5, 1.0), 255);
        assert_eq!(to_u8(1e9, 1.0), 255);
        assert_eq!(to_u8(1023.0, 255.0 / 1023.0), 255);
    }

    #[test]
    fn ccitt_rows_follow_the_changes() {
        let mut r = Rows::new(10, 2, false);
        hayro_ccitt::Decoder::push_row(&mut r, &[2, 4]);
        assert_eq!(r.finish(), vec![0b1100_1111, 0xff, 0xff, 0xff]);
    }
}
