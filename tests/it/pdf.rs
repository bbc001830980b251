//! Integration tests: pdf. The outputs are checked with tools that do not
//! share the rebuilder's code: qpdf (structure, decryption, page count,
//! object expansion) and pdftotext (text).

use crate::util;
use mugai_core::FileType;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Names that no sanitised output may contain, whatever the case.
const NEVER: &[&str] = &[
    "/JavaScript",
    "/JS",
    "/AA",
    "/Launch",
    "/GoToR",
    "/GoToE",
    "/ImportData",
    "/SubmitForm",
    "/ResetForm",
    "/EmbeddedFiles",
    "/EmbeddedFile",
    "/EF",
    "/FileAttachment",
    "/XFA",
    "/RichMedia",
    "/RichMediaContent",
    "/Movie",
    "/Sound",
    "/Screen",
    "/Rendition",
    "/Encrypt",
];

pub(crate) fn tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok()
}

/// `qpdf --check` exit code (0 ok, 2 errors, 3 warnings).
fn qpdf_check(p: &Path, password: Option<&str>) -> i32 {
    let mut c = Command::new("qpdf");
    if let Some(pw) = password {
        c.arg(format!("--password={pw}"));
    }
    c.arg("--check").arg(p);
    c.output().expect("run qpdf").status.code().unwrap_or(-1)
}

/// Every object of `p` as text, object streams expanded by qpdf and names
/// written without escapes; stream data (page text may mention any name)
/// is left out.
pub(crate) fn expanded(p: &Path) -> String {
    let o = Command::new("qpdf")
        .args(["--qdf", "--object-streams=disable"])
        .arg(p)
        .arg("-")
        .output()
        .expect("run qpdf");
    let all = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut objects = String::with_capacity(all.len());
    let mut rest = all.as_str();
    while let Some(start) = rest.find("\nstream\n") {
        objects.push_str(&rest[..start]);
        match rest[start..].find("endstream") {
            Some(end) => rest = &rest[start + end + "endstream".len()..],
            None => {
                rest = "";
            }
        }
    }
    objects.push_str(rest);
    objects
}

/// Whether the name `key` (with its `/`) occurs as a whole token.
pub(crate) fn has_name(text: &str, key: &str) -> bool {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(key) {
        let end = from + pos + key.len();
        let next = b.get(end).copied().unwrap_or(b' ');
        if !(next.is_ascii_alphanumeric() || next == b'_' || next == b'-' || next == b'.') {
            return true;
        }
        from = end;
    }
    false
}

fn npages(p: &Path, password: Option<&str>) -> Option<u64> {
    let mut c = Command::new("qpdf");
    if let Some(pw) = password {
        c.arg(format!("--password={pw}"));
    }
    let o = c.arg("--show-npages").arg(p).output().ok()?;
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// pdftotext's text with white space normalised; `None` on timeout.
fn text(p: &Path) -> Option<String> {
    let o = Command::new("timeout")
        .args(["20", "pdftotext", "-q"])
        .arg(p)
        .arg("-")
        .output()
        .ok()?;
    if o.status.code() == Some(124) {
        return None;
    }
    Some(
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// pdftotext's text of `p` as qpdf repairs it (rewritten by a second
/// reader); `None` when qpdf fails or either tool times out.
fn repaired_text(p: &Path) -> Option<String> {
    let tmp = tempfile::tempdir().ok()?;
    let fixed = tmp.path().join("repaired.pdf");
    let o = Command::new("timeout")
        .args(["20", "qpdf"])
        .arg(p)
        .arg(&fixed)
        .output()
        .ok()?;
    // 0: fine, 3: repaired with warnings.
    if !matches!(o.status.code(), Some(0 | 3)) {
        return None;
    }
    text(&fixed)
}

fn pdf_cases() -> Vec<mugai_corpus::Case> {
    mugai_corpus::pdf::cases()
}

fn run_one(input: &Path, extra: &[&str]) -> (Value, tempfile::TempDir) {
    let out = tempfile::tempdir().expect("tempdir");
    let (o, lines) = util::sanitize_json(input, out.path(), extra);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "mugai failed on {}: {o:?}",
        input.display()
    );
    assert_eq!(lines.len(), 1, "one report for {}", input.display());
    (lines.into_iter().next().unwrap_or_default(), out)
}

#[test]
fn generated_cases_have_their_verdicts_codes_and_clean_outputs() {
    let dir = util::corpus_dir();
    let have_qpdf = tool("qpdf");
    assert!(have_qpdf, "qpdf is needed (apt-get install qpdf)");
    for case in pdf_cases() {
        let input = dir.join(&case.path);
        let (r, _out) = run_one(&input, &[]);
        let want: BTreeSet<String> = case.expect.codes.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            r["verdict"],
            case.expect.verdict.as_str(),
            "{}: {r}",
            case.path
        );
        assert_eq!(util::codes(&r), want, "{}: {r}", case.path);
        if let Some(reason) = case.expect.reason {
            let got = r["reason"].as_str().unwrap_or_default();
            assert!(
                got.starts_with(reason.as_str()),
                "{}: reason {got}",
                case.path
            );
            continue;
        }
        let output = PathBuf::from(r["output"].as_str().expect("an output"));
        assert_eq!(qpdf_check(&output, None), 0, "{}: qpdf --check", case.path);
        let all = expanded(&output);
        assert!(all.starts_with("%PDF-"), "{}", case.path);
        // resource_names.pdf names a font /JS on purpose.
        let never = NEVER
            .iter()
            .filter(|_| !case.path.contains("resource_names"));
        for key in never {
            assert!(
                !has_name(&all, key),
                "{}: {key} left in the output",
                case.path
            );
        }
        if case.path.contains("uri") {
            assert!(!has_name(&all, "/URI"), "{}: /URI left", case.path);
            assert!(
                has_name(&all, "/Link"),
                "{}: the link annotation went",
                case.path
            );
        }
        if case.expect.codes.contains(&mugai_core::Code::PdfOpenAction) {
            assert!(
                !has_name(&all, "/OpenAction"),
                "{}: /OpenAction left",
                case.path
            );
        }
        // One revision: one %%EOF, at the end; no update sections.
        let bytes = std::fs::read(&output).expect("read output");
        let eofs = bytes.windows(5).filter(|w| w == b"%%EOF").count();
        assert_eq!(eofs, 1, "{}: {eofs} %%EOF markers", case.path);
        let tail = &bytes[bytes.len().saturating_sub(7)..];
        assert!(
            String::from_utf8_lossy(tail).trim_end().ends_with("%%EOF"),
            "{}",
            case.path
        );
        assert_eq!(npages(&output, None), Some(1), "{}: pages", case.path);
        if tool("pdftotext") {
            assert_eq!(
                text(&output).as_deref(),
                Some(mugai_corpus::pdf::PAGE_TEXT),
                "{}",
                case.path
            );
        }
    }
}

#[test]
fn generated_encryption_is_read_by_qpdf_as_intended() {
    // Checks the corpus' own RC4 handler against qpdf, so the encrypted
    // cases test what they claim to.
    let dir = util::corpus_dir().join("pdf");
    for f in ["owner_password_rc4_40.pdf", "owner_password_rc4_128.pdf"] {
        assert_eq!(
            qpdf_check(&dir.join(f), None),
            0,
            "{f} opens without a password"
        );
        assert_ne!(
            qpdf_check(&dir.join(f), Some("owner-secret")),
            2,
            "{f} owner password"
        );
    }
    let user = dir.join("user_password.pdf");
    assert_eq!(
        qpdf_check(&user, Some("user-secret")),
        0,
        "user password opens it"
    );
    assert_eq!(
        npages(&user, None),
        None,
        "no page count without the password"
    );
}

#[test]
fn pdfs_encrypted_by_qpdf_are_decrypted_or_blocked() {
    let clean = util::corpus_dir().join("pdf/clean.pdf");
    let tmp = tempfile::tempdir().expect("tempdir");
    let variants: [(&str, &[&str], bool); 4] = [
        (
            "aes128_owner.pdf",
            &["--encrypt", "", "own", "128", "--use-aes=y", "--"],
            true,
        ),
        (
            "aes256_owner.pdf",
            &["--encrypt", "", "own", "256", "--"],
            true,
        ),
        (
            "rc4_owner.pdf",
            &[
                "--allow-weak-crypto",
                "--encrypt",
                "",
                "own",
                "128",
                "--use-aes=n",
                "--",
            ],
            true,
        ),
        (
            "aes256_user.pdf",
            &["--encrypt", "usr", "own", "256", "--"],
            false,
        ),
    ];
    for (name, args, opens) in variants {
        let enc = tmp.path().join(name);
        let o = Command::new("qpdf")
            .arg(&clean)
            .args(args)
            .arg(&enc)
            .output()
            .expect("qpdf --encrypt");
        assert!(o.status.success(), "{name}: {o:?}");
        let (r, _out) = run_one(&enc, &[]);
        let codes = util::codes(&r);
        assert!(codes.contains("pdf.encrypted"), "{name}: {r}");
        if opens {
            assert_eq!(r["verdict"], "sanitized", "{name}: {r}");
            let output = PathBuf::from(r["output"].as_str().expect("output"));
            assert_eq!(qpdf_check(&output, None), 0, "{name}");
            assert!(!has_name(&expanded(&output), "/Encrypt"), "{name}");
            assert_eq!(
                text(&output).as_deref(),
                Some(mugai_corpus::pdf::PAGE_TEXT),
                "{name}"
            );
        } else {
            assert_eq!(r["verdict"], "blocked", "{name}: {r}");
            assert!(r["reason"]
                .as_str()
                .unwrap_or_default()
                .starts_with("pdf.encrypted"));
        }
    }
}

#[test]
fn uri_links_are_kept_when_the_policy_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let policy = tmp.path().join("policy.toml");
    std::fs::write(&policy, "[pdf]\nuri = \"keep\"\n").expect("write policy");
    let input = util::corpus_dir().join("pdf/uri_link.pdf");
    let (r, _out) = run_one(&input, &["--policy", policy.to_str().expect("utf-8 path")]);
    assert_eq!(r["verdict"], "clean", "{r}");
    let output = PathBuf::from(r["output"].as_str().expect("output"));
    let all = expanded(&output);
    assert!(has_name(&all, "/URI"), "the link's target stays");
    assert!(all.contains("https://example.invalid/login"));
}

/// A committed JPEG 2000 fixture (corpus/fixtures/jpx, written by its
/// make.py with Pillow's OpenJPEG writer).
fn jpx_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../corpus/fixtures/jpx")
        .join(name)
}

fn jpx_fixtures() -> Vec<PathBuf> {
    ["rgb.pdf", "gray.pdf", "alpha.pdf", "garbage.pdf"]
        .iter()
        .map(|n| jpx_fixture(n))
        .collect()
}

/// The rows of `pdfimages -list`: (type, color, bpc, enc).
fn image_rows(p: &Path) -> Vec<(String, String, String, String)> {
    let o = Command::new("pdfimages")
        .arg("-list")
        .arg(p)
        .output()
        .expect("pdfimages");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(2)
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            (c.len() > 9).then(|| {
                (
                    c[2].to_string(),
                    c[5].to_string(),
                    c[7].to_string(),
                    c[8].to_string(),
                )
            })
        })
        .collect()
}

/// Page 1 rendered at 36 dpi by poppler or, with `mupdf`, by MuPDF:
/// (width, height, RGB bytes).
fn render(p: &Path, mupdf: bool) -> (usize, usize, Vec<u8>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let prefix = tmp.path().join("page");
    let o = if mupdf {
        Command::new("mutool")
            .args(["draw", "-q", "-r", "36", "-c", "rgb", "-F", "pnm", "-o"])
            .arg(prefix.with_extension("ppm"))
            .arg(p)
            .arg("1")
            .output()
    } else {
        Command::new("pdftoppm")
            .args(["-r", "36", "-f", "1", "-l", "1", "-singlefile"])
            .arg(p)
            .arg(&prefix)
            .output()
    }
    .expect("renderer");
    assert!(o.status.success(), "rendering {}: {o:?}", p.display());
    let ppm = std::fs::read(prefix.with_extension("ppm")).expect("ppm");
    // "P6\n<w> <h>\n255\n" then the samples.
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&ppm[start..at]).into_owned());
    }
    let (w, h): (usize, usize) = (fields[1].parse().expect("w"), fields[2].parse().expect("h"));
    let data = ppm[at + 1..].to_vec();
    assert_eq!(data.len(), w * h * 3);
    (w, h, data)
}

#[test]
fn jpx_images_are_decoded_and_kept_as_flate_images() {
    for t in ["pdfimages", "pdftoppm", "mutool"] {
        if !tool(t) {
            util::skip(&format!("{t} (poppler-utils, mupdf-tools) is missing"));
            return;
        }
    }
    for (name, colour, smask) in [
        ("rgb.pdf", "rgb", false),
        ("gray.pdf", "gray", false),
        ("alpha.pdf", "rgb", true),
    ] {
        let input = jpx_fixture(name);
        let (r, _dir) = run_one(&input, &[]);
        assert_eq!(r["verdict"], "sanitized", "{name}: {r}");
        assert!(util::codes(&r).contains("pdf.image_codec"), "{name}: {r}");
        let output = PathBuf::from(r["output"].as_str().expect("output"));
        assert_eq!(qpdf_check(&output, None), 0, "{name}: qpdf --check");
        let rows = image_rows(&output);
        let image = rows
            .iter()
            .find(|r| r.0 == "image")
            .unwrap_or_else(|| panic!("{name}: no image left: {rows:?}"));
        // Flate data shows as "image" in the encoding column.
        assert_eq!(
            (image.1.as_str(), image.2.as_str(), image.3.as_str()),
            (colour, "8", "image"),
            "{name}: {rows:?}"
        );
        assert_eq!(
            rows.iter().any(|r| r.0 == "smask"),
            smask,
            "{name}: soft mask {rows:?}"
        );
        let all = expanded(&output);
        assert!(!has_name(&all, "/JPXDecode"), "{name}: JPX data left");
        // The page looks as poppler (with OpenJPEG) shows the input; for
        // the alpha channel as MuPDF does (poppler 22 ignores
        // /SMaskInData and draws the 4 channels as 3).
        let (wi, hi, a) = render(&input, smask);
        let (wo, ho, b) = render(&output, smask);
        assert_eq!((wi, hi), (wo, ho), "{name}: page size");
        let diff: u64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        let mean = diff as f64 / a.len() as f64;
        assert!(mean < 2.0, "{name}: mean difference {mean:.2} per sample");
        let dark = b.iter().filter(|&&v| v < 200).count();
        assert!(dark > b.len() / 50, "{name}: the page renders blank");
    }
    // Data that is not JPEG 2000 is dropped with a reason, never copied.
    let (r, _dir) = run_one(&jpx_fixture("garbage.pdf"), &[]);
    let codes = util::codes(&r);
    assert!(
        codes.contains("pdf.image_codec") || codes.contains("pdf.damaged_stream"),
        "{r}"
    );
    if r["verdict"] != "blocked" {
        let output = PathBuf::from(r["output"].as_str().expect("output"));
        assert!(image_rows(&output).is_empty(), "garbage JPX kept");
        assert!(!has_name(&expanded(&output), "/JPXDecode"));
    }
}

#[test]
fn corpus_ext_pdfs_are_rebuilt_faithfully_or_blocked_with_a_reason() {
    let Some(ext) = util::corpus_ext() else {
        return;
    };
    let manifest = std::fs::read_to_string(ext.join("MANIFEST.tsv")).expect("manifest");
    let files: Vec<PathBuf> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(2))
        .filter(|p| p.to_ascii_lowercase().ends_with(".pdf"))
        .map(|p| ext.join(p))
        .filter(|p| p.exists())
        .collect();
    assert!(!files.is_empty());
    let out = tempfile::tempdir().expect("tempdir");
    let mut cmd = util::mugai();
    cmd.arg("sanitize")
        .arg("--json")
        .arg("--out")
        .arg(out.path())
        .args(&files);
    let o = cmd.output().expect("run mugai");
    assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
    let reports = util::json_lines(&o);
    assert_eq!(reports.len(), files.len(), "one report per file");
    let (mut rebuilt, mut same_text, mut exceptions) = (0usize, 0usize, Vec::new());
    // Inputs in which qpdf finds no page while the rebuild keeps some: the
    // pages are written directly into /Kids, which qpdf and poppler skip
    // (Acrobat shows them). Nothing to compare with; listed apart.
    let mut unread = Vec::new();
    for r in &reports {
        let input = PathBuf::from(r["input"].as_str().expect("input"));
        match r["verdict"].as_str() {
            Some("blocked") => {
                let reason = r["reason"].as_str().unwrap_or_default();
                assert!(!reason.is_empty(), "blocked without a reason: {r}");
                assert_ne!(
                    r["reason"]
                        .as_str()
                        .map(|s| s.starts_with("worker.crashed")),
                    Some(true),
                    "{r}"
                );
                continue;
            }
            Some("clean") | Some("sanitized") => {}
            other => panic!("unexpected verdict {other:?}: {r}"),
        }
        rebuilt += 1;
        let output = PathBuf::from(r["output"].as_str().expect("output"));
        let in_check = qpdf_check(&input, None);
        let out_check = qpdf_check(&output, None);
        assert!(
            out_check != 2 || in_check == 2,
            "{}: qpdf --check finds errors in the output only",
            input.display()
        );
        let all = expanded(&output);
        for key in NEVER {
            assert!(
                !has_name(&all, key),
                "{}: {key} left in the output",
                input.display()
            );
        }
        let (pi, po) = (npages(&input, None), npages(&output, None));
        if pi == Some(0) && po.is_some_and(|n| n > 0) {
            unread.push(format!(
                "{}: 0 -> {} pages",
                input.display(),
                po.unwrap_or(0)
            ));
            continue;
        }
        if pi.is_some() {
            assert_eq!(pi, po, "{}: page count", input.display());
        }
        let (ti, to) = (text(&input), text(&output));
        // Poppler reads some damaged inputs worse than the rebuild does
        // (a broken trailer, garbage in a content stream): the text is
        // also compared with the input as qpdf repairs it.
        if ti == to || (to.is_some() && repaired_text(&input) == to) {
            same_text += 1;
        } else {
            exceptions.push(format!(
                "{}: text {} -> {} chars",
                input.display(),
                ti.map_or(0, |t| t.len()),
                to.map_or(0, |t| t.len())
            ));
        }
    }
    let compared = rebuilt - unread.len();
    eprintln!(
        "corpus-ext PDFs: {} files, {rebuilt} rebuilt, {} blocked, same text {same_text}/{compared}, \
         {} with pages qpdf does not read",
        reports.len(),
        reports.len() - rebuilt,
        unread.len()
    );
    for e in &exceptions {
        eprintln!("  text differs: {e}");
    }
    for e in &unread {
        eprintln!("  pages qpdf does not read (inline /Kids): {e}");
    }
    assert!(compared > 0);
    assert!(
        same_text * 100 >= compared * 97,
        "same text for {same_text} of {compared}"
    );
}

/// Runs the independent judge (tests/pdf_judge.py, pikepdf) over
/// `files`; `None` when pikepdf is missing.
fn judge(files: &[PathBuf]) -> Option<(bool, String)> {
    let have = Command::new("python3")
        .args(["-c", "import pikepdf"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        util::skip("pikepdf is missing (pip install pikepdf)");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pdf_judge.py");
    let o = Command::new("python3")
        .arg(script)
        .args(files)
        .output()
        .expect("run pdf_judge.py");
    Some((
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    ))
}

/// Sanitises `files` in one run into `out`: the reports.
fn sanitize_all(files: &[PathBuf], out: &Path) -> Vec<Value> {
    let o = util::mugai()
        .arg("sanitize")
        .arg("--json")
        .arg("--out")
        .arg(out)
        .args(files)
        .output()
        .expect("run mugai");
    assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
    let reports = util::json_lines(&o);
    assert_eq!(reports.len(), files.len(), "one report per file");
    reports
}

#[test]
fn outputs_are_a_fixpoint_pass_qpdf_and_the_independent_judge() {
    let mut files: Vec<PathBuf> = pdf_cases()
        .iter()
        .map(|c| util::corpus_dir().join(&c.path))
        .chain(jpx_fixtures())
        .collect();
    if let Some(ext) = util::corpus_ext() {
        let manifest = std::fs::read_to_string(ext.join("MANIFEST.tsv")).expect("manifest");
        files.extend(
            manifest
                .lines()
                .skip(1)
                .filter_map(|l| l.split('\t').nth(2))
                .filter(|p| p.to_ascii_lowercase().ends_with(".pdf"))
                .map(|p| ext.join(p))
                .filter(|p| p.exists()),
        );
    }
    let started = std::time::Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (one, two) = (tmp.path().join("1"), tmp.path().join("2"));
    let outputs: Vec<PathBuf> = sanitize_all(&files, &one)
        .iter()
        .filter(|r| r["verdict"] != "blocked")
        .map(|r| PathBuf::from(r["output"].as_str().expect("an output")))
        .collect();
    assert!(outputs.len() > 20, "{} outputs", outputs.len());
    for o in &outputs {
        assert_eq!(qpdf_check(o, None), 0, "{}: qpdf --check", o.display());
    }
    if let Some((ok, why)) = judge(&outputs) {
        assert!(ok, "the judge rejects outputs:\n{why}");
    }
    let again = sanitize_all(&outputs, &two);
    for (first, r) in outputs.iter().zip(&again) {
        assert_eq!(r["verdict"], "clean", "{}: {r}", first.display());
        assert_eq!(
            r["findings"].as_array().map(Vec::len),
            Some(0),
            "{}: {r}",
            first.display()
        );
        let second = PathBuf::from(r["output"].as_str().expect("an output"));
        assert!(
            std::fs::read(first).ok() == std::fs::read(&second).ok(),
            "{}: the second pass changed the bytes",
            first.display()
        );
    }
    eprintln!(
        "pdf fixpoint: {} files, {} rebuilt, fixpoint and judge passed in {:?}",
        files.len(),
        outputs.len(),
        started.elapsed()
    );
}

#[test]
fn mutation_smoke_finds_no_panic_or_hang() {
    let mut seeds: Vec<Vec<u8>> = pdf_cases().into_iter().map(|c| c.bytes).collect();
    if let Some(ext) = util::corpus_ext() {
        for sub in ["py-pdf_sample-files/pdf-benign", "qpdf_qpdf/pdf-malformed"] {
            if let Ok(rd) = std::fs::read_dir(ext.join(sub)) {
                let mut small: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() < 64 * 1024))
                    .collect();
                small.sort();
                seeds.extend(small.iter().take(8).filter_map(|p| std::fs::read(p).ok()));
            }
        }
    }
    let report = mugai_engine::fuzz::smoke(
        FileType::Pdf,
        &seeds,
        10_000,
        Duration::from_secs(100),
        Duration::from_secs(20),
    );
    eprintln!(
        "pdf mutation smoke: {} runs, {} rebuilt, {} blocked, slowest {:?}",
        report.runs, report.rebuilt, report.blocked, report.slowest
    );
    assert!(
        report.panics.is_empty(),
        "panics: {:?}",
        report.panics.iter().map(|p| &p.1).collect::<Vec<_>>()
    );
    assert!(
        report.runs >= 10_000,
        "only {} mutations ran in the time budget",
        report.runs
    );
    assert!(
        report.slowest < Duration::from_secs(10),
        "slowest {:?}",
        report.slowest
    );
}
