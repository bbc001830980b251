//! OOXML packages: a new package built from the parts that are reachable
//! from `_rels/.rels` and of allowed kinds.

use crate::xml::{self, ElementBudget, XmlRules};
use mugai_core::config::LinkAction;
use mugai_core::{Blocked, Code, Context, FileType, Rebuilt};
use quick_xml::escape::escape;
use quick_xml::events::Event;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{Cursor, Read, Write};

use mugai_core::budget::ratio_exceeded;

const CT_RELS: &str = "application/vnd.openxmlformats-package.relationships+xml";

/// A relationship as read from a `.rels` part.
#[derive(Debug, Clone)]
struct Rel {
    id: String,
    ty: String,
    /// The target as written (still XML-escaped is not needed: unescaped).
    target: String,
    external: bool,
}

/// What becomes of a part.
#[derive(Debug, Clone)]
enum Fate {
    /// An XML part, rewritten when its turn in the walk comes, with its
    /// content type as the kept list spells it.
    Xml(&'static str),
    /// Bytes already final (a sanitised image), with their content type.
    Ready(Vec<u8>, String),
    Dropped,
}

/// The danger a relationship type, content type or name signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Danger {
    Vba,
    Xlm,
    ActiveX,
    Ole,
    CustomUi,
    ExternalLink,
    Template,
    /// Data connections, query tables, Power Query, web extensions: parts
    /// that fetch or run on open without a link relationship.
    DataConnection,
    Unsupported,
}

impl Danger {
    fn code(self) -> Code {
        match self {
            Danger::Vba => Code::OoxmlVba,
            Danger::Xlm => Code::OoxmlXlmMacro,
            Danger::ActiveX => Code::OoxmlActivex,
            Danger::Ole => Code::OoxmlOleObject,
            Danger::CustomUi => Code::OoxmlCustomUi,
            Danger::ExternalLink | Danger::Template => Code::OoxmlExternalRel,
            Danger::DataConnection => Code::OoxmlDataConnection,
            Danger::Unsupported => Code::OfficeUnsupported,
        }
    }
    fn what(self) -> &'static str {
        match self {
            Danger::Vba => "VBA project",
            Danger::Xlm => "Excel 4.0 macro sheet",
            Danger::ActiveX => "ActiveX control",
            Danger::Ole => "embedded OLE object",
            Danger::CustomUi => "customUI ribbon extension",
            Danger::ExternalLink => "external workbook link",
            Danger::Template => "template/frame/subdocument reference",
            Danger::DataConnection => "data connection, query or web extension",
            Danger::Unsupported => "part of a kind no rebuilder handles",
        }
    }
}

/// Relationship types (their last path segment, lower-cased) of the parts
/// a document is made of. A part reached through any other type is dropped.
const KEPT_RELS: &[&str] = &[
    // Package and properties.
    "officedocument",
    "core-properties",
    "extended-properties",
    "custom-properties",
    "thumbnail",
    "customxml",
    "customxmlprops",
    // Shared by all three.
    "styles",
    "theme",
    "themeoverride",
    "image",
    "chart",
    "chartusershapes",
    "chartstyle",
    "chartcolorstyle",
    "diagramdata",
    "diagramlayout",
    "diagramquickstyle",
    "diagramcolors",
    "diagramdrawing",
    "drawing",
    "vmldrawing",
    "comments",
    // Word.
    "styleswitheffects",
    "numbering",
    "settings",
    "websettings",
    "fonttable",
    "header",
    "footer",
    "footnotes",
    "endnotes",
    "commentsextended",
    "commentsids",
    "commentsextensible",
    "people",
    "glossarydocument",
    // Excel.
    "worksheet",
    "chartsheet",
    "sharedstrings",
    "calcchain",
    "table",
    "tablesinglecells",
    "pivottable",
    "pivotcachedefinition",
    "pivotcacherecords",
    "slicer",
    "slicercache",
    "timeline",
    "timelinecache",
    "sheetmetadata",
    "threadedcomment",
    "person",
    // PowerPoint.
    "slide",
    "slidelayout",
    "slidemaster",
    "notesslide",
    "notesmaster",
    "handoutmaster",
    "presprops",
    "viewprops",
    "tablestyles",
    "tags",
    "commentauthors",
    "authors",
];

/// Content types a kept XML part may declare, by the relationship type
/// (last segment, lower-cased) that reaches it. Compared without regard to
/// case (MIME types are case-insensitive); the spelling here is the one the
/// rebuilt `[Content_Types].xml` carries. A part whose content type is not
/// listed for its role is dropped. Pictures (`image`, `thumbnail`) are
/// judged by the image rules instead.
const KEPT_CONTENT_TYPES: &[(&str, &[&str])] = &[
    (
        "officedocument",
        &[
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
            "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
            "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
            // Macro-enabled main parts: kept, and written as the macro-free
            // type (see `macro_free_main`).
            "application/vnd.ms-word.document.macroEnabled.main+xml",
            "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
            "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
            "application/vnd.ms-excel.template.macroEnabled.main+xml",
            "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
            "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
            "application/vnd.ms-powerpoint.template.macroEnabled.main+xml",
        ],
    ),
    (
        "core-properties",
        &["application/vnd.openxmlformats-package.core-properties+xml"],
    ),
    (
        "extended-properties",
        &["application/vnd.openxmlformats-officedocument.extended-properties+xml"],
    ),
    (
        "custom-properties",
        &["application/vnd.openxmlformats-officedocument.custom-properties+xml"],
    ),
    ("customxml", &["application/xml", "text/xml"]),
    (
        "customxmlprops",
        &["application/vnd.openxmlformats-officedocument.customXmlProperties+xml"],
    ),
    (
        "styles",
        &[
            "application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml",
        ],
    ),
    (
        "theme",
        &["application/vnd.openxmlformats-officedocument.theme+xml"],
    ),
    (
        "themeoverride",
        &["application/vnd.openxmlformats-officedocument.themeOverride+xml"],
    ),
    (
        "chart",
        &["application/vnd.openxmlformats-officedocument.drawingml.chart+xml"],
    ),
    (
        "chartusershapes",
        &["application/vnd.openxmlformats-officedocument.drawingml.chartshapes+xml"],
    ),
    ("chartstyle", &["application/vnd.ms-office.chartstyle+xml"]),
    (
        "chartcolorstyle",
        &["application/vnd.ms-office.chartcolorstyle+xml"],
    ),
    (
        "diagramdata",
        &["application/vnd.openxmlformats-officedocument.drawingml.diagramData+xml"],
    ),
    (
        "diagramlayout",
        &["application/vnd.openxmlformats-officedocument.drawingml.diagramLayout+xml"],
    ),
    (
        "diagramquickstyle",
        &["application/vnd.openxmlformats-officedocument.drawingml.diagramStyle+xml"],
    ),
    (
        "diagramcolors",
        &["application/vnd.openxmlformats-officedocument.drawingml.diagramColors+xml"],
    ),
    (
        "diagramdrawing",
        &["application/vnd.ms-office.drawingml.diagramDrawing+xml"],
    ),
    (
        "drawing",
        &["application/vnd.openxmlformats-officedocument.drawing+xml"],
    ),
    (
        "vmldrawing",
        &["application/vnd.openxmlformats-officedocument.vmlDrawing"],
    ),
    (
        "comments",
        &[
            "application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml",
            "application/vnd.openxmlformats-officedocument.presentationml.comments+xml",
            "application/vnd.ms-powerpoint.comments+xml",
        ],
    ),
    (
        "styleswitheffects",
        &["application/vnd.ms-word.stylesWithEffects+xml"],
    ),
    (
        "numbering",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"],
    ),
    (
        "settings",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"],
    ),
    (
        "websettings",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.webSettings+xml"],
    ),
    (
        "fonttable",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.fontTable+xml"],
    ),
    (
        "header",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"],
    ),
    (
        "footer",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"],
    ),
    (
        "footnotes",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"],
    ),
    (
        "endnotes",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.endnotes+xml"],
    ),
    (
        "commentsextended",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.commentsExtended+xml"],
    ),
    (
        "commentsids",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.commentsIds+xml"],
    ),
    (
        "commentsextensible",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.commentsExtensible+xml"],
    ),
    (
        "people",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.people+xml"],
    ),
    (
        "glossarydocument",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.document.glossary+xml"],
    ),
    (
        "worksheet",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"],
    ),
    (
        "chartsheet",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.chartsheet+xml"],
    ),
    (
        "sharedstrings",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"],
    ),
    (
        "calcchain",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"],
    ),
    (
        "table",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml"],
    ),
    (
        "tablesinglecells",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.tableSingleCells+xml"],
    ),
    (
        "pivottable",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.pivotTable+xml"],
    ),
    (
        "pivotcachedefinition",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.pivotCacheDefinition+xml"],
    ),
    (
        "pivotcacherecords",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.pivotCacheRecords+xml"],
    ),
    ("slicer", &["application/vnd.ms-excel.slicer+xml"]),
    ("slicercache", &["application/vnd.ms-excel.slicerCache+xml"]),
    ("timeline", &["application/vnd.ms-excel.timeline+xml"]),
    (
        "timelinecache",
        &["application/vnd.ms-excel.timelineCache+xml"],
    ),
    (
        "sheetmetadata",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"],
    ),
    (
        "threadedcomment",
        &["application/vnd.ms-excel.threadedcomments+xml"],
    ),
    ("person", &["application/vnd.ms-excel.person+xml"]),
    (
        "slide",
        &["application/vnd.openxmlformats-officedocument.presentationml.slide+xml"],
    ),
    (
        "slidelayout",
        &["application/vnd.openxmlformats-officedocument.presentationml.slideLayout+xml"],
    ),
    (
        "slidemaster",
        &["application/vnd.openxmlformats-officedocument.presentationml.slideMaster+xml"],
    ),
    (
        "notesslide",
        &["application/vnd.openxmlformats-officedocument.presentationml.notesSlide+xml"],
    ),
    (
        "notesmaster",
        &["application/vnd.openxmlformats-officedocument.presentationml.notesMaster+xml"],
    ),
    (
        "handoutmaster",
        &["application/vnd.openxmlformats-officedocument.presentationml.handoutMaster+xml"],
    ),
    (
        "presprops",
        &["application/vnd.openxmlformats-officedocument.presentationml.presProps+xml"],
    ),
    (
        "viewprops",
        &["application/vnd.openxmlformats-officedocument.presentationml.viewProps+xml"],
    ),
    (
        "tablestyles",
        &["application/vnd.openxmlformats-officedocument.presentationml.tableStyles+xml"],
    ),
    (
        "tags",
        &["application/vnd.openxmlformats-officedocument.presentationml.tags+xml"],
    ),
    (
        "commentauthors",
        &["application/vnd.openxmlformats-officedocument.presentationml.commentAuthors+xml"],
    ),
    ("authors", &["application/vnd.ms-powerpoint.authors+xml"]),
];

/// The verdict on the content type `ct` of a part reached through a
/// relationship of type `suffix`.
#[derive(Debug, PartialEq, Eq)]
enum TypeCheck {
    /// On the kept list for this role: the canonical spelling.
    Kept(&'static str),
    /// On the kept list, but for another role (a worksheet reached as
    /// styles): the content types lie about the part.
    OtherRole,
    /// On no kept list.
    Unknown,
}

fn check_content_type(suffix: &str, ct: &str) -> TypeCheck {
    let ct = ct.trim();
    let mut elsewhere = false;
    for (role, types) in KEPT_CONTENT_TYPES {
        if let Some(t) = types.iter().find(|t| t.eq_ignore_ascii_case(ct)) {
            if *role == suffix {
                return TypeCheck::Kept(t);
            }
            elsewhere = true;
        }
    }
    if elsewhere {
        TypeCheck::OtherRole
    } else {
        TypeCheck::Unknown
    }
}

fn rel_suffix(ty: &str) -> String {
    ty.rsplit('/').next().unwrap_or(ty).to_ascii_lowercase()
}

/// The danger signalled by a relationship type.
fn danger_of_rel_type(ty: &str) -> Option<Danger> {
    let lower = ty.to_ascii_lowercase();
    if lower.contains("/ui/") {
        return Some(Danger::CustomUi);
    }
    Some(match rel_suffix(ty).as_str() {
        "vbaproject"
        | "wordvbadata"
        | "vbaprojectsignature"
        | "vbaprojectsignatureagile"
        | "vbaprojectsignaturev3"
        | "keymapcustomizations"
        | "attachedtoolbars" => Danger::Vba,
        "xlmacrosheet" | "xlintlmacrosheet" | "dialogsheet" => Danger::Xlm,
        "control" | "activexcontrolbinary" => Danger::ActiveX,
        "oleobject" | "package" | "embeddedobject" => Danger::Ole,
        "externallink" | "externallinkpath" | "xlexternallinkpath" => Danger::ExternalLink,
        "attachedtemplate" | "frame" | "subdocument" => Danger::Template,
        "connections"
        | "querytable"
        | "webextension"
        | "webextensiontaskpanes"
        | "powerpivotdata"
        | "xmlmaps"
        | "volatiledependencies" => Danger::DataConnection,
        "afchunk" | "printersettings" | "font" | "video" | "audio" | "media" => Danger::Unsupported,
        _ => return None,
    })
}

/// The danger signalled by a content type.
fn danger_of_content_type(ct: &str) -> Option<Danger> {
    let c = ct.to_ascii_lowercase();
    Some(
        if c.contains("vbaproject")
            || c.contains("vbadata")
            || c.contains("keymapcustomizations")
            || c.contains("attachedtoolbars")
        {
            Danger::Vba
        } else if c.contains("macrosheet") || c.contains("dialogsheet") {
            Danger::Xlm
        } else if c.contains("activex") {
            Danger::ActiveX
        } else if c.contains("oleobject") || c.contains("officedocument.package") {
            Danger::Ole
        } else if c.contains("externallink") {
            Danger::ExternalLink
        } else if c.contains("connections+xml")
            || c.contains("querytable")
            || c.contains("webextension")
            || c.contains("taskpanes")
            || c.contains("volatiledependencies")
        {
            Danger::DataConnection
        } else {
            return None;
        },
    )
}

/// The danger signalled by a part name.
fn danger_of_name(name: &str) -> Option<Danger> {
    let n = name.to_ascii_lowercase();
    Some(if n.contains("vbaproject") || n.contains("vbadata") {
        Danger::Vba
    } else if n.contains("/macrosheets/") {
        Danger::Xlm
    } else if n.contains("/activex/") {
        Danger::ActiveX
    } else if n.contains("/embeddings/") && !is_image_name(&n) {
        Danger::Ole
    } else if n.starts_with("customui/") {
        Danger::CustomUi
    } else if n.contains("/externallinks/") {
        Danger::ExternalLink
    } else if n.ends_with("/connections.xml")
        || n.contains("/querytables/")
        || n.contains("webextensions/")
    {
        Danger::DataConnection
    } else {
        return None;
    })
}

fn is_image_name(n: &str) -> bool {
    [
        ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp",
    ]
    .iter()
    .any(|e| n.ends_with(e))
}

fn is_xml_content_type(ct: &str) -> bool {
    let c = ct.to_ascii_lowercase();
    c.ends_with("+xml")
        || c.ends_with("/xml")
        || c == "application/vnd.openxmlformats-officedocument.vmldrawing"
}

/// The macro-free content type of a macro-enabled main part.
fn macro_free_main(ct: &str) -> Option<&'static str> {
    let c = ct.to_ascii_lowercase();
    Some(match c.as_str() {
        "application/vnd.ms-word.document.macroenabled.main+xml" => {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
        }
        "application/vnd.ms-word.template.macroenabledtemplate.main+xml" => {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"
        }
        "application/vnd.ms-excel.sheet.macroenabled.main+xml" => {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
        }
        "application/vnd.ms-excel.template.macroenabled.main+xml" => {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml"
        }
        "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml" => {
            "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
        }
        "application/vnd.ms-powerpoint.slideshow.macroenabled.main+xml" => {
            "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml"
        }
        "application/vnd.ms-powerpoint.template.macroenabled.main+xml" => {
            "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml"
        }
        _ => return None,
    })
}

/// The `.rels` part of `part` ("" for the package root).
fn rels_name(part: &str) -> String {
    match part.rfind('/') {
        Some(i) => format!("{}/_rels/{}.rels", &part[..i], &part[i + 1..]),
        None if part.is_empty() => "_rels/.rels".to_string(),
        None => format!("_rels/{part}.rels"),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Resolves an internal target relative to its source part; `None` when it
/// leaves the package.
fn resolve_target(source: &str, target: &str) -> Option<String> {
    let target = target.split('#').next().unwrap_or("");
    let target = percent_decode(target).replace('\\', "/");
    let mut segs: Vec<&str> = Vec::new();
    if !target.starts_with('/') {
        if let Some(i) = source.rfind('/') {
            segs.extend(source[..i].split('/').filter(|s| !s.is_empty()));
        }
    }
    for s in target.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop()?;
            }
            s => segs.push(s),
        }
    }
    (!segs.is_empty()).then(|| segs.join("/"))
}

fn parse_rels(text: &str) -> Result<Vec<Rel>, String> {
    let mut r = quick_xml::Reader::from_reader(text.as_bytes());
    let mut out = Vec::new();
    loop {
        match r.read_event().map_err(|e| e.to_string())? {
            Event::Eof => break,
            Event::DocType(_) => return Err("DTD in a relationships part".into()),
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                let mut rel = Rel {
                    id: String::new(),
                    ty: String::new(),
                    target: String::new(),
                    external: false,
                };
                for a in e.attributes() {
                    let a = a.map_err(|e| e.to_string())?;
                    let v = crate::xml::attr_value(&a)
                        .map_err(|e| e.to_string())?
                        .into_owned();
                    match a.key.0 {
                        "Id" => rel.id = v,
                        "Type" => rel.ty = v,
                        "Target" => rel.target = v,
                        "TargetMode" => rel.external = v.eq_ignore_ascii_case("External"),
                        _ => {}
                    }
                }
                out.push(rel);
            }
            _ => {}
        }
    }
    Ok(out)
}

/// `[Content_Types].xml`: defaults by extension, overrides by part name
/// (both lower-cased: OPC names compare case-insensitively).
#[derive(Default)]
struct ContentTypes {
    defaults: HashMap<String, String>,
    overrides: HashMap<String, String>,
}

impl ContentTypes {
    fn parse(text: &str) -> Result<Self, String> {
        let mut r = quick_xml::Reader::from_reader(text.as_bytes());
        let mut ct = ContentTypes::default();
        loop {
            match r.read_event().map_err(|e| e.to_string())? {
                Event::Eof => break,
                Event::DocType(_) => return Err("DTD in [Content_Types].xml".into()),
                Event::Start(e) | Event::Empty(e) => {
                    let mut k = String::new();
                    let mut v = String::new();
                    for a in e.attributes() {
                        let a = a.map_err(|e| e.to_string())?;
                        let val = crate::xml::attr_value(&a)
                            .map_err(|e| e.to_string())?
                            .into_owned();
                        match a.key.0 {
                            "Extension" | "PartName" => k = val,
                            "ContentType" => v = val,
                            _ => {}
                        }
                    }
                    match e.local_name().as_ref() {
                        "Default" => {
                            ct.defaults.insert(k.to_ascii_lowercase(), v);
                        }
                        "Override" => {
                            let k = k.trim_start_matches('/').to_ascii_lowercase();
                            ct.overrides.insert(k, v);
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        Ok(ct)
    }

    fn of(&self, part: &str) -> Option<&str> {
        let key = part.to_ascii_lowercase();
        if let Some(v) = self.overrides.get(&key) {
            return Some(v);
        }
        let ext = key.rsplit_once('.').map(|(_, e)| e)?;
        if ext.contains('/') {
            return None;
        }
        self.defaults.get(ext).map(|s| s.as_str())
    }
}

/// The package being read.
struct Package<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    /// Lower-cased part name → (index, name as stored).
    index: HashMap<String, (usize, String)>,
    max_ratio: u64,
}

impl Package<'_> {
    fn open<'b>(input: &'b [u8], cx: &Context<'_>) -> Result<Package<'b>, Blocked> {
        let mut zip = zip::ZipArchive::new(Cursor::new(input)).map_err(|e| {
            cx.block(
                Code::RebuildFailed,
                format!("not a readable OOXML package: {e}"),
            )
        })?;
        cx.charge_entries(zip.len() as u64)?;
        match zip.has_overlapping_entries() {
            Ok(false) => {}
            Ok(true) => return Err(cx.block(Code::ArchiveBomb, "overlapping ZIP entries")),
            Err(e) => {
                return Err(cx.block(Code::RebuildFailed, format!("ZIP entries unreadable: {e}")))
            }
        }
        // Local headers that disagree with the central directory (another
        // name, another size) or hide entries: readers would disagree on
        // what the package holds.
        if let Err(e) = zip.validate_header_consistency() {
            return Err(cx.block(
                Code::RebuildFailed,
                format!("inconsistent ZIP headers: {e}"),
            ));
        }
        if zip.has_duplicate_names() {
            return Err(cx.block(Code::RebuildFailed, "duplicate part names in the package"));
        }
        let mut index = HashMap::new();
        let names: Vec<Vec<u8>> = zip.file_names_raw().map(|n| n.to_vec()).collect();
        for (i, raw) in names.into_iter().enumerate() {
            // OPC part names are ASCII (percent-encoded); others cannot be
            // the target of any relationship and are left behind.
            let Ok(name) = String::from_utf8(raw) else {
                continue;
            };
            if name.ends_with('/') {
                continue;
            }
            let key = name.trim_start_matches('/').to_ascii_lowercase();
            if index.insert(key, (i, name)).is_some() {
                return Err(cx.block(Code::RebuildFailed, "part names differ only in case"));
            }
        }
        Ok(Package {
            zip,
            index,
            max_ratio: cx.policy().limits.max_ratio,
        })
    }

    fn has(&self, part: &str) -> bool {
        self.index.contains_key(&part.to_ascii_lowercase())
    }

    fn stored_name(&self, part: &str) -> Option<&str> {
        self.index
            .get(&part.to_ascii_lowercase())
            .map(|(_, n)| n.trim_start_matches('/'))
    }

    /// Reads a part, charging the budget as it inflates.
    fn read(&mut self, cx: &Context<'_>, part: &str) -> Result<Option<Vec<u8>>, Blocked> {
        let Some((i, _)) = self.index.get(&part.to_ascii_lowercase()).cloned() else {
            return Ok(None);
        };
        cx.check_deadline()?;
        {
            let raw = self
                .zip
                .by_index_raw(i)
                .map_err(|e| cx.block(Code::RebuildFailed, format!("{part}: {e}")))?;
            if raw.encrypted() {
                return Err(cx.block(
                    Code::ArchiveEncrypted,
                    format!("{part}: encrypted ZIP entry"),
                ));
            }
        }
        let mut f = self
            .zip
            .by_index(i)
            .map_err(|e| cx.block(Code::RebuildFailed, format!("{part}: {e}")))?;
        let compressed = f.compressed_size();
        let mut out = Vec::with_capacity(f.size().min(1 << 24) as usize);
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| cx.block(Code::RebuildFailed, format!("{part}: {e}")))?;
            if n == 0 {
                break;
            }
            cx.charge_expanded(n as u64)?;
            out.extend_from_slice(&buf[..n]);
            if ratio_exceeded(out.len() as u64, compressed, self.max_ratio) {
                return Err(cx.block(
                    Code::ArchiveBomb,
                    format!("{part}: expands more than {} times", self.max_ratio),
                ));
            }
        }
        // Scanned as the core sees it, so that a hit names the part.
        cx.scan_part(part, &out)?;
        Ok(Some(out))
    }
}

/// Rebuilds an OOXML package of type `ty`.
pub fn rebuild(input: &[u8], ty: FileType, cx: &mut Context<'_>) -> Result<Rebuilt, Blocked> {
    let mut pkg = Package::open(input, cx)?;
    let ct_bytes = pkg
        .read(cx, "[Content_Types].xml")?
        .ok_or_else(|| cx.block(Code::RebuildFailed, "no [Content_Types].xml"))?;
    let ct_text = xml::decode(&ct_bytes)
        .map_err(|e| cx.block(Code::RebuildFailed, format!("[Content_Types].xml: {e}")))?;
    let types = ContentTypes::parse(&ct_text)
        .map_err(|e| cx.block(Code::RebuildFailed, format!("[Content_Types].xml: {e}")))?;
    let hyperlinks = cx.policy().office.hyperlinks;

    // Overrides naming parts that are not there.
    let mut ghosts: Vec<&String> = types.overrides.keys().filter(|k| !pkg.has(k)).collect();
    ghosts.sort();
    if let Some(first) = ghosts.first() {
        cx.removed(
            Code::OoxmlContentTypeLie,
            format!(
                "[Content_Types].xml names {} part(s) that are not in the package (e.g. /{first})",
                ghosts.len()
            ),
        );
    }

    let mut fates: HashMap<String, Fate> = HashMap::new();
    // Output: part name → (bytes, content type), in walk order.
    let mut written: BTreeMap<String, (Vec<u8>, String)> = BTreeMap::new();
    let mut rels_out: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut budget = ElementBudget::default();
    let mut main_part: Option<String> = None;

    // The package root first ("" stands for it), then every kept part.
    queue.push_back(String::new());
    let mut first = true;
    while let Some(source) = queue.pop_front() {
        cx.check_deadline()?;
        let rels_part = rels_name(&source);
        let rels = match pkg.read(cx, &rels_part)? {
            Some(b) => {
                let text = xml::decode(&b)
                    .map_err(|e| cx.block(Code::RebuildFailed, format!("{rels_part}: {e}")))?;
                parse_rels(&text)
                    .map_err(|e| cx.block(Code::RebuildFailed, format!("{rels_part}: {e}")))?
            }
            None if first => return Err(cx.block(Code::RebuildFailed, "no _rels/.rels")),
            None => Vec::new(),
        };
        cx.charge_entries(rels.len() as u64)?;
        let mut kept: Vec<Rel> = Vec::new();
        let mut dropped_ids: HashSet<String> = HashSet::new();
        for rel in rels {
            let src = if source.is_empty() {
                "/"
            } else {
                source.as_str()
            };
            let suffix = rel_suffix(&rel.ty);
            if rel.external {
                if suffix == "hyperlink" {
                    let scheme_ok = {
                        let t = rel.target.trim().to_ascii_lowercase();
                        t.starts_with("http://")
                            || t.starts_with("https://")
                            || t.starts_with("mailto:")
                    };
                    if hyperlinks == LinkAction::Keep && scheme_ok {
                        kept.push(rel);
                    } else {
                        cx.neutralised(
                            Code::OoxmlHyperlink,
                            format!(
                                "{src}: hyperlink {} target {} removed",
                                rel.id,
                                short(&rel.target)
                            ),
                        );
                        dropped_ids.insert(rel.id);
                    }
                } else {
                    let what = danger_of_rel_type(&rel.ty)
                        .map(|d| d.what())
                        .unwrap_or("external reference");
                    cx.removed(
                        Code::OoxmlExternalRel,
                        format!("{src}: {what} relationship {} ({suffix}) to external target {} removed", rel.id, short(&rel.target)),
                    );
                    dropped_ids.insert(rel.id);
                }
                continue;
            }
            let Some(target) = resolve_target(&source, &rel.target) else {
                dropped_ids.insert(rel.id);
                continue;
            };
            let key = target.to_ascii_lowercase();
            if key == "[content_types].xml" || key.ends_with(".rels") || !pkg.has(&target) {
                dropped_ids.insert(rel.id);
                continue;
            }
            if suffix == "origin" || suffix == "signature" || rel.ty.contains("digital-signature") {
                // Signatures cannot survive a rebuild; leave them behind.
                dropped_ids.insert(rel.id);
                continue;
            }
            let fate = match fates.get(&key) {
                Some(f) => f.clone(),
                None => {
                    let f = decide(cx, &mut pkg, &types, &rel, &target, first, ty)?;
                    fates.insert(key.clone(), f.clone());
                    match &f {
                        Fate::Xml(_) => {
                            if first && suffix == "officedocument" && main_part.is_none() {
                                main_part = Some(key.clone());
                            }
                            queue.push_back(target.clone());
                        }
                        Fate::Ready(b, ct) => {
                            let name = pkg.stored_name(&target).unwrap_or(&target).to_string();
                            written.insert(name, (b.clone(), ct.clone()));
                        }
                        Fate::Dropped => {}
                    }
                    f
                }
            };
            match fate {
                Fate::Dropped => {
                    dropped_ids.insert(rel.id);
                }
                _ => kept.push(rel),
            }
        }
        first = false;

        // Rewrite the source part itself.
        if !source.is_empty() {
            let bytes = pkg
                .read(cx, &source)?
                .ok_or_else(|| cx.block(Code::RebuildFailed, format!("{source}: missing")))?;
            let mut ct = match fates.get(&source.to_ascii_lowercase()) {
                Some(Fate::Xml(t)) => t.to_string(),
                _ => return Err(cx.block(Code::RebuildFailed, format!("{source}: no kept type"))),
            };
            let spreadsheet =
                ct.to_ascii_lowercase().contains("spreadsheetml") || ct.contains("ms-excel");
            let rules = XmlRules {
                dropped_ids: &dropped_ids,
                neutralise_hyperlinks: hyperlinks == LinkAction::Neutralise,
                spreadsheet,
            };
            let out = xml::rewrite(cx, &source, &bytes, &rules, &mut budget)?;
            if main_part.as_deref() == Some(source.to_ascii_lowercase().as_str()) {
                if let Some(free) = macro_free_main(&ct) {
                    cx.removed(
                        Code::OoxmlVba,
                        format!("/{source}: macro-enabled content type {ct} rebuilt as {free}"),
                    );
                    ct = free.to_string();
                }
            }
            let name = pkg.stored_name(&source).unwrap_or(&source).to_string();
            written.insert(name, (out, ct));
        }
        if !kept.is_empty() {
            rels_out.insert(
                rels_name(pkg.stored_name(&source).unwrap_or(&source)),
                write_rels(&kept),
            );
        }
    }
    if main_part.is_none() {
        return Err(cx.block(Code::RebuildFailed, "the package has no main document part"));
    }

    // Parts left behind that carried danger are reported.
    let mut leftover: Vec<(String, Danger)> = Vec::new();
    for (key, (_, name)) in &pkg.index {
        if fates.contains_key(key) || key.ends_with(".rels") || key == "[content_types].xml" {
            continue;
        }
        let d = danger_of_name(name).or_else(|| types.of(name).and_then(danger_of_content_type));
        if let Some(d) = d {
            if d != Danger::Unsupported {
                leftover.push((name.clone(), d));
            }
        }
    }
    leftover.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, d) in leftover {
        cx.removed(
            d.code(),
            format!("/{name}: unreferenced {} part removed", d.what()),
        );
    }

    let out = write_package(&written, &rels_out)
        .map_err(|e| cx.block(Code::RebuildFailed, format!("writing the package: {e}")))?;
    Ok(Rebuilt::new(out, ty.macro_free()))
}

fn short(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).take(100).collect();
    s
}

/// Decides what becomes of a part reached for the first time.
fn decide(
    cx: &mut Context<'_>,
    pkg: &mut Package<'_>,
    types: &ContentTypes,
    rel: &Rel,
    target: &str,
    from_root: bool,
    _ty: FileType,
) -> Result<Fate, Blocked> {
    let ct = types.of(target).map(str::to_string);
    let by_rel = danger_of_rel_type(&rel.ty);
    let by_ct = ct.as_deref().and_then(danger_of_content_type);
    let by_name = danger_of_name(target);
    let suffix = rel_suffix(&rel.ty);
    let Some(ct) = ct else {
        cx.removed(
            Code::OoxmlContentTypeLie,
            format!("/{target}: part has no content type; removed"),
        );
        if let Some(d) = by_rel.or(by_name) {
            cx.removed(d.code(), format!("/{target}: {} removed", d.what()));
        }
        return Ok(Fate::Dropped);
    };
    if let Some(d) = by_rel.or(by_ct).or(by_name) {
        // A dangerous relationship whose target claims to be a picture or
        // plain XML: the content types lie about it.
        let claims_benign = ct.to_ascii_lowercase().starts_with("image/")
            || (is_xml_content_type(&ct)
                && matches!(by_rel, Some(Danger::Vba | Danger::Xlm | Danger::Ole)));
        if by_ct.is_none()
            && claims_benign
            && matches!(
                by_rel,
                Some(Danger::Vba | Danger::Xlm | Danger::ActiveX | Danger::Ole)
            )
        {
            cx.removed(
                Code::OoxmlContentTypeLie,
                format!("/{target}: {suffix} relationship but content type {ct}"),
            );
        }
        let detail = match d {
            Danger::Ole if suffix == "oleobject" || suffix == "package" => {
                format!(
                    "/{target}: {} removed (its preview image is kept)",
                    d.what()
                )
            }
            _ => format!("/{target}: {} ({suffix} relationship) removed", d.what()),
        };
        let mut code = d.code();
        if d == Danger::ExternalLink {
            // An external link part holding a `ddeLink` is a DDE channel.
            if let Some(b) = pkg.read(cx, target)? {
                if b.windows(7).any(|w| w == b"ddeLink") {
                    code = Code::OoxmlDde;
                }
            }
        }
        cx.removed(code, detail);
        return Ok(Fate::Dropped);
    }
    if !KEPT_RELS.contains(&suffix.as_str()) {
        cx.removed(
            Code::OfficeUnsupported,
            format!("/{target}: {suffix} part outside the kept list removed"),
        );
        return Ok(Fate::Dropped);
    }
    if suffix == "customxml" {
        // Power Query keeps its queries (and their sources) in a custom
        // XML part; they refresh from elsewhere.
        if let Some(b) = pkg.read(cx, target)? {
            let mashup = xml::decode(&b).is_ok_and(|t| t.contains("DataMashup"));
            if mashup {
                cx.removed(
                    Code::OoxmlDataConnection,
                    format!("/{target}: Power Query (DataMashup) removed"),
                );
                return Ok(Fate::Dropped);
            }
        }
    }
    if macro_free_main(&ct).is_some() && !(from_root && suffix == "officedocument") {
        cx.removed(
            Code::OoxmlContentTypeLie,
            format!("/{target}: macro-enabled main content type on a non-main part; removed"),
        );
        return Ok(Fate::Dropped);
    }
    let image_rel = suffix == "image" || suffix == "thumbnail";
    let ct_lower = ct.to_ascii_lowercase();
    if ct_lower.starts_with("image/") && !image_rel {
        cx.removed(
            Code::OoxmlContentTypeLie,
            format!("/{target}: {suffix} relationship but content type {ct}; removed"),
        );
        return Ok(Fate::Dropped);
    }
    if image_rel {
        if !ct_lower.starts_with("image/") && is_xml_content_type(&ct) {
            cx.removed(
                Code::OoxmlContentTypeLie,
                format!("/{target}: {suffix} relationship but content type {ct}; removed"),
            );
            return Ok(Fate::Dropped);
        }
        let Some(bytes) = pkg.read(cx, target)? else {
            return Ok(Fate::Dropped);
        };
        // The part's extension is not a claim the image rules should judge
        // (Office names JPEGs .png at times); the declared content type is
        // checked against the content below.
        let member_name = match target.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') => stem,
            _ => target,
        };
        let actual = mugai_detect::detect(&bytes);
        return Ok(match cx.member(member_name, &bytes) {
            Ok(r) if !r.file_type.mime().starts_with("image/") => {
                cx.removed(
                    Code::OoxmlContentTypeLie,
                    format!("/{target}: {suffix} relationship to a part that is {actual}, not a picture; removed"),
                );
                Fate::Dropped
            }
            Ok(r) => {
                let mime = r.file_type.mime().to_string();
                if !ct_lower.starts_with("image/") || !same_image_type(&ct_lower, actual) {
                    cx.removed(
                        Code::OoxmlContentTypeLie,
                        format!("/{target}: declared {ct} but the content is {actual}"),
                    );
                }
                Fate::Ready(r.bytes, mime)
            }
            Err(b) => {
                cx.removed(
                    Code::OfficeUnsupported,
                    format!("/{target}: image removed ({}: {})", b.code, b.detail),
                );
                Fate::Dropped
            }
        });
    }
    match check_content_type(&suffix, &ct) {
        TypeCheck::Kept(t) => Ok(Fate::Xml(t)),
        TypeCheck::OtherRole => {
            cx.removed(
                Code::OoxmlContentTypeLie,
                format!("/{target}: {suffix} relationship but content type {ct} (a part of another kind); removed"),
            );
            Ok(Fate::Dropped)
        }
        TypeCheck::Unknown => {
            cx.removed(
                Code::OfficeUnsupported,
                format!("/{target}: content type {ct} ({suffix} relationship) is outside the kept list; removed"),
            );
            Ok(Fate::Dropped)
        }
    }
}

fn same_image_type(ct: &str, t: FileType) -> bool {
    let sub = ct.trim_start_matches("image/");
    match t {
        FileType::Jpeg => sub == "jpeg" || sub == "jpg" || sub == "pjpeg",
        FileType::Png => sub == "png" || sub == "x-png",
        FileType::Gif => sub == "gif",
        FileType::Bmp => sub == "bmp" || sub == "x-bmp" || sub == "x-ms-bmp",
        FileType::Tiff => sub == "tiff" || sub == "tif",
        FileType::Webp => sub == "webp",
        _ => false,
    }
}

fn write_rels(rels: &[Rel]) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
    );
    for r in rels {
        s.push_str(&format!(
            "<Relationship Id=\"{}\" Type=\"{}\" Target=\"{}\"{}/>",
            escape(r.id.as_str()),
            escape(r.ty.as_str()),
            escape(r.target.as_str()),
            if r.external {
                " TargetMode=\"External\""
            } else {
                ""
            }
        ));
    }
    s.push_str("</Relationships>");
    s.into_bytes()
}

fn write_package(
    parts: &BTreeMap<String, (Vec<u8>, String)>,
    rels: &BTreeMap<String, Vec<u8>>,
) -> zip::result::ZipResult<Vec<u8>> {
    let mut ct = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">",
    );
    ct.push_str(&format!(
        "<Default Extension=\"rels\" ContentType=\"{CT_RELS}\"/>"
    ));
    ct.push_str("<Default Extension=\"xml\" ContentType=\"application/xml\"/>");
    for (name, (_, t)) in parts {
        ct.push_str(&format!(
            "<Override PartName=\"/{}\" ContentType=\"{}\"/>",
            escape(name.as_str()),
            escape(t.as_str())
        ));
    }
    ct.push_str("</Types>");

    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    w.start_file("[Content_Types].xml", opts)?;
    w.write_all(ct.as_bytes())?;
    if let Some(root) = rels.get("_rels/.rels") {
        w.start_file("_rels/.rels", opts)?;
        w.write_all(root)?;
    }
    for (name, (bytes, _)) in parts {
        w.start_file(name.as_str(), opts)?;
        w.write_all(bytes)?;
    }
    for (name, bytes) in rels {
        if name != "_rels/.rels" {
            w.start_file(name.as_str(), opts)?;
            w.write_all(bytes)?;
        }
    }
    Ok(w.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_against_their_source() {
        assert_eq!(
            resolve_target("word/document.xml", "media/a.png").as_deref(),
            Some("word/media/a.png")
        );
        assert_eq!(
            resolve_target("word/document.xml", "../customXml/item1.xml").as_deref(),
            Some("customXml/item1.xml")
        );
        assert_eq!(
            resolve_target("", "word/document.xml").as_deref(),
            Some("word/document.xml")
        );
        assert_eq!(
            resolve_target("xl/workbook.xml", "/xl/styles.xml").as_deref(),
            Some("xl/styles.xml")
        );
        assert_eq!(resolve_target("a.xml", "../../etc/passwd"), None);
        assert_eq!(
            resolve_target("w/d.xml", "my%20pic.png").as_deref(),
            Some("w/my pic.png")
        );
    }

    #[test]
    fn content_types_are_kept_by_role() {
        let styles = "application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml";
        assert_eq!(
            check_content_type("styles", &styles.to_ascii_uppercase()),
            TypeCheck::Kept(styles)
        );
        assert_eq!(
            check_content_type(
                "styles",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
            ),
            TypeCheck::OtherRole
        );
        assert_eq!(
            check_content_type("styles", "application/x-anything+xml"),
            TypeCheck::Unknown
        );
        assert_eq!(
            check_content_type("control", "application/vnd.ms-office.activeX+xml"),
            TypeCheck::Unknown
        );
        // Every kept main type is either macro-free or has a macro-free twin.
        for (role, types) in KEPT_CONTENT_TYPES {
            for t in *types {
                assert!(
                    KEPT_RELS.contains(role),
                    "{role} is not a kept relationship"
                );
                assert!(danger_of_content_type(t).is_none(), "{t} is dangerous");
                if t.to_ascii_lowercase().contains("macroenabled") {
                    assert!(macro_free_main(t).is_some(), "{t} has no macro-free type");
                }
            }
        }
    }

    #[test]
    fn rels_names() {
        assert_eq!(rels_name(""), "_rels/.rels");
        assert_eq!(
            rels_name("word/document.xml"),
            "word/_rels/document.xml.rels"
        );
    }

    #[test]
    fn relationship_types_are_classified() {
        let t = |s: &str| danger_of_rel_type(s);
        assert_eq!(
            t("http://schemas.microsoft.com/office/2006/relationships/vbaProject"),
            Some(Danger::Vba)
        );
        assert_eq!(
            t("http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"),
            Some(Danger::CustomUi)
        );
        assert_eq!(
            t("http://schemas.openxmlformats.org/officeDocument/2006/relationships/oleObject"),
            Some(Danger::Ole)
        );
        assert_eq!(
            t("http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"),
            None
        );
        assert_eq!(
            macro_free_main("application/vnd.ms-word.document.macroEnabled.main+xml")
                .map(|s| s.contains("wordprocessingml.document")),
            Some(true)
        );
    }
}
