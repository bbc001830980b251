//! Integration tests: the REST API. The real `mugai serve` (with its worker
//! pool) listens on a free loopback port and `curl` drives it.

use crate::pdf;
use crate::relay::{free_port, wait_for_port};
use crate::util;
use base64::Engine as _;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const TOKEN: &str = "t0ken-proxy-1";
const OTHER_TOKEN: &str = "t0ken-transfer";

/// A running `mugai serve`, stopped (SIGTERM) when dropped.
pub(crate) struct Server {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts `mugai serve` with the results in `dir/results` and `extra`
    /// lines in `[serve]`.
    pub(crate) fn start(dir: &Path, extra: &str) -> Server {
        let port = free_port();
        let config = dir.join("mugai.toml");
        std::fs::write(
            &config,
            format!(
                "[serve]\nlisten = \"127.0.0.1:{port}\"\nresults = \"{}\"\n\
                 tokens = [ {{ name = \"proxy-1\", sha256 = \"{}\" }}, \
                 {{ name = \"transfer\", sha256 = \"{}\" }} ]\n{extra}\n",
                dir.join("results").display(),
                mugai_core::sha256_hex(TOKEN.as_bytes()),
                mugai_core::sha256_hex(OTHER_TOKEN.as_bytes()),
            ),
        )
        .unwrap();
        let log = dir.join(format!("serve-{port}.log"));
        let child = util::mugai()
            .args(["serve", "--workers", "2", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start mugai serve");
        let s = Server {
            child: Some(child),
            port,
            log,
        };
        wait_for_port(port);
        s
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then waits for the exit.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let start = Instant::now();
            while c.try_wait().ok().flatten().is_none() {
                if start.elapsed() > Duration::from_secs(20) {
                    let _ = c.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One HTTP answer as curl saw it.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    /// Header names in lower case, of the final response.
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Checks an RFC 7807 answer and returns its body.
    pub(crate) fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(
            p["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:mugai:problem:"),
            "{p}"
        );
        assert!(p["title"].is_string() && p["detail"].is_string(), "{p}");
        p
    }
}

/// Runs curl with `args`; returns the final response.
fn curl(args: &[&str]) -> Resp {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path().join("h");
    let b = tmp.path().join("b");
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "120", "-D"])
        .arg(&h)
        .arg("-o")
        .arg(&b)
        .args(["-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let status = String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let text = std::fs::read_to_string(&h).unwrap_or_default();
    // The last block (after any 100 Continue).
    let block = text
        .split("\r\n\r\n")
        .filter(|b| !b.trim().is_empty())
        .last()
        .unwrap_or("");
    let headers = block
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: std::fs::read(&b).unwrap_or_default(),
    }
}

fn auth(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

fn have_curl() -> bool {
    if Command::new("curl").arg("--version").output().is_ok() {
        return true;
    }
    util::skip("curl is missing");
    false
}

/// POSTs `file` to `path` (with `?name=` its file name unless `path` has a
/// query) with the token.
pub(crate) fn post_file(s: &Server, path: &str, file: &Path, extra: &[&str]) -> Resp {
    let mut url = s.url(path);
    if !path.contains('?') {
        url.push_str(&format!(
            "?name={}",
            file.file_name().unwrap().to_str().unwrap()
        ));
    }
    let data = format!("@{}", file.display());
    let a = auth(TOKEN);
    let mut args = vec!["-H", &a, "--data-binary", &data];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(&args)
}

fn get(s: &Server, path: &str, token: &str) -> Resp {
    curl(&["-H", &auth(token), &s.url(path)])
}

/// Polls a job until it is done.
fn wait_done(s: &Server, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let r = get(s, &format!("/v1/jobs/{id}"), TOKEN);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let j = r.json();
        match j["state"].as_str().unwrap() {
            "done" => return j,
            "queued" | "running" => {}
            other => panic!("job {id} ended {other}: {j}\n{}", s.log()),
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "job {id} not done: {j}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn codes(v: &Value) -> Vec<String> {
    util::codes(v).into_iter().collect()
}

#[test]
fn rest_refuses_requests_without_a_configured_token() {
    if !have_curl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let s = Server::start(d.path(), "");
    let csv = d.path().join("a.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let data = format!("@{}", csv.display());

    let r = curl(&["--data-binary", &data, &s.url("/v1/sanitize?name=a.csv")]);
    r.problem(401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"mugai\""));

    let wrong = auth("not-the-token");
    let r = curl(&["-H", &wrong, "--data-binary", &data, &s.url("/v1/sanitize")]);
    r.problem(401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));
    // The configured hash is not a token either.
    let hash = auth(&mugai_core::sha256_hex(TOKEN.as_bytes()));
    curl(&[
        "-H",
        &hash,
        &s.url("/v1/jobs/0123456789abcdef0123456789abcdef"),
    ])
    .problem(401);

    // Health needs no token; the OpenAPI document is served.
    let r = curl(&[&s.url("/v1/health")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    let r = curl(&[&s.url("/v1/openapi.yaml")]);
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("/v1/jobs/{id}/output:"));
    // Unknown routes and methods are problems too.
    get(&s, "/v1/nothing", TOKEN).problem(404);
    curl(&["-X", "DELETE", "-H", &auth(TOKEN), &s.url("/v1/sanitize")]).problem(405);
    // Nothing was sanitised, so nothing was audited.
    let audit = d.path().join("results/audit");
    let lines: usize = mugai_audit::files_in(&audit)
        .unwrap()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .sum();
    assert_eq!(lines, 0);
}

#[test]
fn rest_sanitize_rebuilds_neutralises_and_blocks() {
    if !have_curl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let s = Server::start(d.path(), "");
    let corpus = util::corpus_dir();

    // A PDF whose OpenAction runs JavaScript: rebuilt without it.
    let r = post_file(
        &s,
        "/v1/sanitize",
        &corpus.join("pdf/open_action_js.pdf"),
        &[],
    );
    assert_eq!(
        r.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&r.body),
        s.log()
    );
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert_eq!(r.header("x-mugai-verdict"), Some("sanitized"));
    assert!(r
        .header("content-disposition")
        .unwrap()
        .contains("filename*=UTF-8''open_action_js.pdf"));
    let report = base64::engine::general_purpose::STANDARD
        .decode(r.header("x-mugai-report").expect("report header"))
        .unwrap();
    let report: Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(report["verdict"], "sanitized");
    assert_eq!(report["input"], "open_action_js.pdf");
    assert!(
        codes(&report).contains(&"pdf.javascript".to_string()),
        "{report}"
    );
    assert_eq!(
        report["output_sha256"].as_str(),
        Some(mugai_core::sha256_hex(&r.body).as_str())
    );
    assert_eq!(
        r.header("x-mugai-output-sha256"),
        report["output_sha256"].as_str()
    );
    let out = d.path().join("out.pdf");
    std::fs::write(&out, &r.body).unwrap();
    assert!(r.body.starts_with(b"%PDF-"));
    if pdf::tool("qpdf") {
        let objects = pdf::expanded(&out);
        assert!(!objects.is_empty());
        assert!(!pdf::has_name(&objects, "/JavaScript"), "{objects}");
        assert!(!pdf::has_name(&objects, "/JS"), "{objects}");
    } else {
        util::skip("qpdf is missing (Debian package qpdf)");
    }
    // The same report as `mugai sanitize --json` gives, output aside.
    let (_, lines) = util::sanitize_json(
        &corpus.join("pdf/open_action_js.pdf"),
        &d.path().join("cli-out"),
        &["--in-process"],
    );
    let mut cli = lines[0].clone();
    let mut api = report.clone();
    for v in [&mut cli, &mut api] {
        let o = v.as_object_mut().unwrap();
        o.remove("input");
        o.remove("output");
    }
    assert_eq!(api, cli);

    // A CSV with a formula: the cell is neutralised.
    let csv = d.path().join("集計.csv");
    std::fs::write(&csv, "name,total\nx,=HYPERLINK(\"http://evil\")\n").unwrap();
    let r = curl(&[
        "-H",
        &auth(TOKEN),
        "-H",
        "Content-Disposition: attachment; filename=\"x.csv\"; filename*=UTF-8''%E9%9B%86%E8%A8%88.csv",
        "--data-binary",
        &format!("@{}", csv.display()),
        &s.url("/v1/sanitize"),
    ]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "name,total\nx,'=HYPERLINK(\"http://evil\")\n"
    );
    assert!(r
        .header("content-disposition")
        .unwrap()
        .contains("filename*=UTF-8''%E9%9B%86%E8%A8%88.csv"));

    // An executable: blocked, 422, with the reason in Japanese too.
    let r = post_file(&s, "/v1/sanitize", &corpus.join("types/program.exe"), &[]);
    let p = r.problem(422);
    assert_eq!(p["type"], "urn:mugai:problem:blocked");
    assert_eq!(p["verdict"], "blocked");
    assert_eq!(p["reason"]["code"], "type.executable");
    assert_eq!(
        p["reason"]["ja"].as_str(),
        Some(mugai_core::Code::TypeExecutable.ja())
    );
    assert_eq!(p["report"]["verdict"], "blocked");
    assert!(r.header("x-mugai-report").is_none());

    // Every decision is in the audit log, with the token's name.
    let audit = d.path().join("results/audit");
    let o = util::run(&["audit".as_ref(), "verify".as_ref(), audit.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let records: Vec<Value> = mugai_audit::files_in(&audit)
        .unwrap()
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect();
    let verdicts: Vec<&str> = records
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["sanitized", "sanitized", "blocked"]);
    assert!(records
        .iter()
        .all(|r| r["client"] == "proxy-1" && r["api"] == "sanitize"));
    assert_eq!(records[1]["path"], "集計.csv");
}

#[test]
fn rest_jobs_are_polled_and_client_job_ids_are_idempotent() {
    if !have_curl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let s = Server::start(d.path(), "");
    let corpus = util::corpus_dir();
    let pdf_file = corpus.join("pdf/open_action_js.pdf");

    let r = post_file(
        &s,
        "/v1/jobs",
        &pdf_file,
        &["-H", "X-Client-Job-Id: order-17"],
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let job = r.json();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/jobs/{id}").as_str())
    );
    assert!(["queued", "running", "done"].contains(&job["state"].as_str().unwrap()));

    let done = wait_done(&s, &id);
    assert_eq!(done["verdict"], "sanitized");
    assert_eq!(done["type"], "pdf");
    assert_eq!(done["client_job_id"], "order-17");
    let js = done["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "pdf.javascript")
        .expect("pdf.javascript finding");
    assert_eq!(
        js["ja"].as_str(),
        Some(mugai_core::Code::PdfJavascript.ja())
    );

    let out = get(&s, &format!("/v1/jobs/{id}/output"), TOKEN);
    assert_eq!(out.status, 200);
    assert_eq!(out.header("content-type"), Some("application/pdf"));
    assert_eq!(
        done["output_sha256"].as_str(),
        Some(mugai_core::sha256_hex(&out.body).as_str())
    );
    let report = get(&s, &format!("/v1/jobs/{id}/report"), TOKEN);
    assert_eq!(report.status, 200);
    let report = report.json();
    assert_eq!(report["output_sha256"], done["output_sha256"]);
    // The report has exactly the fields of a `sanitize --json` line.
    let (_, lines) = util::sanitize_json(&pdf_file, &d.path().join("cli-out"), &["--in-process"]);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&report), keys(&lines[0]));

    // The same client job id and body: the same job. A different body: 409.
    let again = post_file(
        &s,
        "/v1/jobs",
        &pdf_file,
        &["-H", "X-Client-Job-Id: order-17"],
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id.as_str());
    let again = post_file(
        &s,
        "/v1/jobs?name=x.pdf&client_job_id=order-17",
        &pdf_file,
        &[],
    );
    assert_eq!(again.json()["id"], id.as_str());
    let other = corpus.join("pdf/clean.pdf");
    let p = post_file(&s, "/v1/jobs", &other, &["-H", "X-Client-Job-Id: order-17"]).problem(409);
    assert_eq!(p["job"], id.as_str());
    // Another token's id space is its own.
    let a = auth(OTHER_TOKEN);
    let data = format!("@{}", other.display());
    let r = curl(&[
        "-H",
        &a,
        "-H",
        "X-Client-Job-Id: order-17",
        "--data-binary",
        &data,
        &s.url("/v1/jobs?name=clean.pdf"),
    ]);
    assert_eq!(r.status, 202);
    assert_ne!(r.json()["id"], id.as_str());
    // ... and it cannot see the first token's job.
    get(&s, &format!("/v1/jobs/{id}"), OTHER_TOKEN).problem(404);

    // A blocked job: done, no output (404 with the reason), a report.
    let r = post_file(&s, "/v1/jobs", &corpus.join("types/program.exe"), &[]);
    assert_eq!(r.status, 202);
    let bid = r.json()["id"].as_str().unwrap().to_string();
    let done = wait_done(&s, &bid);
    assert_eq!(done["verdict"], "blocked");
    assert_eq!(done["reason"]["code"], "type.executable");
    assert!(done["links"]["output"].is_null());
    let p = get(&s, &format!("/v1/jobs/{bid}/output"), TOKEN).problem(404);
    assert_eq!(p["type"], "urn:mugai:problem:blocked");
    let rep = get(&s, &format!("/v1/jobs/{bid}/report"), TOKEN);
    assert_eq!(rep.json()["verdict"], "blocked");

    // Ids that are not ids: 400; ids of no job: 404; nothing leaves the
    // results folder.
    std::fs::write(d.path().join("secret"), "not for clients").unwrap();
    for bad in [
        "/v1/jobs/xyz",
        "/v1/jobs/0123456789ABCDEF0123456789ABCDEF",
        "/v1/jobs/..%2F..%2Fsecret",
        "/v1/jobs/..%2Fsecret/output",
        "/v1/jobs/0123456789abcdef0123456789abcdef%00/report",
    ] {
        let r = curl(&["--path-as-is", "-H", &auth(TOKEN), &s.url(bad)]);
        r.problem(400);
    }
    get(&s, "/v1/jobs/0123456789abcdef0123456789abcdef", TOKEN).problem(404);
    get(
        &s,
        "/v1/jobs/0123456789abcdef0123456789abcdef/output",
        TOKEN,
    )
    .problem(404);
    let r = curl(&[
        "--path-as-is",
        "-H",
        &auth(TOKEN),
        &s.url("/v1/jobs/../../secret"),
    ]);
    assert!(!String::from_utf8_lossy(&r.body).contains("not for clients"));
    assert_eq!(r.status, 404);

    // Each job has exactly one audit record, with the token's name.
    let audit = d.path().join("results/audit");
    let text: String = mugai_audit::files_in(&audit)
        .unwrap()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert_eq!(text.matches(&format!("\"id\":\"{id}\"")).count(), 1);
    assert_eq!(text.matches(&format!("\"id\":\"{bid}\"")).count(), 1);
    assert!(text.contains("\"client\":\"transfer\""));
    assert!(text.contains("\"client_job_id\":\"order-17\""));
}

#[test]
fn rest_refuses_bodies_over_the_limit_while_they_stream() {
    if !have_curl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let s = Server::start(
        d.path(),
        "max_body_bytes = 100000\nspool_above_bytes = 1000\n\
         client_timeout_secs = 2\nmin_data_rate = 100000",
    );
    let big = d.path().join("big.csv");
    std::fs::write(&big, "a,b\n".repeat(50_000)).unwrap();
    // With a Content-Length: refused before it is read.
    let p = post_file(&s, "/v1/sanitize", &big, &[]).problem(413);
    assert_eq!(p["limit"], 100000);
    post_file(&s, "/v1/jobs", &big, &[]).problem(413);
    // Chunked, no length given: refused once past the limit.
    post_file(
        &s,
        "/v1/sanitize",
        &big,
        &["-H", "Transfer-Encoding: chunked"],
    )
    .problem(413);
    post_file(&s, "/v1/jobs", &big, &["-H", "Transfer-Encoding: chunked"]).problem(413);
    // Under the limit but over the spool threshold: spooled, and served.
    let mid = d.path().join("mid.csv");
    std::fs::write(&mid, "a,b\n".repeat(20_000)).unwrap();
    let r = post_file(
        &s,
        "/v1/sanitize",
        &mid,
        &["-H", "Transfer-Encoding: chunked"],
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.body, std::fs::read(&mid).unwrap());
    // A body that trickles in slower than serve.min_data_rate: 408.
    let p = post_file(&s, "/v1/jobs", &mid, &["--limit-rate", "4K"]).problem(408);
    assert_eq!(p["type"], "urn:mugai:problem:too-slow");
    // No job was made and no spool file is left.
    let results = d.path().join("results");
    let entries: Vec<String> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut entries = entries;
    entries.sort();
    assert_eq!(entries, [".spool", "audit"]);
    assert_eq!(
        std::fs::read_dir(results.join(".spool")).unwrap().count(),
        0
    );
}

#[test]
fn rest_results_survive_a_restart_and_expire() {
    if !have_curl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("f.csv");
    std::fs::write(&csv, "a,b\n=1+2,x\n").unwrap();
    let mut s = Server::start(d.path(), "keep_results_secs = 3600");
    let r = post_file(&s, "/v1/jobs", &csv, &["-H", "X-Client-Job-Id: c-1"]);
    assert_eq!(r.status, 202);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let before = wait_done(&s, &id);
    s.stop();

    // After a restart: the job, its output and its client job id are kept.
    let mut s = Server::start(d.path(), "keep_results_secs = 3600");
    let after = get(&s, &format!("/v1/jobs/{id}"), TOKEN).json();
    assert_eq!(after, before);
    let out = get(&s, &format!("/v1/jobs/{id}/output"), TOKEN);
    assert_eq!(out.status, 200);
    assert_eq!(String::from_utf8_lossy(&out.body), "a,b\n'=1+2,x\n");
    let again = post_file(&s, "/v1/jobs", &csv, &["-H", "X-Client-Job-Id: c-1"]);
    assert_eq!(
        (again.status, again.json()["id"].as_str()),
        (200, Some(id.as_str()))
    );
    s.stop();

    // Kept one second: the sweeper removes it, folder and all.
    let s = Server::start(d.path(), "keep_results_secs = 1");
    let start = Instant::now();
    loop {
        let r = get(&s, &format!("/v1/jobs/{id}"), TOKEN);
        if r.status == 404 {
            r.problem(404);
            break;
        }
        assert_eq!(r.status, 200);
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not expired\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!d.path().join("results").join(&id).exists());
    // The client job id is free again.
    let r = post_file(&s, "/v1/jobs", &csv, &["-H", "X-Client-Job-Id: c-1"]);
    assert_eq!(r.status, 202);
    assert_ne!(r.json()["id"], id.as_str());
}

#[test]
fn rest_jobs_waiting_at_a_stop_run_after_the_restart_once_each() {
    if !have_curl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let pdf_file = util::corpus_dir().join("pdf/open_action_js.pdf");
    // One file at a time, so that most jobs still wait when the server stops.
    let mut s = Server::start(d.path(), "max_jobs = 1");
    let ids: Vec<String> = (0..8)
        .map(|i| {
            let r = post_file(&s, &format!("/v1/jobs?name=f{i}.pdf"), &pdf_file, &[]);
            assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
            r.json()["id"].as_str().unwrap().to_string()
        })
        .collect();
    s.stop();
    // Whether or not they finished before the stop, two are set back as a
    // crash would leave them: one running (its audit record may already be
    // written), one copied as a new job still queued.
    let results = d.path().join("results");
    let mut ids = ids;
    let set_back = |dir: &Path, id: &str, state: &str| {
        let mut rec: Value =
            serde_json::from_slice(&std::fs::read(dir.join("job.json")).unwrap()).unwrap();
        rec["id"] = id.into();
        rec["state"] = state.into();
        for k in ["outcome", "finished", "finished_unix", "error"] {
            rec[k] = Value::Null;
        }
        std::fs::write(dir.join("job.json"), rec.to_string()).unwrap();
        std::fs::copy(&pdf_file, dir.join("input")).unwrap();
        let _ = std::fs::remove_file(dir.join("output"));
    };
    set_back(&results.join(&ids[0]), &ids[0].clone(), "running");
    let fresh = "0123456789abcdef0123456789abcdef".to_string();
    std::fs::create_dir(results.join(&fresh)).unwrap();
    std::fs::copy(
        results.join(&ids[1]).join("job.json"),
        results.join(&fresh).join("job.json"),
    )
    .unwrap();
    set_back(&results.join(&fresh), &fresh, "queued");
    ids.push(fresh);

    let s = Server::start(d.path(), "max_jobs = 1");
    for id in &ids {
        let done = wait_done(&s, id);
        assert_eq!(done["verdict"], "sanitized", "{done}");
        let out = get(&s, &format!("/v1/jobs/{id}/output"), TOKEN);
        assert_eq!(out.status, 200);
        assert_eq!(
            done["output_sha256"].as_str(),
            Some(mugai_core::sha256_hex(&out.body).as_str())
        );
    }
    // Inputs are gone once done; each job has exactly one audit record.
    for id in &ids {
        assert!(!d.path().join("results").join(id).join("input").exists());
    }
    let audit = d.path().join("results/audit");
    let text: String = mugai_audit::files_in(&audit)
        .unwrap()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for id in &ids {
        assert_eq!(text.matches(&format!("\"id\":\"{id}\"")).count(), 1, "{id}");
    }
    let o = util::run(&["audit".as_ref(), "verify".as_ref(), audit.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}
