//! Cases for the pdf rebuilder: one or more per `pdf.*` row of the threat
//! catalogue, written byte by byte so that each danger sits exactly where
//! the case says (escaped names, object streams, incremental updates,
//! RC4 encryption with the Standard security handler).

use crate::{Case, Expect};
use md5::{Digest, Md5};
use mugai_core::Code;
use std::io::Write;

/// The text every generated page shows.
pub const PAGE_TEXT: &str = "Hello mugai";

/// A stream object body: `<< /Length n extra >> stream ... endstream`.
pub fn stream(extra: &str, data: &[u8]) -> Vec<u8> {
    let mut v = format!("<< /Length {} {extra} >>\nstream\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(b"\nendstream");
    v
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("zlib write");
    e.finish().expect("zlib finish")
}

/// A classic PDF: objects numbered from 1 in order, a cross-reference
/// table and a trailer with `/Root 1 0 R` and `trailer_extra`. Returns the
/// bytes and the offset of the `xref` keyword.
pub fn classic(objects: &[Vec<u8>], trailer_extra: &str) -> (Vec<u8>, usize) {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    (out, xref)
}

/// The five objects of a one-page document: catalog (with `catalog`),
/// pages, page (with `page`), its content and its font.
pub fn base(catalog: &str, page: &str) -> Vec<Vec<u8>> {
    let content = format!("BT /F1 24 Tf 72 720 Td ({PAGE_TEXT}) Tj ET");
    vec![
        format!("<< /Type /Catalog /Pages 2 0 R {catalog} >>").into_bytes(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> >> {page} >>"
        )
        .into_bytes(),
        stream("", content.as_bytes()),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    ]
}

/// A one-page document with extra objects 6, 7, ... after the base five.
pub fn doc(catalog: &str, page: &str, extra: &[&[u8]]) -> Vec<u8> {
    let mut objs = base(catalog, page);
    objs.extend(extra.iter().map(|e| e.to_vec()));
    classic(&objs, "").0
}

/// The base document with an incremental update appended that gives the
/// catalog an `/OpenAction` JavaScript (object 6).
pub fn incremental_js() -> Vec<u8> {
    let objs = base("", "");
    let (mut out, prev) = classic(&objs, "");
    let cat = out.len();
    out.extend_from_slice(
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /OpenAction 6 0 R >>\nendobj\n",
    );
    let js = out.len();
    out.extend_from_slice(b"6 0 obj\n<< /S /JavaScript /JS (app.alert\\('update'\\)) >>\nendobj\n");
    let xref = out.len();
    out.extend_from_slice(
        format!(
            "xref\n0 1\n0000000000 65535 f \n1 1\n{cat:010} 00000 n \n6 1\n{js:010} 00000 n \n\
             trailer\n<< /Size 7 /Root 1 0 R /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n"
        )
        .as_bytes(),
    );
    out
}

/// A document whose catalog and `/OpenAction` JavaScript live in a
/// compressed object stream, with a cross-reference stream.
pub fn objstm_js() -> Vec<u8> {
    let base = base("", "");
    let catalog = b"<< /Type /Catalog /Pages 2 0 R /OpenAction 6 0 R >>".to_vec();
    let action = b"<< /S /JavaScript /JS (app.alert\\('objstm'\\)) >>".to_vec();
    let header = format!("1 0 6 {} ", catalog.len() + 1);
    let mut body = header.clone().into_bytes();
    body.extend_from_slice(&catalog);
    body.push(b' ');
    body.extend_from_slice(&action);
    let z = zlib(&body);
    let objstm = stream(
        &format!(
            "/Type /ObjStm /N 2 /First {} /Filter /FlateDecode",
            header.len()
        ),
        &z,
    );
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    // Objects 2..5 are plain, 7 is the object stream, 8 the xref stream.
    let mut offsets = [0usize; 9];
    for (n, body) in [
        (2usize, &base[1]),
        (3, &base[2]),
        (4, &base[3]),
        (5, &base[4]),
        (7, &objstm),
    ] {
        offsets[n] = out.len();
        out.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    offsets[8] = out.len();
    let mut rows = Vec::new();
    for (n, &off) in offsets.iter().enumerate() {
        let (t, f2, f3): (u8, u32, u16) = match n {
            0 => (0, 0, 65535),
            1 => (2, 7, 0),
            6 => (2, 7, 1),
            _ => (1, off as u32, 0),
        };
        rows.push(t);
        rows.extend_from_slice(&f2.to_be_bytes());
        rows.extend_from_slice(&f3.to_be_bytes());
    }
    let xref = stream("/Type /XRef /Size 9 /W [1 4 2] /Root 1 0 R", &rows);
    out.extend_from_slice(b"8 0 obj\n");
    out.extend_from_slice(&xref);
    out.extend_from_slice(b"\nendobj\n");
    out.extend_from_slice(format!("startxref\n{}\n%%EOF\n", offsets[8]).as_bytes());
    out
}

// --- RC4 and the Standard security handler (revisions 2 and 3) ---

/// RC4, as PDF's Standard security handler uses it for R2/R3.
pub fn rc4(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut s: Vec<u8> = (0..=255u8).collect();
    let mut j: u8 = 0;
    for i in 0..256 {
        j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
        s.swap(i, j as usize);
    }
    let (mut i, mut j) = (0u8, 0u8);
    data.iter()
        .map(|b| {
            i = i.wrapping_add(1);
            j = j.wrapping_add(s[i as usize]);
            s.swap(i as usize, j as usize);
            b ^ s[s[i as usize].wrapping_add(s[j as usize]) as usize]
        })
        .collect()
}

const PAD: [u8; 32] = [
    0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
    0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
];

fn padded(pw: &str) -> Vec<u8> {
    let mut v: Vec<u8> = pw.bytes().take(32).collect();
    v.extend_from_slice(&PAD[..32 - v.len()]);
    v
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The Standard handler's values for revision `r` (2: 40-bit, 3: 128-bit).
struct Standard {
    r: u8,
    o: Vec<u8>,
    u: Vec<u8>,
    p: i32,
    key: Vec<u8>,
}

fn standard(r: u8, owner: &str, user: &str, id: &[u8]) -> Standard {
    let n = if r == 2 { 5 } else { 16 };
    let p: i32 = -44;
    // Algorithm 3: /O.
    let mut h = md5(&[&padded(owner)]).to_vec();
    if r >= 3 {
        for _ in 0..50 {
            h = md5(&[&h]).to_vec();
        }
    }
    let okey = &h[..n];
    let mut o = rc4(okey, &padded(user));
    if r >= 3 {
        for i in 1..=19u8 {
            let k: Vec<u8> = okey.iter().map(|b| b ^ i).collect();
            o = rc4(&k, &o);
        }
    }
    // Algorithm 2: the file key.
    let mut key = md5(&[&padded(user), &o, &p.to_le_bytes(), id]).to_vec();
    if r >= 3 {
        for _ in 0..50 {
            key = md5(&[&key[..n]]).to_vec();
        }
    }
    key.truncate(n);
    // Algorithms 4 and 5: /U.
    let u = if r == 2 {
        rc4(&key, &PAD)
    } else {
        let mut x = rc4(&key, &md5(&[&PAD, id]));
        for i in 1..=19u8 {
            let k: Vec<u8> = key.iter().map(|b| b ^ i).collect();
            x = rc4(&k, &x);
        }
        x.extend_from_slice(&[0u8; 16]);
        x
    };
    Standard { r, o, u, p, key }
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The one-page document encrypted with RC4 (revision `r`), the owner
/// password `owner` and the user password `user` (empty: opens without one).
pub fn encrypted(r: u8, owner: &str, user: &str) -> Vec<u8> {
    let id = *b"mugai-corpus-id!";
    let st = standard(r, owner, user, &id);
    let content = format!("BT /F1 24 Tf 72 720 Td ({PAGE_TEXT}) Tj ET");
    // Object key (Algorithm 1) for object 4, generation 0.
    let mut k = st.key.clone();
    k.extend_from_slice(&[4, 0, 0, 0, 0]);
    let okey = md5(&[&k]);
    let enc = rc4(&okey[..(st.key.len() + 5).min(16)], content.as_bytes());
    let mut objs = base("", "");
    objs[3] = stream("", &enc);
    let (v, len) = if st.r == 2 { (1, 40) } else { (2, 128) };
    objs.push(
        format!(
            "<< /Filter /Standard /V {v} /R {} /Length {len} /O <{}> /U <{}> /P {} >>",
            st.r,
            hexs(&st.o),
            hexs(&st.u),
            st.p
        )
        .into_bytes(),
    );
    let idh = hexs(&id);
    classic(&objs, &format!("/Encrypt 6 0 R /ID [<{idh}> <{idh}>]")).0
}

fn annot(extra: &str) -> String {
    format!("<< /Type /Annot {extra} /Rect [72 700 300 740] /Border [0 0 0] >>")
}

pub fn cases() -> Vec<Case> {
    use Code::*;
    let js = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>".as_slice();
    let mut v = vec![
        Case::new("pdf/clean.pdf", doc("", "", &[]), Expect::clean("one page of text, nothing active")),
        Case::new(
            "pdf/open_action_dest.pdf",
            doc("/OpenAction [3 0 R /Fit]", "", &[]),
            Expect::clean("an /OpenAction that is a plain destination stays"),
        ),
        Case::new(
            "pdf/open_action_js.pdf",
            doc("/OpenAction 6 0 R", "", &[js]),
            Expect::sanitized(&[PdfAction, PdfOpenAction, PdfJavascript], "/OpenAction runs JavaScript"),
        ),
        Case::new(
            "pdf/obfuscated_names.pdf",
            doc("/Open#41ction << /S /J#61vaScript /JS (app.alert\\(2\\)) >>", "", &[]),
            Expect::sanitized(
                &[PdfAction, PdfOpenAction, PdfJavascript, PdfObfuscatedName],
                "/Open#41ction and /J#61vaScript hide the names by #xx escapes",
            ),
        ),
        Case::new(
            "pdf/names_javascript.pdf",
            doc("/Names << /JavaScript 6 0 R >>", "", &[b"<< /Names [(init) 7 0 R] >>", js]),
            Expect::sanitized(&[PdfAction, PdfJavascript], "document-level JavaScript in the /Names tree"),
        ),
        Case::new(
            "pdf/js_stream.pdf",
            doc(
                "/Names << /JavaScript << /Names [(s) 6 0 R] >> >>",
                "",
                &[
                    b"<< /S /JavaScript /JS 7 0 R >>",
                    &stream("", b"app.alert('from a stream');"),
                ],
            ),
            Expect::sanitized(&[PdfAction, PdfJavascript], "the script is a stream, not a string"),
        ),
        Case::new(
            "pdf/js_in_object_stream.pdf",
            objstm_js(),
            Expect::sanitized(
                &[PdfAction, PdfOpenAction, PdfJavascript],
                "catalog and JavaScript action inside a compressed object stream",
            ),
        ),
        Case::new(
            "pdf/js_in_incremental_update.pdf",
            incremental_js(),
            Expect::sanitized(
                &[PdfAction, PdfIncrementalUpdate, PdfOpenAction, PdfJavascript],
                "the JavaScript arrives only in an update after the first %%EOF",
            ),
        ),
        Case::new(
            "pdf/goto_next_js.pdf",
            doc("/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next 6 0 R >>", "", &[js]),
            Expect::sanitized(&[PdfAction, PdfJavascript], "a harmless /GoTo chains to JavaScript by /Next"),
        ),
        Case::new(
            "pdf/aa_page.pdf",
            doc("", "/AA << /O 6 0 R >>", &[js]),
            Expect::sanitized(&[PdfAction, PdfAdditionalActions, PdfJavascript], "page-open trigger runs JavaScript"),
        ),
        Case::new(
            "pdf/aa_field.pdf",
            doc(
                "/AcroForm << /Fields [6 0 R] >>",
                "/Annots [6 0 R]",
                &[annot(
                    "/Subtype /Widget /FT /Tx /T (name) /P 3 0 R \
                     /AA << /K << /S /JavaScript /JS (event.rc = true;) >> >>",
                )
                .as_bytes()],
            ),
            Expect::sanitized(&[PdfAction, PdfAdditionalActions, PdfJavascript], "a form field's keystroke trigger"),
        ),
        Case::new(
            "pdf/launch.pdf",
            doc(
                "",
                "/Annots [6 0 R]",
                &[annot("/Subtype /Link /A << /S /Launch /F (cmd.exe) /Win << /F (cmd.exe) >> >>").as_bytes()],
            ),
            Expect::sanitized(&[PdfAction, PdfLaunch], "a link that launches a program"),
        ),
        Case::new(
            "pdf/gotor.pdf",
            doc(
                "",
                "/Annots [6 0 R]",
                &[annot("/Subtype /Link /A << /S /GoToR /F (\\\\\\\\host\\\\share\\\\x.pdf) /D [0 /Fit] >>").as_bytes()],
            ),
            Expect::sanitized(&[PdfAction, PdfRemoteGoto], "a link into another (remote) file"),
        ),
        Case::new(
            "pdf/submitform.pdf",
            doc(
                "/AcroForm << /Fields [6 0 R] >>",
                "/Annots [6 0 R]",
                &[annot(
                    "/Subtype /Widget /FT /Btn /Ff 65536 /T (send) /P 3 0 R \
                     /A << /S /SubmitForm /F << /FS /URL /F (http://example.invalid/collect) >> >>",
                )
                .as_bytes()],
            ),
            Expect::sanitized(&[PdfAction, PdfRemoteGoto], "a button that submits the form to a server"),
        ),
        Case::new(
            "pdf/embedded_file.pdf",
            doc(
                "/Names << /EmbeddedFiles << /Names [(payload.exe) 6 0 R] >> >>",
                "",
                &[
                    b"<< /Type /Filespec /F (payload.exe) /EF << /F 7 0 R >> >>",
                    &stream("/Type /EmbeddedFile", b"MZ this would be a program"),
                ],
            ),
            Expect::sanitized(&[PdfEmbeddedFile], "an attachment in the /EmbeddedFiles tree"),
        ),
        Case::new(
            "pdf/file_attachment.pdf",
            doc(
                "",
                "/Annots [6 0 R]",
                &[
                    annot("/Subtype /FileAttachment /FS 7 0 R /Contents (attached)").as_bytes(),
                    b"<< /Type /Filespec /F (a.bat) /EF << /F 8 0 R >> >>",
                    &stream("/Type /EmbeddedFile", b"@echo off"),
                ],
            ),
            Expect::sanitized(&[PdfEmbeddedFile], "a /FileAttachment annotation"),
        ),
        Case::new(
            "pdf/xfa.pdf",
            doc(
                "/AcroForm << /Fields [] /XFA 6 0 R >>",
                "",
                &[&stream("", b"<xdp:xdp xmlns:xdp=\"http://ns.adobe.com/xdp/\"><script>x()</script></xdp:xdp>")],
            ),
            Expect::sanitized(&[PdfXfa], "an XFA form in the AcroForm"),
        ),
        Case::new(
            "pdf/richmedia.pdf",
            doc(
                "",
                "/Annots [6 0 R]",
                &[annot("/Subtype /RichMedia /RichMediaContent << /Assets << /Names [] >> >>").as_bytes()],
            ),
            Expect::sanitized(&[PdfRichMedia], "a /RichMedia (Flash) annotation"),
        ),
        Case::new(
            "pdf/screen_rendition.pdf",
            doc(
                "",
                "/Annots [6 0 R]",
                &[annot("/Subtype /Screen /A << /S /Rendition /OP 0 /JS (play\\(\\)) >>").as_bytes()],
            ),
            Expect::sanitized(
                &[PdfAction, PdfRichMedia, PdfJavascript],
                "a /Screen annotation with a rendition action that carries JavaScript",
            ),
        ),
        Case::new(
            "pdf/uri_link.pdf",
            doc(
                "",
                "/Annots [6 0 R]",
                &[annot("/Subtype /Link /A << /S /URI /URI (https://example.invalid/login) >>").as_bytes()],
            ),
            Expect::sanitized(&[PdfUri], "a web link: the link's action goes, the text stays"),
        ),
        Case::new(
            "pdf/outline_js.pdf",
            doc(
                "/Outlines 6 0 R",
                "",
                &[
                    b"<< /Type /Outlines /First 7 0 R /Last 7 0 R /Count 1 >>",
                    b"<< /Title (Chapter) /Parent 6 0 R /A << /S /JavaScript /JS (app.alert\\(3\\)) >> >>",
                ],
            ),
            Expect::sanitized(&[PdfAction, PdfJavascript], "a bookmark whose action is JavaScript"),
        ),
        Case::new(
            "pdf/owner_password_rc4_40.pdf",
            encrypted(2, "owner-secret", ""),
            Expect::sanitized(&[PdfEncrypted], "RC4 40-bit (R2), owner password only: decrypted and rebuilt"),
        ),
        Case::new(
            "pdf/owner_password_rc4_128.pdf",
            encrypted(3, "owner-secret", ""),
            Expect::sanitized(&[PdfEncrypted], "RC4 128-bit (R3), owner password only: decrypted and rebuilt"),
        ),
        Case::new(
            "pdf/user_password.pdf",
            encrypted(3, "owner-secret", "user-secret"),
            Expect::blocked(PdfEncrypted, &[], "RC4 128-bit with a user password: cannot be inspected"),
        ),
        Case::new(
            "pdf/no_root.pdf",
            classic(&base("", "")[1..], "").0,
            Expect::blocked(PdfMalformed, &[], "the trailer's /Root is not a catalog"),
        ),
        Case::new(
            "pdf/page_tree_loop.pdf",
            classic(
                &[
                    b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
                    b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>".to_vec(),
                ],
                "",
            )
            .0,
            Expect::blocked(PdfMalformed, &[], "the page tree loops back on itself"),
        ),
        Case::new(
            "pdf/deep_nesting.pdf",
            doc(
                &format!("/ViewerPreferences << /Deep {}{} >>", "[".repeat(80), "]".repeat(80)),
                "",
                &[],
            ),
            Expect::blocked(LimitDepth, &[], "arrays nested 80 deep, past the nesting limit"),
        ),
        Case::new(
            "pdf/huge_size.pdf",
            classic(&base("", ""), "/Size 4000000000").0,
            Expect::blocked(LimitCount, &[], "a trailer that declares billions of objects"),
        ),
    ];
    // Resource names are the producer's choice: a font called /JS stays.
    let mut objs = base("", "");
    objs[2] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
                /Resources << /Font << /JS 5 0 R >> >> >>"
        .to_vec();
    objs[3] = stream(
        "",
        format!("BT /JS 24 Tf 72 720 Td ({PAGE_TEXT}) Tj ET").as_bytes(),
    );
    v.push(Case::new(
        "pdf/resource_names.pdf",
        classic(&objs, "").0,
        Expect::clean("a font resource named /JS is a label, not JavaScript"),
    ));
    v.extend(selection_cases());
    let mut junk = b"garbage before the header\r\n".to_vec();
    junk.extend_from_slice(&doc("", "", &[]));
    v.push(Case::new(
        "pdf/leading_junk.pdf",
        junk,
        Expect::clean("bytes before %PDF- are tolerated and not written out"),
    ));
    v
}

/// The base document with the page's `/Resources` and content replaced,
/// and `extra` as objects 6, 7, ...
fn with_page(resources: &str, content: &[u8], extra: &[&[u8]]) -> Vec<u8> {
    with_parts("", "", resources, content, extra)
}

/// [`with_page`] with `catalog` and `page` spliced into the catalog and
/// page dictionaries.
fn with_parts(
    catalog: &str,
    page: &str,
    resources: &str,
    content: &[u8],
    extra: &[&[u8]],
) -> Vec<u8> {
    let mut objs = base(catalog, "");
    objs[2] = format!(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> {resources} >> {page} >>"
    )
    .into_bytes();
    objs[3] = stream("", content);
    objs.extend(extra.iter().map(|e| e.to_vec()));
    classic(&objs, "").0
}

/// Cases of the positive selection: constructs that a check of known-bad
/// shapes misses.
fn selection_cases() -> Vec<Case> {
    use Code::*;
    let text = format!("BT /F1 24 Tf 72 720 Td ({PAGE_TEXT}) Tj ET");
    let js = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>".as_slice();
    let mut v =
        vec![
        Case::new(
            "pdf/indirect_s.pdf",
            doc("/OpenAction << /S 6 0 R /F (calc.exe) >>", "", &[b"/Launch"]),
            Expect::sanitized(
                &[PdfOpenAction, PdfAction, PdfLaunch],
                "the action type /S is an indirect reference to /Launch",
            ),
        ),
        Case::new(
            "pdf/foreign_type_action.pdf",
            doc(
                "",
                "/Annots [6 0 R]",
                &[annot("/Subtype /Link /A << /Type /Font /S /Launch /F (cmd.exe) >>").as_bytes()],
            ),
            Expect::sanitized(
                &[PdfAction, PdfLaunch],
                "a /Launch action that calls itself a /Font",
            ),
        ),
        Case::new(
            "pdf/resource_is_catalog_and_page.pdf",
            with_parts(
                "/OpenAction 6 0 R",
                "/AA << /O 6 0 R >>",
                "/ExtGState << /GS1 3 0 R /GS2 1 0 R >>",
                text.as_bytes(),
                &[js],
            ),
            Expect::sanitized(
                &[PdfOpenAction, PdfAdditionalActions, PdfAction, PdfJavascript, PdfDropped],
                "the catalog and the page are also graphics-state resources; their \
                 /OpenAction and /AA JavaScript go in every role",
            ),
        ),
        Case::new(
            "pdf/resource_map_is_catalog_and_page.pdf",
            with_parts(
                "/OpenAction 6 0 R",
                "/AA << /O 6 0 R >>",
                "/XObject 3 0 R /ColorSpace 1 0 R",
                text.as_bytes(),
                &[js],
            ),
            Expect::sanitized(
                &[PdfOpenAction, PdfAdditionalActions, PdfAction, PdfJavascript, PdfDropped],
                "the page and the catalog are themselves resource maps: their keys are \
                 names, and their /OpenAction and /AA JavaScript still go",
            ),
        ),
        Case::new(
            "pdf/next_array.pdf",
            doc(
                "/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next [<< /S /GoTo /D [3 0 R /Fit] >> \
                 << /S /URI /URI (http://example.invalid/) >> 6 0 R] >>",
                "",
                &[js],
            ),
            Expect::sanitized(
                &[PdfUri, PdfAction, PdfJavascript],
                "a navigation action whose /Next array holds a link and JavaScript",
            ),
        ),
        Case::new(
            "pdf/escaped_names.pdf",
            doc("/#4Fpen#41ction << /#53 /#4Aava#53cript /#4A#53 (app.alert\\(2\\)) >>", "", &[]),
            Expect::sanitized(
                &[PdfOpenAction, PdfAction, PdfJavascript, PdfObfuscatedName],
                "every letter that matters written as a #xx escape",
            ),
        ),
        Case::new(
            "pdf/damaged_flate.pdf",
            {
                let mut objs = base("", "");
                objs[2] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                            /Contents [4 0 R 6 0 R] /Resources << /Font << /F1 5 0 R >> >> >>"
                    .to_vec();
                objs.push(stream("/Filter /FlateDecode", b"x\x9c this is not deflate data"));
                classic(&objs, "").0
            },
            Expect::sanitized(
                &[PdfDamagedStream],
                "a page content stream whose Flate data does not decode",
            ),
        ),
        Case::new(
            "pdf/unknown_operator.pdf",
            with_page("", format!("{text} 1 2 3 evil").as_bytes(), &[]),
            Expect::sanitized(&[PdfDropped], "a content operator outside the PDF operator table"),
        ),
        Case::new(
            "pdf/jbig2_garbage.pdf",
            with_page(
                "/XObject << /Im1 6 0 R >>",
                format!("{text} q 10 0 0 10 0 0 cm /Im1 Do Q").as_bytes(),
                &[&stream(
                    "/Type /XObject /Subtype /Image /Width 8 /Height 8 /BitsPerComponent 1 \
                     /ImageMask true /Filter /JBIG2Decode",
                    b"\x97JB2 garbage that no decoder should be fed",
                )],
            ),
            Expect::sanitized(&[PdfImageCodec], "a JBIG2 image of garbage data"),
        ),
    ];
    for (file, key) in [
        ("FontFile2", "truetype"),
        ("FontFile3 /Subtype /Type1C", "cff"),
        ("FontFile", "type1"),
    ] {
        let mut objs = base("", "");
        let key_name = file.split(' ').next().unwrap_or(file);
        objs[4] = b"<< /Type /Font /Subtype /TrueType /BaseFont /Helvetica /FirstChar 32 \
                    /LastChar 126 /Encoding /WinAnsiEncoding /FontDescriptor 6 0 R >>"
            .to_vec();
        objs.push(
            format!(
                "<< /Type /FontDescriptor /FontName /Helvetica /Flags 32 \
                 /FontBBox [0 0 1000 1000] /ItalicAngle 0 /Ascent 800 /Descent -200 \
                 /CapHeight 700 /StemV 80 /{key_name} 7 0 R >>"
            )
            .into_bytes(),
        );
        let sub = file.strip_prefix(key_name).unwrap_or_default();
        objs.push(stream(sub, b"\x00\x01\x00\x00 garbage, not a font program"));
        v.push(Case::new(
            format!("pdf/garbage_font_{key}.pdf"),
            classic(&objs, "").0,
            Expect::sanitized(
                &[PdfFont],
                "an embedded font program of garbage: dropped, the text stays",
            ),
        ));
    }
    v
}
