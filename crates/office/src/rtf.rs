//! RTF: a tokenising rewrite.
//!
//! Groups, control words and text are copied token by token, except
//! `\object` groups (replaced by their `\result`, the picture Word shows),
//! stray object destinations (`\objdata`, `\objclass`, `\datastore`, ...),
//! `\*\template` and fields that fetch or run things (`DDEAUTO`,
//! `INCLUDEPICTURE`, ...). Pictures are decoded and handed to the image
//! rules; pictures no rebuilder handles (WMF, EMF, ...) are dropped.

use mugai_core::{Blocked, Code, Context, FileType, Rebuilt};

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
    if j < b.len() && b[j] == b'-' {
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

/// The destination word opening the group whose `{` is at `i`, and the
/// position just after it (skipping `\*`).
fn destination(b: &[u8], i: usize) -> Option<(&[u8], usize, bool)> {
    let mut j = i + 1;
    let mut starred = false;
    while j < b.len() && matches!(b[j], b'\r' | b'\n' | b' ') {
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
            return Some((w, j + t.raw.len(), starred));
        }
    }
    None
}

fn ascii(w: &[u8]) -> String {
    String::from_utf8_lossy(w).to_ascii_lowercase()
}

/// Plain text of a field instruction as written (control words dropped).
fn instr_text(b: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let t = control(b, i);
                if t.word.is_none() && t.raw.len() >= 2 && t.raw[1] != b'\'' && t.raw[1] != b'*' {
                    s.push(t.raw[1] as char);
                } else if t.word.is_some() {
                    s.push(' ');
                }
                i += t.raw.len().max(1);
            }
            b'{' | b'}' => {
                s.push(' ');
                i += 1;
            }
            c => {
                s.push(c as char);
                i += 1;
            }
        }
    }
    s
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
                if stack.is_empty() && i != 0 {
                    // Content after the document's closing brace is not part of it.
                    break;
                }
                let dest = destination(b, i);
                let word = dest.map(|(w, _, _)| ascii(w)).unwrap_or_default();
                let kind = match parent {
                    None => Kind::Normal,
                    Some(Kind::Dropped) | Some(Kind::Pict) => Kind::Dropped,
                    Some(Kind::Object) if word == "result" => {
                        // The object's result is what Word shows: keep it as a plain group.
                        out.push(b'{');
                        stack.push(Group {
                            kind: Kind::Normal,
                            out_start: out.len(),
                        });
                        i = dest.map(|(_, e, _)| e).unwrap_or(i + 1);
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
                        } else if OBJECT_DESTS.contains(&word.as_str()) {
                            cx.removed(
                                Code::RtfObject,
                                format!("\\{word} group at byte {i} removed"),
                            );
                            Kind::Dropped
                        } else if TEMPLATE_DESTS.contains(&word.as_str()) {
                            cx.removed(
                                Code::RtfTemplate,
                                format!("\\{word} reference at byte {i} removed"),
                            );
                            Kind::Dropped
                        } else if word == "pict" {
                            pict = Some(Pict::default());
                            Kind::Pict
                        } else if word == "fldinst" && parent != Some(Kind::FldInst) {
                            Kind::FldInst
                        } else {
                            Kind::Normal
                        }
                    }
                };
                if kind == Kind::Pict {
                    stack.push(Group {
                        kind,
                        out_start: out.len(),
                    });
                    i = dest.map(|(_, e, _)| e).unwrap_or(i + 1);
                    continue;
                }
                let start = out.len();
                if matches!(kind, Kind::Normal | Kind::FldInst) && emitting(&stack)
                    || stack.is_empty()
                {
                    out.push(b'{');
                }
                stack.push(Group {
                    kind,
                    out_start: start,
                });
                i += 1;
            }
            b'}' => {
                let Some(g) = stack.pop() else { break };
                let parent_emits = emitting(&stack);
                match g.kind {
                    Kind::Normal => {
                        if parent_emits || stack.is_empty() {
                            out.push(b'}');
                        }
                    }
                    Kind::FldInst => {
                        let instr = instr_text(&out[g.out_start.min(out.len())..]);
                        if let Some((code, detail)) = crate::xml::field_danger(
                            instr
                                .trim_start_matches(|c: char| c == '{' || c.is_whitespace())
                                .trim_start_matches("\\*"),
                            false,
                            neutralise_links,
                        )
                        .map(|(c, d)| (rtf_code(c), d))
                        {
                            cx.record(
                                code,
                                code.default_action(),
                                format!("field at byte {i}: {detail}"),
                            );
                            out.truncate(g.out_start);
                            // An empty instruction keeps the field's shown result.
                            out.extend_from_slice(b"{\\*\\fldinst }");
                        } else {
                            out.push(b'}');
                        }
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
                let word = t.word.map(ascii);
                if let Some(w) = word.as_deref() {
                    if w == "bin" {
                        let n = param(t.raw, 3).max(0) as usize;
                        let end = (i + adv).saturating_add(n).min(b.len());
                        if in_pict_top {
                            if let Some(p) = pict.as_mut() {
                                p.data.extend_from_slice(&b[i + adv..end]);
                            }
                        } else if emitting(&stack) {
                            out.extend_from_slice(&b[i..end]);
                        }
                        i = end;
                        continue;
                    }
                    // A dangerous destination word that is not first in its group
                    // turns the rest of the group into that destination.
                    let is_obj = w == "object" || OBJECT_DESTS.contains(&w) && w != "objupdate";
                    if emitting(&stack) && (is_obj || TEMPLATE_DESTS.contains(&w)) {
                        let code = if is_obj {
                            Code::RtfObject
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
                            } else {
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
                    if let (Some(p), Some(w)) = (pict.as_mut(), word.as_deref()) {
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
        if matches!(g.kind, Kind::Normal | Kind::FldInst) && (emitting(&stack) || stack.is_empty())
        {
            out.push(b'}');
        }
    }
    if !out.starts_with(b"{\\rtf") {
        return Err(cx.block(Code::RebuildFailed, "RTF header lost in the rebuild"));
    }
    Ok(Rebuilt::new(out, FileType::Rtf))
}

fn rtf_code(c: Code) -> Code {
    match c {
        Code::OoxmlDde => Code::RtfObject,
        Code::OoxmlExternalRel => Code::RtfTemplate,
        Code::OoxmlHyperlink => Code::OoxmlHyperlink,
        other => other,
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

/// The document text of an RTF file (for fidelity checks): text outside
/// ignorable destinations, with `\'hh` as Windows-1252/CP932 bytes kept
/// as raw byte values.
pub fn text_of(b: &[u8]) -> String {
    const SKIP: &[&str] = &[
        "fonttbl",
        "colortbl",
        "stylesheet",
        "info",
        "pict",
        "objclass",
        "objdata",
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
        "footerl",
        "footerr",
        "nonshppict",
        "shpinst",
        "filetbl",
        "revtbl",
        "pgdsctbl",
        "mmathpr",
        "bkmkstart",
        "bkmkend",
    ];
    let mut s = String::new();
    let mut skip_depth: Option<usize> = None;
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                if skip_depth.is_none() {
                    if let Some((w, _, starred)) = destination(b, i) {
                        if starred || SKIP.contains(&ascii(w).as_str()) {
                            skip_depth = Some(depth);
                        }
                    }
                }
                i += 1;
            }
            b'}' => {
                if skip_depth == Some(depth) {
                    skip_depth = None;
                }
                depth = depth.saturating_sub(1);
                i += 1;
                if depth == 0 {
                    // The document ends with its outermost group.
                    break;
                }
            }
            b'\\' => {
                let t = control(b, i);
                if t.word == Some(b"bin") {
                    // Binary data is skipped wherever it is.
                    let n = param(t.raw, 3).max(0) as usize;
                    i = (i + t.raw.len()).saturating_add(n);
                    continue;
                }
                if skip_depth.is_none() {
                    match t.word.map(ascii).as_deref() {
                        Some("par") | Some("line") | Some("tab") | Some("cell") => s.push(' '),
                        Some("bin") => {
                            let n = param(t.raw, 3).max(0) as usize;
                            i = (i + t.raw.len()).saturating_add(n);
                            continue;
                        }
                        Some(_) => {}
                        None if t.raw.starts_with(b"\\'") && t.raw.len() == 4 => {
                            if let Ok(v) =
                                u8::from_str_radix(&String::from_utf8_lossy(&t.raw[2..4]), 16)
                            {
                                s.push(v as char);
                            }
                        }
                        None if t.raw.len() == 2 && matches!(t.raw[1], b'\\' | b'{' | b'}') => {
                            s.push(t.raw[1] as char)
                        }
                        None => {}
                    }
                }
                i += t.raw.len().max(1);
            }
            b'\r' | b'\n' => i += 1,
            c => {
                if skip_depth.is_none() {
                    s.push(c as char);
                }
                i += 1;
            }
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

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
