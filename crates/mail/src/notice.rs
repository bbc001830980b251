//! The texts the converter writes into the mail: the notice at the top,
//! the attachment list, the frame around a nested message. Japanese by
//! default (`mail.notice_language = "ja"`), English with `"en"`.

/// What the conversion did, for the notice.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub html: usize,
    pub attachments_removed: usize,
    pub attachments_sanitized: usize,
    pub attachments_blocked: usize,
    pub links: usize,
    pub charset_problems: usize,
    pub malformed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn from_policy(s: &str) -> Lang {
        if s.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Ja
        }
    }
}

pub const RULE: &str = "------------------------------------------------------------";

/// The notice block (ending with a rule line and a blank line).
pub fn notice(lang: Lang, custom: Option<&str>, s: &Summary) -> String {
    let mut out = String::new();
    match custom {
        Some(c) => out.push_str(c.trim()),
        None => out.push_str(match lang {
            Lang::Ja => "【無害化通知】このメールはインターネットから届いたメールを、無害化のためテキスト形式に変換したものです。原本はインターネット側に保管されています。",
            Lang::En => "[Sanitised] This message arrived from the Internet and was converted to plain text. The original is kept on the Internet side.",
        }),
    }
    out.push('\n');
    let mut items = Vec::new();
    let ja = lang == Lang::Ja;
    if s.html > 0 {
        items.push(if ja {
            "HTML本文をテキストに変換".to_string()
        } else {
            "HTML converted to text".to_string()
        });
    }
    if s.attachments_removed > 0 {
        items.push(if ja {
            format!(
                "添付ファイル{}件を削除（一覧は末尾）",
                s.attachments_removed
            )
        } else {
            format!(
                "{} attachment(s) removed (listed at the end)",
                s.attachments_removed
            )
        });
    }
    if s.attachments_sanitized > 0 {
        items.push(if ja {
            format!("添付ファイル{}件を無害化して添付", s.attachments_sanitized)
        } else {
            format!(
                "{} attachment(s) sanitised and attached",
                s.attachments_sanitized
            )
        });
    }
    if s.attachments_blocked > 0 {
        items.push(if ja {
            format!("添付ファイル{}件を遮断", s.attachments_blocked)
        } else {
            format!("{} attachment(s) blocked", s.attachments_blocked)
        });
    }
    if s.links > 0 {
        items.push(if ja {
            format!("リンク{}件を無効化（hxxp:// 形式）", s.links)
        } else {
            format!("{} link(s) neutralised (hxxp:// form)", s.links)
        });
    }
    if s.charset_problems > 0 {
        items.push(if ja {
            "文字コードを解読できない部分あり（\u{FFFD}で表示）".to_string()
        } else {
            "undecodable text shown as \u{FFFD}".to_string()
        });
    }
    if s.malformed > 0 {
        items.push(if ja {
            "MIME構造の不備を補正".to_string()
        } else {
            "broken MIME structure repaired".to_string()
        });
    }
    if !items.is_empty() {
        out.push_str(if ja { "処理内容: " } else { "Changes: " });
        out.push_str(&items.join(if ja { "、" } else { "; " }));
        out.push('\n');
    }
    out.push_str(RULE);
    out.push_str("\n\n");
    out
}

/// One line per attachment in the list at the end.
#[derive(Debug, Clone)]
pub struct AttachmentEntry {
    pub name: String,
    pub mime: String,
    pub size: usize,
    pub sha256: String,
    pub fate: Fate,
}

#[derive(Debug, Clone)]
pub enum Fate {
    Removed,
    Attached,
    Blocked(String),
}

pub fn attachment_list(lang: Lang, list: &[AttachmentEntry]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let ja = lang == Lang::Ja;
    let mut out = String::new();
    out.push_str("\n\n");
    out.push_str(RULE);
    out.push('\n');
    out.push_str(&if ja {
        format!("元のメールの添付ファイル ({}件)\n", list.len())
    } else {
        format!("Attachments of the original message ({})\n", list.len())
    });
    for (i, a) in list.iter().enumerate() {
        let fate = match (&a.fate, ja) {
            (Fate::Removed, true) => "削除".to_string(),
            (Fate::Removed, false) => "removed".to_string(),
            (Fate::Attached, true) => "無害化して添付".to_string(),
            (Fate::Attached, false) => "sanitised and attached".to_string(),
            (Fate::Blocked(r), true) => format!("遮断 (理由: {r})"),
            (Fate::Blocked(r), false) => format!("blocked (reason: {r})"),
        };
        if ja {
            out.push_str(&format!(
                "{}. {} [{}]\n   種類: {}\n   サイズ: {} バイト\n   SHA-256: {}\n",
                i + 1,
                a.name,
                fate,
                a.mime,
                a.size,
                a.sha256
            ));
        } else {
            out.push_str(&format!(
                "{}. {} [{}]\n   Type: {}\n   Size: {} bytes\n   SHA-256: {}\n",
                i + 1,
                a.name,
                fate,
                a.mime,
                a.size,
                a.sha256
            ));
        }
    }
    out
}

pub fn nested_start(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => "---------- 添付されたメッセージ ----------",
        Lang::En => "---------- Attached message ----------",
    }
}

pub fn nested_end(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => "---------- 添付されたメッセージここまで ----------",
        Lang::En => "---------- End of attached message ----------",
    }
}
