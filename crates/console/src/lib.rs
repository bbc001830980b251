//! The web console: review of held files, release with a second person's
//! approval under a named policy override, unlocking of password-protected
//! ZIPs (in the worker); every step audited.
//!
//! - [`Console`] / [`Options`]: the shared state and [`serve`].
//! - [`users::Users`]: the accounts file (argon2id, mode 0600) and
//!   [`users::Role`].
//! - [`items::Quarantine`]: the daemon's quarantine folder read as
//!   [`items::Item`]s, with ids checked before any path is built.
//! - [`requests::Store`]: release requests and decisions;
//!   [`requests::Override`], the named policy change a release runs under.
//! - [`links`]: the one-time password page of a mail recipient for a held
//!   password-protected ZIP, and the follow-up mail with its contents.
//! - `sessions`: browser sessions, kept across restarts (hashed ids).
//! - [`web`]: the axum routes, CSRF tokens, rate limits and
//!   security headers; [`i18n`]: Japanese and English words.

pub mod i18n;
pub mod items;
mod limiter;
pub mod links;
pub mod requests;
mod sessions;
pub mod users;
pub mod web;

use items::{Item, Quarantine};
use mugai_audit::{AuditLog, Record};
use mugai_core::{Config, Job, Outcome, Sanitize};
use requests::{Override, Store};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What `mugai console` starts with.
pub struct Options {
    pub config: Arc<Config>,
    pub listen: std::net::SocketAddr,
    pub users: PathBuf,
    pub quarantine: PathBuf,
    /// The relay's held mail parts (`relay.held`), if any.
    pub mail_held: Option<PathBuf>,
    pub clean: PathBuf,
    pub state: PathBuf,
    pub audit: PathBuf,
    pub sanitizer: Arc<dyn Sanitize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Store(#[from] requests::StoreError),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}")]
    Sessions(String),
}

/// Everything the handlers share.
pub struct Console {
    pub config: Arc<Config>,
    pub users_path: PathBuf,
    pub quarantine: Quarantine,
    pub clean: PathBuf,
    pub store: Mutex<Store>,
    pub audit: Mutex<AuditLog>,
    pub audit_dir: PathBuf,
    pub sanitizer: Arc<dyn Sanitize>,
    pub(crate) sessions: Mutex<sessions::Sessions>,
    pub(crate) login_limits: Mutex<limiter::Limiter>,
    pub(crate) unlock_limits: Mutex<limiter::Limiter>,
    /// One one-time link attempt at a time (a link is never spent twice).
    pub(crate) link_lock: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One audited console action.
#[derive(Debug, Default)]
pub struct Event<'a> {
    /// `login`, `login-failed`, `view`, `release-requested`, ...
    pub event: &'a str,
    pub user: &'a str,
    pub addr: &'a str,
    /// The record's id: the item (`date/id`) or the request.
    pub id: &'a str,
    pub item: Option<&'a Item>,
    pub fields: Vec<(&'static str, String)>,
    pub output: Option<String>,
    pub output_sha256: Option<String>,
}

impl Console {
    pub fn new(o: &Options) -> Result<Console, ConsoleError> {
        let audit = AuditLog::open(&o.audit).map_err(|e| ConsoleError::Io(o.audit.clone(), e))?;
        let c = &o.config.console;
        Ok(Console {
            config: o.config.clone(),
            users_path: o.users.clone(),
            quarantine: Quarantine {
                root: o.quarantine.clone(),
                mail: o.mail_held.clone(),
            },
            clean: o.clean.clone(),
            store: Mutex::new(Store::open(&o.state)?),
            audit: Mutex::new(audit),
            audit_dir: o.audit.clone(),
            sanitizer: o.sanitizer.clone(),
            sessions: Mutex::new(
                sessions::Sessions::open(&o.state, c.idle_timeout_secs, c.session_lifetime_secs)
                    .map_err(ConsoleError::Sessions)?,
            ),
            login_limits: Mutex::new(limiter::Limiter::new(c.max_login_failures, c.lockout_secs)),
            unlock_limits: Mutex::new(limiter::Limiter::new(c.max_unlock_failures, c.lockout_secs)),
            link_lock: Mutex::new(()),
        })
    }

    /// Appends one record to the console's audit log. An action whose
    /// record cannot be written does not happen (callers fail closed).
    pub fn record(&self, e: Event<'_>) -> std::io::Result<()> {
        let mut extra = serde_json::Map::new();
        extra.insert("event".into(), e.event.into());
        extra.insert("user".into(), e.user.into());
        if !e.addr.is_empty() {
            extra.insert("addr".into(), e.addr.into());
        }
        for (k, v) in e.fields {
            extra.insert(k.into(), v.into());
        }
        let (path, size, sha256, file_type, codes) = match e.item {
            Some(it) => (
                it.path.clone(),
                it.size,
                it.sha256.clone(),
                it.file_type.clone(),
                it.codes().iter().map(|c| c.to_string()).collect(),
            ),
            None => Default::default(),
        };
        lock(&self.audit).append(Record {
            time: String::new(),
            id: e.id.into(),
            path,
            size,
            sha256,
            output_sha256: e.output_sha256,
            file_type,
            output_type: None,
            verdict: e.event.into(),
            codes,
            reason: None,
            duration_ms: 0,
            output: e.output,
            extra,
        })?;
        Ok(())
    }

    /// Sanitises a held item's original again under `ov` (through the
    /// worker pool) and delivers the result ([`Console::deliver`]). The
    /// original itself is never delivered. Returns where it went and the
    /// outcome.
    pub fn release(
        &self,
        it: &Item,
        ov: &Override,
        tag: &str,
    ) -> Result<(String, Outcome), String> {
        let policy = ov.apply(&self.config.policy);
        let bytes = self
            .quarantine
            .original_bytes(it, policy.limits.max_input_bytes)
            .map_err(|e| format!("original: {e}"))?;
        let job = Job::new(it.name().to_string(), bytes);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.sanitizer.sanitize(&policy, job)
        }))
        .map_err(|_| "the rebuild failed unexpectedly".to_string())?;
        self.deliver(it, outcome, tag)
    }

    /// Unlocks a held password-protected file (a ZIP, an encrypted OOXML
    /// document, a PDF with a user password, nested in each other) with
    /// `passwords` in the worker, sanitises what it held and delivers the
    /// result ([`Console::deliver`]).
    /// `Err(Ok(()))`: no password fits; `Err(Err(why))`: not delivered.
    pub fn unlock(
        &self,
        it: &Item,
        passwords: &mugai_core::Passwords,
        tag: &str,
    ) -> Result<(String, Outcome), Result<(), String>> {
        let outcome = self.unlocked(it, passwords)?;
        self.deliver(it, outcome, tag).map_err(Err)
    }

    /// Unlocks and sanitises in the worker, without placing anything.
    /// `Err(Ok(()))`: no password fits; `Err(Err(why))`: it failed.
    pub fn unlocked(
        &self,
        it: &Item,
        passwords: &mugai_core::Passwords,
    ) -> Result<Outcome, Result<(), String>> {
        let policy = &self.config.policy;
        let bytes = self
            .quarantine
            .original_bytes(it, policy.limits.max_input_bytes)
            .map_err(|e| Err(format!("original: {e}")))?;
        let job = Job::new(it.name().to_string(), bytes);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.sanitizer.sanitize_unlocked(policy, job, passwords)
        }))
        .map_err(|_| Err("the rebuild failed unexpectedly".to_string()))?;
        if outcome.reason().is_some_and(mugai_core::is_wrong_password) {
            return Err(Ok(()));
        }
        Ok(outcome)
    }

    /// Delivers a sanitised outcome for `it`: a part held from mail goes
    /// to its recipients as a follow-up mail when attachments are
    /// delivered by mail (`mail:RCPTS`), everything else to the clean
    /// folder (`clean/PLACE`).
    pub(crate) fn deliver(
        &self,
        it: &Item,
        outcome: Outcome,
        tag: &str,
    ) -> Result<(String, Outcome), String> {
        if it.mail.is_some()
            && self.config.policy.mail.attachments == mugai_core::config::MailAttachments::Sanitize
        {
            let to = self.follow_up(it, &outcome)?;
            return Ok((format!("mail:{to}"), outcome));
        }
        self.place_clean(it, outcome, tag)
            .map(|(place, outcome)| (format!("clean/{place}"), outcome))
    }

    /// Places a sanitised outcome for `it` in the clean folder.
    fn place_clean(
        &self,
        it: &Item,
        outcome: Outcome,
        tag: &str,
    ) -> Result<(String, Outcome), String> {
        use mugai_daemon::place;
        let output = outcome
            .as_result()
            .map_err(|r| format!("{}: {}", r.code, r.detail))?;
        let (out, out_name) = (&output.bytes[..], output.name.as_str());
        let comps: Vec<&str> = it.path.split('/').filter(|c| !c.is_empty()).collect();
        let parts: Vec<String> = comps
            .iter()
            .take(comps.len().saturating_sub(1))
            .map(|c| mugai_detect::name::safe_component(c))
            .collect();
        let name = mugai_daemon::job::not_a_notice_name(out_name);
        let io = |e: std::io::Error| format!("placing the output: {e}");
        let dir = place::ensure_dir(&self.clean, &parts).map_err(io)?;
        let tmp = dir.join(format!("{}console-{tag}", place::TMP_PREFIX));
        place::write_synced(&tmp, out).map_err(io)?;
        place::share_with_reader(&tmp).map_err(io)?;
        let chosen = place::link_new(&tmp, &dir, &name, |_| Ok(())).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })?;
        let shown: String = parts.iter().map(|p| format!("{p}/")).collect::<String>() + &chosen;
        Ok((shown, outcome))
    }

    /// Removes held items older than `console.hold_days` and audits each.
    pub fn expire(&self) -> std::io::Result<usize> {
        let days = self.config.console.hold_days;
        if days == 0 {
            return Ok(0);
        }
        let keep_from = mugai_daemon::retention::cutoff(days);
        let old: Vec<Item> = self
            .quarantine
            .list()
            .into_iter()
            .filter(|it| it.key.date < keep_from)
            .collect();
        for it in &old {
            let key = it.key.as_string();
            self.record(Event {
                event: "expired",
                user: "-",
                id: &key,
                item: Some(it),
                fields: vec![("hold_days", days.to_string())],
                ..Default::default()
            })?;
        }
        self.quarantine.expire(&keep_from)?;
        Ok(old.len())
    }
}

/// Serves the console until the process is stopped.
pub async fn serve(o: Options) -> Result<(), ConsoleError> {
    let console = Arc::new(Console::new(&o)?);
    let listener = tokio::net::TcpListener::bind(o.listen)
        .await
        .map_err(|e| ConsoleError::Io(PathBuf::from(o.listen.to_string()), e))?;
    tracing::info!(listen = %o.listen, "console listening");
    {
        let c = console.clone();
        tokio::spawn(async move {
            loop {
                let c2 = c.clone();
                match tokio::task::spawn_blocking(move || c2.expire()).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(items = n, "held items expired"),
                    Ok(Err(e)) => tracing::error!(error = %e, "expiring held items"),
                    _ => {}
                }
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
        });
    }
    let app = web::router(console);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
    .map_err(|e| ConsoleError::Io(PathBuf::from(o.listen.to_string()), e))
}
