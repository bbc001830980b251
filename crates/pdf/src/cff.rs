//! CFF font programs (`/FontFile3` `/Type1C` and `/CIDFontType0C`, and
//! the `CFF ` table of an OpenType font) written anew by [`rebuild`]:
//! every INDEX and DICT regenerated from parsed values, DICTs keeping only
//! the operators that describe the font (not `PostScript`,
//! `SyntheticBase` or other operators), charset, encoding and FDSelect
//! rewritten in one canonical format each, and every glyph's charstring
//! run by a bounded interpreter (ttf-parser: operand stack of 48,
//! subroutines nested 10 deep). A glyph whose charstring does not run is
//! written as an empty glyph. CID-keyed fonts (ROS, FDArray, FDSelect, the
//! form of most embedded Japanese fonts) keep one Private DICT per
//! font DICT.

use crate::fonts::Read;

/// Most glyphs, subroutines, strings of one INDEX (the format's limit).
const MAX_COUNT: usize = 65_535;
/// Most operands before an operator in a DICT.
const MAX_OPERANDS: usize = 48;

/// An INDEX's items.
fn read_index(d: &[u8], at: usize) -> Result<(Vec<&[u8]>, usize), String> {
    let count = usize::from(d.u16_at(at)?);
    if count == 0 {
        return Ok((Vec::new(), at + 2));
    }
    let size = usize::from(d.u8_at(at + 2)?);
    if !(1..=4).contains(&size) {
        return Err("an INDEX with a bad offset size".into());
    }
    let offsets_at = at + 3;
    let off = |i: usize| -> Result<usize, String> {
        let b = d.part(offsets_at + i * size, size)?;
        Ok(b.iter().fold(0usize, |v, &x| (v << 8) | usize::from(x)))
    };
    let base = offsets_at + (count + 1) * size - 1;
    let mut items = Vec::with_capacity(count);
    let mut prev = off(0)?;
    if prev != 1 {
        return Err("an INDEX whose first offset is not 1".into());
    }
    for i in 1..=count {
        let next = off(i)?;
        if next < prev {
            return Err("an INDEX with offsets out of order".into());
        }
        items.push(d.part(base + prev, next - prev)?);
        prev = next;
    }
    Ok((items, base + prev))
}

fn write_index<T: AsRef<[u8]>>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(items.len() as u16).to_be_bytes());
    if items.is_empty() {
        return out;
    }
    let total: usize = items.iter().map(|i| i.as_ref().len()).sum::<usize>() + 1;
    let size = match total {
        0..=0xFF => 1,
        0x100..=0xFFFF => 2,
        0x1_0000..=0xFF_FFFF => 3,
        _ => 4,
    };
    out.push(size as u8);
    let mut at = 1usize;
    let put = |out: &mut Vec<u8>, v: usize| {
        out.extend_from_slice(&(v as u32).to_be_bytes()[4 - size..]);
    };
    put(&mut out, at);
    for i in items {
        at += i.as_ref().len();
        put(&mut out, at);
    }
    for i in items {
        out.extend_from_slice(i.as_ref());
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Num {
    Int(i32),
    /// A real number's nibbles, ending with 0xf.
    Real(Vec<u8>),
    /// An offset or size, always written in five bytes so that a DICT's
    /// length does not depend on where things land.
    Fixed(i32),
}

impl Num {
    fn int(&self) -> Option<i32> {
        match self {
            Num::Int(i) | Num::Fixed(i) => Some(*i),
            Num::Real(_) => None,
        }
    }
}

/// A DICT: operators (12 x as 1200 + x) with their operands, in order.
type Dict = Vec<(u16, Vec<Num>)>;

fn read_dict(d: &[u8]) -> Result<Dict, String> {
    let mut out = Vec::new();
    let mut args = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let b = d[i];
        i += 1;
        match b {
            0..=21 => {
                let op = if b == 12 {
                    let x = d.u8_at(i)?;
                    i += 1;
                    1200 + u16::from(x)
                } else {
                    u16::from(b)
                };
                out.push((op, std::mem::take(&mut args)));
                continue;
            }
            28 => {
                args.push(Num::Int(i32::from(d.u16_at(i)? as i16)));
                i += 2;
            }
            29 => {
                args.push(Num::Int(d.u32_at(i)? as i32));
                i += 4;
            }
            30 => {
                let mut nibbles = Vec::new();
                loop {
                    let x = d.u8_at(i)?;
                    i += 1;
                    let (hi, lo) = (x >> 4, x & 0xf);
                    if hi == 0xd || (hi != 0xf && lo == 0xd) {
                        return Err("a real number with a reserved nibble".into());
                    }
                    nibbles.push(hi);
                    if hi == 0xf {
                        break;
                    }
                    nibbles.push(lo);
                    if lo == 0xf {
                        break;
                    }
                    if nibbles.len() > 64 {
                        return Err("a real number too long".into());
                    }
                }
                args.push(Num::Real(nibbles));
            }
            32..=246 => args.push(Num::Int(i32::from(b) - 139)),
            247..=250 => {
                let b1 = i32::from(d.u8_at(i)?);
                i += 1;
                args.push(Num::Int((i32::from(b) - 247) * 256 + b1 + 108));
            }
            251..=254 => {
                let b1 = i32::from(d.u8_at(i)?);
                i += 1;
                args.push(Num::Int(-(i32::from(b) - 251) * 256 - b1 - 108));
            }
            _ => return Err(format!("a DICT with the reserved byte {b}")),
        }
        if args.len() > MAX_OPERANDS {
            return Err("a DICT with too many operands".into());
        }
    }
    if !args.is_empty() {
        return Err("a DICT ends with operands and no operator".into());
    }
    Ok(out)
}

fn write_dict(dict: &Dict) -> Vec<u8> {
    let mut out = Vec::new();
    for (op, args) in dict {
        for a in args {
            match a {
                Num::Int(v @ -107..=107) => out.push((v + 139) as u8),
                Num::Int(v @ 108..=1131) => {
                    let v = v - 108;
                    out.extend_from_slice(&[(v / 256 + 247) as u8, (v % 256) as u8]);
                }
                Num::Int(v @ -1131..=-108) => {
                    let v = -v - 108;
                    out.extend_from_slice(&[(v / 256 + 251) as u8, (v % 256) as u8]);
                }
                Num::Int(v @ -32768..=32767) => {
                    out.push(28);
                    out.extend_from_slice(&(*v as i16).to_be_bytes());
                }
                Num::Int(v) | Num::Fixed(v) => {
                    out.push(29);
                    out.extend_from_slice(&v.to_be_bytes());
                }
                Num::Real(n) => {
                    out.push(30);
                    for pair in n.chunks(2) {
                        let lo = pair.get(1).copied().unwrap_or(0xf);
                        out.push(pair[0] << 4 | lo);
                    }
                }
            }
        }
        if *op >= 1200 {
            out.extend_from_slice(&[12, (op - 1200) as u8]);
        } else {
            out.push(*op as u8);
        }
    }
    out
}

fn set(dict: &mut Dict, op: u16, vals: Vec<Num>) {
    if let Some(e) = dict.iter_mut().find(|(o, _)| *o == op) {
        e.1 = vals;
    }
}

fn get(dict: &Dict, op: u16) -> Option<&[Num]> {
    dict.iter()
        .find(|(o, _)| *o == op)
        .map(|(_, a)| a.as_slice())
}

fn offset(dict: &Dict, op: u16) -> Result<Option<usize>, String> {
    match get(dict, op) {
        None => Ok(None),
        Some([n]) => n
            .int()
            .and_then(|v| usize::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| "a bad offset".into()),
        Some(_) => Err("an offset with the wrong number of operands".into()),
    }
}

/// The operators kept, with how many operands each takes (`None`: any,
/// a delta array).
const TOP_KEPT: &[(u16, Option<usize>)] = &[
    (1201, Some(1)), // isFixedPitch
    (1202, Some(1)), // ItalicAngle
    (1203, Some(1)), // UnderlinePosition
    (1204, Some(1)), // UnderlineThickness
    (1205, Some(1)), // PaintType
    (1207, Some(6)), // FontMatrix
    (5, Some(4)),    // FontBBox
    (1208, Some(1)), // StrokeWidth
    (1230, Some(3)), // ROS
    (1231, Some(1)), // CIDFontVersion
    (1232, Some(1)), // CIDFontRevision
    (1233, Some(1)), // CIDFontType
    (1234, Some(1)), // CIDCount
];
const FD_KEPT: &[(u16, Option<usize>)] = &[
    (1238, Some(1)), // FontName
    (1207, Some(6)), // FontMatrix
];
const PRIVATE_KEPT: &[(u16, Option<usize>)] = &[
    (6, None),       // BlueValues
    (7, None),       // OtherBlues
    (8, None),       // FamilyBlues
    (9, None),       // FamilyOtherBlues
    (1209, Some(1)), // BlueScale
    (1210, Some(1)), // BlueShift
    (1211, Some(1)), // BlueFuzz
    (10, Some(1)),   // StdHW
    (11, Some(1)),   // StdVW
    (1212, None),    // StemSnapH
    (1213, None),    // StemSnapV
    (1214, Some(1)), // ForceBold
    (1217, Some(1)), // LanguageGroup
    (1218, Some(1)), // ExpansionFactor
    (1219, Some(1)), // initialRandomSeed
    (20, Some(1)),   // defaultWidthX
    (21, Some(1)),   // nominalWidthX
];

fn keep(dict: &Dict, kept: &[(u16, Option<usize>)]) -> Dict {
    dict.iter()
        .filter(|(op, args)| {
            kept.iter()
                .any(|(k, n)| k == op && n.is_none_or(|n| n == args.len()) && args.len() <= 48)
        })
        .cloned()
        .collect()
}

/// A Private DICT (kept operators) and its local subroutines.
struct Private<'a> {
    dict: Dict,
    subrs: Vec<&'a [u8]>,
}

fn read_private<'a>(d: &'a [u8], owner: &Dict) -> Result<Private<'a>, String> {
    let Some([size, at]) = get(owner, 18) else {
        return Err("no Private DICT".into());
    };
    let (Some(size), Some(at)) = (
        size.int().and_then(|v| usize::try_from(v).ok()),
        at.int().and_then(|v| usize::try_from(v).ok()),
    ) else {
        return Err("a bad Private DICT place".into());
    };
    let raw = read_dict(d.part(at, size)?)?;
    let subrs = match offset(&raw, 19)? {
        Some(rel) => read_index(d, at.checked_add(rel).ok_or("a bad Subrs offset")?)?.0,
        None => Vec::new(),
    };
    Ok(Private {
        dict: keep(&raw, PRIVATE_KEPT),
        subrs,
    })
}

/// Glyph ids 1.. to SIDs (or CIDs) from a charset; `Err(n)` for the
/// predefined charset `n`.
fn read_charset(d: &[u8], at: usize, n: usize) -> Result<Vec<u16>, String> {
    let mut out = Vec::with_capacity(n.saturating_sub(1));
    let format = d.u8_at(at)?;
    let mut i = at + 1;
    while out.len() + 1 < n {
        match format {
            0 => {
                out.push(d.u16_at(i)?);
                i += 2;
            }
            1 | 2 => {
                let first = d.u16_at(i)?;
                let left = if format == 1 {
                    usize::from(d.u8_at(i + 2)?)
                } else {
                    usize::from(d.u16_at(i + 2)?)
                };
                i += if format == 1 { 3 } else { 4 };
                for k in 0..=left {
                    if out.len() + 1 >= n {
                        break;
                    }
                    let v = usize::from(first) + k;
                    out.push(u16::try_from(v).map_err(|_| "a charset past 65535")?);
                }
            }
            _ => return Err(format!("unknown charset format {format}")),
        }
    }
    Ok(out)
}

/// A charset in format 2 (ranges).
fn write_charset(ids: &[u16]) -> Vec<u8> {
    let mut out = vec![2];
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j].wrapping_add(1) && j - i < 0xFFFE {
            j += 1;
        }
        out.extend_from_slice(&ids[i].to_be_bytes());
        out.extend_from_slice(&((j - i) as u16).to_be_bytes());
        i = j + 1;
    }
    out
}

/// A custom encoding: codes of glyphs 1.. and supplements (code, SID).
type Encoding = (Vec<u8>, Vec<(u8, u16)>);

fn read_encoding(d: &[u8], at: usize, n: usize) -> Result<Encoding, String> {
    let format = d.u8_at(at)?;
    let mut codes = Vec::new();
    let mut i = at + 1;
    match format & 0x7f {
        0 => {
            let count = usize::from(d.u8_at(i)?);
            codes.extend_from_slice(d.part(i + 1, count)?);
            i += 1 + count;
        }
        1 => {
            let ranges = usize::from(d.u8_at(i)?);
            i += 1;
            for _ in 0..ranges {
                let first = d.u8_at(i)?;
                let left = d.u8_at(i + 1)?;
                i += 2;
                for k in 0..=left {
                    codes.push(first.checked_add(k).ok_or("an encoding past 255")?);
                }
            }
        }
        f => return Err(format!("unknown encoding format {f}")),
    }
    codes.truncate(n.saturating_sub(1).min(255));
    let mut sups = Vec::new();
    if format & 0x80 != 0 {
        let count = usize::from(d.u8_at(i)?);
        i += 1;
        for _ in 0..count {
            sups.push((d.u8_at(i)?, d.u16_at(i + 1)?));
            i += 3;
        }
    }
    Ok((codes, sups))
}

fn write_encoding((codes, sups): &Encoding) -> Vec<u8> {
    let mut out = vec![if sups.is_empty() { 0 } else { 0x80 }, codes.len() as u8];
    out.extend_from_slice(codes);
    if !sups.is_empty() {
        out.push(sups.len().min(255) as u8);
        for (c, sid) in sups.iter().take(255) {
            out.push(*c);
            out.extend_from_slice(&sid.to_be_bytes());
        }
    }
    out
}

fn read_fdselect(d: &[u8], at: usize, n: usize, fds: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(n);
    match d.u8_at(at)? {
        0 => out.extend_from_slice(d.part(at + 1, n)?),
        3 => {
            let ranges = usize::from(d.u16_at(at + 1)?);
            let mut i = at + 3;
            for r in 0..ranges {
                let first = usize::from(d.u16_at(i)?);
                let fd = d.u8_at(i + 2)?;
                let next = usize::from(d.u16_at(i + 3)?);
                if first != out.len() || next < first || (r == 0 && first != 0) {
                    return Err("FDSelect ranges out of order".into());
                }
                out.extend(std::iter::repeat_n(fd, (next - first).min(n - out.len())));
                i += 3;
            }
        }
        f => return Err(format!("unknown FDSelect format {f}")),
    }
    if out.len() != n {
        return Err("FDSelect does not cover every glyph".into());
    }
    if out.iter().any(|&f| usize::from(f) >= fds) {
        return Err("FDSelect names a font DICT that does not exist".into());
    }
    Ok(out)
}

fn write_fdselect(fds: &[u8]) -> Vec<u8> {
    let mut ranges = Vec::new();
    for (g, &f) in fds.iter().enumerate() {
        if ranges.last().is_none_or(|&(_, last)| last != f) {
            ranges.push((g as u16, f));
        }
    }
    let mut out = vec![3];
    out.extend_from_slice(&(ranges.len() as u16).to_be_bytes());
    for (first, f) in ranges {
        out.extend_from_slice(&first.to_be_bytes());
        out.push(f);
    }
    out.extend_from_slice(&(fds.len() as u16).to_be_bytes());
    out
}

struct Sink;

impl ttf_parser::OutlineBuilder for Sink {
    fn move_to(&mut self, _: f32, _: f32) {}
    fn line_to(&mut self, _: f32, _: f32) {}
    fn quad_to(&mut self, _: f32, _: f32, _: f32, _: f32) {}
    fn curve_to(&mut self, _: f32, _: f32, _: f32, _: f32, _: f32, _: f32) {}
    fn close(&mut self) {}
}

/// A Type 2 charstring that draws nothing.
const EMPTY_GLYPH: &[u8] = &[14]; // endchar

/// Rewrites a bare CFF font program; `Err` says why it cannot be kept.
pub fn rebuild(d: &[u8]) -> Result<Vec<u8>, String> {
    if d.u8_at(0)? != 1 {
        return Err("not CFF version 1".into());
    }
    let header = usize::from(d.u8_at(2)?);
    let (names, at) = read_index(d, header)?;
    let (tops, at) = read_index(d, at)?;
    let (strings, at) = read_index(d, at)?;
    let (gsubrs, _) = read_index(d, at)?;
    if names.len() != 1 || tops.len() != 1 {
        return Err("not exactly one font".into());
    }
    let name: Vec<u8> = match names[0] {
        n if !n.is_empty() && n.len() <= 127 && n.iter().all(|b| b.is_ascii_graphic()) => {
            n.to_vec()
        }
        _ => b"Font".to_vec(),
    };
    let top = read_dict(tops[0])?;
    if get(&top, 1206).is_some_and(|t| t != [Num::Int(2)]) {
        return Err("charstrings that are not Type 2".into());
    }
    let cs_at = offset(&top, 17)?.ok_or("no CharStrings")?;
    let (charstrings, _) = read_index(d, cs_at)?;
    let n = charstrings.len();
    if n == 0 || n > MAX_COUNT {
        return Err("no glyphs".into());
    }
    let cid = get(&top, 1230).is_some();
    let charset = match offset(&top, 15)? {
        Some(p @ 0..=2) if !cid => Err(p as i32),
        Some(0) | None => {
            if cid {
                // Identity: glyph i is CID i.
                Ok((1..n as u16).collect())
            } else {
                Err(0)
            }
        }
        Some(at) => Ok(read_charset(d, at, n)?),
    };
    let encoding = if cid {
        None
    } else {
        match offset(&top, 16)? {
            None | Some(0) => Some(Err(0)),
            Some(1) => Some(Err(1)),
            Some(at) => Some(Ok(read_encoding(d, at, n)?)),
        }
    };
    let (fdarray, fdselect, private) = if cid {
        let fd_at = offset(&top, 1236)?.ok_or("a CID font without FDArray")?;
        let (fds, _) = read_index(d, fd_at)?;
        if fds.is_empty() || fds.len() > 255 {
            return Err("a bad FDArray".into());
        }
        let mut kept = Vec::new();
        for fd in &fds {
            let dict = read_dict(fd)?;
            kept.push((keep(&dict, FD_KEPT), read_private(d, &dict)?));
        }
        let sel_at = offset(&top, 1237)?.ok_or("a CID font without FDSelect")?;
        let sel = read_fdselect(d, sel_at, n, fds.len())?;
        (kept, Some(sel), None)
    } else {
        (Vec::new(), None, Some(read_private(d, &top)?))
    };

    // Validate every glyph by running it in the font as read; one that
    // does not run is kept as an empty glyph.
    let table = ttf_parser::cff::Table::parse(d).ok_or("does not parse")?;
    if usize::from(table.number_of_glyphs()) != n {
        return Err("the glyph count does not agree".into());
    }
    let glyphs: Vec<&[u8]> = charstrings
        .iter()
        .enumerate()
        .map(
            |(g, cs)| match table.outline(ttf_parser::GlyphId(g as u16), &mut Sink) {
                Ok(_) | Err(ttf_parser::CFFError::ZeroBBox) => *cs,
                Err(_) => EMPTY_GLYPH,
            },
        )
        .collect();

    // Layout: header, Name, Top DICT, String, Global Subr INDEXes, then
    // charset, encoding, FDSelect, CharStrings, FDArray, Private DICTs
    // each followed by its Subrs.
    let mut top_out: Dict = keep(&top, TOP_KEPT);
    let fixed = Num::Fixed(0);
    if charset.is_ok() || matches!(charset, Err(1..)) {
        top_out.push((15, vec![fixed.clone()]));
    }
    if let Some(e) = &encoding {
        if matches!(e, Ok(_) | Err(1..)) {
            top_out.push((16, vec![fixed.clone()]));
        }
    }
    top_out.push((17, vec![fixed.clone()]));
    if cid {
        top_out.push((1236, vec![fixed.clone()]));
        top_out.push((1237, vec![fixed.clone()]));
    } else {
        top_out.push((18, vec![fixed.clone(), fixed.clone()]));
    }
    let top_len = write_dict(&top_out).len();
    let head = [1u8, 0, 4, 4];
    let name_index = write_index(&[name]);
    let string_index = write_index(&strings);
    let gsubr_index = write_index(&gsubrs);
    let top_index_len = write_index(&[vec![0u8; top_len]]).len();
    let mut at =
        head.len() + name_index.len() + top_index_len + string_index.len() + gsubr_index.len();
    let mut body = Vec::new();
    match &charset {
        Ok(ids) => {
            set(&mut top_out, 15, vec![Num::Fixed(at as i32)]);
            let c = write_charset(ids);
            at += c.len();
            body.extend_from_slice(&c);
        }
        Err(p) => set(&mut top_out, 15, vec![Num::Int(*p)]),
    }
    match &encoding {
        Some(Ok(e)) => {
            set(&mut top_out, 16, vec![Num::Fixed(at as i32)]);
            let c = write_encoding(e);
            at += c.len();
            body.extend_from_slice(&c);
        }
        Some(Err(p)) => set(&mut top_out, 16, vec![Num::Int(*p)]),
        None => {}
    }
    if let Some(sel) = &fdselect {
        set(&mut top_out, 1237, vec![Num::Fixed(at as i32)]);
        let c = write_fdselect(sel);
        at += c.len();
        body.extend_from_slice(&c);
    }
    set(&mut top_out, 17, vec![Num::Fixed(at as i32)]);
    let c = write_index(&glyphs);
    at += c.len();
    body.extend_from_slice(&c);

    // Private DICTs land after the FDArray, whose length does not depend
    // on where they land (fixed-width offsets).
    let privates: Vec<&Private> = match &private {
        Some(p) => vec![p],
        None => fdarray.iter().map(|(_, p)| p).collect(),
    };
    let private_dict = |p: &Private| {
        let mut dict = p.dict.clone();
        if !p.subrs.is_empty() {
            dict.push((19, vec![Num::Fixed(0)]));
            let len = write_dict(&dict).len() as i32;
            if let Some(e) = dict.last_mut() {
                e.1 = vec![Num::Fixed(len)];
            }
        }
        dict
    };
    let fd_len = if cid {
        let probe: Vec<Vec<u8>> = fdarray
            .iter()
            .map(|(fd, _)| {
                let mut fd = fd.clone();
                fd.push((18, vec![Num::Fixed(0), Num::Fixed(0)]));
                write_dict(&fd)
            })
            .collect();
        write_index(&probe).len()
    } else {
        0
    };
    let mut private_at = at + fd_len;
    let mut places = Vec::new();
    let mut private_bytes = Vec::new();
    for p in &privates {
        let dict = write_dict(&private_dict(p));
        places.push((dict.len(), private_at));
        private_at += dict.len();
        private_bytes.extend_from_slice(&dict);
        if !p.subrs.is_empty() {
            let s = write_index(&p.subrs);
            private_at += s.len();
            private_bytes.extend_from_slice(&s);
        }
    }
    let place = |(len, at): (usize, usize)| vec![Num::Fixed(len as i32), Num::Fixed(at as i32)];
    if cid {
        set(&mut top_out, 1236, vec![Num::Fixed(at as i32)]);
        let fds: Vec<Vec<u8>> = fdarray
            .iter()
            .zip(&places)
            .map(|((fd, _), &pl)| {
                let mut fd = fd.clone();
                fd.push((18, place(pl)));
                write_dict(&fd)
            })
            .collect();
        body.extend_from_slice(&write_index(&fds));
    } else {
        set(&mut top_out, 18, place(places[0]));
    }
    body.extend_from_slice(&private_bytes);

    let top_bytes = write_dict(&top_out);
    debug_assert_eq!(top_bytes.len(), top_len);
    let mut out = head.to_vec();
    out.extend_from_slice(&name_index);
    out.extend_from_slice(&write_index(&[top_bytes]));
    out.extend_from_slice(&string_index);
    out.extend_from_slice(&gsubr_index);
    out.extend_from_slice(&body);
    if i32::try_from(out.len()).is_err() {
        return Err("too large".into());
    }
    // What was written must parse as CFF with the same glyphs.
    let again = ttf_parser::cff::Table::parse(&out).ok_or("the rebuilt font does not parse")?;
    if usize::from(again.number_of_glyphs()) != n {
        return Err("the rebuilt font lost glyphs".into());
    }
    Ok(out)
}
