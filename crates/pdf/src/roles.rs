//! The allow-list: for each role an object can be reached in, the keys it
//! may keep and what each key's value must be.
//!
//! The role comes from where an object is reached (the catalog's `/Pages`,
//! a page's `/Resources`, a resource map's value, ...), never from the
//! object's own `/Type`. A key not listed for the role is dropped.

/// What an object is used as, decided by the path that reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Catalog,
    PagesNode,
    Page,
    Resources,
    Font,
    FontDescriptor,
    Encoding,
    /// A CMap stream (`/ToUnicode`, an embedded `/Encoding` CMap).
    CMap,
    FontProgram(FontKind),
    Image,
    /// A form XObject, also an appearance stream or a soft-mask group.
    Form,
    /// A Type 3 glyph description (a content stream without a dictionary).
    CharProc,
    IccProfile,
    /// A stream kept as plain data (`/CIDToGIDMap`, `/CIDSet`, an indexed
    /// colour table).
    Data,
    /// An XMP metadata stream (`/Metadata`): kept when it is plain XMP XML.
    Metadata,
    /// The logical structure (tags for accessibility): its root, its
    /// elements and the parent tree that maps content back to them.
    StructTreeRoot,
    StructElem,
    StructParentTree,
    Function,
    Pattern,
    Shading,
    ExtGState,
    SoftMask,
    Group,
    Annot,
    /// An annotation's `/MK` (appearance characteristics).
    AppearanceTraits,
    Outline,
    Action,
    AcroForm,
    NamesDict,
    DestTree,
    LabelTree,
    PageLabel,
    Info,
    OcProperties,
    OcConfig,
    /// An optional-content group or membership dictionary, or a marked
    /// content property list (the values of `/Properties`).
    OcGroup,
}

/// The format a font program claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FontKind {
    /// `/FontFile`: Type 1 (PostScript).
    Type1,
    /// `/FontFile2`: TrueType.
    TrueType,
    /// `/FontFile3`: CFF or OpenType, by its `/Subtype`.
    Compact,
}

/// What a kept key's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Numbers, names, strings, booleans, null and arrays of them; indirect
    /// values are resolved and written in place.
    Plain,
    /// A dictionary of [`Kind::Plain`] values.
    PlainDict,
    /// A dictionary or stream judged in the role.
    Obj(Role),
    /// An array of [`Kind::Obj`].
    ArrayOf(Role),
    /// A dictionary mapping producer-chosen names to [`Kind::Obj`].
    MapOf(Role),
    /// A name, or a stream in the role (`/ToUnicode`, `/CIDToGIDMap`).
    NameOr(Role),
    /// The kids of a page tree node (nodes or pages by their shape).
    Kids,
    /// A page's content streams.
    Contents,
    /// A colour space (name or array).
    ColorSpace,
    /// A function, an array of functions, or a name (`/Identity`).
    Functions,
    /// A form or image XObject, by its `/Subtype`.
    XObject,
    /// `/XObject` of resources: names mapped to [`Kind::XObject`].
    XObjectMap,
    /// `/ColorSpace` of resources: names mapped to [`Kind::ColorSpace`].
    ColorSpaceMap,
    /// `/Names` of a destination name tree: string, destination pairs.
    DestPairs,
    /// `/Nums` of the page label number tree: number, label pairs.
    LabelPairs,
    /// A soft mask: a name (`/None`) or a soft-mask dictionary.
    SMask,
    /// An image mask: an image stream or a colour-key array.
    Mask,
    /// `/Encoding` of a font: a name, a differences dictionary or a CMap.
    FontEncoding,
    /// A destination: an array with a page of this document, or a name.
    Dest,
    /// A destination or an action (`/OpenAction`).
    DestOrAction,
    /// An action's `/Next`: one action or an array of them.
    Next,
    /// An annotation's `/AP`: streams or maps of appearance states.
    Appearance,
    /// `/Dests` of the catalog: names mapped to destinations.
    DestMap,
    /// An optional-content `/Order` (nested arrays of groups and labels).
    OcOrder,
    /// An array of arrays of groups (`/RBGroups`).
    OcGroups,
    /// A page of this document (an annotation's `/P`).
    PageRef,
    /// `/K` of the structure: elements, marked-content ids and
    /// references (`/MCR` to content on a page, `/OBJR` to an annotation).
    StructKids,
    /// `/A` of a structure element: attribute dictionaries (each with an
    /// owner `/O` and plain values, none of an action's keys), or an array
    /// of them with revision numbers.
    StructAttrs,
    /// `/P` of a structure element: the root or another element.
    StructParent,
    /// `/Nums` of the parent tree: number, element (or array of them).
    StructNums,
    /// A key the rebuild sets itself (`/Parent`, `/Count`, `/Length`):
    /// skipped without a finding.
    Structural,
}

/// Annotation subtypes kept (with [`WIDGET`] for form fields).
pub const ANNOTATIONS: &[&[u8]] = &[
    b"Link",
    b"Text",
    b"FreeText",
    b"Highlight",
    b"Underline",
    b"StrikeOut",
    b"Squiggly",
    b"Square",
    b"Circle",
    b"Line",
    b"Polygon",
    b"PolyLine",
    b"Ink",
    b"Stamp",
    b"Caret",
    b"Popup",
];

pub const WIDGET: &[u8] = b"Widget";

/// Named actions kept: page navigation.
pub const NAMED_ACTIONS: &[&[u8]] = &[b"NextPage", b"PrevPage", b"FirstPage", b"LastPage"];

/// Keys of a stream dictionary that describe its encoding; the rebuild
/// writes them anew.
pub const STREAM_ENCODING: &[&[u8]] = &[b"Length", b"Filter", b"DecodeParms", b"DL"];

/// Whether a role's objects are streams.
pub fn is_stream_role(role: Role) -> bool {
    matches!(
        role,
        Role::CMap
            | Role::FontProgram(_)
            | Role::Image
            | Role::Form
            | Role::CharProc
            | Role::IccProfile
            | Role::Data
            | Role::Metadata
    )
}

/// Whether a role's stream data is a content stream (re-serialised from
/// the known operators).
pub fn is_content_role(role: Role) -> bool {
    matches!(role, Role::Form | Role::CharProc | Role::Pattern)
}

/// The kind of `key`'s value in an object of `role`; `None` drops it.
pub fn kind_of(role: Role, key: &[u8]) -> Option<Kind> {
    use Kind::*;
    use Role as R;
    if key == b"Type" && !matches!(role, R::Info) {
        return Some(Plain);
    }
    if (is_stream_role(role) || matches!(role, R::Function | R::Pattern | R::Shading))
        && STREAM_ENCODING.contains(&key)
    {
        return Some(Structural);
    }
    let k = match (role, key) {
        (R::Catalog, b"Version" | b"PageLayout" | b"PageMode" | b"Lang") => Plain,
        (R::Catalog, b"Pages") => Obj(R::PagesNode),
        (R::Catalog, b"PageLabels") => Obj(R::LabelTree),
        (R::Catalog, b"Names") => Obj(R::NamesDict),
        (R::Catalog, b"Dests") => DestMap,
        (R::Catalog, b"Outlines") => Obj(R::Outline),
        (R::Catalog, b"ViewerPreferences" | b"MarkInfo") => PlainDict,
        (R::Catalog, b"OpenAction") => DestOrAction,
        (R::Catalog, b"AcroForm") => Obj(R::AcroForm),
        (R::Catalog, b"OCProperties") => Obj(R::OcProperties),
        (R::Catalog | R::Page | R::Image | R::Form, b"Metadata") => Obj(R::Metadata),
        (R::Metadata, b"Subtype") => Plain,
        (R::Catalog, b"StructTreeRoot") => Obj(R::StructTreeRoot),
        (R::StructTreeRoot, b"K") => StructKids,
        (R::StructTreeRoot, b"ParentTree") => Obj(R::StructParentTree),
        (R::StructTreeRoot, b"ParentTreeNextKey") => Plain,
        (R::StructTreeRoot, b"RoleMap") => PlainDict,
        (
            R::StructElem,
            b"S" | b"T" | b"Lang" | b"Alt" | b"E" | b"ActualText" | b"ID" | b"C" | b"R",
        ) => Plain,
        (R::StructElem, b"A") => StructAttrs,
        (R::StructElem, b"P") => StructParent,
        (R::StructElem, b"Pg") => PageRef,
        (R::StructElem, b"K") => StructKids,
        (R::StructParentTree, b"Kids") => ArrayOf(R::StructParentTree),
        (R::StructParentTree, b"Limits") => Plain,
        (R::StructParentTree, b"Nums") => StructNums,
        (R::Page | R::Form | R::Image, b"StructParents" | b"StructParent") => Plain,
        (R::Annot, b"StructParent") => Plain,

        (R::PagesNode, b"Kids") => Kids,
        (R::PagesNode, b"Count" | b"Parent") => Structural,
        (R::PagesNode, b"Resources") => Obj(R::Resources),
        (R::PagesNode, b"MediaBox" | b"CropBox" | b"Rotate") => Plain,

        (R::Page, b"Parent") => Structural,
        (
            R::Page,
            b"MediaBox" | b"CropBox" | b"BleedBox" | b"TrimBox" | b"ArtBox" | b"Rotate"
            | b"UserUnit" | b"Tabs" | b"Dur",
        ) => Plain,
        (R::Page, b"Resources") => Obj(R::Resources),
        (R::Page, b"Contents") => Contents,
        (R::Page, b"Annots") => ArrayOf(R::Annot),
        (R::Page, b"Group") => Obj(R::Group),
        (R::Page, b"Thumb") => Obj(R::Image),
        (R::Page, b"Trans") => PlainDict,

        (R::Resources, b"Font") => MapOf(R::Font),
        (R::Resources, b"XObject") => XObjectMap,
        (R::Resources, b"ExtGState") => MapOf(R::ExtGState),
        (R::Resources, b"ColorSpace") => ColorSpaceMap,
        (R::Resources, b"Pattern") => MapOf(R::Pattern),
        (R::Resources, b"Shading") => MapOf(R::Shading),
        (R::Resources, b"Properties") => MapOf(R::OcGroup),
        (R::Resources, b"ProcSet") => Plain,

        (
            R::Font,
            b"Subtype" | b"BaseFont" | b"Name" | b"FirstChar" | b"LastChar" | b"Widths" | b"DW"
            | b"W" | b"DW2" | b"W2" | b"FontBBox" | b"FontMatrix",
        ) => Plain,
        (R::Font, b"FontDescriptor") => Obj(R::FontDescriptor),
        (R::Font, b"Encoding") => FontEncoding,
        (R::Font, b"ToUnicode") => NameOr(R::CMap),
        (R::Font, b"DescendantFonts") => ArrayOf(R::Font),
        (R::Font, b"CIDSystemInfo") => PlainDict,
        (R::Font, b"CIDToGIDMap") => NameOr(R::Data),
        (R::Font, b"CharProcs") => MapOf(R::CharProc),
        (R::Font, b"Resources") => Obj(R::Resources),

        (
            R::FontDescriptor,
            b"FontName" | b"FontFamily" | b"FontStretch" | b"FontWeight" | b"Flags" | b"FontBBox"
            | b"ItalicAngle" | b"Ascent" | b"Descent" | b"Leading" | b"CapHeight" | b"XHeight"
            | b"StemV" | b"StemH" | b"AvgWidth" | b"MaxWidth" | b"MissingWidth" | b"CharSet"
            | b"Lang",
        ) => Plain,
        (R::FontDescriptor, b"Style") => PlainDict,
        (R::FontDescriptor, b"FontFile") => Obj(R::FontProgram(FontKind::Type1)),
        (R::FontDescriptor, b"FontFile2") => Obj(R::FontProgram(FontKind::TrueType)),
        (R::FontDescriptor, b"FontFile3") => Obj(R::FontProgram(FontKind::Compact)),
        (R::FontDescriptor, b"CIDSet") => Obj(R::Data),

        (R::Encoding, b"BaseEncoding" | b"Differences") => Plain,
        (R::CMap, b"CMapName" | b"WMode") => Plain,
        (R::CMap, b"CIDSystemInfo") => PlainDict,
        (R::CMap, b"UseCMap") => NameOr(R::CMap),
        (R::FontProgram(_), b"Length1" | b"Length2" | b"Length3" | b"Subtype") => Plain,

        (
            R::Image,
            b"Subtype" | b"Width" | b"Height" | b"BitsPerComponent" | b"Intent" | b"ImageMask"
            | b"Decode" | b"Interpolate" | b"SMaskInData" | b"Matte" | b"Name",
        ) => Plain,
        (R::Image, b"ColorSpace") => ColorSpace,
        (R::Image, b"Mask") => Mask,
        (R::Image, b"SMask") => Obj(R::Image),
        (R::Image | R::Form, b"OC") => Obj(R::OcGroup),

        (R::Form, b"Subtype" | b"FormType" | b"BBox" | b"Matrix" | b"Name") => Plain,
        (R::Form, b"Resources") => Obj(R::Resources),
        (R::Form, b"Group") => Obj(R::Group),

        (R::IccProfile, b"N" | b"Range") => Plain,
        (R::IccProfile, b"Alternate") => ColorSpace,

        (
            R::Function,
            b"FunctionType" | b"Domain" | b"Range" | b"Size" | b"BitsPerSample" | b"Order"
            | b"Encode" | b"Decode" | b"C0" | b"C1" | b"N" | b"Bounds",
        ) => Plain,
        (R::Function, b"Functions") => ArrayOf(R::Function),

        (
            R::Pattern,
            b"PatternType" | b"PaintType" | b"TilingType" | b"BBox" | b"XStep" | b"YStep"
            | b"Matrix",
        ) => Plain,
        (R::Pattern, b"Resources") => Obj(R::Resources),
        (R::Pattern, b"Shading") => Obj(R::Shading),
        (R::Pattern, b"ExtGState") => Obj(R::ExtGState),

        (
            R::Shading,
            b"ShadingType" | b"Background" | b"BBox" | b"AntiAlias" | b"Coords" | b"Domain"
            | b"Extend" | b"Matrix" | b"BitsPerCoordinate" | b"BitsPerComponent" | b"BitsPerFlag"
            | b"Decode" | b"VerticesPerRow",
        ) => Plain,
        (R::Shading, b"ColorSpace") => ColorSpace,
        (R::Shading, b"Function") => Functions,

        (
            R::ExtGState,
            b"LW" | b"LC" | b"LJ" | b"ML" | b"D" | b"RI" | b"OP" | b"op" | b"OPM" | b"FL" | b"SM"
            | b"SA" | b"BM" | b"CA" | b"ca" | b"AIS" | b"TK",
        ) => Plain,
        (R::ExtGState, b"BG" | b"BG2" | b"UCR" | b"UCR2" | b"TR" | b"TR2") => Functions,
        (R::ExtGState, b"SMask") => SMask,

        (R::SoftMask, b"S" | b"BC") => Plain,
        (R::SoftMask, b"G") => Obj(R::Form),
        (R::SoftMask, b"TR") => Functions,

        (R::Group, b"S" | b"I" | b"K") => Plain,
        (R::Group, b"CS") => ColorSpace,

        (R::Annot, b"Parent" | b"Popup" | b"IRT") => Obj(R::Annot),
        (R::Annot, b"Kids") => ArrayOf(R::Annot),
        (R::Annot, b"P") => PageRef,
        (R::Annot, b"AP") => Appearance,
        (R::Annot, b"OC") => Obj(R::OcGroup),
        (R::Annot, b"MK") => Obj(R::AppearanceTraits),
        (R::Annot, b"DR") => Obj(R::Resources),
        (R::Annot, b"BS" | b"BE") => PlainDict,
        (R::Annot, b"Dest") => Dest,
        (R::Annot, b"A") => Obj(R::Action),
        (
            R::Annot,
            b"Subtype" | b"Rect" | b"Contents" | b"NM" | b"M" | b"F" | b"AS" | b"Border" | b"C"
            | b"T" | b"CA" | b"RC" | b"CreationDate" | b"Subj" | b"IT" | b"RT" | b"Name" | b"Open"
            | b"State" | b"StateModel" | b"DA" | b"Q" | b"DS" | b"CL" | b"LE" | b"IC" | b"RD"
            | b"L" | b"LL" | b"LLE" | b"LLO" | b"Cap" | b"CP" | b"CO" | b"Vertices" | b"InkList"
            | b"QuadPoints" | b"Rotate" | b"H" | b"FT" | b"TU" | b"TM" | b"Ff" | b"V" | b"DV"
            | b"Opt" | b"MaxLen" | b"TI" | b"I",
        ) => Plain,
        (R::AppearanceTraits, b"R" | b"BC" | b"BG" | b"CA" | b"RC" | b"AC" | b"TP") => Plain,

        (R::Outline, b"Title" | b"Count" | b"C" | b"F") => Plain,
        (R::Outline, b"Parent" | b"Prev" | b"Next" | b"First" | b"Last") => Obj(R::Outline),
        (R::Outline, b"Dest") => Dest,
        (R::Outline, b"A") => Obj(R::Action),

        (R::Action, b"S" | b"N" | b"URI" | b"IsMap") => Plain,
        (R::Action, b"D") => Dest,
        (R::Action, b"Next") => Next,

        (R::AcroForm, b"Fields") => ArrayOf(R::Annot),
        (R::AcroForm, b"NeedAppearances" | b"DA" | b"Q") => Plain,
        (R::AcroForm, b"DR") => Obj(R::Resources),

        (R::NamesDict, b"Dests") => Obj(R::DestTree),
        (R::DestTree, b"Kids") => ArrayOf(R::DestTree),
        (R::DestTree, b"Limits") => Plain,
        (R::DestTree, b"Names") => DestPairs,
        (R::LabelTree, b"Kids") => ArrayOf(R::LabelTree),
        (R::LabelTree, b"Limits") => Plain,
        (R::LabelTree, b"Nums") => LabelPairs,
        (R::PageLabel, b"S" | b"P" | b"St") => Plain,

        (
            R::Info,
            b"Title" | b"Author" | b"Subject" | b"Keywords" | b"Creator" | b"Producer"
            | b"CreationDate" | b"ModDate" | b"Trapped",
        ) => Plain,

        (R::OcProperties, b"OCGs") => ArrayOf(R::OcGroup),
        (R::OcProperties, b"D") => Obj(R::OcConfig),
        (R::OcProperties, b"Configs") => ArrayOf(R::OcConfig),
        (R::OcConfig, b"Name" | b"Creator" | b"BaseState" | b"Intent" | b"ListMode") => Plain,
        (R::OcConfig, b"ON" | b"OFF" | b"Locked") => ArrayOf(R::OcGroup),
        (R::OcConfig, b"Order") => OcOrder,
        (R::OcConfig, b"RBGroups") => OcGroups,
        (
            R::OcGroup,
            b"Name" | b"Intent" | b"P" | b"MCID" | b"ActualText" | b"Alt" | b"Lang" | b"E",
        ) => Plain,
        (R::OcGroup, b"OCGs") => OcOrder,
        _ => return None,
    };
    Some(k)
}
