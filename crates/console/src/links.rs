//! One-time links: a mail recipient unlocks a held password-protected ZIP
//! (kept by the relay, [`mugai_relay::held`]) on a password page that needs
//! no account. The link's token is checked against the SHA-256 kept with
//! the item; a link works until it expires, for a limited number of tries,
//! and once: the attempt that delivers spends it. Every attempt is
//! counted before it runs and audited (never the password).
//!
//! On success the sanitised contents go to the recipients as a follow-up
//! mail through the relay's next hop when the mail policy lets sanitised
//! attachments through (`mail.attachments = "sanitize"`); otherwise they
//! are placed in the clean folder, as the operator's unlock does.

use crate::items::{Item, ItemKey};
use crate::{lock, Console, Event};
use mugai_core::config::MailAttachments;
use mugai_core::{sha256_hex, Outcome, Passwords};
use mugai_relay::held::Link;
use std::time::{Duration, SystemTime};

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such item, not a mail part, or not its token.
    Invalid,
    Expired,
    /// Used already: the contents were delivered.
    Spent,
    /// No tries left.
    NoTries,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Invalid => "invalid",
            Refusal::Expired => "expired",
            Refusal::Spent => "spent",
            Refusal::NoTries => "no tries left",
        }
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered: by mail (`true`, to the recipients) or to the clean
    /// folder (`false`, the place); the link is spent.
    Delivered {
        by_mail: bool,
        to: String,
    },
    /// No password fitted; tries left.
    Wrong {
        left: u32,
    },
    /// Unlocked or not, nothing could be delivered (blocked, or the next
    /// hop refused); the try counts.
    Failed(String),
    Refused(Refusal),
}

/// Compares in time independent of where the strings differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `token` opens `link` at `now` (Unix seconds).
pub fn check(link: &Link, token: &str, now: u64) -> Result<(), Refusal> {
    let well_formed = token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed || !same(&sha256_hex(token.as_bytes()), &link.token_sha256) {
        return Err(Refusal::Invalid);
    }
    if link.spent.is_some() {
        return Err(Refusal::Spent);
    }
    if now >= link.expires {
        return Err(Refusal::Expired);
    }
    if link.tries >= link.max_tries {
        return Err(Refusal::NoTries);
    }
    Ok(())
}

impl Console {
    fn link_audit(
        &self,
        event: &str,
        addr: &str,
        id: &str,
        it: Option<&Item>,
        fields: Vec<(&'static str, String)>,
        output: Option<(String, Option<String>)>,
    ) -> std::io::Result<()> {
        let (output, output_sha256) = output.map_or((None, None), |(o, s)| (Some(o), s));
        self.record(Event {
            event,
            user: "recipient",
            addr,
            id,
            item: it,
            fields,
            output,
            output_sha256,
        })
    }

    /// The held item and link of a one-time link, checked (not audited).
    #[allow(clippy::result_large_err)]
    pub fn link_item(
        &self,
        date: &str,
        id: &str,
        token: &str,
    ) -> Result<(Item, Link), (Refusal, Option<Item>)> {
        let it = ItemKey::parse(date, id)
            .and_then(|k| self.quarantine.get(&k))
            .filter(|it| it.mail.is_some() && it.original.is_some())
            .ok_or((Refusal::Invalid, None))?;
        let Some(link) = self.quarantine.link(&it) else {
            return Err((Refusal::Invalid, Some(it)));
        };
        match check(&link, token, unix(SystemTime::now())) {
            Ok(()) => Ok((it, link)),
            Err(r) => Err((r, Some(it))),
        }
    }

    /// Audits a refused link.
    pub fn link_refused(
        &self,
        addr: &str,
        date: &str,
        id: &str,
        r: Refusal,
        it: Option<&Item>,
    ) -> std::io::Result<()> {
        let shown = it.map_or_else(
            || {
                let s: String = format!("{date}/{id}").chars().take(80).collect();
                s
            },
            |i| i.key.as_string(),
        );
        self.link_audit(
            "link-refused",
            addr,
            &shown,
            it,
            vec![("why", r.as_str().into())],
            None,
        )
    }

    /// One attempt on the password page: counted, unlocked in the worker,
    /// delivered, audited. Attempts run one at a time.
    pub fn link_attempt(
        &self,
        date: &str,
        id: &str,
        token: &str,
        passwords: &Passwords,
        addr: &str,
    ) -> std::io::Result<Attempt> {
        let _one = lock(&self.link_lock);
        let (it, mut link) = match self.link_item(date, id, token) {
            Ok(x) => x,
            Err((r, it)) => {
                self.link_refused(addr, date, id, r, it.as_ref())?;
                return Ok(Attempt::Refused(r));
            }
        };
        let key = it.key.as_string();
        // The try counts before it runs: a crash mid-way never gives one back.
        link.tries += 1;
        self.quarantine.save_link(&it, &link)?;
        let given = passwords.0.len().to_string();
        let outcome = match self.unlocked(&it, passwords) {
            Ok(o) => o,
            Err(Ok(())) => {
                let left = link.max_tries.saturating_sub(link.tries);
                self.link_audit(
                    "link-unlock-failed",
                    addr,
                    &key,
                    Some(&it),
                    vec![
                        ("why", "wrong password".into()),
                        ("passwords_given", given),
                        ("tries", link.tries.to_string()),
                        ("tries_left", left.to_string()),
                    ],
                    None,
                )?;
                return Ok(Attempt::Wrong { left });
            }
            Err(Err(why)) => {
                self.link_audit(
                    "link-unlock-failed",
                    addr,
                    &key,
                    Some(&it),
                    vec![("why", why.clone()), ("passwords_given", given)],
                    None,
                )?;
                return Ok(Attempt::Failed(why));
            }
        };
        let by_mail = self.config.policy.mail.attachments == MailAttachments::Sanitize;
        let result_sha = outcome.output_sha256().map(str::to_string);
        let verdict = outcome.verdict().as_str().to_string();
        let tag = format!("link-{}", &link.token_sha256[..16]);
        let delivered = self.deliver(&it, outcome, &tag).map(|(dest, _)| dest);
        match delivered {
            Ok(to) => {
                link.spent = Some(unix(SystemTime::now()));
                self.quarantine.save_link(&it, &link)?;
                self.link_audit(
                    "link-unlocked",
                    addr,
                    &key,
                    Some(&it),
                    vec![
                        ("passwords_given", given),
                        ("result", verdict),
                        ("tries", link.tries.to_string()),
                    ],
                    Some((to.clone(), result_sha)),
                )?;
                let to = to
                    .strip_prefix("mail:")
                    .or_else(|| to.strip_prefix("clean/"))
                    .unwrap_or(&to)
                    .to_string();
                Ok(Attempt::Delivered { by_mail, to })
            }
            Err(why) => {
                self.link_audit(
                    "link-unlock-failed",
                    addr,
                    &key,
                    Some(&it),
                    vec![("why", why.clone()), ("passwords_given", given)],
                    None,
                )?;
                Ok(Attempt::Failed(why))
            }
        }
    }

    /// Sends the sanitised contents to the held part's recipients through
    /// the relay's next hop; returns them, comma-separated.
    pub(crate) fn follow_up(&self, it: &Item, outcome: &Outcome) -> Result<String, String> {
        let output = outcome
            .as_result()
            .map_err(|r| format!("{}: {}", r.code, r.detail))?;
        let Some(mail) = it.mail.as_ref() else {
            return Err("the item was not held from a mail".to_string());
        };
        let (out, out_name) = (&output.bytes[..], output.name.as_str());
        let relay = &self.config.relay;
        let message = follow_up_message(
            &relay.hostname,
            &mail.from,
            &mail.to,
            it,
            out_name,
            out,
            &output.sha256,
            SystemTime::now(),
        );
        let handle = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        let sent = handle.block_on(mugai_relay::client::deliver_each(
            &relay.next_hop,
            &relay.hostname,
            "",
            &mail.to,
            &message,
            Duration::from_secs(relay.next_hop_timeout_secs),
        ));
        match sent {
            Ok(d) if d.refused.len() < mail.to.len() => Ok(mail
                .to
                .iter()
                .filter(|r| !d.refused.iter().any(|x| &x.rcpt == *r))
                .cloned()
                .collect::<Vec<_>>()
                .join(",")),
            Ok(_) => Err("the next hop refused every recipient".into()),
            Err(e) => Err(format!("the follow-up mail was not delivered: {e}")),
        }
    }
}

/// The follow-up mail: a text part saying what it is, and the sanitised
/// file attached.
#[allow(clippy::too_many_arguments)]
fn follow_up_message(
    hostname: &str,
    sender: &str,
    recipients: &[String],
    it: &Item,
    name: &str,
    bytes: &[u8],
    sha: &str,
    now: SystemTime,
) -> Vec<u8> {
    use mugai_mail::encode;
    let name = mugai_daemon::job::not_a_notice_name(name);
    let sender_shown = if sender.is_empty() { "<>" } else { sender };
    let body = format!(
        "【無害化通知】パスワード付きZIPファイルをパスワードで展開し、無害化した内容をお届けします。\n\
         [Sanitised] The password-protected ZIP was unpacked with the password given and its contents sanitised.\n\n\
         元のファイル (original file): {orig}\n  SHA-256: {osha}\n\
         差出人 (envelope sender): {sender_shown}\n\
         無害化したファイル (sanitised file): {name}\n  SHA-256: {sha}\n",
        orig = encode::clean_header_text(it.name(), 200),
        osha = it.sha256,
    );
    let boundary = format!("=_mugai_followup_{}", &sha[..sha.len().min(16)]);
    let mut h = mugai_relay::notice::headers(
        hostname,
        recipients,
        "[mugai] パスワード付きZIPの内容（無害化済み） / Sanitised contents of a password-protected ZIP",
        &format!("followup.{}", &sha[..sha.len().min(24)]),
        &[
            ("X-Mugai-Verdict", "sanitized"),
            ("X-Mugai-Original-SHA256", &it.sha256),
        ],
        now,
    );
    h.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
    ));
    h.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ));
    h.push_str(&encode::base64_lines(body.replace('\n', "\r\n").as_bytes()));
    h.push_str(&format!("--{boundary}\r\n"));
    h.push_str(&mugai_mail::attachment_part(
        &name,
        "application/octet-stream",
        bytes,
    ));
    h.push_str(&format!("--{boundary}--\r\n"));
    h.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_opens_only_with_its_token_while_live_unspent_and_tried_less() {
        let token = "ab".repeat(32);
        let mut l = Link {
            token_sha256: sha256_hex(token.as_bytes()),
            created: 100,
            expires: 200,
            max_tries: 2,
            tries: 1,
            spent: None,
        };
        assert_eq!(check(&l, &token, 150), Ok(()));
        assert_eq!(check(&l, &"cd".repeat(32), 150), Err(Refusal::Invalid));
        assert_eq!(check(&l, "../x", 150), Err(Refusal::Invalid));
        assert_eq!(check(&l, &token, 200), Err(Refusal::Expired));
        l.tries = 2;
        assert_eq!(check(&l, &token, 150), Err(Refusal::NoTries));
        l.spent = Some(160);
        assert_eq!(check(&l, &token, 150), Err(Refusal::Spent));
    }
}
