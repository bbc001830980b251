//! RTF: a tokenising rewrite that reads the file as the specification (and
//! Word) does.
//!
//! Control words are case-sensitive letters (`\BIN` is an unknown word, not
//! `\bin`; every RTF word is lower case, so such words are dropped), `\binN`
//! takes N raw bytes, `\'hh` two hex digits. Groups are kept when their
//! destination is: plain formatting groups, and `{\*\...}` destinations on
//! the kept list; other ignorable destinations are dropped (`rtf.dropped`).
//! `\object` groups give way to their `\result` (the picture Word shows),
//! object and template destinations go (`rtf.object`, `rtf.template`), and
//! field instructions are judged, after joining their text across groups and
//! reading nested fields as their results, against the kept field list
//! (`rtf.field`). Pictures are decoded and handed to the image rules;
//! pictures no rebuilder handles (WMF, EMF, ...) are dropped.

use crate::field::{self, FieldDanger};
use mugai_core::{Blocked, Code, Context, FileType, Rebuilt};
use std::collections::BTreeMap;

/// Destinations that hold or describe an OLE object.
const OBJECT_DESTS: &[&str] = &[
    "objdata",
    "objclass",
    "objname",
    "objalias",
    "objsect",
    "objitem",
    "objtopic",
    "oleclsid",
    "datastore",
    "objemb",
    "objlink",
    "objautlink",
    "objsub",
    "objpub",
    "objicemb",
    "objhtml",
    "objocx",
    "objupdate",
];
/// Destinations that pull content from elsewhere.
const TEMPLATE_DESTS: &[&str] = &["template", "xmlopen", "linkval"];

/// Ignorable (`{\*\...}`) destinations Word writes for formatting, text,
/// lists, shapes, annotations and document properties. Any other ignorable
/// destination is dropped.
const KEPT_STARRED: &[&str] = &[
    "aftncn",
    "aftnsep",
    "aftnsepc",
    "annotation",
    "atndate",
    "atnauthor",
    "atnicn",
    "atnid",
    "atnparent",
    "atnref",
    "atntime",
    "atrfend",
    "atrfstart",
    "background",
    "bkmkend",
    "bkmkstart",
    "bxe",
    "category",
    "colorschememapping",
    "company",
    "cs",
    "defchp",
    "defpap",
    "docvar",
    "falt",
    "fchars",
    "ffdeftext",
    "ffformat",
    "ffhelptext",
    "ffl",
    "ffname",
    "ffstattext",
    "fldinst",
    "fname",
    "formfield",
    "ftncn",
    "ftnsep",
    "ftnsepc",
    "generator",
    "ipgp",
    "keycode",
    "latentstyles",
    "lchars",
    "listoverridetable",
    "listpicture",
    "listtable",
    "lsdlockedexcept",
    "manager",
    "mmathPict",
    "mmathPr",
    "nesttableprops",
    "nonesttables",
    "oldcprops",
    "oldpprops",
    "oldsprops",
    "oldtprops",
    "panose",
    "pgdsc",
    "pgdsctbl",
    "pgp",
    "pgptbl",
    "picprop",
    "pn",
    "pnseclvl",
    "pntxta",
    "pntxtb",
    "protusertbl",
    "revtbl",
    "rsidtbl",
    "rxe",
    "shpinst",
    "shppict",
    "tc",
    "tcn",
    "ts",
    "txe",
    "ud",
    "upr",
    "userprops",
    "wgrffmtfilter",
    "xe",
    "xmlnstbl",
    "xmlns",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    /// Dropped with everything inside.
    Dropped,
    /// An `\object` group: dropped except its `\result` child.
    Object,
    /// A `\pict` group being collected.
    Pict,
    /// A `\*\fldinst` group: kept, judged when it closes.
    FldInst,
}

struct Group {
    kind: Kind,
    /// Output position where the group started (for `FldInst`).
    out_start: usize,
    /// Inside `\mmath`: the math destinations (`\*\moMath`, `\*\mr`, ...)
    /// are kept.
    math: bool,
    /// Its `{` was written, so its `}` must be.
    written: bool,
    /// A shape property (`{\sp{\sn name}{\sv value}}`): judged when it closes.
    shape_prop: bool,
}

/// Shape properties that name a file: a linked picture is fetched from it
/// (a share or a web server) when the document opens.
const LINKED_FILE_PROPS: &[&str] = &["pibName", "fillBlipName", "lineFillBlipName"];

/// The name of a shape property written from `start` (`{\sp{\sn pibName}...`).
fn shape_prop_name(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.split("\\sn")
        .nth(1)
        .map(|rest| {
            rest.trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Default)]
struct Pict {
    blip: Option<&'static str>,
    words: Vec<u8>,
    data: Vec<u8>,
    nibble: Option<u8>,
}

struct Tok<'a> {
    /// The control word's letters, when the token is a control word.
    word: Option<&'a [u8]>,
    raw: &'a [u8],
}

/// Reads one control word or symbol at `i` (which is a backslash).
fn control(b: &[u8], i: usize) -> Tok<'_> {
    let mut j = i + 1;
    if j >= b.len() {
        return Tok {
            word: None,
            raw: &b[i..],
        };
    }
    if !b[j].is_ascii_alphabetic() {
        // Control symbol; `\'hh` takes two hex digits.
        let end = if b[j] == b'\'' {
            (j + 3).min(b.len())
        } else {
            j + 1
        };
        return Tok {
            word: None,
            raw: &b[i..end],
        };
    }
    while j < b.len() && b[j].is_ascii_alphabetic() && j - i <= 32 {
        j += 1;
    }
    let word_end = j;
    if j < b.len() && b[j] == b'-' && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    while j < b.len() && b[j].is_ascii_digit() && j - word_end <= 11 {
        j += 1;
    }
    if j < b.len() && b[j] == b' ' {
        j += 1;
    }
    Tok {
        word: Some(&b[i + 1..word_end]),
        raw: &b[i..j],
    }
}

fn param(raw: &[u8], word_len: usize) -> i64 {
    let p = &raw[(1 + word_len).min(raw.len())..];
    let s: String = p
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'-')
        .map(|&c| c as char)
        .collect();
    s.parse().unwrap_or(0)
}

/// The head of the group whose `{` is at `i`: whether it is ignorable
/// (`\*`), its first control word, and the position just after that word.
fn group_head(b: &[u8], i: usize) -> (bool, Option<&[u8]>, usize) {
    let mut j = i + 1;
    let mut starred = false;
    while j < b.len() && matches!(b[j], b'\r' | b'\n') {
        j += 1;
    }
    if b.get(j..j + 2) == Some(b"\\*") {
        starred = true;
        j += 2;
        while j < b.len() && matches!(b[j], b'\r' | b'\n' | b' ') {
            j += 1;
        }
    }
    if b.get(j) == Some(&b'\\') {
        let t = control(b, j);
        if let Some(w) = t.word {
            return (starred, Some(w), j + t.raw.len());
        }
    }
    (starred, None, i + 1)
}

/// The destination word opening the group whose `{` is at `i`, and the
/// position just after it (skipping `\*`).
fn destination(b: &[u8], i: usize) -> Option<(&[u8], usize, bool)> {
    let (starred, w, end) = group_head(b, i);
    w.map(|w| (w, end, starred))
}

fn word_str(w: &[u8]) -> &str {
    std::str::from_utf8(w).unwrap_or("")
}

/// The few RTF control words with capitals (tables, footnote numbering,
/// layout compatibility); math words (`\mmathPr`, `\moMath`, ...) start
/// with `m`.
const MIXED_CASE_WORDS: &[&str] = &[
    "ApplyBrkRules",
    "aftnnAlc",
    "aftnnRLC",
    "clFitText",
    "clNoWrap",
    "clftsWidth",
    "clwWidth",
    "ftnnAlc",
    "ftnnRLC",
    "saftnnAlc",
    "saftnnRLC",
    "sftnnAlc",
    "sftnnRLC",
    "tdfrmtxtBottom",
    "tdfrmtxtLeft",
    "tdfrmtxtRight",
    "tdfrmtxtTop",
    "trftsWidth",
    "trftsWidthA",
    "trftsWidthB",
    "trwWidth",
    "trwWidthA",
    "trwWidthB",
];

/// A control word no RTF reader defines: RTF words are lower case but for
/// a listed few (`\BIN` is not `\bin`).
fn is_foreign_word(w: &[u8]) -> bool {
    w.len() > 32
        || w.iter().any(u8::is_ascii_uppercase)
            && !w.starts_with(b"m")
            && !MIXED_CASE_WORDS.contains(&word_str(w))
}

/// Ends a control word the output ends with, so that what follows a
/// removed group or word is not read as its parameter or delimiter.
fn delimit(out: &mut Vec<u8>) {
    let tail = &out[out.len().saturating_sub(48)..];
    let Some(bs) = tail.iter().rposition(|&c| c == b'\\') else {
        return;
    };
    let after = &tail[bs + 1..];
    let escaped = tail[..bs].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1;
    if !escaped
        && after.first().is_some_and(u8::is_ascii_alphabetic)
        && after
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    {
        out.push(b' ');
    }
}

/// The instruction Word reads from a `\fldinst` group as written to the
/// output (`b` starts at its `{`): text joined without separators, `\'hh`
/// and `\uN` decoded, ignorable destinations skipped, a nested field read
/// as its result. The flag says a nested field stands in the name.
fn instruction_text(b: &[u8]) -> (String, bool) {
    #[derive(Clone, Copy, PartialEq)]
    enum G {
        Shown,
        Hidden,
        Field,
    }
    let mut s = String::new();
    let mut nested_in_name = false;
    let mut stack: Vec<G> = Vec::new();
    let mut uc = 1usize;
    let mut skip = 0usize;
    let mut i = 0;
    while i < b.len() && s.len() < 1 << 16 {
        let shown = stack.last() == Some(&G::Shown);
        let put = |s: &mut String, skip: &mut usize, c: char| {
            if *skip > 0 {
                *skip -= 1;
            } else if shown {
                s.push(c);
            }
        };
        match b[i] {
            b'{' => {
                let (starred, word, _) = group_head(b, i);
                let g = match stack.last().copied() {
                    None => G::Shown,
                    Some(G::Hidden) => G::Hidden,
                    Some(G::Field) if word == Some(b"fldrslt") => G::Shown,
                    Some(G::Field) => G::Hidden,
                    Some(G::Shown) if word == Some(b"field") => {
                        if !s.trim_start().contains(char::is_whitespace) {
                            nested_in_name = true;
                        }
                        G::Field
                    }
                    Some(G::Shown) if starred => G::Hidden,
                    Some(G::Shown) => G::Shown,
                };
                stack.push(g);
                i += 1;
            }
            b'}' => {
                stack.pop();
                i += 1;
            }
            b'\\' => {
                let t = control(b, i);
                let adv = t.raw.len().max(1);
                match t.word {
                    Some(b"bin") => {
                        let n = param(t.raw, 3).max(0) as usize;
                        i = (i + adv).saturating_add(n);
                        continue;
                    }
                    Some(b"u") => {
                        let v = param(t.raw, 1);
                        let v = if v < 0 { v + 65536 } else { v };
                        if shown {
                            if let Some(c) = u32::try_from(v).ok().and_then(char::from_u32) {
                                s.push(c);
                            }
                        }
                        skip = uc;
                    }
                    Some(b"uc") => uc = param(t.raw, 2).max(0) as usize,
                    Some(b"tab" | b"par" | b"line" | b"cell" | b"row" | b"sect" | b"page") => {
                        put(&mut s, &mut skip, ' ')
                    }
                    Some(_) => {}
                    None if t.raw.starts_with(b"\\'") && t.raw.len() == 4 => {
                        let v = std::str::from_utf8(&t.raw[2..4])
                            .ok()
                            .and_then(|h| u8::from_str_radix(h, 16).ok());
                        if let Some(v) = v {
                            put(&mut s, &mut skip, v as char);
                        }
                    }
                    None if t.raw.len() == 2 && matches!(t.raw[1], b'\\' | b'{' | b'}') => {
                        put(&mut s, &mut skip, t.raw[1] as char)
                    }
                    None if t.raw == b"\\~" => put(&mut s, &mut skip, ' '),
                    None => {}
                }
                i += adv;
            }
            b'\r' | b'\n' => i += 1,
            c => {
                put(&mut s, &mut skip, c as char);
                i += 1;
            }
        }
    }
    (s, nested_in_name)
}

/// Rebuilds an RTF document.
pub fn rebuild(input: &[u8], cx: &mut Context<'_>) -> Result<Rebuilt, Blocked> {
    if !input.starts_with(b"{\\rtf") {
        return Err(cx.block(Code::RebuildFailed, "not an RTF document"));
    }
    let max_nesting = cx.policy().limits.max_nesting as usize;
    let max_objects = cx.policy().limits.max_objects;
    let neutralise_links =
        cx.policy().office.hyperlinks == mugai_core::config::LinkAction::Neutralise;
    let b = input;
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut stack: Vec<Group> = Vec::new();
    let mut pict: Option<Pict> = None;
    let mut pict_no = 0usize;
    let mut groups = 0u64;
    // What was dropped without a code of its own, by name, with a count.
    let mut dropped: BTreeMap<String, usize> = BTreeMap::new();
    let mut i = 0usize;
    let emitting = |stack: &[Group]| {
        stack
            .last()
            .is_some_and(|g| matches!(g.kind, Kind::Normal | Kind::FldInst))
    };
    while i < b.len() {
        if i & 0xFFFF == 0 {
            cx.check_deadline()?;
        }
        let in_pict_top = stack.last().is_some_and(|g| g.kind == Kind::Pict);
        match b[i] {
            b'{' => {
                groups += 1;
                if groups > max_objects {
                    return Err(cx.block(
                        Code::LimitCount,
                        format!("more than {max_objects} RTF groups"),
                    ));
                }
                if stack.len() + 1 > max_nesting {
                    return Err(cx.block(
                        Code::LimitDepth,
                        format!("RTF groups nested deeper than {max_nesting} levels"),
                    ));
                }
                let parent = stack.last().map(|g| g.kind);
                let parent_math = stack.last().is_some_and(|g| g.math);
                if stack.is_empty() && i != 0 {
                    // Content after the document's closing brace is not part of it.
                    break;
                }
                let (starred, head, head_end) = group_head(b, i);
                let word = head.map(word_str).unwrap_or("");
                let math = parent_math || word == "mmath";
                let kind = match parent {
                    None => Kind::Normal,
                    Some(Kind::Dropped) | Some(Kind::Pict) => Kind::Dropped,
                    Some(Kind::Object) if word == "result" => {
                        // The object's result is what Word shows: keep it as a plain group.
                        out.push(b'{');
                        stack.push(Group {
                            kind: Kind::Normal,
                            out_start: out.len(),
                            math,
                            written: true,
                            shape_prop: false,
                        });
                        i = head_end;
                        continue;
                    }
                    Some(Kind::Object) => Kind::Dropped,
                    Some(_) => {
                        if word == "object" {
                            cx.removed(
                                Code::RtfObject,
                                format!(
                                    "\\object group at byte {i} removed (its \\result is kept)"
                                ),
                            );
                            Kind::Object
                        } else if OBJECT_DESTS.contains(&word) {
                            cx.removed(
                                Code::RtfObject,
                                format!("\\{word} group at byte {i} removed"),
                            );
                            Kind::Dropped
                        } else if TEMPLATE_DESTS.contains(&word) {
                            cx.removed(
                                Code::RtfTemplate,
                                format!("\\{word} reference at byte {i} removed"),
                            );
                            Kind::Dropped
                        } else if word == "pict" {
                            pict = Some(Pict::default());
                            Kind::Pict
                        } else if word == "fldinst" {
                            Kind::FldInst
                        } else if starred && !(KEPT_STARRED.contains(&word) || parent_math) {
                            let name = if word.is_empty() {
                                "{\\*} without a destination word".to_string()
                            } else {
                                format!("{{\\*\\{word}}}")
                            };
                            *dropped.entry(name).or_default() += 1;
                            Kind::Dropped
                        } else {
                            Kind::Normal
                        }
                    }
                };
                if emitting(&stack) && !matches!(kind, Kind::Normal | Kind::FldInst) {
                    delimit(&mut out);
                }
                if kind == Kind::Pict {
                    stack.push(Group {
                        kind,
                        out_start: out.len(),
                        math,
                        written: false,
                        shape_prop: false,
                    });
                    i = head_end;
                    continue;
                }
                let start = out.len();
                let emit = matches!(kind, Kind::Normal | Kind::FldInst) && emitting(&stack)
                    || stack.is_empty();
                stack.push(Group {
                    kind,
                    out_start: start,
                    math,
                    written: emit,
                    shape_prop: word == "sp",
                });
                // The head is copied as written, unless its word is one the
                // loop below must see (`\bin`, foreign words).
                let head_plain = head.is_some_and(|w| w != b"bin" && !is_foreign_word(w));
                if emit {
                    if head_plain {
                        out.push(b'{');
                        out.extend_from_slice(&b[i + 1..head_end]);
                        i = head_end;
                        continue;
                    }
                    out.push(b'{');
                }
                i += 1;
            }
            b'}' => {
                let Some(g) = stack.pop() else { break };
                match g.kind {
                    Kind::Normal => {
                        if g.written {
                            out.push(b'}');
                        }
                        if g.shape_prop && g.written {
                            let name = shape_prop_name(&out[g.out_start.min(out.len())..]);
                            if LINKED_FILE_PROPS.contains(&name.as_str()) {
                                out.truncate(g.out_start);
                                *dropped
                                    .entry(format!(
                                        "shape property {name} (a linked picture's file)"
                                    ))
                                    .or_default() += 1;
                            }
                        }
                    }
                    Kind::FldInst => {
                        close_instruction(cx, &mut out, g.out_start, i, neutralise_links)
                    }
                    Kind::Pict => {
                        if let Some(p) = pict.take() {
                            pict_no += 1;
                            finish_pict(cx, p, pict_no, &mut out)?;
                        }
                    }
                    Kind::Dropped | Kind::Object => {}
                }
                i += 1;
                if stack.is_empty() {
                    break;
                }
            }
            b'\\' => {
                let t = control(b, i);
                let adv = t.raw.len().max(1);
                if let Some(w) = t.word {
                    if w == b"bin" {
                        let n = param(t.raw, 3).max(0) as usize;
                        let end = (i + adv).saturating_add(n).min(b.len());
                        if in_pict_top {
                            if let Some(p) = pict.as_mut() {
                                p.data.extend_from_slice(&b[i + adv..end]);
                            }
                        } else if emitting(&stack) {
                            // Raw bytes outside a picture show nothing.
                            *dropped.entry("\\bin data".into()).or_default() += 1;
                            delimit(&mut out);
                        }
                        i = end;
                        continue;
                    }
                    let w = word_str(w);
                    if emitting(&stack) && is_foreign_word(w.as_bytes()) {
                        let short: String = w.chars().take(40).collect();
                        *dropped
                            .entry(format!("\\{short} (not an RTF control word)"))
                            .or_default() += 1;
                        delimit(&mut out);
                        i += adv;
                        continue;
                    }
                    // A dangerous destination word that is not first in its group
                    // turns the rest of the group into that destination.
                    let is_obj = w == "object" || OBJECT_DESTS.contains(&w) && w != "objupdate";
                    let is_instr = w == "fldinst";
                    if emitting(&stack) && (is_obj || is_instr || TEMPLATE_DESTS.contains(&w)) {
                        let code = if is_obj {
                            Code::RtfObject
                        } else if is_instr {
                            Code::RtfField
                        } else {
                            Code::RtfTemplate
                        };
                        cx.removed(
                            code,
                            format!("\\{w} at byte {i} removed with the rest of its group"),
                        );
                        if let Some(g) = stack.last_mut() {
                            if g.kind == Kind::FldInst {
                                out.truncate(g.out_start);
                                out.extend_from_slice(b"{\\*\\fldinst }");
                            } else if g.written {
                                // Close what was written; drop what follows.
                                out.push(b'}');
                            }
                            g.kind = Kind::Dropped;
                        }
                        i += adv;
                        continue;
                    }
                }
                if in_pict_top {
                    if let (Some(p), Some(w)) = (pict.as_mut(), t.word.map(word_str)) {
                        match w {
                            "pngblip" => p.blip = Some("pngblip"),
                            "jpegblip" => p.blip = Some("jpegblip"),
                            "emfblip" | "wmetafile" | "macpict" | "pmmetafile" | "dibitmap"
                            | "wbitmap" => p.blip = Some("other"),
                            "picw" | "pich" | "picwgoal" | "pichgoal" | "picscalex"
                            | "picscaley" | "piccropl" | "piccropr" | "piccropt" | "piccropb" => p
                                .words
                                .extend_from_slice(t.raw.strip_suffix(b" ").unwrap_or(t.raw)),
                            _ => {}
                        }
                    }
                } else if emitting(&stack) {
                    out.extend_from_slice(t.raw);
                }
                i += adv;
            }
            c => {
                if in_pict_top {
                    if let Some(p) = pict.as_mut() {
                        if let Some(v) = (c as char).to_digit(16) {
                            match p.nibble.take() {
                                Some(h) => p.data.push(h << 4 | v as u8),
                                None => p.nibble = Some(v as u8),
                            }
                        }
                    }
                } else if emitting(&stack) {
                    out.push(c);
                }
                i += 1;
            }
        }
    }
    // A truncated document: close what is open.
    while let Some(g) = stack.pop() {
        if g.kind == Kind::FldInst {
            close_instruction(cx, &mut out, g.out_start, b.len(), neutralise_links);
        } else if g.kind == Kind::Normal && g.written {
            out.push(b'}');
        }
    }
    for (what, n) in dropped {
        cx.removed(
            Code::RtfDropped,
            format!("{what}: {n} removed (outside the kept list)"),
        );
    }
    if !out.starts_with(b"{\\rtf") {
        return Err(cx.block(Code::RebuildFailed, "RTF header lost in the rebuild"));
    }
    Ok(Rebuilt::new(out, FileType::Rtf))
}

/// Closes a `\fldinst` group written from `start`: judged as Word reads
/// it; an instruction off the kept list gives way to an empty one, so the
/// field shows its result.
fn close_instruction(
    cx: &mut Context<'_>,
    out: &mut Vec<u8>,
    start: usize,
    at: usize,
    neutralise_links: bool,
) {
    let (instr, nested) = instruction_text(&out[start.min(out.len())..]);
    if let Some((danger, detail)) = field::verdict(&instr, nested, neutralise_links) {
        let code = match danger {
            FieldDanger::Hyperlink => Code::OoxmlHyperlink,
            _ => Code::RtfField,
        };
        cx.record(
            code,
            code.default_action(),
            format!("field at byte {at}: {detail}"),
        );
        out.truncate(start);
        out.extend_from_slice(b"{\\*\\fldinst }");
    } else {
        out.push(b'}');
    }
}

/// Writes a rebuilt `\pict` group, or drops it with a finding.
fn finish_pict(cx: &mut Context<'_>, p: Pict, n: usize, out: &mut Vec<u8>) -> Result<(), Blocked> {
    let name = format!("picture{n}");
    let Some(blip @ ("pngblip" | "jpegblip")) = p.blip else {
        cx.removed(
            Code::OfficeUnsupported,
            format!("{name}: metafile/bitmap picture removed (no rebuilder)"),
        );
        return Ok(());
    };
    let _ = blip;
    match cx.member(&name, &p.data) {
        Ok(r) => {
            let word: &[u8] = match r.file_type {
                FileType::Png => b"\\pngblip",
                FileType::Jpeg => b"\\jpegblip",
                other => {
                    cx.removed(
                        Code::OfficeUnsupported,
                        format!("{name}: rebuilt as {other}, which RTF cannot hold; removed"),
                    );
                    return Ok(());
                }
            };
            out.extend_from_slice(b"{\\pict");
            out.extend_from_slice(&p.words);
            out.extend_from_slice(word);
            out.push(b'\n');
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for (k, byte) in r.bytes.iter().enumerate() {
                out.push(HEX[(byte >> 4) as usize]);
                out.push(HEX[(byte & 15) as usize]);
                if k % 64 == 63 {
                    out.push(b'\n');
                }
            }
            out.push(b'}');
        }
        Err(b) => cx.removed(
            Code::OfficeUnsupported,
            format!("{name}: picture removed ({}: {})", b.code, b.detail),
        ),
    }
    Ok(())
}

/// The document text of an RTF file, for fidelity checks: [`plain_text`]
/// (Windows-1252 unless the document names its code page) with every run
/// of white space made one space.
pub fn text_of(b: &[u8]) -> String {
    plain_text(b, encoding_rs::WINDOWS_1252, usize::MAX)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The encoding of a Windows code page as RTF names it (`\ansicpgN`).
pub fn code_page(n: i64) -> Option<&'static encoding_rs::Encoding> {
    Some(match n {
        932 => encoding_rs::SHIFT_JIS,
        936 => encoding_rs::GBK,
        949 => encoding_rs::EUC_KR,
        950 => encoding_rs::BIG5,
        20932 | 51932 => encoding_rs::EUC_JP,
        65001 => encoding_rs::UTF_8,
        866 => encoding_rs::IBM866,
        10000 => encoding_rs::MACINTOSH,
        874 | 1250..=1258 => {
            return encoding_rs::Encoding::for_label(format!("windows-{n}").as_bytes())
        }
        _ => return None,
    })
}

/// The text of an RTF document as a reader sees it, to show it as plain
/// text (a mail body): `\'hh` bytes decoded in the document's code page
/// (`\ansicpgN`, else `fallback`), `\uN` characters (their `\ucN` fallback
/// skipped), paragraphs, lines and cells as line breaks, tabs as tabs, and
/// nothing from ignorable destinations (`{\*...}`: the HTML tags of
/// encapsulated HTML among them) or from fonts, styles, pictures, objects,
/// field instructions and the like. At most `max` bytes of text.
pub fn plain_text(b: &[u8], fallback: &'static encoding_rs::Encoding, max: usize) -> String {
    const SKIP: &[&str] = &[
        "fonttbl",
        "colortbl",
        "stylesheet",
        "info",
        "pict",
        // An object shows its `\result`; nothing else of it.
        "objclass",
        "objdata",
        "objname",
        "objalias",
        "objsect",
        "objtime",
        "template",
        "listtable",
        "listoverridetable",
        "rsidtbl",
        "generator",
        "themedata",
        "colorschememapping",
        "latentstyles",
        "datastore",
        "xmlnstbl",
        "fldinst",
        "header",
        "footer",
        "headerl",
        "headerr",
        "headerf",
        "footerl",
        "footerr",
        "footerf",
        "nonshppict",
        "shpinst",
        "filetbl",
        "revtbl",
        "pgdsctbl",
        "mmathpr",
        "bkmkstart",
        "bkmkend",
        "fonttable",
        "pntext",
        "pntxta",
        "pntxtb",
        "listtext",
    ];
    struct State {
        uc: usize,
        skip: bool,
    }
    let mut enc = fallback;
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let flush = |out: &mut String, pending: &mut Vec<u8>, enc: &'static encoding_rs::Encoding| {
        if !pending.is_empty() {
            let (t, _) = enc.decode_without_bom_handling(pending);
            out.push_str(&t);
            pending.clear();
        }
    };
    let mut stack: Vec<State> = vec![State { uc: 1, skip: false }];
    // Fallback characters still to skip after a `\uN`.
    let mut to_skip = 0usize;
    let mut i = 0;
    while i < b.len() && out.len() + pending.len() < max {
        let skip = stack.last().is_some_and(|s| s.skip);
        match b[i] {
            b'{' => {
                to_skip = 0;
                let uc = stack.last().map_or(1, |s| s.uc);
                let skip_group = skip
                    || destination(b, i)
                        .is_some_and(|(w, _, starred)| starred || SKIP.contains(&word_str(w)));
                if stack.len() < 4096 {
                    stack.push(State {
                        uc,
                        skip: skip_group,
                    });
                }
                i += 1;
            }
            b'}' => {
                to_skip = 0;
                if stack.len() > 1 {
                    stack.pop();
                }
                i += 1;
            }
            b'\\' => {
                let t = control(b, i);
                let n = t.raw.len().max(1);
                if t.word == Some(b"bin") {
                    let len = param(t.raw, 3).max(0) as usize;
                    i = (i + n).saturating_add(len);
                    to_skip = to_skip.saturating_sub(1);
                    continue;
                }
                if to_skip > 0 {
                    to_skip -= 1;
                    i += n;
                    continue;
                }
                match (t.word.map(word_str), skip) {
                    (Some("ansicpg"), _) => {
                        if let Some(e) = code_page(param(t.raw, 7)) {
                            flush(&mut out, &mut pending, enc);
                            enc = e;
                        }
                    }
                    (Some("uc"), _) => {
                        if let Some(s) = stack.last_mut() {
                            s.uc = param(t.raw, 2).clamp(0, 16) as usize;
                        }
                    }
                    (_, true) => {}
                    (Some("par" | "line" | "row" | "sect" | "page"), _) => {
                        flush(&mut out, &mut pending, enc);
                        out.push('\n');
                    }
                    (Some("cell"), _) | (Some("tab"), _) => {
                        flush(&mut out, &mut pending, enc);
                        out.push('\t');
                    }
                    (Some("u"), _) => {
                        flush(&mut out, &mut pending, enc);
                        let v = param(t.raw, 1);
                        let v = if v < 0 { v + 65536 } else { v };
                        out.push(
                            u32::try_from(v)
                                .ok()
                                .and_then(char::from_u32)
                                .unwrap_or('\u{FFFD}'),
                        );
                        to_skip = stack.last().map_or(1, |s| s.uc);
                    }
                    (Some(_), _) => {}
                    (None, _) if t.raw.starts_with(b"\\'") && t.raw.len() == 4 => {
                        if let Ok(v) =
                            u8::from_str_radix(&String::from_utf8_lossy(&t.raw[2..4]), 16)
                        {
                            pending.push(v);
                        }
                    }
                    (None, _) if t.raw.len() == 2 && matches!(t.raw[1], b'\\' | b'{' | b'}') => {
                        pending.push(t.raw[1]);
                    }
                    (None, _) if t.raw == b"\\~" => pending.push(b' '),
                    (None, _) => {}
                }
                i += n;
            }
            b'\r' | b'\n' => i += 1,
            c => {
                if to_skip > 0 {
                    to_skip -= 1;
                } else if !skip {
                    pending.push(c);
                }
                i += 1;
            }
        }
    }
    flush(&mut out, &mut pending, enc);
    // Trailing spaces on lines, and runs of blank lines, say nothing.
    let mut text = String::with_capacity(out.len());
    let mut blank = 0;
    for line in out.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.trim_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rewrite of `rtf`, and the codes found.
    fn run(rtf: &str) -> (String, Vec<Code>) {
        let p = mugai_core::Policy::default();
        let b = mugai_core::Budget::new(&p.limits);
        let mut cx = Context::new(&p, &b, &mugai_core::NoMembers, None);
        let r = rebuild(rtf.as_bytes(), &mut cx).expect("rebuilt");
        let codes = cx.findings().iter().map(|f| f.code).collect();
        let out = String::from_utf8_lossy(&r.bytes).into_owned();
        // Fixpoint: the output rebuilds to itself without findings.
        let mut cx2 = Context::new(&p, &b, &mugai_core::NoMembers, None);
        let again = rebuild(out.as_bytes(), &mut cx2).expect("rebuilt again");
        assert_eq!(String::from_utf8_lossy(&again.bytes), out, "fixpoint");
        assert!(cx2.findings().is_empty(), "{:?}", cx2.findings());
        (out, codes)
    }

    #[test]
    fn plain_text_decodes_code_pages_and_unicode() {
        let rtf = b"{\\rtf1\\ansi\\ansicpg932{\\fonttbl{\\f0 MS Mincho;}}{\\*\\htmltag <b>}\\f0 \\'82\\'b1\\'82\\'f1 A\\par \\uc1\\u26085?\\u26412?\\tab x{\\object{\\*\\objdata 01}}\\par}";
        let t = plain_text(rtf, encoding_rs::WINDOWS_1252, 1 << 20);
        assert_eq!(t, "\u{3053}\u{3093} A\n\u{65E5}\u{672C}\tx");
        // Bounded.
        assert!(
            plain_text(rtf, encoding_rs::WINDOWS_1252, 4)
                .chars()
                .count()
                <= 8
        );
    }

    #[test]
    fn upper_case_bin_is_not_bin() {
        // Word reads `\BIN` as an unknown word and the object that follows
        // as RTF: so must the rewrite.
        let (out, codes) = run(
            "{\\rtf1 a\\BIN40 {\\object\\objemb{\\*\\objclass Equation.3}{\\*\\objdata 0105}}b}",
        );
        assert!(!out.contains("objdata") && !out.contains("BIN"), "{out}");
        assert!(codes.contains(&Code::RtfObject), "{codes:?}");
        assert!(codes.contains(&Code::RtfDropped), "{codes:?}");
        assert!(out.contains('a') && out.contains('b'));
    }

    #[test]
    fn an_object_gives_way_to_its_result() {
        let (out, codes) = run(
            "{\\rtf1 {\\object\\objemb{\\*\\objclass P}{\\result {\\fs20 {\\pict\\wmetafile8 \\bin3 }}}}}}}{\\tab end}}",
        );
        assert_eq!(out, "{\\rtf1 {{\\fs20 }}{\\tab end}}");
        assert_eq!(codes, vec![Code::RtfObject, Code::OfficeUnsupported]);
    }

    #[test]
    fn a_removed_group_does_not_glue_a_word_to_the_text() {
        let (out, _) = run("{\\rtf1\\lang2057{\\*\\listtag0} or\\b{\\*\\x}1}");
        assert_eq!(out, "{\\rtf1\\lang2057  or\\b 1}");
        assert_eq!(text_of(out.as_bytes()), "or1");
    }

    #[test]
    fn linked_picture_names_go() {
        let (out, codes) = run(
            "{\\rtf1{\\shp{\\*\\shpinst{\\sp{\\sn pibName}{\\sv \\\\\\\\host\\\\x.png}}{\\sp{\\sn pibFlags}{\\sv 10}}}}}",
        );
        assert_eq!(
            out,
            "{\\rtf1{\\shp{\\*\\shpinst{\\sp{\\sn pibFlags}{\\sv 10}}}}}"
        );
        assert_eq!(codes, vec![Code::RtfDropped]);
    }

    #[test]
    fn bin_data_is_skipped_as_data() {
        let (out, codes) = run("{\\rtf1 a\\bin5 {\\obj b}");
        assert_eq!(out, "{\\rtf1 a b}");
        assert_eq!(codes, vec![Code::RtfDropped]);
    }

    #[test]
    fn field_instructions_are_joined_without_separators() {
        let (out, codes) = run(
            "{\\rtf1 {\\field{\\*\\fldinst {DD}{\\b EA}U\\'54O c:\\\\cmd.exe}{\\fldrslt shown}}}",
        );
        assert_eq!(codes, vec![Code::RtfField], "{out}");
        assert!(!out.contains("cmd") && out.contains("shown"), "{out}");
        // \u with a skipped fallback character builds the name as well.
        let (out, codes) = run(
            "{\\rtf1 {\\field{\\*\\fldinst \\uc1\\u68 xDE{\\*\\bkmkstart q}AUTO x}{\\fldrslt r}}}",
        );
        assert_eq!(codes, vec![Code::RtfField], "{out}");
    }

    #[test]
    fn nested_field_in_the_name_is_removed() {
        let (out, codes) = run(
            "{\\rtf1 {\\field{\\*\\fldinst {\\field{\\*\\fldinst QUOTE \"DDEAUTO\"}{\\fldrslt DDEAUTO}} c:\\\\x}{\\fldrslt kept}}}",
        );
        assert_eq!(codes, vec![Code::RtfField], "{out}");
        assert!(out.contains("kept") && !out.contains("QUOTE"), "{out}");
    }

    #[test]
    fn kept_fields_and_destinations_stay() {
        let src = "{\\rtf1{\\*\\generator W;}{\\field{\\*\\fldinst { PAGE \\\\* MERGEFORMAT }}{\\fldrslt 1}}{\\*\\bkmkstart a}x}";
        let (out, codes) = run(src);
        assert_eq!(out, src);
        assert!(codes.is_empty());
        let (out, codes) = run("{\\rtf1{\\*\\themedata 504b}{\\*\\foo bar}x}");
        assert_eq!(out, "{\\rtf1 x}");
        assert_eq!(codes, vec![Code::RtfDropped, Code::RtfDropped]);
        let (_, codes) = run("{\\rtf1 {\\field{\\*\\fldinst MACROBUTTON Go}{\\fldrslt x}}}");
        assert_eq!(codes, vec![Code::RtfField]);
    }

    #[test]
    fn control_words_are_tokenised() {
        let b = b"\\objdata0105 x";
        let t = control(b, 0);
        assert_eq!(t.word, Some(&b"objdata"[..]));
        assert_eq!(t.raw, b"\\objdata0105 ");
        let t = control(b"\\'e9abc", 0);
        assert_eq!(t.raw, b"\\'e9");
        assert_eq!(
            destination(b"{\\*\\template http://x}", 0).map(|d| d.0),
            Some(&b"template"[..])
        );
    }

    #[test]
    fn text_skips_tables_and_objects() {
        let t = text_of(
            b"{\\rtf1{\\fonttbl{\\f0 Arial;}}\\pard Hello\\par {\\object{\\*\\objdata 0102}}World}",
        );
        assert_eq!(t, "Hello World");
    }
}
