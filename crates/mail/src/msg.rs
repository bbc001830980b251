//! Outlook `.msg` (MS-OXMSG): the message's properties read from its
//! compound-file streams and written as one MIME message, which the
//! converter then text-izes exactly like an `.eml`.
//!
//! Only what a text-ized mail keeps is read: sender, recipients, date,
//! subject, message ids, the plain-text body (or the HTML body, which the
//! converter turns into text), and the attachments (by value, or embedded
//! messages, recursively); a compressed-RTF body, when there is no other,
//! is decompressed ([`crate::lzfu`]) and its text becomes the body.
//! Named properties, transport headers and everything else are not read. Every stream is
//! size-checked against the budget before it is read.

use crate::encode::{self, Charset};
use mugai_core::{Blocked, Code, Context, Reader};
use std::io::{Cursor, Read};

type Cfb<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

// Property ids (MS-OXPROPS).
const SUBJECT: u16 = 0x0037;
const CLIENT_SUBMIT_TIME: u16 = 0x0039;
const SENT_REPRESENTING_NAME: u16 = 0x0042;
const SENT_REPRESENTING_EMAIL: u16 = 0x0065;
const SENDER_NAME: u16 = 0x0C1A;
const SENDER_EMAIL: u16 = 0x0C1F;
const SENDER_SMTP: u16 = 0x5D01;
const SENT_REPRESENTING_SMTP: u16 = 0x5D02;
const RECIPIENT_TYPE: u16 = 0x0C15;
const DELIVERY_TIME: u16 = 0x0E06;
const BODY: u16 = 0x1000;
const RTF_COMPRESSED: u16 = 0x1009;
const HTML: u16 = 0x1013;
const MESSAGE_ID: u16 = 0x1035;
const REFERENCES: u16 = 0x1039;
const IN_REPLY_TO: u16 = 0x1042;
const DISPLAY_NAME: u16 = 0x3001;
const EMAIL_ADDRESS: u16 = 0x3003;
const ATTACH_DATA: u16 = 0x3701;
const ATTACH_FILENAME: u16 = 0x3704;
const ATTACH_METHOD: u16 = 0x3705;
const ATTACH_LONG_FILENAME: u16 = 0x3707;
const ATTACH_MIME_TAG: u16 = 0x370E;
const SMTP_ADDRESS: u16 = 0x39FE;
const INTERNET_CPID: u16 = 0x3FDE;
const MESSAGE_CODEPAGE: u16 = 0x3FFD;

// Property types.
const PT_LONG: u16 = 0x0003;
const PT_SYSTIME: u16 = 0x0040;
const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000D;

const ATTACH_BY_VALUE: u32 = 1;
const ATTACH_EMBEDDED_MSG: u32 = 5;

/// Most recipients and attachments read from one message.
const MAX_ITEMS: usize = 2048;

/// The `.msg` in `input` as MIME message bytes.
pub fn to_mime(input: &[u8], cx: &Context<'_>) -> Result<Vec<u8>, Blocked> {
    let mut cfb = cfb::CompoundFile::open(Cursor::new(input)).map_err(|e| {
        cx.block(
            Code::RebuildFailed,
            format!("not a readable Outlook MSG: {e}"),
        )
    })?;
    let mut out = Vec::new();
    write_message(&mut cfb, "", true, 0, cx, &mut out)?;
    Ok(out)
}

/// The fixed values of one property storage's `__properties_version1.0`.
struct Props {
    /// (id, type) -> the 8 value bytes.
    fixed: Vec<(u16, u16, [u8; 8])>,
}

impl Props {
    fn long(&self, id: u16) -> Option<u32> {
        self.fixed
            .iter()
            .find(|p| p.0 == id && p.1 == PT_LONG)
            .map(|p| u32::from_le_bytes([p.2[0], p.2[1], p.2[2], p.2[3]]))
    }

    fn time(&self, id: u16) -> Option<u64> {
        self.fixed
            .iter()
            .find(|p| p.0 == id && p.1 == PT_SYSTIME)
            .map(|p| u64::from_le_bytes(p.2))
    }
}

/// Reads a property stream: a header (32 bytes for the top message, 24 for
/// an embedded one, 8 for recipients and attachments) then 16-byte entries.
fn props(cfb: &mut Cfb<'_>, dir: &str, header: usize, cx: &Context<'_>) -> Result<Props, Blocked> {
    let path = format!("{dir}/__properties_version1.0");
    let bytes = read_stream(cfb, &path, cx)?.ok_or_else(|| {
        cx.block(
            Code::RebuildFailed,
            format!("Outlook MSG without its property stream ({path})"),
        )
    })?;
    let mut r = Reader::new(&bytes);
    r.skip(header).ok_or_else(|| {
        cx.block(
            Code::RebuildFailed,
            format!("Outlook MSG property stream {path} is shorter than its header"),
        )
    })?;
    let mut fixed = Vec::new();
    while r.remaining() >= 16 {
        let (Some(tag), Some(_flags), Some(v)) = (r.u32_le(), r.u32_le(), r.take(8)) else {
            break;
        };
        let mut value = [0u8; 8];
        value.copy_from_slice(v);
        fixed.push(((tag >> 16) as u16, tag as u16, value));
    }
    Ok(Props { fixed })
}

/// A stream's bytes, or `None` when there is no such stream. Its size is
/// charged to the budget first.
fn read_stream(
    cfb: &mut Cfb<'_>,
    path: &str,
    cx: &Context<'_>,
) -> Result<Option<Vec<u8>>, Blocked> {
    let len = match cfb.entry(path) {
        Ok(e) if e.is_stream() => e.len(),
        _ => return Ok(None),
    };
    cx.charge_expanded(len)?;
    let mut s = cfb.open_stream(path).map_err(|e| {
        cx.block(
            Code::RebuildFailed,
            format!("Outlook MSG stream {path}: {e}"),
        )
    })?;
    let mut v = Vec::with_capacity(usize::try_from(len.min(1 << 20)).unwrap_or(0));
    s.by_ref().take(len).read_to_end(&mut v).map_err(|e| {
        cx.block(
            Code::RebuildFailed,
            format!("Outlook MSG stream {path}: {e}"),
        )
    })?;
    Ok(Some(v))
}

/// A string property: Unicode, else 8-bit in the message's code page.
fn string(
    cfb: &mut Cfb<'_>,
    dir: &str,
    id: u16,
    cp: &'static encoding_rs::Encoding,
    cx: &Context<'_>,
) -> Result<Option<String>, Blocked> {
    if let Some(b) = read_stream(cfb, &substg(dir, id, PT_UNICODE), cx)? {
        let (s, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(&b);
        return Ok(Some(s.trim_end_matches('\0').to_string()));
    }
    if let Some(b) = read_stream(cfb, &substg(dir, id, PT_STRING8), cx)? {
        let (s, _) = cp.decode_without_bom_handling(&b);
        return Ok(Some(s.trim_end_matches('\0').to_string()));
    }
    Ok(None)
}

fn substg(dir: &str, id: u16, ty: u16) -> String {
    format!("{dir}/__substg1.0_{id:04X}{ty:04X}")
}

/// The encoding of 8-bit strings, from the code page properties.
fn code_page(p: &Props) -> &'static encoding_rs::Encoding {
    let cp = p.long(INTERNET_CPID).or_else(|| p.long(MESSAGE_CODEPAGE));
    let label = match cp {
        Some(932) => "shift_jis",
        Some(65001) => "utf-8",
        Some(50220..=50222) => "iso-2022-jp",
        Some(51932 | 20932) => "euc-jp",
        Some(936) => "gbk",
        Some(949) => "euc-kr",
        Some(950) => "big5",
        Some(28591) => "iso-8859-1",
        Some(n @ 1250..=1258) => return windows_cp(n),
        // Japanese Outlook writes CP932 when it says nothing.
        _ => "shift_jis",
    };
    encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or(encoding_rs::SHIFT_JIS)
}

fn windows_cp(n: u32) -> &'static encoding_rs::Encoding {
    encoding_rs::Encoding::for_label(format!("windows-{n}").as_bytes())
        .unwrap_or(encoding_rs::WINDOWS_1252)
}

/// Child storages of `dir` whose names start with `prefix`, sorted.
fn children(cfb: &Cfb<'_>, dir: &str, prefix: &str) -> Vec<String> {
    let root = if dir.is_empty() { "/" } else { dir };
    let mut v: Vec<String> = match cfb.read_storage(root) {
        Ok(entries) => entries
            .filter(|e| e.is_storage() && e.name().starts_with(prefix))
            .map(|e| format!("{dir}/{}", e.name()))
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Writes the message stored under `dir` as MIME into `out`.
fn write_message(
    cfb: &mut Cfb<'_>,
    dir: &str,
    top: bool,
    depth: u32,
    cx: &Context<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Blocked> {
    cx.check_deadline()?;
    let max = cx.policy().limits.max_depth;
    if depth > max {
        return Err(cx.block(
            Code::LimitDepth,
            format!("Outlook messages nested deeper than {max} levels"),
        ));
    }
    let p = props(cfb, dir, if top { 32 } else { 24 }, cx)?;
    let cp = code_page(&p);
    let mut head = String::from("MIME-Version: 1.0\r\n");

    let from_name = string(cfb, dir, SENT_REPRESENTING_NAME, cp, cx)?.or(string(
        cfb,
        dir,
        SENDER_NAME,
        cp,
        cx,
    )?);
    let from_addr = first_smtp(&[
        string(cfb, dir, SENT_REPRESENTING_SMTP, cp, cx)?,
        string(cfb, dir, SENDER_SMTP, cp, cx)?,
        string(cfb, dir, SENT_REPRESENTING_EMAIL, cp, cx)?,
        string(cfb, dir, SENDER_EMAIL, cp, cx)?,
    ]);
    if let Some(f) = mailbox(from_name.as_deref(), from_addr.as_deref()) {
        head.push_str(&format!("From: {f}\r\n"));
    }

    let mut to = Vec::new();
    let mut cc = Vec::new();
    for r in children(cfb, dir, "__recip_version1.0_")
        .into_iter()
        .take(MAX_ITEMS)
    {
        let rp = props(cfb, &r, 8, cx)?;
        let name = string(cfb, &r, DISPLAY_NAME, cp, cx)?;
        let addr = first_smtp(&[
            string(cfb, &r, SMTP_ADDRESS, cp, cx)?,
            string(cfb, &r, EMAIL_ADDRESS, cp, cx)?,
        ]);
        let Some(m) = mailbox(name.as_deref(), addr.as_deref()) else {
            continue;
        };
        match rp.long(RECIPIENT_TYPE) {
            Some(2) => cc.push(m),
            // Bcc recipients are not shown, as a received mail does not.
            Some(3) => {}
            _ => to.push(m),
        }
    }
    if !to.is_empty() {
        head.push_str(&format!("To: {}\r\n", to.join(",\r\n ")));
    }
    if !cc.is_empty() {
        head.push_str(&format!("Cc: {}\r\n", cc.join(",\r\n ")));
    }
    if let Some(t) = p.time(CLIENT_SUBMIT_TIME).or_else(|| p.time(DELIVERY_TIME)) {
        if let Some(d) = rfc5322_date(t) {
            head.push_str(&format!("Date: {d}\r\n"));
        }
    }
    if let Some(s) = string(cfb, dir, SUBJECT, cp, cx)? {
        let s = encode::clean_header_text(&s, 2000);
        if !s.is_empty() {
            head.push_str(&encode::fold(
                "Subject",
                &encode::encoded_words(&s, Charset::Utf8),
            ));
        }
    }
    for (id, field) in [
        (MESSAGE_ID, "Message-ID"),
        (IN_REPLY_TO, "In-Reply-To"),
        (REFERENCES, "References"),
    ] {
        if let Some(v) = string(cfb, dir, id, cp, cx)? {
            let ids: Vec<String> = v
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|t| t.starts_with('<') && t.ends_with('>') && t.len() > 2)
                .filter(|t| t.bytes().all(|b| b.is_ascii_graphic()))
                .map(str::to_string)
                .collect();
            if !ids.is_empty() {
                head.push_str(&encode::fold(field, &ids));
            }
        }
    }

    // Body: the plain text, else the HTML (converted to text later).
    let mut parts: Vec<Vec<u8>> = Vec::new();
    if let Some(body) = string(cfb, dir, BODY, cp, cx)? {
        parts.push(text_part("plain", &body));
    } else if let Some(html) = read_stream(cfb, &substg(dir, HTML, PT_BINARY), cx)? {
        let (h, _) = cp.decode_without_bom_handling(&html);
        parts.push(text_part("html", &h));
    } else if let Some(h) = string(cfb, dir, HTML, cp, cx)? {
        parts.push(text_part("html", &h));
    } else if let Some(rtf) = read_stream(cfb, &substg(dir, RTF_COMPRESSED, PT_BINARY), cx)? {
        // Only a compressed-RTF body: decompressed (bounded), and its text
        // (never the RTF itself) is the body; when it does not decompress,
        // it is listed as it is stored.
        let max = usize::try_from(cx.policy().limits.max_expanded_bytes).unwrap_or(usize::MAX);
        match crate::lzfu::decompress(&rtf, max) {
            Ok(plain) => {
                cx.charge_expanded(plain.len() as u64)?;
                let text = mugai_office::rtf::plain_text(&plain, cp, max);
                parts.push(text_part("plain", &text));
            }
            Err(_) => parts.push(
                crate::convert::attachment_part("body.rtf.lzfu", "application/octet-stream", &rtf)
                    .into_bytes(),
            ),
        }
    }

    for (i, a) in children(cfb, dir, "__attach_version1.0_")
        .into_iter()
        .take(MAX_ITEMS)
        .enumerate()
    {
        let ap = props(cfb, &a, 8, cx)?;
        let name = string(cfb, &a, ATTACH_LONG_FILENAME, cp, cx)?
            .or(string(cfb, &a, ATTACH_FILENAME, cp, cx)?)
            .or(string(cfb, &a, DISPLAY_NAME, cp, cx)?)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("attachment-{}", i + 1));
        let mime = string(cfb, &a, ATTACH_MIME_TAG, cp, cx)?
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| is_mime_type(m))
            .unwrap_or_else(|| "application/octet-stream".into());
        let method = ap.long(ATTACH_METHOD).unwrap_or(ATTACH_BY_VALUE);
        let inner = substg(&a, ATTACH_DATA, PT_OBJECT);
        let embedded = cfb.entry(&inner).is_ok_and(|e| e.is_storage());
        if method == ATTACH_EMBEDDED_MSG && embedded {
            let mut m = Vec::new();
            write_message(cfb, &inner, false, depth + 1, cx, &mut m)?;
            let mut part = b"Content-Type: message/rfc822\r\n\r\n".to_vec();
            part.extend_from_slice(&m);
            parts.push(part);
        } else {
            // By value, by reference, OLE: the bytes stored, if any, are
            // the attachment; it is listed or sanitised like any other.
            let data =
                read_stream(cfb, &substg(&a, ATTACH_DATA, PT_BINARY), cx)?.unwrap_or_default();
            parts.push(crate::convert::attachment_part(&name, &mime, &data).into_bytes());
        }
    }

    out.extend_from_slice(head.as_bytes());
    match parts.len() {
        0 => out.extend_from_slice(b"Content-Type: text/plain; charset=UTF-8\r\n\r\n"),
        1 if parts[0].starts_with(b"Content-Type: text/") => out.extend_from_slice(&parts[0]),
        _ => {
            let boundary = format!("=_mugai_msg_{depth}_{}", parts.len());
            out.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n")
                    .as_bytes(),
            );
            for part in &parts {
                out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                out.extend_from_slice(part);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        }
    }
    Ok(())
}

/// A body part in base64 (so no line of the original can end the part).
fn text_part(subtype: &str, text: &str) -> Vec<u8> {
    format!(
        "Content-Type: text/{subtype}; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        encode::base64_lines(text.as_bytes())
    )
    .into_bytes()
}

fn is_mime_type(m: &str) -> bool {
    m.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && m.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"/.+-_".contains(&c))
    })
}

/// The first value that looks like an SMTP address (Exchange `/O=...`
/// addresses are not).
fn first_smtp(candidates: &[Option<String>]) -> Option<String> {
    candidates
        .iter()
        .flatten()
        .map(|a| a.trim())
        .find(|a| {
            a.contains('@')
                && a.len() <= 254
                && a.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"<>()[]\\,;:\"".contains(&b))
        })
        .map(str::to_string)
}

/// `"=?UTF-8?B?..?=" <addr>`, or the address alone.
fn mailbox(name: Option<&str>, addr: Option<&str>) -> Option<String> {
    let addr = addr?;
    let name = name
        .map(|n| encode::clean_header_text(n, 200))
        .filter(|n| !n.is_empty() && n != addr);
    Some(match name {
        Some(n) => format!(
            "{} <{addr}>",
            encode::encoded_words(&n, Charset::Utf8).join(" ")
        ),
        None => format!("<{addr}>"),
    })
}

/// A FILETIME (100 ns since 1601-01-01 UTC) as an RFC 5322 date.
fn rfc5322_date(filetime: u64) -> Option<String> {
    let secs = i64::try_from(filetime / 10_000_000).ok()? - 11_644_473_600;
    if !(0..=253_402_300_799).contains(&secs) {
        return None;
    }
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    Some(format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        WD[days.rem_euclid(7) as usize],
        d,
        MON[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetimes_become_rfc5322_dates() {
        // 2024-02-29 12:34:56 UTC.
        let secs: u64 = 1_709_210_096;
        let ft = (secs + 11_644_473_600) * 10_000_000;
        assert_eq!(
            rfc5322_date(ft).as_deref(),
            Some("Thu, 29 Feb 2024 12:34:56 +0000")
        );
        assert_eq!(rfc5322_date(0), None);
    }

    #[test]
    fn only_smtp_addresses_are_used() {
        let ex = Some("/O=EXCHANGELABS/OU=X/CN=RECIPIENTS/CN=AB".to_string());
        let smtp = Some("taro@example.jp".to_string());
        assert_eq!(
            first_smtp(&[ex.clone(), smtp]).as_deref(),
            Some("taro@example.jp")
        );
        assert_eq!(first_smtp(&[ex]), None);
        assert!(is_mime_type("application/pdf") && !is_mime_type("text/html\r\nX: y"));
    }
}
