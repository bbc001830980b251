//! Content-based type detection.

use crate::text::sniff_text;
use mugai_core::FileType;
use std::io::{Cursor, Read};

/// How far into a file a `%PDF-` header may be (readers accept junk before it).
const PDF_HEADER_WINDOW: usize = 1024;
/// Largest `[Content_Types].xml` / `mimetype` read while detecting.
const MAX_PROBE_PART: u64 = 1 << 20;

/// The true type of `bytes`, from content alone.
pub fn detect(bytes: &[u8]) -> FileType {
    if let Some(t) = detect_binary(bytes) {
        return t;
    }
    if let Some(t) = detect_markup_or_mail(bytes) {
        return t;
    }
    if sniff_text(bytes).is_some() {
        return FileType::Text;
    }
    FileType::Unknown
}

fn detect_binary(b: &[u8]) -> Option<FileType> {
    use FileType::*;
    let starts = |m: &[u8]| b.starts_with(m);
    if starts(b"%PDF-") || find(&b[..b.len().min(PDF_HEADER_WINDOW)], b"%PDF-").is_some() {
        return Some(Pdf);
    }
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        return Some(classify_zip(b));
    }
    if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Some(classify_cfb(b));
    }
    if starts(b"{\\rtf") {
        return Some(Rtf);
    }
    // Executables and other things that run.
    if starts(b"MZ") && b.len() >= 64 {
        return Some(Executable);
    }
    if starts(b"\x7fELF")
        || starts(&[0xFE, 0xED, 0xFA, 0xCE])
        || starts(&[0xFE, 0xED, 0xFA, 0xCF])
        || starts(&[0xCE, 0xFA, 0xED, 0xFE])
        || starts(&[0xCF, 0xFA, 0xED, 0xFE])
        || (starts(&[0xCA, 0xFE, 0xBA, 0xBE]) && b.len() > 8 && b[7] < 20)
        || starts(b"\0asm")
    {
        return Some(Executable);
    }
    if starts(&[0xCA, 0xFE, 0xBA, 0xBE]) {
        return Some(Jar); // Java class file
    }
    if starts(b"#!") {
        return Some(Script);
    }
    if starts(&[0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0x00]) {
        return Some(Lnk);
    }
    if starts(b"ITSF") {
        return Some(Chm);
    }
    if starts(&[
        0xE4, 0x52, 0x5C, 0x7B, 0x8C, 0xD8, 0xA7, 0x4D, 0xAE, 0xB1, 0x53, 0x78, 0xD0, 0x29, 0x96,
        0xD3,
    ]) {
        return Some(OneNote);
    }
    if is_disk_image(b) {
        return Some(DiskImage);
    }
    // Images.
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some(Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some(Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some(Gif);
    }
    if starts(b"BM") && b.len() >= 26 && bmp_header_plausible(b) {
        return Some(Bmp);
    }
    if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
        return Some(Tiff);
    }
    if starts(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        return Some(Webp);
    }
    if starts(&[0, 0, 1, 0]) && b.len() > 22 && b[4] > 0 && b[5] == 0 {
        return Some(Ico);
    }
    // Archives mugai does not open.
    if starts(b"7z\xBC\xAF\x27\x1C") {
        return Some(SevenZip);
    }
    if starts(b"Rar!\x1a\x07") {
        return Some(Rar);
    }
    if starts(b"MSCF\0\0\0\0") {
        return Some(Cab);
    }
    if starts(&[0x1F, 0x8B]) {
        return Some(Gzip);
    }
    if starts(b"BZh") && b.len() > 3 && b[3].is_ascii_digit() {
        return Some(Bzip2);
    }
    if starts(&[0xFD, b'7', b'z', b'X', b'Z', 0]) {
        return Some(Xz);
    }
    if b.len() > 7 && b[2] == b'-' && b[3] == b'l' && (b[4] == b'h' || b[4] == b'z') && b[6] == b'-'
    {
        return Some(Lzh);
    }
    if b.get(257..262) == Some(b"ustar") {
        return Some(Tar);
    }
    // Whatever else infer knows is not on any allow-list: name it, so that
    // an archive or executable is reported as such rather than "unknown".
    if let Some(k) = infer::get(b) {
        use infer::MatcherType as M;
        return Some(match k.matcher_type() {
            M::App => Executable,
            M::Archive => OtherArchive,
            M::Image => OtherImage,
            _ => return None,
        });
    }
    None
}

fn bmp_header_plausible(b: &[u8]) -> bool {
    // DIB header size at offset 14: 12, 40, 52, 56, 64, 108 or 124.
    let dib = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
    matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

fn is_disk_image(b: &[u8]) -> bool {
    for off in [0x8001usize, 0x8801, 0x9001] {
        if b.get(off..off + 5) == Some(b"CD001") {
            return true;
        }
    }
    if b.starts_with(b"conectix") || b.starts_with(b"vhdxfile") || b.starts_with(b"KDMV") {
        return true;
    }
    if b.len() >= 512 {
        let tail = &b[b.len() - 512..];
        if tail.starts_with(b"conectix") || tail.starts_with(b"koly") {
            return true;
        }
    }
    b.starts_with(b"QFI\xfb")
}

/// Tells OOXML / ODF / JAR / plain ZIP apart by the package's parts.
fn classify_zip(b: &[u8]) -> FileType {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(b)) else {
        return FileType::Zip;
    };
    let mut has_manifest = false;
    let mut has_content_types = false;
    let mut has_mimetype = false;
    for name in zip.file_names_raw() {
        match name {
            b"[Content_Types].xml" => has_content_types = true,
            b"mimetype" => has_mimetype = true,
            b"META-INF/MANIFEST.MF" => has_manifest = true,
            _ => {}
        }
    }
    if has_content_types {
        let ct = read_part(&mut zip, "[Content_Types].xml").unwrap_or_default();
        return classify_ooxml_content_types(&ct);
    }
    if has_mimetype {
        let m = read_part(&mut zip, "mimetype").unwrap_or_default();
        let m = String::from_utf8_lossy(&m);
        return match m.trim() {
            "application/vnd.oasis.opendocument.text" => FileType::Odt,
            "application/vnd.oasis.opendocument.spreadsheet" => FileType::Ods,
            "application/vnd.oasis.opendocument.presentation" => FileType::Odp,
            _ => FileType::OdfOther,
        };
    }
    if has_manifest {
        return FileType::Jar;
    }
    FileType::Zip
}

fn read_part(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Option<Vec<u8>> {
    // `by_name_raw` would return the entry's compressed bytes: look the raw
    // name up, then read it decompressed.
    let i = zip.index_for_name_raw(name.as_bytes())?;
    let f = zip.by_index(i).ok()?;
    let mut out = Vec::new();
    f.take(MAX_PROBE_PART).read_to_end(&mut out).ok()?;
    Some(out)
}

/// The package type from the main part's content type in
/// `[Content_Types].xml`. A macro-enabled main part wins over the
/// extension: a docm saved as .docx is a docm.
pub fn classify_ooxml_content_types(ct: &[u8]) -> FileType {
    use FileType::*;
    let s = String::from_utf8_lossy(ct).to_ascii_lowercase();
    let table: &[(&str, FileType)] = &[
        (
            "application/vnd.ms-word.document.macroenabled.main+xml",
            Docm,
        ),
        (
            "application/vnd.ms-word.template.macroenabledtemplate.main+xml",
            Dotm,
        ),
        ("wordprocessingml.template.main+xml", Dotx),
        ("wordprocessingml.document.main+xml", Docx),
        ("application/vnd.ms-excel.sheet.macroenabled.main+xml", Xlsm),
        (
            "application/vnd.ms-excel.template.macroenabled.main+xml",
            Xltm,
        ),
        ("spreadsheetml.template.main+xml", Xltx),
        ("spreadsheetml.sheet.main+xml", Xlsx),
        (
            "application/vnd.ms-excel.sheet.binary.macroenabled.main",
            OoxmlOther,
        ),
        (
            "application/vnd.ms-powerpoint.slideshow.macroenabled.main+xml",
            Ppsm,
        ),
        (
            "application/vnd.ms-powerpoint.template.macroenabled.main+xml",
            Potm,
        ),
        (
            "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml",
            Pptm,
        ),
        ("presentationml.slideshow.main+xml", Ppsx),
        ("presentationml.template.main+xml", Potx),
        ("presentationml.presentation.main+xml", Pptx),
    ];
    for (needle, t) in table {
        if s.contains(needle) {
            return *t;
        }
    }
    OoxmlOther
}

/// Tells CFB (OLE2) containers apart by their root streams.
fn classify_cfb(b: &[u8]) -> FileType {
    use FileType::*;
    let Ok(cfb) = cfb::CompoundFile::open(Cursor::new(b)) else {
        return OleOther;
    };
    // MSI databases carry their own root CLSID.
    let msi = "000c1084-0000-0000-c000-000000000046";
    if cfb.root_entry().clsid().to_string().to_ascii_lowercase() == msi {
        return Msi;
    }
    let mut names: Vec<String> = Vec::new();
    for e in cfb.read_root_storage() {
        names.push(e.name().to_string());
    }
    let has = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
    if has("EncryptedPackage") {
        return OoxmlEncrypted;
    }
    if has("WordDocument") {
        return Doc;
    }
    if has("Workbook") || has("Book") {
        return Xls;
    }
    if has("PowerPoint Document") {
        return Ppt;
    }
    if names.iter().any(|n| n.starts_with("__substg1.0_")) || has("__properties_version1.0") {
        return Msg;
    }
    if has("DocumentText") || names.iter().any(|n| n.starts_with("JSRV_")) {
        return Ichitaro;
    }
    // MSI streams have names encoded into the private-use area.
    if names
        .iter()
        .any(|n| n.chars().any(|c| ('\u{3800}'..='\u{48FF}').contains(&c)))
    {
        return Msi;
    }
    OleOther
}

fn detect_markup_or_mail(b: &[u8]) -> Option<FileType> {
    let head = &b[..b.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let lower = trimmed.to_ascii_lowercase();
    // The window may cut a header line in two: judge complete lines only.
    let whole = if b.len() > head.len() {
        trimmed.rsplit_once('\n').map_or(trimmed, |(a, _)| a)
    } else {
        trimmed
    };
    // Mail from classic Mac OS ends its lines with CR alone.
    let cr_only = !whole.contains('\n') && whole.contains('\r');
    let as_lines = if cr_only {
        std::borrow::Cow::Owned(whole.replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(whole)
    };
    if looks_like_mail(&as_lines) {
        return Some(FileType::Eml);
    }
    if lower.starts_with('<') {
        if lower.contains("<svg") {
            return Some(FileType::Svg);
        }
        if lower.starts_with("<!doctype html")
            || lower.contains("<html")
            || lower.contains("<head")
            || lower.contains("<body")
            || lower.contains("<script")
            || lower.contains("<iframe")
        {
            return Some(FileType::Html);
        }
        if lower.contains("<hta:application")
            || lower.starts_with("<job")
            || lower.starts_with("<package")
        {
            return Some(FileType::Script);
        }
        if lower.starts_with("<?xml") {
            if lower.contains("<job") || lower.contains("<package") || lower.contains("<scriptlet")
            {
                return Some(FileType::Script);
            }
            return Some(FileType::Xml);
        }
    }
    None
}

/// An RFC 5322 message: a run of header fields, including at least one
/// that only mail has, before the first blank line.
fn looks_like_mail(s: &str) -> bool {
    const MAIL_HEADERS: &[&str] = &[
        "from",
        "to",
        "subject",
        "date",
        "received",
        "return-path",
        "message-id",
        "mime-version",
        "delivered-to",
        "x-mailer",
        "reply-to",
        "cc",
        "content-type",
        "dkim-signature",
        "arc-seal",
        "authentication-results",
        "x-original-to",
        "x-mozilla-status",
        "thread-topic",
        "sender",
        "in-reply-to",
        "references",
    ];
    const STRONG: &[&str] = &[
        "from",
        "received",
        "return-path",
        "message-id",
        "mime-version",
        "delivered-to",
        "subject",
        "dkim-signature",
        "x-original-to",
    ];
    let mut lines = s.lines();
    let mut fields = 0;
    let mut strong = 0;
    if let Some(first) = s.lines().next() {
        if first.starts_with("From ") {
            lines.next(); // mbox separator
        }
    }
    for line in lines.take(200) {
        if line.is_empty() || line == "\r" {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_graphic()) {
            return false;
        }
        let n = name.to_ascii_lowercase();
        if MAIL_HEADERS.contains(&n.as_str()) || n.starts_with("x-") {
            fields += 1;
        }
        if STRONG.contains(&n.as_str()) {
            strong += 1;
        }
    }
    // A bare MIME entity (a message whose only header is its Content-Type,
    // as mail tools write them) is mail too.
    fields >= 2 && strong >= 1 || fields >= 1 && starts_as_mime_entity(s)
}

fn starts_as_mime_entity(s: &str) -> bool {
    let first = s.lines().next().unwrap_or("");
    let Some(value) = first
        .get(..13)
        .filter(|n| n.eq_ignore_ascii_case("content-type:"))
        .and_then(|_| first.get(13..))
    else {
        return false;
    };
    let v = value.trim_start().to_ascii_lowercase();
    ["multipart/", "text/", "message/"]
        .iter()
        .any(|p| v.starts_with(p))
        && (s.contains("\n\n") || s.contains("\n\r\n"))
}

/// HTML that would run something: script elements, event handlers,
/// `javascript:` URLs, or active embeds (`type.executable` in the catalogue).
pub fn html_has_script(bytes: &[u8]) -> bool {
    let lower: Vec<u8> = bytes
        .iter()
        .take(4 << 20)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    [
        &b"<script"[..],
        b"javascript:",
        b"vbscript:",
        b"<object",
        b"<embed",
        b"<applet",
        b"<iframe",
        b"<hta:",
    ]
    .iter()
    .any(|n| find(&lower, n).is_some())
        || lower.windows(3).enumerate().any(|(i, w)| {
            w == b" on"
                && lower[i + 3..]
                    .iter()
                    .take(20)
                    .position(|&c| c == b'=')
                    .is_some_and(|p| {
                        lower[i + 3..i + 3 + p]
                            .iter()
                            .all(|c| c.is_ascii_lowercase())
                            && p > 2
                    })
        })
}

/// A second personality inside a file of type `t`: an archive or other
/// file appended to, or embedded in, an image or PDF.
pub fn polyglot(bytes: &[u8], t: FileType) -> Option<String> {
    if !(t.is_raster_image() || t == FileType::Pdf) {
        return None;
    }
    let tail_start = bytes.len().saturating_sub(65_557);
    if find(&bytes[tail_start..], b"PK\x05\x06").is_some()
        && find(&bytes[1..], b"PK\x03\x04").is_some()
    {
        return Some("a ZIP archive is appended".into());
    }
    if t != FileType::Pdf && find(bytes, b"%PDF-").is_some() {
        return Some("a PDF is embedded".into());
    }
    if t == FileType::Gif && bytes.get(6..8) == Some(b"/*") {
        return Some("the GIF header doubles as a script comment".into());
    }
    if t == FileType::Gif || t == FileType::Jpeg {
        let lower: Vec<u8> = bytes.iter().map(|c| c.to_ascii_lowercase()).collect();
        if find(&lower, b"<script").is_some() {
            return Some("script text is embedded".into());
        }
    }
    None
}

/// First position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use FileType::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(detect(b"%PDF-1.7\n"), Pdf);
        assert_eq!(detect(b"junk junk\n%PDF-1.4\n"), Pdf);
        assert_eq!(detect(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Jpeg);
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n...."), Png);
        assert_eq!(detect(b"GIF89a...."), Gif);
        assert_eq!(detect(b"{\\rtf1\\ansi hello}"), Rtf);
        assert_eq!(detect(b"#!/bin/sh\necho hi\n"), Script);
        assert_eq!(detect(b"\x7fELF\x02\x01\x01"), Executable);
        assert_eq!(detect(b"7z\xBC\xAF\x27\x1C\0\x04"), SevenZip);
        assert_eq!(detect(b"Rar!\x1a\x07\x01\x00"), Rar);
        assert_eq!(detect(b"hello, world\n"), Text);
        assert_eq!(detect(b""), Text);
        assert_eq!(detect(&[0u8, 1, 2, 3, 0, 0, 0, 0, 200, 201, 0, 0]), Unknown);
    }

    #[test]
    fn markup_and_mail() {
        assert_eq!(detect(b"<!DOCTYPE html><html><script>x</script>"), Html);
        assert_eq!(detect(b"<?xml version=\"1.0\"?><svg xmlns=\"x\"/>"), Svg);
        assert_eq!(detect(b"<?xml version=\"1.0\"?><root/>"), Xml);
        let mail = b"From: a@example.jp\r\nTo: b@example.jp\r\nSubject: hi\r\n\r\nbody\r\n";
        assert_eq!(detect(mail), Eml);
        assert_eq!(detect(b"Note: this is text\nnot a mail\n"), Text);
        // Headers longer than the detection window, cut inside a field name.
        let mut long = b"From: a@example.jp\r\nSubject: hi\r\nTo: ".to_vec();
        while long.len() < 4094 {
            long.extend_from_slice(b"x@example.jp,\r\n ");
        }
        long.truncate(4090);
        long.extend_from_slice(b"\r\nReferences: <a@b>\r\n\r\nbody\r\n");
        assert_eq!(detect(&long), Eml);
        assert_eq!(
            detect(b"From: a@example.jp\rTo: b@example.jp\rSubject: x\r\rbody\r"),
            Eml
        );
        assert_eq!(
            detect(b"Content-Type: multipart/mixed; boundary=\"ab\"\n\nbody\n"),
            Eml
        );
        assert_eq!(detect(b"Content-Type: is what this note is about\n"), Text);
    }

    #[test]
    fn ooxml_content_types() {
        let docm = br#"<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>"#;
        assert_eq!(classify_ooxml_content_types(docm), Docm);
        let xlsx = br#"<Override ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>"#;
        assert_eq!(classify_ooxml_content_types(xlsx), Xlsx);
    }
}
