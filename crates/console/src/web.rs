//! Routes, sessions, CSRF tokens and security headers. Pages are built on
//! the server with every untrusted string escaped; there is no script.

// Checks return the page to send instead as their error; it is sent at once.
#![allow(clippy::result_large_err)]

use crate::i18n::{t, Lang};
use crate::items::{Filter, Item, ItemKey};
use crate::links::{same, Attempt, Refusal};
use crate::requests::{Override, Request, Status};
use crate::sessions::random_token;
use crate::users::{Role, Users};
use crate::{lock, Console, Event};
use axum::extract::{ConnectInfo, Form, Path, Query, Request as HttpRequest, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

const SESSION_COOKIE: &str = "mugai_session";
const LANG_COOKIE: &str = "mugai_lang";
const CSS: &str = include_str!("console.css");

/// Escapes text for HTML element content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// Percent-encodes a URL component.
fn url(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn cookie<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// What the middleware found about the request.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    lang: Lang,
}

/// The logged-in account of a request.
struct Who {
    sid: String,
    name: String,
    role: Role,
    csrf: String,
    lang: Lang,
    addr: String,
}

pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/items") }))
        .route("/console.css", get(css))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/items", get(list))
        .route("/items/{date}/{id}", get(detail))
        .route("/items/{date}/{id}/request", post(request_release))
        .route("/items/{date}/{id}/unlock", get(unlock_page).post(unlock))
        .route("/requests", get(requests_page))
        .route("/requests/{rid}/approve", post(approve))
        .route("/requests/{rid}/reject", post(reject))
        .route("/audit", get(audit_page))
        .route(
            "/recipient/{date}/{id}/{token}",
            get(link_page).post(link_post),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(console.clone(), common))
        .with_state(console)
}

/// Security headers on every response; the language from `?lang=` (kept
/// in a cookie), else the cookie, else the configured default.
async fn common(State(c): State<Arc<Console>>, mut req: HttpRequest, next: Next) -> Response {
    let from_query = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("lang="))
        .and_then(Lang::parse);
    let lang = from_query
        .or_else(|| cookie(req.headers(), LANG_COOKIE).and_then(Lang::parse))
        .or_else(|| Lang::parse(&c.config.console.language))
        .unwrap_or(Lang::Ja);
    req.extensions_mut().insert(Ctx { lang });
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (k, v) in [
        (
            "content-security-policy",
            "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    if let Some(l) = from_query {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
            l.code()
        )) {
            h.append(header::SET_COOKIE, v);
        }
    }
    res
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

fn lang_of(req_ctx: Option<axum::Extension<Ctx>>) -> Lang {
    req_ctx.map_or(Lang::Ja, |c| c.0.lang)
}

/// A whole page.
fn page(lang: Lang, title: &str, who: Option<&Who>, body: &str) -> String {
    let mut nav = String::new();
    if let Some(w) = who {
        let _ = write!(
            nav,
            r#"<nav><a href="/items">{}</a> <a href="/requests">{}</a>"#,
            t(lang, "items"),
            t(lang, "requests")
        );
        if w.role == Role::Auditor {
            let _ = write!(nav, r#" <a href="/audit">{}</a>"#, t(lang, "audit"));
        }
        let role = match w.role {
            Role::Operator => t(lang, "role_operator"),
            Role::Approver => t(lang, "role_approver"),
            Role::Auditor => t(lang, "role_auditor"),
        };
        let _ = write!(
            nav,
            r#" <span class="who">{} ({})</span><form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{}"><button>{}</button></form></nav>"#,
            esc(&w.name),
            role,
            esc(&w.csrf),
            t(lang, "logout")
        );
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="{code}"><head><meta charset="utf-8"><title>{title} - {app}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/console.css"></head>
<body><header><h1>{app}</h1><span class="langs"><a href="?lang=ja">日本語</a> | <a href="?lang=en">English</a></span>{nav}</header>
<main><h2>{title}</h2>
{body}</main></body></html>
"#,
        code = lang.code(),
        app = t(lang, "title"),
        title = esc(title),
    )
}

fn message(lang: Lang, status: StatusCode, key: &'static str, who: Option<&Who>) -> Response {
    let body = format!(
        r#"<p class="error">{}</p><p><a href="/items">{}</a></p>"#,
        t(lang, key),
        t(lang, "back")
    );
    (status, Html(page(lang, &status.to_string(), who, &body))).into_response()
}

async fn not_found(ctx: Option<axum::Extension<Ctx>>) -> Response {
    message(lang_of(ctx), StatusCode::NOT_FOUND, "err_not_found", None)
}

fn internal(lang: Lang, who: Option<&Who>, what: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "{what}");
    message(lang, StatusCode::INTERNAL_SERVER_ERROR, "err_internal", who)
}

/// `res` with the session cookie for `sid` set (a new or renewed session).
fn with_session_cookie(mut res: Response, c: &Console, sid: &str) -> Response {
    let secure = if c.config.console.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""));
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

/// The logged-in account, or the response to send instead (to the login
/// page when there is no live session).
fn who(
    c: &Console,
    h: &HeaderMap,
    ctx: Option<axum::Extension<Ctx>>,
    addr: SocketAddr,
) -> Result<Who, Response> {
    let lang = lang_of(ctx);
    let sid = cookie(h, SESSION_COOKIE).unwrap_or("");
    let session = lock(&c.sessions).touch(sid);
    let Some(session) = session else {
        return Err(Redirect::to("/login").into_response());
    };
    let Some((name, role)) = session.user else {
        return Err(Redirect::to("/login").into_response());
    };
    // An account disabled (or removed, or given another role) since the
    // login ends its sessions at once.
    let current = match Users::load(&c.users_path) {
        Ok(u) => u.get(&name).filter(|u| !u.disabled).map(|u| u.role),
        Err(e) => return Err(internal(lang, None, "accounts file", e)),
    };
    if current != Some(role) {
        lock(&c.sessions).remove_user(&name);
        return Err(Redirect::to("/login").into_response());
    }
    Ok(Who {
        sid: sid.to_string(),
        name,
        role,
        csrf: session.csrf,
        lang,
        addr: addr.ip().to_string(),
    })
}

fn check_csrf(w: &Who, token: &str) -> bool {
    !token.is_empty() && same(&w.csrf, token)
}

fn csrf_field(csrf: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(csrf))
}

// ---- login ----

async fn login_page(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    h: HeaderMap,
) -> Response {
    let lang = lang_of(ctx);
    login_form(&c, &h, lang, None, StatusCode::OK)
}

/// The request's session (any, for its CSRF token), or a new anonymous
/// one: (id, token, whether it is new and needs its cookie set).
fn anonymous(c: &Console, h: &HeaderMap) -> std::io::Result<(String, String, bool)> {
    let mut s = lock(&c.sessions);
    let existing = cookie(h, SESSION_COOKIE)
        .and_then(|sid| s.peek(sid).map(|x| (sid.to_string(), x.csrf.clone())));
    match existing {
        Some((sid, csrf)) => Ok((sid, csrf, false)),
        None => s.create(None).map(|(sid, csrf)| (sid, csrf, true)),
    }
}

fn login_form(
    c: &Console,
    h: &HeaderMap,
    lang: Lang,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let (sid, csrf, new) = match anonymous(c, h) {
        Ok(x) => x,
        Err(e) => return internal(lang, None, "session", e),
    };
    let err = error.map_or(String::new(), |k| {
        format!(r#"<p class="error">{}</p>"#, t(lang, k))
    });
    let body = format!(
        r#"{err}<form method="post" action="/login" class="login">{csrf}
<label>{acc}<input name="user" autocomplete="username" required></label>
<label>{pw}<input name="password" type="password" autocomplete="current-password" required></label>
<button>{login}</button></form>"#,
        csrf = csrf_field(&csrf),
        acc = t(lang, "account"),
        pw = t(lang, "password"),
        login = t(lang, "login"),
    );
    let res = (status, Html(page(lang, t(lang, "login"), None, &body))).into_response();
    if new {
        return with_session_cookie(res, c, &sid);
    }
    res
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoginForm {
    csrf: String,
    user: String,
    password: String,
}

async fn login(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = lang_of(ctx);
    let ip = addr.ip().to_string();
    // The login form's own token, from the anonymous session.
    let sid = cookie(&h, SESSION_COOKIE).unwrap_or("").to_string();
    let token_ok = lock(&c.sessions)
        .peek(&sid)
        .is_some_and(|s| !f.csrf.is_empty() && same(&s.csrf, &f.csrf));
    if !token_ok {
        return message(lang, StatusCode::FORBIDDEN, "err_csrf", None);
    }
    let user_key = format!("user:{}", f.user);
    let addr_key = format!("addr:{ip}");
    let refused = {
        let mut l = lock(&c.login_limits);
        l.refused(&user_key) || l.refused(&addr_key)
    };
    let shown_user: String = f.user.chars().take(64).collect();
    if refused {
        if let Err(e) = c.record(Event {
            event: "login-refused",
            user: &shown_user,
            addr: &ip,
            id: "-",
            ..Default::default()
        }) {
            return internal(lang, None, "audit", e);
        }
        return login_form(
            &c,
            &h,
            lang,
            Some("err_locked"),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let path = c.users_path.clone();
    let (name, password) = (f.user.clone(), f.password);
    let checked = tokio::task::spawn_blocking(move || {
        Users::load(&path).map(|u| u.check(&name, &password).map(|u| (u.name.clone(), u.role)))
    })
    .await;
    let account = match checked {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return internal(lang, None, "accounts file", e),
        Err(e) => return internal(lang, None, "login", e),
    };
    let Some((name, role)) = account else {
        {
            let mut l = lock(&c.login_limits);
            l.fail(&user_key);
            l.fail(&addr_key);
        }
        if let Err(e) = c.record(Event {
            event: "login-failed",
            user: &shown_user,
            addr: &ip,
            id: "-",
            ..Default::default()
        }) {
            return internal(lang, None, "audit", e);
        }
        return login_form(&c, &h, lang, Some("err_login"), StatusCode::UNAUTHORIZED);
    };
    lock(&c.login_limits).clear(&user_key);
    if let Err(e) = c.record(Event {
        event: "login",
        user: &name,
        addr: &ip,
        id: "-",
        fields: vec![("role", role.as_str().into())],
        ..Default::default()
    }) {
        return internal(lang, None, "audit", e);
    }
    // A new id at login: a session id known before it is worth nothing.
    let new_sid = {
        let mut s = lock(&c.sessions);
        s.remove(&sid);
        match s.create(Some((name, role))) {
            Ok((sid, _)) => sid,
            Err(e) => return internal(lang, None, "sessions file", e),
        }
    };
    with_session_cookie(Redirect::to("/items").into_response(), &c, &new_sid)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CsrfOnly {
    csrf: String,
}

async fn logout(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let w = match who(&c, &h, ctx, addr) {
        Ok(w) => w,
        Err(r) => return r,
    };
    if !check_csrf(&w, &f.csrf) {
        return message(w.lang, StatusCode::FORBIDDEN, "err_csrf", Some(&w));
    }
    lock(&c.sessions).remove(&w.sid);
    let _ = c.record(Event {
        event: "logout",
        user: &w.name,
        addr: &w.addr,
        id: "-",
        ..Default::default()
    });
    Redirect::to("/login").into_response()
}

// ---- items ----

fn code_text(lang: Lang, f: &mugai_core::Finding) -> String {
    match lang {
        Lang::Ja => format!(
            "{}（{}; <code>{}</code>）",
            esc(f.code.ja()),
            esc(&f.detail),
            esc(f.code.as_str())
        ),
        Lang::En => format!("{} (<code>{}</code>)", esc(&f.detail), esc(f.code.as_str())),
    }
}

fn show_time(lang: Lang, rfc3339: &str) -> String {
    match lang {
        Lang::Ja => mugai_daemon::notice::jst(rfc3339),
        Lang::En => rfc3339.to_string(),
    }
}

async fn list(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Query(filter): Query<Filter>,
) -> Response {
    let w = match who(&c, &h, ctx, addr) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let lang = w.lang;
    let q = c.quarantine.clone();
    let items = tokio::task::spawn_blocking(move || q.list())
        .await
        .unwrap_or_default();
    let shown: Vec<&Item> = items.iter().filter(|i| filter.matches(i)).collect();
    let sel = |v: &str, cur: &str| if v == cur { " selected" } else { "" };
    let mut body = format!(
        r#"<form method="get" action="/items" class="filter">
<label>{from}<input type="date" name="from" value="{vf}"></label>
<label>{to}<input type="date" name="to" value="{vt}"></label>
<label>{code}<input name="code" value="{vc}" placeholder="archive.encrypted"></label>
<label>{ty}<input name="type" value="{vty}" placeholder="zip"></label>
<label>{src}<select name="source"><option value=""{s0}>{any}</option><option value="share"{s1}>{share}</option><option value="mail"{s2}>{mail}</option></select></label>
<label>{snd}<input name="sender" value="{vs}"></label>
<button>{filter}</button></form>
<p class="note">{hidden}</p>
"#,
        from = t(lang, "from"),
        to = t(lang, "to"),
        code = t(lang, "code"),
        ty = t(lang, "type"),
        src = t(lang, "source"),
        snd = t(lang, "sender"),
        any = t(lang, "any"),
        share = t(lang, "share"),
        mail = t(lang, "mail"),
        filter = t(lang, "filter"),
        hidden = t(lang, "original_hidden"),
        vf = esc(&filter.from),
        vt = esc(&filter.to),
        vc = esc(&filter.code),
        vty = esc(&filter.file_type),
        vs = esc(&filter.sender),
        s0 = sel("", &filter.source),
        s1 = sel("share", &filter.source),
        s2 = sel("mail", &filter.source),
    );
    if shown.is_empty() {
        let _ = write!(body, "<p>{}</p>", t(lang, "no_items"));
    } else {
        let _ = write!(
            body,
            r#"<table class="items"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>"#,
            t(lang, "received"),
            t(lang, "file"),
            t(lang, "type"),
            t(lang, "source"),
            t(lang, "reason")
        );
        for it in shown {
            let reason = it
                .reason
                .as_ref()
                .map_or(String::new(), |r| code_text(lang, r));
            let _ = write!(
                body,
                r#"<tr><td>{}</td><td><a href="/items/{}/{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&show_time(lang, &it.time)),
                url(&it.key.date),
                url(&it.key.id),
                esc(&it.path),
                esc(&it.file_type),
                t(lang, if it.source == "mail" { "mail" } else { "share" }),
                reason
            );
        }
        body.push_str("</tbody></table>");
    }
    Html(page(lang, t(lang, "items"), Some(&w), &body)).into_response()
}

fn load_item(c: &Console, date: &str, id: &str) -> Result<Item, StatusCode> {
    let key = ItemKey::parse(date, id).ok_or(StatusCode::BAD_REQUEST)?;
    c.quarantine.get(&key).ok_or(StatusCode::NOT_FOUND)
}

fn item_error(w: &Who, st: StatusCode) -> Response {
    let key = if st == StatusCode::BAD_REQUEST {
        "err_bad_request"
    } else {
        "err_not_found"
    };
    message(w.lang, st, key, Some(w))
}

fn status_text(lang: Lang, s: Status) -> &'static str {
    t(
        lang,
        match s {
            Status::Pending => "pending",
            Status::Rejected => "rejected",
            Status::Released => "released",
            Status::Failed => "failed",
        },
    )
}

fn request_rows(lang: Lang, w: &Who, reqs: &[&Request], with_item: bool) -> String {
    let mut s = format!(
        r#"<table class="requests"><thead><tr><th>{}</th>{}<th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>"#,
        t(lang, "time"),
        if with_item {
            format!("<th>{}</th>", t(lang, "ref"))
        } else {
            String::new()
        },
        t(lang, "requested_by"),
        t(lang, "req_reason"),
        t(lang, "override"),
        t(lang, "status"),
        t(lang, "decided_by"),
        t(lang, "result"),
    );
    for r in reqs {
        let mut actions = String::new();
        if r.status == Status::Pending && w.role == Role::Approver {
            let _ = write!(
                actions,
                r#"<form method="post" action="/requests/{rid}/approve" class="inline">{csrf}<button class="approve">{a}</button></form> <form method="post" action="/requests/{rid}/reject" class="inline">{csrf}<button>{rj}</button></form>"#,
                rid = url(&r.id),
                csrf = csrf_field(&w.csrf),
                a = t(lang, "approve"),
                rj = t(lang, "reject"),
            );
        }
        let item_cell = if with_item {
            let (d, i) = r.item.split_once('/').unwrap_or(("", ""));
            format!(
                r#"<td><a href="/items/{}/{}">{}</a></td>"#,
                url(d),
                url(i),
                esc(&r.item)
            )
        } else {
            String::new()
        };
        let _ = write!(
            s,
            r#"<tr class="req-{st}" id="req-{rid}"><td>{time}</td>{item_cell}<td>{by}</td><td>{reason}</td><td><code>{ov}</code></td><td>{stt}</td><td>{dec}</td><td>{res}</td><td>{actions}</td></tr>"#,
            st = r.status.as_str(),
            rid = esc(&r.id),
            time = esc(&show_time(lang, &r.time)),
            by = esc(&r.requested_by),
            reason = esc(&r.reason),
            ov = esc(&r.policy_override),
            stt = status_text(lang, r.status),
            dec = esc(r.decided_by.as_deref().unwrap_or("")),
            res = esc(r.result.as_deref().unwrap_or("")),
        );
    }
    s.push_str("</tbody></table>");
    s
}

async fn detail(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Path((date, id)): Path<(String, String)>,
) -> Response {
    let w = match who(&c, &h, ctx, addr) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let it = match load_item(&c, &date, &id) {
        Ok(it) => it,
        Err(st) => return item_error(&w, st),
    };
    let key = it.key.as_string();
    if let Err(e) = c.record(Event {
        event: "view",
        user: &w.name,
        addr: &w.addr,
        id: &key,
        item: Some(&it),
        ..Default::default()
    }) {
        return internal(w.lang, Some(&w), "audit", e);
    }
    detail_page(&c, &w, &it, None, StatusCode::OK)
}

fn detail_page(
    c: &Console,
    w: &Who,
    it: &Item,
    note: Option<(&'static str, bool)>,
    status: StatusCode,
) -> Response {
    let lang = w.lang;
    let key = it.key.as_string();
    let mut body = String::new();
    if let Some((k, bad)) = note {
        let _ = write!(
            body,
            r#"<p class="{}">{}</p>"#,
            if bad { "error" } else { "ok" },
            t(lang, k)
        );
    }
    let reason = it
        .reason
        .as_ref()
        .map_or(String::new(), |r| code_text(lang, r));
    let _ = write!(
        body,
        r#"<dl class="item">
<dt>{ref_}</dt><dd>{key}</dd>
<dt>{file}</dt><dd class="name">{path}</dd>
<dt>{received}</dt><dd>{time}</dd>
<dt>{ty}</dt><dd>{ftype}</dd>
<dt>{size}</dt><dd>{bytes} B</dd>
<dt>SHA-256</dt><dd><code>{sha}</code></dd>
<dt>{reason_l}</dt><dd>{reason}</dd>
</dl>
<h3>{findings}</h3><ul class="findings">"#,
        ref_ = t(lang, "ref"),
        key = esc(&key),
        file = t(lang, "file"),
        path = esc(&it.path),
        received = t(lang, "received"),
        time = esc(&show_time(lang, &it.time)),
        ty = t(lang, "type"),
        ftype = esc(&it.file_type),
        size = t(lang, "size"),
        bytes = it.size,
        sha = esc(&it.sha256),
        reason_l = t(lang, "reason"),
        findings = t(lang, "findings"),
    );
    for f in &it.findings {
        let _ = write!(body, "<li>{}</li>", code_text(lang, f));
    }
    body.push_str("</ul>");
    if let Some(m) = &it.mail {
        let _ = write!(
            body,
            r#"<dl class="item"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>"#,
            t(lang, "sender"),
            esc(&m.from),
            t(lang, "recipients"),
            esc(&m.to.join(", "))
        );
    }
    if let Some(o) = it.outcome().filter(|_| it.mail.is_none()) {
        let nl = c.config.daemon.notice_language;
        let text = mugai_daemon::notice::text(
            nl,
            &mugai_daemon::notice::NoticeInput {
                id: &it.key.id,
                time: &it.time,
                rel: &it.path,
                output: None,
                outcome: &o,
            },
        );
        let _ = write!(
            body,
            r#"<h3>{}</h3><pre class="notice">{}</pre>"#,
            t(lang, "notice"),
            esc(&text)
        );
    }
    let _ = write!(
        body,
        r#"<p class="note">{}</p>"#,
        t(lang, "original_hidden")
    );
    let reqs = {
        let store = lock(&c.store);
        store
            .for_item(&key)
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    };
    if !reqs.is_empty() {
        let refs: Vec<&Request> = reqs.iter().collect();
        let _ = write!(
            body,
            "<h3>{}</h3>{}",
            t(lang, "requests"),
            request_rows(lang, w, &refs, false)
        );
    }
    let base = format!("/items/{}/{}", url(&it.key.date), url(&it.key.id));
    if w.role != Role::Auditor && it.original.is_some() {
        if is_locked(it) {
            let _ = write!(
                body,
                r#"<p><a class="unlock" href="{base}/unlock">{}</a></p>"#,
                t(lang, "unlock")
            );
        }
        let allow = format!("allow-type:{}", it.file_type);
        let allow_opt = if Override::parse(&allow).is_some() {
            format!(
                r#"<option value="{v}">{l}: {ty}</option>"#,
                v = esc(&allow),
                l = t(lang, "ov_allow"),
                ty = esc(&it.file_type)
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            r#"<h3>{rr}</h3><form method="post" action="{base}/request" class="request">{csrf}
<label>{reason}<textarea name="reason" rows="2" required></textarea></label>
<label>{ov}<select name="policy_override"><option value="none">{none}</option>{allow_opt}<option value="drop-blocked-members">{drop}</option></select></label>
<button>{rr}</button></form>"#,
            rr = t(lang, "request_release"),
            csrf = csrf_field(&w.csrf),
            reason = t(lang, "req_reason"),
            ov = t(lang, "override"),
            none = t(lang, "ov_none"),
            drop = t(lang, "ov_drop"),
        );
    }
    let title = format!("{}: {}", t(lang, "detail"), it.name());
    (status, Html(page(lang, &title, Some(w), &body))).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RequestForm {
    csrf: String,
    reason: String,
    policy_override: String,
}

async fn request_release(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Path((date, id)): Path<(String, String)>,
    Form(f): Form<RequestForm>,
) -> Response {
    let w = match who(&c, &h, ctx, addr) {
        Ok(w) => w,
        Err(r) => return r,
    };
    if !check_csrf(&w, &f.csrf) {
        return message(w.lang, StatusCode::FORBIDDEN, "err_csrf", Some(&w));
    }
    // Auditors only read; an approver may request too, but never approve
    // their own request.
    if w.role == Role::Auditor {
        return message(w.lang, StatusCode::FORBIDDEN, "err_forbidden", Some(&w));
    }
    let it = match load_item(&c, &date, &id) {
        Ok(it) => it,
        Err(st) => return item_error(&w, st),
    };
    let Some(ov) = Override::parse(&f.policy_override) else {
        return message(w.lang, StatusCode::BAD_REQUEST, "err_bad_request", Some(&w));
    };
    let reason: String = f.reason.trim().chars().take(2000).collect();
    if reason.is_empty() {
        return detail_page(
            &c,
            &w,
            &it,
            Some(("err_reason", true)),
            StatusCode::BAD_REQUEST,
        );
    }
    let key = it.key.as_string();
    let rid = random_token()[..24].to_string();
    let req = Request {
        id: rid.clone(),
        item: key.clone(),
        requested_by: w.name.clone(),
        reason: reason.clone(),
        policy_override: ov.name(),
        time: mugai_audit::clock::rfc3339(mugai_audit::clock::now()),
        status: Status::Pending,
        decided_by: None,
        decided_time: None,
        result: None,
    };
    if let Err(e) = c.record(Event {
        event: "release-requested",
        user: &w.name,
        addr: &w.addr,
        id: &key,
        item: Some(&it),
        fields: vec![
            ("request", rid.clone()),
            ("override", ov.name()),
            ("reason_text", reason),
        ],
        ..Default::default()
    }) {
        return internal(w.lang, Some(&w), "audit", e);
    }
    {
        let mut store = lock(&c.store);
        store.requests.push(req);
        if let Err(e) = store.save() {
            store.requests.retain(|r| r.id != rid);
            return internal(w.lang, Some(&w), "requests file", e);
        }
    }
    detail_page(&c, &w, &it, Some(("requested", false)), StatusCode::OK)
}

async fn requests_page(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
) -> Response {
    let w = match who(&c, &h, ctx, addr) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let lang = w.lang;
    let reqs: Vec<Request> = lock(&c.store).requests.iter().rev().cloned().collect();
    let body = if reqs.is_empty() {
        format!("<p>{}</p>", t(lang, "no_requests"))
    } else {
        let refs: Vec<&Request> = reqs.iter().collect();
        request_rows(lang, &w, &refs, true)
    };
    Html(page(lang, t(lang, "requests"), Some(&w), &body)).into_response()
}

async fn decide(c: Arc<Console>, w: Who, rid: String, csrf: String, approve: bool) -> Response {
    let lang = w.lang;
    if !check_csrf(&w, &csrf) {
        return message(lang, StatusCode::FORBIDDEN, "err_csrf", Some(&w));
    }
    if w.role != Role::Approver {
        return message(lang, StatusCode::FORBIDDEN, "err_forbidden", Some(&w));
    }
    let c2 = c.clone();
    let name = w.name.clone();
    let addr = w.addr.clone();
    // Decisions run one at a time, under the store's lock, so that one
    // request is never released twice.
    let done = tokio::task::spawn_blocking(move || -> Result<(), (StatusCode, &'static str)> {
        let c = c2;
        let mut store = lock(&c.store);
        let req = store
            .get(&rid)
            .cloned()
            .ok_or((StatusCode::NOT_FOUND, "err_not_found"))?;
        if req.status != Status::Pending {
            return Err((StatusCode::CONFLICT, "err_not_pending"));
        }
        let (date, id) = req.item.split_once('/').unwrap_or(("", ""));
        let it = ItemKey::parse(date, id)
            .and_then(|k| c.quarantine.get(&k))
            .ok_or((StatusCode::NOT_FOUND, "err_not_found"))?;
        let audit_fail = |e: std::io::Error| {
            tracing::error!(error = %e, "audit");
            (StatusCode::INTERNAL_SERVER_ERROR, "err_internal")
        };
        if req.requested_by == name {
            c.record(Event {
                event: "approval-refused",
                user: &name,
                addr: &addr,
                id: &req.item,
                item: Some(&it),
                fields: vec![("request", rid.clone()), ("why", "own request".into())],
                ..Default::default()
            })
            .map_err(audit_fail)?;
            return Err((StatusCode::FORBIDDEN, "err_own"));
        }
        let now = mugai_audit::clock::rfc3339(mugai_audit::clock::now());
        let mut updated = req.clone();
        updated.decided_by = Some(name.clone());
        updated.decided_time = Some(now);
        if !approve {
            c.record(Event {
                event: "release-rejected",
                user: &name,
                addr: &addr,
                id: &req.item,
                item: Some(&it),
                fields: vec![("request", rid.clone())],
                ..Default::default()
            })
            .map_err(audit_fail)?;
            updated.status = Status::Rejected;
        } else {
            c.record(Event {
                event: "release-approved",
                user: &name,
                addr: &addr,
                id: &req.item,
                item: Some(&it),
                fields: vec![
                    ("request", rid.clone()),
                    ("requested_by", req.requested_by.clone()),
                    ("override", req.policy_override.clone()),
                ],
                ..Default::default()
            })
            .map_err(audit_fail)?;
            let ov = Override::parse(&req.policy_override).unwrap_or(Override::None);
            match c.release(&it, &ov, &rid) {
                Ok((dest, outcome)) => {
                    c.record(Event {
                        event: "released",
                        user: &name,
                        addr: &addr,
                        id: &req.item,
                        item: Some(&it),
                        fields: vec![
                            ("request", rid.clone()),
                            ("requested_by", req.requested_by.clone()),
                            ("override", ov.name()),
                            ("result", outcome.verdict().as_str().into()),
                        ],
                        output: Some(dest.clone()),
                        output_sha256: outcome.output_sha256().map(str::to_string),
                    })
                    .map_err(audit_fail)?;
                    updated.status = Status::Released;
                    updated.result = Some(dest);
                }
                Err(why) => {
                    c.record(Event {
                        event: "release-failed",
                        user: &name,
                        addr: &addr,
                        id: &req.item,
                        item: Some(&it),
                        fields: vec![
                            ("request", rid.clone()),
                            ("override", ov.name()),
                            ("why", why.clone()),
                        ],
                        ..Default::default()
                    })
                    .map_err(audit_fail)?;
                    updated.status = Status::Failed;
                    updated.result = Some(why);
                }
            }
        }
        if let Some(r) = store.get_mut(&rid) {
            *r = updated;
        }
        store.save().map_err(|e| {
            tracing::error!(error = %e, "requests file");
            (StatusCode::INTERNAL_SERVER_ERROR, "err_internal")
        })
    })
    .await;
    match done {
        Ok(Ok(())) => Redirect::to("/requests").into_response(),
        Ok(Err((st, key))) => message(lang, st, key, Some(&w)),
        Err(e) => internal(lang, Some(&w), "decision", e),
    }
}

async fn approve(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Path(rid): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    match who(&c, &h, ctx, addr) {
        Ok(w) => decide(c, w, rid, f.csrf, true).await,
        Err(r) => r,
    }
}

async fn reject(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Path(rid): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    match who(&c, &h, ctx, addr) {
        Ok(w) => decide(c, w, rid, f.csrf, false).await,
        Err(r) => r,
    }
}

// ---- unlocking ----

fn unlock_form(
    w: &Who,
    it: &Item,
    note: Option<(&'static str, bool)>,
    status: StatusCode,
) -> Response {
    let lang = w.lang;
    let mut body = String::new();
    if let Some((k, bad)) = note {
        let _ = write!(
            body,
            r#"<p class="{}">{}</p>"#,
            if bad { "error" } else { "ok" },
            t(lang, k)
        );
    }
    let base = format!("/items/{}/{}", url(&it.key.date), url(&it.key.id));
    let reason = it
        .reason
        .as_ref()
        .map_or(String::new(), |r| code_text(lang, r));
    let _ = write!(
        body,
        r#"<dl class="item"><dt>{file}</dt><dd class="name">{path}</dd><dt>SHA-256</dt><dd><code>{sha}</code></dd><dt>{rl}</dt><dd>{reason}</dd></dl>
<form method="post" action="{base}/unlock" class="unlock">{csrf}
<p class="note">{help}</p>
<label>{pw}<textarea name="passwords" rows="3" autocomplete="off" spellcheck="false"></textarea></label>
<button>{u}</button></form>
<p><a href="{base}">{back}</a></p>"#,
        file = t(lang, "file"),
        path = esc(&it.path),
        sha = esc(&it.sha256),
        rl = t(lang, "reason"),
        csrf = csrf_field(&w.csrf),
        help = t(lang, "unlock_help"),
        pw = t(lang, "passwords"),
        u = t(lang, "unlock"),
        back = t(lang, "detail"),
    );
    let title = format!("{}: {}", t(lang, "unlock"), it.name());
    (status, Html(page(lang, &title, Some(w), &body))).into_response()
}

/// Codes of a block that passwords can lift: a ZIP, an encrypted OOXML
/// document, a PDF with a user password (at any depth).
const UNLOCKABLE: [&str; 3] = ["archive.encrypted", "ooxml.encrypted", "pdf.encrypted"];

/// Whether the item was held for a password-protected file or member.
fn is_locked(it: &Item) -> bool {
    it.reason
        .as_ref()
        .is_some_and(|r| UNLOCKABLE.contains(&r.code.as_str()))
}

fn unlockable(w: &Who, it: &Item) -> Result<(), Response> {
    if w.role == Role::Auditor {
        return Err(message(
            w.lang,
            StatusCode::FORBIDDEN,
            "err_forbidden",
            Some(w),
        ));
    }
    if !is_locked(it) || it.original.is_none() {
        return Err(message(
            w.lang,
            StatusCode::NOT_FOUND,
            "err_not_found",
            Some(w),
        ));
    }
    Ok(())
}

async fn unlock_page(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Path((date, id)): Path<(String, String)>,
) -> Response {
    let w = match who(&c, &h, ctx, addr) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let it = match load_item(&c, &date, &id) {
        Ok(it) => it,
        Err(st) => return item_error(&w, st),
    };
    if let Err(r) = unlockable(&w, &it) {
        return r;
    }
    unlock_form(&w, &it, None, StatusCode::OK)
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct UnlockForm {
    csrf: String,
    passwords: String,
}

impl std::fmt::Debug for UnlockForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnlockForm { .. }")
    }
}

async fn unlock(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Path((date, id)): Path<(String, String)>,
    Form(f): Form<UnlockForm>,
) -> Response {
    let w = match who(&c, &h, ctx, addr) {
        Ok(w) => w,
        Err(r) => return r,
    };
    if !check_csrf(&w, &f.csrf) {
        return message(w.lang, StatusCode::FORBIDDEN, "err_csrf", Some(&w));
    }
    let it = match load_item(&c, &date, &id) {
        Ok(it) => it,
        Err(st) => return item_error(&w, st),
    };
    if let Err(r) = unlockable(&w, &it) {
        return r;
    }
    let key = it.key.as_string();
    let limit_key = format!("item:{key}");
    let passwords = mugai_core::Passwords(
        f.passwords
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .filter(|l| !l.is_empty())
            .take(16)
            .collect(),
    );
    let audit = |event: &str,
                 fields: Vec<(&'static str, String)>,
                 out: Option<(String, Option<String>)>| {
        let (output, output_sha256) = out.map_or((None, None), |(o, s)| (Some(o), s));
        c.record(Event {
            event,
            user: &w.name,
            addr: &w.addr,
            id: &key,
            item: Some(&it),
            fields,
            output,
            output_sha256,
        })
    };
    if lock(&c.unlock_limits).refused(&limit_key) {
        if let Err(e) = audit(
            "unlock-refused",
            vec![("why", "too many wrong passwords".into())],
            None,
        ) {
            return internal(w.lang, Some(&w), "audit", e);
        }
        return unlock_form(
            &w,
            &it,
            Some(("err_unlock_locked", true)),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let tries = passwords.0.len().to_string();
    let c2 = c.clone();
    let it2 = it.clone();
    let tag = random_token()[..16].to_string();
    let result = tokio::task::spawn_blocking(move || c2.unlock(&it2, &passwords, &tag)).await;
    let result = match result {
        Ok(r) => r,
        Err(e) => return internal(w.lang, Some(&w), "unlock", e),
    };
    match result {
        Ok((dest, outcome)) => {
            lock(&c.unlock_limits).clear(&limit_key);
            if let Err(e) = audit(
                "unlocked",
                vec![
                    ("passwords_given", tries),
                    ("result", outcome.verdict().as_str().into()),
                ],
                Some((dest.clone(), outcome.output_sha256().map(str::to_string))),
            ) {
                return internal(w.lang, Some(&w), "audit", e);
            }
            unlock_form(&w, &it, Some(("unlocked", false)), StatusCode::OK)
        }
        Err(Ok(())) => {
            lock(&c.unlock_limits).fail(&limit_key);
            if let Err(e) = audit(
                "unlock-failed",
                vec![("passwords_given", tries), ("why", "wrong password".into())],
                None,
            ) {
                return internal(w.lang, Some(&w), "audit", e);
            }
            unlock_form(
                &w,
                &it,
                Some(("wrong_password", true)),
                StatusCode::FORBIDDEN,
            )
        }
        Err(Err(why)) => {
            if let Err(e) = audit(
                "unlock-failed",
                vec![("passwords_given", tries), ("why", why)],
                None,
            ) {
                return internal(w.lang, Some(&w), "audit", e);
            }
            unlock_form(
                &w,
                &it,
                Some(("unlock_blocked", true)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

// ---- one-time links (mail recipients, no account) ----

fn refusal_key(r: Refusal) -> (&'static str, StatusCode) {
    match r {
        Refusal::Invalid => ("link_invalid", StatusCode::NOT_FOUND),
        Refusal::Expired => ("link_expired", StatusCode::GONE),
        Refusal::Spent => ("link_spent", StatusCode::GONE),
        Refusal::NoTries => ("link_no_tries", StatusCode::GONE),
    }
}

/// A page of the one-time link without its form.
fn link_message(lang: Lang, key: &'static str, extra: &str, status: StatusCode) -> Response {
    let class = if status.is_success() { "ok" } else { "error" };
    let body = format!(r#"<p class="{class}">{}{}</p>"#, t(lang, key), extra);
    (status, Html(page(lang, t(lang, "link_title"), None, &body))).into_response()
}

/// The password page of a live link.
fn link_form(
    c: &Console,
    h: &HeaderMap,
    lang: Lang,
    it: &Item,
    link: &mugai_relay::held::Link,
    note: Option<String>,
    status: StatusCode,
) -> Response {
    let (sid, csrf, new) = match anonymous(c, h) {
        Ok(x) => x,
        Err(e) => return internal(lang, None, "session", e),
    };
    let mut body = note.map_or(String::new(), |n| {
        format!(r#"<p class="error">{}</p>"#, esc(&n))
    });
    let until = mugai_audit::clock::rfc3339(
        time::OffsetDateTime::from_unix_timestamp(i64::try_from(link.expires).unwrap_or(0))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
    );
    let mail = it.mail.as_ref();
    let _ = write!(
        body,
        r#"<dl class="item"><dt>{file}</dt><dd class="name">{name}</dd><dt>SHA-256</dt><dd><code>{sha}</code></dd><dt>{snd}</dt><dd>{from}</dd><dt>{rc}</dt><dd>{to}</dd><dt>{exp}</dt><dd>{until}</dd><dt>{tl}</dt><dd class="tries">{left}</dd></dl>
<form method="post" class="unlock">{csrf}
<p class="note">{help}</p>
<label>{pw}<textarea name="passwords" rows="3" autocomplete="off" spellcheck="false"></textarea></label>
<button>{u}</button></form>"#,
        file = t(lang, "file"),
        name = esc(&it.path),
        sha = esc(&it.sha256),
        snd = t(lang, "sender"),
        from = esc(mail.map_or("", |m| m.from.as_str())),
        rc = t(lang, "recipients"),
        to = esc(&mail.map_or(String::new(), |m| m.to.join(", "))),
        exp = t(lang, "link_expires"),
        until = esc(&show_time(lang, &until)),
        tl = t(lang, "link_tries_left"),
        left = link.max_tries.saturating_sub(link.tries),
        csrf = csrf_field(&csrf),
        help = t(lang, "link_help"),
        pw = t(lang, "passwords"),
        u = t(lang, "unlock"),
    );
    let res = (status, Html(page(lang, t(lang, "link_title"), None, &body))).into_response();
    if new {
        return with_session_cookie(res, c, &sid);
    }
    res
}

async fn link_page(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Path((date, id, token)): Path<(String, String, String)>,
) -> Response {
    let lang = lang_of(ctx);
    let ip = addr.ip().to_string();
    match c.link_item(&date, &id, &token) {
        Ok((it, link)) => {
            if let Err(e) = c.record(Event {
                event: "link-view",
                user: "recipient",
                addr: &ip,
                id: &it.key.as_string(),
                item: Some(&it),
                ..Default::default()
            }) {
                return internal(lang, None, "audit", e);
            }
            link_form(&c, &h, lang, &it, &link, None, StatusCode::OK)
        }
        Err((r, it)) => {
            if let Err(e) = c.link_refused(&ip, &date, &id, r, it.as_ref()) {
                return internal(lang, None, "audit", e);
            }
            let (key, st) = refusal_key(r);
            link_message(lang, key, "", st)
        }
    }
}

async fn link_post(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Path((date, id, token)): Path<(String, String, String)>,
    Form(f): Form<UnlockForm>,
) -> Response {
    let lang = lang_of(ctx);
    let ip = addr.ip().to_string();
    let sid = cookie(&h, SESSION_COOKIE).unwrap_or("").to_string();
    let token_ok = lock(&c.sessions)
        .peek(&sid)
        .is_some_and(|s| !f.csrf.is_empty() && same(&s.csrf, &f.csrf));
    if !token_ok {
        return message(lang, StatusCode::FORBIDDEN, "err_csrf", None);
    }
    let limit_key = format!("link-addr:{ip}");
    if lock(&c.unlock_limits).refused(&limit_key) {
        let shown: String = format!("{date}/{id}").chars().take(80).collect();
        if let Err(e) = c.record(Event {
            event: "link-refused",
            user: "recipient",
            addr: &ip,
            id: &shown,
            fields: vec![("why", "too many wrong passwords from this address".into())],
            ..Default::default()
        }) {
            return internal(lang, None, "audit", e);
        }
        return link_message(lang, "err_unlock_locked", "", StatusCode::TOO_MANY_REQUESTS);
    }
    let passwords = mugai_core::Passwords(
        f.passwords
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .filter(|l| !l.is_empty())
            .take(16)
            .collect(),
    );
    let c2 = c.clone();
    let (d2, i2, t2, ip2) = (date.clone(), id.clone(), token.clone(), ip.clone());
    let done =
        tokio::task::spawn_blocking(move || c2.link_attempt(&d2, &i2, &t2, &passwords, &ip2)).await;
    let attempt = match done {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return internal(lang, None, "one-time link", e),
        Err(e) => return internal(lang, None, "one-time link", e),
    };
    let again = |note: String, st: StatusCode| match c.link_item(&date, &id, &token) {
        Ok((it, link)) => link_form(&c, &h, lang, &it, &link, Some(note), st),
        Err((r, _)) => {
            let (key, st2) = refusal_key(r);
            link_message(lang, key, "", st2)
        }
    };
    match attempt {
        Attempt::Delivered { by_mail, to } => {
            lock(&c.unlock_limits).clear(&limit_key);
            let key = if by_mail {
                "link_sent_mail"
            } else {
                "link_placed"
            };
            link_message(
                lang,
                key,
                &format!(r#": <span class="dest">{}</span>"#, esc(&to)),
                StatusCode::OK,
            )
        }
        Attempt::Wrong { left } => {
            lock(&c.unlock_limits).fail(&limit_key);
            let note = format!(
                "{} {}: {left}",
                t(lang, "wrong_password"),
                t(lang, "link_tries_left")
            );
            again(note, StatusCode::FORBIDDEN)
        }
        Attempt::Failed(_) => again(
            t(lang, "link_failed").to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Attempt::Refused(r) => {
            if r == Refusal::Invalid {
                lock(&c.unlock_limits).fail(&limit_key);
            }
            let (key, st) = refusal_key(r);
            link_message(lang, key, "", st)
        }
    }
}

// ---- audit ----

async fn audit_page(
    State(c): State<Arc<Console>>,
    ctx: Option<axum::Extension<Ctx>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    h: HeaderMap,
) -> Response {
    let w = match who(&c, &h, ctx, addr) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let lang = w.lang;
    if w.role != Role::Auditor {
        return message(lang, StatusCode::FORBIDDEN, "err_forbidden", Some(&w));
    }
    let dir = c.audit_dir.clone();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let files = mugai_audit::files_in(&dir)?;
        let report = mugai_audit::verify(&files)?;
        let mut lines: Vec<serde_json::Value> = Vec::new();
        for f in files.iter().rev() {
            let text = std::fs::read_to_string(f)?;
            for l in text.lines().rev() {
                if lines.len() >= 500 {
                    break;
                }
                if let Ok(v) = serde_json::from_str(l) {
                    lines.push(v);
                }
            }
        }
        Ok((report, lines))
    })
    .await;
    let (report, lines) = match read {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return internal(lang, Some(&w), "audit log", e),
        Err(e) => return internal(lang, Some(&w), "audit log", e),
    };
    let mut body = match &report.problem {
        None => format!(
            r#"<p class="ok verify">{}: {} ({} {})</p>"#,
            t(lang, "verify"),
            t(lang, "verify_ok"),
            report.records,
            t(lang, "records")
        ),
        Some(p) => format!(
            r#"<p class="error verify">{}: {} — {} #{} ({}:{}) {}</p>"#,
            t(lang, "verify"),
            t(lang, "verify_bad"),
            esc(p.kind.as_str()),
            p.position,
            esc(&p.file.display().to_string()),
            p.line,
            esc(&p.detail)
        ),
    };
    let _ = write!(
        body,
        r#"<table class="audit"><thead><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>"#,
        t(lang, "time"),
        t(lang, "event"),
        t(lang, "user"),
        t(lang, "target"),
        t(lang, "file")
    );
    let s = |v: &serde_json::Value, k: &str| {
        v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string()
    };
    for v in &lines {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            v.get("seq").and_then(|x| x.as_u64()).unwrap_or(0),
            esc(&show_time(lang, &s(v, "time"))),
            esc(&s(v, "verdict")),
            esc(&s(v, "user")),
            esc(&s(v, "id")),
            esc(&s(v, "path"))
        );
    }
    body.push_str("</tbody></table>");
    Html(page(lang, t(lang, "audit"), Some(&w), &body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            esc(r#"<script>alert("1")</script>&'"#),
            "&lt;script&gt;alert(&quot;1&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(url("2026-12-01"), "2026-12-01");
        assert_eq!(url("../x"), "..%2Fx");
    }
}
