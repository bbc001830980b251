//! The conversion: one parsed message in, one text-only message out.

use crate::encode::{self, Charset};
use crate::html;
use crate::links;
use crate::notice::{self, AttachmentEntry, Fate, Lang, Summary};
use crate::payload;
use encoding_rs::{Encoding as Charset8, EUC_JP, ISO_2022_JP, SHIFT_JIS};
use mail_parser::{
    Address, Encoding, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders,
    PartType,
};
use mugai_core::config::{LinkAction, MailAttachments, MailCharset};
use mugai_core::{
    sha256_hex, Action, Blocked, Code, Context, FileType, Finding, Rebuilder, Rebuilt,
};

/// The [`Rebuilder`] for mail (`FileType::Eml`): the output is one
/// RFC 5322 message whose only text is a single `text/plain` part.
#[derive(Debug, Default, Clone, Copy)]
pub struct MailRebuilder;

impl Rebuilder for MailRebuilder {
    fn rebuild(
        &self,
        input: &[u8],
        file_type: FileType,
        cx: &mut Context<'_>,
    ) -> Result<Rebuilt, Blocked> {
        let bytes = match file_type {
            FileType::Eml => convert(input, input, cx)?,
            FileType::Msg => {
                let mime = crate::msg::to_mime(input, cx)?;
                convert(input, &mime, cx)?
            }
            other => {
                return Err(cx.block(
                    Code::RebuildFailed,
                    format!("the mail rebuilder cannot rebuild {other}"),
                ))
            }
        };
        Ok(Rebuilt::new(bytes, FileType::Eml))
    }
}

/// Longest decoded header value kept (characters).
const MAX_HEADER_CHARS: usize = 2000;
/// Most addresses kept per address header.
const MAX_ADDRESSES: usize = 2000;
/// Most References kept: the first and the latest ones, as RFC 5322 advises.
const MAX_REFERENCES: usize = 20;

struct Conv<'c, 'p> {
    cx: &'c mut Context<'p>,
    lang: Lang,
    summary: Summary,
    attachments: Vec<AttachmentEntry>,
    /// Sanitised attachments to attach: (name, mime, bytes).
    attached: Vec<(String, String, Vec<u8>)>,
    parts_seen: usize,
    /// The input carries our marker: its UTF-8 text was written by us, so a
    /// U+FFFD in it is a character of the text, not a decoding error.
    trust_utf8: bool,
}

/// What our own output says of itself.
struct Marker {
    verdict: &'static str,
    original_sha256: String,
}

/// The marker of a message this converter wrote: its two `X-Mugai-`
/// fields with well-formed values, and a text that opens with the notice.
fn own_marker(msg: &Message<'_>, lang: Lang, custom: Option<&str>) -> Option<Marker> {
    let field = |name: &'static str| {
        msg.header(HeaderName::Other(name.into()))
            .and_then(|v| v.as_text())
            .map(|t| t.trim().to_string())
    };
    let verdict = match field("X-Mugai-Verdict")?.as_str() {
        "clean" => "clean",
        "sanitized" => "sanitized",
        _ => return None,
    };
    let sha = field("X-Mugai-Original-SHA256")?;
    if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let first_text = msg.parts.iter().find_map(|p| match &p.body {
        PartType::Text(t) => Some(t.as_ref()),
        _ => None,
    })?;
    let opening = notice::notice(lang, custom, &Summary::default());
    let first_line = opening.lines().next().unwrap_or_default();
    (!first_line.is_empty() && first_text.trim_start().starts_with(first_line)).then_some(Marker {
        verdict,
        original_sha256: sha,
    })
}

/// True when the header section ends its lines with CR alone (classic Mac
/// OS mail): no LF before the first empty line, but CRs.
fn cr_only(input: &[u8]) -> bool {
    let head = &input[..input.len().min(64 * 1024)];
    let end = find(head, b"\r\r").unwrap_or(head.len());
    let head = &head[..end];
    head.contains(&b'\r') && !head.contains(&b'\n')
}

/// Every CR that no LF follows becomes CRLF.
fn crlf(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 32);
    for (i, &b) in input.iter().enumerate() {
        out.push(b);
        if b == b'\r' && input.get(i + 1) != Some(&b'\n') {
            out.push(b'\n');
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Converts the message in `source`; `original` is the file as received
/// (the same bytes for an .eml, the .msg it was read from otherwise).
fn convert(original: &[u8], source: &[u8], cx: &mut Context<'_>) -> Result<Vec<u8>, Blocked> {
    let policy = cx.policy();
    let normalised;
    let input = if cr_only(source) {
        normalised = crlf(source);
        &normalised[..]
    } else {
        source
    };
    let msg = MessageParser::default()
        .parse(input)
        .ok_or_else(|| cx.block(Code::RebuildFailed, "no header fields: not a mail message"))?;
    let lang = Lang::from_policy(&policy.mail.notice_language);
    let mut c = Conv {
        cx,
        lang,
        summary: Summary::default(),
        attachments: Vec::new(),
        attached: Vec::new(),
        parts_seen: 0,
        trust_utf8: false,
    };
    if input.len() != source.len() {
        c.malformed("line ends were CR only (classic Mac OS); read as CRLF".into());
    }
    let marker = own_marker(&msg, lang, policy.mail.notice.as_deref());
    c.trust_utf8 = marker.is_some();
    let mut body = String::new();
    c.message(&msg, 0, &mut body)?;

    // Links: in the body and the attachment list alike.
    let list = notice::attachment_list(lang, &c.attachments);
    let mut text = body.clone();
    text.push_str(&list);
    if policy.mail.links == LinkAction::Neutralise {
        let (t, n, hosts) = links::neutralise(&text);
        if n > 0 {
            c.summary.links = n;
            c.cx.neutralised(
                Code::MailLink,
                format!("{n} link(s) in the text neutralised ({})", hosts.join(", ")),
            );
        }
        text = t;
    }

    let mut headers = String::new();
    c.headers(&msg, &mut headers)?;

    // Our own output, sanitised again, with nothing to remove: it is
    // written as it was (no second notice, no second list, the first
    // verdict and original hash). The marker alone changes nothing else:
    // the text went through every rule above, and a single finding means a
    // fresh notice as for any mail.
    let own = marker.filter(|_| c.cx.findings().is_empty());
    let (full, verdict, original_sha) = match own {
        Some(m) => (clean_body(&body), m.verdict, m.original_sha256),
        None => {
            let notice = notice::notice(lang, policy.mail.notice.as_deref(), &c.summary);
            let verdict = if c.cx.findings().is_empty() {
                "clean"
            } else {
                "sanitized"
            };
            (
                clean_body(&format!("{notice}{text}")),
                verdict,
                sha256_hex(original),
            )
        }
    };
    let mut out = String::new();
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(&headers);
    out.push_str(&format!("X-Mugai-Verdict: {verdict}\r\n"));
    out.push_str(&format!("X-Mugai-Original-SHA256: {original_sha}\r\n"));

    let want = match policy.mail.output_charset {
        MailCharset::Utf8 => Charset::Utf8,
        MailCharset::Iso2022Jp => Charset::Iso2022Jp,
    };
    let multipart = !c.attached.is_empty();
    let boundary = format!("=_mugai_{}", &original_sha[..24]);
    let part = text_part(&full, want, multipart);
    let mut bytes = out.into_bytes();
    if multipart {
        bytes.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n").as_bytes(),
        );
        bytes.extend_from_slice(b"This is a MIME message.\r\n");
        bytes.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        bytes.extend_from_slice(&part);
        for (name, mime, data) in &c.attached {
            bytes.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
            bytes.extend_from_slice(attachment_part(name, mime, data).as_bytes());
        }
        bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    } else {
        bytes.extend_from_slice(&part);
    }
    Ok(bytes)
}

/// The text/plain part: its content headers, a blank line and the body.
fn text_part(text: &str, want: Charset, multipart: bool) -> Vec<u8> {
    let crlf = text.replace('\n', "\r\n");
    if want == Charset::Iso2022Jp {
        if let Some(jis) = encode::to_iso2022jp(&crlf) {
            let long = jis.split(|&b| b == b'\n').any(|l| l.len() > 998);
            let mut v = b"Content-Type: text/plain; charset=ISO-2022-JP\r\n".to_vec();
            if long {
                v.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
                v.extend_from_slice(encode::base64_lines(&jis).as_bytes());
            } else {
                v.extend_from_slice(b"Content-Transfer-Encoding: 7bit\r\n\r\n");
                v.extend_from_slice(&jis);
                v.extend_from_slice(b"\r\n");
            }
            return v;
        }
        // A character ISO-2022-JP cannot carry: fall back to UTF-8 rather
        // than lose or alter it.
    }
    let mut v = b"Content-Type: text/plain; charset=UTF-8\r\n".to_vec();
    let ascii = crlf.is_ascii();
    let short = crlf
        .split("\r\n")
        .all(|l| l.len() <= 998 && !l.starts_with("--=_mugai_"));
    if ascii && short && !multipart {
        v.extend_from_slice(b"Content-Transfer-Encoding: 7bit\r\n\r\n");
        v.extend_from_slice(crlf.as_bytes());
        v.extend_from_slice(b"\r\n");
    } else if ascii {
        v.extend_from_slice(b"Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        v.extend_from_slice(encode::quoted_printable(&crlf).as_bytes());
    } else {
        v.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
        v.extend_from_slice(encode::base64_lines(crlf.as_bytes()).as_bytes());
    }
    v
}

/// One sanitised attachment. Its name is written twice: RFC 2231
/// (`filename*=UTF-8''…`, continued over lines when long) in
/// Content-Disposition, which current readers use, and RFC 2047 encoded
/// words in the Content-Type `name=`, which older readers fall back to.
pub fn attachment_part(name: &str, mime: &str, data: &[u8]) -> String {
    let mut pct = String::new();
    for b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
            pct.push(*b as char);
        } else {
            pct.push_str(&format!("%{b:02X}"));
        }
    }
    let mut disp = "Content-Disposition: attachment".to_string();
    // Chunks end between escapes, never inside one.
    let mut chunks: Vec<&str> = Vec::new();
    let mut rest = pct.as_str();
    while !rest.is_empty() {
        let mut at = rest.len().min(60);
        while at < rest.len() && rest.as_bytes()[at.saturating_sub(1)] == b'%'
            || at < rest.len() && at >= 2 && rest.as_bytes()[at - 2] == b'%'
        {
            at -= 1;
        }
        let (head, tail) = rest.split_at(at);
        chunks.push(head);
        rest = tail;
    }
    if chunks.len() <= 1 {
        disp.push_str(&format!(";\r\n filename*=UTF-8''{pct}"));
    } else {
        for (i, chunk) in chunks.iter().enumerate() {
            let charset = if i == 0 { "UTF-8''" } else { "" };
            disp.push_str(&format!(";\r\n filename*{i}*={charset}{chunk}"));
        }
    }
    let mut ctype = vec![format!("{mime};"), "name=\"".to_string()];
    let words = encode::encoded_words(name, Charset::Utf8);
    let last = words.len().saturating_sub(1);
    for (i, w) in words.into_iter().enumerate() {
        if i == 0 {
            ctype[1].push_str(&w);
        } else {
            ctype.push(w);
        }
        if i == last {
            if let Some(t) = ctype.last_mut() {
                t.push('"');
            }
        }
    }
    format!(
        "{}{disp}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        encode::fold("Content-Type", &ctype),
        encode::base64_lines(data)
    )
}

/// Body text as it will be written: `\n` line ends, no control characters
/// other than tab, no bidi embedding or override controls.
fn clean_body(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if c.is_control() => {}
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {}
            c => out.push(c),
        }
    }
    let trimmed = out.trim_end();
    let mut s = trimmed.to_string();
    s.push('\n');
    s
}

impl Conv<'_, '_> {
    fn malformed(&mut self, detail: String) {
        self.summary.malformed += 1;
        self.cx.neutralised(Code::MailMalformed, detail);
    }

    /// The [`safe_name`] of a decoded attachment name, its findings recorded.
    fn safe_name(&mut self, decoded: &str) -> String {
        let (safe, findings) = safe_name(decoded);
        for f in findings {
            self.cx.record(f.code, f.action, f.detail);
        }
        safe
    }

    /// Renders the body of `msg` (not its header) into `out`.
    fn message(&mut self, msg: &Message<'_>, depth: u32, out: &mut String) -> Result<(), Blocked> {
        if msg.parts.is_empty() {
            return Ok(());
        }
        self.part(msg, 0, depth, 0, out)
    }

    fn part(
        &mut self,
        msg: &Message<'_>,
        id: usize,
        depth: u32,
        nesting: u32,
        out: &mut String,
    ) -> Result<(), Blocked> {
        self.cx.check_deadline()?;
        self.cx.charge_entries(1)?;
        let max = self.cx.policy().limits.max_nesting;
        if nesting > max {
            return Err(self.cx.block(
                Code::LimitDepth,
                format!("MIME parts nested deeper than {max} levels"),
            ));
        }
        let Some(part) = msg.parts.get(id) else {
            return Ok(());
        };
        self.parts_seen += 1;
        let n = self.parts_seen;
        let (ctype, subtype) = content_type(part);
        if part.is_encoding_problem && !matches!(part.body, PartType::Message(_)) {
            self.malformed(format!(
                "part {n} ({ctype}/{subtype}): broken MIME encoding or structure; shown as text"
            ));
        }
        match &part.body {
            PartType::Multipart(children) => {
                self.check_closing_boundary(msg, part, n);
                if subtype == "alternative" {
                    self.alternative(msg, children, depth, nesting, out)
                } else {
                    for &child in children {
                        if child as usize <= id {
                            continue;
                        }
                        self.part(msg, child as usize, depth, nesting + 1, out)?;
                    }
                    Ok(())
                }
            }
            PartType::Text(t) => {
                self.cx.charge_expanded(t.len() as u64)?;
                let body_text = (ctype == "text"
                    && matches!(subtype.as_str(), "plain" | "enriched"))
                    || part.content_type().is_none();
                if is_attachment(part) || !body_text {
                    self.attachment(msg, part, t.as_bytes(), n)
                } else {
                    let text = self.decode_text(msg, part, t, n);
                    let text = self.take_payloads(text, n);
                    push_block(out, &text);
                    Ok(())
                }
            }
            PartType::Html(h) => {
                self.cx.charge_expanded(h.len() as u64)?;
                if is_attachment(part) {
                    return self.attachment(msg, part, h.as_bytes(), n);
                }
                let h = self.decode_text(msg, part, h, n);
                let (text, stats) = html::html_to_text(&h, h.len().saturating_mul(2) + 4096);
                self.summary.html += 1;
                self.cx.removed(
                    Code::MailHtml,
                    format!(
                        "part {n} (text/html): converted to text; dropped {}",
                        stats.describe()
                    ),
                );
                let text = self.take_payloads(text, n);
                push_block(out, &text);
                Ok(())
            }
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                self.cx.charge_expanded(b.len() as u64)?;
                if ctype == "message" {
                    self.malformed(format!(
                        "part {n} ({ctype}/{subtype}): embedded message could not be parsed; removed"
                    ));
                }
                self.attachment(msg, part, b, n)
            }
            PartType::Message(inner) => {
                let max_depth = self.cx.policy().limits.max_depth;
                if depth + 1 > max_depth {
                    return Err(self.cx.block(
                        Code::LimitDepth,
                        format!("messages nested deeper than {max_depth} levels"),
                    ));
                }
                self.malformed(format!(
                    "part {n} (message/rfc822): nested message converted to text"
                ));
                let mut inner_text = String::new();
                inner_text.push_str(notice::nested_start(self.lang));
                inner_text.push('\n');
                inner_text.push_str(&self.summary_headers(inner));
                inner_text.push('\n');
                let mut inner_body = String::new();
                self.message(inner, depth + 1, &mut inner_body)?;
                inner_text.push_str(&inner_body);
                inner_text.push('\n');
                inner_text.push_str(notice::nested_end(self.lang));
                push_block(out, &inner_text);
                Ok(())
            }
        }
    }

    /// `multipart/alternative`: the text/plain alternative when there is a
    /// non-empty one, else the richest other alternative.
    fn alternative(
        &mut self,
        msg: &Message<'_>,
        children: &[u32],
        depth: u32,
        nesting: u32,
        out: &mut String,
    ) -> Result<(), Blocked> {
        let kids: Vec<usize> = children
            .iter()
            .map(|&c| c as usize)
            .filter(|&c| c < msg.parts.len())
            .collect();
        let plain = kids.iter().copied().find(|&k| {
            let p = &msg.parts[k];
            let (t, s) = content_type(p);
            matches!(&p.body, PartType::Text(txt) if t == "text" && s == "plain" && !txt.trim().is_empty())
                && !is_attachment(p)
        });
        let chosen = plain
            .or_else(|| {
                kids.iter()
                    .copied()
                    .find(|&k| matches!(msg.parts[k].body, PartType::Multipart(_)))
            })
            .or_else(|| {
                kids.iter()
                    .copied()
                    .find(|&k| matches!(msg.parts[k].body, PartType::Html(_)))
            })
            .or_else(|| kids.last().copied());
        let Some(chosen) = chosen else {
            return Ok(());
        };
        for &k in &kids {
            if k == chosen {
                continue;
            }
            let p = &msg.parts[k];
            match &p.body {
                PartType::Html(_) => {
                    self.summary.html += 1;
                    self.cx.removed(
                        Code::MailHtml,
                        "text/html alternative removed; the text/plain alternative is kept",
                    );
                }
                PartType::Multipart(_) => {
                    // e.g. multipart/related (HTML with inline images): its
                    // contents are dropped with the alternative.
                    self.summary.html += 1;
                    self.cx.removed(
                        Code::MailHtml,
                        "multipart alternative (HTML with inline parts) removed; the text/plain alternative is kept",
                    );
                }
                // Another plain-text rendering of the same content.
                PartType::Text(_) if content_type(p) == ("text".into(), "plain".into()) => {}
                _ => {
                    // Anything else (text/calendar, an image ...) is listed.
                    self.parts_seen += 1;
                    let n = self.parts_seen;
                    let bytes: &[u8] = match &p.body {
                        PartType::Binary(b) | PartType::InlineBinary(b) => b,
                        PartType::Text(t) => t.as_bytes(),
                        _ => &[],
                    };
                    self.attachment(msg, p, bytes, n)?;
                }
            }
        }
        self.part(msg, chosen, depth, nesting + 1, out)
    }

    /// A multipart whose closing delimiter never comes (`--boundary--`).
    fn check_closing_boundary(&mut self, msg: &Message<'_>, part: &MessagePart<'_>, n: usize) {
        let Some(b) = part.content_type().and_then(|c| c.attribute("boundary")) else {
            return;
        };
        let raw = &msg.raw_message[..];
        let start = (part.offset_body as usize).min(raw.len());
        let end = (part.offset_end as usize).clamp(start, raw.len());
        let range = if end > start {
            &raw[start..end]
        } else {
            &raw[start..]
        };
        let close = format!("--{b}--");
        if !contains(range, close.as_bytes()) {
            self.malformed(format!(
                "part {n} (multipart): closing boundary missing; parts read to the end"
            ));
        }
    }

    /// Text as decoded by the parser, repaired where its charset was not
    /// declared; undecodable bytes stay as U+FFFD and are reported.
    fn decode_text(
        &mut self,
        msg: &Message<'_>,
        part: &MessagePart<'_>,
        t: &str,
        n: usize,
    ) -> String {
        let declared = part
            .content_type()
            .and_then(|c| c.attribute("charset"))
            .map(str::to_string);
        let mut text = t.to_string();
        if text.contains('\u{1b}') && (text.contains("\u{1b}$B") || text.contains("\u{1b}$@")) {
            let (d, _, errors) = ISO_2022_JP.decode(text.as_bytes());
            if !errors {
                text = d.into_owned();
            }
        }
        if text.contains('\u{FFFD}') && part.encoding == Encoding::None && declared.is_none() {
            let raw = &msg.raw_message[..];
            let s = (part.offset_body as usize).min(raw.len());
            let e = (part.offset_end as usize).clamp(s, raw.len());
            if let Some(d) = guess_japanese(&raw[s..e]) {
                text = d;
            }
        }
        let ours = self.trust_utf8
            && declared
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case("utf-8"));
        if text.contains('\u{FFFD}') && !ours {
            self.summary.charset_problems += 1;
            let cs = declared
                .as_deref()
                .map(|c| encode::clean_header_text(c, 40));
            self.cx.neutralised(
                Code::MailCharset,
                format!(
                    "part {n}: text not decodable as {}; shown with replacement characters",
                    cs.as_deref().unwrap_or("the declared charset (none)")
                ),
            );
        }
        text
    }

    /// Takes uuencode, yEnc and BinHex blocks out of a body text and lists
    /// them like removed attachments.
    fn take_payloads(&mut self, text: String, n: usize) -> String {
        let (rest, found) = payload::extract(&text);
        if found.is_empty() {
            return text;
        }
        for p in found {
            let name = match p.name.as_deref().filter(|s| !s.trim().is_empty()) {
                Some(decoded) => self.safe_name(decoded),
                None => format!("part-{n}-{}", p.kind),
            };
            let mime = match p.kind {
                "uuencode" => "application/x-uuencode",
                "yEnc" => "application/x-yenc",
                _ => "application/mac-binhex40",
            };
            let sha = sha256_hex(p.text.as_bytes());
            self.summary.attachments_removed += 1;
            self.cx.removed(
                Code::MailEncodedPayload,
                format!(
                    "part {n}: {} block {name} ({} bytes, sha256 {sha}) removed from the text",
                    p.kind,
                    p.text.len()
                ),
            );
            self.attachments.push(AttachmentEntry {
                name,
                mime: mime.to_string(),
                size: p.text.len(),
                sha256: sha,
                fate: Fate::Removed,
            });
        }
        rest
    }

    fn attachment(
        &mut self,
        msg: &Message<'_>,
        part: &MessagePart<'_>,
        bytes: &[u8],
        n: usize,
    ) -> Result<(), Blocked> {
        let (ctype, subtype) = content_type(part);
        let mime = format!("{ctype}/{subtype}");
        let name = match decoded_name(msg, part) {
            Some(decoded) => self.safe_name(&decoded),
            None => format!("part-{n}"),
        };
        let sha = sha256_hex(bytes);
        if mime == "application/ms-tnef" || name.eq_ignore_ascii_case("winmail.dat") {
            self.malformed(format!(
                "part {n}: TNEF ({name}) removed; its contents are not converted"
            ));
        }
        let sanitize = self.cx.policy().mail.attachments == MailAttachments::Sanitize;
        let fate = if sanitize {
            match self.cx.member(&name, bytes) {
                Ok(r) => {
                    let out_name = attachment_output_name(&name, r.file_type);
                    let out_mime = match r.file_type.mime() {
                        m if m.starts_with("text/") || m.starts_with("message/") => {
                            "application/octet-stream"
                        }
                        m => m,
                    };
                    self.summary.attachments_sanitized += 1;
                    self.attached
                        .push((out_name, out_mime.to_string(), r.bytes));
                    Fate::Attached
                }
                Err(b) => {
                    self.summary.attachments_blocked += 1;
                    let reason = format!("{}: {}", b.code, b.detail);
                    self.cx.removed(
                        Code::MailAttachment,
                        format!(
                            "attachment {name} ({mime}, {} bytes) blocked: {reason}",
                            bytes.len()
                        ),
                    );
                    Fate::Blocked(reason)
                }
            }
        } else {
            self.summary.attachments_removed += 1;
            self.cx.removed(
                Code::MailAttachment,
                format!(
                    "attachment {name} ({mime}, {} bytes, sha256 {sha}) removed",
                    bytes.len()
                ),
            );
            Fate::Removed
        };
        self.attachments.push(AttachmentEntry {
            name,
            mime,
            size: bytes.len(),
            sha256: sha,
            fate,
        });
        Ok(())
    }

    /// From/Date/Subject/To of a nested message, for the reader.
    fn summary_headers(&mut self, m: &Message<'_>) -> String {
        let mut s = String::new();
        let addr = |a: Option<&Address<'_>>| -> String {
            a.map(|a| {
                address_list(a)
                    .into_iter()
                    .map(|(name, addr)| match (name, addr) {
                        (Some(n), Some(a)) => format!("{n} <{a}>"),
                        (None, Some(a)) => a,
                        (Some(n), None) => n,
                        (None, None) => String::new(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
        };
        let ja = self.lang == Lang::Ja;
        let from = addr(m.from());
        if !from.is_empty() {
            s.push_str(&format!(
                "{}: {}\n",
                if ja { "差出人" } else { "From" },
                from
            ));
        }
        if let Some(d) = m.date().filter(|d| d.is_valid()) {
            s.push_str(&format!(
                "{}: {}\n",
                if ja { "日時" } else { "Date" },
                d.to_rfc822()
            ));
        }
        let to = addr(m.to());
        if !to.is_empty() {
            s.push_str(&format!("{}: {}\n", if ja { "宛先" } else { "To" }, to));
        }
        if let Some(subj) = m.subject() {
            let subj = encode::clean_header_text(subj, MAX_HEADER_CHARS);
            s.push_str(&format!(
                "{}: {}\n",
                if ja { "件名" } else { "Subject" },
                subj
            ));
        }
        s
    }

    /// The kept header fields, re-encoded.
    fn headers(&mut self, msg: &Message<'_>, out: &mut String) -> Result<(), Blocked> {
        let cs = match self.cx.policy().mail.output_charset {
            MailCharset::Utf8 => Charset::Utf8,
            MailCharset::Iso2022Jp => Charset::Iso2022Jp,
        };
        let root_headers: &[mail_parser::Header<'_>] =
            msg.parts.first().map(|p| &p.headers[..]).unwrap_or(&[]);
        for (hname, field) in [
            (HeaderName::From, "From"),
            (HeaderName::To, "To"),
            (HeaderName::Cc, "Cc"),
            (HeaderName::ReplyTo, "Reply-To"),
        ] {
            let Some(a) = root_headers
                .iter()
                .find(|h| h.name == hname)
                .and_then(|h| h.value.as_address())
            else {
                continue;
            };
            let mut tokens: Vec<String> = Vec::new();
            let mut dropped = 0usize;
            for (name, addr) in address_list(a).into_iter().take(MAX_ADDRESSES) {
                let Some(addr) = addr.as_deref().and_then(clean_address) else {
                    if addr.is_some() {
                        dropped += 1;
                    }
                    continue;
                };
                if let Some(last) = tokens.last_mut() {
                    last.push(',');
                }
                if let Some(name) = name
                    .map(|n| self.header_text(field, &n, 200))
                    .filter(|n| !n.is_empty())
                {
                    tokens.extend(encode::phrase(&name, pick(cs, &name)));
                    tokens.push(format!("<{addr}>"));
                } else {
                    tokens.push(addr);
                }
            }
            if dropped > 0 {
                self.malformed(format!(
                    "{field}: {dropped} address(es) that cannot be written safely dropped"
                ));
            }
            if !tokens.is_empty() {
                out.push_str(&encode::fold(field, &tokens));
            }
        }
        if let Some(d) = msg.date().filter(|d| d.is_valid()) {
            out.push_str(&format!("Date: {}\r\n", d.to_rfc822()));
        }
        if let Some(subject) = self.subject(msg) {
            let subject = self.header_text("Subject", &subject, MAX_HEADER_CHARS);
            if !subject.is_empty() {
                out.push_str(&encode::fold(
                    "Subject",
                    &encode::unstructured(&subject, pick(cs, &subject)),
                ));
            }
        }
        if let Some(id) = msg.message_id().and_then(clean_msg_id) {
            out.push_str(&format!("Message-ID: <{id}>\r\n"));
        }
        for (value, field) in [
            (msg.in_reply_to(), "In-Reply-To"),
            (msg.references(), "References"),
        ] {
            let mut ids: Vec<String> = match value {
                HeaderValue::Text(t) => vec![t.to_string()],
                HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
                _ => Vec::new(),
            }
            .iter()
            .filter_map(|i| clean_msg_id(i))
            .map(|i| format!("<{i}>"))
            .collect();
            if ids.len() > MAX_REFERENCES {
                let tail = ids.split_off(ids.len() - (MAX_REFERENCES - 1));
                ids.truncate(1);
                ids.extend(tail);
            }
            if !ids.is_empty() {
                out.push_str(&encode::fold(field, &ids));
            }
        }
        Ok(())
    }

    /// The decoded Subject; raw 8-bit Shift_JIS or EUC-JP (sent without
    /// encoded words, as some Japanese mailers still do) is recovered.
    fn subject(&self, msg: &Message<'_>) -> Option<String> {
        let s = msg.subject()?.to_string();
        if !s.contains('\u{FFFD}') {
            return Some(s);
        }
        let raw = raw_header(msg, msg.parts.first()?, &HeaderName::Subject)?;
        // Only raw 8-bit text is guessed; an ASCII field (encoded words)
        // decoded to U+FFFD honestly.
        if raw.is_ascii() {
            return Some(s);
        }
        Some(guess_japanese(raw).unwrap_or(s))
    }

    /// A decoded header text, cleaned; a line break inside the decoded
    /// value (header injection through encoded words) is reported.
    fn header_text(&mut self, field: &str, s: &str, max: usize) -> String {
        if s.contains(['\r', '\n']) {
            self.malformed(format!(
                "{field}: line break inside the decoded value removed (header injection)"
            ));
        }
        encode::clean_header_text(s, max)
    }
}

/// ISO-2022-JP header words only when the text fits ISO-2022-JP.
fn pick(cs: Charset, s: &str) -> Charset {
    if cs == Charset::Iso2022Jp && encode::to_iso2022jp(s).is_none() {
        Charset::Utf8
    } else {
        cs
    }
}

fn push_block(out: &mut String, text: &str) {
    let t = text.trim_matches(['\r', '\n']);
    if t.trim().is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(t);
}

fn content_type(part: &MessagePart<'_>) -> (String, String) {
    match part.content_type() {
        Some(c) => (
            encode::clean_header_text(c.ctype(), 60).to_ascii_lowercase(),
            encode::clean_header_text(c.subtype().unwrap_or("octet-stream"), 60)
                .to_ascii_lowercase(),
        ),
        None => ("text".into(), "plain".into()),
    }
}

fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.content_disposition()
        .is_some_and(|d| d.is_attachment())
        || part.attachment_name().is_some()
}

/// The attachment's name as the rebuilt mail writes it: the [`safe_name`]
/// of its decoded name.
pub(crate) fn attachment_name(msg: &Message<'_>, part: &MessagePart<'_>) -> Option<String> {
    decoded_name(msg, part).map(|d| safe_name(&d).0)
}

/// The attachment's name as sent, decoded (RFC 2231, encoded words, and raw
/// 8-bit Shift_JIS/EUC-JP); `None` when it has none or only white space.
fn decoded_name(msg: &Message<'_>, part: &MessagePart<'_>) -> Option<String> {
    let mut name = part.attachment_name()?.to_string();
    if name.contains('\u{FFFD}') {
        for h in [HeaderName::ContentDisposition, HeaderName::ContentType] {
            if let Some(raw) = raw_header(msg, part, &h) {
                let key: &[u8] = if h == HeaderName::ContentType {
                    b"name"
                } else {
                    b"filename"
                };
                if let Some(d) = raw_rfc2231(raw, key) {
                    name = d;
                    break;
                }
                if let Some(d) = raw_param(raw, key).and_then(guess_japanese) {
                    name = d;
                    break;
                }
            }
        }
    }
    (!name.trim().is_empty()).then_some(name)
}

/// An attachment's name as the rebuilt mail writes it, in the part headers
/// and in the list in the text alike: the last component of the decoded
/// name, under the name rules of every file ([`mugai_detect::check_name`]:
/// bidi and control characters, NTFS streams, reserved characters and
/// device names, trailing dots, length). The findings say what changed and
/// name the attachment by its safe name, never by the name as sent.
pub(crate) fn safe_name(decoded: &str) -> (String, Vec<Finding>) {
    let base = decoded.rsplit(['/', '\\']).next().unwrap_or(decoded);
    let check = mugai_detect::check_name(base);
    let mut findings = check.findings;
    if base.len() != decoded.len() {
        findings.insert(
            0,
            Finding::new(
                Code::NameUnsafe,
                Action::Neutralised,
                "folder path removed from the name",
            ),
        );
    }
    let safe = check.safe_name;
    for f in &mut findings {
        f.detail = format!("attachment `{safe}`: {}", f.detail);
    }
    (safe, findings)
}

/// The raw bytes of a header field's value in `part`.
fn raw_header<'m>(
    msg: &'m Message<'_>,
    part: &MessagePart<'_>,
    name: &HeaderName<'_>,
) -> Option<&'m [u8]> {
    let h = part.headers.iter().find(|h| &h.name == name)?;
    msg.raw_message
        .get(h.offset_start as usize..h.offset_end as usize)
}

/// `name="value"` or `name=value` in a raw parameter list.
fn raw_param<'a>(raw: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut i = 0;
    while i + name.len() < raw.len() {
        if raw[i..i + name.len()].eq_ignore_ascii_case(name)
            && (i == 0 || matches!(raw[i - 1], b';' | b' ' | b'\t' | b'\n'))
            && raw.get(i + name.len()) == Some(&b'=')
        {
            let v = &raw[i + name.len() + 1..];
            return Some(if v.first() == Some(&b'"') {
                let v = &v[1..];
                &v[..v.iter().position(|&b| b == b'"').unwrap_or(v.len())]
            } else {
                &v[..v
                    .iter()
                    .position(|&b| matches!(b, b';' | b'\r' | b'\n'))
                    .unwrap_or(v.len())]
            });
        }
        i += 1;
    }
    None
}

/// An RFC 2231 parameter split into `name*0*=charset''..`, `name*1*=..`
/// segments, joined before decoding (a multi-byte character may straddle
/// two segments, which decoding segment by segment gets wrong).
fn raw_rfc2231(raw: &[u8], name: &[u8]) -> Option<String> {
    let text: String = raw.iter().map(|&b| b as char).collect();
    let lower = text.to_ascii_lowercase();
    let key = String::from_utf8_lossy(name).to_ascii_lowercase();
    let mut segments: Vec<(u32, bool, String)> = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find(&format!("{key}*")) {
        let at = from + i;
        from = at + key.len() + 1;
        if at > 0 && !matches!(lower.as_bytes()[at - 1], b';' | b' ' | b'\t' | b'\n') {
            continue;
        }
        let rest = &text[from..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let after = &rest[digits.len()..];
        let (encoded, after) = match after.strip_prefix('*') {
            Some(a) => (true, a),
            None => (false, after),
        };
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let v = if let Some(q) = value.strip_prefix('"') {
            q.split('"').next().unwrap_or("")
        } else {
            value
                .split([';', '\r', '\n'])
                .next()
                .unwrap_or("")
                .trim_end()
        };
        let idx = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        if segments.len() < 64 {
            segments.push((idx, encoded, v.to_string()));
        }
    }
    segments.sort_by_key(|s| s.0);
    let first = segments.first()?;
    let charset = if first.1 {
        first.2.split('\'').next().unwrap_or("").to_string()
    } else {
        String::new()
    };
    let mut bytes = Vec::new();
    for (i, (_, encoded, v)) in segments.iter().enumerate() {
        let v = if i == 0 && *encoded {
            v.splitn(3, '\'').nth(2).unwrap_or("")
        } else {
            v.as_str()
        };
        if *encoded {
            let b = v.as_bytes();
            let mut j = 0;
            while j < b.len() {
                if b[j] == b'%' && j + 2 < b.len() {
                    if let Ok(x) = u8::from_str_radix(
                        std::str::from_utf8(&b[j + 1..j + 3]).unwrap_or("zz"),
                        16,
                    ) {
                        bytes.push(x);
                        j += 3;
                        continue;
                    }
                }
                bytes.push(b[j]);
                j += 1;
            }
        } else {
            bytes.extend(v.chars().map(|c| c as u32 as u8));
        }
    }
    let enc = Charset8::for_label(charset.trim().as_bytes()).unwrap_or(encoding_rs::UTF_8);
    enc.decode_without_bom_handling_and_without_replacement(&bytes)
        .map(|c| c.into_owned())
        .filter(|s| !s.is_empty())
}

/// Undeclared Japanese 8-bit text: valid UTF-8 first, then Shift_JIS
/// (CP932), then EUC-JP, each only if it decodes without a single error.
fn guess_japanese(raw: &[u8]) -> Option<String> {
    if let Ok(s) = std::str::from_utf8(raw) {
        return (!s.contains('\u{FFFD}')).then(|| s.to_string());
    }
    let try_dec = |enc: &'static Charset8| {
        enc.decode_without_bom_handling_and_without_replacement(raw)
            .map(|c| c.into_owned())
    };
    try_dec(SHIFT_JIS).or_else(|| try_dec(EUC_JP))
}

/// Flattens address lists and groups into (name, address) pairs.
fn address_list(a: &Address<'_>) -> Vec<(Option<String>, Option<String>)> {
    let mut v = Vec::new();
    match a {
        Address::List(l) => {
            for x in l {
                v.push((
                    x.name.as_ref().map(|n| n.to_string()),
                    x.address.as_ref().map(|n| n.to_string()),
                ));
            }
        }
        Address::Group(g) => {
            for grp in g {
                for x in &grp.addresses {
                    v.push((
                        x.name.as_ref().map(|n| n.to_string()),
                        x.address.as_ref().map(|n| n.to_string()),
                    ));
                }
            }
        }
    }
    v
}

/// An address that can be written between `<` and `>` as is.
fn clean_address(a: &str) -> Option<String> {
    let a = a.trim();
    let ok = !a.is_empty()
        && a.len() <= 254
        && a.bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>()[]\\,;:\"".contains(&b));
    ok.then(|| a.to_string())
}

/// A message id (without its angle brackets) that can be written as is.
fn clean_msg_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !id.is_empty()
        && id.len() <= 250
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    ok.then(|| id.to_string())
}

/// The attachment's name with its extension kept only when it claims the
/// rebuilt type (the same rule as for files and archive members); a name
/// without extension gets the type's.
fn attachment_output_name(name: &str, t: FileType) -> String {
    if mugai_detect::extension_of(name).is_none() && !t.extension().is_empty() {
        return format!("{name}.{}", t.extension());
    }
    mugai_detect::output_name(name, t)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_name_applies_the_name_rules_and_names_the_attachment_safely() {
        let (safe, f) = safe_name("../../CON.txt");
        assert_eq!(safe, "_CON.txt");
        assert!(f.len() >= 2, "{f:?}");
        assert!(f.iter().all(|f| f.code == Code::NameUnsafe), "{f:?}");
        assert!(f[0].detail.contains("folder path removed"), "{f:?}");
        assert!(f
            .iter()
            .all(|f| f.detail.starts_with("attachment `_CON.txt`: ")));

        let (safe, f) = safe_name("invoice\u{202E}fdp.\u{1}txt");
        assert_eq!(safe, "invoicefdp._txt");
        let codes: Vec<Code> = f.iter().map(|f| f.code).collect();
        assert!(codes.contains(&Code::NameBidi) && codes.contains(&Code::NameUnsafe));
        assert!(f
            .iter()
            .all(|f| !f.detail.chars().any(|c| c.is_control() || c == '\u{202E}')));

        for benign in ["報告書.pdf", "議事録 (最終版).docx", "a;b' c=d%.txt"] {
            assert_eq!(safe_name(benign), (benign.to_string(), Vec::new()));
        }
    }

    #[test]
    fn written_names_are_their_own_safe_names() {
        for sent in [
            "a.txt:evil",
            "x<y>.pdf",
            "notes.txt. ",
            "COM1.csv",
            "a\tb.txt",
        ] {
            let (safe, f) = safe_name(sent);
            assert_ne!(safe, sent);
            assert!(!f.is_empty());
            assert!(crate::parts::is_display_name(&safe), "{safe}");
            assert!(!crate::parts::is_display_name(sent), "{sent}");
        }
    }
}
