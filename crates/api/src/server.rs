//! The routes, their handlers and the job runner.

use crate::auth::{Refusal, Tokens};
use crate::body::{receive, ReceiveError, Received};
use crate::ids::{valid_client_job_id, JobId};
use crate::names;
use crate::problem::Problem;
use crate::store::{Claim, JobRecord, State as JobState, Store};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use base64::Engine as _;
use mugai_audit::{clock, AuditLog, Record};
use mugai_core::config::ServeConfig;
use mugai_core::{Action, Code, FileType, Finding, Job, Outcome, Policy, Report, Sanitize};
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The report header of `POST /v1/sanitize`: the report JSON, base64.
pub const REPORT_HEADER: &str = "x-mugai-report";
/// Largest report header, in bytes of base64; findings beyond it are left
/// out of the header and counted in `X-Mugai-Findings-Omitted`.
pub const MAX_REPORT_HEADER: usize = 32 * 1024;
/// The header that may carry a client job id (or the `client_job_id`
/// query parameter).
pub const CLIENT_JOB_ID_HEADER: &str = "x-client-job-id";

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("no results folder: set `serve.results` or --results")]
    NoResults,
    #[error("no bearer tokens in `serve.tokens`: every request would be refused")]
    NoTokens,
    #[error("{0}: cannot open the results folder: {1}")]
    Results(PathBuf, io::Error),
    #[error("{0}: cannot open the audit log: {1}")]
    Audit(PathBuf, io::Error),
}

/// What the API is made of.
pub struct Options {
    pub config: ServeConfig,
    pub policy: Policy,
    /// Where files are sanitised: the worker pool, or anything else that
    /// implements the seam (a cluster).
    pub sanitizer: Arc<dyn Sanitize>,
    /// Files sanitised at once (at least 1).
    pub max_jobs: usize,
    /// Shown by `GET /v1/health`.
    pub version: String,
}

/// The REST API: open it, then [`Api::run`] it on a listener (or take its
/// [`Api::router`]).
pub struct Api {
    inner: Arc<Inner>,
    pending: Vec<JobRecord>,
}

struct Inner {
    tokens: Tokens,
    max_body: u64,
    pace: crate::body::Pace,
    spool_above: u64,
    keep_secs: u64,
    policy: Arc<Policy>,
    sanitizer: Arc<dyn Sanitize>,
    store: Store,
    audit: Mutex<AuditLog>,
    slots: Semaphore,
    version: String,
}

type Shared = Arc<Inner>;

impl Api {
    /// Opens the results folder (finding the jobs left queued or running)
    /// and the audit log.
    pub fn open(o: Options) -> Result<Api, OpenError> {
        let tokens = Tokens::new(&o.config.tokens);
        if tokens.is_empty() {
            return Err(OpenError::NoTokens);
        }
        let results = o.config.results.clone().ok_or(OpenError::NoResults)?;
        let (store, pending) =
            Store::open(&results).map_err(|e| OpenError::Results(results.clone(), e))?;
        let audit_dir = o
            .config
            .audit
            .clone()
            .unwrap_or_else(|| results.join("audit"));
        let audit = AuditLog::open(&audit_dir).map_err(|e| OpenError::Audit(audit_dir, e))?;
        Ok(Api {
            inner: Arc::new(Inner {
                tokens,
                max_body: o.config.max_body_bytes,
                pace: crate::body::Pace {
                    base: Duration::from_secs(o.config.client_timeout_secs),
                    min_rate: o.config.min_data_rate,
                },
                spool_above: o.config.spool_above_bytes,
                keep_secs: o.config.keep_results_secs,
                policy: Arc::new(o.policy),
                sanitizer: o.sanitizer,
                store,
                audit: Mutex::new(audit),
                slots: Semaphore::new(o.max_jobs.max(1)),
                version: o.version,
            }),
            pending,
        })
    }

    /// The routes, with their state.
    pub fn router(&self) -> Router {
        router(Arc::clone(&self.inner))
    }

    /// Serves on `listener` until `shutdown` completes: runs the jobs left
    /// from before, and removes expired results in the background. Jobs
    /// still queued at shutdown wait on disk for the next start.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        for rec in self.pending {
            if let Some(id) = JobId::parse(&rec.id) {
                tracing::info!(job = %id, "job from before the restart queued again");
                tokio::spawn(run_job(Arc::clone(&self.inner), id, true));
            }
        }
        tokio::spawn(sweeper(Arc::clone(&self.inner)));
        let app = router(self.inner);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Every route: method, path and handler. The router is built from this
/// list, and the OpenAPI document is checked against it.
fn routes() -> Vec<(&'static str, &'static str, MethodRouter<Shared>)> {
    vec![
        ("get", "/v1/health", get(health)),
        ("get", "/v1/openapi.yaml", get(openapi)),
        ("post", "/v1/sanitize", post(sanitize_now)),
        ("post", "/v1/jobs", post(submit)),
        ("get", "/v1/jobs/{id}", get(job_status)),
        ("get", "/v1/jobs/{id}/output", get(job_output)),
        ("get", "/v1/jobs/{id}/report", get(job_report)),
    ]
}

/// The `(method, path)` of every route, methods in lower case.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    routes().into_iter().map(|(m, p, _)| (m, p)).collect()
}

fn router(inner: Shared) -> Router {
    let mut r = Router::new();
    for (_, path, handler) in routes() {
        r = r.route(path, handler);
    }
    r.fallback(|| async { Problem::not_found("no such resource") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this resource does not take that method",
            )
        })
        // Bodies are streamed and limited by `receive`, not buffered.
        .layer(DefaultBodyLimit::disable())
        .with_state(inner)
}

/// The name of the token a request carries.
struct Client(String);

impl FromRequestParts<Shared> for Client {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Problem> {
        let h = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        match s.tokens.check(h) {
            Ok(name) => Ok(Client(name.to_string())),
            Err(Refusal::Missing) => Err(Problem::unauthorized(
                "a bearer token is required: Authorization: Bearer TOKEN",
                false,
            )),
            Err(Refusal::Invalid) => Err(Problem::unauthorized("the token is not valid", true)),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitQuery {
    /// The file's name (else from `Content-Disposition`).
    name: Option<String>,
    /// `POST /v1/jobs` only.
    client_job_id: Option<String>,
}

/// An uploaded file.
struct Upload {
    name: String,
    client_job_id: Option<String>,
    body: Received,
}

/// The name given to a file that comes without one.
const UNNAMED: &str = "upload";

async fn upload(
    s: &Inner,
    query: Result<Query<SubmitQuery>, QueryRejection>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Upload, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let name = match q.name.as_deref() {
        Some(n) if n.len() > names::MAX_NAME => {
            return Err(Problem::bad_request(names::NameError::TooLong.to_string()))
        }
        Some(n) => names::last_component(n),
        None => match headers.get(header::CONTENT_DISPOSITION) {
            Some(v) => names::from_content_disposition(v.as_bytes())
                .map_err(|e| Problem::bad_request(e.to_string()))?,
            None => None,
        },
    }
    .unwrap_or_else(|| UNNAMED.to_string());
    let from_header = match headers.get(CLIENT_JOB_ID_HEADER) {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| Problem::bad_request("X-Client-Job-Id is not ASCII"))?
                .to_string(),
        ),
        None => None,
    };
    let client_job_id = match (q.client_job_id, from_header) {
        (Some(a), Some(b)) if a != b => {
            return Err(Problem::bad_request(
                "client_job_id and X-Client-Job-Id differ",
            ))
        }
        (a, b) => a.or(b),
    };
    if let Some(c) = &client_job_id {
        if !valid_client_job_id(c) {
            return Err(Problem::bad_request(
                "a client job id is 1 to 128 letters, digits, `.`, `_`, `:` or `-`",
            ));
        }
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > s.max_body) {
        tracing::warn!(
            size = declared,
            limit = s.max_body,
            "body refused: too large"
        );
        return Err(Problem::too_large(s.max_body));
    }
    let body = receive(body, s.max_body, s.spool_above, s.store.spool_dir(), s.pace)
        .await
        .map_err(|e| match e {
            ReceiveError::TooLarge(limit) => {
                tracing::warn!(limit, "body refused: too large");
                Problem::too_large(limit)
            }
            ReceiveError::Client(d) => Problem::bad_request(d),
            ReceiveError::TooSlow(n) => {
                tracing::warn!(received = n, "body given up: too slow");
                Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "too-slow",
                    "Request body too slow",
                    format!(
                        "the body did not arrive in time ({n} bytes received); nothing was kept"
                    ),
                )
            }
            ReceiveError::Io(e) => {
                tracing::error!(error = %e, "cannot spool a body");
                Problem::internal("the body could not be stored")
            }
        })?;
    Ok(Upload {
        name,
        client_job_id,
        body,
    })
}

/// Sanitises one file on a worker slot (waiting for one), off the async
/// threads. A panic below is a blocked file, never a lost one.
async fn sanitize(s: &Shared, name: String, body: Received) -> io::Result<Outcome> {
    let _slot = s.slots.acquire().await.map_err(io::Error::other)?;
    sanitize_on_slot(s, name, body).await
}

/// [`sanitize`] for a caller that already holds a slot.
async fn sanitize_on_slot(s: &Shared, name: String, body: Received) -> io::Result<Outcome> {
    let sha = body.sha256.clone();
    let sanitizer = Arc::clone(&s.sanitizer);
    let policy = Arc::clone(&s.policy);
    let result = tokio::task::spawn_blocking(move || -> io::Result<Outcome> {
        let bytes = body.into_bytes()?;
        Ok(sanitizer.sanitize(&policy, Job::new(name, bytes)))
    })
    .await;
    match result {
        Ok(r) => r,
        Err(e) => Ok(Outcome::blocked(
            FileType::Unknown,
            sha,
            Vec::new(),
            Finding::new(
                Code::RebuildFailed,
                Action::Blocked,
                format!("the sanitiser failed: {e}"),
            ),
        )),
    }
}

/// What the audit record of a decision says beyond the outcome.
struct AuditNote<'a> {
    id: &'a str,
    client: &'a str,
    api: &'static str,
    name: &'a str,
    size: u64,
    client_job_id: Option<&'a str>,
    output: Option<String>,
    duration_ms: u64,
}

fn audit_record(n: &AuditNote<'_>, o: &Outcome) -> Record {
    let mut extra = serde_json::Map::new();
    extra.insert("client".into(), n.client.into());
    extra.insert("api".into(), n.api.into());
    if let Some(c) = n.client_job_id {
        extra.insert("client_job_id".into(), c.into());
    }
    Record {
        duration_ms: n.duration_ms,
        output: n.output.clone(),
        extra,
        ..Record::for_outcome(n.id, n.name, n.size, o)
    }
}

/// Appends the record (fsynced) off the async threads. With `once`, a
/// record already there for this id (a job run again after a restart) is
/// not written twice.
async fn write_audit(s: &Shared, record: Record, once: bool) -> io::Result<()> {
    let s = Arc::clone(s);
    tokio::task::spawn_blocking(move || {
        let mut log = s.audit.lock().unwrap_or_else(|p| p.into_inner());
        if once && log.contains_id(&record.id)? {
            return Ok(());
        }
        log.append(record).map(drop)
    })
    .await
    .map_err(io::Error::other)?
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "code": f.code,
        "action": f.action,
        "detail": f.detail,
        "ja": f.code.ja(),
    })
}

fn report_value(name: &str, o: &Outcome) -> Value {
    serde_json::to_value(Report::new(
        name.to_string(),
        o.output_name().map(str::to_string),
        o,
    ))
    .unwrap_or(Value::Null)
}

/// The 422 of a file blocked for `reason` (its disposition's).
fn blocked_problem(name: &str, o: &Outcome, reason: &Finding) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "blocked",
        "File blocked",
        format!("{}: {}", reason.code, reason.detail),
    )
    .with("verdict", "blocked".into())
    .with("reason", finding_json(reason))
    .with(
        "findings",
        o.findings
            .iter()
            .map(finding_json)
            .collect::<Vec<_>>()
            .into(),
    )
    .with("sha256", o.sha256.clone().into())
    .with("report", report_value(name, o))
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The base64 report header value and how many findings it leaves out.
fn report_header(name: &str, o: &Outcome) -> (String, usize) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut report = Report::new(name.to_string(), o.output_name().map(str::to_string), o);
    let mut keep = o.findings.len();
    loop {
        report.findings = &o.findings[..keep];
        let encoded = b64.encode(report.to_json_line());
        if encoded.len() <= MAX_REPORT_HEADER || keep == 0 {
            return (encoded, o.findings.len() - keep);
        }
        keep /= 2;
    }
}

/// The headers that describe a rebuilt file.
fn output_headers(o: &Outcome, h: &mut HeaderMap) {
    let mime = o
        .output_type()
        .map_or("application/octet-stream", FileType::mime);
    h.insert(header::CONTENT_TYPE, header_value(mime));
    if let Some(n) = o.output_name() {
        h.insert(
            header::CONTENT_DISPOSITION,
            header_value(&names::content_disposition(n)),
        );
    }
    h.insert(
        HeaderName::from_static("x-mugai-verdict"),
        HeaderValue::from_static(o.verdict().as_str()),
    );
    h.insert(
        HeaderName::from_static("x-mugai-sha256"),
        header_value(&o.sha256),
    );
    if let Some(sha) = o.output_sha256() {
        h.insert(
            HeaderName::from_static("x-mugai-output-sha256"),
            header_value(sha),
        );
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn health(State(s): State<Shared>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "status": "ok", "version": s.version }),
    )
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml")],
        crate::OPENAPI_YAML,
    )
        .into_response()
}

/// `POST /v1/sanitize`: the rebuilt file now, or 422.
async fn sanitize_now(
    State(s): State<Shared>,
    Client(client): Client,
    query: Result<Query<SubmitQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let up = upload(&s, query, &headers, body).await?;
    if up.client_job_id.is_some() {
        return Err(Problem::bad_request(
            "a client job id applies to POST /v1/jobs, not to POST /v1/sanitize",
        ));
    }
    let id = JobId::new().map_err(|e| Problem::internal(e.to_string()))?;
    // Sanitised and audited in a task of its own: a client that goes away
    // meanwhile does not leave a decision unrecorded.
    let task = {
        let s = Arc::clone(&s);
        let (id, client, name) = (id.clone(), client.clone(), up.name.clone());
        let body = up.body;
        tokio::spawn(async move {
            let size = body.len;
            let started = Instant::now();
            let outcome = sanitize(&s, name.clone(), body).await.map_err(|e| {
                tracing::error!(error = %e, "cannot read a spooled body");
                Problem::internal("the body could not be read back")
            })?;
            let note = AuditNote {
                id: id.as_str(),
                client: &client,
                api: "sanitize",
                name: &name,
                size,
                client_job_id: None,
                output: None,
                duration_ms: started.elapsed().as_millis() as u64,
            };
            if let Err(e) = write_audit(&s, audit_record(&note, &outcome), false).await {
                tracing::error!(error = %e, "cannot write the audit record");
                return Err(Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "audit-unavailable",
                    "Audit log unavailable",
                    "the decision could not be recorded, so nothing is given out",
                ));
            }
            Ok(outcome)
        })
    };
    let outcome = task
        .await
        .map_err(|e| Problem::internal(format!("the request failed: {e}")))??;
    tracing::info!(
        id = %id, client = %client, name = %up.name, verdict = %outcome.verdict(),
        "file sanitised"
    );
    let output = match outcome.as_result() {
        Ok(out) => out.bytes.clone(),
        Err(reason) => return Err(blocked_problem(&up.name, &outcome, reason)),
    };
    let (report, omitted) = report_header(&up.name, &outcome);
    let mut r = Response::new(Body::from(output));
    let h = r.headers_mut();
    output_headers(&outcome, h);
    h.insert(
        HeaderName::from_static(REPORT_HEADER),
        header_value(&report),
    );
    if omitted > 0 {
        h.insert(
            HeaderName::from_static("x-mugai-findings-omitted"),
            header_value(&omitted.to_string()),
        );
    }
    Ok(r)
}

fn location(id: &JobId) -> String {
    format!("/v1/jobs/{id}")
}

fn job_json(rec: &JobRecord) -> Value {
    let o = rec.outcome.as_ref();
    let base = format!("/v1/jobs/{}", rec.id);
    let done = rec.state == JobState::Done;
    let has_output = done && o.is_some_and(|o| !o.is_blocked());
    json!({
        "id": rec.id,
        "state": rec.state,
        "client_job_id": rec.client_job_id,
        "name": rec.name,
        "size": rec.size,
        "sha256": rec.sha256,
        "created": rec.created,
        "finished": rec.finished,
        "verdict": o.map(|o| o.verdict()),
        "type": o.map(|o| o.input_type.name()),
        "output_type": o.and_then(|o| o.output_type()).map(FileType::name),
        "output_name": o.and_then(|o| o.output_name().map(str::to_string)),
        "output_sha256": o.and_then(|o| o.output_sha256().map(str::to_string)),
        "reason": o.and_then(|o| o.reason()).map(finding_json),
        "findings": o.map(|o| o.findings.iter().map(finding_json).collect::<Vec<_>>()),
        "error": rec.error,
        "links": {
            "self": base,
            "output": has_output.then(|| format!("{base}/output")),
            "report": done.then(|| format!("{base}/report")),
        },
    })
}

fn job_created(status: StatusCode, rec: &JobRecord) -> Response {
    let mut r = json_response(status, &job_json(rec));
    r.headers_mut().insert(
        header::LOCATION,
        header_value(&format!("/v1/jobs/{}", rec.id)),
    );
    r
}

/// `POST /v1/jobs`: queue a file; 202 with the job, or 200 with the job a
/// client job id already names.
async fn submit(
    State(s): State<Shared>,
    Client(client): Client,
    query: Result<Query<SubmitQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let up = upload(&s, query, &headers, body).await?;
    let key = up.client_job_id.clone().map(|c| (client.clone(), c));
    let claim = s
        .store
        .claim(key.clone(), &up.body.sha256)
        .map_err(|e| Problem::internal(e.to_string()))?;
    let id = match claim {
        Claim::Same(id) => {
            let rec = load(&s, &id).await?;
            return Ok(match rec {
                Some(rec) => job_created(StatusCode::OK, &rec),
                // Being created by a concurrent request right now.
                None => {
                    let mut r = json_response(
                        StatusCode::ACCEPTED,
                        &json!({ "id": id.as_str(), "state": "queued" }),
                    );
                    r.headers_mut()
                        .insert(header::LOCATION, header_value(&location(&id)));
                    r
                }
            });
        }
        Claim::Conflict(id) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "client-job-id-conflict",
                "Client job id already used",
                "this client job id names a job with a different body",
            )
            .with("job", id.as_str().into()));
        }
        Claim::New(id) => id,
    };
    let rec = JobRecord {
        id: id.to_string(),
        client: client.clone(),
        client_job_id: up.client_job_id.clone(),
        name: up.name.clone(),
        size: up.body.len,
        sha256: up.body.sha256.clone(),
        state: JobState::Queued,
        created: clock::rfc3339(clock::now()),
        finished: None,
        finished_unix: None,
        outcome: None,
        error: None,
    };
    let created = {
        let s2 = Arc::clone(&s);
        let rec = rec.clone();
        let body = up.body;
        blocking(move || s2.store.create(&rec, body)).await
    };
    if let Err(e) = created {
        if let Some(k) = &key {
            s.store.release(k, &id);
        }
        tracing::error!(error = %e, "cannot store a job");
        return Err(Problem::internal("the job could not be stored"));
    }
    tracing::info!(job = %id, client = %client, name = %rec.name, "job queued");
    tokio::spawn(run_job(Arc::clone(&s), id, false));
    Ok(job_created(StatusCode::ACCEPTED, &rec))
}

/// Runs one stored job to its end. `recovered`: run again after a restart.
async fn run_job(s: Shared, id: JobId, recovered: bool) {
    if let Err(e) = run_job_inner(&s, &id, recovered).await {
        tracing::error!(job = %id, error = %e, "job failed");
        let s2 = Arc::clone(&s);
        let r = blocking(move || {
            let Some(mut rec) = s2.store.load(&id)? else {
                return Ok(());
            };
            rec.state = JobState::Failed;
            rec.error = Some(e.to_string());
            let now = clock::now();
            rec.finished = Some(clock::rfc3339(now));
            rec.finished_unix = Some(now.unix_timestamp().max(0) as u64);
            s2.store.finish(&rec, None)
        })
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "cannot record a failed job");
        }
    }
}

async fn run_job_inner(s: &Shared, id: &JobId, recovered: bool) -> io::Result<()> {
    // The input is read only once a slot is free: waiting jobs stay on disk.
    let _slot = s.slots.acquire().await.map_err(io::Error::other)?;
    let started = Instant::now();
    let rec = {
        let s2 = Arc::clone(s);
        let id = id.clone();
        blocking(move || {
            let Some(mut rec) = s2.store.load(&id)? else {
                return Ok(None);
            };
            rec.state = JobState::Running;
            s2.store.save(&rec)?;
            let input = s2.store.input(&id)?;
            Ok(Some((rec, input)))
        })
        .await?
    };
    let Some((mut rec, input)) = rec else {
        return Ok(());
    };
    let outcome = sanitize_on_slot(s, rec.name.clone(), Received::from_bytes(input)).await?;
    let blocked = outcome.is_blocked();
    let note = AuditNote {
        id: id.as_str(),
        client: &rec.client,
        api: "jobs",
        name: &rec.name,
        size: rec.size,
        client_job_id: rec.client_job_id.as_deref(),
        output: (!blocked).then(|| format!("{id}/output")),
        duration_ms: started.elapsed().as_millis() as u64,
    };
    write_audit(s, audit_record(&note, &outcome), recovered)
        .await
        .map_err(|e| io::Error::other(format!("the audit record could not be written: {e}")))?;
    tracing::info!(job = %id, client = %rec.client, name = %rec.name, verdict = %outcome.verdict(), "job done");
    let now = clock::now();
    rec.state = JobState::Done;
    rec.finished = Some(clock::rfc3339(now));
    rec.finished_unix = Some(now.unix_timestamp().max(0) as u64);
    let mut outcome = outcome;
    // The record keeps the outcome without its bytes, as it is stored.
    let output = outcome.output_mut().map(|o| std::mem::take(&mut o.bytes));
    rec.outcome = Some(outcome);
    let s2 = Arc::clone(s);
    blocking(move || s2.store.finish(&rec, output.as_deref())).await
}

async fn load(s: &Shared, id: &JobId) -> Result<Option<JobRecord>, Problem> {
    let s2 = Arc::clone(s);
    let id = id.clone();
    blocking(move || s2.store.load(&id)).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read a job");
        Problem::internal("the job could not be read")
    })
}

/// The caller's job named in the path: 400 for what is not a job id, 404
/// for a job that does not exist (or expired, or belongs to another token).
async fn owned_job(
    s: &Shared,
    client: &str,
    path: Result<Path<String>, PathRejection>,
) -> Result<(JobId, JobRecord), Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_request(e.body_text()))?;
    let id = JobId::parse(&raw)
        .ok_or_else(|| Problem::bad_request("a job id is 32 lower-case hex digits"))?;
    match load(s, &id).await? {
        Some(rec) if rec.client == client => Ok((id, rec)),
        _ => Err(Problem::not_found(format!(
            "no job {id} (unknown, expired or another client's)"
        ))),
    }
}

async fn job_status(
    State(s): State<Shared>,
    Client(client): Client,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let (_, rec) = owned_job(&s, &client, path).await?;
    Ok(json_response(StatusCode::OK, &job_json(&rec)))
}

fn not_done(rec: &JobRecord) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "not-done",
        "Job not done",
        format!(
            "the job is {}; poll /v1/jobs/{}",
            state_name(rec.state),
            rec.id
        ),
    )
    .with("state", json!(rec.state))
}

fn state_name(s: JobState) -> &'static str {
    match s {
        JobState::Queued => "queued",
        JobState::Running => "running",
        JobState::Done => "done",
        JobState::Failed => "failed",
    }
}

async fn job_output(
    State(s): State<Shared>,
    Client(client): Client,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let (id, rec) = owned_job(&s, &client, path).await?;
    let outcome = match (&rec.outcome, rec.state) {
        (Some(o), JobState::Done) => o,
        _ => return Err(not_done(&rec)),
    };
    if let Err(reason) = outcome.as_result() {
        let mut p = blocked_problem(&rec.name, outcome, reason);
        p.status = StatusCode::NOT_FOUND;
        p.detail = format!("the file was blocked, so there is no output: {}", p.detail);
        return Err(p);
    }
    let path = s.store.output_path(&id);
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!(job = %id, error = %e, "cannot open an output");
        Problem::internal("the output could not be read")
    })?;
    let len = file
        .metadata()
        .await
        .map_err(|e| Problem::internal(e.to_string()))?
        .len();
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt as _;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, io::Error>(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    output_headers(outcome, h);
    h.insert(header::CONTENT_LENGTH, header_value(&len.to_string()));
    Ok(r)
}

async fn job_report(
    State(s): State<Shared>,
    Client(client): Client,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let (_, rec) = owned_job(&s, &client, path).await?;
    match (&rec.outcome, rec.state) {
        (Some(o), JobState::Done) => Ok(json_response(StatusCode::OK, &report_value(&rec.name, o))),
        _ => Err(not_done(&rec)),
    }
}

/// Removes expired results now and then: every quarter of the keep time,
/// at least every minute and at most every second.
async fn sweeper(s: Shared) {
    let every = Duration::from_secs((s.keep_secs / 4).clamp(1, 60));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let s2 = Arc::clone(&s);
        let now = clock::now().unix_timestamp().max(0) as u64;
        match blocking(move || s2.store.sweep(s2.keep_secs, now)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "expired results removed"),
            Err(e) => tracing::error!(error = %e, "cannot remove expired results"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugai_core::Output;

    fn outcome(n: usize) -> Outcome {
        let findings = (0..n)
            .map(|i| {
                Finding::new(
                    Code::PdfJavascript,
                    Action::Removed,
                    format!("object {i}: {}", "x".repeat(100)),
                )
            })
            .collect();
        Outcome::passed(
            FileType::Pdf,
            "a".repeat(64),
            findings,
            Output {
                file_type: FileType::Pdf,
                name: "申請書.pdf".into(),
                bytes: b"%PDF".to_vec(),
                sha256: "b".repeat(64),
            },
        )
    }

    #[test]
    fn the_report_header_is_the_report_in_base64() {
        let o = outcome(2);
        let (h, omitted) = report_header("申請書.pdf", &o);
        assert_eq!(omitted, 0);
        let json = base64::engine::general_purpose::STANDARD.decode(h).unwrap();
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v, report_value("申請書.pdf", &o));
        assert_eq!(v["findings"].as_array().unwrap().len(), 2);
        assert_eq!(v["output"], "申請書.pdf");
    }

    #[test]
    fn a_long_report_header_leaves_findings_out_and_says_how_many() {
        let o = outcome(2000);
        let (h, omitted) = report_header("a.pdf", &o);
        assert!(h.len() <= MAX_REPORT_HEADER);
        assert!(omitted > 0);
        let json = base64::engine::general_purpose::STANDARD.decode(h).unwrap();
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["findings"].as_array().unwrap().len() + omitted, 2000);
    }

    #[test]
    fn the_openapi_document_lists_every_route_and_no_other() {
        let documented = crate::openapi::operations(crate::OPENAPI_YAML);
        let mut routes: Vec<(String, String)> = route_table()
            .into_iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        routes.sort();
        assert_eq!(documented, routes);
    }
}
