//! The sanitising walk: from the trailer through every reference, keeping
//! what is safe and dropping every active element on the way.
//!
//! References are followed with an explicit stack and a visited set, so a
//! loop or a deep chain in the object graph cannot exhaust the call stack;
//! direct (nested) objects are descended recursively, bounded by the
//! policy's `max_nesting`.

use lopdf::{Dictionary, Document, Object, ObjectId};
use mugai_core::config::LinkAction;
use mugai_core::{Blocked, Code, Context};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Why an object (or a key) is dropped: the finding code, what it was,
/// and the decoded name that gave it away.
#[derive(Debug, Clone)]
struct Danger {
    code: Code,
    what: String,
    name: &'static [u8],
    /// Further codes of what the dropped object carried (e.g. the
    /// JavaScript of a removed `/AA`).
    also: BTreeSet<Code>,
}

impl Danger {
    fn new(code: Code, what: impl Into<String>, name: &'static [u8]) -> Self {
        Danger {
            code,
            what: what.into(),
            name,
            also: BTreeSet::new(),
        }
    }
}

/// The objects kept by the walk, by their input id, already cleaned.
#[derive(Debug, Default)]
pub struct Kept {
    pub objects: BTreeMap<ObjectId, Object>,
    /// Input ids in the order they were reached (the output numbering).
    pub order: Vec<ObjectId>,
    /// Decoded names that caused a removal (for `pdf.obfuscated_name`).
    pub triggered: BTreeSet<Vec<u8>>,
}

/// Walks `doc` from `roots`, cleaning every reachable object.
pub struct Walker<'d, 'c, 'p> {
    doc: &'d Document,
    cx: &'c mut Context<'p>,
    keep_uri: bool,
    max_objects: u64,
    max_nesting: u32,
    /// Judgement per indirect object: `Some` when the whole object goes.
    judged: HashMap<ObjectId, Option<Danger>>,
    reported: BTreeSet<ObjectId>,
    /// Indirect dictionaries reached as a [`NAME_MAPS`] value.
    name_maps: BTreeSet<ObjectId>,
    stack: Vec<ObjectId>,
    kept: Kept,
}

/// Keys whose dictionary value maps producer-chosen names (a font may be
/// called `/JS`): there, keys are labels, not PDF keys, and only the
/// values are judged.
const NAME_MAPS: &[&str] = &[
    "/Font",
    "/XObject",
    "/ExtGState",
    "/ColorSpace",
    "/Pattern",
    "/Shading",
    "/Properties",
    "/Dests",
];

/// Action types that do nothing outside the document.
const SAFE_ACTIONS: &[&[u8]] = &[
    b"GoTo",
    b"Named",
    b"Hide",
    b"SetOCGState",
    b"Trans",
    b"Thread",
];

fn name_of(o: &Object) -> Option<&[u8]> {
    match o {
        Object::Name(n) => Some(n.as_slice()),
        _ => None,
    }
}

fn show(n: &[u8]) -> String {
    String::from_utf8_lossy(n).into_owned()
}

impl<'d, 'c, 'p> Walker<'d, 'c, 'p> {
    pub fn new(doc: &'d Document, cx: &'c mut Context<'p>) -> Self {
        let policy = cx.policy();
        Walker {
            doc,
            keep_uri: policy.pdf.uri == LinkAction::Keep,
            max_objects: policy.limits.max_objects,
            max_nesting: policy.limits.max_nesting,
            cx,
            judged: HashMap::new(),
            reported: BTreeSet::new(),
            name_maps: BTreeSet::new(),
            stack: Vec::new(),
            kept: Kept::default(),
        }
    }

    /// Follows `roots` (trailer entries) and everything they reach.
    pub fn run(mut self, roots: &[ObjectId]) -> Result<Kept, Blocked> {
        for &r in roots {
            self.discover(r)?;
        }
        let mut steps: u32 = 0;
        while let Some(id) = self.stack.pop() {
            steps = steps.wrapping_add(1);
            if steps.is_multiple_of(256) {
                self.cx.check_deadline()?;
            }
            let Some(src) = self.doc.objects.get(&id) else {
                continue;
            };
            let mut obj = src.clone();
            self.clean_object(id, &mut obj)?;
            self.kept.objects.insert(id, obj);
        }
        Ok(self.kept)
    }

    /// Notes a reference to be kept and walked, once.
    fn discover(&mut self, id: ObjectId) -> Result<(), Blocked> {
        if self.judged.contains_key(&id) {
            return Ok(());
        }
        self.judged.insert(id, None);
        if !self.doc.objects.contains_key(&id) {
            // A dangling reference becomes null in the output.
            return Ok(());
        }
        self.kept.order.push(id);
        if self.kept.order.len() as u64 > self.max_objects {
            return Err(self.cx.block(
                Code::LimitCount,
                format!("more than {} reachable objects", self.max_objects),
            ));
        }
        self.stack.push(id);
        Ok(())
    }

    /// The judgement of an indirect object, computed once.
    fn judge_ref(&mut self, id: ObjectId) -> Option<Danger> {
        if let Some(j) = self.judged.get(&id) {
            return j.clone();
        }
        let j = self.doc.objects.get(&id).and_then(|o| self.judge(o));
        if j.is_some() {
            self.judged.insert(id, j.clone());
        }
        j
    }

    fn deref<'o>(&self, o: &'o Object) -> Option<&'o Object>
    where
        'd: 'o,
    {
        match o {
            Object::Reference(id) => self.doc.objects.get(id),
            other => Some(other),
        }
    }

    fn dict_of<'o>(&self, o: &'o Object) -> Option<&'o Dictionary>
    where
        'd: 'o,
    {
        match self.deref(o)? {
            Object::Dictionary(d) => Some(d),
            Object::Stream(s) => Some(&s.dict),
            _ => None,
        }
    }

    /// Whether an object must go as a whole (an action, annotation, file
    /// specification or stream that is itself active content).
    fn judge(&self, o: &Object) -> Option<Danger> {
        let d = match o {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => return None,
        };
        let ty = d.get(b"Type").ok().and_then(name_of);
        let sub = d.get(b"Subtype").ok().and_then(name_of);
        if let Some(s) = d.get(b"S").ok().and_then(name_of) {
            if ty.is_none() || ty == Some(b"Action".as_slice()) {
                if let Some(mut danger) = self.judge_action(s, d) {
                    danger.also = self.chain_codes(d);
                    danger.also.remove(&danger.code);
                    return Some(danger);
                }
            }
        }
        if let Some(sub) = sub {
            let hit: Option<(Code, &'static [u8])> = match sub {
                b"FileAttachment" => Some((Code::PdfEmbeddedFile, b"FileAttachment")),
                b"RichMedia" => Some((Code::PdfRichMedia, b"RichMedia")),
                b"Movie" => Some((Code::PdfRichMedia, b"Movie")),
                b"Sound" => Some((Code::PdfRichMedia, b"Sound")),
                b"Screen" => Some((Code::PdfRichMedia, b"Screen")),
                b"3D" => Some((Code::PdfRichMedia, b"3D")),
                b"U3D" | b"PRC" => Some((Code::PdfRichMedia, b"3D")),
                _ => None,
            };
            if let Some((code, name)) = hit {
                let mut danger = Danger::new(code, format!("/{} annotation", show(sub)), name);
                if d.has(b"AA") || d.has(b"A") {
                    danger.also = self.chain_codes(d);
                    danger.also.remove(&code);
                }
                return Some(danger);
            }
        }
        match ty {
            Some(b"EmbeddedFile") => {
                return Some(Danger::new(
                    Code::PdfEmbeddedFile,
                    "embedded file stream",
                    b"EmbeddedFile",
                ))
            }
            Some(b"3D") => return Some(Danger::new(Code::PdfRichMedia, "3D stream", b"3D")),
            Some(b"Sound") => return Some(Danger::new(Code::PdfRichMedia, "sound", b"Sound")),
            _ => {}
        }
        if d.has(b"EF") {
            return Some(Danger::new(
                Code::PdfEmbeddedFile,
                "file specification with an embedded file",
                b"EF",
            ));
        }
        None
    }

    /// An action dictionary with `/S s`: `Some` when it goes.
    fn judge_action(&self, s: &[u8], d: &Dictionary) -> Option<Danger> {
        let (code, name): (Code, &'static [u8]) = match s {
            b"JavaScript" => (Code::PdfJavascript, b"JavaScript"),
            b"Launch" => (Code::PdfLaunch, b"Launch"),
            b"GoToR" => (Code::PdfRemoteGoto, b"GoToR"),
            b"GoToE" => (Code::PdfRemoteGoto, b"GoToE"),
            b"GoToDp" => (Code::PdfRemoteGoto, b"GoToDp"),
            b"ImportData" => (Code::PdfRemoteGoto, b"ImportData"),
            b"SubmitForm" => (Code::PdfRemoteGoto, b"SubmitForm"),
            b"ResetForm" => (Code::PdfRemoteGoto, b"ResetForm"),
            b"URI" if self.keep_uri => return None,
            b"URI" => (Code::PdfUri, b"URI"),
            b"Movie" => (Code::PdfRichMedia, b"Movie"),
            b"Sound" => (Code::PdfRichMedia, b"Sound"),
            b"Rendition" => (Code::PdfRichMedia, b"Rendition"),
            b"RichMediaExecute" => (Code::PdfRichMedia, b"RichMediaExecute"),
            b"GoTo3DView" => (Code::PdfRichMedia, b"GoTo3DView"),
            b"Thread" if d.has(b"F") => (Code::PdfRemoteGoto, b"Thread"),
            safe if SAFE_ACTIONS.contains(&safe) => return None,
            _ if d.get(b"Type").ok().and_then(name_of) == Some(b"Action".as_slice()) => {
                // An action type outside the standard set: fail closed.
                (Code::PdfRemoteGoto, b"Action")
            }
            _ => return None,
        };
        let what = if code == Code::PdfUri {
            "/URI action (the link stays, its target goes)".to_string()
        } else {
            format!("/{} action", show(s))
        };
        Some(Danger::new(code, what, name))
    }

    /// Codes of the actions an object carries: its own `/S`, `/A`,
    /// every `/AA` entry, and their `/Next` chains. Bounded and loop-safe.
    fn chain_codes(&self, start: &Dictionary) -> BTreeSet<Code> {
        let mut codes = BTreeSet::new();
        let mut seen: BTreeSet<ObjectId> = BTreeSet::new();
        if d_has_js(start) {
            codes.insert(Code::PdfJavascript);
        }
        if let Some(s) = start.get(b"S").ok().and_then(name_of) {
            if let Some(d) = self.judge_action(s, start) {
                codes.insert(d.code);
            }
        }
        let mut roots: Vec<Object> = Vec::new();
        for key in [b"A".as_slice(), b"Next", b"AA"] {
            if let Ok(v) = start.get(key) {
                roots.push(v.clone());
            }
        }
        let mut budget: u32 = 4096;
        let mut owned: Vec<Object> = roots;
        while let Some(o) = owned.pop() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                break;
            }
            let target = match &o {
                Object::Reference(id) => {
                    if !seen.insert(*id) {
                        continue;
                    }
                    match self.doc.objects.get(id) {
                        Some(t) => t,
                        None => continue,
                    }
                }
                other => other,
            };
            match target {
                Object::Array(items) => owned.extend(items.iter().cloned()),
                Object::Dictionary(_) | Object::Stream(_) => {
                    let Some(d) = self.dict_of(target) else {
                        continue;
                    };
                    if d_has_js(d) {
                        codes.insert(Code::PdfJavascript);
                    }
                    if let Some(s) = d.get(b"S").ok().and_then(name_of) {
                        if let Some(x) = self.judge_action(s, d) {
                            codes.insert(x.code);
                        }
                    }
                    let is_aa = !d.has(b"S");
                    for (k, v) in d.iter() {
                        if k == b"Next" || k == b"A" || is_aa {
                            owned.push(v.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        codes
    }

    /// Records a dropped object once per input id (or always, for direct
    /// objects).
    fn report(&mut self, owner: ObjectId, target: Option<ObjectId>, key: &str, danger: &Danger) {
        if let Some(t) = target {
            if !self.reported.insert(t) {
                return;
            }
        }
        self.kept.triggered.insert(danger.name.to_vec());
        let at = match target {
            Some(t) => format!(
                "object {} {} ({key} of object {} {})",
                t.0, t.1, owner.0, owner.1
            ),
            None => format!("object {} {}: {key}", owner.0, owner.1),
        };
        let detail = format!("{at}: {} removed", danger.what);
        if danger.code == Code::PdfUri {
            self.cx.neutralised(danger.code, detail);
        } else {
            self.cx.removed(danger.code, detail);
        }
        for &c in &danger.also {
            let d = format!("{at}: {c} carried by the removed {}", danger.what);
            if c == Code::PdfUri {
                self.cx.neutralised(c, d);
            } else {
                self.cx.removed(c, d);
            }
        }
    }

    fn clean_object(&mut self, id: ObjectId, obj: &mut Object) -> Result<(), Blocked> {
        match obj {
            Object::Dictionary(d) => {
                let map = self.name_maps.contains(&id);
                self.clean_dict(id, d, 1, false, map)
            }
            Object::Stream(s) => self.clean_dict(id, &mut s.dict, 1, true, false),
            Object::Array(a) => self.clean_array(id, a, 1),
            Object::Reference(r) => {
                let r = *r;
                if self.judge_ref(r).is_some() {
                    *obj = Object::Null;
                    Ok(())
                } else {
                    self.discover(r)
                }
            }
            _ => Ok(()),
        }
    }

    fn too_deep(&self, id: ObjectId, depth: u32) -> Result<(), Blocked> {
        if depth > self.max_nesting {
            Err(self.cx.block(
                Code::LimitDepth,
                format!(
                    "object {} {}: nested deeper than {} levels",
                    id.0, id.1, self.max_nesting
                ),
            ))
        } else {
            Ok(())
        }
    }

    /// Cleans one value held by a dictionary or an array. `Ok(false)`
    /// means the holder must drop it.
    fn clean_value(
        &mut self,
        owner: ObjectId,
        key: &str,
        v: &mut Object,
        depth: u32,
    ) -> Result<bool, Blocked> {
        match v {
            Object::Reference(r) => {
                let r = *r;
                if let Some(danger) = self.judge_ref(r) {
                    self.report(owner, Some(r), key, &danger);
                    return Ok(false);
                }
                if NAME_MAPS.contains(&key) {
                    self.name_maps.insert(r);
                }
                self.discover(r)?;
                Ok(true)
            }
            Object::Dictionary(_) | Object::Stream(_) => {
                if let Some(danger) = self.judge(v) {
                    self.report(owner, None, key, &danger);
                    return Ok(false);
                }
                match v {
                    Object::Dictionary(d) => {
                        let map = NAME_MAPS.contains(&key);
                        self.clean_dict(owner, d, depth + 1, false, map)?
                    }
                    Object::Stream(s) => {
                        self.clean_dict(owner, &mut s.dict, depth + 1, true, false)?
                    }
                    _ => {}
                }
                Ok(true)
            }
            Object::Array(a) => {
                self.clean_array(owner, a, depth + 1)?;
                Ok(true)
            }
            _ => Ok(true),
        }
    }

    fn clean_array(
        &mut self,
        owner: ObjectId,
        a: &mut Vec<Object>,
        depth: u32,
    ) -> Result<(), Blocked> {
        self.too_deep(owner, depth)?;
        let mut i = 0;
        while i < a.len() {
            let keep = match a.get_mut(i) {
                Some(v) => self.clean_value(owner, "array element", v, depth)?,
                None => break,
            };
            if keep {
                i += 1;
            } else {
                a.remove(i);
            }
        }
        Ok(())
    }

    /// Keys that go wherever they appear.
    fn fixed_danger(&self, key: &[u8], value: &Object) -> Option<Danger> {
        let mut danger = match key {
            b"AA" => Danger::new(Code::PdfAdditionalActions, "/AA additional actions", b"AA"),
            b"JS" => Danger::new(Code::PdfJavascript, "/JS script", b"JS"),
            b"JavaScript" => {
                Danger::new(Code::PdfJavascript, "/JavaScript name tree", b"JavaScript")
            }
            b"EmbeddedFiles" => Danger::new(
                Code::PdfEmbeddedFile,
                "/EmbeddedFiles name tree",
                b"EmbeddedFiles",
            ),
            b"EF" => Danger::new(Code::PdfEmbeddedFile, "/EF embedded file", b"EF"),
            b"XFA" => Danger::new(Code::PdfXfa, "/XFA form", b"XFA"),
            b"RichMediaContent" | b"RichMediaSettings" => {
                Danger::new(Code::PdfRichMedia, "rich media content", b"RichMedia")
            }
            _ => return None,
        };
        if key == b"AA" {
            if let Some(d) = self.dict_of(value) {
                let mut codes = BTreeSet::new();
                for (_, v) in d.iter() {
                    if let Some(ad) = self.dict_of(v) {
                        codes.extend(self.chain_codes_of(ad));
                    }
                }
                codes.remove(&danger.code);
                danger.also = codes;
            }
        }
        Some(danger)
    }

    fn chain_codes_of(&self, d: &Dictionary) -> BTreeSet<Code> {
        self.chain_codes(d)
    }

    /// `/OpenAction`: a destination (array or name) stays; a `/GoTo`
    /// action stays (cleaned); anything else goes.
    fn open_action_danger(&self, value: &Object) -> Option<Danger> {
        let target = self.deref(value);
        match target {
            None | Some(Object::Array(_)) | Some(Object::Name(_)) | Some(Object::String(..)) => {
                None
            }
            Some(Object::Null) => None,
            Some(t) => {
                if let Some(d) = self.dict_of(t) {
                    if d.get(b"S").ok().and_then(name_of) == Some(b"GoTo".as_slice()) {
                        return None;
                    }
                    let mut danger =
                        Danger::new(Code::PdfOpenAction, "/OpenAction action", b"OpenAction");
                    danger.also = self.chain_codes(d);
                    if let Some(s) = d.get(b"S").ok().and_then(name_of) {
                        if let Some(x) = self.judge_action(s, d) {
                            danger.also.insert(x.code);
                        }
                        danger.what = format!("/OpenAction /{} action", show(s));
                    }
                    danger.also.remove(&Code::PdfOpenAction);
                    Some(danger)
                } else {
                    Some(Danger::new(
                        Code::PdfOpenAction,
                        "/OpenAction of an odd type",
                        b"OpenAction",
                    ))
                }
            }
        }
    }

    fn clean_dict(
        &mut self,
        owner: ObjectId,
        d: &mut Dictionary,
        depth: u32,
        is_stream: bool,
        name_map: bool,
    ) -> Result<(), Blocked> {
        self.too_deep(owner, depth)?;
        let keys: Vec<Vec<u8>> = d.iter().map(|(k, _)| k.clone()).collect();
        for key in keys {
            let Ok(value) = d.get(&key) else { continue };
            let shown = format!("/{}", show(&key));
            let danger = if name_map {
                None
            } else if key == b"OpenAction" {
                self.open_action_danger(value)
            } else {
                self.fixed_danger(&key, value)
            };
            if let Some(danger) = danger {
                if danger.code == Code::PdfEmbeddedFile && key == b"EF" {
                    // Related files only make sense with /EF.
                    d.remove(b"RF");
                }
                // Reported per holder; the removed value is not walked.
                self.report(owner, None, &shown, &danger);
                d.remove(&key);
                continue;
            }
            if is_stream && key == b"Length" {
                // The writer sets /Length from the data; an indirect length
                // object need not be kept.
                continue;
            }
            let keep = match d.get_mut(&key) {
                Ok(v) => self.clean_value(owner, &shown, v, depth)?,
                Err(_) => true,
            };
            if !keep {
                d.remove(&key);
            }
        }
        Ok(())
    }
}

fn d_has_js(d: &Dictionary) -> bool {
    d.has(b"JS")
}
