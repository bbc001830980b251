//! Word binary (.doc) fields: found through the field tables the FIB points
//! at (`PlcfFldMom`, `PlcfFldHdr`, ... in the table stream), their
//! instruction text read through the piece table, judged against the kept
//! field list, and neutralised in place: the instruction's characters become
//! spaces and the field is locked, so every offset in the file stays valid
//! and the field shows its last result.

use crate::field;
use mugai_core::{Blocked, Code, Context};

const FIELD_BEGIN: u8 = 0x13;
const FIELD_SEPARATE: u8 = 0x14;
const FIELD_END: u8 = 0x15;
/// The picture character: in a field's instruction it carries the field's
/// data (a HYPERLINK's target, a form field's settings) in the Data stream.
const PICTURE_CHAR: u32 = 0x01;
/// `sprmCPicLocation`: the Data stream offset of a picture character's data.
const SPRM_PIC_LOCATION: u16 = 0x6A03;
/// The size of the `NilPICFAndBinData` header before the field's data.
const NIL_PICF_HEADER: usize = 0x44;
/// `grffldEnd.fLocked`: Word does not update a locked field.
const FLD_LOCKED: u8 = 0x10;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Where each character position lives in the WordDocument stream.
enum TextMap {
    /// Word 97 and later: the piece table (CP boundaries, and for each
    /// piece its stream offset and whether it is 8-bit).
    Pieces {
        cps: Vec<u32>,
        pieces: Vec<(usize, bool)>,
    },
    /// Word 6/95 without fast saves: 8-bit text from `fcMin`.
    Flat { base: usize },
}

impl TextMap {
    /// The stream offset and width (1 or 2 bytes) of `cp`.
    fn locate(&self, cp: u32) -> Option<(usize, usize)> {
        match self {
            TextMap::Flat { base } => Some((base.checked_add(cp as usize)?, 1)),
            TextMap::Pieces { cps, pieces } => {
                let k = cps.partition_point(|&c| c <= cp).checked_sub(1)?;
                let (fc, compressed) = *pieces.get(k)?;
                if cp >= *cps.get(k + 1)? {
                    return None;
                }
                let d = (cp - cps[k]) as usize;
                Some(if compressed {
                    (fc.checked_add(d)?, 1)
                } else {
                    (fc.checked_add(d.checked_mul(2)?)?, 2)
                })
            }
        }
    }

    fn char_at(&self, wd: &[u8], cp: u32) -> Option<u32> {
        let (off, w) = self.locate(cp)?;
        if w == 1 {
            wd.get(off).map(|&b| b as u32)
        } else {
            u16_at(wd, off).map(u32::from)
        }
    }

    fn blank(&self, wd: &mut [u8], cp: u32) {
        if let Some((off, w)) = self.locate(cp) {
            if let Some(s) = wd.get_mut(off..off + w) {
                s[0] = b' ';
                if w == 2 {
                    s[1] = 0;
                }
            }
        }
    }
}

/// A field character listed in a field table.
struct Marker {
    cp: u32,
    ch: u8,
    /// Offset in the table stream of the `Fld`'s second byte (for an end
    /// mark: its flags).
    flags_at: Option<usize>,
}

/// The piece table (`Clx` at `fcClx` in the table stream).
fn pieces(table: &[u8], fc: usize, lcb: usize) -> Option<TextMap> {
    let clx = table.get(fc..fc.checked_add(lcb)?)?;
    let mut at = 0usize;
    loop {
        match *clx.get(at)? {
            0x01 => at = at.checked_add(3 + u16_at(clx, at + 1)? as usize)?,
            0x02 => {
                let n_bytes = u32_at(clx, at + 1)? as usize;
                let plc = clx.get(at + 5..(at + 5).checked_add(n_bytes)?)?;
                if n_bytes < 4 || !(n_bytes - 4).is_multiple_of(12) {
                    return None;
                }
                let n = (n_bytes - 4) / 12;
                let cps: Vec<u32> = (0..=n).map(|i| u32_at(plc, i * 4)).collect::<Option<_>>()?;
                if cps.windows(2).any(|w| w[0] > w[1]) {
                    return None;
                }
                let pieces = (0..n)
                    .map(|i| {
                        let raw = u32_at(plc, 4 * (n + 1) + i * 8 + 2)?;
                        let compressed = raw & 0x4000_0000 != 0;
                        let fc = (raw & 0x3FFF_FFFF) as usize;
                        Some(if compressed {
                            (fc / 2, true)
                        } else {
                            (fc, false)
                        })
                    })
                    .collect::<Option<_>>()?;
                return Some(TextMap::Pieces { cps, pieces });
            }
            _ => return None,
        }
    }
}

/// One field being read.
struct Open {
    begin: u32,
    separate: Option<u32>,
    instr: String,
    result: String,
    nested_in_name: bool,
    /// Opened where its parent's name stands.
    in_parent_name: bool,
}

fn push_char(s: &mut String, c: u32) {
    if s.len() < 1 << 16 {
        s.push(match c {
            // Characters Word puts in field text that read as space.
            0x07 | 0x0B | 0x0D | 0x1E | 0x1F | 0xA0 => ' ',
            c => char::from_u32(c).unwrap_or('\u{FFFD}'),
        });
    }
}

/// What neutralising the fields of one story leaves to do.
#[derive(Default)]
struct Neutralised {
    /// Table stream offsets of the end marks to lock.
    lock: Vec<usize>,
    /// WordDocument stream offsets of picture characters that stood in a
    /// blanked instruction: their data in the Data stream goes too.
    pictures: Vec<usize>,
}

/// Judges the fields marked by `marks` (CPs relative to `base`) and
/// neutralises those off the kept list.
fn judge(
    cx: &mut Context<'_>,
    wd: &mut [u8],
    map: &TextMap,
    base: u32,
    marks: &[Marker],
    where_: &str,
    neutralise_links: bool,
) -> Result<Neutralised, Blocked> {
    let mut stack: Vec<Open> = Vec::new();
    let mut done = Neutralised::default();
    for (k, m) in marks.iter().enumerate() {
        let cp = base
            .checked_add(m.cp)
            .ok_or_else(|| cx.block(Code::RebuildFailed, "Word field table out of range"))?;
        match map.char_at(wd, cp) {
            Some(c) if c == m.ch as u32 => {}
            _ => {
                return Err(cx.block(
                    Code::RebuildFailed,
                    format!("Word {where_} field table disagrees with the text at CP {cp}"),
                ))
            }
        }
        match m.ch {
            FIELD_BEGIN => {
                let in_parent_name = stack.last().is_some_and(|p| {
                    p.separate.is_none() && !p.instr.trim_start().contains(char::is_whitespace)
                });
                stack.push(Open {
                    begin: cp,
                    separate: None,
                    instr: String::new(),
                    result: String::new(),
                    nested_in_name: false,
                    in_parent_name,
                });
            }
            FIELD_SEPARATE => {
                if let Some(f) = stack.last_mut() {
                    f.separate.get_or_insert(cp);
                }
            }
            _ => {
                if let Some(f) = stack.pop() {
                    if let Some((_, detail)) =
                        field::verdict(&f.instr, f.nested_in_name, neutralise_links)
                    {
                        cx.neutralised(
                            Code::OleField,
                            format!("{where_} field at CP {}: {detail}", f.begin),
                        );
                        let stop = f.separate.unwrap_or(cp);
                        for c in f.begin + 1..stop {
                            let ch = map.char_at(wd, c).unwrap_or(0);
                            if ch == PICTURE_CHAR {
                                if let Some((off, _)) = map.locate(c) {
                                    done.pictures.push(off);
                                }
                            }
                            if !(FIELD_BEGIN as u32..=FIELD_END as u32).contains(&ch) {
                                map.blank(wd, c);
                            }
                        }
                        if let Some(at) = m.flags_at {
                            done.lock.push(at);
                        }
                    }
                    // Word reads a nested field as its result. One in the
                    // name position builds the name, unless it computes
                    // nothing (a neutralised one: a blank instruction).
                    if let Some(p) = stack.last_mut() {
                        if f.in_parent_name && (!f.instr.trim().is_empty() || f.nested_in_name) {
                            p.nested_in_name = true;
                        }
                        if p.separate.is_none() {
                            let r = f.result;
                            p.instr.push_str(&r);
                        }
                    }
                }
            }
        }
        // The text up to the next mark belongs to the innermost open field.
        let Some(next) = marks.get(k + 1) else { break };
        let nested = stack.len() >= 2;
        let Some(f) = stack.last_mut() else { continue };
        let in_instr = f.separate.is_none();
        if !in_instr && !nested {
            continue;
        }
        let end = base.saturating_add(next.cp);
        let mut c = cp + 1;
        while c < end && c - cp < 1 << 16 {
            if let Some(ch) = map.char_at(wd, c) {
                push_char(
                    if in_instr {
                        &mut f.instr
                    } else {
                        &mut f.result
                    },
                    ch,
                );
            }
            c += 1;
        }
    }
    if let Some(f) = stack.last() {
        return Err(cx.block(
            Code::RebuildFailed,
            format!("Word {where_} field at CP {} never closes", f.begin),
        ));
    }
    Ok(done)
}

/// The value of `sprmCPicLocation` in the character properties of the
/// character at WordDocument offset `fc`, found through the CHPX bin table
/// (`PlcBteChpx` at `fc_plc`/`lcb_plc` in the table stream) and its FKPs.
fn pic_location(wd: &[u8], table: &[u8], fc_plc: usize, lcb_plc: usize, fc: usize) -> Option<u32> {
    if lcb_plc < 4 || !(lcb_plc - 4).is_multiple_of(8) {
        return None;
    }
    let plc = table.get(fc_plc..fc_plc.checked_add(lcb_plc)?)?;
    let n = (lcb_plc - 4) / 8;
    let fc32 = u32::try_from(fc).ok()?;
    let k = (0..n).find(|&i| {
        let (a, b) = (
            u32_at(plc, i * 4).unwrap_or(0),
            u32_at(plc, i * 4 + 4).unwrap_or(0),
        );
        a <= fc32 && fc32 < b
    })?;
    let pn = (u32_at(plc, 4 * (n + 1) + 4 * k)? & 0x003F_FFFF) as usize;
    let page = wd.get(pn.checked_mul(512)?..pn.checked_mul(512)?.checked_add(512)?)?;
    let crun = page[511] as usize;
    let run = (0..crun).find(|&j| {
        let (a, b) = (
            u32_at(page, j * 4).unwrap_or(0),
            u32_at(page, j * 4 + 4).unwrap_or(0),
        );
        a <= fc32 && fc32 < b
    })?;
    let at = *page.get(4 * (crun + 1) + run)? as usize * 2;
    if at == 0 {
        return None;
    }
    let cb = *page.get(at)? as usize;
    let grpprl = page.get(at + 1..(at + 1 + cb).min(511))?;
    let mut i = 0;
    while i + 2 <= grpprl.len() {
        let op = u16_at(grpprl, i)?;
        i += 2;
        let size = match op >> 13 {
            0 | 1 => 1,
            2 | 4 | 5 => 2,
            3 => 4,
            7 => 3,
            _ => 1 + *grpprl.get(i)? as usize,
        };
        if op == SPRM_PIC_LOCATION {
            return u32_at(grpprl, i);
        }
        i += size;
    }
    None
}

/// Clears the data of the picture characters at `pictures` (WordDocument
/// offsets) in the Data stream: the `NilPICFAndBinData` keeps its header
/// and size, its content (a HYPERLINK's target) becomes zeros. Returns the
/// bytes cleared.
fn clear_field_data(
    wd: &[u8],
    table: &[u8],
    (fc_plc, lcb_plc): (usize, usize),
    pictures: &[usize],
    data: &mut [u8],
) -> usize {
    let mut cleared = 0;
    for &fc in pictures {
        let Some(loc) = pic_location(wd, table, fc_plc, lcb_plc, fc) else {
            continue;
        };
        let loc = loc as usize;
        let (Some(lcb), Some(cb_header)) = (u32_at(data, loc), u16_at(data, loc + 4)) else {
            continue;
        };
        if cb_header as usize != NIL_PICF_HEADER {
            continue;
        }
        let end = loc.saturating_add(lcb as usize).min(data.len());
        if let Some(s) = data.get_mut(loc + NIL_PICF_HEADER..end) {
            cleared += s.len();
            s.fill(0);
        }
    }
    cleared
}

/// Neutralises the fields of a Word document off the kept list, in the
/// WordDocument stream `wd` and its table stream `table`.
pub fn neutralise_fields(
    cx: &mut Context<'_>,
    wd: &mut [u8],
    table: Option<&mut Vec<u8>>,
    data: Option<&mut Vec<u8>>,
    neutralise_links: bool,
) -> Result<(), Blocked> {
    let bad = |cx: &Context<'_>, what: &str| {
        cx.block(Code::RebuildFailed, format!("Word binary: {what}"))
    };
    let n_fib = u16_at(wd, 2).ok_or_else(|| bad(cx, "FIB too short"))?;
    let flags = u16_at(wd, 0x0A).ok_or_else(|| bad(cx, "FIB too short"))?;
    if n_fib < 101 {
        return Err(cx.block(
            Code::OleField,
            format!("Word 2.0 or older document (nFib {n_fib}): its fields cannot be read, so they cannot be checked"),
        ));
    }
    if n_fib < 0x00C1 && flags & 0x0004 != 0 {
        return Err(cx.block(
            Code::OleField,
            "fast-saved Word 6/95 document (FIB fComplex): its text, and so its fields, cannot be read reliably; save it again without fast save",
        ));
    }
    if n_fib < 0x00C1 {
        // Word 6/95: fields are found in the text itself.
        let fc_min = u32_at(wd, 0x18).ok_or_else(|| bad(cx, "FIB too short"))? as usize;
        let fc_mac = u32_at(wd, 0x1C).ok_or_else(|| bad(cx, "FIB too short"))? as usize;
        let text = wd.get(fc_min..fc_mac.min(wd.len())).unwrap_or(&[]);
        let marks: Vec<Marker> = text
            .iter()
            .enumerate()
            .filter(|(_, &b)| matches!(b, FIELD_BEGIN | FIELD_SEPARATE | FIELD_END))
            .map(|(i, &b)| Marker {
                cp: i as u32,
                ch: b,
                flags_at: None,
            })
            .collect();
        let map = TextMap::Flat { base: fc_min };
        judge(cx, wd, &map, 0, &marks, "document", neutralise_links)?;
        return Ok(());
    }
    let table = table.ok_or_else(|| bad(cx, "no table stream"))?;
    let csw = u16_at(wd, 32).ok_or_else(|| bad(cx, "FIB too short"))? as usize;
    let lw_at = 34 + csw * 2;
    let cslw = u16_at(wd, lw_at).ok_or_else(|| bad(cx, "FIB too short"))? as usize;
    let rg_lw = lw_at + 2;
    let fc_at = rg_lw + cslw * 4;
    let cb_fclcb = u16_at(wd, fc_at).ok_or_else(|| bad(cx, "FIB too short"))? as usize;
    let rg_fclcb = fc_at + 2;
    let lw = |i: usize| u32_at(wd, rg_lw + i * 4).unwrap_or(0);
    let pairs: Vec<(usize, usize)> = (0..cb_fclcb.min(64))
        .map(|i| {
            (
                u32_at(wd, rg_fclcb + i * 8).unwrap_or(0) as usize,
                u32_at(wd, rg_fclcb + i * 8 + 4).unwrap_or(0) as usize,
            )
        })
        .collect();
    let fclcb = |i: usize| pairs.get(i).copied().unwrap_or((0, 0));
    if cslw < 11 || cb_fclcb < 34 {
        return Err(bad(cx, "FIB without the Word 97 tables"));
    }
    let (ccp_text, ccp_ftn, ccp_hdd, ccp_mcr) = (lw(3), lw(4), lw(5), lw(6));
    let (ccp_atn, ccp_edn, ccp_txbx) = (lw(7), lw(8), lw(9));
    let (fc_clx, lcb_clx) = fclcb(33);
    let mut map: Option<TextMap> = None;
    let s = |v: &[u32]| v.iter().fold(0u32, |a, b| a.saturating_add(*b));
    // (name, index of fc/lcb of the field table, first CP of the story).
    let stories = [
        ("document", 16, 0),
        ("footnote", 18, ccp_text),
        ("header", 17, s(&[ccp_text, ccp_ftn])),
        ("comment", 19, s(&[ccp_text, ccp_ftn, ccp_hdd, ccp_mcr])),
        (
            "endnote",
            48,
            s(&[ccp_text, ccp_ftn, ccp_hdd, ccp_mcr, ccp_atn]),
        ),
        (
            "text box",
            57,
            s(&[ccp_text, ccp_ftn, ccp_hdd, ccp_mcr, ccp_atn, ccp_edn]),
        ),
        (
            "header text box",
            59,
            s(&[
                ccp_text, ccp_ftn, ccp_hdd, ccp_mcr, ccp_atn, ccp_edn, ccp_txbx,
            ]),
        ),
    ];
    let mut lock_all = Vec::new();
    let mut pictures = Vec::new();
    for (name, idx, base) in stories {
        let (fc, lcb) = fclcb(idx);
        if lcb == 0 {
            continue;
        }
        if lcb < 4 || !(lcb - 4).is_multiple_of(6) {
            return Err(bad(cx, &format!("{name} field table has a bad size")));
        }
        let plc = table
            .get(fc..fc.saturating_add(lcb))
            .ok_or_else(|| bad(cx, &format!("{name} field table out of range")))?;
        let n = (lcb - 4) / 6;
        let mut marks = Vec::with_capacity(n);
        for i in 0..n {
            let cp = u32_at(plc, i * 4).unwrap_or(0);
            let at = 4 * (n + 1) + 2 * i;
            let ch = plc.get(at).copied().unwrap_or(0) & 0x1F;
            if !matches!(ch, FIELD_BEGIN | FIELD_SEPARATE | FIELD_END) {
                return Err(bad(cx, &format!("{name} field table: bad field character")));
            }
            marks.push(Marker {
                cp,
                ch,
                flags_at: (ch == FIELD_END).then_some(fc + at + 1),
            });
        }
        if marks.windows(2).any(|w| w[0].cp >= w[1].cp) {
            return Err(bad(cx, &format!("{name} field table out of order")));
        }
        cx.check_deadline()?;
        if map.is_none() {
            map = Some(
                pieces(table, fc_clx, lcb_clx).ok_or_else(|| bad(cx, "piece table unreadable"))?,
            );
        }
        if let Some(map) = map.as_ref() {
            let done = judge(cx, wd, map, base, &marks, name, neutralise_links)?;
            lock_all.extend(done.lock);
            pictures.extend(done.pictures);
        }
    }
    if !pictures.is_empty() {
        if let Some(data) = data {
            let cleared = clear_field_data(wd, table, fclcb(12), &pictures, data);
            if cleared > 0 {
                cx.neutralised(
                    Code::OleField,
                    format!("data of {} neutralised field(s) in the Data stream cleared ({cleared} bytes)", pictures.len()),
                );
            }
        }
    }
    for at in lock_all {
        if let Some(b) = table.get_mut(at) {
            *b |= FLD_LOCKED;
        }
    }
    Ok(())
}
