//! Embedded font programs: parsed as the format they claim and written
//! anew from what was parsed ([`rebuild`]), or refused with the reason.
//!
//! - TrueType / OpenType (`/FontFile2`, `/FontFile3` `/OpenType`): a new
//!   sfnt from a kept list of tables, each parsed and re-serialised. The
//!   TrueType hinting programs (`fpgm`, `prep`, `cvt `) and every glyph's
//!   instructions are left out: the bytecode interpreter they run in is a
//!   known exploit surface, and a PDF viewer draws the glyphs without
//!   them. Every other table (layout, colour, bitmaps, variations, ...) is
//!   left out too: a PDF viewer places glyphs itself.
//! - CFF (`/FontFile3` `/Type1C`, `/CIDFontType0C`): see [`crate::cff`].
//! - Type 1 (`/FontFile`): see [`crate::type1`].
//!
//! The output is canonical: rebuilding it again gives the same bytes.

use crate::roles::FontKind;

/// A font program written anew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub data: Vec<u8>,
    /// `/Length1`, `/Length2`, `/Length3` of the stream (Type 1: the
    /// clear-text, encrypted and trailer parts; TrueType: `/Length1`, the
    /// whole program); empty where the stream has none.
    pub lengths: Vec<(&'static [u8], usize)>,
}

/// Rebuilds a font program of `kind` (`subtype`: the `/FontFile3`
/// `/Subtype`); `Err` says why it cannot be kept.
pub fn rebuild(kind: FontKind, subtype: Option<&[u8]>, data: &[u8]) -> Result<Rebuilt, String> {
    match kind {
        FontKind::TrueType => {
            let data = sfnt(data).map_err(|e| format!("TrueType: {e}"))?;
            let n = data.len();
            Ok(Rebuilt {
                data,
                lengths: vec![(b"Length1", n)],
            })
        }
        FontKind::Compact => match subtype {
            Some(b"OpenType") => Ok(Rebuilt {
                data: sfnt(data).map_err(|e| format!("OpenType: {e}"))?,
                lengths: Vec::new(),
            }),
            Some(b"Type1C") | Some(b"CIDFontType0C") => Ok(Rebuilt {
                data: crate::cff::rebuild(data).map_err(|e| format!("CFF: {e}"))?,
                lengths: Vec::new(),
            }),
            Some(other) => Err(format!(
                "unknown /FontFile3 subtype /{}",
                String::from_utf8_lossy(other)
            )),
            None => Err("/FontFile3 without /Subtype".into()),
        },
        FontKind::Type1 => {
            let (data, lengths) =
                crate::type1::rebuild(data).map_err(|e| format!("Type 1: {e}"))?;
            Ok(Rebuilt {
                data,
                lengths: vec![
                    (b"Length1", lengths[0]),
                    (b"Length2", lengths[1]),
                    (b"Length3", lengths[2]),
                ],
            })
        }
    }
}

/// Big-endian reads that fail instead of panicking.
pub(crate) trait Read {
    fn u8_at(&self, at: usize) -> Result<u8, String>;
    fn u16_at(&self, at: usize) -> Result<u16, String>;
    fn u32_at(&self, at: usize) -> Result<u32, String>;
    fn part(&self, at: usize, len: usize) -> Result<&[u8], String>;
}

impl Read for [u8] {
    fn u8_at(&self, at: usize) -> Result<u8, String> {
        self.get(at)
            .copied()
            .ok_or_else(|| "data ends early".into())
    }
    fn u16_at(&self, at: usize) -> Result<u16, String> {
        let b = self.part(at, 2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32_at(&self, at: usize) -> Result<u32, String> {
        let b = self.part(at, 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn part(&self, at: usize, len: usize) -> Result<&[u8], String> {
        at.checked_add(len)
            .and_then(|end| self.get(at..end))
            .ok_or_else(|| "data ends early".into())
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn set16(out: &mut [u8], at: usize, v: u16) {
    out[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Deepest nesting of composite glyphs kept (FreeType's default limit is
/// far above what real fonts use).
const MAX_COMPONENT_DEPTH: u32 = 8;
/// Most components in one composite glyph.
const MAX_COMPONENTS: usize = 512;
/// Most character-to-glyph mappings read from one `cmap` subtable.
const MAX_MAPPINGS: usize = 200_000;

struct Sink;

impl ttf_parser::OutlineBuilder for Sink {
    fn move_to(&mut self, _: f32, _: f32) {}
    fn line_to(&mut self, _: f32, _: f32) {}
    fn quad_to(&mut self, _: f32, _: f32, _: f32, _: f32) {}
    fn curve_to(&mut self, _: f32, _: f32, _: f32, _: f32, _: f32, _: f32) {}
    fn close(&mut self) {}
}

fn tag(t: &[u8; 4]) -> ttf_parser::Tag {
    ttf_parser::Tag::from_bytes(t)
}

/// TrueType / OpenType: a new sfnt from the kept tables.
pub fn sfnt(data: &[u8]) -> Result<Vec<u8>, String> {
    let face = ttf_parser::Face::parse(data, 0).map_err(|e| e.to_string())?;
    let raw = face.raw_face();
    let table = |t: &[u8; 4]| raw.table(tag(t));
    let need =
        |t: &[u8; 4]| table(t).ok_or_else(|| format!("no '{}' table", String::from_utf8_lossy(t)));
    let n_glyphs = face.number_of_glyphs();
    if n_glyphs == 0 {
        return Err("no glyphs".into());
    }
    let mut tables: Vec<([u8; 4], Vec<u8>)> = Vec::new();

    // head: the fixed 54 bytes; long offsets in loca, checksum set below.
    let head_in = need(b"head")?;
    let mut head = head_in.part(0, 54)?.to_vec();
    if head.u32_at(12)? != 0x5F0F_3CF5 {
        return Err("'head' has a wrong magic number".into());
    }
    let long_loca = head.u16_at(50)? == 1;
    head[8..12].fill(0);

    // hhea, hmtx: metrics for every glyph, nothing after them.
    let hhea = need(b"hhea")?.part(0, 36)?.to_vec();
    let n_metrics = hhea.u16_at(34)?;
    if n_metrics == 0 || n_metrics > n_glyphs {
        return Err("'hhea' counts metrics wrongly".into());
    }
    let hmtx_len =
        4 * usize::from(n_metrics) + 2 * (usize::from(n_glyphs) - usize::from(n_metrics));
    let hmtx = metrics(need(b"hmtx")?, n_metrics, hmtx_len)?;

    let glyf = table(b"glyf");
    let cff = table(b"CFF ");
    let version: u32 = match (glyf, cff) {
        (Some(glyf), _) => {
            let loca = need(b"loca")?;
            let (glyf, loca) = rebuild_glyf(glyf, loca, long_loca, n_glyphs)?;
            tables.push((*b"glyf", glyf));
            tables.push((*b"loca", loca));
            set16(&mut head, 50, 1);
            0x0001_0000
        }
        (None, Some(cff)) => {
            tables.push((
                *b"CFF ",
                crate::cff::rebuild(cff).map_err(|e| format!("CFF: {e}"))?,
            ));
            0x4F54_544F // 'OTTO'
        }
        (None, None) => return Err("no 'glyf' or 'CFF ' outlines".into()),
    };

    // maxp: version 0.5 for CFF outlines; version 1.0 with the limits of
    // the (dropped) hinting programs cleared.
    let maxp_in = need(b"maxp")?;
    let maxp = if version == 0x0001_0000 {
        let mut m = maxp_in.part(0, 32)?.to_vec();
        if m.u32_at(0)? != 0x0001_0000 {
            return Err("'maxp' is not version 1.0".into());
        }
        set16(&mut m, 14, 1); // maxZones: no twilight zone
        for at in [16, 18, 20, 22, 24, 26] {
            set16(&mut m, at, 0); // twilight points, storage, FDEFs, IDEFs, stack, instructions
        }
        m
    } else {
        let mut m = maxp_in.part(0, 6)?.to_vec();
        m[..4].copy_from_slice(&0x0000_5000u32.to_be_bytes());
        m
    };

    tables.push((*b"head", head));
    tables.push((*b"hhea", hhea));
    tables.push((*b"hmtx", hmtx));
    tables.push((*b"maxp", maxp));
    if let Some(cmap) = rebuild_cmap(&face, n_glyphs)? {
        tables.push((*b"cmap", cmap));
    }
    if let Some(post) = table(b"post") {
        tables.push((*b"post", rebuild_post(post, n_glyphs)?));
    }
    // name: only the header; a PDF names its fonts itself.
    tables.push((*b"name", vec![0, 0, 0, 0, 0, 6]));
    if let Some(os2) = table(b"OS/2").and_then(|t| os2_part(t).ok()) {
        tables.push((*b"OS/2", os2));
    }
    // vhea, vmtx: vertical metrics (Japanese vertical text), kept only as
    // a well-formed pair.
    if let (Some(vhea), Some(vmtx)) = (table(b"vhea"), table(b"vmtx")) {
        if let Ok(pair) = vertical(vhea, vmtx, n_glyphs) {
            tables.push((*b"vhea", pair.0));
            tables.push((*b"vmtx", pair.1));
        }
    }
    let out = write_sfnt(version, tables);

    // What was written must parse, and every glyph must draw or be empty.
    let face = ttf_parser::Face::parse(&out, 0).map_err(|e| format!("rebuilt: {e}"))?;
    for g in 0..face.number_of_glyphs() {
        let _ = face.outline_glyph(ttf_parser::GlyphId(g), &mut Sink);
    }
    Ok(out)
}

fn write_sfnt(version: u32, mut tables: Vec<([u8; 4], Vec<u8>)>) -> Vec<u8> {
    tables.sort_by_key(|t| t.0);
    let n = tables.len() as u16;
    let mut pow = 1u16;
    let mut log = 0u16;
    while pow * 2 <= n {
        pow *= 2;
        log += 1;
    }
    let mut out = Vec::new();
    put32(&mut out, version);
    put16(&mut out, n);
    put16(&mut out, pow * 16);
    put16(&mut out, log);
    put16(&mut out, n * 16 - pow * 16);
    let mut offset = 12 + 16 * tables.len();
    let mut head_at = None;
    for (t, data) in &tables {
        out.extend_from_slice(t);
        put32(&mut out, checksum(data));
        put32(&mut out, offset as u32);
        put32(&mut out, data.len() as u32);
        if t == b"head" {
            head_at = Some(offset);
        }
        offset += data.len().div_ceil(4) * 4;
    }
    for (_, data) in &tables {
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    if let Some(at) = head_at {
        let adjust = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
        out[at + 8..at + 12].copy_from_slice(&adjust.to_be_bytes());
    }
    out
}

fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, c| {
        let mut w = [0u8; 4];
        w[..c.len()].copy_from_slice(c);
        sum.wrapping_add(u32::from_be_bytes(w))
    })
}

/// One glyph of `glyf`, parsed: its bytes without instructions and the
/// glyphs it refers to.
fn parse_glyph(g: &[u8], n_glyphs: u16) -> Result<(Vec<u8>, Vec<u16>), String> {
    if g.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let contours = g.u16_at(0)? as i16;
    let mut out = g.part(0, 10)?.to_vec();
    if contours >= 0 {
        let nc = contours as usize;
        let mut last: Option<u16> = None;
        for i in 0..nc {
            let end = g.u16_at(10 + 2 * i)?;
            if last.is_some_and(|l| end <= l) {
                return Err("contour ends out of order".into());
            }
            last = Some(end);
            put16(&mut out, end);
        }
        let points = last.map_or(0, |l| usize::from(l) + 1);
        let ilen = usize::from(g.u16_at(10 + 2 * nc)?);
        put16(&mut out, 0); // no instructions
        let mut at = 12 + 2 * nc + ilen;
        let flags_at = at;
        let (mut xs, mut ys) = (0usize, 0usize);
        let mut seen = 0usize;
        let mut flags = Vec::with_capacity(points);
        while seen < points {
            let f = g.u8_at(at)?;
            at += 1;
            let repeat = if f & 0x08 != 0 {
                let r = usize::from(g.u8_at(at)?);
                at += 1;
                r
            } else {
                0
            };
            let count = repeat + 1;
            if seen + count > points {
                return Err("glyph flags run past the last point".into());
            }
            seen += count;
            xs += count
                * if f & 0x02 != 0 {
                    1
                } else if f & 0x10 != 0 {
                    0
                } else {
                    2
                };
            ys += count
                * if f & 0x04 != 0 {
                    1
                } else if f & 0x20 != 0 {
                    0
                } else {
                    2
                };
            flags.push(f & 0x7f);
            if f & 0x08 != 0 {
                flags.push(g[at - 1]);
            }
        }
        let _ = flags_at;
        out.extend_from_slice(&flags);
        out.extend_from_slice(g.part(at, xs + ys)?);
        Ok((out, Vec::new()))
    } else {
        let mut at = 10;
        let mut refs = Vec::new();
        loop {
            if refs.len() >= MAX_COMPONENTS {
                return Err("too many components".into());
            }
            let flags = g.u16_at(at)?;
            let gid = g.u16_at(at + 2)?;
            if gid >= n_glyphs {
                return Err("a component names a glyph that does not exist".into());
            }
            refs.push(gid);
            let mut len = 4 + if flags & 0x0001 != 0 { 4 } else { 2 };
            len += if flags & 0x0008 != 0 {
                2
            } else if flags & 0x0040 != 0 {
                4
            } else if flags & 0x0080 != 0 {
                8
            } else {
                0
            };
            let part = g.part(at, len)?;
            // No instructions; reserved bits cleared.
            let kept = flags & 0x1cff & !0x0100;
            put16(&mut out, kept);
            out.extend_from_slice(&part[2..]);
            at += len;
            if flags & 0x0020 == 0 {
                break;
            }
        }
        Ok((out, refs))
    }
}

/// `glyf` and `loca` rebuilt (long offsets): every glyph parsed, its
/// instructions left out, composites checked for depth and loops.
fn rebuild_glyf(
    glyf: &[u8],
    loca: &[u8],
    long: bool,
    n_glyphs: u16,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let offset = |i: usize| -> Result<usize, String> {
        Ok(if long {
            loca.u32_at(4 * i)? as usize
        } else {
            2 * usize::from(loca.u16_at(2 * i)?)
        })
    };
    let n = usize::from(n_glyphs);
    let mut glyphs = Vec::with_capacity(n);
    let mut refs = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b) = (offset(i)?, offset(i + 1)?);
        if b < a {
            return Err("'loca' goes backwards".into());
        }
        // Some writers end the last glyph past the table: take what is there.
        let g = glyf
            .get(a..b.min(glyf.len()))
            .ok_or("'loca' points past 'glyf'")?;
        let (bytes, r) = parse_glyph(g, n_glyphs).map_err(|e| format!("glyph {i}: {e}"))?;
        glyphs.push(bytes);
        refs.push(r);
    }
    // Composite depth, with loops found: 0 = not seen, 1 = on the path.
    let mut depth: Vec<Option<u32>> = vec![None; n];
    fn visit(
        i: usize,
        refs: &[Vec<u16>],
        depth: &mut [Option<u32>],
        path: &mut Vec<bool>,
        level: u32,
    ) -> Result<u32, String> {
        if let Some(d) = depth[i] {
            return Ok(d);
        }
        if path[i] {
            return Err("a composite glyph contains itself".into());
        }
        if level > MAX_COMPONENT_DEPTH {
            return Err("composite glyphs nested too deep".into());
        }
        path[i] = true;
        let mut d = 0;
        for &r in &refs[i] {
            d = d.max(1 + visit(usize::from(r), refs, depth, path, level + 1)?);
        }
        path[i] = false;
        if d > MAX_COMPONENT_DEPTH {
            return Err("composite glyphs nested too deep".into());
        }
        depth[i] = Some(d);
        Ok(d)
    }
    let mut path = vec![false; n];
    for i in 0..n {
        visit(i, &refs, &mut depth, &mut path, 0)?;
    }
    let mut out_glyf = Vec::new();
    let mut out_loca = Vec::with_capacity(4 * (n + 1));
    for g in glyphs {
        put32(&mut out_loca, out_glyf.len() as u32);
        out_glyf.extend_from_slice(&g);
        out_glyf.resize(out_glyf.len().div_ceil(4) * 4, 0);
    }
    put32(&mut out_loca, out_glyf.len() as u32);
    if out_glyf.len() > u32::MAX as usize {
        return Err("'glyf' too large".into());
    }
    Ok((out_glyf, out_loca))
}

/// `cmap` written anew from the mappings each subtable gives (format 4,
/// or 12 beyond the BMP or when format 4 cannot hold them); `None` when
/// the font has none.
fn rebuild_cmap(face: &ttf_parser::Face, n_glyphs: u16) -> Result<Option<Vec<u8>>, String> {
    let Some(cmap) = face.tables().cmap else {
        return Ok(None);
    };
    // ((platform, encoding), sorted (code, glyph) pairs)
    type Mapping = ((u16, u16), Vec<(u32, u16)>);
    let mut subs: Vec<Mapping> = Vec::new();
    for s in cmap.subtables {
        if matches!(
            s.format,
            ttf_parser::cmap::Format::UnicodeVariationSequences(_)
        ) {
            continue;
        }
        let platform = match s.platform_id {
            ttf_parser::PlatformId::Unicode => 0,
            ttf_parser::PlatformId::Macintosh => 1,
            ttf_parser::PlatformId::Iso => 2,
            ttf_parser::PlatformId::Windows => 3,
            ttf_parser::PlatformId::Custom => 4,
        };
        let key = (platform, s.encoding_id);
        if subs.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let mut codes = Vec::new();
        let mut over = false;
        s.codepoints(|c| {
            if codes.len() < MAX_MAPPINGS {
                codes.push(c);
            } else {
                over = true;
            }
        });
        if over {
            return Err("a 'cmap' subtable maps too many codes".into());
        }
        codes.sort_unstable();
        codes.dedup();
        let map: Vec<(u32, u16)> = codes
            .into_iter()
            .filter_map(|c| {
                let g = s.glyph_index(c)?.0;
                (g != 0 && g < n_glyphs && c != 0xFFFF).then_some((c, g))
            })
            .collect();
        subs.push((key, map));
    }
    if subs.is_empty() {
        return Ok(None);
    }
    subs.sort_by_key(|s| s.0);
    let bodies: Vec<Vec<u8>> = subs
        .iter()
        .map(|(_, m)| format4(m).unwrap_or_else(|| format12(m)))
        .collect();
    let mut out = Vec::new();
    put16(&mut out, 0);
    put16(&mut out, subs.len() as u16);
    let mut at = 4 + 8 * subs.len();
    for ((p, e), body) in subs.iter().map(|s| s.0).zip(&bodies) {
        put16(&mut out, p);
        put16(&mut out, e);
        put32(&mut out, at as u32);
        at += body.len();
    }
    for b in bodies {
        out.extend_from_slice(&b);
    }
    Ok(Some(out))
}

/// Format 4 from sorted mappings: one segment per run of consecutive
/// codes (a delta when the glyphs follow the codes, else glyph ids).
fn format4(map: &[(u32, u16)]) -> Option<Vec<u8>> {
    if map.iter().any(|&(c, _)| c > 0xFFFE) {
        return None;
    }
    let mut runs: Vec<&[(u32, u16)]> = Vec::new();
    let mut start = 0;
    for i in 1..=map.len() {
        if i == map.len() || map[i].0 != map[i - 1].0 + 1 {
            if i > start {
                runs.push(&map[start..i]);
            }
            start = i;
        }
    }
    let seg = runs.len() + 1;
    if seg > 0x7FFF {
        return None;
    }
    let delta_run = |r: &[(u32, u16)]| {
        r.iter().all(|&(c, g)| {
            (g as u32).wrapping_sub(c) & 0xFFFF == (r[0].1 as u32).wrapping_sub(r[0].0) & 0xFFFF
        })
    };
    let mut ends = Vec::new();
    let mut starts = Vec::new();
    let mut deltas = Vec::new();
    let mut ranges = Vec::new();
    let mut ids: Vec<u16> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        starts.push(r[0].0 as u16);
        ends.push(r[r.len() - 1].0 as u16);
        if delta_run(r) {
            deltas.push(((r[0].1 as u32).wrapping_sub(r[0].0) & 0xFFFF) as u16);
            ranges.push(0u16);
        } else {
            deltas.push(0);
            // Offset from this idRangeOffset entry to the glyph ids.
            let off = 2 * (seg - i + ids.len());
            ranges.push(u16::try_from(off).ok()?);
            ids.extend(r.iter().map(|&(_, g)| g));
        }
    }
    starts.push(0xFFFF);
    ends.push(0xFFFF);
    deltas.push(1);
    ranges.push(0);
    let len = 16 + 8 * seg + 2 * ids.len();
    let len = u16::try_from(len).ok()?;
    let mut pow = 1usize;
    let mut log = 0u16;
    while pow * 2 <= seg {
        pow *= 2;
        log += 1;
    }
    let mut out = Vec::with_capacity(usize::from(len));
    put16(&mut out, 4);
    put16(&mut out, len);
    put16(&mut out, 0);
    put16(&mut out, (seg * 2) as u16);
    put16(&mut out, (pow * 2) as u16);
    put16(&mut out, log);
    put16(&mut out, ((seg - pow) * 2) as u16);
    ends.iter().for_each(|&v| put16(&mut out, v));
    put16(&mut out, 0);
    starts.iter().for_each(|&v| put16(&mut out, v));
    deltas.iter().for_each(|&v| put16(&mut out, v));
    ranges.iter().for_each(|&v| put16(&mut out, v));
    ids.iter().for_each(|&v| put16(&mut out, v));
    Some(out)
}

/// Format 12: groups of consecutive codes mapped to consecutive glyphs.
fn format12(map: &[(u32, u16)]) -> Vec<u8> {
    let mut groups: Vec<(u32, u32, u32)> = Vec::new();
    for &(c, g) in map {
        match groups.last_mut() {
            Some((start, end, first)) if c == *end + 1 && u32::from(g) == *first + (c - *start) => {
                *end = c;
            }
            _ => groups.push((c, c, u32::from(g))),
        }
    }
    let mut out = Vec::new();
    put16(&mut out, 12);
    put16(&mut out, 0);
    put32(&mut out, (16 + 12 * groups.len()) as u32);
    put32(&mut out, 0);
    put32(&mut out, groups.len() as u32);
    for (s, e, g) in groups {
        put32(&mut out, s);
        put32(&mut out, e);
        put32(&mut out, g);
    }
    out
}

/// `post`: version 2.0 with its glyph names parsed and written again;
/// 1.0 (the standard names) as it is; anything else as 3.0 (no names).
fn rebuild_post(post: &[u8], n_glyphs: u16) -> Result<Vec<u8>, String> {
    let mut head = post.part(0, 32)?.to_vec();
    let version = head.u32_at(0)?;
    if version == 0x0002_0000 {
        if let Ok(body) = post_names(post, n_glyphs) {
            head.extend_from_slice(&body);
            return Ok(head);
        }
    }
    if version != 0x0001_0000 {
        head[..4].copy_from_slice(&0x0003_0000u32.to_be_bytes());
    }
    Ok(head)
}

fn post_names(post: &[u8], n_glyphs: u16) -> Result<Vec<u8>, String> {
    let n = post.u16_at(32)?;
    if n != n_glyphs {
        return Err("'post' counts glyphs wrongly".into());
    }
    let mut indices = Vec::with_capacity(usize::from(n));
    for i in 0..usize::from(n) {
        indices.push(post.u16_at(34 + 2 * i)?);
    }
    let mut at = 34 + 2 * usize::from(n);
    let mut names: Vec<&[u8]> = Vec::new();
    while at < post.len() {
        let len = usize::from(post.u8_at(at)?);
        let name = post.part(at + 1, len)?;
        if !name.iter().all(|b| b.is_ascii_graphic()) {
            return Err("a glyph name that is not printable".into());
        }
        names.push(name);
        at += 1 + len;
    }
    let used = indices
        .iter()
        .filter(|&&i| i >= 258)
        .map(|&i| usize::from(i - 258) + 1)
        .max()
        .unwrap_or(0);
    if used > names.len() {
        return Err("'post' names a glyph name it lacks".into());
    }
    let mut out = Vec::new();
    put16(&mut out, n);
    indices.iter().for_each(|&i| put16(&mut out, i));
    for name in &names[..used] {
        out.push(name.len() as u8);
        out.extend_from_slice(name);
    }
    Ok(out)
}

/// `OS/2`: the fields of its version, nothing after them.
fn os2_part(os2: &[u8]) -> Result<Vec<u8>, String> {
    let len = match os2.u16_at(0)? {
        0 if os2.len() >= 78 => 78,
        0 => 68,
        1 => 86,
        2..=4 => 96,
        5 => 100,
        _ => return Err("unknown 'OS/2' version".into()),
    };
    Ok(os2.part(0, len)?.to_vec())
}

/// `vhea` and `vmtx`: the header and one metric for every glyph.
fn vertical(vhea: &[u8], vmtx: &[u8], n_glyphs: u16) -> Result<(Vec<u8>, Vec<u8>), String> {
    let vhea = vhea.part(0, 36)?.to_vec();
    let n = vhea.u16_at(34)?;
    if n == 0 || n > n_glyphs {
        return Err("'vhea' counts metrics wrongly".into());
    }
    let len = 4 * usize::from(n) + 2 * usize::from(n_glyphs - n);
    Ok((vhea, metrics(vmtx, n, len)?))
}

/// `hmtx` or `vmtx`: the full metrics, then side bearings for the other
/// glyphs up to `len` bytes; bearings some subsetters leave out are
/// written as 0 (a PDF gives the widths itself).
fn metrics(table: &[u8], full: u16, len: usize) -> Result<Vec<u8>, String> {
    let mut out = table.part(0, 4 * usize::from(full))?.to_vec();
    let rest = table
        .get(out.len()..len.min(table.len()))
        .unwrap_or_default();
    out.extend_from_slice(&rest[..rest.len() / 2 * 2]);
    out.resize(len, 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records an outline as text, to compare glyphs before and after.
    #[derive(Default)]
    struct Pen(String);

    impl ttf_parser::OutlineBuilder for Pen {
        fn move_to(&mut self, x: f32, y: f32) {
            self.0 += &format!("M{x},{y} ");
        }
        fn line_to(&mut self, x: f32, y: f32) {
            self.0 += &format!("L{x},{y} ");
        }
        fn quad_to(&mut self, a: f32, b: f32, x: f32, y: f32) {
            self.0 += &format!("Q{a},{b},{x},{y} ");
        }
        fn curve_to(&mut self, a: f32, b: f32, c: f32, d: f32, x: f32, y: f32) {
            self.0 += &format!("C{a},{b},{c},{d},{x},{y} ");
        }
        fn close(&mut self) {
            self.0 += "Z ";
        }
    }

    fn outlines(font: &[u8]) -> Vec<String> {
        let face = ttf_parser::Face::parse(font, 0).unwrap();
        (0..face.number_of_glyphs())
            .map(|g| {
                let mut p = Pen::default();
                let _ = face.outline_glyph(ttf_parser::GlyphId(g), &mut p);
                p.0
            })
            .collect()
    }

    fn be16(v: &[i32]) -> Vec<u8> {
        v.iter().flat_map(|&x| (x as u16).to_be_bytes()).collect()
    }

    /// A small TrueType font with hinting: `fpgm`, `prep`, `cvt `,
    /// instructions in a simple and a composite glyph, and a `GSUB`.
    fn hinted_font() -> Vec<u8> {
        let mut head = vec![0u8; 54];
        head[..4].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        head[12..16].copy_from_slice(&0x5F0F_3CF5u32.to_be_bytes());
        set16(&mut head, 18, 1000);
        head[36..44].copy_from_slice(&be16(&[0, 0, 510, 700]));
        let mut hhea = vec![0u8; 36];
        hhea[..4].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        hhea[4..8].copy_from_slice(&be16(&[800, -200]));
        set16(&mut hhea, 34, 3);
        let mut maxp = vec![0u8; 32];
        maxp[..4].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        set16(&mut maxp, 4, 3);
        set16(&mut maxp, 20, 1);
        set16(&mut maxp, 26, 4);
        let hmtx = be16(&[500, 0, 500, 0, 520, 10]);
        // Glyph 1: a triangle, with 4 bytes of instructions.
        let mut g1 = be16(&[1, 0, 0, 250, 700, 2, 4]);
        g1.extend_from_slice(&[0xB0, 0x01, 0x2C, 0x00]); // PUSHB 1, FDEF, ...
        g1.extend_from_slice(&[0x01, 0x01, 0x01]);
        g1.extend_from_slice(&be16(&[0, 125, 125, 0, 700, -700]));
        // Glyph 2: glyph 1 moved by 10, with instructions.
        let mut g2 = be16(&[-1, 10, 0, 260, 700, 0x0103, 1, 10, 0, 2]);
        g2.extend_from_slice(&[0xB0, 0x00]);
        let mut glyf = g1.clone();
        glyf.resize(glyf.len().div_ceil(2) * 2, 0);
        let at2 = glyf.len();
        glyf.extend_from_slice(&g2);
        glyf.resize(glyf.len().div_ceil(2) * 2, 0);
        let loca = be16(&[0, 0, at2 as i32 / 2, glyf.len() as i32 / 2]);
        let cmap = {
            let sub = format4(&[(0x41, 1), (0x42, 2)]).unwrap();
            let mut c = be16(&[0, 1, 3, 1, 0, 12]);
            c.extend_from_slice(&sub);
            c
        };
        let mut post = vec![0u8; 32];
        post[..4].copy_from_slice(&0x0003_0000u32.to_be_bytes());
        write_sfnt(
            0x0001_0000,
            vec![
                (*b"head", head),
                (*b"hhea", hhea),
                (*b"maxp", maxp),
                (*b"hmtx", hmtx),
                (*b"glyf", glyf),
                (*b"loca", loca),
                (*b"cmap", cmap),
                (*b"post", post),
                (*b"fpgm", vec![0xB0, 0x00, 0x2C, 0x2D]),
                (*b"prep", vec![0xB0, 0x00, 0x8E, 0x00]),
                (*b"cvt ", be16(&[0, 10, 20])),
                (*b"GSUB", vec![0xAA; 40]),
            ],
        )
    }

    fn tags(font: &[u8]) -> Vec<String> {
        let face = ttf_parser::Face::parse(font, 0).unwrap();
        let raw = face.raw_face();
        (0..raw.table_records.len())
            .filter_map(|i| raw.table_records.get(i))
            .map(|r| String::from_utf8_lossy(&r.tag.to_bytes()).into_owned())
            .collect()
    }

    #[test]
    fn hinting_is_left_out_and_glyphs_stay() {
        let font = hinted_font();
        assert!(tags(&font).contains(&"fpgm".to_string()));
        let out = sfnt(&font).unwrap();
        let t = tags(&out);
        for gone in ["fpgm", "prep", "cvt ", "GSUB"] {
            assert!(!t.contains(&gone.to_string()), "{gone} kept: {t:?}");
        }
        for kept in [
            "cmap", "glyf", "head", "hhea", "hmtx", "loca", "maxp", "post",
        ] {
            assert!(t.contains(&kept.to_string()), "{kept} lost: {t:?}");
        }
        // The same glyphs, none with instructions, the same mapping.
        let before = outlines(&font);
        assert!(before[1].contains('L') && before[2].contains("M10,0"));
        assert_eq!(outlines(&out), before);
        let face = ttf_parser::Face::parse(&out, 0).unwrap();
        let glyf = face.raw_face().table(tag(b"glyf")).unwrap();
        assert_eq!(glyf.u16_at(12).unwrap(), 0, "simple glyph instructions");
        let loca = face.raw_face().table(tag(b"loca")).unwrap();
        let g2 = loca.u32_at(8).unwrap() as usize;
        assert_eq!(
            glyf.u16_at(g2 + 10).unwrap() & 0x0100,
            0,
            "composite instructions"
        );
        assert_eq!(face.glyph_index('A').map(|g| g.0), Some(1));
        assert_eq!(face.glyph_index('B').map(|g| g.0), Some(2));
        assert_eq!(face.glyph_hor_advance(ttf_parser::GlyphId(2)), Some(520));
        // Canonical: rebuilt again, the same bytes.
        assert_eq!(sfnt(&out).unwrap(), out);
        // As a /FontFile2, with /Length1.
        let r = rebuild(FontKind::TrueType, None, &font).unwrap();
        assert_eq!(r.data, out);
        assert_eq!(r.lengths, vec![(b"Length1".as_slice(), out.len())]);
    }

    #[test]
    fn broken_glyphs_refuse_the_font() {
        let font = hinted_font();
        let face = ttf_parser::Face::parse(&font, 0).unwrap();
        let raw = face.raw_face();
        let glyf_at = (0..raw.table_records.len())
            .filter_map(|i| raw.table_records.get(i))
            .find(|r| &r.tag.to_bytes() == b"glyf")
            .unwrap()
            .offset as usize;
        let g2 = 34; // glyph 2's offset in the test font's glyf
                     // A composite that contains itself.
        let mut own = font.clone();
        set16(&mut own, glyf_at + g2 + 12, 2);
        let e = sfnt(&own).unwrap_err();
        assert!(e.contains("contains itself"), "{e}");
        // A component that names a glyph past the end.
        let mut past = font.clone();
        set16(&mut past, glyf_at + g2 + 12, 7);
        assert!(sfnt(&past).unwrap_err().contains("does not exist"));
        // Flags that run past the glyph's points.
        let mut flags = font.clone();
        flags[glyf_at + 18] = 0x09; // the first point's flag, repeated
        flags[glyf_at + 19] = 5;
        assert!(sfnt(&flags).is_err());
        // Garbage is refused in every format.
        let junk = b"\x00\x01\x00\x00 this is not a font at all".to_vec();
        assert!(rebuild(FontKind::TrueType, None, &junk).is_err());
        assert!(rebuild(FontKind::Compact, Some(b"OpenType"), &junk).is_err());
        assert!(rebuild(FontKind::Compact, Some(b"Type1C"), &junk).is_err());
        assert!(rebuild(FontKind::Compact, Some(b"CIDFontType0C"), &junk).is_err());
        assert!(rebuild(FontKind::Type1, None, &junk).is_err());
    }

    #[test]
    fn cmap_formats_round_trip() {
        // Runs with a delta, runs with glyph ids, and codes past the BMP.
        let map: Vec<(u32, u16)> = vec![
            (0x20, 3),
            (0x21, 4),
            (0x22, 5),
            (0x30, 9),
            (0x31, 2),
            (0x3000, 7),
        ];
        for body in [format4(&map).unwrap(), format12(&map)] {
            let mut c = be16(&[0, 1, 3, 1, 0, 12]);
            c.extend_from_slice(&body);
            let cmap = ttf_parser::cmap::Table::parse(&c).unwrap();
            let s = cmap.subtables.get(0).unwrap();
            for &(code, g) in &map {
                assert_eq!(s.glyph_index(code).map(|x| x.0), Some(g), "{code:#x}");
            }
            assert_eq!(s.glyph_index(0x23), None);
        }
        assert!(format4(&[(0x1F600, 1)]).is_none());
    }
}
