//! The dispatcher and the in-process [`Sanitize`].

use mugai_core::config::MismatchAction;
use mugai_core::{
    sha256_hex, Action, Blocked, Budget, Code, Context, Dispatch, FileType, Finding, HeldPart, Job,
    MemberOutcome, Outcome, Output, Passwords, Policy, Rebuilder, Rebuilt, Sanitize, ScanStage,
    Scanner,
};
use mugai_detect::{claimed_types, extension_of};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Detects, decides and dispatches. Stateless: one value serves every file.
#[derive(Debug, Default, Clone, Copy)]
pub struct Engine;

impl Engine {
    /// Sanitises one top-level file.
    pub fn sanitize(&self, policy: &Policy, scanner: Option<&dyn Scanner>, job: &Job) -> Outcome {
        self.sanitize_hashed(policy, scanner, job, sha256_hex(&job.bytes))
    }

    /// [`Engine::sanitize`] for a caller in this process that has already
    /// hashed the input (`sha256`, lower-case hex).
    pub fn sanitize_hashed(
        &self,
        policy: &Policy,
        scanner: Option<&dyn Scanner>,
        job: &Job,
        sha256: String,
    ) -> Outcome {
        self.sanitize_with(policy, scanner, job, sha256, &[])
    }

    /// Sanitises a password-protected file with the passwords the
    /// recipient gave, each tried in turn: a ZIP is first decrypted member
    /// by member ([`mugai_archive::unlock`]), then the rebuild opens
    /// encrypted OOXML documents and PDFs (at any depth) with them. The
    /// outcome names the encrypted input (its hash and type); the encrypted
    /// input is scanned as such when a scanner is given, its contents by
    /// the rebuild. The passwords appear in no finding.
    pub fn sanitize_unlocked(
        &self,
        policy: &Policy,
        scanner: Option<&dyn Scanner>,
        job: &Job,
        passwords: &[String],
    ) -> Outcome {
        let sha = sha256_hex(&job.bytes);
        // The type as a parent process detects it (a reply is checked
        // against it): the encrypted input's.
        let input_type = FileRef::top(job).detected;
        if let Some(s) = scanner {
            if let mugai_core::ScanResult::Detected(sig) = s.scan(&job.bytes) {
                return Outcome::blocked(
                    input_type,
                    sha,
                    Vec::new(),
                    Finding::new(Code::AvDetected, Action::Blocked, sig),
                );
            }
        }
        let mut o = if input_type == FileType::Zip {
            match mugai_archive::unlock::unlock(&job.bytes, passwords, &policy.limits) {
                Ok(plain) => {
                    let plain = Job {
                        declared: job.declared,
                        ..Job::new(job.name.clone(), plain)
                    };
                    // The outcome names the encrypted input: its hash.
                    self.sanitize_with(policy, scanner, &plain, sha, passwords)
                }
                Err(b) => {
                    return Outcome::blocked(input_type, sha, Vec::new(), b.into_finding());
                }
            }
        } else {
            self.sanitize_with(policy, scanner, job, sha, passwords)
        };
        o.input_type = input_type;
        o
    }

    /// A top-level file: what only the outermost file has (the input size
    /// limit, the name's findings and safe output name, the panic guard,
    /// the scan of the final output, its hash, the [`Outcome`]) around
    /// [`rebuild_file`], the path every member takes too.
    fn sanitize_with(
        &self,
        policy: &Policy,
        scanner: Option<&dyn Scanner>,
        job: &Job,
        sha256: String,
        passwords: &[String],
    ) -> Outcome {
        let file = FileRef::top(job);
        let names = mugai_detect::check_name(&job.name);
        let mut findings = names.findings;
        let block = |findings: Vec<Finding>, b: Blocked| {
            Outcome::blocked(file.detected, sha256.clone(), findings, b.into_finding())
        };
        if let Err(b) = check_size(policy, file.bytes) {
            return block(findings, b);
        }

        let budget = Budget::new(&policy.limits);
        let mut cx = Context::new(policy, &budget, self, scanner).with_passwords(passwords);
        let rebuilt = guarded_rebuild(&file, &mut cx)
            .and_then(|r| cx.scan(ScanStage::Output, &r.bytes).map(|()| r));
        // A blocked file keeps what was found before the block too.
        findings.extend(cx.take_findings());
        let rebuilt = match rebuilt {
            Ok(r) => r,
            Err(b) => return block(findings, b),
        };

        let output = Output {
            file_type: rebuilt.file_type,
            name: output_name(&names.safe_name, file.detected, rebuilt.file_type),
            sha256: sha256_hex(&rebuilt.bytes),
            bytes: rebuilt.bytes,
        };
        Outcome::passed(file.detected, sha256, findings, output)
    }
}

/// One file to judge and rebuild, at any depth.
struct FileRef<'b> {
    /// The name its type claims are read from: a top-level file's name, a
    /// member's path inside its container.
    name: &'b str,
    /// The name the name rules apply to: a top-level file's whole name
    /// (separators in it are neutralised, not split), a member's last path
    /// component.
    file_name: &'b str,
    /// The type the sender declared (a top-level job only).
    declared: Option<FileType>,
    bytes: &'b [u8],
    /// The type its content shows ([`true_type`]).
    detected: FileType,
}

impl<'b> FileRef<'b> {
    fn top(job: &'b Job) -> Self {
        let detected = true_type(&job.bytes, &job.name, job.declared);
        FileRef {
            name: &job.name,
            file_name: &job.name,
            declared: job.declared,
            bytes: &job.bytes,
            detected,
        }
    }

    fn member(name: &'b str, bytes: &'b [u8]) -> Self {
        FileRef {
            name,
            file_name: name.rsplit(['/', '\\']).next().unwrap_or(name),
            declared: None,
            bytes,
            detected: true_type(bytes, name, None),
        }
    }
}

/// Judges and rebuilds one file, whatever its depth, in one fixed order:
/// deadline, [`admit`] (its findings recorded), rebuild, output type, scan
/// of the original, polyglot finding. Findings go to `cx`; a `Blocked`
/// names the member path.
fn rebuild_file(file: &FileRef<'_>, cx: &mut Context<'_>) -> Result<Rebuilt, Blocked> {
    cx.check_deadline()?;
    let unlocking = !cx.passwords().is_empty();
    let (ty, extra) =
        admit(cx.policy(), file, unlocking).map_err(|b| cx.block(b.code, b.detail))?;
    for f in extra {
        cx.record(f.code, f.action, f.detail);
    }
    let rebuilt = rebuild_by_type(ty, file.bytes, cx)?;
    check_output(&rebuilt).map_err(|b| cx.block(b.code, b.detail))?;
    // The original is scanned after the rebuild, so that a hit in a
    // member is reported by the member's own scan, which names it.
    cx.scan(ScanStage::Original, file.bytes)?;
    if let Some(what) = mugai_detect::polyglot(file.bytes, ty) {
        cx.removed(
            Code::TypePolyglot,
            format!("{what}; the rebuild keeps only the {ty}"),
        );
    }
    Ok(rebuilt)
}

/// The rules applied before any parsing, the same at every depth: a name
/// that blocks (an executable or hidden double extension, whatever the
/// content), then the type rules and the allow-list ([`classify`]).
fn admit(
    policy: &Policy,
    file: &FileRef<'_>,
    unlocking: bool,
) -> Result<(FileType, Vec<Finding>), Blocked> {
    if let Some(b) = mugai_detect::check_name(file.file_name).block {
        return Err(b);
    }
    classify(
        policy,
        file.name,
        file.declared,
        file.detected,
        file.bytes,
        unlocking,
    )
}

/// The input size limit of a top-level file.
fn check_size(policy: &Policy, bytes: &[u8]) -> Result<(), Blocked> {
    let max = policy.limits.max_input_bytes;
    if bytes.len() as u64 > max {
        return Err(Blocked::new(
            Code::LimitSize,
            format!(
                "{} bytes is over the input limit of {max} bytes",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// The rules applied before any parsing (size, name, true type,
/// allow-list), for the side that re-checks a worker's reply: the detected
/// type, and why the file would be blocked, if it would.
pub fn precheck(policy: &Policy, job: &Job) -> (FileType, Option<Blocked>) {
    precheck_unlocking(policy, job, false)
}

/// [`precheck`] for an unlock ([`Engine::sanitize_unlocked`]): an
/// encrypted OOXML document is then not blocked before its rebuild.
pub fn precheck_unlocking(
    policy: &Policy,
    job: &Job,
    unlocking: bool,
) -> (FileType, Option<Blocked>) {
    let file = FileRef::top(job);
    let judged = check_size(policy, file.bytes).and_then(|()| admit(policy, &file, unlocking));
    (file.detected, judged.err())
}

impl Dispatch for Engine {
    fn dispatch(&self, name: &str, bytes: &[u8], cx: &mut Context<'_>) -> MemberOutcome {
        rebuild_file(&FileRef::member(name, bytes), cx)
    }
}

/// The type found from the content; for text, the declared type or else
/// the extension may say which kind of text (CSV and TSV get the formula
/// guard).
fn true_type(bytes: &[u8], name: &str, declared: Option<FileType>) -> FileType {
    #[cfg(feature = "test-hooks")]
    if crate::hooks::is_hook(bytes) {
        return FileType::TestHook;
    }
    let t = mugai_detect::detect(bytes);
    if t == FileType::Text {
        if let Some(d @ (FileType::Csv | FileType::Tsv)) = declared {
            return d;
        }
        match extension_of(name).as_deref() {
            Some("csv") => return FileType::Csv,
            Some("tsv") | Some("tab") => return FileType::Tsv,
            _ => {}
        }
    }
    t
}

/// Applies the type rules and the allow-list. Returns the type to rebuild
/// as, with any finding that rule produced. With `unlocking` (passwords
/// were given), an encrypted OOXML document goes on to its rebuilder,
/// which decrypts it.
fn classify(
    policy: &Policy,
    name: &str,
    declared: Option<FileType>,
    t: FileType,
    bytes: &[u8],
    unlocking: bool,
) -> Result<(FileType, Vec<Finding>), Blocked> {
    let mut findings = Vec::new();
    if t == FileType::TestHook {
        return Ok((t, findings));
    }
    if t.is_executable() {
        return Err(Blocked::new(
            Code::TypeExecutable,
            format!("content is {} ({})", article(t), t.name()),
        ));
    }
    if t == FileType::Html && mugai_detect::html_has_script(bytes) {
        return Err(Blocked::new(
            Code::TypeExecutable,
            "HTML with script or active content",
        ));
    }
    // What the caller says the file is: its declared type, else what the
    // name's extension claims.
    let claim = match declared {
        Some(d) => Some((format!("declared as {}", d.name()), vec![d])),
        None => extension_of(name)
            .and_then(|ext| Some((format!("extension .{ext}"), claimed_types(&ext)?.to_vec()))),
    };
    if let Some((said, claimed)) = claim {
        if !claimed.contains(&t) {
            let detail = format!("{said} but the content is {}", t.name());
            match policy.types.on_mismatch {
                MismatchAction::Rebuild if policy.allows(t) => findings.push(Finding::new(
                    Code::TypeMismatch,
                    Action::Neutralised,
                    format!("{detail}; rebuilt as {}", t.name()),
                )),
                _ => return Err(Blocked::new(Code::TypeMismatch, detail)),
            }
        }
    }
    if t.is_unsupported_archive() {
        return Err(Blocked::new(
            Code::ArchiveUnsupported,
            format!("{} archives are not opened; send a ZIP", t.name()),
        ));
    }
    if t == FileType::OoxmlEncrypted && unlocking {
        return Ok((t, findings));
    }
    if t == FileType::OoxmlEncrypted {
        return Err(Blocked::new(
            Code::OoxmlEncrypted,
            "encrypted Office document; send it without a password",
        ));
    }
    if !policy.allows(t) {
        return Err(match t {
            FileType::Svg => Blocked::new(Code::ImageSvg, "SVG images are not allowed"),
            FileType::Msg | FileType::Ichitaro | FileType::OleOther => Blocked::new(
                Code::OleUnknown,
                format!("OLE2 file of type {} is not allowed", t.name()),
            ),
            FileType::Html => Blocked::new(Code::TypeUnknown, "HTML is not allowed"),
            _ => Blocked::new(
                Code::TypeUnknown,
                format!("type {} is not allowed", t.name()),
            ),
        });
    }
    Ok((t, findings))
}

fn article(t: FileType) -> &'static str {
    match t {
        FileType::Executable => "an executable program",
        FileType::Script => "a script",
        FileType::Msi => "an installer",
        FileType::DiskImage => "a disk image",
        FileType::OneNote => "a OneNote notebook",
        FileType::Chm => "a compiled HTML help file",
        FileType::Lnk => "a Windows shortcut",
        FileType::Jar => "a Java archive",
        _ => "runnable",
    }
}

/// Runs [`rebuild_file`], turning a panic into a block.
fn guarded_rebuild(file: &FileRef<'_>, cx: &mut Context<'_>) -> Result<Rebuilt, Blocked> {
    match catch_unwind(AssertUnwindSafe(|| rebuild_file(file, cx))) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Blocked::new(
                Code::RebuildFailed,
                format!("the {} rebuilder panicked: {msg}", file.detected.name()),
            ))
        }
    }
}

/// The one `match` from type to rebuilder, without the panic guard (for
/// fuzzing; everything else goes through `guarded_rebuild`).
pub(crate) fn rebuild_unguarded(
    ty: FileType,
    bytes: &[u8],
    cx: &mut Context<'_>,
) -> Result<Rebuilt, Blocked> {
    rebuild_by_type(ty, bytes, cx)
}

fn rebuild_by_type(ty: FileType, bytes: &[u8], cx: &mut Context<'_>) -> Result<Rebuilt, Blocked> {
    use FileType::*;
    match ty {
        Text | Csv | Tsv => mugai_text::TextRebuilder.rebuild(bytes, ty, cx),
        Pdf => mugai_pdf::PdfRebuilder.rebuild(bytes, ty, cx),
        t if t.is_ooxml() => mugai_office::OfficeRebuilder.rebuild(bytes, ty, cx),
        Doc | Xls | Ppt | Rtf => mugai_office::OfficeRebuilder.rebuild(bytes, ty, cx),
        // Reached only with passwords (an unlock); blocked otherwise.
        OoxmlEncrypted => mugai_office::OfficeRebuilder.rebuild(bytes, ty, cx),
        t if t.is_raster_image() => mugai_image::ImageRebuilder.rebuild(bytes, ty, cx),
        Zip => mugai_archive::ZipRebuilder.rebuild(bytes, ty, cx),
        Eml | Msg => mugai_mail::MailRebuilder.rebuild(bytes, ty, cx),
        #[cfg(feature = "test-hooks")]
        TestHook => crate::hooks::run(bytes),
        other => Err(Blocked::new(
            Code::TypeUnknown,
            format!("no rebuilder for {}", other.name()),
        )),
    }
}

/// The side that trusts re-checks what comes back: the output must be of
/// the type the rebuilder says it is.
fn check_output(r: &Rebuilt) -> Result<(), Blocked> {
    check_output_type(r.file_type, &r.bytes)
}

/// Whether `bytes`, by their own content, are of the type `label` says.
pub fn check_output_type(label: FileType, bytes: &[u8]) -> Result<(), Blocked> {
    let got = mugai_detect::detect(bytes);
    let ok = if got.is_executable() {
        false
    } else if label.is_text() {
        got.is_text() || bytes.is_empty() || got == FileType::Eml || got == FileType::Html
    } else if label.is_ooxml() {
        got.is_ooxml()
    } else {
        got == label || label == FileType::TestHook
    };
    if ok {
        Ok(())
    } else {
        Err(Blocked::new(
            Code::RebuildFailed,
            format!(
                "the rebuilt output is not a valid {} (it looks like {})",
                label.name(),
                got.name()
            ),
        ))
    }
}

/// The name to write the output under: the neutralised name, with the
/// extension of the output type when the old one does not claim it.
fn output_name(safe_name: &str, input: FileType, output: FileType) -> String {
    if extension_of(safe_name).is_none() && output != input && !output.extension().is_empty() {
        return format!("{safe_name}.{}", output.extension());
    }
    mugai_detect::output_name(safe_name, output)
}

/// Runs the engine in the calling process, with the scanner the policy
/// configures.
#[derive(Debug, Default, Clone, Copy)]
pub struct InProcess;

impl Sanitize for InProcess {
    fn sanitize(&self, policy: &Policy, job: Job) -> Outcome {
        let scanner = mugai_clamd::from_policy(&policy.av);
        Engine.sanitize(policy, scanner.as_ref().map(|s| s as &dyn Scanner), &job)
    }

    fn sanitize_hashed(&self, policy: &Policy, job: Job, sha256: String) -> Outcome {
        let scanner = mugai_clamd::from_policy(&policy.av);
        Engine.sanitize_hashed(
            policy,
            scanner.as_ref().map(|s| s as &dyn Scanner),
            &job,
            sha256,
        )
    }

    fn sanitize_unlocked(&self, policy: &Policy, job: Job, passwords: &Passwords) -> Outcome {
        let scanner = mugai_clamd::from_policy(&policy.av);
        Engine.sanitize_unlocked(
            policy,
            scanner.as_ref().map(|s| s as &dyn Scanner),
            &job,
            &passwords.0,
        )
    }

    fn encrypted_zips(&self, policy: &Policy, mail: &[u8], max_parts: usize) -> Vec<HeldPart> {
        encrypted_zips(policy, mail, max_parts)
    }
}

/// The mail's password-protected ZIP attachments (see
/// [`Sanitize::encrypted_zips`]); a panic takes nothing.
pub fn encrypted_zips(policy: &Policy, mail: &[u8], max_parts: usize) -> Vec<HeldPart> {
    let max = usize::try_from(policy.limits.max_input_bytes).unwrap_or(usize::MAX);
    std::panic::catch_unwind(|| mugai_mail::parts::encrypted_zips(mail, max_parts, max))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugai_core::Verdict;

    #[test]
    fn output_names_follow_the_output_type() {
        assert_eq!(
            output_name("a.docm", FileType::Docm, FileType::Docx),
            "a.docx"
        );
        assert_eq!(
            output_name("a.docx", FileType::Docm, FileType::Docx),
            "a.docx"
        );
        assert_eq!(
            output_name("a.txt", FileType::Text, FileType::Text),
            "a.txt"
        );
        assert_eq!(
            output_name("README", FileType::Text, FileType::Text),
            "README"
        );
        assert_eq!(output_name("a.jpg", FileType::Png, FileType::Png), "a.png");
    }

    #[test]
    fn members_get_the_name_rules_of_a_top_level_file() {
        let p = Policy::default();
        let budget = Budget::new(&p.limits);
        let mut cx = Context::new(&p, &budget, &Engine, None);
        let b = cx.member("dir/notes.txt.exe", b"hello\n").unwrap_err();
        assert_eq!(b.code, Code::NameDoubleExt);
        let b = cx.member("tool.scf", b"[Shell]\nCommand=2\n").unwrap_err();
        assert_eq!(b.code, Code::TypeExecutable);
        let b = cx.member("photo.jpg", b"hello\n").unwrap_err();
        assert_eq!(b.code, Code::TypeMismatch);
        let r = cx.member("page.shtml", b"hello\n").unwrap();
        assert_eq!(r.file_type, FileType::Text);
    }

    /// The rules of [`rebuild_file`] (name, type, allow-list, polyglot)
    /// give the same codes, actions and details to a top-level file and to
    /// the same file as a ZIP member (named by its path there).
    #[test]
    fn members_get_the_type_rules_and_findings_of_a_top_level_file() {
        use mugai_corpus::archive::{raw_zip, RawEntry};
        use mugai_corpus::image::{png, png_chunk, png_with_chunks, sample_rgb};
        // A PNG that a PDF reader also opens (`%PDF-` past the first KiB, so
        // that the content is still detected as a PNG, also in a ZIP).
        let poly = png_with_chunks(
            &png(&sample_rgb(8, 8)),
            &[
                png_chunk(b"tEXt", &[b'a'; 1200]),
                png_chunk(b"tEXt", b"c\0%PDF-1.4 trailer"),
            ],
        );
        let script = b"#!/bin/sh\necho hi\n".to_vec();
        let hello = b"hello\n".to_vec();
        let shared = [Code::TypeMismatch, Code::TypePolyglot];
        for on_mismatch in [MismatchAction::Block, MismatchAction::Rebuild] {
            let mut p = Policy::default();
            p.types.on_mismatch = on_mismatch;
            let rebuild = on_mismatch == MismatchAction::Rebuild;
            let cases: [(&str, &Vec<u8>, Code); 5] = [
                ("notes.txt.exe", &hello, Code::NameDoubleExt),
                ("notes.txt", &script, Code::TypeExecutable),
                ("photo.jpg", &hello, Code::TypeMismatch),
                ("image.png", &poly, Code::TypePolyglot),
                ("image.jpg", &poly, Code::TypeMismatch),
            ];
            for (name, bytes, want) in cases {
                let top = Engine.sanitize(&p, None, &job(name, bytes.clone()));
                let path = format!("d/{name}");
                let zip = raw_zip(&[RawEntry::stored(&path, bytes)], b"");
                let member = Engine.sanitize(&p, None, &job("outer.zip", zip));
                let what = format!("{name} ({on_mismatch:?}): {top:?} / {member:?}");
                assert_eq!(top.is_blocked(), member.is_blocked(), "{what}");
                if let Some(r) = top.reason() {
                    let m = member.reason().unwrap();
                    assert_eq!(r.code, want, "{what}");
                    assert_eq!(m.code, r.code, "{what}");
                    assert_eq!(m.detail, format!("{path}: {}", r.detail), "{what}");
                    continue;
                }
                // Passed: the shared rules' findings, in the same order.
                let of = |o: &Outcome, prefix: &str| -> Vec<Finding> {
                    o.findings
                        .iter()
                        .filter(|f| shared.contains(&f.code))
                        .map(|f| {
                            let d = f.detail.strip_prefix(prefix).unwrap_or("(not named)");
                            Finding::new(f.code, f.action, d)
                        })
                        .collect()
                };
                let at_top = of(&top, "");
                assert!(at_top.iter().any(|f| f.code == want), "{what}");
                assert_eq!(at_top, of(&member, &format!("{path}: ")), "{what}");
                if name == "image.jpg" {
                    assert!(rebuild, "{what}");
                    let codes: Vec<Code> = at_top.iter().map(|f| f.code).collect();
                    assert_eq!(codes, shared, "{what}");
                }
            }
        }
    }

    #[test]
    fn executables_and_unknown_types_are_blocked() {
        let p = Policy::default();
        let job = |name: &str, bytes: &[u8]| Job::new(name, bytes.to_vec());
        let mut pe = b"MZ".to_vec();
        pe.resize(128, 0);
        let o = Engine.sanitize(&p, None, &job("a.pdf", &pe));
        assert_eq!(o.verdict(), Verdict::Blocked);
        assert_eq!(o.reason().unwrap().code, Code::TypeExecutable);
        let o = Engine.sanitize(&p, None, &job("a.7z", b"7z\xBC\xAF\x27\x1C\0\x04"));
        assert_eq!(o.reason().unwrap().code, Code::ArchiveUnsupported);
        let o = Engine.sanitize(
            &p,
            None,
            &job("a.bin", &[0, 1, 2, 3, 0, 0, 0, 0, 200, 201, 0, 0]),
        );
        assert_eq!(o.reason().unwrap().code, Code::TypeUnknown);
        assert!(o.output().is_none());
    }

    fn pws(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The text of a rebuilt docx's `word/document.xml` runs.
    fn docx_text(docx: &[u8]) -> String {
        use std::io::Read;
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(docx)).unwrap();
        let mut xml = String::new();
        z.by_name("word/document.xml")
            .unwrap()
            .read_to_string(&mut xml)
            .unwrap();
        xml.split("<w:t")
            .skip(1)
            .filter_map(|s| s.split_once('>').map(|(_, r)| r))
            .filter_map(|r| r.split_once("</w:t>").map(|(t, _)| t))
            .collect()
    }

    fn encrypted_docx(text: &str, password: &str, agile: bool) -> Vec<u8> {
        use mugai_office::crypto::testenc;
        let plain = mugai_corpus::office::minimal_docx(text);
        let (info, pkg) = if agile {
            testenc::agile(&plain, password, 1000, 3)
        } else {
            testenc::standard(&plain, password, [9; 16])
        };
        testenc::container(&info, &pkg)
    }

    fn job(name: &str, bytes: Vec<u8>) -> Job {
        Job::new(name, bytes)
    }

    #[test]
    fn a_declared_type_replaces_the_name_and_is_checked_against_the_content() {
        let p = Policy::default();
        let mail =
            b"From: a@example.jp\r\nTo: b@example.jp\r\nSubject: hi\r\n\r\nbody\r\n".to_vec();
        // A mail with a name that claims nothing, or something else.
        for name in ["message", "report.pdf"] {
            let o = Engine.sanitize(&p, None, &job(name, mail.clone()).declared(FileType::Eml));
            assert_eq!(o.input_type, FileType::Eml, "{name}: {o:?}");
            assert!(!o.is_blocked(), "{name}: {o:?}");
        }
        // Without the declaration the name's claim decides: a mismatch.
        let o = Engine.sanitize(&p, None, &job("report.pdf", mail.clone()));
        assert_eq!(o.reason().unwrap().code, Code::TypeMismatch);
        // Declared a mail, but the content is not one.
        let o = Engine.sanitize(
            &p,
            None,
            &job("message", b"%PDF-1.4\n".to_vec()).declared(FileType::Eml),
        );
        let r = o.reason().unwrap();
        assert_eq!(r.code, Code::TypeMismatch);
        assert!(r.detail.contains("declared as eml"), "{r:?}");
        // Declared CSV text gets the formula guard whatever its name.
        let o = Engine.sanitize(
            &p,
            None,
            &job("data.txt", b"a,=1+2\n".to_vec()).declared(FileType::Csv),
        );
        assert_eq!(o.input_type, FileType::Csv, "{o:?}");
        assert!(
            o.findings.iter().any(|f| f.code == Code::TextFormula),
            "{o:?}"
        );
    }

    #[test]
    fn encrypted_ooxml_unlocks_with_the_right_password_only() {
        let p = Policy::default();
        for agile in [true, false] {
            let enc = encrypted_docx("秘密の文書", "pass1", agile);
            // Without passwords: blocked as before.
            let o = Engine.sanitize(&p, None, &job("a.docx", enc.clone()));
            assert_eq!(o.reason().unwrap().code, Code::OoxmlEncrypted);
            // Wrong passwords: blocked, and said so, never naming them.
            let o =
                Engine.sanitize_unlocked(&p, None, &job("a.docx", enc.clone()), &pws(&["nope"]));
            let r = o.reason().cloned().unwrap();
            assert_eq!(r.code, Code::OoxmlEncrypted);
            assert!(mugai_core::is_wrong_password(&r), "{r:?}");
            assert!(!format!("{o:?}").contains("nope"));
            // The right one, second: the plain document's text, rebuilt.
            let o = Engine.sanitize_unlocked(
                &p,
                None,
                &job("a.docx", enc.clone()),
                &pws(&["nope", "pass1"]),
            );
            assert_ne!(o.verdict(), Verdict::Blocked, "{agile}: {o:?}");
            assert_eq!(o.input_type, FileType::OoxmlEncrypted);
            assert_eq!(o.output_type(), Some(FileType::Docx));
            assert_eq!(o.output_name(), Some("a.docx"));
            assert_eq!(o.sha256, sha256_hex(&enc));
            assert!(o
                .findings
                .iter()
                .any(|f| f.code == Code::OoxmlEncrypted && f.action == Action::Removed));
            assert!(!format!("{o:?}").contains("pass1"));
            let plain = Engine.sanitize(
                &p,
                None,
                &job("a.docx", mugai_corpus::office::minimal_docx("秘密の文書")),
            );
            assert_eq!(
                docx_text(&o.output().unwrap().bytes),
                docx_text(&plain.output().unwrap().bytes)
            );
            assert_eq!(docx_text(&o.output().unwrap().bytes), "秘密の文書");
        }
    }

    #[test]
    fn pdf_with_a_user_password_unlocks_and_is_written_unencrypted() {
        let p = Policy::default();
        for r in [2, 3] {
            let enc = mugai_corpus::pdf::encrypted(r, "owner-pw", "user-pw");
            let o = Engine.sanitize(&p, None, &job("a.pdf", enc.clone()));
            assert_eq!(o.reason().unwrap().code, Code::PdfEncrypted);
            let o = Engine.sanitize_unlocked(&p, None, &job("a.pdf", enc.clone()), &pws(&["x"]));
            assert!(mugai_core::is_wrong_password(o.reason().unwrap()));
            let o = Engine.sanitize_unlocked(
                &p,
                None,
                &job("a.pdf", enc.clone()),
                &pws(&["x", "user-pw"]),
            );
            assert_ne!(o.verdict(), Verdict::Blocked, "R{r}: {o:?}");
            assert!(o
                .findings
                .iter()
                .any(|f| f.code == Code::PdfEncrypted && f.action == Action::Removed));
            let out = o.into_output().unwrap().bytes;
            let text = String::from_utf8_lossy(&out);
            // (The page's text is compared after decoding in tests/it.)
            assert!(!text.contains("/Encrypt"), "R{r}: written unencrypted");
        }
        // Owner password only (empty user password): opens as before.
        let owner_only = mugai_corpus::pdf::encrypted(3, "owner-pw", "");
        let o = Engine.sanitize(&p, None, &job("b.pdf", owner_only));
        assert_ne!(o.verdict(), Verdict::Blocked, "{o:?}");
    }

    #[test]
    fn an_encrypted_docx_in_an_encrypted_zip_takes_both_passwords() {
        use std::io::Write;
        use zip::write::SimpleFileOptions;
        let p = Policy::default();
        let inner = encrypted_docx("入れ子", "docpw", true);
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file(
            "資料.docx",
            SimpleFileOptions::default().with_aes_encryption(zip::AesMode::Aes256, "zippw"),
        )
        .unwrap();
        z.write_all(&inner).unwrap();
        let outer = z.finish().unwrap().into_inner();
        let o =
            Engine.sanitize_unlocked(&p, None, &job("ppap.zip", outer.clone()), &pws(&["zippw"]));
        let r = o.reason().unwrap();
        assert_eq!(r.code, Code::OoxmlEncrypted, "{r:?}");
        assert!(mugai_core::is_wrong_password(r), "{r:?}");
        let o =
            Engine.sanitize_unlocked(&p, None, &job("ppap.zip", outer), &pws(&["docpw", "zippw"]));
        assert_ne!(o.verdict(), Verdict::Blocked, "{o:?}");
        assert_eq!(o.input_type, FileType::Zip);
        let out = o.into_output().unwrap().bytes;
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(&out[..])).unwrap();
        let mut docx = Vec::new();
        std::io::Read::read_to_end(&mut z.by_name("資料.docx").unwrap(), &mut docx).unwrap();
        assert_eq!(docx_text(&docx), "入れ子");
    }
}
