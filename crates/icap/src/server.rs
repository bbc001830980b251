//! The ICAP server: connections, requests, answers, audit records.

use crate::http::{self, HttpHead};
use crate::istag::IsTag;
use crate::page;
use crate::parse::{
    self, read_chunks, read_exact_bounded, read_icap_head, ChunksEnd, Encapsulated, IcapHead,
    Method, ParseError, Section,
};
use crate::spool::Spool;
use mugai_audit::Record;
use mugai_core::config::{IcapConfig, Policy};
use mugai_core::{
    sha256_hex, Blocked, Code, Disposition, FileType, Job, Outcome, Sanitize, Verdict,
};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

/// The service path: `icap://ADDR/mugai`.
pub const SERVICE: &str = "/mugai";

/// What the server needs besides the sanitiser.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: IcapConfig,
    /// Shared with each body's job rather than copied.
    pub policy: Arc<Policy>,
    /// The engine's version (part of the ISTag, and the `Service` header).
    pub engine_version: String,
    /// A stable text of the effective configuration (for the ISTag).
    pub config_text: String,
    /// Bodies loaded into memory and sanitised at once (the pool's size):
    /// bounds the memory bodies take beyond the spool threshold.
    pub jobs: usize,
    /// The signature version known at start.
    pub signatures: String,
}

struct Shared {
    s: Settings,
    sanitizer: Arc<dyn Sanitize>,
    audit: Option<Arc<Mutex<mugai_audit::AuditLog>>>,
    istag: Arc<IsTag>,
    conns: Arc<Semaphore>,
    jobs: Semaphore,
    counter: AtomicU64,
}

/// A bound ICAP server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listen", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Server {
    /// Binds `settings.config.listen` and opens the audit log.
    pub async fn bind(settings: Settings, sanitizer: Arc<dyn Sanitize>) -> io::Result<Server> {
        let listener = TcpListener::bind(&settings.config.listen).await?;
        let audit = match &settings.config.audit {
            Some(dir) => {
                let dir = dir.clone();
                let log = tokio::task::spawn_blocking(move || mugai_audit::AuditLog::open(&dir))
                    .await
                    .map_err(io::Error::other)??;
                Some(Arc::new(Mutex::new(log)))
            }
            None => None,
        };
        let istag = Arc::new(IsTag::new(
            &settings.config_text,
            &settings.engine_version,
            &settings.signatures,
        ));
        let shared = Arc::new(Shared {
            conns: Arc::new(Semaphore::new(settings.config.max_connections)),
            jobs: Semaphore::new(settings.jobs.max(1)),
            s: settings,
            sanitizer,
            audit,
            istag,
            counter: AtomicU64::new(0),
        });
        Ok(Server { listener, shared })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The ISTag, to record a new signature version while serving.
    pub fn istag(&self) -> Arc<IsTag> {
        Arc::clone(&self.shared.istag)
    }

    /// Accepts connections until an accept error that is not transient.
    pub async fn run(self) -> io::Result<()> {
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(x) => x,
                Err(e) if is_transient(&e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let _ = stream.set_nodelay(true);
            let shared = Arc::clone(&self.shared);
            match Arc::clone(&shared.conns).try_acquire_owned() {
                Ok(permit) => {
                    tokio::spawn(async move {
                        serve_connection(&shared, stream, peer).await;
                        drop(permit);
                    });
                }
                Err(_) => {
                    tracing::warn!(%peer, "too many ICAP connections; answered 503");
                    tokio::spawn(async move {
                        let mut stream = stream;
                        let r = response(
                            "503 Service Unavailable",
                            &shared.istag.value(),
                            &[],
                            "null-body=0",
                            true,
                        );
                        let _ = tokio::time::timeout(Duration::from_secs(5), async {
                            stream.write_all(&r).await?;
                            stream.shutdown().await
                        })
                        .await;
                    });
                }
            }
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || e.raw_os_error().is_some_and(|c| c == 24 || c == 23) // EMFILE, ENFILE
}

/// A stream whose every read and write must make progress within a time
/// limit; then it fails with `TimedOut`.
struct Timed<S> {
    inner: S,
    limit: Duration,
    read_sleep: Pin<Box<Sleep>>,
    read_armed: bool,
    write_sleep: Pin<Box<Sleep>>,
    write_armed: bool,
}

impl<S> Timed<S> {
    fn new(inner: S, limit: Duration) -> Self {
        Timed {
            inner,
            limit,
            read_sleep: Box::pin(tokio::time::sleep(limit)),
            read_armed: false,
            write_sleep: Box::pin(tokio::time::sleep(limit)),
            write_armed: false,
        }
    }

    fn set_limit(&mut self, limit: Duration) {
        self.limit = limit;
        self.read_armed = false;
        self.write_armed = false;
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client took too long")
}

fn wait(
    sleep: &mut Pin<Box<Sleep>>,
    armed: &mut bool,
    limit: Duration,
    cx: &mut Context<'_>,
) -> bool {
    if !*armed {
        sleep.as_mut().reset(tokio::time::Instant::now() + limit);
        *armed = true;
    }
    sleep.as_mut().poll(cx).is_ready()
}

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = &mut *self;
        match Pin::new(&mut me.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                me.read_armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if wait(&mut me.read_sleep, &mut me.read_armed, me.limit, cx) {
                    Poll::Ready(Err(timed_out()))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        match Pin::new(&mut me.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                me.write_armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if wait(&mut me.write_sleep, &mut me.write_armed, me.limit, cx) {
                    Poll::Ready(Err(timed_out()))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

type Io = BufReader<Timed<TcpStream>>;

/// An ICAP response head (and nothing else). `extra` lines are written
/// as given (a folded value carries its own CRLF-tab continuations).
fn response(
    status: &str,
    istag: &str,
    extra: &[(String, String)],
    encapsulated: &str,
    close: bool,
) -> Vec<u8> {
    let mut r = format!("ICAP/1.0 {status}\r\nISTag: {istag}\r\nServer: mugai\r\n");
    if close {
        r.push_str("Connection: close\r\n");
    }
    for (n, v) in extra {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str(&format!("Encapsulated: {encapsulated}\r\n\r\n"));
    r.into_bytes()
}

async fn serve_connection(shared: &Shared, stream: TcpStream, peer: SocketAddr) {
    let c = &shared.s.config;
    let idle = Duration::from_secs(c.idle_timeout_secs);
    let client = Duration::from_secs(c.client_timeout_secs);
    let mut io: Io = BufReader::with_capacity(64 * 1024, Timed::new(stream, idle));
    loop {
        io.get_mut().set_limit(idle);
        let head = read_icap_head(&mut io).await;
        io.get_mut().set_limit(client);
        let head = match head {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(ParseError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => return,
            Err(e) => {
                tracing::warn!(%peer, "bad ICAP request: {e}");
                let status = match e {
                    ParseError::HeadTooLarge | ParseError::LineTooLong(_) => {
                        "400 Bad Request (header too large)"
                    }
                    _ => "400 Bad Request",
                };
                let r = response(status, &shared.istag.value(), &[], "null-body=0", true);
                let _ = io.write_all(&r).await;
                let _ = io.shutdown().await;
                return;
            }
        };
        match handle(shared, &head, &mut io, peer).await {
            Ok(true) => {}
            Ok(false) => {
                let _ = io.flush().await;
                let _ = io.shutdown().await;
                return;
            }
            Err(e) => {
                tracing::debug!(%peer, "ICAP connection ended: {e}");
                return;
            }
        }
    }
}

/// Answers one request; `Ok(true)` when the connection stays open.
async fn handle(
    shared: &Shared,
    head: &IcapHead,
    io: &mut Io,
    peer: SocketAddr,
) -> io::Result<bool> {
    let istag = shared.istag.value();
    let close = head.wants_close();
    // Whether a body follows that we have not read: then the connection
    // cannot be reused after an early answer.
    let has_body = head
        .headers
        .get("Encapsulated")
        .map(|e| !e.contains("null-body"))
        .unwrap_or(false);
    if head.service() != SERVICE {
        let r = response(
            "404 ICAP Service Not Found",
            &istag,
            &[],
            "null-body=0",
            true,
        );
        io.write_all(&r).await?;
        return Ok(false);
    }
    let method = match head.method {
        Ok(m) => m,
        Err(_) => {
            let r = response("405 Method Not Allowed", &istag, &[], "null-body=0", true);
            io.write_all(&r).await?;
            return Ok(false);
        }
    };
    if method == Method::Options {
        let c = &shared.s.config;
        let extra = vec![
            ("Methods".to_string(), "RESPMOD, REQMOD".to_string()),
            (
                "Service".to_string(),
                format!("mugai {}", shared.s.engine_version),
            ),
            ("Service-ID".to_string(), "mugai".to_string()),
            ("Max-Connections".to_string(), c.max_connections.to_string()),
            ("Options-TTL".to_string(), c.options_ttl_secs.to_string()),
            ("Allow".to_string(), "204".to_string()),
            ("Preview".to_string(), c.preview_bytes.to_string()),
            ("Transfer-Preview".to_string(), "*".to_string()),
        ];
        let close = close || has_body;
        io.write_all(&response("200 OK", &istag, &extra, "null-body=0", close))
            .await?;
        io.flush().await?;
        return Ok(!close);
    }
    modify(shared, head, method, io, peer)
        .await
        .map(|keep| keep && !close)
}

/// What happened to one REQMOD/RESPMOD, for the log and the audit record.
struct Decision {
    icap_status: u16,
    result: &'static str,
    outcome: Option<Outcome>,
    size: u64,
    error: Option<String>,
}

async fn modify(
    shared: &Shared,
    head: &IcapHead,
    method: Method,
    io: &mut Io,
    peer: SocketAddr,
) -> io::Result<bool> {
    let started = Instant::now();
    let istag = shared.istag.value();
    let c = &shared.s.config;
    let bad = |why: String| Decision {
        icap_status: 400,
        result: "bad_request",
        outcome: None,
        size: 0,
        error: Some(why),
    };

    // The encapsulated sections.
    let enc = match head
        .headers
        .get("Encapsulated")
        .ok_or_else(|| ParseError::BadEncapsulated("missing".into()))
        .and_then(Encapsulated::parse)
    {
        Ok(e) => e,
        Err(e) => {
            let d = bad(e.to_string());
            return refuse(shared, io, head, method, None, d, peer, started, false).await;
        }
    };
    let mut req: Option<HttpHead> = None;
    let mut res: Option<HttpHead> = None;
    for &(section, len) in &enc.headers {
        let bytes = match read_exact_bounded(io, len).await {
            Ok(b) => b,
            Err(e) => return Err(io::Error::other(e.to_string())),
        };
        match HttpHead::parse(&bytes) {
            Ok(h) if section == Section::ReqHdr => req = Some(h),
            Ok(h) => res = Some(h),
            Err(e) => {
                let d = bad(format!("encapsulated HTTP headers: {e}"));
                return refuse(
                    shared,
                    io,
                    head,
                    method,
                    req.as_ref(),
                    d,
                    peer,
                    started,
                    true,
                )
                .await;
            }
        }
    }
    let (message, body_section) = match method {
        Method::Reqmod => (req.clone(), Section::ReqBody),
        _ => (res.clone(), Section::ResBody),
    };
    let Some(message) = message else {
        let d = bad("the encapsulated HTTP message is missing".into());
        return refuse(
            shared,
            io,
            head,
            method,
            req.as_ref(),
            d,
            peer,
            started,
            true,
        )
        .await;
    };
    if enc.has_body() && enc.body != body_section {
        let d = bad(format!("unexpected body section for {}", method.as_str()));
        return refuse(
            shared,
            io,
            head,
            method,
            req.as_ref(),
            d,
            peer,
            started,
            true,
        )
        .await;
    }
    let (name, named) = http::body_name(req.as_ref(), Some(&message));
    let url = req
        .as_ref()
        .and_then(|r| r.request_target())
        .unwrap_or("")
        .to_string();

    // No body: nothing to sanitise; the message passes as it is.
    if !enc.has_body() {
        let d = Decision {
            icap_status: if head.allows_204() { 204 } else { 200 },
            result: "no_body",
            outcome: None,
            size: 0,
            error: None,
        };
        if !audit(shared, head, method, &url, &name, &d, peer, started).await {
            return audit_failed(shared, io).await;
        }
        let r = if head.allows_204() {
            response("204 No Content", &istag, &[], "null-body=0", false)
        } else {
            let h = message.to_bytes();
            let enc = match method {
                Method::Reqmod => format!("req-hdr=0, null-body={}", h.len()),
                _ => format!("res-hdr=0, null-body={}", h.len()),
            };
            let mut r = response("200 OK", &istag, &[], &enc, false);
            r.extend_from_slice(&h);
            r
        };
        io.write_all(&r).await?;
        io.flush().await?;
        return Ok(true);
    }

    // A declared length over the limit is refused before any byte of it.
    let declared = message
        .headers
        .get("Content-Length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|l| l > c.max_body_bytes) {
        let d = too_large(c.max_body_bytes, declared);
        return refuse(
            shared,
            io,
            head,
            method,
            req.as_ref(),
            d,
            peer,
            started,
            true,
        )
        .await;
    }

    // The body: the preview, then (after 100 Continue) the rest.
    let mut spool = Spool::new(c.memory_bytes, c.spool_dir.clone());
    let mut total = 0u64;
    let preview = match head.preview() {
        Ok(p) => p,
        Err(e) => {
            let d = bad(format!("Preview: {e}"));
            return refuse(
                shared,
                io,
                head,
                method,
                req.as_ref(),
                d,
                peer,
                started,
                true,
            )
            .await;
        }
    };
    let mut read = read_chunks(io, &mut spool, &mut total, c.max_body_bytes).await;
    if preview.is_some() && matches!(read, Ok(ChunksEnd::Zero)) {
        io.write_all(b"ICAP/1.0 100 Continue\r\n\r\n").await?;
        io.flush().await?;
        read = read_chunks(io, &mut spool, &mut total, c.max_body_bytes).await;
    }
    match read {
        Ok(_) => {}
        Err(ParseError::TooLarge(_)) => {
            let d = too_large(c.max_body_bytes, declared);
            return refuse(
                shared,
                io,
                head,
                method,
                req.as_ref(),
                d,
                peer,
                started,
                true,
            )
            .await;
        }
        Err(ParseError::Io(e)) => return Err(e),
        Err(e) => {
            let d = bad(format!("body: {e}"));
            return refuse(
                shared,
                io,
                head,
                method,
                req.as_ref(),
                d,
                peer,
                started,
                true,
            )
            .await;
        }
    }

    // Sanitise, with at most `jobs` bodies in memory at once.
    let permit = shared.jobs.acquire().await.map_err(io::Error::other)?;
    let size = spool.len();
    let bytes = spool.into_bytes().await?;
    let sanitizer = Arc::clone(&shared.sanitizer);
    let policy = Arc::clone(&shared.s.policy);
    // A range is a piece of a file: pieces judged one by one could
    // reassemble into what the whole would have been blocked as.
    let partial = message.status() == Some(206) || message.headers.get("Content-Range").is_some();
    let job = Job::new(name.clone(), bytes);
    let run = move || {
        if partial {
            Outcome::blocked(
                FileType::Unknown,
                sha256_hex(&job.bytes),
                Vec::new(),
                Blocked::new(
                    Code::RebuildFailed,
                    "a partial body (206 or Content-Range) is a piece of a file and cannot be rebuilt",
                )
                .into_finding(),
            )
        } else {
            sanitizer.sanitize(&policy, job)
        }
    };
    let mut outcome = match tokio::task::spawn_blocking(run).await {
        Ok(o) => o,
        Err(e) => {
            // A panic in the sanitiser: nothing passes.
            let d = Decision {
                icap_status: 500,
                result: "error",
                outcome: None,
                size,
                error: Some(format!("the sanitiser failed: {e}")),
            };
            drop(permit);
            return refuse(
                shared,
                io,
                head,
                method,
                req.as_ref(),
                d,
                peer,
                started,
                false,
            )
            .await;
        }
    };

    let unchanged = outcome.verdict() == Verdict::Clean
        && outcome.output_sha256() == Some(outcome.sha256.as_str());
    let verdict = outcome.verdict().as_str();
    let mut extra = vec![("X-Mugai-Verdict".to_string(), verdict.to_string())];
    let (status, result, reply_body, http_head, kind): (u16, &str, Vec<u8>, Option<HttpHead>, _) =
        match &mut outcome.disposition {
            Disposition::Passed(out) => {
                // The bytes go to the client; the outcome keeps the rest.
                let bytes = std::mem::take(&mut out.bytes);
                if unchanged && head.allows_204() {
                    (204, "unchanged", Vec::new(), None, method)
                } else {
                    let new_name = Some(out.name.as_str()).filter(|n| named && *n != name);
                    let mime = out.file_type.mime();
                    let h = http::rebuilt_head(&message, bytes.len(), mime, new_name, verdict);
                    let result = if unchanged { "unchanged" } else { "rebuilt" };
                    (200, result, bytes, Some(h), method)
                }
            }
            Disposition::Blocked { reason } => {
                extra.extend(page::icap_headers(reason, &name));
                let upload = method == Method::Reqmod;
                let body = page::blocked_page(reason, &outcome.sha256, &name, upload);
                let mut h = HttpHead {
                    start: "HTTP/1.1 403 Forbidden".into(),
                    headers: Default::default(),
                };
                h.headers.set("Content-Type", "text/html; charset=utf-8");
                h.headers.set("Content-Length", body.len().to_string());
                h.headers.set("Cache-Control", "no-store");
                h.headers.set("X-Mugai-Verdict", "blocked");
                h.headers
                    .set("X-Blocked-Reason", page::blocked_reason(reason));
                // The blocked answer is always an HTTP response.
                (200, "blocked", body, Some(h), Method::Respmod)
            }
        };
    let d = Decision {
        icap_status: status,
        result,
        outcome: Some(outcome),
        size,
        error: None,
    };
    if !audit(shared, head, method, &url, &name, &d, peer, started).await {
        return audit_failed(shared, io).await;
    }
    match http_head {
        None => {
            let r = response("204 No Content", &istag, &extra, "null-body=0", false);
            io.write_all(&r).await?;
        }
        Some(h) => {
            let hb = h.to_bytes();
            let enc = match kind {
                Method::Reqmod => format!("req-hdr=0, req-body={}", hb.len()),
                _ => format!("res-hdr=0, res-body={}", hb.len()),
            };
            let mut r = response("200 OK", &istag, &extra, &enc, false);
            r.extend_from_slice(&hb);
            io.write_all(&r).await?;
            parse::write_chunks(io, &reply_body).await?;
            io.write_all(b"0\r\n\r\n").await?;
        }
    }
    io.flush().await?;
    drop(permit);
    Ok(true)
}

fn too_large(max: u64, declared: Option<u64>) -> Decision {
    Decision {
        icap_status: 413,
        result: "refused",
        outcome: None,
        size: declared.unwrap_or(0),
        error: Some(format!(
            "{}: the body is over icap.max_body_bytes ({max})",
            Code::LimitSize
        )),
    }
}

/// Answers an error status, audits it, and ends the connection (the rest
/// of the request, if any, is read and dropped for a while first so that
/// the client sees the answer rather than a reset).
#[allow(clippy::too_many_arguments)]
async fn refuse(
    shared: &Shared,
    io: &mut Io,
    head: &IcapHead,
    method: Method,
    req: Option<&HttpHead>,
    d: Decision,
    peer: SocketAddr,
    started: Instant,
    drain: bool,
) -> io::Result<bool> {
    let url = req
        .and_then(|r| r.request_target())
        .unwrap_or("")
        .to_string();
    let (name, _) = http::body_name(req, None);
    let _ = audit(shared, head, method, &url, &name, &d, peer, started).await;
    let status = match d.icap_status {
        413 => "413 Request Entity Too Large",
        500 => "500 Server Error",
        _ => "400 Bad Request",
    };
    let mut extra = Vec::new();
    if let Some(e) = &d.error {
        extra.push(("X-Mugai-Error".to_string(), page::header_safe(e, 300)));
    }
    let r = response(status, &shared.istag.value(), &extra, "null-body=0", true);
    io.write_all(&r).await?;
    io.flush().await?;
    if drain {
        let _ = io.get_mut().inner.shutdown().await;
        let limit = Duration::from_secs(shared.s.config.client_timeout_secs.min(30));
        let _ = tokio::time::timeout(limit, async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match io.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
    Ok(false)
}

async fn audit_failed(shared: &Shared, io: &mut Io) -> io::Result<bool> {
    let r = response(
        "500 Server Error",
        &shared.istag.value(),
        &[(
            "X-Mugai-Error".to_string(),
            "the audit record could not be written".to_string(),
        )],
        "null-body=0",
        true,
    );
    io.write_all(&r).await?;
    Ok(false)
}

/// Logs the decision and appends its audit record (fsynced before the
/// answer). `false` when the record could not be written.
#[allow(clippy::too_many_arguments)]
async fn audit(
    shared: &Shared,
    head: &IcapHead,
    method: Method,
    url: &str,
    name: &str,
    d: &Decision,
    peer: SocketAddr,
    started: Instant,
) -> bool {
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let o = d.outcome.as_ref();
    let verdict = match (o, d.result) {
        (Some(o), _) => o.verdict().as_str(),
        (None, "no_body") => "none",
        (None, _) => "blocked",
    };
    let reason = o
        .and_then(|o| o.reason())
        .map(|r| format!("{}: {}", r.code, r.detail))
        .or_else(|| d.error.clone());
    let sha = o.map(|o| o.sha256.clone()).unwrap_or_default();
    let log_url: String = url.chars().filter(|c| !c.is_control()).take(2000).collect();
    match verdict {
        "blocked" => tracing::info!(
            method = method.as_str(), %peer, url = %log_url, result = d.result,
            status = d.icap_status, reason = %reason.clone().unwrap_or_default(), "icap"
        ),
        _ => tracing::info!(
            method = method.as_str(), %peer, url = %log_url, result = d.result,
            status = d.icap_status, verdict, "icap"
        ),
    }
    let Some(log) = shared.audit.clone() else {
        return true;
    };
    let mut extra = Map::new();
    extra.insert("source".into(), json!("icap"));
    extra.insert("method".into(), json!(method.as_str()));
    extra.insert("peer".into(), json!(peer.to_string()));
    extra.insert("name".into(), json!(name));
    extra.insert("result".into(), json!(d.result));
    extra.insert("icap_status".into(), json!(d.icap_status));
    if let Some(ua) = head.headers.get("X-Client-IP") {
        extra.insert("client_ip".into(), Value::String(page::header_safe(ua, 64)));
    }
    let id = format!("icap-{}-{n:06}", sha.get(..12).unwrap_or("000000000000"));
    let path = if log_url.is_empty() {
        "(no URL)".to_string()
    } else {
        log_url
    };
    let mut record = match o {
        Some(o) => Record::for_outcome(id, path, d.size, o),
        None => Record {
            id,
            path,
            size: d.size,
            file_type: "unknown".into(),
            verdict: verdict.to_string(),
            ..Record::default()
        },
    };
    if d.icap_status == 413 {
        record.codes.push(Code::LimitSize.as_str().to_string());
        record.codes.sort();
        record.codes.dedup();
    }
    let record = Record {
        time: mugai_audit::clock::rfc3339(mugai_audit::clock::now()),
        reason,
        duration_ms: started.elapsed().as_millis() as u64,
        output: None,
        extra,
        ..record
    };
    match tokio::task::spawn_blocking(move || {
        log.lock().unwrap_or_else(|p| p.into_inner()).append(record)
    })
    .await
    {
        Ok(Ok(_)) => true,
        other => {
            tracing::error!(?other, "cannot write the ICAP audit record");
            false
        }
    }
}
