//! Lossless JPEG rebuild from the quantised DCT coefficients, as
//! `jpegtran -copy none` does: the markers are parsed with a bounds-checked
//! reader, every Huffman-coded block is decoded into its coefficients, and
//! a brand-new baseline JPEG is written from them (SOI, a JFIF or Adobe
//! header generated here, DQT, SOF, standard Huffman tables, one interleaved
//! scan, EOI). Application segments, comments, restart markers and bytes
//! after the end marker are gone, and the pixels are exactly those of the
//! input (no generation loss).
//!
//! A sequential JPEG whose one scan decodes to exactly what coding its
//! coefficients again with its own (checked) tables gives keeps that scan's
//! bytes and tables instead of coding them anew: the output is the same as
//! coding would make, at the cost of the decoding alone (see [`Verbatim`]).
//!
//! Main type: [`Jpeg`] ([`Jpeg::read`], [`Jpeg::write`]); [`rebuild`] does
//! both. Read: baseline and extended sequential (SOF0, SOF1) and
//! progressive (SOF2) Huffman-coded 8-bit JPEG with 1, 3 or 4 components
//! sampled 1×1 or 2×(1|2). Anything else (arithmetic coding, 12-bit,
//! lossless, hierarchical, other sampling) is [`CoefError::Unsupported`],
//! for the caller to fall back to decoding the pixels.

use mugai_core::Reader;

/// Why a JPEG is not rebuilt from its coefficients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoefError {
    /// A valid JPEG this rebuild does not handle.
    #[error("unsupported JPEG: {0}")]
    Unsupported(&'static str),
    /// Not a well-formed JPEG.
    #[error("damaged JPEG: {0}")]
    Damaged(&'static str),
    /// More pixels than allowed.
    #[error("JPEG of {0} pixels is over the limit of {1}")]
    TooLarge(u64, u64),
}

use CoefError::{Damaged, Unsupported};

type Res<T> = Result<T, CoefError>;

/// One colour component and its coefficients.
#[derive(Debug, Clone)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// Blocks per row and rows of blocks as stored (padded to whole MCUs).
    bw: usize,
    bh: usize,
    /// Blocks that hold pixels (what a single-component scan covers).
    real_bw: usize,
    real_bh: usize,
    /// The quantisation table, in zigzag order, latched at the first scan.
    qt: Option<[u16; 64]>,
    seen: bool,
    /// `bw * bh` blocks of 64 coefficients in zigzag order.
    coef: Vec<i16>,
}

/// A JPEG decoded down to its coefficients.
#[derive(Debug, Clone)]
pub struct Jpeg {
    width: usize,
    height: usize,
    comps: Vec<Component>,
    hmax: usize,
    vmax: usize,
    jfif: bool,
    adobe: Option<u8>,
    orientation: u16,
    icc: Vec<(u8, Vec<u8>)>,
    icc_bad: bool,
    /// The input's scan, kept as it came when decoding proved it is what
    /// [`Jpeg::write`] would code from the coefficients (see [`Verbatim`]).
    verbatim: Option<Verbatim>,
}

/// One Huffman table as a DHT segment gives it: code counts per length,
/// then the symbols.
type Table = ([u8; 16], Vec<u8>);

/// A sequential JPEG's only scan, with the tables it is coded with.
///
/// Kept only when the decoder has shown that coding the decoded
/// coefficients again with these tables gives exactly these bytes: one
/// interleaved scan of every component in frame order, no restart
/// interval, tables that hold only what the encoder writes, each block
/// ending as the encoder ends it (no zero run coded before its end of
/// block), one bits for padding and nothing between the last code and the
/// next marker. Writing then copies the bytes instead of coding them
/// anew: the result is the same, in a third of the time.
#[derive(Debug, Clone)]
struct Verbatim {
    /// Per component in frame order: its DC and AC table.
    tables: Vec<(Table, Table)>,
    /// The entropy-coded bytes, stuffing included.
    data: Vec<u8>,
}

/// Reads `input` and writes it anew (no ICC profile): the PDF use.
pub fn rebuild(input: &[u8], max_pixels: u64) -> Result<Vec<u8>, CoefError> {
    Jpeg::read(input, max_pixels)?.write(None)
}

#[derive(Clone)]
struct Huff {
    /// 9-bit lookahead: (length, symbol); length 0 means a longer code.
    look: Vec<(u8, u8)>,
    /// 9-bit lookahead of an AC code and the value bits after it, when
    /// both fit and the value is not 0: see [`Fast`].
    fast: Vec<Fast>,
    maxcode: [i32; 18],
    valptr: [i32; 17],
    mincode: [i32; 17],
    /// The table as defined: code counts per length and the symbols.
    counts: [u8; 16],
    vals: Vec<u8>,
}

const LOOK: u32 = 9;

/// One entry of [`Huff::fast`]: a run/size code and its value bits read
/// together. `len` is the bits of both (0: not in the table), `run` the
/// zero run before the coefficient and `val` its extended value.
#[derive(Clone, Copy, Default)]
struct Fast {
    len: u8,
    run: u8,
    val: i16,
}

impl Huff {
    fn new(counts: &[u8; 16], vals: &[u8]) -> Res<Huff> {
        let mut look = vec![(0u8, 0u8); 1 << LOOK];
        let mut maxcode = [-1i32; 18];
        let mut valptr = [0i32; 17];
        let mut mincode = [0i32; 17];
        let mut code: u32 = 0;
        let mut k = 0usize;
        for len in 1..=16usize {
            let n = counts[len - 1] as usize;
            valptr[len] = k as i32;
            mincode[len] = code as i32;
            for _ in 0..n {
                if code >= (1 << len) {
                    return Err(Damaged("Huffman table with too many codes"));
                }
                if len as u32 <= LOOK {
                    let shift = LOOK - len as u32;
                    let base = (code << shift) as usize;
                    for e in &mut look[base..base + (1 << shift)] {
                        *e = (len as u8, vals[k]);
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                maxcode[len] = code as i32 - 1;
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        let mut fast = vec![Fast::default(); 1 << LOOK];
        for (i, (f, &(len, sym))) in fast.iter_mut().zip(&look).enumerate() {
            let (run, size) = (sym >> 4, u32::from(sym & 15));
            let total = u32::from(len) + size;
            if len == 0 || size == 0 || total > LOOK {
                continue;
            }
            let v = ((i as u32) >> (LOOK - total)) & ((1 << size) - 1);
            let v = v as i32;
            let val = if v < 1 << (size - 1) {
                v - (1 << size) + 1
            } else {
                v
            };
            *f = Fast {
                len: total as u8,
                run,
                val: val as i16,
            };
        }
        Ok(Huff {
            look,
            fast,
            maxcode,
            valptr,
            mincode,
            counts: *counts,
            vals: vals.to_vec(),
        })
    }

    /// Whether a sequential scan coded with this table is one our own
    /// encoder would write given the same table: each symbol once, only
    /// symbols the encoder uses (DC: sizes 0 to 11; AC: EOB, ZRL and
    /// run/size pairs of sizes 1 to 10), and no code of all one bits
    /// (which T.81 forbids and libjpeg refuses; this reader lets it pass).
    fn is_encodable(&self, class: usize) -> bool {
        let mut code = 0u32;
        for (len, &n) in self.counts.iter().enumerate() {
            code += u32::from(n);
            if n > 0 && code >= 1 << (len + 1) {
                return false;
            }
            code <<= 1;
        }
        let mut seen = [false; 256];
        self.vals.iter().all(|&v| {
            let first = !std::mem::replace(&mut seen[usize::from(v)], true);
            let ok = if class == 0 {
                v <= 11
            } else {
                v == 0x00 || v == 0xF0 || (1..=10).contains(&(v & 15))
            };
            first && ok
        })
    }
}

/// Reads the entropy-coded bits of one scan, stopping at any marker.
#[derive(Clone, Copy)]
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    at_marker: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Bits {
            data,
            pos,
            acc: 0,
            n: 0,
            at_marker: false,
        }
    }

    #[inline]
    fn fill(&mut self) {
        // Eight bytes without 0xFF (no stuffing, no marker): the bytes
        // that fit are taken at once.
        if self.n <= 56 && !self.at_marker {
            if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
                let mut b = [0u8; 8];
                b.copy_from_slice(chunk);
                let w = u64::from_be_bytes(b);
                let inv = !w;
                if inv.wrapping_sub(0x0101_0101_0101_0101) & !inv & 0x8080_8080_8080_8080 == 0 {
                    let count = (64 - self.n) / 8;
                    self.acc |= (w >> (64 - 8 * count)) << (64 - self.n - 8 * count);
                    self.pos += count as usize;
                    self.n += 8 * count;
                    return;
                }
            }
        }
        while self.n <= 56 && !self.at_marker {
            let Some(&b) = self.data.get(self.pos) else {
                self.at_marker = true;
                break;
            };
            if b == 0xFF {
                if self.data.get(self.pos + 1) == Some(&0) {
                    self.pos += 2;
                } else {
                    self.at_marker = true;
                    break;
                }
            } else {
                self.pos += 1;
            }
            self.acc |= u64::from(b) << (56 - self.n);
            self.n += 8;
        }
    }

    #[inline]
    fn peek16(&mut self) -> u32 {
        if self.n < 16 {
            self.fill();
        }
        (self.acc >> 48) as u32
    }

    #[inline]
    fn consume(&mut self, len: u32) -> Res<()> {
        if len > self.n {
            return Err(Damaged("entropy-coded data ends early"));
        }
        self.acc <<= len;
        self.n -= len;
        Ok(())
    }

    #[inline]
    fn get(&mut self, len: u32) -> Res<u32> {
        if len == 0 {
            return Ok(0);
        }
        if self.n < len {
            self.fill();
        }
        let v = (self.acc >> (64 - len)) as u32;
        self.consume(len)?;
        Ok(v)
    }

    #[inline]
    fn decode(&mut self, h: &Huff) -> Res<u8> {
        let p = self.peek16();
        let (len, sym) = h.look[(p >> (16 - LOOK)) as usize];
        if len != 0 {
            self.consume(u32::from(len))?;
            return Ok(sym);
        }
        for len in (LOOK as usize + 1)..=16 {
            let code = (p >> (16 - len)) as i32;
            if code <= h.maxcode[len] {
                let i = h.valptr[len] + code - h.mincode[len];
                let sym = *h.vals.get(i as usize).ok_or(Damaged("bad Huffman code"))?;
                self.consume(len as u32)?;
                return Ok(sym);
            }
        }
        Err(Damaged("bad Huffman code"))
    }

    /// Receives `s` bits and extends them to a signed value.
    #[inline]
    fn extend(&mut self, s: u8) -> Res<i32> {
        if s == 0 {
            return Ok(0);
        }
        if s > 16 {
            return Err(Damaged("coefficient size over 16 bits"));
        }
        let v = self.get(u32::from(s))? as i32;
        Ok(if v < 1 << (s - 1) {
            v - (1 << s) + 1
        } else {
            v
        })
    }

    /// Drops the bits left and moves past the restart marker `RSTn`
    /// expected next (extraneous bytes before it are skipped).
    fn restart(&mut self, n: u8) -> Res<()> {
        self.acc = 0;
        self.n = 0;
        self.at_marker = false;
        let m = self.next_marker()?;
        if m != 0xD0 + n {
            return Err(Damaged("restart marker missing or out of order"));
        }
        self.pos += 2;
        Ok(())
    }

    /// The position of the next marker (not a stuffed 0xFF or a fill byte).
    fn next_marker(&mut self) -> Res<u8> {
        loop {
            let b = *self
                .data
                .get(self.pos)
                .ok_or(Damaged("entropy-coded data ends without a marker"))?;
            if b == 0xFF {
                match self.data.get(self.pos + 1) {
                    Some(0) => self.pos += 2,
                    Some(0xFF) => self.pos += 1,
                    Some(&m) => return Ok(m),
                    None => return Err(Damaged("entropy-coded data ends without a marker")),
                }
            } else {
                self.pos += 1;
            }
        }
    }
}

/// One scan's header.
struct Scan {
    comps: Vec<usize>,
    td: Vec<usize>,
    ta: Vec<usize>,
    ss: usize,
    se: usize,
    ah: u8,
    al: u8,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sequential,
    Progressive,
}

fn bad<T>(why: &'static str) -> Res<T> {
    Err(Damaged(why))
}

impl Jpeg {
    /// Parses `input` and decodes every block's coefficients; the frame
    /// may have at most `max_pixels` pixels. A scan kept as it came
    /// ([`Verbatim`]) is decoded without keeping its coefficients, which
    /// [`Jpeg::write`] then does not need.
    pub fn read(input: &[u8], max_pixels: u64) -> Res<Jpeg> {
        match Self::read_with(input, max_pixels, false)? {
            (j, true) => Ok(j),
            // A scan decoded without keeping its coefficients could not be
            // kept as it came after all: decoded again, keeping them.
            (_, false) => Self::read_stored(input, max_pixels),
        }
    }

    /// [`Jpeg::read`] keeping every coefficient, also of a scan kept as it
    /// came (for [`Jpeg::write_coded`]).
    #[doc(hidden)]
    pub fn read_stored(input: &[u8], max_pixels: u64) -> Res<Jpeg> {
        Self::read_with(input, max_pixels, true).map(|(j, _)| j)
    }

    /// Returns the picture, and whether it is whole: `false` when a scan
    /// was decoded without keeping its coefficients (`store_all` false)
    /// and then could not be kept as it came.
    fn read_with(input: &[u8], max_pixels: u64, store_all: bool) -> Res<(Jpeg, bool)> {
        let mut r = Reader::new(input);
        if r.take(2) != Some(&[0xFF, 0xD8][..]) {
            return bad("no start-of-image marker");
        }
        let mut j = Jpeg {
            width: 0,
            height: 0,
            comps: Vec::new(),
            hmax: 1,
            vmax: 1,
            jfif: false,
            adobe: None,
            orientation: 1,
            icc: Vec::new(),
            icc_bad: false,
            verbatim: None,
        };
        let mut mode = None;
        let mut qt: [Option<[u16; 64]>; 4] = [None; 4];
        let mut dc: [Option<Huff>; 4] = [None, None, None, None];
        let mut ac: [Option<Huff>; 4] = [None, None, None, None];
        let mut restart = 0usize;
        let mut exif_seen = false;
        let mut scans = 0usize;
        loop {
            // A marker, after any fill bytes.
            if r.u8() != Some(0xFF) {
                return bad("a marker was expected");
            }
            let mut m = r
                .u8()
                .ok_or(Damaged("ends without an end-of-image marker"))?;
            while m == 0xFF {
                m = r
                    .u8()
                    .ok_or(Damaged("ends without an end-of-image marker"))?;
            }
            match m {
                0xD9 => break,
                0xD8 => return bad("a second start-of-image marker"),
                0x01 | 0xD0..=0xD7 => continue,
                _ => {}
            }
            let len = r.u16_be().ok_or(Damaged("segment length cut off"))? as usize;
            if len < 2 {
                return bad("segment length under 2");
            }
            let seg = r
                .take(len - 2)
                .ok_or(Damaged("segment runs past the end"))?;
            let mut s = Reader::new(seg);
            match m {
                0xC0..=0xC2 => {
                    if mode.is_some() {
                        return bad("more than one frame header");
                    }
                    mode = Some(if m == 0xC2 {
                        Mode::Progressive
                    } else {
                        Mode::Sequential
                    });
                    j.frame(&mut s, max_pixels)?;
                }
                0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                    return Err(Unsupported(
                        "lossless, hierarchical or arithmetic-coded frame",
                    ))
                }
                0xC8 | 0xF0..=0xFD | 0xDE | 0xDF => {
                    return Err(Unsupported("reserved or extension marker"))
                }
                0xCC => return Err(Unsupported("arithmetic coding conditioning")),
                0xDC => return Err(Unsupported("number-of-lines marker")),
                0xC4 => {
                    while !s.is_empty() {
                        let t = s.u8().ok_or(Damaged("DHT cut off"))?;
                        let (class, id) = ((t >> 4) as usize, (t & 15) as usize);
                        if class > 1 || id > 3 {
                            return bad("bad Huffman table class or id");
                        }
                        let counts: [u8; 16] = s.array().ok_or(Damaged("DHT cut off"))?;
                        let total: usize = counts.iter().map(|&c| c as usize).sum();
                        if total > 256 {
                            return bad("Huffman table with over 256 symbols");
                        }
                        let vals = s.take(total).ok_or(Damaged("DHT cut off"))?;
                        let h = Huff::new(&counts, vals)?;
                        if class == 0 {
                            dc[id] = Some(h);
                        } else {
                            ac[id] = Some(h);
                        }
                    }
                }
                0xDB => {
                    while !s.is_empty() {
                        let t = s.u8().ok_or(Damaged("DQT cut off"))?;
                        let (p, id) = (t >> 4, (t & 15) as usize);
                        if p > 1 || id > 3 {
                            return bad("bad quantisation table precision or id");
                        }
                        let mut q = [0u16; 64];
                        for e in &mut q {
                            *e = if p == 0 {
                                u16::from(s.u8().ok_or(Damaged("DQT cut off"))?)
                            } else {
                                s.u16_be().ok_or(Damaged("DQT cut off"))?
                            };
                            if *e == 0 {
                                return bad("quantisation value 0");
                            }
                        }
                        qt[id] = Some(q);
                    }
                }
                0xDD => {
                    restart = s.u16_be().ok_or(Damaged("DRI cut off"))? as usize;
                }
                0xDA => {
                    let mode = mode.ok_or(Damaged("scan before the frame header"))?;
                    let scan = j.scan_header(&mut s, mode)?;
                    for &c in &scan.comps {
                        let comp = &mut j.comps[c];
                        if comp.qt.is_none() {
                            comp.qt =
                                Some(qt[comp.tq].ok_or(Damaged("undefined quantisation table"))?);
                        }
                        comp.seen = true;
                    }
                    let n = j.comps.len();
                    let tables = |i: usize| {
                        let d = dc[scan.td[i]].as_ref().filter(|h| h.is_encodable(0))?;
                        let a = ac[scan.ta[i]].as_ref().filter(|h| h.is_encodable(1))?;
                        Some(((d.counts, d.vals.clone()), (a.counts, a.vals.clone())))
                    };
                    let tables: Option<Vec<(Table, Table)>> = (mode == Mode::Sequential
                        && scans == 0
                        && restart == 0
                        && scan.comps.iter().copied().eq(0..n))
                    .then(|| (0..n).map(tables).collect())
                    .flatten();
                    let start = r.position();
                    let store = store_all || tables.is_none();
                    let (end, exact) = j.decode_scan(
                        input,
                        start,
                        &scan,
                        mode,
                        &dc,
                        &ac,
                        restart,
                        tables.is_some(),
                        store,
                    )?;
                    if !store && exact.is_none() {
                        return Ok((j, false));
                    }
                    if scans > 0 && j.verbatim.take().is_some() && !store_all {
                        // The first scan's coefficients were not kept.
                        return Ok((j, false));
                    }
                    if let (Some(tables), Some(data_end)) = (tables, exact) {
                        let data = input
                            .get(start..data_end)
                            .ok_or(Damaged("scan ends past the end"))?
                            .to_vec();
                        j.verbatim = Some(Verbatim { tables, data });
                    }
                    r.seek(end).ok_or(Damaged("scan ends past the end"))?;
                    scans += 1;
                }
                0xE0 if seg.starts_with(b"JFIF\0") => j.jfif = true,
                0xE1 if seg.starts_with(b"Exif\0\0") => {
                    j.orientation = if exif_seen {
                        0
                    } else {
                        exif_orientation(&seg[6..]).unwrap_or(0)
                    };
                    exif_seen = true;
                }
                0xE2 if seg.starts_with(b"ICC_PROFILE\0") => match &seg[12..] {
                    [seq, _count, data @ ..] => j.icc.push((*seq, data.to_vec())),
                    _ => j.icc_bad = true,
                },
                0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => j.adobe = Some(seg[11]),
                // Other application segments and comments: left behind.
                _ => {}
            }
        }
        if mode.is_none() || scans == 0 {
            return bad("no frame or no scan");
        }
        if j.comps.iter().any(|c| !c.seen) {
            return bad("a component has no scan");
        }
        Ok((j, true))
    }

    fn frame(&mut self, s: &mut Reader<'_>, max_pixels: u64) -> Res<()> {
        let p = s.u8().ok_or(Damaged("SOF cut off"))?;
        let h = s.u16_be().ok_or(Damaged("SOF cut off"))? as usize;
        let w = s.u16_be().ok_or(Damaged("SOF cut off"))? as usize;
        let n = s.u8().ok_or(Damaged("SOF cut off"))? as usize;
        if p != 8 {
            return Err(Unsupported("sample precision other than 8 bits"));
        }
        if h == 0 {
            return Err(Unsupported("height given by a DNL marker"));
        }
        if w == 0 {
            return bad("width 0");
        }
        let pixels = (w as u64) * (h as u64);
        if pixels > max_pixels {
            return Err(CoefError::TooLarge(pixels, max_pixels));
        }
        if !matches!(n, 1 | 3 | 4) {
            return Err(Unsupported("component count other than 1, 3 or 4"));
        }
        for _ in 0..n {
            let id = s.u8().ok_or(Damaged("SOF cut off"))?;
            let hv = s.u8().ok_or(Damaged("SOF cut off"))?;
            let tq = s.u8().ok_or(Damaged("SOF cut off"))? as usize;
            let (ch, cv) = ((hv >> 4) as usize, (hv & 15) as usize);
            if !(1..=2).contains(&ch) || !(1..=2).contains(&cv) {
                return Err(Unsupported("sampling factor other than 1 or 2"));
            }
            if tq > 3 {
                return bad("quantisation table id over 3");
            }
            if self.comps.iter().any(|c| c.id == id) {
                return bad("two components with one id");
            }
            self.comps.push(Component {
                id,
                h: ch,
                v: cv,
                tq,
                bw: 0,
                bh: 0,
                real_bw: 0,
                real_bh: 0,
                qt: None,
                seen: false,
                coef: Vec::new(),
            });
        }
        self.width = w;
        self.height = h;
        self.hmax = self.comps.iter().map(|c| c.h).max().unwrap_or(1);
        self.vmax = self.comps.iter().map(|c| c.v).max().unwrap_or(1);
        if n == 1 {
            // A single component is one block per MCU whatever it says.
            self.hmax = self.comps[0].h;
            self.vmax = self.comps[0].v;
        }
        let (mcux, mcuy) = self.mcus();
        for c in &mut self.comps {
            if n > 1 && (!self.hmax.is_multiple_of(c.h) || !self.vmax.is_multiple_of(c.v)) {
                return Err(Unsupported("sampling factors that do not divide"));
            }
            c.real_bw = (w * c.h).div_ceil(self.hmax).div_ceil(8);
            c.real_bh = (h * c.v).div_ceil(self.vmax).div_ceil(8);
            c.bw = mcux * c.h;
            c.bh = mcuy * c.v;
            // The coefficients are allocated by the first scan that keeps
            // them: a scan kept as it came never needs them.
            c.coef = Vec::new();
        }
        Ok(())
    }

    fn mcus(&self) -> (usize, usize) {
        (
            self.width.div_ceil(8 * self.hmax),
            self.height.div_ceil(8 * self.vmax),
        )
    }

    fn scan_header(&self, s: &mut Reader<'_>, mode: Mode) -> Res<Scan> {
        let ns = s.u8().ok_or(Damaged("SOS cut off"))? as usize;
        if ns == 0 || ns > 4 {
            return bad("scan with 0 or over 4 components");
        }
        let mut scan = Scan {
            comps: Vec::new(),
            td: Vec::new(),
            ta: Vec::new(),
            ss: 0,
            se: 0,
            ah: 0,
            al: 0,
        };
        for _ in 0..ns {
            let id = s.u8().ok_or(Damaged("SOS cut off"))?;
            let t = s.u8().ok_or(Damaged("SOS cut off"))?;
            let c = self
                .comps
                .iter()
                .position(|c| c.id == id)
                .ok_or(Damaged("scan names an unknown component"))?;
            if scan.comps.contains(&c) {
                return bad("scan names a component twice");
            }
            let (td, ta) = ((t >> 4) as usize, (t & 15) as usize);
            if td > 3 || ta > 3 {
                return bad("Huffman table id over 3");
            }
            scan.comps.push(c);
            scan.td.push(td);
            scan.ta.push(ta);
        }
        scan.ss = s.u8().ok_or(Damaged("SOS cut off"))? as usize;
        scan.se = s.u8().ok_or(Damaged("SOS cut off"))? as usize;
        let a = s.u8().ok_or(Damaged("SOS cut off"))?;
        scan.ah = a >> 4;
        scan.al = a & 15;
        match mode {
            Mode::Sequential => {
                if scan.ss != 0 || scan.se != 63 || a != 0 {
                    return bad("sequential scan with spectral selection");
                }
            }
            Mode::Progressive => {
                let ok = if scan.ss == 0 {
                    scan.se == 0
                } else {
                    ns == 1 && scan.se >= scan.ss && scan.se <= 63
                };
                if !ok || scan.al > 13 || (scan.ah != 0 && scan.ah != scan.al + 1) {
                    return bad("bad progressive scan parameters");
                }
            }
        }
        if ns > 1 {
            let blocks: usize = scan
                .comps
                .iter()
                .map(|&c| self.comps[c].h * self.comps[c].v)
                .sum();
            if blocks > 10 {
                return bad("over 10 blocks in an MCU");
            }
        }
        Ok(scan)
    }

    #[allow(clippy::too_many_arguments)]
    fn decode_scan(
        &mut self,
        data: &[u8],
        start: usize,
        scan: &Scan,
        mode: Mode,
        dc: &[Option<Huff>; 4],
        ac: &[Option<Huff>; 4],
        restart: usize,
        exact: bool,
        store: bool,
    ) -> Res<(usize, Option<usize>)> {
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum Kind {
            Full,
            DcFirst,
            DcRefine,
            AcFirst,
            AcRefine,
        }
        let kind = match mode {
            Mode::Sequential => Kind::Full,
            Mode::Progressive => match (scan.ss, scan.ah) {
                (0, 0) => Kind::DcFirst,
                (0, _) => Kind::DcRefine,
                (_, 0) => Kind::AcFirst,
                _ => Kind::AcRefine,
            },
        };
        let need_dc = matches!(kind, Kind::Full | Kind::DcFirst);
        let need_ac = matches!(kind, Kind::Full | Kind::AcFirst | Kind::AcRefine);
        let mut tables: Vec<(Option<&Huff>, Option<&Huff>)> = Vec::new();
        for i in 0..scan.comps.len() {
            let d = if need_dc {
                Some(
                    dc[scan.td[i]]
                        .as_ref()
                        .ok_or(Damaged("undefined Huffman table"))?,
                )
            } else {
                None
            };
            let a = if need_ac {
                Some(
                    ac[scan.ta[i]]
                        .as_ref()
                        .ok_or(Damaged("undefined Huffman table"))?,
                )
            } else {
                None
            };
            tables.push((d, a));
        }
        // The units of the scan: whole MCUs, or blocks of one component.
        let single = scan.comps.len() == 1;
        let (ux, uy) = if single {
            let c = &self.comps[scan.comps[0]];
            (c.real_bw, c.real_bh)
        } else {
            self.mcus()
        };
        let units = ux * uy;
        if store {
            for &ci in &scan.comps {
                let c = &mut self.comps[ci];
                if c.coef.is_empty() {
                    c.coef = vec![0; c.bw * c.bh * 64];
                }
            }
        }
        let mut bits = Bits::new(data, start);
        let mut pred = [0i32; 4];
        let mut eobrun = 0u32;
        let mut canonical = exact;
        // Where a block goes when its coefficients are not kept.
        let mut scratch = [0i16; 64];
        let mut rst = 0u8;
        let (ss, se, al) = (scan.ss, scan.se, scan.al);
        for u in 0..units {
            if restart > 0 && u > 0 && u % restart == 0 {
                bits.restart(rst)?;
                rst = (rst + 1) & 7;
                pred = [0; 4];
                eobrun = 0;
            }
            let (x, y) = (u % ux, u / ux);
            for (i, &ci) in scan.comps.iter().enumerate() {
                let comp = &mut self.comps[ci];
                let (ch, cv) = if single { (1, 1) } else { (comp.h, comp.v) };
                for by in 0..cv {
                    for bx in 0..ch {
                        let (col, row) = (x * ch + bx, y * cv + by);
                        let at = (row * comp.bw + col) * 64;
                        // A scan that does not store its coefficients is
                        // sequential: its blocks are checked by `check_ac`,
                        // which reads nothing back from the scratch block.
                        let blk: &mut [i16] = if store {
                            comp.coef
                                .get_mut(at..at + 64)
                                .ok_or(Damaged("block outside the image"))?
                        } else {
                            &mut scratch
                        };
                        let (d, a) = tables[i];
                        match kind {
                            Kind::Full | Kind::DcFirst => {
                                let d = d.ok_or(Damaged("undefined Huffman table"))?;
                                let s = bits.decode(d)?;
                                if s > 11 {
                                    return bad("DC difference over 11 bits");
                                }
                                pred[i] += bits.extend(s)?;
                                let v = pred[i] << al;
                                blk[0] = i16::try_from(v)
                                    .map_err(|_| Damaged("DC coefficient out of range"))?;
                                if kind == Kind::Full {
                                    let a = a.ok_or(Damaged("undefined Huffman table"))?;
                                    let as_coded = if store {
                                        let k = decode_ac(&mut bits, a, blk, 1, 63, 0, None)?;
                                        // A zero run coded just before the
                                        // end of the block, or running past
                                        // it: the encoder would not write it.
                                        !(k > 1 && blk.get(k - 1).is_none_or(|&v| v == 0))
                                    } else {
                                        check_ac(&mut bits, a)?
                                    };
                                    canonical &= as_coded;
                                }
                            }
                            Kind::DcRefine => {
                                if bits.get(1)? != 0 {
                                    blk[0] |= 1 << al;
                                }
                            }
                            Kind::AcFirst => {
                                let a = a.ok_or(Damaged("undefined Huffman table"))?;
                                decode_ac(&mut bits, a, blk, ss, se, al, Some(&mut eobrun))?;
                            }
                            Kind::AcRefine => {
                                let a = a.ok_or(Damaged("undefined Huffman table"))?;
                                refine_ac(&mut bits, a, blk, ss, se, al, &mut eobrun)?;
                            }
                        }
                    }
                }
            }
        }
        // Bits left in the last byte are padding; move on to the marker.
        // Exact: under a byte of padding, all one bits, and a marker next.
        let n = bits.n;
        let padding = if n == 0 { 0 } else { bits.acc >> (64 - n) };
        let exact = (canonical
            && n < 8
            && padding == (1u64 << n) - 1
            && bits.data.get(bits.pos) == Some(&0xFF)
            && bits.data.get(bits.pos + 1).is_some_and(|&m| m != 0))
        .then_some(bits.pos);
        bits.acc = 0;
        bits.n = 0;
        bits.next_marker()?;
        Ok((bits.pos, exact))
    }

    /// The EXIF orientation (1 when there is none, 0 when it cannot be
    /// read or there are several EXIF segments).
    pub fn orientation(&self) -> u16 {
        self.orientation
    }

    /// The number of colour components (1, 3 or 4).
    pub fn components(&self) -> usize {
        self.comps.len()
    }

    /// The width and height in pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.width as u32, self.height as u32)
    }

    /// Bytes held for the coefficients.
    pub fn coefficient_bytes(&self) -> u64 {
        self.comps.iter().map(|c| c.coef.len() as u64 * 2).sum()
    }

    /// The ICC profile carried in APP2 segments, reassembled in sequence
    /// order; `Err` when the chunks are inconsistent.
    pub fn icc_profile(&self) -> Result<Option<Vec<u8>>, &'static str> {
        if self.icc_bad {
            return Err("an ICC chunk without its header");
        }
        if self.icc.is_empty() {
            return Ok(None);
        }
        let mut chunks: Vec<&(u8, Vec<u8>)> = self.icc.iter().collect();
        chunks.sort_by_key(|c| c.0);
        for (i, c) in chunks.iter().enumerate() {
            if usize::from(c.0) != i + 1 {
                return Err("ICC chunks missing or repeated");
            }
        }
        Ok(Some(
            chunks.iter().flat_map(|c| c.1.iter().copied()).collect(),
        ))
    }

    /// Writes a new baseline JPEG from the coefficients, with `icc`
    /// embedded when given.
    pub fn write(&self, icc: Option<&[u8]>) -> Res<Vec<u8>> {
        self.write_scan(icc, true)
    }

    /// [`Jpeg::write`] with the scan always coded anew from the
    /// coefficients, for checking that a kept scan is what coding gives.
    #[doc(hidden)]
    pub fn write_coded(&self, icc: Option<&[u8]>) -> Res<Vec<u8>> {
        self.write_scan(icc, false)
    }

    /// Whether the input's scan is kept as it came (see [`Verbatim`]).
    pub fn keeps_its_scan(&self) -> bool {
        self.verbatim.is_some()
    }

    fn write_scan(&self, icc: Option<&[u8]>, copy: bool) -> Res<Vec<u8>> {
        let total = match &self.verbatim {
            Some(v) if copy => v.data.len(),
            _ => self.comps.iter().map(|c| c.coef.len()).sum::<usize>() / 3,
        };
        let mut out = Vec::with_capacity(total + 1024 + icc.map_or(0, |p| p.len() * 17 / 16));
        out.extend_from_slice(&[0xFF, 0xD8]);
        let n = self.comps.len();
        // The colour interpretation a decoder draws from the headers is kept:
        // an Adobe segment when the input had one, else JFIF for grey and
        // YCbCr (not for RGB named by component ids).
        if n == 3 && self.jfif && self.adobe.is_some_and(|t| t != 1) {
            // libjpeg reads YCbCr, PDF readers the Adobe transform: the
            // output could not keep both readings.
            return Err(Unsupported("JFIF and Adobe segments disagree"));
        }
        let rgb_ids =
            n == 3 && !self.jfif && self.comps.iter().map(|c| c.id).eq([b'R', b'G', b'B']);
        match self.adobe {
            // JFIF wins over Adobe for three components, as in libjpeg.
            Some(t) if n == 4 || (n == 3 && !self.jfif) => {
                out.extend_from_slice(&[0xFF, 0xEE, 0, 14]);
                out.extend_from_slice(b"Adobe\0\x64\0\0\0\0");
                out.push(t);
            }
            _ if n == 1 || (n == 3 && !rgb_ids) => {
                out.extend_from_slice(&[0xFF, 0xE0, 0, 16]);
                out.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
            }
            _ => {}
        }
        if let Some(p) = icc {
            const CHUNK: usize = 65519 - 14;
            let count = p.len().div_ceil(CHUNK);
            if count > 255 {
                return Err(Unsupported("ICC profile too large"));
            }
            for (i, c) in p.chunks(CHUNK).enumerate() {
                out.extend_from_slice(&[0xFF, 0xE2]);
                out.extend_from_slice(&((c.len() + 16) as u16).to_be_bytes());
                out.extend_from_slice(b"ICC_PROFILE\0");
                out.push(i as u8 + 1);
                out.push(count as u8);
                out.extend_from_slice(c);
            }
        }
        // Quantisation tables: one per distinct latched table.
        let mut tables: Vec<[u16; 64]> = Vec::new();
        let mut tq = Vec::with_capacity(n);
        for c in &self.comps {
            let q = c.qt.ok_or(Damaged("a component has no table"))?;
            let i = match tables.iter().position(|t| *t == q) {
                Some(i) => i,
                None => {
                    tables.push(q);
                    tables.len() - 1
                }
            };
            if i > 3 {
                return Err(Unsupported("over 4 quantisation tables"));
            }
            tq.push(i as u8);
        }
        let mut wide = false;
        for (i, t) in tables.iter().enumerate() {
            let p16 = t.iter().any(|&v| v > 255);
            wide |= p16;
            out.extend_from_slice(&[0xFF, 0xDB]);
            out.extend_from_slice(&(if p16 { 2 + 1 + 128u16 } else { 2 + 1 + 64 }).to_be_bytes());
            out.push(((p16 as u8) << 4) | i as u8);
            for &v in t {
                if p16 {
                    out.extend_from_slice(&v.to_be_bytes());
                } else {
                    out.push(v as u8);
                }
            }
        }
        // Huffman tables: the input's when its scan is kept as it came,
        // else the standard ones of Annex K (luma, then chroma).
        let tables: Vec<(TableRef<'_>, TableRef<'_>)> = match &self.verbatim {
            Some(v) => v
                .tables
                .iter()
                .map(|(d, a)| ((&d.0, &d.1[..]), (&a.0, &a.1[..])))
                .collect(),
            None => (0..n)
                .map(|i| {
                    let (d, a) = if i == 0 {
                        (&STD_DC_LUMA, &STD_AC_LUMA)
                    } else {
                        (&STD_DC_CHROMA, &STD_AC_CHROMA)
                    };
                    ((&d.0, d.1), (&a.0, a.1))
                })
                .collect(),
        };
        // Frame header: extended sequential when a quantisation table needs
        // 16 bits or a class has over two Huffman tables (baseline allows
        // two).
        let distinct = |class: usize| {
            let mut seen: Vec<TableRef<'_>> = Vec::new();
            for t in &tables {
                let t = if class == 0 { t.0 } else { t.1 };
                if !seen.contains(&t) {
                    seen.push(t);
                }
            }
            seen.len()
        };
        let extended = wide || distinct(0) > 2 || distinct(1) > 2;
        out.extend_from_slice(&[0xFF, if extended { 0xC1 } else { 0xC0 }]);
        out.extend_from_slice(&((8 + 3 * n) as u16).to_be_bytes());
        out.push(8);
        out.extend_from_slice(&(self.height as u16).to_be_bytes());
        out.extend_from_slice(&(self.width as u16).to_be_bytes());
        out.push(n as u8);
        for (c, &q) in self.comps.iter().zip(&tq) {
            out.push(c.id);
            let hv = if n == 1 {
                0x11
            } else {
                ((c.h << 4) | c.v) as u8
            };
            out.push(hv);
            out.push(q);
        }
        // One DHT segment per distinct table of each class, in the order
        // the components first use them; the scan header names them.
        let mut written: [Vec<TableRef<'_>>; 2] = [Vec::new(), Vec::new()];
        let mut selectors = Vec::with_capacity(n);
        for &(d, a) in &tables {
            let mut ids = [0u8; 2];
            for (class, t) in [(0usize, d), (1, a)] {
                let id = match written[class].iter().position(|w| *w == t) {
                    Some(id) => id,
                    None => {
                        let id = written[class].len();
                        out.extend_from_slice(&[0xFF, 0xC4]);
                        out.extend_from_slice(&((2 + 1 + 16 + t.1.len()) as u16).to_be_bytes());
                        out.push(((class as u8) << 4) | id as u8);
                        out.extend_from_slice(t.0);
                        out.extend_from_slice(t.1);
                        written[class].push(t);
                        id
                    }
                };
                ids[class] = id as u8;
            }
            selectors.push((ids[0] << 4) | ids[1]);
        }
        out.extend_from_slice(&[0xFF, 0xDA]);
        out.extend_from_slice(&((6 + 2 * n) as u16).to_be_bytes());
        out.push(n as u8);
        for (c, sel) in self.comps.iter().zip(&selectors) {
            out.push(c.id);
            out.push(*sel);
        }
        out.extend_from_slice(&[0, 63, 0]);
        if let Some(v) = self.verbatim.as_ref().filter(|_| copy) {
            out.extend_from_slice(&v.data);
            out.extend_from_slice(&[0xFF, 0xD9]);
            return Ok(out);
        }
        if self.comps.iter().any(|c| c.coef.is_empty()) {
            return Err(Unsupported("the coefficients were not kept"));
        }
        let encs: Vec<Enc> = tables.iter().map(|&(d, a)| Enc::new(d, a)).collect();
        let mut w = BitWriter {
            out,
            bits: Pending { acc: 0, n: 0 },
        };
        let mut pred = [0i32; 4];
        if n == 1 {
            let c = &self.comps[0];
            for row in 0..c.real_bh {
                for col in 0..c.real_bw {
                    let at = (row * c.bw + col) * 64;
                    encode_block(&mut w, &encs[0], &c.coef[at..at + 64], &mut pred[0])?;
                }
            }
        } else {
            let (mcux, mcuy) = self.mcus();
            for my in 0..mcuy {
                for mx in 0..mcux {
                    for (i, c) in self.comps.iter().enumerate() {
                        for by in 0..c.v {
                            for bx in 0..c.h {
                                let at = ((my * c.v + by) * c.bw + mx * c.h + bx) * 64;
                                encode_block(&mut w, &encs[i], &c.coef[at..at + 64], &mut pred[i])?;
                            }
                        }
                    }
                }
            }
        }
        let mut out = w.finish();
        out.extend_from_slice(&[0xFF, 0xD9]);
        Ok(out)
    }
}

/// Decodes the AC coefficients `ss..=se` of one block: sequential
/// (`eobrun` is `None`), or the first pass of a progressive band, shifted
/// by `al`, with its end-of-band run. Returns the index after the last
/// coefficient read (where an end of block stopped it, or `se + 1`).
#[inline]
fn decode_ac(
    bits: &mut Bits<'_>,
    h: &Huff,
    blk: &mut [i16],
    ss: usize,
    se: usize,
    al: u8,
    eobrun: Option<&mut u32>,
) -> Res<usize> {
    // The reader's state in a local, which stays in registers.
    let mut local = *bits;
    let r = decode_ac_with(&mut local, h, blk, ss, se, al, eobrun);
    *bits = local;
    r
}

/// Reads an AC code and its value bits at once when [`Huff::fast`] has
/// them (see [`Fast`]).
#[inline(always)]
fn take_fast(bits: &mut Bits<'_>, h: &Huff) -> Option<Fast> {
    let p = bits.peek16();
    let f = h.fast[(p >> (16 - LOOK)) as usize];
    if f.len != 0 && u32::from(f.len) <= bits.n {
        bits.acc <<= f.len;
        bits.n -= u32::from(f.len);
        Some(f)
    } else {
        None
    }
}

/// Decodes the AC codes of one sequential block without keeping the
/// coefficients, with the checks of [`decode_ac`]: whether the block is
/// coded as the encoder would code it (every coefficient a code gives is
/// not 0, so that is: the last code before the end of the block is not a
/// zero run).
fn check_ac(bits: &mut Bits<'_>, h: &Huff) -> Res<bool> {
    // The reader's state in a local, which stays in registers.
    let mut local = *bits;
    let r = check_ac_with(&mut local, h);
    *bits = local;
    r
}

#[inline(always)]
fn check_ac_with(bits: &mut Bits<'_>, h: &Huff) -> Res<bool> {
    let mut k = 1usize;
    let mut after_zero_run = false;
    while k <= 63 {
        if let Some(f) = take_fast(bits, h) {
            k += usize::from(f.run);
            if k > 63 {
                return bad("AC run past the end of the block");
            }
            k += 1;
            after_zero_run = false;
            continue;
        }
        let rs = bits.decode(h)?;
        let (r, s) = ((rs >> 4) as usize, rs & 15);
        if s != 0 {
            k += r;
            if k > 63 {
                return bad("AC run past the end of the block");
            }
            // Up to 15 bits: always within the range of a coefficient.
            bits.extend(s)?;
            after_zero_run = false;
        } else if r < 15 {
            break;
        } else {
            k += 15;
            after_zero_run = true;
        }
        k += 1;
    }
    Ok(!after_zero_run)
}

#[inline(always)]
fn decode_ac_with(
    bits: &mut Bits<'_>,
    h: &Huff,
    blk: &mut [i16],
    ss: usize,
    se: usize,
    al: u8,
    mut eobrun: Option<&mut u32>,
) -> Res<usize> {
    if let Some(run) = eobrun.as_deref_mut() {
        if *run > 0 {
            *run -= 1;
            return Ok(ss);
        }
    }
    let mut k = ss;
    while k <= se {
        if let Some(f) = take_fast(bits, h) {
            k += usize::from(f.run);
            if k > se {
                return bad("AC run past the end of the block");
            }
            let v = i32::from(f.val) << al;
            blk[k] = i16::try_from(v).map_err(|_| Damaged("AC coefficient out of range"))?;
            k += 1;
            continue;
        }
        let rs = bits.decode(h)?;
        let (r, s) = ((rs >> 4) as usize, rs & 15);
        if s != 0 {
            k += r;
            if k > se {
                return bad("AC run past the end of the block");
            }
            let v = bits.extend(s)? << al;
            blk[k] = i16::try_from(v).map_err(|_| Damaged("AC coefficient out of range"))?;
        } else if r < 15 {
            if let Some(run) = eobrun {
                *run = (1u32 << r) + bits.get(r as u32)? - 1;
            }
            break;
        } else {
            k += 15;
        }
        k += 1;
    }
    Ok(k)
}

/// The refinement pass of a progressive AC band (T.81 G.1.2.3).
fn refine_ac(
    bits: &mut Bits<'_>,
    h: &Huff,
    blk: &mut [i16],
    ss: usize,
    se: usize,
    al: u8,
    eobrun: &mut u32,
) -> Res<()> {
    let p1: i16 = 1 << al;
    let m1: i16 = -p1;
    let mut k = ss;
    let refine = |blk: &mut [i16], k: usize, bits: &mut Bits<'_>| -> Res<()> {
        let c = blk[k];
        if bits.get(1)? != 0 && (c & p1) == 0 {
            blk[k] = if c >= 0 {
                c.checked_add(p1)
            } else {
                c.checked_add(m1)
            }
            .ok_or(Damaged("AC coefficient out of range"))?;
        }
        Ok(())
    };
    if *eobrun == 0 {
        while k <= se {
            let rs = bits.decode(h)?;
            let mut r = (rs >> 4) as i32;
            let s = rs & 15;
            let mut val = 0i16;
            if s != 0 {
                if s != 1 {
                    return bad("refinement coefficient size other than 1");
                }
                val = if bits.get(1)? != 0 { p1 } else { m1 };
            } else if r != 15 {
                *eobrun = (1u32 << r) + bits.get(r as u32)?;
                break;
            }
            loop {
                if blk[k] != 0 {
                    refine(blk, k, bits)?;
                } else {
                    r -= 1;
                    if r < 0 {
                        break;
                    }
                }
                k += 1;
                if k > se {
                    break;
                }
            }
            if val != 0 {
                if k > se {
                    return bad("AC run past the end of the block");
                }
                blk[k] = val;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        while k <= se {
            if blk[k] != 0 {
                refine(blk, k, bits)?;
            }
            k += 1;
        }
        *eobrun -= 1;
    }
    Ok(())
}

/// Annex K tables: (code counts per length, symbols).
type Spec = ([u8; 16], &'static [u8]);

/// A Huffman table to write: code counts per length, symbols.
type TableRef<'a> = (&'a [u8; 16], &'a [u8]);

const STD_DC_LUMA: Spec = (
    [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
);
const STD_DC_CHROMA: Spec = (
    [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
);
const STD_AC_LUMA: Spec = (
    [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
    &[
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
        0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52,
        0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45,
        0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64,
        0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
        0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
        0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3,
        0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8,
        0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ],
);
const STD_AC_CHROMA: Spec = (
    [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
    &[
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61,
        0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33,
        0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18,
        0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44,
        0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63,
        0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4,
        0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
        0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
        0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ],
);

/// Code and length per symbol of one DC and one AC table.
struct Enc {
    dc: [(u16, u8); 256],
    ac: [(u16, u8); 256],
}

impl Enc {
    fn new(dc: TableRef<'_>, ac: TableRef<'_>) -> Enc {
        fn codes(spec: TableRef<'_>) -> [(u16, u8); 256] {
            let mut t = [(0u16, 0u8); 256];
            let mut code = 0u16;
            let mut k = 0;
            for len in 1..=16u8 {
                for _ in 0..spec.0[len as usize - 1] {
                    t[usize::from(spec.1[k])] = (code, len);
                    code += 1;
                    k += 1;
                }
                code <<= 1;
            }
            t
        }
        Enc {
            dc: codes(dc),
            ac: codes(ac),
        }
    }
}

/// Entropy-coded output: whole 32-bit words go to `out` (with a 0 after
/// every 0xFF byte), the bits after them wait in `bits`.
struct BitWriter {
    out: Vec<u8>,
    bits: Pending,
}

/// Bits not yet written: the low `n` bits of `acc`, under 32 of them.
/// Kept apart from the output so that a block is coded with them in
/// registers (see [`encode_block`]).
#[derive(Clone, Copy)]
struct Pending {
    acc: u64,
    n: u32,
}

impl Pending {
    #[inline(always)]
    fn put(&mut self, out: &mut Vec<u8>, code: u32, len: u32) {
        // len <= 16 + 11, so under 32 + 27 bits are pending here.
        self.acc = (self.acc << len) | u64::from(code);
        self.n += len;
        if self.n >= 32 {
            self.n -= 32;
            let word = (self.acc >> self.n) as u32;
            // Whether a byte is 0xFF: a zero byte of the complement.
            let inv = !word;
            if inv.wrapping_sub(0x0101_0101) & !inv & 0x8080_8080 != 0 {
                stuffed(out, word);
            } else {
                out.extend_from_slice(&word.to_be_bytes());
            }
        }
    }
}

/// Writes `word` with a 0 after each 0xFF byte.
#[cold]
fn stuffed(out: &mut Vec<u8>, word: u32) {
    for x in word.to_be_bytes() {
        out.push(x);
        if x == 0xFF {
            out.push(0);
        }
    }
}

impl BitWriter {
    fn finish(self) -> Vec<u8> {
        let BitWriter { mut out, bits } = self;
        // Pad with one bits to a whole byte.
        let pad = (8 - bits.n % 8) % 8;
        let acc = (bits.acc << pad) | ((1u64 << pad) - 1);
        let mut n = bits.n + pad;
        while n >= 8 {
            n -= 8;
            let x = (acc >> n) as u8;
            out.push(x);
            if x == 0xFF {
                out.push(0);
            }
        }
        out
    }
}

#[inline]
fn category(v: i32) -> u32 {
    32 - v.unsigned_abs().leading_zeros()
}

/// The coefficients of a block that are not 0, as bits of a mask (bit
/// `k` for coefficient `k`): one byte per coefficient first, which
/// compiles to vector compares, then eight bytes of 0 or 1 gathered into
/// eight bits by one multiplication.
#[inline]
fn nonzero_mask(blk: &[i16; 64]) -> u64 {
    let mut nz = [0u8; 64];
    for (n, &v) in nz.iter_mut().zip(blk) {
        *n = u8::from(v != 0);
    }
    let mut mask = 0u64;
    for (c, b) in nz.chunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(b);
        let x = u64::from_le_bytes(word);
        mask |= (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * c);
    }
    mask
}

#[inline]
fn encode_block(w: &mut BitWriter, e: &Enc, blk: &[i16], pred: &mut i32) -> Res<()> {
    let blk: &[i16; 64] = blk.try_into().map_err(|_| Damaged("block cut off"))?;
    let dc = i32::from(blk[0]);
    let diff = dc - *pred;
    *pred = dc;
    let cat = category(diff);
    if cat > 11 {
        return Err(Unsupported("DC difference over 11 bits"));
    }
    let out = &mut w.out;
    let mut p = w.bits;
    let (code, len) = e.dc[cat as usize];
    let extra = if diff < 0 { diff - 1 } else { diff } as u32 & ((1u32 << cat) - 1);
    p.put(out, (u32::from(code) << cat) | extra, u32::from(len) + cat);
    let mut nonzero = nonzero_mask(blk) & !1;
    let mut last = 0u32;
    while nonzero != 0 {
        let k = nonzero.trailing_zeros();
        nonzero &= nonzero - 1;
        let mut run = k - last - 1;
        last = k;
        while run >= 16 {
            let (code, len) = e.ac[0xF0];
            p.put(out, u32::from(code), u32::from(len));
            run -= 16;
        }
        let v = i32::from(blk[k as usize & 63]);
        let cat = category(v);
        if cat > 10 {
            return Err(Unsupported("AC coefficient over 10 bits"));
        }
        let (code, len) = e.ac[((run << 4) | cat) as usize & 0xFF];
        let extra = if v < 0 { v - 1 } else { v } as u32 & ((1u32 << cat) - 1);
        p.put(out, (u32::from(code) << cat) | extra, u32::from(len) + cat);
    }
    if last < 63 {
        let (code, len) = e.ac[0];
        p.put(out, u32::from(code), u32::from(len));
    }
    w.bits = p;
    Ok(())
}

/// The orientation tag of IFD0 in an EXIF TIFF structure, 1 when absent.
fn exif_orientation(t: &[u8]) -> Option<u16> {
    let le = match t.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |p: usize| -> Option<u16> {
        let b: [u8; 2] = t.get(p..p + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |p: usize| -> Option<u32> {
        let b: [u8; 4] = t.get(p..p + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    if u16_at(2)? != 42 {
        return None;
    }
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    for i in 0..count {
        let e = ifd + 2 + i * 12;
        if u16_at(e)? == 0x0112 {
            return match u16_at(e + 2)? {
                3 => u16_at(e + 8),
                _ => None,
            };
        }
    }
    Some(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    const W: u16 = 61;
    const H: u16 = 45;

    /// A textured test picture with `n` samples per pixel.
    fn picture(n: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for y in 0..H as usize {
            for x in 0..W as usize {
                for c in 0..n {
                    v.push(((x * (3 + c) + y * (5 + 2 * c)) ^ ((x * y) >> 2)) as u8);
                }
            }
        }
        v
    }

    fn encode(
        color: ColorType,
        sampling: SamplingFactor,
        progressive: bool,
        restart: u16,
    ) -> Vec<u8> {
        encode_with(color, sampling, progressive, restart, false)
    }

    fn encode_with(
        color: ColorType,
        sampling: SamplingFactor,
        progressive: bool,
        restart: u16,
        optimized: bool,
    ) -> Vec<u8> {
        let n = match color {
            ColorType::Luma => 1,
            ColorType::Rgb => 3,
            _ => 4,
        };
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out, 85);
        e.set_sampling_factor(sampling);
        e.set_progressive(progressive);
        // Standard tables unless asked: zune-jpeg 0.5 decodes
        // jpeg-encoder's optimised 4:2:0 tables differently from the same
        // coefficients under the standard tables (libjpeg reads both
        // alike), so a rebuild that changes the tables is compared with
        // standard ones.
        e.set_optimized_huffman_tables(optimized);
        if restart > 0 {
            e.set_restart_interval(restart);
        }
        e.add_app_segment(1, b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0".to_vec())
            .expect("app1");
        e.add_app_segment(13, b"Photoshop 3.0\0junk".to_vec())
            .expect("app13");
        e.encode(&picture(n), W, H, color).expect("encodes");
        // A comment and bytes after the end marker.
        out.splice(2..2, b"\xff\xfe\0\x07hello".iter().copied());
        out.extend_from_slice(b"trailing bytes");
        out
    }

    fn pixels(jpeg: &[u8]) -> Vec<u8> {
        image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
            .expect("an independent decoder reads it")
            .into_bytes()
    }

    /// The markers of `jpeg` up to the scan, and whether it ends at EOI.
    fn markers(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut v = Vec::new();
        let mut p = 2;
        while jpeg[p] == 0xFF && jpeg[p + 1] != 0xDA {
            let m = jpeg[p + 1];
            let len = u16::from_be_bytes([jpeg[p + 2], jpeg[p + 3]]) as usize;
            v.push((m, jpeg[p + 4..p + 2 + len].to_vec()));
            p += 2 + len;
        }
        v
    }

    fn check(input: &[u8]) -> Vec<u8> {
        let out = rebuild(input, 1 << 20).expect("rebuilt");
        let (a, b) = (pixels(input), pixels(&out));
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        assert!(
            a.len() == b.len() && first.is_none(),
            "pixels differ from {first:?}"
        );
        assert!(out.ends_with(&[0xFF, 0xD9]));
        for (m, body) in markers(&out) {
            match m {
                0xE0 => assert!(body.starts_with(b"JFIF\0")),
                0xEE => assert!(body.starts_with(b"Adobe")),
                0xDB | 0xC0 | 0xC1 | 0xC4 => {}
                other => panic!("marker {other:02X} in the output"),
            }
        }
        assert_eq!(
            rebuild(&out, 1 << 20).expect("again"),
            out,
            "not a fixpoint"
        );
        out
    }

    #[test]
    fn baseline_and_progressive_in_every_sampling_keep_their_pixels() {
        for progressive in [false, true] {
            for s in [
                SamplingFactor::R_4_4_4,
                SamplingFactor::R_4_2_2,
                SamplingFactor::R_4_2_0,
                SamplingFactor::R_4_4_0,
            ] {
                let input = encode(ColorType::Rgb, s, progressive, 0);
                let out = check(&input);
                assert!(markers(&out).iter().any(|(m, _)| *m == 0xE0));
            }
        }
    }

    #[test]
    fn a_sequential_scan_is_kept_when_coding_it_again_gives_the_same_bytes() {
        let mut inputs = vec![encode(ColorType::Luma, SamplingFactor::R_4_4_4, false, 0)];
        for s in [
            SamplingFactor::R_4_4_4,
            SamplingFactor::R_4_2_2,
            SamplingFactor::R_4_2_0,
        ] {
            inputs.push(encode(ColorType::Rgb, s, false, 0));
        }
        for (i, input) in inputs.iter().enumerate() {
            let j = Jpeg::read_stored(input, 1 << 20).expect("reads");
            assert!(j.keeps_its_scan(), "input {i}");
            let out = j.write(None).expect("writes");
            assert_eq!(
                out,
                j.write_coded(None).expect("codes"),
                "the kept scan is not what coding gives"
            );
            // Read without keeping the coefficients: the same output.
            let fast = Jpeg::read(input, 1 << 20).expect("reads");
            assert_eq!(fast.write(None).expect("writes"), out);
            check(input);
        }
        // Progressive scans, restart intervals and one scan per component
        // (as this encoder writes optimised tables) are coded anew.
        for (progressive, restart, optimized) in
            [(true, 0, false), (false, 3, false), (false, 0, true)]
        {
            let s = SamplingFactor::R_4_4_4;
            let input = encode_with(ColorType::Rgb, s, progressive, restart, optimized);
            assert!(!Jpeg::read(&input, 1 << 20).expect("reads").keeps_its_scan());
            check(&input);
        }
        // Bytes between the last code and the end marker.
        let mut input = encode(ColorType::Luma, SamplingFactor::R_4_4_4, false, 0);
        let eoi = input
            .windows(2)
            .rposition(|w| w == [0xFF, 0xD9])
            .expect("EOI");
        input.splice(eoi..eoi, [0x12, 0x34]);
        assert!(!Jpeg::read(&input, 1 << 20).expect("reads").keeps_its_scan());
        check(&input);
    }

    #[test]
    fn a_scan_coding_would_not_give_is_coded_anew() {
        // An 8x8 grey picture of one block, coded with the standard tables.
        fn one_block(scan: &[u8]) -> Vec<u8> {
            with_tables(&STD_DC_LUMA, &STD_AC_LUMA, scan)
        }
        fn with_tables(dc: &Spec, ac: &Spec, scan: &[u8]) -> Vec<u8> {
            let mut v = vec![0xFF, 0xD8, 0xFF, 0xDB, 0, 67, 0];
            v.extend([1u8; 64]);
            v.extend([0xFF, 0xC0, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
            for (class, spec) in [(0u8, dc), (1, ac)] {
                v.extend([0xFF, 0xC4]);
                v.extend(((3 + 16 + spec.1.len()) as u16).to_be_bytes());
                v.push(class << 4);
                v.extend(spec.0);
                v.extend(spec.1);
            }
            v.extend([0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0]);
            v.extend(scan);
            v.extend([0xFF, 0xD9]);
            v
        }
        // DC difference 0 ("00") and end of block ("1010"), one bits after.
        let plain = Jpeg::read(&one_block(&[0b0010_1011]), 64).expect("reads");
        assert!(plain.keeps_its_scan());
        let out = plain.write(None).expect("writes");
        assert!(out.ends_with(&[0, 63, 0, 0b0010_1011, 0xFF, 0xD9]));
        for (why, scan) in [
            // A zero run (ZRL, "11111111001") before the end of block.
            ("zero run", &[0b0011_1111, 0b1100_1101, 0b0111_1111][..]),
            // Four zero runs: past the end of the block, which a decoder
            // lets pass (found by the mutation smoke test as a panic).
            (
                "zero runs past the end",
                &[
                    0b0011_1111,
                    0b1100_1111,
                    0b1111_1001,
                    0b1111_1111,
                    0,
                    0b0011_1111,
                    0b1110_0111,
                ],
            ),
            ("zero padding", &[0b0010_1000]),
            ("a byte after the codes", &[0b0010_1011, 0x00]),
        ] {
            let j = Jpeg::read(&one_block(scan), 64).expect("reads");
            assert!(!j.keeps_its_scan(), "{why}");
            assert_eq!(j.write(None).expect("writes"), out, "{why}");
        }
        // Tables of its own: kept with the scan. One-bit codes for DC
        // size 0 and for end of block: "0", "0", then one bits.
        let mut one = [0u8; 16];
        one[0] = 1;
        let (dc, ac): (Spec, Spec) = ((one, &[0x00]), (one, &[0x00]));
        let own = with_tables(&dc, &ac, &[0b0011_1111]);
        let j = Jpeg::read_stored(&own, 64).expect("reads");
        assert!(j.keeps_its_scan());
        let out = j.write(None).expect("writes");
        assert_eq!(out, j.write_coded(None).expect("codes"));
        let dht: Vec<_> = markers(&out).into_iter().filter(|m| m.0 == 0xC4).collect();
        assert_eq!(dht.len(), 2);
        assert!(dht
            .iter()
            .all(|(_, body)| body[1..17] == one && body[17] == 0));
        assert_eq!(pixels(&out), pixels(&one_block(&[0b0010_1011])));
        // Tables with a code of all one bits ("1" here), or a size no 8-bit
        // picture has (unused here): coded anew with the standard tables.
        let (mut two, mut mixed) = ([0u8; 16], [0u8; 16]);
        two[0] = 2;
        mixed[0] = 1;
        mixed[1] = 1;
        for (dc, ac) in [
            ((two, &[0x00, 0x01][..]), (one, &[0x00][..])),
            ((mixed, &[0x00, 12]), (one, &[0x00])),
        ] {
            let input = with_tables(&dc, &ac, &[0b0011_1111]);
            let j = Jpeg::read(&input, 64).expect("reads");
            assert!(!j.keeps_its_scan());
            assert_eq!(j.write(None), plain.write(None));
        }
    }

    #[test]
    fn three_huffman_tables_of_a_class_make_an_extended_frame() {
        // 8x8, three components, each with DC and AC tables of its own
        // (ids 0, 1, 2): "0" for DC size 0 and "0" for end of block.
        // Codes "0" and "10" in the second and third tables.
        let (mut one, mut two) = ([0u8; 16], [0u8; 16]);
        one[0] = 1;
        two[0] = 1;
        two[1] = 1;
        let dc: [(&[u8; 16], &[u8]); 3] = [(&one, &[0]), (&two, &[0, 1]), (&two, &[0, 2])];
        let ac: [(&[u8; 16], &[u8]); 3] = [(&one, &[0]), (&two, &[0, 1]), (&two, &[0, 2])];
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xDB, 0, 67, 0];
        v.extend([1u8; 64]);
        v.extend([0xFF, 0xC1, 0, 17, 8, 0, 8, 0, 8, 3]);
        for id in 1..=3u8 {
            v.extend([id, 0x11, 0]);
        }
        for (class, tables) in [(0u8, &dc), (1, &ac)] {
            for (id, (counts, vals)) in tables.iter().enumerate() {
                v.extend([0xFF, 0xC4]);
                v.extend(((3 + 16 + vals.len()) as u16).to_be_bytes());
                v.push((class << 4) | id as u8);
                v.extend(counts.iter());
                v.extend(vals.iter());
            }
        }
        v.extend([0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x22, 0, 63, 0]);
        // Three blocks of "0" "0", then one bits.
        v.extend([0b0000_0011, 0xFF, 0xD9]);
        let j = Jpeg::read(&v, 64).expect("reads");
        assert!(j.keeps_its_scan());
        let out = j.write(None).expect("writes");
        let sof: Vec<u8> = markers(&out)
            .iter()
            .map(|m| m.0)
            .filter(|m| (0xC0..=0xC2).contains(m))
            .collect();
        assert_eq!(sof, [0xC1], "baseline allows two tables of a class");
        let stored = Jpeg::read_stored(&v, 64).expect("reads");
        assert_eq!(stored.write_coded(None).expect("codes"), out);
        assert_eq!(pixels(&out), pixels(&v));
    }

    #[test]
    fn greyscale_and_restart_intervals_keep_their_pixels() {
        for progressive in [false, true] {
            check(&encode(
                ColorType::Luma,
                SamplingFactor::R_4_4_4,
                progressive,
                0,
            ));
            for r in [1, 3, 7] {
                let input = encode(ColorType::Rgb, SamplingFactor::R_4_2_0, progressive, r);
                assert!(input.windows(2).any(|w| w == [0xFF, 0xD0]), "has RST");
                let out = check(&input);
                let scan = out.windows(2).position(|w| w == [0xFF, 0xDA]).expect("SOS");
                assert!(!out[scan..]
                    .windows(2)
                    .any(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1])));
            }
        }
    }

    #[test]
    fn cmyk_keeps_its_adobe_transform() {
        for (color, transform) in [(ColorType::Cmyk, 0u8), (ColorType::Ycck, 2)] {
            for progressive in [false, true] {
                let input = encode(color, SamplingFactor::R_4_4_4, progressive, 0);
                let out = check(&input);
                let m = markers(&out);
                let adobe = m.iter().find(|(m, _)| *m == 0xEE).expect("Adobe segment");
                assert_eq!(adobe.1[11], transform);
                assert!(!m.iter().any(|(m, _)| *m == 0xE0), "no JFIF for CMYK");
            }
        }
    }

    #[test]
    fn the_nonzero_mask_marks_every_coefficient_that_is_not_0() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut blk = [0i16; 64];
            for v in &mut blk {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if seed.is_multiple_of(3) {
                    *v = (seed >> 20) as i16;
                }
            }
            let want = blk
                .iter()
                .enumerate()
                .filter(|(_, &v)| v != 0)
                .fold(0u64, |m, (k, _)| m | 1 << k);
            assert_eq!(nonzero_mask(&blk), want);
        }
    }

    #[test]
    fn exif_orientation_is_read() {
        let input = encode(ColorType::Rgb, SamplingFactor::R_4_2_0, false, 0);
        assert_eq!(Jpeg::read(&input, 1 << 20).expect("reads").orientation(), 1);
        let mut e = Vec::new();
        let mut enc = Encoder::new(&mut e, 80);
        enc.add_app_segment(
            1,
            b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec(),
        )
        .expect("app1");
        enc.encode(&picture(3), W, H, ColorType::Rgb)
            .expect("encodes");
        assert_eq!(Jpeg::read(&e, 1 << 20).expect("reads").orientation(), 6);
    }

    #[test]
    fn icc_profile_chunks_are_reassembled() {
        let profile: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let mut e = Vec::new();
        let mut enc = Encoder::new(&mut e, 80);
        enc.add_icc_profile(&profile).expect("icc");
        enc.encode(&picture(3), W, H, ColorType::Rgb)
            .expect("encodes");
        let j = Jpeg::read(&e, 1 << 20).expect("reads");
        assert_eq!(j.icc_profile().expect("whole"), Some(profile.clone()));
        let out = j.write(Some(&profile)).expect("writes");
        let again = Jpeg::read(&out, 1 << 20).expect("reads");
        assert_eq!(again.icc_profile().expect("whole"), Some(profile.clone()));
        assert_eq!(again.write(Some(&profile)).expect("writes"), out);
    }

    #[test]
    fn limits_and_unsupported_frames_are_errors() {
        let input = encode(ColorType::Rgb, SamplingFactor::R_4_2_0, false, 0);
        assert!(matches!(
            Jpeg::read(&input, 100),
            Err(CoefError::TooLarge(2745, 100))
        ));
        let sof = input
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("SOF0");
        for (marker, precision) in [(0xC9, 8), (0xC3, 8), (0xC0, 12)] {
            let mut v = input.clone();
            v[sof + 1] = marker;
            v[sof + 4] = precision;
            assert!(
                matches!(Jpeg::read(&v, 1 << 20), Err(CoefError::Unsupported(_))),
                "{marker:02X} {precision}"
            );
        }
    }

    #[test]
    fn truncated_and_damaged_inputs_are_errors_not_panics() {
        for progressive in [false, true] {
            let input = encode(ColorType::Rgb, SamplingFactor::R_4_2_0, progressive, 2);
            let end = input.len() - b"trailing bytes".len() - 2;
            for cut in 0..end {
                assert!(rebuild(&input[..cut], 1 << 20).is_err(), "cut at {cut}");
            }
            let mut seed = 0x2545_f491_4f6c_dd1du64;
            for _ in 0..3000 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut v = input.clone();
                let at = (seed as usize) % v.len();
                v[at] ^= 1 << ((seed >> 32) % 8);
                if let Ok(out) = rebuild(&v, 1 << 20) {
                    assert_eq!(rebuild(&out, 1 << 20).expect("again"), out);
                }
            }
        }
        assert!(rebuild(b"", 1 << 20).is_err());
        assert!(rebuild(b"\xff\xd8\xff\xe0garbage", 1 << 20).is_err());
    }
}
