//! Event-stream rewriting of OOXML XML parts.
//!
//! Every XML part that is kept is re-serialised event by event: elements
//! and attributes are copied verbatim (unknown namespaces included), except
//! references to relationships that were dropped, Word fields that fetch or
//! run things (DDE, INCLUDETEXT, ...), Excel DDE formulas and auto-run names.

use mugai_core::{Blocked, Code, Context};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer};
use std::collections::HashSet;

/// What the rewrite of one part must do.
pub struct XmlRules<'a> {
    /// Relationship ids of this part that were dropped.
    pub dropped_ids: &'a HashSet<String>,
    /// Neutralise `HYPERLINK` field codes (policy `office.hyperlinks`).
    pub neutralise_hyperlinks: bool,
    /// The part is a spreadsheet part: check `<f>` formulas and names.
    pub spreadsheet: bool,
}

/// Counts elements across the whole package against `limits.max_objects`.
#[derive(Debug, Default)]
pub struct ElementBudget {
    pub elements: u64,
}

/// Elements that cannot stand without the relationship they name: when it
/// is dropped, the element goes with it.
const DROP_WITH_REF: &[&str] = &[
    "attachedTemplate",
    "externalReference",
    "sheet",
    "control",
    "OLEObject",
    "oleObject",
    "hlinkClick",
    "hlinkHover",
    "hlinkMouseOver",
    "subDoc",
    "altChunk",
    "frame",
];

/// The verdict on a Word field instruction, with the OOXML finding code:
/// `None` keeps it.
pub fn field_danger(
    instr: &str,
    nested_in_name: bool,
    neutralise_links: bool,
) -> Option<(Code, String)> {
    use crate::field::FieldDanger;
    crate::field::verdict(instr, nested_in_name, neutralise_links).map(|(d, detail)| {
        let code = match d {
            FieldDanger::Dde => Code::OoxmlDde,
            FieldDanger::Fetch => Code::OoxmlExternalRel,
            FieldDanger::Hyperlink => Code::OoxmlHyperlink,
            FieldDanger::NotKept => Code::OoxmlField,
        };
        (code, detail)
    })
}

/// An Excel formula that calls another application through DDE
/// (`=cmd|' /c calc'!A0`): a `|` outside string literals.
pub fn formula_is_dde(f: &str) -> bool {
    let mut in_str = false;
    for c in f.chars() {
        match c {
            '"' => in_str = !in_str,
            '|' if !in_str => return true,
            _ => {}
        }
    }
    false
}

/// Functions that call other programs, add-ins or servers, or fetch.
const CALLOUT_FUNCTIONS: &[&str] = &[
    "CALL",
    "DIRECTORY",
    "EXEC",
    "FCLOSE",
    "FILES",
    "FOPEN",
    "FREAD",
    "FREADLN",
    "FWRITE",
    "FWRITELN",
    "IMAGE",
    "REGISTER",
    "REGISTER.ID",
    "RTD",
    "RUN",
    "SQL.REQUEST",
    "WEBSERVICE",
];

/// Why a spreadsheet formula or defined name calls out, if it does: DDE
/// (`cmd|' /c calc'!A0`), a function on the call-out list or in an XLL
/// add-in, or a reference into another workbook (`[1]Sheet1!A1`,
/// `'\\host\share\[b.xlsx]S'!A1`).
pub fn formula_danger(f: &str) -> Option<(Code, String)> {
    let short: String = f.chars().filter(|c| !c.is_control()).take(80).collect();
    if formula_is_dde(f) {
        return Some((Code::OoxmlDde, format!("DDE formula: {short}")));
    }
    let c: Vec<char> = f.chars().collect();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '"' => {
                // A string literal ("" is a quote inside it).
                i += 1;
                while i < c.len() {
                    if c[i] == '"' {
                        if c.get(i + 1) == Some(&'"') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            '\'' => {
                // A quoted sheet name: a workbook in it is another file.
                let start = i + 1;
                i += 1;
                while i < c.len() {
                    if c[i] == '\'' {
                        if c.get(i + 1) == Some(&'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                let name: String = c[start..i.min(c.len())].iter().collect();
                if name.contains('[') || name.contains('\\') || name.contains(':') {
                    return Some((
                        Code::OoxmlField,
                        format!("reference into another workbook: {short}"),
                    ));
                }
                i += 1;
            }
            '[' => {
                let start = i + 1;
                let end = c[start..].iter().position(|&x| x == ']').map(|p| start + p);
                if let Some(end) = end {
                    let inner: String = c[start..end].iter().collect();
                    if !inner.is_empty()
                        && inner.chars().all(|x| x.is_ascii_digit())
                        && !inner.trim_start_matches('0').is_empty()
                    {
                        return Some((
                            Code::OoxmlField,
                            format!("reference into another workbook [{inner}]: {short}"),
                        ));
                    }
                }
                i += 1;
            }
            x if x.is_alphabetic() || x == '_' => {
                let start = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '.') {
                    i += 1;
                }
                let mut j = i;
                while j < c.len() && c[j] == ' ' {
                    j += 1;
                }
                if c.get(j) == Some(&'(') {
                    let name: String = c[start..i].iter().collect::<String>().to_uppercase();
                    let bare = name
                        .trim_start_matches("_XLFN.")
                        .trim_start_matches("_XLWS.");
                    if bare.starts_with("_XLL.") || CALLOUT_FUNCTIONS.contains(&bare) {
                        return Some((
                            Code::OoxmlField,
                            format!("formula calling {bare}: {short}"),
                        ));
                    }
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Defined names Excel runs on open or close (XLM auto macros).
fn is_auto_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let n = n.trim_start_matches("_xlnm.");
    [
        "auto_open",
        "auto_close",
        "auto_activate",
        "auto_deactivate",
    ]
    .iter()
    .any(|a| n.starts_with(a))
}

/// The text of an XML part as `str` (UTF-8 with or without BOM, UTF-16).
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8(rest.to_vec()).map_err(|_| "invalid UTF-8".to_string());
    }
    let utf16 = |rest: &[u8], le: bool| {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| "invalid UTF-16".to_string())
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, false);
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| "invalid UTF-8".to_string())
}

/// Legacy VML parts carry HTML-style conditional markers (`<![if !vml]>`,
/// `<![endif]>`) that are not XML; they mean nothing to a reader of OOXML.
fn strip_vml_conditionals(text: String) -> String {
    if !text.contains("<![if") && !text.contains("<![endif]>") {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find("<![") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("<![if") || tail.starts_with("<![endif]") {
            match tail.find("]>") {
                Some(j) => rest = &tail[j + 2..],
                None => {
                    rest = "";
                }
            }
        } else {
            out.push_str("<![");
            rest = &tail[3..];
        }
    }
    out.push_str(rest);
    out
}

/// Resolves the predefined and character references of XML.
pub fn resolve_ref(name: &str) -> String {
    match name {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        _ => {
            let code = if let Some(h) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
            {
                u32::from_str_radix(h, 16).ok()
            } else if let Some(d) = name.strip_prefix('#') {
                d.parse().ok()
            } else {
                None
            };
            code.and_then(char::from_u32)
                .map(String::from)
                .unwrap_or_default()
        }
    }
}

/// An attribute's value with references resolved.
#[allow(deprecated)] // `normalized_value` would also fold whitespace, which targets must keep
pub fn attr_value<'a>(a: &Attribute<'a>) -> quick_xml::Result<std::borrow::Cow<'a, str>> {
    a.unescape_value()
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn reader(text: &str) -> Reader<&[u8]> {
    let mut r = Reader::from_reader(text.as_bytes());
    let c = r.config_mut();
    c.trim_text(false);
    c.check_end_names = true;
    c.expand_empty_elements = false;
    r
}

/// One Word complex field seen in the first pass.
struct FieldScan {
    instr: String,
    /// The text the field shows (between `separate` and `end`): what a
    /// field nested in another's instruction contributes to it.
    result: String,
    in_instr: bool,
    computed_name: bool,
}

/// First pass over a part: the verdict of each complex field, in the order
/// of their `begin` marks.
fn scan_fields(text: &str, neutralise_links: bool) -> Result<Vec<Option<(Code, String)>>, String> {
    let mut r = reader(text);
    let mut stack: Vec<(usize, FieldScan)> = Vec::new();
    let mut verdicts: Vec<Option<(Code, String)>> = Vec::new();
    let mut in_instr_text = false;
    let mut in_result_text = false;
    loop {
        match r.read_event().map_err(|e| e.to_string())? {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if local(e.name().0) == "fldChar" => {
                let kind = attr(&e, "fldCharType").unwrap_or_default();
                match kind.as_str() {
                    "begin" => {
                        if let Some((_, parent)) = stack.last_mut() {
                            // A nested field before the name is complete
                            // builds (part of) the name.
                            if parent.in_instr
                                && !parent.instr.trim_start().contains(char::is_whitespace)
                            {
                                parent.computed_name = true;
                            }
                        }
                        verdicts.push(None);
                        stack.push((
                            verdicts.len() - 1,
                            FieldScan {
                                instr: String::new(),
                                result: String::new(),
                                in_instr: true,
                                computed_name: false,
                            },
                        ));
                    }
                    "separate" => {
                        if let Some((_, f)) = stack.last_mut() {
                            f.in_instr = false;
                        }
                    }
                    "end" => {
                        if let Some((i, f)) = stack.pop() {
                            if let Some(v) = verdicts.get_mut(i) {
                                *v = field_danger(&f.instr, f.computed_name, neutralise_links);
                            }
                            // Word reads a nested field as its result.
                            if let Some((_, parent)) = stack.last_mut() {
                                if parent.in_instr && parent.instr.len() < 1 << 16 {
                                    parent.instr.push_str(&f.result);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::Start(e) if matches!(local(e.name().0), "instrText" | "delInstrText") => {
                in_instr_text = true
            }
            Event::End(e) if matches!(local(e.name().0), "instrText" | "delInstrText") => {
                in_instr_text = false
            }
            Event::Start(e) if matches!(local(e.name().0), "t" | "delText") => {
                in_result_text = true
            }
            Event::End(e) if matches!(local(e.name().0), "t" | "delText") => in_result_text = false,
            Event::Text(t) if in_result_text => {
                if let Some((_, f)) = stack.last_mut() {
                    if !f.in_instr && f.result.len() < 1 << 16 {
                        f.result.push_str(&t);
                    }
                }
            }
            Event::Text(t) if in_instr_text => {
                if let Some((_, f)) = stack.last_mut() {
                    if f.in_instr && f.instr.len() < 1 << 16 {
                        f.instr.push_str(&t);
                    }
                }
            }
            Event::GeneralRef(g) if in_instr_text => {
                if let Some((_, f)) = stack.last_mut() {
                    if f.in_instr && f.instr.len() < 1 << 16 {
                        f.instr.push_str(&resolve_ref(&g));
                    }
                }
            }
            _ => {}
        }
    }
    // Fields never closed: judge what they hold.
    for (i, f) in stack {
        if let Some(v) = verdicts.get_mut(i) {
            *v = field_danger(&f.instr, f.computed_name, neutralise_links);
        }
    }
    Ok(verdicts)
}

fn attr(e: &BytesStart<'_>, local_name: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (local(a.key.0) == local_name).then(|| {
            crate::xml::attr_value(&a)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.to_string())
        })
    })
}

/// A field open in the second pass.
struct OpenField {
    dangerous: bool,
    in_instr: bool,
}

/// Rewrites one XML part. Findings go to `cx`, named by `part`.
pub fn rewrite(
    cx: &mut Context<'_>,
    part: &str,
    bytes: &[u8],
    rules: &XmlRules<'_>,
    budget: &mut ElementBudget,
) -> Result<Vec<u8>, Blocked> {
    let text = decode(bytes).map_err(|e| cx.block(Code::RebuildFailed, format!("{part}: {e}")))?;
    let text = strip_vml_conditionals(text);
    let has_fields = text.contains("fldChar");
    let verdicts = if has_fields {
        scan_fields(&text, rules.neutralise_hyperlinks)
            .map_err(|e| cx.block(Code::RebuildFailed, format!("{part}: malformed XML: {e}")))?
    } else {
        Vec::new()
    };
    for (code, detail) in verdicts.iter().flatten() {
        cx.record(*code, code.default_action(), format!("{part}: {detail}"));
    }

    let limits = &cx.policy().limits;
    let max_nesting = limits.max_nesting as usize;
    let max_objects = limits.max_objects;
    let mut r = reader(&text);
    let mut w = Writer::new(Vec::with_capacity(bytes.len()));
    let mut depth: usize = 0;
    // While Some(d): skipping the subtree opened at depth d.
    let mut skip: Option<usize> = None;
    // Elements whose start and end tags are dropped but whose content stays.
    let mut unwrap_at: Vec<usize> = Vec::new();
    let mut fields: Vec<OpenField> = Vec::new();
    let mut field_no = 0usize;
    // A buffered `<f>` formula or `<definedName>`: its events, its text,
    // its depth, and whether it is a name.
    let mut formula: Option<(Vec<Event<'static>>, String, usize, bool)> = None;
    let fail = |cx: &Context<'_>, e: String| {
        cx.block(Code::RebuildFailed, format!("{part}: malformed XML: {e}"))
    };
    let wio =
        |cx: &Context<'_>, e: std::io::Error| cx.block(Code::RebuildFailed, format!("{part}: {e}"));

    loop {
        let ev = r.read_event().map_err(|e| fail(cx, e.to_string()))?;
        let ev = match ev {
            Event::Eof => break,
            Event::DocType(_) => {
                return Err(cx.block(
                    Code::RebuildFailed,
                    format!("{part}: DTD in a package part"),
                ))
            }
            // Comments and processing instructions carry nothing a reader needs.
            Event::Comment(_) | Event::PI(_) => continue,
            other => other,
        };
        let is_start = matches!(ev, Event::Start(_));
        let is_end = matches!(ev, Event::End(_));
        if let Event::Start(_) | Event::Empty(_) = ev {
            budget.elements += 1;
            if budget.elements > max_objects {
                return Err(cx.block(
                    Code::LimitCount,
                    format!("more than {max_objects} XML elements in the package"),
                ));
            }
        }
        if is_start {
            depth += 1;
            if depth > max_nesting {
                return Err(cx.block(
                    Code::LimitDepth,
                    format!("{part}: XML nested deeper than {max_nesting} levels"),
                ));
            }
        }
        // Skipping a subtree.
        if let Some(d) = skip {
            if is_end {
                if depth == d {
                    skip = None;
                }
                depth = depth.saturating_sub(1);
            }
            continue;
        }
        // Inside a buffered formula.
        if let Some((buf, ftext, fdepth, _)) = formula.as_mut() {
            match &ev {
                Event::Text(t) => ftext.push_str(t),
                Event::GeneralRef(g) => ftext.push_str(&resolve_ref(g)),
                _ => {}
            }
            let closes = is_end && depth == *fdepth;
            buf.push(ev.into_owned());
            if is_end {
                depth = depth.saturating_sub(1);
            }
            if closes {
                if let Some((buf, ftext, _, is_name)) = formula.take() {
                    if let Some((code, detail)) = formula_danger(&ftext) {
                        let what = if is_name {
                            "defined name removed"
                        } else {
                            "formula removed (cached value kept)"
                        };
                        cx.removed(code, format!("{part}: {what}: {detail}"));
                    } else {
                        for e in buf {
                            w.write_event(e).map_err(|e| wio(cx, e))?;
                        }
                    }
                }
            }
            continue;
        }
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().0.to_string();
                let lname = local(&name).to_string();
                let empty = !is_start;
                // Word complex fields.
                let in_bad_instr = fields.iter().any(|f| f.dangerous && f.in_instr);
                if lname == "fldChar" {
                    let kind = attr(&e, "fldCharType").unwrap_or_default();
                    let mut drop = false;
                    match kind.as_str() {
                        "begin" => {
                            let dangerous = verdicts.get(field_no).is_some_and(|v| v.is_some());
                            field_no += 1;
                            drop = dangerous || in_bad_instr;
                            fields.push(OpenField {
                                dangerous: dangerous || in_bad_instr,
                                in_instr: true,
                            });
                        }
                        "separate" => {
                            if let Some(f) = fields.last_mut() {
                                f.in_instr = false;
                                drop = f.dangerous;
                            }
                        }
                        "end" => {
                            if let Some(f) = fields.pop() {
                                drop = f.dangerous;
                            }
                        }
                        _ => {}
                    }
                    if drop {
                        if is_start {
                            skip = Some(depth);
                        }
                        continue;
                    }
                }
                // Inside a removed instruction, nested fields' results are
                // part of the instruction: they go with it.
                if matches!(lname.as_str(), "t" | "delText") && in_bad_instr {
                    if is_start {
                        skip = Some(depth);
                    }
                    continue;
                }
                if matches!(lname.as_str(), "instrText" | "delInstrText")
                    && fields.last().is_some_and(|f| f.dangerous && f.in_instr)
                {
                    if is_start {
                        skip = Some(depth);
                    }
                    continue;
                }
                if lname == "fldSimple" {
                    let instr = attr(&e, "instr").unwrap_or_default();
                    if let Some((code, detail)) =
                        field_danger(&instr, false, rules.neutralise_hyperlinks)
                    {
                        cx.record(code, code.default_action(), format!("{part}: {detail}"));
                        // Keep the field's result runs, drop the field.
                        if is_start {
                            unwrap_at.push(depth);
                        }
                        continue;
                    }
                }
                // A mail merge data source is queried when the document opens.
                if lname == "mailMerge" && name.starts_with("w:") {
                    cx.removed(
                        Code::OoxmlDataConnection,
                        format!("{part}: mail merge data source removed"),
                    );
                    if is_start {
                        skip = Some(depth);
                    }
                    continue;
                }
                // PowerPoint actions that run programs or macros.
                if matches!(
                    lname.as_str(),
                    "hlinkClick" | "hlinkHover" | "hlinkMouseOver"
                ) {
                    let action = attr(&e, "action").unwrap_or_default().to_ascii_lowercase();
                    let code = if action.starts_with("ppaction://macro") {
                        Some(Code::OoxmlVba)
                    } else if action.starts_with("ppaction://program")
                        || action.starts_with("ppaction://ole")
                    {
                        Some(Code::OoxmlExternalRel)
                    } else {
                        None
                    };
                    if let Some(code) = code {
                        cx.removed(code, format!("{part}: {lname} action {action} removed"));
                        if is_start {
                            skip = Some(depth);
                        }
                        continue;
                    }
                }
                if rules.spreadsheet {
                    if lname == "f" && is_start {
                        formula = Some((
                            vec![Event::Start(e.into_owned())],
                            String::new(),
                            depth,
                            false,
                        ));
                        continue;
                    }
                    if lname == "definedName" {
                        let n = attr(&e, "name").unwrap_or_default();
                        if is_auto_name(&n) {
                            cx.removed(
                                Code::OoxmlXlmMacro,
                                format!("{part}: auto-run name {n} removed"),
                            );
                            if is_start {
                                skip = Some(depth);
                            }
                            continue;
                        }
                        if is_start {
                            formula = Some((
                                vec![Event::Start(e.into_owned())],
                                String::new(),
                                depth,
                                true,
                            ));
                            continue;
                        }
                    }
                    if lname == "externalReferences" && !rules.dropped_ids.is_empty() {
                        // Every external link part is dropped: the list goes.
                        if is_start {
                            skip = Some(depth);
                        }
                        continue;
                    }
                }
                // References to dropped relationships.
                let mut refs_dropped = false;
                let mut keep: Vec<Attribute<'_>> = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|err| fail(cx, err.to_string()))?;
                    let key = a.key.0;
                    if key.contains(':')
                        && !key.starts_with("xmlns")
                        && rules.dropped_ids.contains(a.value.as_ref())
                    {
                        refs_dropped = true;
                        continue;
                    }
                    // Ties to data connections, which are never kept.
                    if rules.spreadsheet
                        && (matches!(key, "connectionId" | "queryTableFieldId" | "refreshOnLoad")
                            || key == "tableType" && a.value.as_ref() == "queryTable")
                    {
                        refs_dropped = true;
                        continue;
                    }
                    keep.push(a);
                }
                if refs_dropped && DROP_WITH_REF.contains(&lname.as_str()) {
                    if is_start {
                        skip = Some(depth);
                    }
                    continue;
                }
                let out = if refs_dropped {
                    let mut s = BytesStart::new(name.as_str());
                    for a in keep {
                        s.push_attribute(a);
                    }
                    s
                } else {
                    e
                };
                let ev = if empty {
                    Event::Empty(out)
                } else {
                    Event::Start(out)
                };
                w.write_event(ev).map_err(|e| wio(cx, e))?;
            }
            Event::End(e) => {
                if unwrap_at.last() == Some(&depth) {
                    unwrap_at.pop();
                } else {
                    w.write_event(Event::End(e)).map_err(|e| wio(cx, e))?;
                }
                depth = depth.saturating_sub(1);
            }
            // The part is written as UTF-8 whatever it was read as: its
            // declaration says so.
            Event::Decl(d) => {
                let standalone = d
                    .standalone()
                    .and_then(|r| r.ok())
                    .filter(|v| v.as_ref() == "yes" || v.as_ref() == "no")
                    .map(|v| v.into_owned());
                let decl =
                    quick_xml::events::BytesDecl::new("1.0", Some("UTF-8"), standalone.as_deref());
                w.write_event(Event::Decl(decl)).map_err(|e| wio(cx, e))?
            }
            other => w.write_event(other).map_err(|e| wio(cx, e))?,
        }
    }
    if depth != 0 || skip.is_some() || formula.is_some() {
        return Err(fail(cx, "unclosed elements at the end".into()));
    }
    Ok(w.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_classified() {
        assert_eq!(
            field_danger(" DDEAUTO c:\\\\windows\\\\cmd ", false, true).map(|v| v.0),
            Some(Code::OoxmlDde)
        );
        assert_eq!(
            field_danger("\"dde\" x", false, true).map(|v| v.0),
            Some(Code::OoxmlDde)
        );
        assert_eq!(field_danger("PAGE \\* MERGEFORMAT", false, true), None);
        assert_eq!(field_danger("HYPERLINK \\l \"_Toc1\"", false, true), None);
        assert_eq!(
            field_danger("HYPERLINK \"http://x\"", false, true).map(|v| v.0),
            Some(Code::OoxmlHyperlink)
        );
        assert_eq!(field_danger("HYPERLINK \"http://x\"", false, false), None);
        assert_eq!(
            field_danger("  ", true, true).map(|v| v.0),
            Some(Code::OoxmlField)
        );
        assert_eq!(
            field_danger("MACROBUTTON Go", false, true).map(|v| v.0),
            Some(Code::OoxmlField)
        );
        assert_eq!(
            field_danger("INCLUDEPICTURE \"http://a/b.png\"", false, true).map(|v| v.0),
            Some(Code::OoxmlExternalRel)
        );
    }

    #[test]
    fn dde_formulas_are_recognised() {
        assert!(formula_is_dde("cmd|' /c calc'!A0"));
        assert!(!formula_is_dde("CONCATENATE(\"a|b\",A1)"));
        assert!(!formula_is_dde("SUM(A1:A3)"));
    }

    #[test]
    fn references_resolve() {
        assert_eq!(resolve_ref("amp"), "&");
        assert_eq!(resolve_ref("#x41"), "A");
        assert_eq!(resolve_ref("#66"), "B");
        assert_eq!(resolve_ref("bogus"), "");
    }
}
