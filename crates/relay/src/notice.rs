//! Mail the gateway writes itself: the text-only notice delivered in place
//! of a message the engine blocked, the one-time link notice, and
//! [`headers`], the header block every such message (also the console's
//! follow-up mail) starts with.

use mugai_audit::clock;
use mugai_core::Finding;
use mugai_mail::encode::{self, Charset};
use std::time::SystemTime;

/// A complete RFC 5322 message telling the recipients that a message was
/// blocked: envelope, reason and the original's SHA-256 (`sha256`) only;
/// nothing of its content.
pub fn blocked_notice(
    hostname: &str,
    sender: &str,
    recipients: &[String],
    reason: &Finding,
    sha256: &str,
    original: Option<&str>,
    now: SystemTime,
) -> Vec<u8> {
    let reason = format!(
        "{}（{}: {}）",
        reason.code.ja(),
        reason.code,
        encode::clean_header_text(&reason.detail, 500)
    );
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
    body.push_str(&format!(
        "受信日時 (received): {}\n",
        clock::jst(clock::at(now))
    ));
    body.push_str(&format!("理由 (reason): {reason}\n"));
    body.push_str(&format!("SHA-256: {}\n", sha256));
    if let Some(o) = original {
        body.push_str(&format!("保管名 (original): {o}\n"));
    }
    compose(
        hostname,
        recipients,
        "[mugai] メールを遮断しました / Message blocked",
        &format!("blocked.{}", &sha256[..sha256.len().min(24)]),
        &[
            ("X-Mugai-Verdict", "blocked"),
            ("X-Mugai-Original-SHA256", sha256),
        ],
        &body,
        now,
    )
}

/// A text-only message from the gateway: headers, then `body` as UTF-8.
pub(crate) fn compose(
    hostname: &str,
    recipients: &[String],
    subject: &str,
    id_tag: &str,
    extra: &[(&str, &str)],
    body: &str,
    now: SystemTime,
) -> Vec<u8> {
    let mut h = headers(hostname, recipients, subject, id_tag, extra, now);
    h.push_str(
        "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    );
    let mut out = h.into_bytes();
    out.extend_from_slice(encode::base64_lines(body.replace('\n', "\r\n").as_bytes()).as_bytes());
    out
}

/// The headers of a message from the gateway, up to but not including its
/// `Content-Type`: MIME-Version, From `postmaster@hostname`, To (the
/// recipients, folded), Date (local time), Subject (encoded),
/// `Message-ID: <id_tag.millis@hostname>` and `extra` as given. Each line
/// ends with CRLF.
pub fn headers(
    hostname: &str,
    recipients: &[String],
    subject: &str,
    id_tag: &str,
    extra: &[(&str, &str)],
    now: SystemTime,
) -> String {
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
    h.push_str(&format!("Date: {}\r\n", clock::rfc5322(clock::at(now))));
    h.push_str(&encode::fold(
        "Subject",
        &encode::unstructured(subject, Charset::Utf8),
    ));
    h.push_str(&format!(
        "Message-ID: <{id_tag}.{}@{hostname}>\r\n",
        now.duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
    ));
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h
}

/// The message telling the recipients how to unlock the password-protected
/// ZIPs of a message: one one-time link per file, its expiry and tries.
pub fn link_notice(
    hostname: &str,
    sender: &str,
    recipients: &[String],
    held: &[crate::held::Held],
    max_tries: u32,
    now: SystemTime,
) -> Vec<u8> {
    let sender_shown = if sender.is_empty() { "<>" } else { sender };
    let mut body = String::new();
    body.push_str("【無害化通知】インターネットから届いたメールに、パスワード付きZIPファイルが添付されていました。\n");
    body.push_str("そのままでは安全を確認できないため、ゲートウェイで保留しています。\n");
    body.push_str("パスワードをご存じの場合は、下のリンクのページで入力してください。展開・無害化した内容を改めてお届けします。\n");
    body.push_str(&format!("リンクは1回限り有効で、期限までに{max_tries}回まで入力できます。このメールを他の人に転送しないでください。\n\n"));
    body.push_str("[Sanitised] A message from the Internet carried a password-protected ZIP, which is held at the gateway.\n");
    body.push_str("If you know the password, enter it on the page below; the unpacked and sanitised contents will then be sent to you.\n");
    body.push_str(&format!("Each link works once, until it expires, for at most {max_tries} tries. Do not forward this message.\n\n"));
    body.push_str(&format!("差出人 (envelope sender): {sender_shown}\n"));
    body.push_str(&format!(
        "受信日時 (received): {}\n\n",
        clock::jst(clock::at(now))
    ));
    for h in held {
        let until = std::time::UNIX_EPOCH + std::time::Duration::from_secs(h.expires);
        body.push_str(&format!(
            "ファイル (file): {}\n  SHA-256: {}\n  期限 (expires): {}\n  {}\n\n",
            encode::clean_header_text(&h.name, 200),
            h.sha256,
            clock::jst(clock::at(until)),
            h.url
        ));
    }
    compose(
        hostname,
        recipients,
        "[mugai] パスワード付きZIPの解除 / Unlocking a password-protected ZIP",
        "ppap",
        &[("X-Mugai-Notice", "ppap-link")],
        &body,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn headers_name_the_gateway_recipients_time_and_id() {
        let now = UNIX_EPOCH + Duration::from_millis(1_795_316_645_123);
        let h = headers(
            "gw.example.jp",
            &["a@lg.example.jp".into(), "b@lg.example.jp".into()],
            "[mugai] 通知\r\nBcc: x@evil.example",
            "blocked.abc",
            &[("X-Mugai-Verdict", "blocked")],
            now,
        );
        let lines: Vec<&str> = h.split_terminator("\r\n").collect();
        assert!(h.ends_with("\r\n") && !h.contains("\r\n\r\n"), "{h}");
        assert!(!h.replace("\r\n", "").contains(['\r', '\n']), "{h}");
        assert_eq!(lines[0], "MIME-Version: 1.0");
        assert_eq!(lines[1], "From: mugai <postmaster@gw.example.jp>");
        assert!(h.contains("<a@lg.example.jp>,") && h.contains("<b@lg.example.jp>"));
        let date = clock::rfc5322(clock::at(now));
        assert!(lines.contains(&format!("Date: {date}").as_str()), "{h}");
        assert!(lines.contains(&"Message-ID: <blocked.abc.1795316645123@gw.example.jp>"));
        assert_eq!(lines.last(), Some(&"X-Mugai-Verdict: blocked"));
        // The subject is encoded: no header can be smuggled in through it.
        assert!(!lines.iter().any(|l| l.starts_with("Bcc:")), "{h}");
        let msg = compose("gw.example.jp", &[], "s", "t", &[], "本文\n", now);
        let msg = String::from_utf8(msg).unwrap();
        assert!(!msg.contains("\r\nTo:"), "{msg}");
        assert!(msg.contains("Content-Type: text/plain; charset=UTF-8\r\n"));
    }
}
