//! The plain-text notice for LGWAN users: what was removed from a file, or
//! why it was blocked. Japanese by default.

use mugai_core::config::NoticeLanguage;
use mugai_core::{Outcome, Verdict};

/// What the notice needs of one handled file.
#[derive(Debug, Clone)]
pub struct NoticeInput<'a> {
    pub id: &'a str,
    pub time: &'a str,
    /// The file's path as dropped, relative to the inbox.
    pub rel: &'a str,
    /// Where the sanitised file was put, relative to the clean tree.
    pub output: Option<&'a str>,
    pub outcome: &'a Outcome,
}

/// The notice text, CRLF line ends so Windows Notepad shows it well.
pub fn text(lang: NoticeLanguage, n: &NoticeInput<'_>) -> String {
    let mut lines: Vec<String> = Vec::new();
    let o = n.outcome;
    match lang {
        NoticeLanguage::Ja => {
            lines.push("【mugai 無害化のお知らせ】".into());
            lines.push(format!("ファイル: {}", n.rel));
            lines.push(format!("受付日時: {}", jst(n.time)));
            lines.push(format!("受付番号: {}", n.id));
            match o.verdict() {
                Verdict::Blocked => {
                    lines.push(
                        "結果: 遮断 — このファイルは安全に無害化できないため、受け渡していません。"
                            .into(),
                    );
                    if let Some(r) = o.reason() {
                        lines.push(format!("理由: {}（{}; {}）", r.code.ja(), r.detail, r.code));
                    }
                    lines.push(
                        "必要な場合は、受付番号を添えてシステム管理者にお問い合わせください。"
                            .into(),
                    );
                }
                _ => {
                    lines.push(
                        "結果: 無害化済み — 危険のおそれがある次の要素を除去または無効化しました。"
                            .into(),
                    );
                    if let Some(out) = n.output {
                        lines.push(format!("無害化後のファイル: {out}"));
                    }
                    lines.push("除去・無効化した内容:".into());
                    for f in &o.findings {
                        lines.push(format!("  - {}（{}; {}）", f.code.ja(), f.detail, f.code));
                    }
                }
            }
        }
        NoticeLanguage::En => {
            lines.push("[mugai sanitisation notice]".into());
            lines.push(format!("File: {}", n.rel));
            lines.push(format!("Received: {}", n.time));
            lines.push(format!("Reference: {}", n.id));
            match o.verdict() {
                Verdict::Blocked => {
                    lines.push(
                        "Result: blocked - this file could not be made safe and was not passed on."
                            .into(),
                    );
                    if let Some(r) = o.reason() {
                        lines.push(format!("Reason: {} ({})", r.detail, r.code));
                    }
                    lines.push(
                        "If you need it, contact the administrator quoting the reference.".into(),
                    );
                }
                _ => {
                    lines.push(
                        "Result: sanitised - the following were removed or neutralised.".into(),
                    );
                    if let Some(out) = n.output {
                        lines.push(format!("Sanitised file: {out}"));
                    }
                    lines.push("Removed or neutralised:".into());
                    for f in &o.findings {
                        lines.push(format!(
                            "  - {} ({}: {})",
                            f.detail,
                            f.code,
                            f.action.as_str()
                        ));
                    }
                }
            }
        }
    }
    let mut s = lines.join("\r\n");
    s.push_str("\r\n");
    s
}

/// An RFC 3339 time as a Japanese reader expects it, in JST:
/// `2026年12月1日 22:47 (JST)` (the string itself if it does not parse).
pub fn jst(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    let Ok(t) = time::OffsetDateTime::parse(rfc3339, &Rfc3339) else {
        return rfc3339.to_string();
    };
    mugai_audit::clock::jst(t)
}

/// The marker a daily notice file holds for each job, to write it once.
pub fn marker(id: &str) -> String {
    format!("{}: {id}", "受付番号")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugai_core::{Action, Code, FileType, Finding};

    #[test]
    fn japanese_notice_names_removed_items_and_block_reasons() {
        let o = Outcome::blocked(
            FileType::Executable,
            "00".into(),
            vec![],
            Finding::new(Code::TypeExecutable, Action::Blocked, "executable (PE)"),
        );
        let n = NoticeInput {
            id: "J1",
            time: "2026-01-01T00:00:00+09:00",
            rel: "課/a.exe",
            output: None,
            outcome: &o,
        };
        let t = text(NoticeLanguage::Ja, &n);
        assert!(
            t.contains("遮断") && t.contains("type.executable") && t.contains("課/a.exe"),
            "{t}"
        );
        assert!(t.contains(&marker("J1")));
        assert!(t.contains("理由: 実行形式のプログラム"), "{t}");
        assert!(t.contains("受付日時: 2026年1月1日 00:00 (JST)"), "{t}");
        let o = Outcome::passed(
            FileType::Text,
            "00".into(),
            vec![Finding::new(
                Code::TextFormula,
                Action::Neutralised,
                "row 2 cell 1: formula",
            )],
            mugai_core::Output {
                file_type: FileType::Text,
                name: "a.csv".into(),
                bytes: Vec::new(),
                sha256: "11".into(),
            },
        );
        let n = NoticeInput {
            id: "J1",
            time: "2026-01-01T00:00:00+09:00",
            rel: "課/a.csv",
            output: Some("a.csv"),
            outcome: &o,
        };
        let t = text(NoticeLanguage::Ja, &n);
        assert!(
            t.contains("無害化済み") && t.contains("text.formula") && t.contains("row 2 cell 1"),
            "{t}"
        );
        // Every line of the Japanese notice is Japanese first.
        assert!(
            t.contains("  - 表計算ソフトで数式として実行されるおそれのあるセルを無効化しました。（row 2 cell 1"),
            "{t}"
        );
        let t = text(NoticeLanguage::En, &n);
        assert!(t.contains("sanitised") && t.contains("text.formula"), "{t}");
    }

    #[test]
    fn times_are_shown_in_jst() {
        assert_eq!(
            jst("2026-12-01T13:47:05.123456789Z"),
            "2026年12月1日 22:47 (JST)"
        );
        assert_eq!(
            jst("2026-12-01T22:47:00+09:00"),
            "2026年12月1日 22:47 (JST)"
        );
        assert_eq!(jst("2026-12-31T20:00:00-05:00"), "2027年1月1日 10:00 (JST)");
        assert_eq!(jst("soon"), "soon");
    }
}
