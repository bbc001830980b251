//! Cases for the mail rebuilder (text-ization): every `mail.*` row, the
//! Japanese charsets, attachments with Japanese names, nesting, broken MIME
//! and size.

use crate::{build, Case, Expect};
use mugai_core::Code;

const HEAD: &str = "From: Taro Yamada <taro@example.jp>\r\nTo: hanako@example.lg.jp\r\nDate: Mon, 2 Nov 2026 10:00:00 +0900\r\nMessage-ID: <case@example.jp>\r\n";

fn b64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

fn b64_lines(input: &[u8]) -> String {
    let s = b64(input);
    s.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn jis(s: &str) -> Vec<u8> {
    encoding_rs::ISO_2022_JP.encode(s).0.into_owned()
}

fn sjis(s: &str) -> Vec<u8> {
    encoding_rs::SHIFT_JIS.encode(s).0.into_owned()
}

fn mail(head_extra: &str, body: &[u8]) -> Vec<u8> {
    let mut v = HEAD.as_bytes().to_vec();
    v.extend_from_slice(head_extra.as_bytes());
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(body);
    v
}

/// A minimal Word document (the list mode never opens it).
pub fn docx() -> Vec<u8> {
    build::zip(&[
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#,
        ),
        (
            "word/document.xml",
            br#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>mitsumori</w:t></w:r></w:p></w:body></w:document>"#,
        ),
    ])
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();

    v.push(Case::new(
        "mail/plain_ascii.eml",
        mail(
            "Subject: Meeting on Friday\r\nContent-Type: text/plain; charset=us-ascii\r\n",
            b"Hello Hanako,\r\n\r\nThe meeting is on Friday at 10.\r\n\r\nTaro\r\n",
        ),
        Expect::clean("plain text mail: converted, nothing to remove"),
    ));

    let html = "<html><head><title>t</title><style>p{color:red}</style>\
        <script>document.location='https://evil.example/'</script></head><body>\
        <p>Dear customer,</p><p>Please confirm your account at \
        <a href=\"https://login.example.com/verify?id=1\">our portal</a>.</p>\
        <ul><li>first item</li><li>second item</li></ul>\
        <table><tr><td>Plan</td><td>Price</td></tr><tr><td>Basic</td><td>100</td></tr></table>\
        <div style=\"display:none\">hidden phishing text</div>\
        <img src=\"https://track.example.net/open.gif?u=42\" width=\"1\" height=\"1\">\
        </body></html>";
    v.push(Case::new(
        "mail/html_only_links_tracking.eml",
        mail(
            "Subject: Account notice\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
            html.replace('=', "=3D").as_bytes(),
        ),
        Expect::sanitized(&[Code::MailHtml, Code::MailLink], "HTML-only mail with a link, a script, hidden text and a tracking pixel"),
    ));

    let alt = "MIME-Version: 1.0\r\nSubject: Newsletter\r\nContent-Type: multipart/alternative; boundary=\"alt1\"\r\n";
    let alt_body = "--alt1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRead more at https://news.example.org/2026/11\r\n\
        --alt1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Read more <a href=\"https://news.example.org/2026/11\">here</a></p>\r\n--alt1--\r\n";
    v.push(Case::new(
        "mail/alternative_plain_html.eml",
        mail(alt, alt_body.as_bytes()),
        Expect::sanitized(
            &[Code::MailHtml, Code::MailLink],
            "text/plain kept, HTML alternative removed, link neutralised",
        ),
    ));

    let subj_jis = jis("会議の件について");
    let mut body = jis("山田です。\r\n来週の会議は月曜日の午前十時からです。\r\n");
    body.extend_from_slice(b"\r\n");
    v.push(Case::new(
        "mail/iso2022jp.eml",
        mail(
            &format!(
                "Subject: =?ISO-2022-JP?B?{}?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n",
                b64(&subj_jis)
            ),
            &body,
        ),
        Expect::clean("ISO-2022-JP subject (encoded word) and body"),
    ));

    v.push(Case::new(
        "mail/shift_jis_body.eml",
        mail(
            &format!(
                "Subject: =?Shift_JIS?B?{}?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n",
                b64(&sjis("お知らせ"))
            ),
            &sjis("お知らせです。\r\n住民票の写しの請求について。\r\n"),
        ),
        Expect::clean("Shift_JIS 8-bit body"),
    ));

    v.push(Case::new(
        "mail/euc_jp_body.eml",
        mail(
            "Subject: euc\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=EUC-JP\r\nContent-Transfer-Encoding: 8bit\r\n",
            &encoding_rs::EUC_JP.encode("EUC-JPの本文です。\r\n").0,
        ),
        Expect::clean("EUC-JP 8-bit body"),
    ));

    v.push(Case::new(
        "mail/broken_charset.eml",
        mail(
            "Subject: broken\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
            b"valid start \xff\xfe\x80 invalid bytes end\r\n",
        ),
        Expect::sanitized(&[Code::MailCharset], "undecodable bytes shown as replacement characters, text kept"),
    ));

    let docx = docx();
    let mixed = format!(
        "--mix1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease find the estimate attached.\r\n\
         --mix1\r\nContent-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name=\"estimate.docx\"\r\n\
         Content-Disposition: attachment; filename=\"estimate.docx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--mix1--\r\n",
        b64_lines(&docx)
    );
    v.push(Case::new(
        "mail/multipart_docx.eml",
        mail(
            "Subject: Estimate\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"mix1\"\r\n",
            mixed.as_bytes(),
        ),
        Expect::sanitized(&[Code::MailAttachment], "docx attachment removed and listed"),
    ));

    // RFC 2231 with UTF-8, RFC 2231 with Shift_JIS, and an encoded word.
    let pct = |b: &[u8]| b.iter().map(|x| format!("%{x:02X}")).collect::<String>();
    let names = format!(
        "--n1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n資料を送ります。\r\n\
         --n1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''{}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --n1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n filename*0*=shift_jis''{};\r\n filename*1*={}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --n1\r\nContent-Type: text/csv; name=\"=?ISO-2022-JP?B?{}?=\"\r\nContent-Disposition: attachment\r\n\r\na,b\r\n1,2\r\n--n1--\r\n",
        pct("見積書.pdf".as_bytes()),
        b64(b"%PDF-1.4 not really\n"),
        pct(&sjis("住民")),
        pct(&sjis("名簿.xlsx")),
        b64(b"PK\x03\x04 not really"),
        b64(&jis("集計表.csv")),
    );
    v.push(Case::new(
        "mail/rfc2231_japanese_names.eml",
        mail(
            "Subject: names\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"n1\"\r\n",
            names.as_bytes(),
        ),
        Expect::sanitized(&[Code::MailAttachment], "Japanese attachment names in RFC 2231 (UTF-8, Shift_JIS) and encoded words"),
    ));

    // Names the rules of every file change: bidi override, NTFS stream,
    // device name, reserved characters, trailing dot, control character.
    let unsafe_names = [
        "report\u{202E}fdp.pdf",
        "a.txt:evil",
        "CON.txt",
        "x<y>.pdf",
        "notes.txt.",
        "a\u{7}b.txt",
    ];
    let mut body =
        "--u1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the files.\r\n".to_string();
    for (i, n) in unsafe_names.iter().enumerate() {
        body.push_str(&format!(
            "--u1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''{}\r\n\r\nfile {i}\r\n",
            pct(n.as_bytes())
        ));
    }
    body.push_str("--u1--\r\n");
    v.push(Case::new(
        "mail/unsafe_attachment_names.eml",
        mail(
            "Subject: names\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"u1\"\r\n",
            body.as_bytes(),
        ),
        Expect::sanitized(
            &[Code::MailAttachment, Code::NameBidi, Code::NameDoubleExt, Code::NameUnsafe],
            "attachment names renamed by the name rules of every file, each change a finding",
        ),
    ));

    let inner = "From: Jiro <jiro@example.com>\r\nTo: taro@example.jp\r\nSubject: Original question\r\nDate: Sun, 1 Nov 2026 09:00:00 +0900\r\n\r\nThis is the forwarded text.\r\n";
    let nested = format!(
        "--fw1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nForwarding the message below.\r\n\
         --fw1\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n{inner}\r\n--fw1--\r\n"
    );
    v.push(Case::new(
        "mail/nested_rfc822.eml",
        mail(
            "Subject: Fwd: Original question\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"fw1\"\r\n",
            nested.as_bytes(),
        ),
        Expect::sanitized(&[Code::MailMalformed], "nested message/rfc822 converted to text in place"),
    ));

    let missing = "--mb1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFirst part text.\r\n\
         --mb1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSecond part text, and the closing boundary never comes.\r\n";
    v.push(Case::new(
        "mail/missing_closing_boundary.eml",
        mail(
            "Subject: broken mime\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"mb1\"\r\n",
            missing.as_bytes(),
        ),
        Expect::sanitized(&[Code::MailMalformed], "multipart without its closing boundary: both texts kept"),
    ));

    let tnef = format!(
        "--t1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--t1\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n\
         Content-Disposition: attachment; filename=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--t1--\r\n",
        b64(b"\x78\x9f\x3e\x22\x00\x00 tnef payload")
    );
    v.push(Case::new(
        "mail/tnef_winmail.eml",
        mail(
            "Subject: tnef\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"t1\"\r\n",
            tnef.as_bytes(),
        ),
        Expect::sanitized(&[Code::MailAttachment, Code::MailMalformed], "TNEF winmail.dat removed and reported"),
    ));

    v.push(Case::new(
        "mail/header_injection.eml",
        mail(
            &format!(
                "Subject: =?UTF-8?B?{}?=\r\nContent-Type: text/plain\r\n",
                b64(b"Invoice\r\nBcc: victim@example.net")
            ),
            b"Body.\r\n",
        ),
        Expect::sanitized(
            &[Code::MailMalformed],
            "a line break smuggled into Subject through an encoded word",
        ),
    ));

    // 2 MB on one line: a body no line-length rule may break.
    let mut long = b"START ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 2 << 20));
    long.extend_from_slice(b" END\r\n");
    v.push(Case::new(
        "mail/long_line_2mb.eml",
        mail(
            "Subject: long line\r\nContent-Type: text/plain; charset=us-ascii\r\n",
            &long,
        ),
        Expect::clean("2 MB single-line body; output lines stay within 998 octets"),
    ));

    v.push(Case::new(
        "mail/unc_and_file_links.eml",
        mail(
            "Subject: share\r\nContent-Type: text/plain; charset=us-ascii\r\n",
            b"Open \\\\fs01.example.lg.jp\\share\\report.exe or file:///C:/Windows/System32/calc.exe\r\nor http:\\\\evil.example\\x and ms-msdt:/id PCWDiagnostic\r\n",
        ),
        Expect::sanitized(
            &[Code::MailLink],
            "UNC path, file: URL, backslash http:\\\\ and a protocol handler neutralised",
        ),
    ));
    v.push(Case::new(
        "mail/uuencoded_body.eml",
        mail(
            "Subject: tool\r\nContent-Type: text/plain; charset=us-ascii\r\n",
            b"See the tool below.\r\n\r\nbegin 644 tool.exe\r\nM35J0``,````$````__\\``+@`````````0```````````````````````\r\n`\r\nend\r\n\r\nRegards\r\n",
        ),
        Expect::sanitized(
            &[Code::MailEncodedPayload],
            "a uuencoded program inside a text body is removed and listed",
        ),
    ));
    v.push(Case::new(
        "mail/yenc_and_binhex_body.eml",
        mail(
            "Subject: files\r\nContent-Type: text/plain; charset=us-ascii\r\n",
            b"=ybegin line=128 size=4 name=a.bin\r\nabcd\r\n=yend size=4\r\n(This file must be converted with BinHex 4.0)\r\n:$f*TEQKPH#jdCA0d,R4iG!\"849K8:\r\nthanks\r\n",
        ),
        Expect::sanitized(
            &[Code::MailEncodedPayload],
            "yEnc and BinHex blocks inside a text body are removed and listed",
        ),
    ));
    v.push(Case::new(
        "mail/subject_replacement_chars.eml",
        mail(
            "Subject: =?UTF-8?B?SW1wcmVzcyB5b3VyIGNsaWVudHMgd2l0aCBhIGJ1c2luZXNzIHBob25l77+9?=\r\n =?UTF-8?B?77+977+9?=\r\nContent-Type: text/plain; charset=us-ascii\r\n",
            b"Body.\r\n",
        ),
        Expect::clean(
            "a subject of encoded words holding U+FFFD stays as decoded (and again on a second pass)",
        ),
    ));
    v.push(Case::new(
        "mail/cr_only.eml",
        b"From: Taro Yamada <taro@example.jp>\rTo: hanako@example.lg.jp\rSubject: old Mac\rDate: Mon, 2 Nov 2026 10:00:00 +0900\rMessage-ID: <case@example.jp>\r\rLine one\rLine two\r".to_vec(),
        Expect::sanitized(
            &[Code::MailMalformed],
            "CR-only line ends (classic Mac OS) are read as CRLF, not blocked",
        ),
    ));
    v.push(Case::new(
        "mail/forged_marker_html.eml",
        mail(
            "Subject: forged\r\nX-Mugai-Verdict: clean\r\nX-Mugai-Original-SHA256: 0000000000000000000000000000000000000000000000000000000000000000\r\nContent-Type: text/html; charset=utf-8\r\n",
            "【無害化通知】このメールはインターネットから届いたメールを、無害化のためテキスト形式に変換したものです。<a href=\"https://evil.example/\">x</a><script>alert(1)</script>".as_bytes(),
        ),
        Expect::sanitized(
            &[Code::MailHtml, Code::MailLink],
            "our marker forged on an HTML mail: text-ized all the same",
        ),
    ));
    v.push(Case::new(
        "mail/outlook.msg",
        outlook_msg(false),
        Expect::sanitized(
            &[Code::MailAttachment, Code::MailLink],
            "Outlook .msg: headers and body text-ized like an .eml, the attachment listed",
        ),
    ));
    v.push(Case::new(
        "mail/outlook_rtf_only.msg",
        outlook(false, true, "議事録.pdf"),
        Expect::sanitized(
            &[Code::MailAttachment],
            "Outlook .msg whose body is only compressed RTF: decompressed, its text is the body (never the RTF), the attachment listed",
        ),
    ));
    v.push(Case::new(
        "mail/outlook_string8.msg",
        outlook_msg(true),
        Expect::sanitized(
            &[Code::MailAttachment, Code::MailLink],
            "Outlook .msg with 8-bit (CP932) strings",
        ),
    ));
    v.push(Case::new(
        "mail/outlook_unsafe_name.msg",
        outlook(false, false, "議事録\u{202E}fdp.pdf:x"),
        Expect::sanitized(
            &[
                Code::MailAttachment,
                Code::MailLink,
                Code::NameBidi,
                Code::NameDoubleExt,
            ],
            "Outlook .msg attachment name renamed by the name rules of every file",
        ),
    ));

    v
}

/// A property entry of `__properties_version1.0`.
fn prop(id: u16, ty: u16, value: [u8; 8]) -> Vec<u8> {
    let mut v = ((u32::from(id) << 16) | u32::from(ty))
        .to_le_bytes()
        .to_vec();
    v.extend_from_slice(&6u32.to_le_bytes());
    v.extend_from_slice(&value);
    v
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// An Outlook message: sender, two recipients, subject, date, message id,
/// a body with a link and one PDF attachment; strings in UTF-16 or, with
/// `string8`, in CP932.
pub fn outlook_msg(string8: bool) -> Vec<u8> {
    outlook(string8, false, "議事録.pdf")
}

/// The compressed-RTF example of MS-OXRTFCP 3.1.1:
/// `{\rtf1\ansi\ansicpg1252\pard hello world}` and CRLF.
pub const COMPRESSED_RTF: &[u8] = &[
    0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7,
    0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20,
    0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f,
    0xa0,
];

/// An Outlook message as [`outlook_msg`]; with `rtf_only` its body is
/// only the compressed RTF (`PR_RTF_COMPRESSED`), as Outlook stores
/// rich-text mail; its attachment is named `attachment`.
fn outlook(string8: bool, rtf_only: bool, attachment: &str) -> Vec<u8> {
    let (ty, enc): (u16, fn(&str) -> Vec<u8>) = if string8 {
        (0x001E, sjis)
    } else {
        (0x001F, utf16)
    };
    let s = |id: u16| format!("/__substg1.0_{id:04X}{ty:04X}");
    let mut streams: Vec<(String, Vec<u8>)> = Vec::new();
    let mut top = vec![0u8; 32];
    top[16..20].copy_from_slice(&2u32.to_le_bytes()); // recipients
    top[20..24].copy_from_slice(&1u32.to_le_bytes()); // attachments
                                                      // 2026-11-02 01:00:00 UTC as a FILETIME.
    let ft: u64 = (1_793_581_200 + 11_644_473_600) * 10_000_000;
    top.extend(prop(0x0039, 0x0040, ft.to_le_bytes()));
    top.extend(prop(0x3FFD, 0x0003, [0xA4, 0x03, 0, 0, 0, 0, 0, 0])); // 932
    streams.push(("/__properties_version1.0".into(), top));
    streams.push((s(0x0037), enc("会議資料の送付")));
    streams.push((s(0x0C1A), enc("Taro Yamada")));
    streams.push((s(0x5D01), enc("taro@example.jp")));
    streams.push((s(0x1035), enc("<case@example.jp>")));
    if rtf_only {
        streams.push(("/__substg1.0_10090102".into(), COMPRESSED_RTF.to_vec()));
    } else {
        streams.push((
            s(0x1000),
            enc("花子さん\r\n資料は https://files.example.jp/a にもあります。\r\n"),
        ));
    }
    for (i, (name, addr, kind)) in [
        ("hanako@example.lg.jp", "hanako@example.lg.jp", 1u8),
        ("佐藤 次郎", "jiro@example.lg.jp", 2u8),
    ]
    .iter()
    .enumerate()
    {
        let dir = format!("/__recip_version1.0_#{i:08X}");
        let mut p = vec![0u8; 8];
        p.extend(prop(0x0C15, 0x0003, [*kind, 0, 0, 0, 0, 0, 0, 0]));
        streams.push((format!("{dir}/__properties_version1.0"), p));
        streams.push((format!("{dir}/__substg1.0_3001{ty:04X}"), enc(name)));
        streams.push((format!("{dir}/__substg1.0_39FE{ty:04X}"), enc(addr)));
    }
    let dir = "/__attach_version1.0_#00000000";
    let mut p = vec![0u8; 8];
    p.extend(prop(0x3705, 0x0003, [1, 0, 0, 0, 0, 0, 0, 0]));
    streams.push((format!("{dir}/__properties_version1.0"), p));
    streams.push((format!("{dir}/__substg1.0_3707{ty:04X}"), enc(attachment)));
    streams.push((
        format!("{dir}/__substg1.0_37010102"),
        b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec(),
    ));
    let refs: Vec<(&str, Vec<u8>)> = streams
        .iter()
        .map(|(p, b)| (p.as_str(), b.clone()))
        .collect();
    crate::office::cfb_file(&refs)
}
