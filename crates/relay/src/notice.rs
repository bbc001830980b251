//! The text-only notice delivered in place of a message the engine blocked.

use mugai_core::Outcome;
use mugai_mail::encode::{self, Charset};
use std::time::SystemTime;

/// A complete RFC 5322 message telling the recipients that a message was
/// blocked: envelope, reason and SHA-256 only; nothing of its content.
pub fn blocked_notice(
    hostname: &str,
    sender: &str,
    recipients: &[String],
    outcome: &Outcome,
    original: Option<&str>,
    now: SystemTime,
) -> Vec<u8> {
    let reason = outcome
        .reason
        .as_ref()
        .map(|r| {
            format!(
                "{}（{}: {}）",
                r.code.ja(),
                r.code,
                encode::clean_header_text(&r.detail, 500)
            )
        })
        .unwrap_or_else(|| "不明 (unknown)".into());
    let sender_shown = if sender.is_empty() { "<>" } else { sender };
    let mut body = String::new();
    body.push_str("【無害化通知】インターネットから届いたメールを、安全に変換できなかったため遮断しました。\n");
    body.push_str(
        "原本はインターネット側に保管されています。必要な場合は管理者にお問い合わせください。\n",
    );
    body.push_str(
        "[Sanitised] A message from the Internet could not be converted safely and was blocked.\n",
    );
    body.push_str(
        "The original is kept on the Internet side; ask the administrator if you need it.\n\n",
    );
    body.push_str(&format!("差出人 (envelope sender): {sender_shown}\n"));
    body.push_str(&format!(
        "宛先 (envelope recipients): {}\n",
        recipients.join(", ")
    ));
    body.push_str(&format!("受信日時 (received): {}\n", crate::time::jst(now)));
    body.push_str(&format!("理由 (reason): {reason}\n"));
    body.push_str(&format!("SHA-256: {}\n", outcome.sha256));
    if let Some(o) = original {
        body.push_str(&format!("保管名 (original): {o}\n"));
    }
    let mut h = String::new();
    h.push_str("MIME-Version: 1.0\r\n");
    h.push_str(&format!("From: mugai <postmaster@{hostname}>\r\n"));
    let mut to: Vec<String> = recipients.iter().map(|r| format!("<{r}>,")).collect();
    if let Some(last) = to.last_mut() {
        last.pop();
    }
    if !to.is_empty() {
        h.push_str(&encode::fold("To", &to));
    }
    h.push_str(&format!("Date: {}\r\n", crate::time::rfc5322(now)));
    let subject = "[mugai] メールを遮断しました / Message blocked";
    h.push_str(&encode::fold(
        "Subject",
        &encode::unstructured(subject, Charset::Utf8),
    ));
    h.push_str(&format!(
        "Message-ID: <blocked.{}.{}@{hostname}>\r\n",
        &outcome.sha256[..outcome.sha256.len().min(24)],
        now.duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
    ));
    h.push_str("X-Mugai-Verdict: blocked\r\n");
    h.push_str(&format!("X-Mugai-Original-SHA256: {}\r\n", outcome.sha256));
    h.push_str(
        "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    );
    let mut out = h.into_bytes();
    out.extend_from_slice(encode::base64_lines(body.replace('\n', "\r\n").as_bytes()).as_bytes());
    out
}
