//! Positive selection: the output is built from the objects reachable
//! from the catalog, each keeping only the keys its role allows
//! ([`crate::roles`]), with every value resolved before it is judged.
//!
//! An indirect object gets one output copy per role it is reached in, so
//! an object used both as a page and as a font is judged (and written)
//! as each. Identity matters where the format relies on it (pages, outline
//! items, annotations, form XObjects), and there one role is one object.
//! Indirect objects are processed from a queue, so a deep or looping
//! object graph cannot exhaust the call stack; direct values recurse,
//! bounded by the policy's `max_nesting`.

use crate::codecs;
use crate::content;
use crate::emit;
use crate::fonts;
use crate::jpx;
use crate::report::{self, Tally};
use crate::roles::{self, FontKind, Kind, Role};
use crate::streams::{self, StreamError};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};
use mugai_core::config::{DamagedStreams, FlateData, FontPrograms, ImageCodecs, LinkAction};
use mugai_core::{Blocked, Code, Context};
use mugai_image::jpeg_coef::CoefError;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// The selected objects, numbered for the output.
#[derive(Debug)]
pub struct Selected {
    /// Every output object; the catalog and the page tree (which
    /// [`crate::pages::fix`] still changes) as objects, the others `Null`
    /// here and serialised in `written`.
    pub objects: BTreeMap<ObjectId, Object>,
    /// The bytes of the objects written as soon as they were final.
    pub written: BTreeMap<ObjectId, Vec<u8>>,
    pub root: ObjectId,
    pub info: Option<ObjectId>,
    pub tally: Tally,
}

/// Why a whole object is not kept in a role.
#[derive(Debug)]
struct Reject {
    code: Code,
    what: String,
    /// Codes of what it carried.
    also: BTreeSet<Code>,
}

impl Reject {
    fn new(code: Code, what: impl Into<String>) -> Self {
        Reject {
            code,
            what: what.into(),
            also: BTreeSet::new(),
        }
    }
}

/// Stream data ready to be written, with its one filter.
#[derive(Debug)]
struct Prepared {
    data: Vec<u8>,
    filter: &'static [u8],
    /// `/DecodeParms` of the kept filter (a JPEG's `/ColorTransform`).
    params: Option<Dictionary>,
    /// Keys of the stream dictionary set from the data (a font program's
    /// `/Length1` ...).
    set: Vec<(&'static [u8], Object)>,
}

struct Job {
    src: ObjectId,
    role: Role,
    out: ObjectId,
    data: Option<Prepared>,
}

pub struct Selector<'d, 'c, 'p> {
    doc: &'d Document,
    cx: &'c mut Context<'p>,
    keep_uri: bool,
    fonts: FontPrograms,
    codecs: ImageCodecs,
    damaged: DamagedStreams,
    /// `[pdf] flate = "keep_exact"`: exact Flate data keeps its bytes.
    keep_exact: bool,
    /// Whether the input was decrypted on loading.
    decrypted: bool,
    max_objects: u64,
    max_nesting: u32,
    max_pixels: u64,
    cap: usize,
    memo: HashMap<(ObjectId, Role), Option<ObjectId>>,
    queue: VecDeque<Job>,
    out: BTreeMap<ObjectId, Object>,
    written: BTreeMap<ObjectId, Vec<u8>>,
    next: u32,
    /// Input ids of the leaves of the page tree.
    pages: BTreeSet<ObjectId>,
    /// Output ids of the pages placed in the page tree.
    in_tree: BTreeSet<ObjectId>,
    tally: Tally,
    /// The input id of the catalog's `/StructTreeRoot`.
    struct_root: Option<ObjectId>,
    /// Dictionary changes of a JPX image just prepared, then by output id.
    jpx_pending: Option<jpx::Reshape>,
    jpx_reshape: HashMap<ObjectId, jpx::Reshape>,
    /// JPEG image data rebuilt ahead of the selection, by the address of
    /// the input stream's data (see [`Selector::prepare_images_ahead`]).
    jpeg_ahead: HashMap<usize, Result<Vec<u8>, CoefError>>,
    /// Images without an image codec prepared ahead, the same way.
    plain_ahead: HashMap<usize, Result<streams::Encoded, StreamError>>,
}

fn name_str(n: &[u8]) -> String {
    String::from_utf8_lossy(n).into_owned()
}

fn at(role: Role, key: &[u8]) -> String {
    format!("{role:?}/{}", name_str(key))
}

impl<'d, 'c, 'p> Selector<'d, 'c, 'p> {
    pub fn new(doc: &'d Document, cx: &'c mut Context<'p>, cap: usize) -> Self {
        let policy = cx.policy();
        Selector {
            doc,
            decrypted: doc.encryption_state.is_some(),
            keep_uri: policy.pdf.uri == LinkAction::Keep,
            fonts: policy.pdf.fonts,
            codecs: policy.pdf.image_codecs,
            damaged: policy.pdf.damaged_streams,
            keep_exact: policy.pdf.flate == FlateData::KeepExact,
            max_objects: policy.limits.max_objects,
            max_nesting: policy.limits.max_nesting,
            max_pixels: policy.limits.max_image_pixels,
            cap,
            cx,
            memo: HashMap::new(),
            queue: VecDeque::new(),
            out: BTreeMap::new(),
            written: BTreeMap::new(),
            next: 0,
            pages: BTreeSet::new(),
            in_tree: BTreeSet::new(),
            tally: Tally::default(),
            struct_root: None,
            jpx_pending: None,
            jpx_reshape: HashMap::new(),
            jpeg_ahead: HashMap::new(),
            plain_ahead: HashMap::new(),
        }
    }

    /// Selects from the catalog `root` and the document information
    /// `info`.
    pub fn run(mut self, root: ObjectId, info: Option<ObjectId>) -> Result<Selected, Blocked> {
        self.find_pages(root);
        self.prepare_images_ahead();
        if let Some(Object::Dictionary(cat)) = self.doc.objects.get(&root) {
            self.struct_root = cat
                .get(b"StructTreeRoot")
                .ok()
                .and_then(|v| self.final_ref(v));
        }
        let Some(new_root) = self.admit(root, Role::Catalog, "trailer/Root")? else {
            return Err(self
                .cx
                .block(Code::PdfMalformed, "the catalog is not a dictionary"));
        };
        let new_info = match info {
            Some(i) => self.admit(i, Role::Info, "trailer/Info")?,
            None => None,
        };
        let mut steps: u32 = 0;
        while let Some(job) = self.queue.pop_front() {
            steps = steps.wrapping_add(1);
            if steps.is_multiple_of(256) {
                self.cx.check_deadline()?;
            }
            let mut obj = self.build(job.src, job.role, job.data)?;
            if let Some(r) = self.jpx_reshape.remove(&job.out) {
                for (id, added) in r.apply(&mut obj, || self.allocate())? {
                    self.put(id, None, added);
                }
            }
            self.put(job.out, Some(job.role), obj);
        }
        Ok(Selected {
            objects: self.out,
            written: self.written,
            root: new_root,
            info: new_info,
            tally: self.tally,
        })
    }

    /// Prepares the data of the image streams on two threads before the
    /// selection, which takes each result when it keeps the image: JPEG
    /// data (`/DCTDecode` its only filter) rebuilt from its coefficients,
    /// and images without an image codec decoded and encoded for the
    /// output. A result depends on the stream alone, so the output is the
    /// same whatever order the threads finish in. Two images are prepared
    /// at a time at most; work stops at the deadline or once the data
    /// decoded reaches the file's byte budget, and whatever is not done
    /// ahead (a thread that cannot start, a panic) is done in sequence.
    fn prepare_images_ahead(&mut self) {
        enum Work<'a> {
            Jpeg(&'a [u8]),
            Plain(Dictionary, &'a [u8]),
        }
        enum Done {
            Jpeg(usize, Result<Vec<u8>, CoefError>),
            Plain(usize, Result<streams::Encoded, StreamError>),
        }
        let is_dct = |o: &Object| matches!(o, Object::Name(n) if n == b"DCTDecode" || n == b"DCT");
        let mut work: Vec<Work<'d>> = Vec::new();
        let doc = self.doc;
        for obj in doc.objects.values() {
            let Object::Stream(s) = obj else { continue };
            if self.name_at(&s.dict, b"Subtype") != Some(b"Image".as_slice())
                || s.content.is_empty()
            {
                continue;
            }
            let dct = match s.dict.get(b"Filter").map(|f| self.resolve(f)) {
                Ok(Object::Array(a)) if a.len() == 1 => is_dct(self.resolve(&a[0])),
                Ok(f) => is_dct(f),
                Err(_) => false,
            };
            if dct {
                work.push(Work::Jpeg(&s.content));
            } else {
                let dict = self.filter_dict(s);
                if !streams::has_codec(&dict) {
                    work.push(Work::Plain(dict, &s.content));
                }
            }
        }
        if work.len() < 2 {
            return;
        }
        let deadline = self.cx.budget().deadline();
        let max_pixels = self.max_pixels;
        let cap = self.cap;
        let keep_exact = self.keep_exact;
        let budget = self
            .cx
            .policy()
            .limits
            .max_expanded_bytes
            .saturating_sub(self.cx.budget().expanded());
        let next = AtomicUsize::new(0);
        let decoded = AtomicU64::new(0);
        let worker = || {
            let mut done = Vec::new();
            while let Some(item) = work.get(next.fetch_add(1, Ordering::Relaxed)) {
                if Instant::now() >= deadline || decoded.load(Ordering::Relaxed) > budget {
                    break;
                }
                done.push(match item {
                    Work::Jpeg(data) => Done::Jpeg(
                        data.as_ptr() as usize,
                        mugai_image::jpeg_coef::rebuild(data, max_pixels),
                    ),
                    Work::Plain(dict, data) => {
                        let r = streams::encode_plain(dict, data, cap, keep_exact);
                        if let Ok(e) = &r {
                            decoded.fetch_add(e.decoded, Ordering::Relaxed);
                        }
                        Done::Plain(data.as_ptr() as usize, r)
                    }
                });
            }
            done
        };
        let done = std::thread::scope(|scope| {
            let other = std::thread::Builder::new().spawn_scoped(scope, worker);
            let mut done = worker();
            if let Ok(Ok(theirs)) = other.map(|h| h.join()) {
                done.extend(theirs);
            }
            done
        });
        for d in done {
            match d {
                Done::Jpeg(at, r) => {
                    self.jpeg_ahead.insert(at, r);
                }
                Done::Plain(at, r) => {
                    self.plain_ahead.insert(at, r);
                }
            }
        }
    }

    /// Collects the leaves of the page tree (bounded, loop-safe), so that
    /// destinations can tell a page of this document from anything else.
    fn find_pages(&mut self, root: ObjectId) {
        let Some(Object::Dictionary(cat)) = self.doc.objects.get(&root) else {
            return;
        };
        let Ok(Object::Reference(top)) = cat.get(b"Pages") else {
            return;
        };
        let mut seen: BTreeSet<ObjectId> = BTreeSet::new();
        let mut stack = vec![*top];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) || seen.len() as u64 > self.max_objects {
                continue;
            }
            let Some(Object::Dictionary(d)) = self.doc.objects.get(&id) else {
                continue;
            };
            match d.get(b"Kids").map(|k| self.resolve(k)) {
                Ok(Object::Array(kids)) => {
                    stack.extend(kids.iter().filter_map(|k| k.as_reference().ok()));
                }
                _ => {
                    self.pages.insert(id);
                }
            }
        }
    }

    /// Follows references (at most a few hops); a dangling one is null.
    fn resolve<'o>(&self, o: &'o Object) -> &'o Object
    where
        'd: 'o,
    {
        let mut cur = o;
        for _ in 0..8 {
            match cur {
                Object::Reference(id) => match self.doc.objects.get(id) {
                    Some(t) => cur = t,
                    None => return &Object::Null,
                },
                _ => return cur,
            }
        }
        &Object::Null
    }

    /// The last reference of a chain of references.
    fn final_ref(&self, o: &Object) -> Option<ObjectId> {
        let mut id = o.as_reference().ok()?;
        for _ in 0..8 {
            match self.doc.objects.get(&id) {
                Some(Object::Reference(next)) => id = *next,
                _ => return Some(id),
            }
        }
        None
    }

    fn name_at<'o>(&self, d: &'o Dictionary, key: &[u8]) -> Option<&'o [u8]>
    where
        'd: 'o,
    {
        match d.get(key).map(|v| self.resolve(v)) {
            Ok(Object::Name(n)) => Some(n.as_slice()),
            _ => None,
        }
    }

    fn reject(&mut self, where_: &str, r: Reject, value: &Object) {
        let mut also = r.also;
        also.extend(report::carried(
            self.doc,
            value,
            &mut self.tally.triggered,
            self.keep_uri,
        ));
        self.tally.add(r.code, format!("{where_}: {}", r.what));
        for c in also {
            if c != r.code {
                self.tally
                    .add(c, format!("{where_}: carried by the removed {}", r.what));
            }
        }
    }

    /// A fresh output object id, the next in number, within the policy's
    /// object limit. Every output object is numbered here.
    fn allocate(&mut self) -> Result<ObjectId, Blocked> {
        self.next = self.next.saturating_add(1);
        if u64::from(self.next) > self.max_objects {
            return Err(self.cx.block(
                Code::LimitCount,
                format!("more than {} objects to write", self.max_objects),
            ));
        }
        Ok((self.next, 0))
    }

    /// Stores output object `id`, kept in `role`: serialised at once
    /// unless the page tree check still changes it (the catalog and the
    /// page tree), so that what is selected is held as bytes rather than
    /// as object trees (several times larger).
    fn put(&mut self, id: ObjectId, role: Option<Role>, mut obj: Object) {
        if !matches!(role, Some(Role::Catalog | Role::PagesNode | Role::Page)) {
            if let Some(bytes) = emit::indirect(id, &mut obj) {
                self.written.insert(id, bytes);
                obj = Object::Null;
            }
        }
        self.out.insert(id, obj);
    }

    /// The output id of input object `id` in `role`, judging it the first
    /// time; `None` when it is not kept in that role.
    fn admit(
        &mut self,
        id: ObjectId,
        role: Role,
        where_: &str,
    ) -> Result<Option<ObjectId>, Blocked> {
        if let Some(m) = self.memo.get(&(id, role)) {
            return Ok(*m);
        }
        let doc = self.doc;
        let Some(obj) = doc.objects.get(&id) else {
            self.memo.insert((id, role), None);
            return Ok(None);
        };
        // Memoised before judging: a loop back to this object in the same
        // role gets the same answer without judging again.
        self.memo.insert((id, role), None);
        let judged = self.judge(role, obj)?;
        let reshape = self.jpx_pending.take();
        match judged {
            Err(r) => {
                self.reject(where_, r, obj);
                Ok(None)
            }
            Ok(data) => {
                let out = self.allocate()?;
                self.memo.insert((id, role), Some(out));
                if let Some(r) = reshape {
                    self.jpx_reshape.insert(out, r);
                }
                // The data waits in the queue: without the encoder's
                // spare capacity.
                let data = data.map(|mut p| {
                    p.data.shrink_to_fit();
                    p
                });
                self.queue.push_back(Job {
                    src: id,
                    role,
                    out,
                    data,
                });
                Ok(Some(out))
            }
        }
    }

    /// Whether `obj` can be kept in `role` as a whole, and its stream data
    /// prepared when it is a stream.
    #[allow(clippy::type_complexity)]
    fn judge(
        &mut self,
        role: Role,
        obj: &Object,
    ) -> Result<Result<Option<Prepared>, Reject>, Blocked> {
        let (d, stream) = match obj {
            Object::Dictionary(d) => (d, None),
            Object::Stream(s) => (&s.dict, Some(s)),
            _ => {
                return Ok(Err(Reject::new(
                    Code::PdfDropped,
                    format!("a {} where a dictionary belongs", obj.enum_variant()),
                )))
            }
        };
        let wants_stream = roles::is_stream_role(role);
        let either = matches!(role, Role::Function | Role::Pattern | Role::Shading);
        if wants_stream && stream.is_none() {
            return Ok(Err(Reject::new(
                Code::PdfDropped,
                "a dictionary where a stream belongs",
            )));
        }
        if !wants_stream && !either && stream.is_some() {
            return Ok(Err(Reject::new(
                Code::PdfDropped,
                "a stream where a dictionary belongs",
            )));
        }
        match role {
            Role::Annot => {
                if let Some(sub) = self.name_at(d, b"Subtype") {
                    if sub != roles::WIDGET && !roles::ANNOTATIONS.contains(&sub) {
                        self.tally.triggered.insert(sub.to_vec());
                        return Ok(Err(Reject::new(
                            report::annotation_code(sub),
                            format!("/{} annotation", name_str(sub)),
                        )));
                    }
                }
            }
            Role::Action => {
                if let Some(r) = self.judge_action(d) {
                    return Ok(Err(r));
                }
            }
            Role::Image => {
                let dim = |k: &[u8]| match d.get(k).map(|v| self.resolve(v)) {
                    Ok(Object::Integer(i)) => u64::try_from(*i).unwrap_or(0),
                    _ => 0,
                };
                let pixels = dim(b"Width").saturating_mul(dim(b"Height"));
                if pixels > self.max_pixels {
                    return Err(self.cx.block(
                        Code::ImageBomb,
                        format!(
                            "an image of {pixels} pixels, more than the limit of {}",
                            self.max_pixels
                        ),
                    ));
                }
            }
            _ => {}
        }
        match stream {
            Some(s) => match self.prepare(role, s)? {
                Ok(p) => Ok(Ok(Some(p))),
                Err(r) => Ok(Err(r)),
            },
            None => Ok(Ok(None)),
        }
    }

    /// `Some` when an action dictionary goes: everything but navigation
    /// inside the document (and URI when the policy keeps links).
    fn judge_action(&mut self, d: &Dictionary) -> Option<Reject> {
        let Some(s) = self.name_at(d, b"S") else {
            return Some(Reject::new(Code::PdfAction, "an action without a type"));
        };
        let s = s.to_vec();
        let ok = match s.as_slice() {
            b"GoTo" => match d.get(b"D").map(|v| self.resolve(v)) {
                Ok(Object::Name(_)) | Ok(Object::String(..)) => true,
                Ok(Object::Array(a)) => self.local_page(a.first()),
                _ => false,
            },
            b"Named" => self
                .name_at(d, b"N")
                .is_some_and(|n| roles::NAMED_ACTIONS.contains(&n)),
            b"URI" => self.keep_uri,
            _ => false,
        };
        if ok {
            return None;
        }
        self.tally.triggered.insert(s.clone());
        let code = report::action_code(&s);
        let what = if code == Code::PdfUri {
            "/URI action (the link stays, its target goes)".to_string()
        } else {
            format!("/{} action", name_str(&s))
        };
        let mut r = Reject::new(code, what);
        if code != Code::PdfUri {
            r.also.insert(Code::PdfAction);
        }
        Some(r)
    }

    /// Whether a destination's first element names a page of this
    /// document (a reference to a page, or a page index).
    fn local_page(&self, first: Option<&Object>) -> bool {
        match first {
            Some(Object::Integer(_)) => true,
            Some(o @ Object::Reference(_)) => {
                self.final_ref(o).is_some_and(|id| self.pages.contains(&id))
            }
            _ => false,
        }
    }

    fn damaged(&mut self, what: String) -> Result<Reject, Blocked> {
        if self.decrypted {
            // Data that does not decode after decryption means the
            // decryption went wrong: everything would be garbage.
            return Err(self.cx.block(
                Code::PdfEncrypted,
                format!("a decrypted {what}; the decryption failed"),
            ));
        }
        if self.damaged == DamagedStreams::Block {
            return Err(self.cx.block(Code::PdfDamagedStream, what));
        }
        Ok(Reject::new(Code::PdfDamagedStream, what))
    }

    /// The `/Filter` and `/DecodeParms` of a stream with their references
    /// resolved, as [`streams::decode`] reads them.
    fn filter_dict(&self, s: &Stream) -> Dictionary {
        let mut dict = Dictionary::new();
        for key in [b"Filter".as_slice(), b"DecodeParms"] {
            if let Ok(v) = s.dict.get(key) {
                let v = match self.resolve(v) {
                    Object::Array(a) => {
                        Object::Array(a.iter().map(|x| self.resolve(x).clone()).collect())
                    }
                    other => other.clone(),
                };
                dict.set(key, v);
            }
        }
        dict
    }

    /// Decodes a stream with its parameters resolved.
    fn decode(&mut self, s: &Stream) -> Result<Result<streams::Decoded, Reject>, Blocked> {
        match streams::decode(&self.filter_dict(s), &s.content, self.cap) {
            Ok(d) => {
                self.charge(d.data.len() as u64, d.truncated)?;
                Ok(Ok(d))
            }
            Err(e) => Ok(Err(self.refuse(e)?)),
        }
    }

    /// Charges the bytes a stream decoded to, and judges Flate data that
    /// ended early (`truncated`).
    fn charge(&mut self, bytes: u64, truncated: bool) -> Result<(), Blocked> {
        self.cx.charge_expanded(bytes)?;
        if truncated {
            let what = "Flate data ends early; what decodes is kept".to_string();
            if self.damaged == DamagedStreams::Block {
                return Err(self.cx.block(Code::PdfDamagedStream, what));
            }
            self.tally.add(Code::PdfDamagedStream, what);
        }
        Ok(())
    }

    /// Judges a stream that does not decode.
    fn refuse(&mut self, e: StreamError) -> Result<Reject, Blocked> {
        match e {
            StreamError::Truncated(_) => self.damaged("Flate data ends early".into()),
            StreamError::TooLarge(n) => Err(self.cx.block(
                Code::LimitSize,
                format!("a stream decodes to more than {n} bytes"),
            )),
            StreamError::Damaged(e) => self.damaged(format!("stream does not decode ({e})")),
            StreamError::Codec(c) => Ok(Reject::new(Code::PdfImageCodec, c)),
        }
    }

    /// The data of a stream kept in `role`, decoded, checked and encoded
    /// anew.
    fn prepare(&mut self, role: Role, s: &Stream) -> Result<Result<Prepared, Reject>, Blocked> {
        if role == Role::Image {
            if let Some(r) = self.plain_ahead.remove(&(s.content.as_ptr() as usize)) {
                return Ok(match r {
                    Ok(e) => {
                        self.charge(e.decoded, e.truncated)?;
                        Ok(Prepared {
                            data: e.data.unwrap_or_else(|| s.content.clone()),
                            filter: b"FlateDecode",
                            params: None,
                            set: Vec::new(),
                        })
                    }
                    Err(e) => Err(self.refuse(e)?),
                });
            }
        }
        let decoded = match self.decode(s)? {
            Ok(d) => d,
            Err(r) => return Ok(Err(r)),
        };
        let codec = decoded.codec.clone();
        match (role, codec.as_deref()) {
            (Role::Image, Some(b"DCTDecode")) => {
                let params = self.color_transform(s);
                let ahead = self
                    .jpeg_ahead
                    .remove(&(s.content.as_ptr() as usize))
                    .filter(|_| decoded.data == s.content);
                let rebuilt = match ahead {
                    Some(first) => streams::settle_jpeg(decoded.data, first, self.max_pixels),
                    None => streams::rebuild_jpeg(decoded.data, self.max_pixels),
                };
                return Ok(match rebuilt {
                    Ok(data) => Ok(Prepared {
                        data,
                        filter: b"DCTDecode",
                        params,
                        set: Vec::new(),
                    }),
                    Err(e) => Err(self.damaged(e)?),
                });
            }
            (Role::Image, Some(c)) => {
                let name = name_str(c);
                if self.codecs == ImageCodecs::Drop {
                    return Ok(Err(Reject::new(
                        Code::PdfImageCodec,
                        format!("/{name} image (the policy drops this codec)"),
                    )));
                }
                if c == b"JPXDecode" {
                    return self.prepare_jpx(s, &decoded.data);
                }
                return Ok(match self.reencode(s, c, &decoded.data)? {
                    Ok(rows) => {
                        self.tally.add(
                            Code::PdfImageCodec,
                            format!("/{name} image: decoded and stored with Flate"),
                        );
                        Ok(Prepared {
                            data: streams::deflate(&rows),
                            filter: b"FlateDecode",
                            params: None,
                            set: Vec::new(),
                        })
                    }
                    Err(e) => Err(Reject::new(
                        Code::PdfImageCodec,
                        format!("/{name} image that does not decode ({e})"),
                    )),
                });
            }
            (_, Some(c)) => {
                return Ok(Err(self.damaged(format!(
                    "an image codec /{} on a stream that is not an image",
                    name_str(c)
                ))?));
            }
            (_, None) => {}
        }
        let exact = decoded.exact;
        let mut data = decoded.data;
        if let Role::FontProgram(kind) = role {
            if self.fonts == FontPrograms::Drop {
                return Ok(Err(Reject::new(
                    Code::PdfFont,
                    "embedded font program (the policy drops them; the text keeps its encoding)",
                )));
            }
            let sub = self.name_at(&s.dict, b"Subtype").map(<[u8]>::to_vec);
            return Ok(match fonts::rebuild(kind, sub.as_deref(), &data) {
                Ok(font) => {
                    let lengths = font
                        .lengths
                        .into_iter()
                        .map(|(k, n)| (k, Object::Integer(n as i64)))
                        .collect();
                    Ok(Prepared {
                        data: streams::deflate(&font.data),
                        filter: b"FlateDecode",
                        params: None,
                        set: lengths,
                    })
                }
                Err(e) => {
                    let name = match kind {
                        FontKind::Type1 => "FontFile",
                        FontKind::TrueType => "FontFile2",
                        FontKind::Compact => "FontFile3",
                    };
                    Err(Reject::new(
                        Code::PdfFont,
                        format!("/{name} that does not parse ({e}); the text keeps its encoding"),
                    ))
                }
            });
        }
        if role == Role::Metadata {
            if let Err(why) = streams::check_xmp(&data) {
                return Ok(Err(Reject::new(
                    Code::PdfDropped,
                    format!("/Metadata that is not plain XMP ({why})"),
                )));
            }
        }
        let mut same = true;
        if roles::is_content_role(role) {
            let rebuilt = self.rebuild_content(&data, &format!("{role:?}"));
            same = rebuilt == data;
            data = rebuilt;
        }
        Ok(Ok(Prepared {
            // Exact Flate data that the checks left as it was is the
            // encoding the output would write: it stays.
            data: if self.keep_exact && exact && same {
                s.content.clone()
            } else {
                streams::deflate(&data)
            },
            filter: b"FlateDecode",
            params: None,
            set: Vec::new(),
        }))
    }

    /// A JPEG's `/ColorTransform` (the only parameter of DCTDecode), from
    /// its `/DecodeParms` or the last of them.
    fn color_transform(&self, s: &Stream) -> Option<Dictionary> {
        let params = match s.dict.get(b"DecodeParms").map(|v| self.resolve(v)) {
            Ok(Object::Dictionary(d)) => d,
            Ok(Object::Array(a)) => match a.last().map(|v| self.resolve(v)) {
                Some(Object::Dictionary(d)) => d,
                _ => return None,
            },
            _ => return None,
        };
        match params.get(b"ColorTransform").map(|v| self.resolve(v)) {
            Ok(Object::Integer(i @ 0..=1)) => {
                let mut d = Dictionary::new();
                d.set("ColorTransform", Object::Integer(*i));
                Some(d)
            }
            _ => None,
        }
    }

    /// A JPX image decoded and stored with Flate; its dictionary changes
    /// wait in `jpx_pending` for the output id.
    fn prepare_jpx(
        &mut self,
        s: &Stream,
        data: &[u8],
    ) -> Result<Result<Prepared, Reject>, Blocked> {
        Ok(
            match jpx::rebuild(self.doc, &s.dict, data, self.max_pixels) {
                Ok(r) => {
                    self.cx.charge_expanded(r.decoded)?;
                    self.tally.add(Code::PdfImageCodec, r.note);
                    self.jpx_pending = Some(r.reshape);
                    Ok(Prepared {
                        data: r.data,
                        filter: b"FlateDecode",
                        params: None,
                        set: Vec::new(),
                    })
                }
                Err(e) => Err(Reject::new(
                    Code::PdfImageCodec,
                    format!("/JPXDecode image that does not decode ({e})"),
                )),
            },
        )
    }

    /// A JBIG2 or CCITT image decoded into plain 1-bit rows.
    fn reencode(
        &mut self,
        s: &Stream,
        codec: &[u8],
        data: &[u8],
    ) -> Result<Result<Vec<u8>, String>, Blocked> {
        let int = |k: &[u8]| match s.dict.get(k).map(|v| self.resolve(v)) {
            Ok(Object::Integer(i)) => u32::try_from(*i).ok(),
            _ => None,
        };
        let (Some(width), Some(height)) = (int(b"Width"), int(b"Height")) else {
            return Ok(Err("an image without /Width and /Height".into()));
        };
        // The codec's parameters: the last of the /DecodeParms.
        let params = match s.dict.get(b"DecodeParms").map(|v| self.resolve(v)) {
            Ok(Object::Dictionary(d)) => Some(d.clone()),
            Ok(Object::Array(a)) => match a.last().map(|v| self.resolve(v)) {
                Some(Object::Dictionary(d)) => Some(d.clone()),
                _ => None,
            },
            _ => None,
        };
        Ok(match codec {
            b"JBIG2Decode" => {
                let globals = match params.as_ref().and_then(|p| p.get(b"JBIG2Globals").ok()) {
                    Some(g) => match self.resolve(g) {
                        Object::Stream(gs) => match self.decode(gs)? {
                            Ok(d) if d.codec.is_none() => Some(d.data),
                            _ => return Ok(Err("JBIG2 globals do not decode".into())),
                        },
                        _ => None,
                    },
                    None => None,
                };
                codecs::jbig2(data, globals.as_deref(), width, height, self.max_pixels)
            }
            _ => codecs::ccitt(data, params.as_ref(), width, height, self.max_pixels),
        })
    }

    /// A content stream re-serialised from the known operators, with what
    /// was left out reported.
    fn rebuild_content(&mut self, data: &[u8], owner: &str) -> Vec<u8> {
        let cap = self.cap;
        let max_pixels = self.max_pixels;
        let mut check = |dict: &[(Vec<u8>, content::Operand)], img: &[u8]| {
            inline_image_ok(dict, img, cap, max_pixels)
        };
        let (out, removed) = content::rebuild(data, &mut check);
        for (op, n) in &removed.unknown {
            for _ in 0..*n {
                self.tally.add(
                    Code::PdfDropped,
                    format!("{owner} content: unknown operator {}", name_str(op)),
                );
            }
        }
        if removed.syntax_error {
            self.tally.add(
                Code::PdfDropped,
                format!("{owner} content after a syntax error"),
            );
        }
        for f in &removed.inline_images {
            let code = match f.as_slice() {
                b"CCITTFaxDecode" | b"JBIG2Decode" | b"JPXDecode" => Code::PdfImageCodec,
                _ => Code::PdfDamagedStream,
            };
            self.tally.add(
                code,
                format!("{owner} content: inline image /{}", name_str(f)),
            );
        }
        out
    }

    /// The output object for input `src` in `role`.
    fn build(
        &mut self,
        src: ObjectId,
        role: Role,
        data: Option<Prepared>,
    ) -> Result<Object, Blocked> {
        let doc = self.doc;
        let Some(obj) = doc.objects.get(&src) else {
            return Ok(Object::Null);
        };
        let d = match obj {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => return Ok(Object::Null),
        };
        let mut dict = self.clean_dict(role, d, 1)?;
        Ok(match data {
            Some(p) => {
                dict.set("Filter", Object::Name(p.filter.to_vec()));
                if let Some(params) = p.params {
                    dict.set("DecodeParms", Object::Dictionary(params));
                }
                if !p.set.is_empty() {
                    for k in [b"Length1".as_slice(), b"Length2", b"Length3"] {
                        dict.remove(k);
                    }
                }
                for (k, v) in p.set {
                    dict.set(k.to_vec(), v);
                }
                Object::Stream(Stream::new(dict, p.data))
            }
            None => Object::Dictionary(dict),
        })
    }

    fn too_deep(&self, depth: u32) -> Result<(), Blocked> {
        if depth > self.max_nesting {
            return Err(self.cx.block(
                Code::LimitDepth,
                format!("objects nested deeper than {} levels", self.max_nesting),
            ));
        }
        Ok(())
    }

    fn clean_dict(
        &mut self,
        role: Role,
        src: &Dictionary,
        depth: u32,
    ) -> Result<Dictionary, Blocked> {
        self.too_deep(depth)?;
        let mut out = Dictionary::new();
        for (k, v) in src.iter() {
            let Some(kind) = roles::kind_of(role, k) else {
                self.drop_key(role, k, v);
                continue;
            };
            let kept = match kind {
                Kind::Structural => continue,
                Kind::Contents if role == Role::Page => {
                    self.page_contents(v)?.map(Object::Reference)
                }
                kind => self.value(kind, v, role, k, depth + 1)?,
            };
            match kept {
                Some(x) => out.set(k.clone(), x),
                None if k == b"OpenAction" && !matches!(self.resolve(v), Object::Null) => {
                    self.tally.add(Code::PdfOpenAction, at(role, k));
                }
                None => {}
            }
        }
        match role {
            Role::Page if !out.has(b"Type") => out.set("Type", Object::Name(b"Page".to_vec())),
            Role::PagesNode if !out.has(b"Type") => {
                out.set("Type", Object::Name(b"Pages".to_vec()))
            }
            _ => {}
        }
        Ok(out)
    }

    fn drop_key(&mut self, role: Role, k: &[u8], v: &Object) {
        let code = report::key_code(k).unwrap_or(Code::PdfDropped);
        if code != Code::PdfDropped {
            self.tally.triggered.insert(k.to_vec());
        }
        let where_ = at(role, k);
        let also = report::carried(self.doc, v, &mut self.tally.triggered, self.keep_uri);
        self.tally.add(code, where_.clone());
        for c in also {
            if c != code {
                self.tally.add(c, format!("{where_}: carried"));
            }
        }
    }

    fn unexpected(&mut self, role: Role, k: &[u8], v: &Object) {
        let what = match self.resolve(v) {
            Object::Null => return,
            o => o.enum_variant(),
        };
        self.tally.add(
            Code::PdfDropped,
            format!("{}: unexpected {what}", at(role, k)),
        );
    }

    /// A value of `kind` held by key `k` of an object in `role`; `None`
    /// when it is not kept (reported here or where it was judged).
    fn value(
        &mut self,
        kind: Kind,
        v: &Object,
        role: Role,
        k: &[u8],
        depth: u32,
    ) -> Result<Option<Object>, Blocked> {
        self.too_deep(depth)?;
        let r = self.resolve(v);
        let got = match kind {
            Kind::Plain => {
                let p = self.plain(r, depth)?;
                if p.is_none() {
                    self.unexpected(role, k, v);
                }
                p
            }
            Kind::PlainDict => match r {
                Object::Dictionary(d) => {
                    let mut out = Dictionary::new();
                    for (dk, dv) in d.iter() {
                        match self.plain(self.resolve(dv), depth + 1)? {
                            Some(x) => out.set(dk.clone(), x),
                            None => self.unexpected(role, k, dv),
                        }
                    }
                    Some(Object::Dictionary(out))
                }
                _ => {
                    self.unexpected(role, k, v);
                    None
                }
            },
            Kind::Obj(target) => self.obj(target, v, role, k, depth)?,
            Kind::ArrayOf(target) => {
                let items: Vec<Object> = match r {
                    Object::Array(a) => a.clone(),
                    Object::Null => Vec::new(),
                    _ => vec![v.clone()],
                };
                let mut out = Vec::with_capacity(items.len());
                for it in &items {
                    if matches!(self.resolve(it), Object::Null) {
                        continue;
                    }
                    if let Some(x) = self.obj(target, it, role, k, depth + 1)? {
                        out.push(x);
                    }
                }
                Some(Object::Array(out))
            }
            Kind::MapOf(target) => self.map(r, role, k, depth, |s, item, d| {
                s.obj(target, item, role, k, d)
            })?,
            Kind::XObjectMap => self.map(r, role, k, depth, |s, item, d| {
                s.value(Kind::XObject, item, role, k, d)
            })?,
            Kind::ColorSpaceMap => self.map(r, role, k, depth, |s, item, d| {
                s.value(Kind::ColorSpace, item, role, k, d)
            })?,
            Kind::DestMap => self.map(r, role, k, depth, |s, item, d| {
                s.value(Kind::Dest, item, role, k, d)
            })?,
            Kind::NameOr(target) => match r {
                Object::Name(n) => Some(Object::Name(n.clone())),
                _ => self.obj(target, v, role, k, depth)?,
            },
            Kind::Kids => self.kids(r)?,
            Kind::Contents | Kind::Structural => None,
            Kind::ColorSpace => {
                let cs = self.color_space(r, depth)?;
                if cs.is_none() {
                    self.unexpected(role, k, v);
                }
                cs
            }
            Kind::Functions => match r {
                Object::Name(n) => Some(Object::Name(n.clone())),
                Object::Array(a) => {
                    let mut out = Vec::new();
                    for f in a.clone().iter() {
                        match self.obj(Role::Function, f, role, k, depth + 1)? {
                            Some(x) => out.push(x),
                            None => return Ok(None),
                        }
                    }
                    Some(Object::Array(out))
                }
                _ => self.obj(Role::Function, v, role, k, depth)?,
            },
            Kind::XObject => {
                let sub = match r {
                    Object::Stream(s) => self.name_at(&s.dict, b"Subtype"),
                    _ => None,
                };
                match sub {
                    Some(b"Image") => self.obj(Role::Image, v, role, k, depth)?,
                    Some(b"Form") => self.obj(Role::Form, v, role, k, depth)?,
                    other => {
                        let what = other.map_or("an XObject without a subtype".to_string(), |s| {
                            format!("/{} XObject", name_str(s))
                        });
                        self.tally
                            .add(Code::PdfDropped, format!("{}: {what}", at(role, k)));
                        None
                    }
                }
            }
            Kind::SMask => match r {
                Object::Name(n) => Some(Object::Name(n.clone())),
                _ => self.obj(Role::SoftMask, v, role, k, depth)?,
            },
            Kind::Mask => match r {
                Object::Array(_) => self.plain(r, depth)?,
                _ => self.obj(Role::Image, v, role, k, depth)?,
            },
            Kind::FontEncoding => match r {
                Object::Name(n) => Some(Object::Name(n.clone())),
                Object::Stream(_) => self.obj(Role::CMap, v, role, k, depth)?,
                _ => self.obj(Role::Encoding, v, role, k, depth)?,
            },
            Kind::Dest => {
                let d = self.dest(r, depth)?;
                if d.is_none() {
                    self.tally.add(
                        Code::PdfDropped,
                        format!("{}: a destination outside this document", at(role, k)),
                    );
                }
                d
            }
            Kind::DestOrAction => match r {
                Object::Dictionary(_) => self.obj(Role::Action, v, role, k, depth)?,
                _ => self.value(Kind::Dest, v, role, k, depth)?,
            },
            Kind::Next => match r {
                Object::Array(a) => {
                    let mut out = Vec::new();
                    for it in a.clone().iter() {
                        if let Some(x) = self.obj(Role::Action, it, role, k, depth + 1)? {
                            out.push(x);
                        }
                    }
                    (!out.is_empty()).then_some(Object::Array(out))
                }
                _ => self.obj(Role::Action, v, role, k, depth)?,
            },
            Kind::Appearance => match r {
                Object::Dictionary(d) => {
                    let mut out = Dictionary::new();
                    for (ak, av) in d.iter() {
                        if !matches!(ak.as_slice(), b"N" | b"R" | b"D") {
                            self.drop_key(role, ak, av);
                            continue;
                        }
                        let kept = match self.resolve(av) {
                            Object::Dictionary(_) => {
                                self.map(self.resolve(av), role, k, depth + 1, |s, item, d| {
                                    s.obj(Role::Form, item, role, k, d)
                                })?
                            }
                            _ => self.obj(Role::Form, av, role, k, depth + 1)?,
                        };
                        if let Some(x) = kept {
                            out.set(ak.clone(), x);
                        }
                    }
                    Some(Object::Dictionary(out))
                }
                _ => None,
            },
            Kind::DestPairs | Kind::LabelPairs => match r {
                Object::Array(a) => {
                    let mut out = Vec::new();
                    for pair in a.clone().chunks(2) {
                        let [key, val] = pair else { break };
                        let key = self.resolve(key).clone();
                        let key_ok = match kind {
                            Kind::DestPairs => matches!(key, Object::String(..)),
                            _ => matches!(key, Object::Integer(_)),
                        };
                        let val = match kind {
                            Kind::DestPairs => self.value(Kind::Dest, val, role, k, depth + 1)?,
                            _ => self.obj(Role::PageLabel, val, role, k, depth + 1)?,
                        };
                        if let (true, Some(val)) = (key_ok, val) {
                            out.push(key);
                            out.push(val);
                        }
                    }
                    Some(Object::Array(out))
                }
                _ => None,
            },
            Kind::OcOrder => self.oc_order(v, role, k, depth)?,
            Kind::OcGroups => match r {
                Object::Array(a) => {
                    let mut out = Vec::new();
                    for g in a.clone().iter() {
                        if let Some(x) =
                            self.value(Kind::ArrayOf(Role::OcGroup), g, role, k, depth + 1)?
                        {
                            out.push(x);
                        }
                    }
                    Some(Object::Array(out))
                }
                _ => None,
            },
            Kind::StructKids => self.struct_kids(v, role, k, depth)?,
            Kind::StructAttrs => {
                let items: Vec<Object> = match r {
                    Object::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                let single = !matches!(r, Object::Array(_));
                let mut out = Vec::new();
                for it in &items {
                    match self.resolve(it) {
                        Object::Integer(i) if !single => out.push(Object::Integer(*i)),
                        Object::Dictionary(d) => {
                            const ACTION_KEYS: &[&[u8]] = &[
                                b"S",
                                b"JS",
                                b"JavaScript",
                                b"URI",
                                b"F",
                                b"D",
                                b"N",
                                b"Next",
                            ];
                            let owner =
                                matches!(d.get(b"O").map(|o| self.resolve(o)), Ok(Object::Name(_)));
                            let mut a = Dictionary::new();
                            let mut ok = owner;
                            for (dk, dv) in d.iter() {
                                if ACTION_KEYS.contains(&dk.as_slice()) {
                                    ok = false;
                                    break;
                                }
                                match self.plain(self.resolve(dv), depth + 1)? {
                                    Some(x) => a.set(dk.clone(), x),
                                    None => {
                                        ok = false;
                                        break;
                                    }
                                }
                            }
                            if ok {
                                out.push(Object::Dictionary(a));
                            } else {
                                self.unexpected(role, k, it);
                            }
                        }
                        _ => self.unexpected(role, k, it),
                    }
                }
                match (single, out.len()) {
                    (_, 0) => None,
                    (true, _) => out.pop(),
                    (false, _) => Some(Object::Array(out)),
                }
            }
            Kind::StructParent => match self.final_ref(v) {
                Some(id) if Some(id) == self.struct_root => self
                    .admit(id, Role::StructTreeRoot, &at(role, k))?
                    .map(Object::Reference),
                _ => self.obj(Role::StructElem, v, role, k, depth)?,
            },
            Kind::StructNums => match r {
                Object::Array(a) => {
                    let mut out = Vec::new();
                    for pair in a.clone().chunks(2) {
                        let [key, val] = pair else { break };
                        let key = self.resolve(key).clone();
                        let val = match self.resolve(val) {
                            Object::Array(elems) => {
                                let mut kept = Vec::new();
                                for e in elems.clone().iter() {
                                    match self.resolve(e) {
                                        Object::Null => kept.push(Object::Null),
                                        _ => kept.push(
                                            self.obj(Role::StructElem, e, role, k, depth + 1)?
                                                .unwrap_or(Object::Null),
                                        ),
                                    }
                                }
                                Some(Object::Array(kept))
                            }
                            Object::Null => None,
                            _ => self.obj(Role::StructElem, val, role, k, depth + 1)?,
                        };
                        if let (Object::Integer(_), Some(val)) = (&key, val) {
                            out.push(key);
                            out.push(val);
                        }
                    }
                    Some(Object::Array(out))
                }
                _ => None,
            },
            Kind::PageRef => match self.final_ref(v) {
                Some(id) if self.pages.contains(&id) => self
                    .admit(id, Role::Page, &at(role, k))?
                    .map(Object::Reference),
                _ => None,
            },
        };
        Ok(got)
    }

    /// `/K` of a structure element or root: marked-content ids, `/MCR`
    /// and `/OBJR` references, elements, or an array of them.
    fn struct_kids(
        &mut self,
        v: &Object,
        role: Role,
        k: &[u8],
        depth: u32,
    ) -> Result<Option<Object>, Blocked> {
        self.too_deep(depth)?;
        Ok(match self.resolve(v) {
            Object::Integer(i) => Some(Object::Integer(*i)),
            Object::Array(a) => {
                let mut out = Vec::new();
                for x in a.clone().iter() {
                    if let Some(y) = self.struct_kids(x, role, k, depth + 1)? {
                        out.push(y);
                    }
                }
                Some(Object::Array(out))
            }
            Object::Dictionary(d) => match self.name_at(d, b"Type") {
                Some(t @ (b"MCR" | b"OBJR")) => {
                    let mcr = t == b"MCR";
                    let d = d.clone();
                    let mut out = Dictionary::new();
                    out.set(
                        "Type",
                        Object::Name(if mcr {
                            b"MCR".to_vec()
                        } else {
                            b"OBJR".to_vec()
                        }),
                    );
                    if let Ok(pg) = d.get(b"Pg") {
                        if let Some(p) = self.value(Kind::PageRef, pg, role, b"Pg", depth + 1)? {
                            out.set("Pg", p);
                        }
                    }
                    let (key, got) = if mcr {
                        let id = d.get(b"MCID").map(|x| self.resolve(x).clone());
                        (
                            b"MCID".as_slice(),
                            id.ok().filter(|x| matches!(x, Object::Integer(_))),
                        )
                    } else {
                        let obj = d.get(b"Obj").cloned().unwrap_or(Object::Null);
                        (
                            b"Obj".as_slice(),
                            self.obj(Role::Annot, &obj, role, k, depth + 1)?,
                        )
                    };
                    match got {
                        Some(x) => {
                            out.set(key, x);
                            Some(Object::Dictionary(out))
                        }
                        None => {
                            self.unexpected(role, k, v);
                            None
                        }
                    }
                }
                _ => self.obj(Role::StructElem, v, role, k, depth)?,
            },
            Object::Null => None,
            _ => {
                self.unexpected(role, k, v);
                None
            }
        })
    }

    /// A dictionary mapping names to values judged by `each`.
    fn map(
        &mut self,
        r: &Object,
        role: Role,
        k: &[u8],
        depth: u32,
        mut each: impl FnMut(&mut Self, &Object, u32) -> Result<Option<Object>, Blocked>,
    ) -> Result<Option<Object>, Blocked> {
        let Object::Dictionary(d) = r else {
            self.unexpected(role, k, r);
            return Ok(None);
        };
        self.too_deep(depth + 1)?;
        let mut out = Dictionary::new();
        for (name, item) in d.iter() {
            if let Some(x) = each(self, item, depth + 1)? {
                out.set(name.clone(), x);
            }
        }
        Ok(Some(Object::Dictionary(out)))
    }

    /// A dictionary or stream in `target` role: a reference to its output
    /// copy, or the cleaned direct dictionary.
    fn obj(
        &mut self,
        target: Role,
        v: &Object,
        role: Role,
        k: &[u8],
        depth: u32,
    ) -> Result<Option<Object>, Blocked> {
        if let Some(id) = self.final_ref(v) {
            return Ok(self.admit(id, target, &at(role, k))?.map(Object::Reference));
        }
        match v {
            Object::Dictionary(d) => {
                let obj = v;
                match self.judge(target, obj)? {
                    Err(r) => {
                        self.reject(&at(role, k), r, obj);
                        Ok(None)
                    }
                    Ok(_) => Ok(Some(Object::Dictionary(self.clean_dict(
                        target,
                        d,
                        depth + 1,
                    )?))),
                }
            }
            Object::Null => Ok(None),
            other => {
                self.unexpected(role, k, other);
                Ok(None)
            }
        }
    }

    /// Numbers, names, strings, booleans, null and arrays of them, with
    /// references resolved in place.
    fn plain(&self, o: &Object, depth: u32) -> Result<Option<Object>, Blocked> {
        self.too_deep(depth)?;
        Ok(match o {
            Object::Null
            | Object::Boolean(_)
            | Object::Integer(_)
            | Object::Real(_)
            | Object::Name(_)
            | Object::String(..) => Some(o.clone()),
            Object::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for x in a {
                    match self.plain(self.resolve(x), depth + 1)? {
                        Some(p) => out.push(p),
                        None => return Ok(None),
                    }
                }
                Some(Object::Array(out))
            }
            _ => None,
        })
    }

    /// A colour space: a name, or an array whose parts are judged by the
    /// family it names.
    fn color_space(&mut self, o: &Object, depth: u32) -> Result<Option<Object>, Blocked> {
        self.too_deep(depth)?;
        let a = match o {
            Object::Name(n) => return Ok(Some(Object::Name(n.clone()))),
            Object::Array(a) => a.clone(),
            _ => return Ok(None),
        };
        let Some(Object::Name(family)) = a.first().map(|x| self.resolve(x)) else {
            return Ok(None);
        };
        let family = family.clone();
        let part = |i: usize| a.get(i).cloned().unwrap_or(Object::Null);
        let mut out = vec![Object::Name(family.clone())];
        let role = Role::Group;
        let ok = match family.as_slice() {
            b"DeviceGray" | b"DeviceRGB" | b"DeviceCMYK" | b"Pattern" if a.len() == 1 => true,
            b"CalGray" | b"CalRGB" | b"Lab" => push(
                &mut out,
                self.value(Kind::PlainDict, &part(1), role, b"CS", depth + 1)?,
            ),
            b"ICCBased" => push(
                &mut out,
                self.obj(Role::IccProfile, &part(1), role, b"CS", depth + 1)?,
            ),
            b"Indexed" | b"I" => {
                let base = self.color_space(self.resolve(&part(1)), depth + 1)?;
                let hival = self.plain(self.resolve(&part(2)), depth + 1)?;
                let lookup = match self.resolve(&part(3)) {
                    s @ Object::String(..) => Some(s.clone()),
                    Object::Stream(_) => self.obj(Role::Data, &part(3), role, b"CS", depth + 1)?,
                    _ => None,
                };
                push(&mut out, base) && push(&mut out, hival) && push(&mut out, lookup)
            }
            b"Pattern" => push(
                &mut out,
                self.color_space(self.resolve(&part(1)), depth + 1)?,
            ),
            b"Separation" | b"DeviceN" => {
                let names = self.plain(self.resolve(&part(1)), depth + 1)?;
                let alt = self.color_space(self.resolve(&part(2)), depth + 1)?;
                let tint = self.value(Kind::Functions, &part(3), role, b"CS", depth + 1)?;
                if a.len() > 4 {
                    self.tally.add(
                        Code::PdfDropped,
                        "ColorSpace/DeviceN attributes".to_string(),
                    );
                }
                push(&mut out, names) && push(&mut out, alt) && push(&mut out, tint)
            }
            _ => false,
        };
        Ok(ok.then_some(Object::Array(out)))
    }

    /// A destination: a name or string (a named destination), an array
    /// whose first element is a page of this document, or a dictionary
    /// with `/D`.
    fn dest(&mut self, o: &Object, depth: u32) -> Result<Option<Object>, Blocked> {
        self.too_deep(depth)?;
        Ok(match o {
            Object::Name(_) | Object::String(..) => Some(o.clone()),
            Object::Array(a) => {
                let Some(first) = a.first() else {
                    return Ok(None);
                };
                let page = match first {
                    Object::Integer(i) => Object::Integer(*i),
                    r @ Object::Reference(_) => match self.final_ref(r) {
                        Some(id) if self.pages.contains(&id) => {
                            match self.admit(id, Role::Page, "destination")? {
                                Some(n) => Object::Reference(n),
                                None => return Ok(None),
                            }
                        }
                        _ => return Ok(None),
                    },
                    _ => return Ok(None),
                };
                let mut out = vec![page];
                for x in a.iter().skip(1) {
                    match self.resolve(x) {
                        p @ (Object::Name(_)
                        | Object::Integer(_)
                        | Object::Real(_)
                        | Object::Null) => out.push(p.clone()),
                        _ => return Ok(None),
                    }
                }
                Some(Object::Array(out))
            }
            Object::Dictionary(d) => match d.get(b"D") {
                Ok(inner) => {
                    let inner = self.resolve(inner);
                    self.dest(inner, depth + 1)?.map(|x| {
                        let mut out = Dictionary::new();
                        out.set("D", x);
                        Object::Dictionary(out)
                    })
                }
                Err(_) => None,
            },
            _ => None,
        })
    }

    /// An optional-content `/Order` or `/OCGs` value: groups and labels in
    /// nested arrays.
    fn oc_order(
        &mut self,
        v: &Object,
        role: Role,
        k: &[u8],
        depth: u32,
    ) -> Result<Option<Object>, Blocked> {
        self.too_deep(depth)?;
        if self.final_ref(v).is_some() && matches!(self.resolve(v), Object::Dictionary(_)) {
            return self.obj(Role::OcGroup, v, role, k, depth);
        }
        Ok(match self.resolve(v) {
            s @ Object::String(..) => Some(s.clone()),
            Object::Array(a) => {
                let mut out = Vec::new();
                for x in a.clone().iter() {
                    if let Some(y) = self.oc_order(x, role, k, depth + 1)? {
                        out.push(y);
                    }
                }
                Some(Object::Array(out))
            }
            _ => None,
        })
    }

    /// The kids of a page tree node: nodes (with `/Kids`) and pages. A kid
    /// that is not a dictionary would lose a page: the file is malformed.
    fn kids(&mut self, r: &Object) -> Result<Option<Object>, Blocked> {
        let Object::Array(a) = r else {
            return Err(self.cx.block(
                Code::PdfMalformed,
                "a page tree node's /Kids is not an array",
            ));
        };
        let mut out = Vec::with_capacity(a.len());
        for kid in a.clone().iter() {
            if matches!(kid, Object::Null) {
                continue;
            }
            let Some(id) = self.final_ref(kid) else {
                return Err(self
                    .cx
                    .block(Code::PdfMalformed, "a page tree kid is not a reference"));
            };
            let role = match self.doc.objects.get(&id) {
                Some(Object::Dictionary(d)) if d.has(b"Kids") => Role::PagesNode,
                Some(Object::Dictionary(_)) => Role::Page,
                _ => {
                    return Err(self.cx.block(
                        Code::PdfMalformed,
                        format!("page tree kid {} {} is missing or unreadable", id.0, id.1),
                    ))
                }
            };
            match self.admit(id, role, "PagesNode/Kids")? {
                Some(n) if role == Role::Page && !self.in_tree.insert(n) => {
                    // A page listed twice becomes a copy, as readers show
                    // it; made here so that it is numbered in tree order.
                    out.push(Object::Reference(self.copy_page(id)?));
                }
                Some(n) => out.push(Object::Reference(n)),
                None => {
                    return Err(self.cx.block(
                        Code::PdfMalformed,
                        format!("page tree kid {} {} cannot be kept", id.0, id.1),
                    ))
                }
            }
        }
        Ok(Some(Object::Array(out)))
    }

    /// A second output copy of page `id`.
    fn copy_page(&mut self, id: ObjectId) -> Result<ObjectId, Blocked> {
        let out = self.allocate()?;
        self.in_tree.insert(out);
        self.queue.push_back(Job {
            src: id,
            role: Role::Page,
            out,
            data: None,
        });
        Ok(out)
    }

    /// A page's content streams, joined into one and re-serialised; the
    /// output id of the new stream.
    fn page_contents(&mut self, v: &Object) -> Result<Option<ObjectId>, Blocked> {
        let parts: Vec<Object> = match self.resolve(v) {
            Object::Array(a) => a.clone(),
            Object::Stream(_) => vec![v.clone()],
            Object::Null => return Ok(None),
            _ => {
                self.unexpected(Role::Page, b"Contents", v);
                return Ok(None);
            }
        };
        let mut joined = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let Object::Stream(s) = self.resolve(p) else {
                // A missing or unreadable part loses what it drew: said,
                // not passed over.
                self.tally.add(
                    Code::PdfDropped,
                    format!(
                        "Page/Contents[{i}]: a {} where a content stream belongs (missing or unreadable)",
                        self.resolve(p).enum_variant()
                    ),
                );
                continue;
            };
            match self.decode(s)? {
                Ok(d) if d.codec.is_none() => {
                    joined.extend_from_slice(&d.data);
                    joined.push(b'\n');
                }
                Ok(d) => {
                    let c = d.codec.unwrap_or_default();
                    let r = self.damaged(format!(
                        "a page content stream with the image filter /{}",
                        name_str(&c)
                    ))?;
                    self.reject("Page/Contents", r, &Object::Null);
                }
                Err(r) => self.reject("Page/Contents", r, &Object::Null),
            }
        }
        let data = self.rebuild_content(&joined, "Page");
        let id = self.allocate()?;
        let mut d = Dictionary::new();
        d.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        self.put(
            id,
            None,
            Object::Stream(Stream::new(d, streams::deflate(&data))),
        );
        Ok(Some(id))
    }
}

fn push(out: &mut Vec<Object>, x: Option<Object>) -> bool {
    match x {
        Some(x) => {
            out.push(x);
            true
        }
        None => false,
    }
}

/// Whether an inline image's data decodes (and, for JPEG, is a JPEG); the
/// image codecs go by the policy.
fn inline_image_ok(
    dict: &[(Vec<u8>, content::Operand)],
    img: &[u8],
    cap: usize,
    max_pixels: u64,
) -> bool {
    let get = |k: &[u8], short: &[u8]| {
        dict.iter()
            .find(|(n, _)| n == k || n == short)
            .map(|(_, v)| v)
    };
    let names: Vec<Vec<u8>> = match get(b"Filter", b"F") {
        None => return true,
        Some(content::Operand::Name(n)) => vec![content::full_filter(n).to_vec()],
        Some(content::Operand::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                content::Operand::Name(n) => Some(content::full_filter(n).to_vec()),
                _ => None,
            })
            .collect(),
        Some(_) => return false,
    };
    let last = names.last().cloned().unwrap_or_default();
    match last.as_slice() {
        // Inline images in these codecs are not rewritten in place.
        b"CCITTFaxDecode" | b"JBIG2Decode" | b"JPXDecode" => return false,
        _ => {}
    }
    // Parameters are left out: a predictor only changes the bytes, not
    // whether the data decodes.
    let mut d = Dictionary::new();
    d.set(
        "Filter",
        Object::Array(names.into_iter().map(Object::Name).collect()),
    );
    match streams::decode(&d, img, cap) {
        Ok(dec) => match dec.codec.as_deref() {
            None => true,
            Some(b"DCTDecode") => streams::check_jpeg(&dec.data, max_pixels).is_ok(),
            Some(_) => false,
        },
        Err(_) => false,
    }
}
