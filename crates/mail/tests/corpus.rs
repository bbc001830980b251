//! The generated mail cases through the in-process engine: verdicts and
//! codes as the corpus expects, and the converted text as a reader sees it.

use mail_parser::{MessageParser, MimeHeaders, PartType};
use mugai_core::{Job, Policy, Sanitize, Verdict};
use mugai_engine::InProcess;
use std::collections::BTreeSet;

struct Converted {
    raw: Vec<u8>,
    text: String,
    text_parts: usize,
    other_parts: usize,
}

fn convert(policy: &Policy, name: &str, bytes: &[u8]) -> (mugai_core::Outcome, Option<Converted>) {
    let o = InProcess.sanitize(policy, Job::new(name, bytes.to_vec()));
    let c = o.output().map(|out| inspect(&out.bytes));
    (o, c)
}

fn inspect(raw: &[u8]) -> Converted {
    let m = MessageParser::default().parse(raw).expect("output parses");
    let mut text = String::new();
    let (mut text_parts, mut other_parts) = (0, 0);
    for p in &m.parts {
        match &p.body {
            PartType::Text(t) => {
                let ct = p
                    .content_type()
                    .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                    .unwrap_or_default();
                assert_eq!(ct, "text/plain");
                text_parts += 1;
                text.push_str(t);
            }
            PartType::Multipart(_) => {}
            _ => other_parts += 1,
        }
    }
    Converted {
        raw: raw.to_vec(),
        text,
        text_parts,
        other_parts,
    }
}

fn check_lines(raw: &[u8]) {
    for (i, line) in raw.split(|&b| b == b'\n').enumerate() {
        assert!(line.len() <= 999, "line {i} is {} octets", line.len());
    }
    // Every line ends in CRLF: no bare LF or CR.
    let s = raw
        .windows(2)
        .filter(|w| w[1] == b'\n' && w[0] != b'\r')
        .count();
    assert_eq!(s, 0, "bare LF in the output");
}

#[test]
fn every_mail_case_converts_as_expected() {
    let policy = Policy::default();
    let cases: Vec<_> = mugai_corpus::mail::cases();
    assert!(cases.len() >= 14);
    // (path, must appear in the text, must not appear anywhere in the output)
    let expect: &[(&str, &[&str], &[&str])] = &[
        (
            "mail/plain_ascii.eml",
            &["The meeting is on Friday at 10.", "無害化通知"],
            &["処理内容"],
        ),
        (
            "mail/html_only_links_tracking.eml",
            &[
                "Dear customer,",
                "our portal <hxxps://login[.]example[.]com/verify?id=1>",
                "* first item\n* second item",
                "Plan | Price\nBasic | 100",
                "HTML本文をテキストに変換",
                "リンク1件を無効化",
            ],
            &[
                "hidden phishing text",
                "track.example",
                "document.location",
                "https://",
                "<p>",
                "color:red",
            ],
        ),
        (
            "mail/alternative_plain_html.eml",
            &["Read more at hxxps://news[.]example[.]org/2026/11"],
            &["<a href", "https://"],
        ),
        (
            "mail/iso2022jp.eml",
            &["来週の会議は月曜日の午前十時からです。"],
            &[],
        ),
        (
            "mail/shift_jis_body.eml",
            &["住民票の写しの請求について。"],
            &[],
        ),
        ("mail/euc_jp_body.eml", &["EUC-JPの本文です。"], &[]),
        (
            "mail/broken_charset.eml",
            &["valid start \u{FFFD}", "invalid bytes end"],
            &[],
        ),
        (
            "mail/multipart_docx.eml",
            &[
                "Please find the estimate attached.",
                "1. estimate.docx [削除]",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ],
            &["UEsDB"],
        ),
        (
            "mail/rfc2231_japanese_names.eml",
            &[
                "資料を送ります。",
                "見積書.pdf",
                "住民名簿.xlsx",
                "集計表.csv",
                "3件",
            ],
            &[],
        ),
        (
            "mail/nested_rfc822.eml",
            &[
                "Forwarding the message below.",
                "添付されたメッセージ",
                "件名: Original question",
                "This is the forwarded text.",
            ],
            &[],
        ),
        (
            "mail/missing_closing_boundary.eml",
            &["First part text.", "Second part text"],
            &[],
        ),
        (
            "mail/tnef_winmail.eml",
            &["See attached.", "winmail.dat [削除]"],
            &[],
        ),
        ("mail/header_injection.eml", &["Body."], &["\r\nBcc:"]),
        ("mail/long_line_2mb.eml", &["START xxxx", "xxxx END"], &[]),
        (
            "mail/unc_and_file_links.eml",
            &[
                "[\\\\]fs01[.]example[.]lg[.]jp\\share",
                "file[:]///C:/Windows",
                "hxxp:\\\\evil[.]example",
                "ms-msdt[:]/id",
            ],
            &["Open \\\\fs01", "file:///", "http:\\\\"],
        ),
        (
            "mail/uuencoded_body.eml",
            &[
                "See the tool below.",
                "Regards",
                "tool.exe [削除]",
                "application/x-uuencode",
            ],
            &["begin 644", "M35J0"],
        ),
        (
            "mail/yenc_and_binhex_body.eml",
            &["thanks", "a.bin [削除]", "application/mac-binhex40"],
            &["=ybegin", "BinHex 4.0)", "abcd"],
        ),
        ("mail/cr_only.eml", &["Line one\nLine two"], &[]),
        (
            "mail/forged_marker_html.eml",
            &["x"],
            &["<script>", "X-Mugai-Original-SHA256: 0000000000"],
        ),
        (
            "mail/outlook.msg",
            &[
                "花子さん",
                "hxxps://files[.]example[.]jp/a",
                "議事録.pdf [削除]",
            ],
            &["https://files"],
        ),
        (
            "mail/outlook_rtf_only.msg",
            &["hello world", "議事録.pdf [削除]"],
            &["rtf1", "ansicpg", "body.rtf"],
        ),
        (
            "mail/outlook_string8.msg",
            &["花子さん", "議事録.pdf [削除]"],
            &["https://files"],
        ),
    ];
    let mut seen = BTreeSet::new();
    for case in &cases {
        let (o, c) = convert(&policy, case.path.rsplit('/').next().unwrap(), &case.bytes);
        assert_eq!(
            o.verdict(),
            case.expect.verdict,
            "{}: {:?}",
            case.path,
            o.findings
        );
        let codes: BTreeSet<_> = o.findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, case.expect.codes, "{}: {:?}", case.path, o.findings);
        let c = c.expect("converted");
        assert_eq!(
            c.text_parts, 1,
            "{}: exactly one text/plain part",
            case.path
        );
        assert_eq!(c.other_parts, 0, "{}: nothing but text", case.path);
        check_lines(&c.raw);
        let raw = String::from_utf8_lossy(&c.raw);
        let verdict = if o.verdict() == Verdict::Clean {
            "clean"
        } else {
            "sanitized"
        };
        assert!(
            raw.contains(&format!("X-Mugai-Verdict: {verdict}\r\n")),
            "{}",
            case.path
        );
        assert!(
            raw.contains(&format!("X-Mugai-Original-SHA256: {}\r\n", o.sha256)),
            "{}",
            case.path
        );
        assert!(
            raw.contains("Message-ID: <case@example.jp>\r\n"),
            "{}",
            case.path
        );
        assert!(raw.starts_with("MIME-Version: 1.0\r\nFrom: Taro Yamada <taro@example.jp>\r\nTo: hanako@example.lg.jp\r\n"), "{}: {}", case.path, &raw[..200.min(raw.len())]);
        if let Some((_, must, must_not)) = expect.iter().find(|(p, _, _)| *p == case.path) {
            seen.insert(case.path.clone());
            let text = c.text.replace("\r\n", "\n");
            for m in *must {
                assert!(
                    text.contains(m),
                    "{}: missing {m:?} in\n{}",
                    case.path,
                    &text[..text.len().min(3000)]
                );
            }
            for m in *must_not {
                assert!(
                    !raw.contains(m) && !text.contains(m),
                    "{}: must not contain {m:?}",
                    case.path
                );
            }
        }
    }
    assert_eq!(seen.len(), expect.len(), "every expectation matched a case");
}

#[test]
fn subjects_are_decoded_and_reencoded() {
    let policy = Policy::default();
    for (path, subject) in [
        ("mail/iso2022jp.eml", "会議の件について"),
        ("mail/shift_jis_body.eml", "お知らせ"),
        (
            "mail/header_injection.eml",
            "Invoice Bcc: victim@example.net",
        ),
    ] {
        let case = mugai_corpus::mail::cases()
            .into_iter()
            .find(|c| c.path == path)
            .unwrap();
        let (o, _) = convert(&policy, "m.eml", &case.bytes);
        let out = o.into_output().unwrap().bytes;
        let m = MessageParser::default().parse(&out).unwrap();
        assert_eq!(m.subject(), Some(subject), "{path}");
        let raw = String::from_utf8_lossy(&out);
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(head.is_ascii(), "{path}: headers are 7-bit");
        assert!(!head.lines().any(|l| l.starts_with("Bcc")), "{path}");
    }
}

#[test]
fn links_kept_by_policy_and_iso2022jp_output() {
    let mut policy = Policy::default();
    policy.mail.links = mugai_core::config::LinkAction::Keep;
    policy.mail.output_charset = mugai_core::config::MailCharset::Iso2022Jp;
    policy.mail.notice_language = "en".into();
    let case = mugai_corpus::mail::cases()
        .into_iter()
        .find(|c| c.path == "mail/alternative_plain_html.eml")
        .unwrap();
    let (o, c) = convert(&policy, "m.eml", &case.bytes);
    let codes: BTreeSet<_> = o.findings.iter().map(|f| f.code.to_string()).collect();
    assert_eq!(codes, BTreeSet::from(["mail.html".to_string()]));
    let c = c.unwrap();
    assert!(c
        .text
        .contains("Read more at https://news.example.org/2026/11"));
    assert!(c.text.contains("[Sanitised] This message"));

    let case = mugai_corpus::mail::cases()
        .into_iter()
        .find(|c| c.path == "mail/iso2022jp.eml")
        .unwrap();
    let (o, c) = convert(&policy, "m.eml", &case.bytes);
    let out = o.into_output().unwrap().bytes;
    assert!(String::from_utf8_lossy(&out).contains("charset=ISO-2022-JP"));
    assert!(out.iter().all(|b| *b < 0x80), "ISO-2022-JP output is 7-bit");
    assert!(c
        .unwrap()
        .text
        .contains("来週の会議は月曜日の午前十時からです。"));
}

#[test]
fn attachments_sanitised_and_attached_by_policy() {
    let mut policy = Policy::default();
    policy.mail.attachments = mugai_core::config::MailAttachments::Sanitize;
    let inner = b"From: a@example.com\r\nTo: b@example.jp\r\nSubject: inner\r\n\r\nInner text https://x.example/\r\n";
    let b64 = |b: &[u8]| {
        // Via the converter's own encoder: the test checks the round trip.
        mugai_mail::encode::base64_lines(b)
    };
    let msg = format!(
        "From: a@example.jp\r\nTo: b@example.jp\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nSee both.\r\n\
         --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''%E8%A6%8B.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\
         --b\r\nContent-Type: application/octet-stream; name=\"fwd.eml\"\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\
         --b--\r\n",
        b64(b"%PDF-1.4 broken"),
        b64(inner)
    );
    let (o, c) = convert(&policy, "m.eml", msg.as_bytes());
    assert_eq!(o.verdict(), Verdict::Sanitized, "{:?}", o.findings);
    let c = c.unwrap();
    assert_eq!(c.text_parts, 1);
    // The broken PDF is blocked by its own rules and stays listed with the
    // reason; the mail attachment is converted by the mail rules and attached.
    assert!(c.text.contains("見.pdf [遮断 (理由: "), "{}", c.text);
    assert!(c.text.contains("fwd.eml [無害化して添付]"), "{}", c.text);
    assert_eq!(c.other_parts, 1, "one sanitised attachment");
    let m = MessageParser::default().parse(&c.raw).unwrap();
    let att = m.attachments().next().unwrap();
    assert_eq!(att.attachment_name(), Some("fwd.eml"));
    let attached = MessageParser::default().parse(att.contents()).unwrap();
    let t = attached.body_text(0).unwrap();
    assert!(t.contains("Inner text hxxps://x[.]example/"), "{t}");
    let codes: BTreeSet<_> = o.findings.iter().map(|f| f.code.to_string()).collect();
    assert!(
        codes.contains("mail.attachment") && codes.contains("mail.link"),
        "{codes:?}"
    );
}

/// Attachment names go through the name rules of every file: the rebuilt
/// mail's part headers (RFC 2231 and encoded words) and the list in the text
/// carry the safe name, and each change is a finding naming it.
#[test]
fn attachment_names_get_the_name_rules_of_every_file() {
    use mugai_core::Code;
    let mut policy = Policy::default();
    policy.mail.attachments = mugai_core::config::MailAttachments::Sanitize;
    // (name as sent, safe name, code of the change)
    let cases = [
        (
            "report\u{202E}fdp.txt",
            "reportfdp.txt",
            Some(Code::NameBidi),
        ),
        ("CON.txt", "_CON.txt", Some(Code::NameUnsafe)),
        ("a.txt:evil", "a.txt_evil", Some(Code::NameDoubleExt)),
        ("x<y>.txt", "x_y_.txt", Some(Code::NameUnsafe)),
        ("notes.txt.", "notes.txt", Some(Code::NameDoubleExt)),
        ("a\u{7}b.txt", "a_b.txt", Some(Code::NameUnsafe)),
        // A line separator would forge a line of the list.
        ("c\u{2028}9. d.txt", "c_9. d.txt", Some(Code::NameUnsafe)),
        ("報告書.txt", "報告書.txt", None),
    ];
    let mut msg = String::from(
        "From: a@example.jp\r\nTo: b@example.jp\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nSee the files.\r\n",
    );
    for (i, (sent, _, _)) in cases.iter().enumerate() {
        let pct: String = sent
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'.' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        msg.push_str(&format!(
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; filename*=UTF-8''{pct}\r\n\r\nfile {i}\r\n"
        ));
    }
    // The same names in the plain `name=` parameter and in encoded words
    // are decoded to the same name first.
    msg.push_str("--b\r\nContent-Type: text/plain; name=\"CON.txt\"\r\n\r\nplain\r\n");
    msg.push_str(&format!(
        "--b\r\nContent-Type: text/plain; name=\"=?UTF-8?B?{}?=\"\r\n\r\nword\r\n",
        mugai_mail::encode::base64("x<y>.txt".as_bytes())
    ));
    msg.push_str("--b--\r\n");

    let (o, c) = convert(&policy, "m.eml", msg.as_bytes());
    assert_eq!(o.verdict(), Verdict::Sanitized, "{:?}", o.findings);
    let c = c.unwrap();
    for (sent, safe, code) in &cases {
        assert!(
            c.text.contains(&format!(" {safe} [")),
            "{safe} not listed: {}",
            c.text
        );
        if sent != safe {
            assert!(
                !c.text.contains(&format!(" {sent} [")),
                "{sent:?} listed as sent"
            );
        }
        let about: Vec<_> = o
            .findings
            .iter()
            .filter(|f| f.detail.contains(&format!("attachment `{safe}`: ")))
            .collect();
        match code {
            Some(code) => assert!(
                about.iter().any(|f| f.code == *code),
                "{safe}: {code} missing in {:?}",
                o.findings
            ),
            None => assert!(about.is_empty(), "{safe}: {about:?}"),
        }
    }
    for f in &o.findings {
        assert!(
            !f.detail.chars().any(|c| c.is_control() || c == '\u{202E}'),
            "raw name echoed: {:?}",
            f.detail
        );
    }
    // The parts attached carry the safe names, read back by a MIME parser
    // from RFC 2231 and from the encoded-word fallback alike.
    let m = MessageParser::default().parse(&c.raw).unwrap();
    let mut attached: Vec<String> = Vec::new();
    for a in m.attachments() {
        let disp = a
            .content_disposition()
            .and_then(|d| d.attribute("filename"))
            .unwrap();
        let ctype = a.content_type().and_then(|t| t.attribute("name")).unwrap();
        assert_eq!(disp, ctype);
        attached.push(disp.to_string());
    }
    // `a.txt_evil` is attached as `a.txt`: the type rule of every file
    // (an extension that does not claim the rebuilt type is replaced).
    let mut safe: Vec<&str> = cases.iter().map(|c| c.1).collect();
    safe.push("a.txt");
    for name in &attached {
        assert!(safe.contains(&name.as_str()), "{name:?} attached");
    }
    for want in [
        "reportfdp.txt",
        "_CON.txt",
        "a.txt",
        "x_y_.txt",
        "notes.txt",
        "a_b.txt",
        "c_9. d.txt",
        "報告書.txt",
    ] {
        assert!(
            attached.iter().any(|n| n == want),
            "{want} not attached: {attached:?}"
        );
    }
    // The encoded-word and plain `name=` forms are renamed as well.
    assert_eq!(attached.iter().filter(|n| *n == "_CON.txt").count(), 2);
    assert_eq!(attached.iter().filter(|n| *n == "x_y_.txt").count(), 2);
    // The mail written is its own fixpoint: its names need no change.
    let (again, _) = convert(&policy, "m.eml", &c.raw);
    assert!(
        again
            .findings
            .iter()
            .all(|f| !f.code.to_string().starts_with("name.")),
        "{:?}",
        again.findings
    );
}
