//! The per-message pipeline: keep the original, convert, deliver with the
//! same envelope (recipients refused by the next hop reported one by one),
//! answer, audit.

use crate::client::{self, DeliveryError};
use crate::server::{strip_ci, Envelope, Shared};
use mugai_core::config::OnBlockedMail;
use mugai_core::{sha256_hex, Disposition, FileType, Job, Outcome};
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// The Message-ID of a raw message, for the audit log.
fn message_id(raw: &[u8]) -> Option<String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len())
        .min(256 * 1024);
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.lines().peekable();
    while let Some(l) = lines.next() {
        if strip_ci(l, "message-id:").is_some() {
            let mut v = l[11..].trim().to_string();
            while let Some(next) = lines.peek().filter(|n| n.starts_with([' ', '\t'])) {
                v.push_str(next.trim());
                lines.next();
            }
            let v: String = v.chars().filter(|c| !c.is_control()).take(998).collect();
            return Some(v);
        }
    }
    None
}

/// Keep, convert, deliver, audit. Returns the reply to DATA.
pub(crate) async fn process(
    shared: &Shared,
    env: &Envelope,
    data: Vec<u8>,
    peer: SocketAddr,
    helo: &str,
    per_rcpt: &mut Vec<Option<String>>,
) -> String {
    let now = SystemTime::now();
    let sha = sha256_hex(&data);
    let mid = message_id(&data);
    let size = data.len();
    let mut record = json!({
        "time": mugai_audit::clock::rfc3339(mugai_audit::clock::at(now)),
        "peer": peer.to_string(),
        "helo": helo,
        "mail_from": env.sender,
        "rcpt_to": env.recipients,
        "message_id": mid,
        "size": size,
        "sha256": sha,
    });

    // 1. The original, durably, before anything is passed on.
    let mut original = None;
    if let Some(o) = shared.originals.clone() {
        let bytes = data.clone();
        match tokio::task::spawn_blocking(move || o.store(&bytes)).await {
            Ok(Ok(p)) => original = Some(p),
            other => {
                let e = match other {
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                    Ok(Ok(_)) => String::new(),
                };
                tracing::error!(error = %e, "cannot keep the original; deferring");
                record["result"] = json!("deferred");
                record["error"] = json!(format!("cannot keep the original: {e}"));
                return finish(
                    shared,
                    record,
                    "451 4.3.0 cannot keep the original; try again later".into(),
                )
                .await;
            }
        }
    }
    record["original"] = json!(original.as_ref().map(|p| p.display().to_string()));

    // 2. Convert in the worker pool (or in process).
    let sanitizer = shared.sanitizer.clone();
    let policy = std::sync::Arc::clone(&shared.policy);
    let data_copy = if shared.hold.is_some() {
        data.clone()
    } else {
        Vec::new()
    };
    // A mail, whatever its name would say.
    let job = Job::new("message", data).declared(FileType::Eml);
    let known = sha.clone();
    let outcome: Outcome =
        match tokio::task::spawn_blocking(move || sanitizer.sanitize_hashed(&policy, job, known))
            .await
        {
            Ok(o) => o,
            Err(e) => {
                discard(shared, original.as_deref()).await;
                record["result"] = json!("deferred");
                record["error"] = json!(format!("conversion failed: {e}"));
                return finish(
                    shared,
                    record,
                    "451 4.3.0 conversion failed; try again later".into(),
                )
                .await;
            }
        };
    record["verdict"] = json!(outcome.verdict());
    record["output_sha256"] = json!(outcome.output_sha256());
    record["findings"] = serde_json::to_value(&outcome.findings).unwrap_or_default();
    record["reason"] = serde_json::to_value(outcome.reason()).unwrap_or_default();

    let payload = match &outcome.disposition {
        Disposition::Passed(out) => out.bytes.clone(),
        Disposition::Blocked { reason } => match shared.config.on_blocked {
            OnBlockedMail::Reject => {
                record["result"] = json!("rejected");
                let code = reason.code;
                return finish(
                    shared,
                    record,
                    format!("554 5.7.1 message blocked by the gateway ({code})"),
                )
                .await;
            }
            OnBlockedMail::Notice => {
                let name = original
                    .as_ref()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned());
                let notice = crate::notice::blocked_notice(
                    &shared.config.hostname,
                    &env.sender,
                    &env.recipients,
                    reason,
                    &outcome.sha256,
                    name.as_deref(),
                    now,
                );
                record["output_sha256"] = json!(sha256_hex(&notice));
                record["notice"] = json!(true);
                notice
            }
        },
    };

    // 3. Hand over with the same envelope; answer only after the next hop did.
    let wait = Duration::from_secs(shared.config.next_hop_timeout_secs);
    let delivered = client::deliver_each(
        &shared.config.next_hop,
        &shared.config.hostname,
        &env.sender,
        &env.recipients,
        &payload,
        wait,
    )
    .await;
    match delivered {
        Ok(d) => {
            record["result"] = json!(if outcome.is_blocked() {
                "notice_delivered"
            } else {
                "delivered"
            });
            record["next_hop_reply"] = json!(format!("{} {}", d.reply.code, d.reply.text));
            let what = if outcome.is_blocked() {
                "blocked; notice delivered"
            } else {
                "converted and delivered"
            };
            // Password-protected ZIP attachments: kept, once the message
            // is delivered, for the recipients' one-time link (the record
            // never holds the token).
            let held = hold_encrypted(
                shared,
                env,
                &data_copy,
                original.as_deref(),
                mid.clone(),
                now,
            )
            .await;
            if !held.is_empty() {
                record["held"] = json!(held
                    .iter()
                    .map(|h| json!({"item": h.key, "name": h.name, "sha256": h.sha256, "size": h.size, "expires": h.expires}))
                    .collect::<Vec<_>>());
                let to: Vec<String> = env
                    .recipients
                    .iter()
                    .filter(|r| !d.refused.iter().any(|x| &x.rcpt == *r))
                    .cloned()
                    .collect();
                let max_tries = shared.hold.as_ref().map_or(0, |h| h.max_tries);
                let notice = crate::notice::link_notice(
                    &shared.config.hostname,
                    &env.sender,
                    &to,
                    &held,
                    max_tries,
                    now,
                );
                let sent = client::deliver_each(
                    &shared.config.next_hop,
                    &shared.config.hostname,
                    "",
                    &to,
                    &notice,
                    wait,
                )
                .await;
                record["link_notice"] = json!(match sent {
                    Ok(_) => "delivered".to_string(),
                    Err(e) => {
                        tracing::error!(error = ?e, "the one-time link notice was not delivered");
                        format!("not delivered: {e}")
                    }
                });
            }
            let mut reply = format!("250 2.0.0 {what} ({})", &sha[..12]);
            if !d.refused.is_empty() {
                // Accepted recipients have the message; each refused one
                // gets the next hop's own code (per recipient over LMTP).
                record["refused"] = json!(d
                    .refused
                    .iter()
                    .map(|r| json!({"rcpt": r.rcpt, "reply": format!("{} {}", r.code, r.text)}))
                    .collect::<Vec<_>>());
                *per_rcpt = env
                    .recipients
                    .iter()
                    .map(|rc| {
                        d.refused.iter().find(|r| &r.rcpt == rc).map(|r| {
                            let text: String = r
                                .text
                                .chars()
                                .filter(|c| !c.is_control())
                                .take(200)
                                .collect();
                            format!("{} 5.0.0 <{rc}> refused by the next hop: {text}", r.code)
                        })
                    })
                    .collect();
                let names: Vec<&str> = d.refused.iter().map(|r| r.rcpt.as_str()).collect();
                reply.push_str(&format!("; refused by the next hop: {}", names.join(", ")));
            }
            finish(shared, record, reply).await
        }
        Err(DeliveryError::Temporary(t)) => {
            // The sending MTA keeps the message and comes back: the stored
            // copy would only be a duplicate.
            discard(shared, original.as_deref()).await;
            record["result"] = json!("deferred");
            record["error"] = json!(t);
            finish(
                shared,
                record,
                "451 4.4.1 next hop unavailable; try again later".into(),
            )
            .await
        }
        Err(DeliveryError::Permanent(code, t)) => {
            record["result"] = json!("rejected");
            record["error"] = json!(format!("{code} {t}"));
            let text: String = t.chars().filter(|c| !c.is_control()).take(200).collect();
            finish(
                shared,
                record,
                format!("554 5.0.0 next hop refused: {text}"),
            )
            .await
        }
    }
}

/// Takes the password-protected ZIP attachments out of the message and
/// keeps them with one-time links. The message is parsed where files are
/// rebuilt (a confined worker), never in the relay; a failure there or
/// here is logged and the message goes on as converted.
async fn hold_encrypted(
    shared: &Shared,
    env: &Envelope,
    raw: &[u8],
    original: Option<&std::path::Path>,
    message_id: Option<String>,
    now: SystemTime,
) -> Vec<crate::held::Held> {
    let Some(hold) = shared.hold.clone() else {
        return Vec::new();
    };
    if raw.is_empty() {
        return Vec::new();
    }
    let raw = raw.to_vec();
    let policy = std::sync::Arc::clone(&shared.policy);
    let sanitizer = shared.sanitizer.clone();
    let info = crate::held::MailInfo {
        from: env.sender.clone(),
        to: env.recipients.clone(),
        message_id,
        original: original
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned()),
    };
    let kept = tokio::task::spawn_blocking(move || {
        let parts = sanitizer.encrypted_zips(&policy, &raw, crate::held::MAX_PARTS);
        if parts.is_empty() {
            return Ok(Vec::new());
        }
        hold.keep(&info, parts, now)
    })
    .await;
    match kept {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot keep a password-protected attachment");
            Vec::new()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot keep a password-protected attachment");
            Vec::new()
        }
    }
}

async fn discard(shared: &Shared, path: Option<&std::path::Path>) {
    if let (Some(o), Some(p)) = (shared.originals.clone(), path) {
        let p = p.to_path_buf();
        let _ = tokio::task::spawn_blocking(move || o.discard(&p)).await;
    }
}

/// Writes the audit record (with the reply) and returns the reply. A record
/// that cannot be written is logged as an error; the reply stands, since a
/// delivery cannot be undone.
async fn finish(shared: &Shared, mut record: serde_json::Value, reply: String) -> String {
    record["reply"] = json!(reply);
    let text = |k: &str| record[k].as_str().unwrap_or("").to_string();
    let rcpt_to = record["rcpt_to"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let result = text("result");
    macro_rules! log {
        ($level:ident) => {
            tracing::$level!(
                result = %result,
                verdict = %text("verdict"),
                mail_from = %text("mail_from"),
                rcpt_to = %rcpt_to,
                message_id = %text("message_id"),
                error = %text("error"),
                reply = %reply,
                "message"
            )
        };
    }
    // A deferral needs attention (the next hop or the disk); the sending
    // MTA keeps the message meanwhile.
    match result.as_str() {
        "deferred" => log!(warn),
        "rejected" => log!(warn),
        _ => log!(info),
    }
    if let Some(a) = shared.audit.clone() {
        let r = record.clone();
        match tokio::task::spawn_blocking(move || a.write(&r)).await {
            Ok(Ok(())) => {}
            other => tracing::error!(?other, "cannot write the audit record"),
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids() {
        assert_eq!(
            message_id(b"Subject: x\r\nMessage-Id:\r\n <id@x>\r\n\r\nMessage-ID: <no@x>\r\n"),
            Some("<id@x>".into())
        );
        assert_eq!(message_id(b"Subject: x\r\n\r\n"), None);
    }
}
