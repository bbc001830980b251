//! Findings of the selection, aggregated by code and key path so that one
//! file gives a bounded number of them, and the codes of what a dropped
//! value carried (the JavaScript of a removed `/AA`, ...).

use lopdf::{Document, Object, ObjectId};
use mugai_core::{Code, Context};
use std::collections::{BTreeMap, BTreeSet};

/// The most distinct (code, path) findings written for one file; the rest
/// are counted in one summary finding.
const MAX_DISTINCT: usize = 64;

/// Dropped things by code and where they were, with how often.
#[derive(Debug, Default)]
pub struct Tally {
    seen: BTreeMap<(Code, String), u64>,
    /// Decoded names whose meaning made the selection drop something (for
    /// `pdf.obfuscated_name`).
    pub triggered: BTreeSet<Vec<u8>>,
}

impl Tally {
    pub fn add(&mut self, code: Code, path: impl Into<String>) {
        *self.seen.entry((code, path.into())).or_insert(0) += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Writes the findings into the context, URI as neutralised.
    pub fn flush(self, cx: &mut Context<'_>) {
        let mut extra: BTreeMap<Code, u64> = BTreeMap::new();
        for (i, ((code, path), n)) in self.seen.into_iter().enumerate() {
            if i >= MAX_DISTINCT {
                *extra.entry(code).or_insert(0) += n;
                continue;
            }
            let detail = if n == 1 {
                path
            } else {
                format!("{path} ({n} times)")
            };
            if code == Code::PdfUri {
                cx.neutralised(code, detail);
            } else {
                cx.removed(code, detail);
            }
        }
        for (code, n) in extra {
            cx.removed(code, format!("{n} more removals of this kind"));
        }
    }
}

/// The code of an action type removed by the selection.
pub fn action_code(s: &[u8]) -> Code {
    match s {
        b"JavaScript" => Code::PdfJavascript,
        b"Launch" => Code::PdfLaunch,
        b"GoToR" | b"GoToE" | b"GoToDp" | b"ImportData" | b"SubmitForm" | b"ResetForm" => {
            Code::PdfRemoteGoto
        }
        b"URI" => Code::PdfUri,
        b"Movie" | b"Sound" | b"Rendition" | b"RichMediaExecute" | b"GoTo3DView" => {
            Code::PdfRichMedia
        }
        _ => Code::PdfAction,
    }
}

/// Every standard action type (what `/S` names in an action dictionary).
const ACTION_TYPES: &[&[u8]] = &[
    b"GoTo",
    b"GoToR",
    b"GoToE",
    b"GoToDp",
    b"Launch",
    b"Thread",
    b"URI",
    b"Sound",
    b"Movie",
    b"Hide",
    b"Named",
    b"SubmitForm",
    b"ResetForm",
    b"ImportData",
    b"SetOCGState",
    b"Rendition",
    b"Trans",
    b"GoTo3DView",
    b"JavaScript",
    b"RichMediaExecute",
];

/// The code of a key whose removal says what it was; `None` for keys that
/// are only outside the allow-list.
pub fn key_code(key: &[u8]) -> Option<Code> {
    Some(match key {
        b"AA" => Code::PdfAdditionalActions,
        b"OpenAction" => Code::PdfOpenAction,
        b"JS" | b"JavaScript" => Code::PdfJavascript,
        b"EmbeddedFiles" | b"EF" | b"EmbeddedFile" => Code::PdfEmbeddedFile,
        b"XFA" => Code::PdfXfa,
        b"RichMediaContent" | b"RichMediaSettings" => Code::PdfRichMedia,
        _ => return None,
    })
}

/// The code of a dropped annotation subtype.
pub fn annotation_code(sub: &[u8]) -> Code {
    match sub {
        b"FileAttachment" => Code::PdfEmbeddedFile,
        b"RichMedia" | b"Movie" | b"Sound" | b"Screen" | b"3D" => Code::PdfRichMedia,
        _ => Code::PdfDropped,
    }
}

/// Keys that point back up or across the document: what they reach is
/// not carried by the dropped value.
const NOT_FOLLOWED: &[&[u8]] = &[
    b"P", b"Parent", b"Pg", b"Popup", b"IRT", b"Prev", b"First", b"Last", b"K", b"Obj", b"Annots",
    b"Pages", b"Dest", b"D",
];

/// How many objects the scan of a dropped value looks at, at most.
const SCAN_BUDGET: u32 = 2048;

fn resolve<'d>(doc: &'d Document, o: &'d Object) -> &'d Object {
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

/// The codes of the active content inside a dropped value (actions,
/// scripts, embedded files, media), following references; bounded and
/// loop-safe. Names that gave it away go into `triggered`.
pub fn carried(
    doc: &Document,
    value: &Object,
    triggered: &mut BTreeSet<Vec<u8>>,
    uri_kept: bool,
) -> BTreeSet<Code> {
    let mut codes = BTreeSet::new();
    let mut seen: BTreeSet<ObjectId> = BTreeSet::new();
    let mut todo: Vec<&Object> = vec![value];
    let mut budget = SCAN_BUDGET;
    while let Some(o) = todo.pop() {
        budget = budget.saturating_sub(1);
        if budget == 0 {
            break;
        }
        if let Object::Reference(id) = o {
            if !seen.insert(*id) {
                continue;
            }
        }
        let d = match resolve(doc, o) {
            Object::Array(a) => {
                todo.extend(a.iter());
                continue;
            }
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => continue,
        };
        let name = |k: &[u8]| match d.get(k).map(|v| resolve(doc, v)) {
            Ok(Object::Name(n)) => Some(n.as_slice()),
            _ => None,
        };
        if let Some(s) = name(b"S") {
            if ACTION_TYPES.contains(&s) && s != b"GoTo" && s != b"Named" {
                let code = action_code(s);
                if !(code == Code::PdfUri && uri_kept) {
                    codes.insert(code);
                    if code != Code::PdfUri {
                        codes.insert(Code::PdfAction);
                    }
                    triggered.insert(s.to_vec());
                }
            }
        }
        if let Some(sub) = name(b"Subtype") {
            let code = annotation_code(sub);
            if code != Code::PdfDropped {
                codes.insert(code);
                triggered.insert(sub.to_vec());
            }
        }
        if name(b"Type") == Some(b"EmbeddedFile".as_slice()) {
            codes.insert(Code::PdfEmbeddedFile);
        }
        for (k, v) in d.iter() {
            if matches!(v, Object::Reference(_)) && NOT_FOLLOWED.contains(&k.as_slice()) {
                continue;
            }
            if let Some(code) = key_code(k) {
                if code != Code::PdfOpenAction && code != Code::PdfAdditionalActions {
                    codes.insert(code);
                    triggered.insert(k.clone());
                }
            }
            todo.push(v);
        }
    }
    codes
}
