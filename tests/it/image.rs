//! Integration tests: image. Every output is checked by code independent
//! of the rebuilder: its own container walk (no metadata, nothing after the
//! end marker), a decode, the dimensions, and for lossless types the pixels.

use crate::util;
use image::{AnimationDecoder, DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use mugai_core::FileType;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}
fn be32(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}
fn le32(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// The container walk of an output: `Err` names the first thing that a
/// rebuilt file must not have.
fn structure(ty: &str, b: &[u8]) -> Result<(), String> {
    match ty {
        "png" => {
            let mut at = 8;
            loop {
                let len = be32(b, at).ok_or("chunk header past the end")?;
                let t = b.get(at + 4..at + 8).ok_or("chunk type past the end")?;
                at += 12 + len;
                match t {
                    b"IHDR" | b"PLTE" | b"tRNS" | b"iCCP" | b"IDAT" => {}
                    b"IEND" if at == b.len() => return Ok(()),
                    b"IEND" => return Err(format!("{} bytes after IEND", b.len() - at)),
                    other => return Err(format!("chunk {}", String::from_utf8_lossy(other))),
                }
            }
        }
        "jpeg" => {
            let mut at = 2;
            loop {
                if b.get(at) != Some(&0xFF) {
                    return Err(format!("no marker at {at}"));
                }
                let m = *b.get(at + 1).ok_or("marker past the end")?;
                if m == 0xD9 {
                    return if at + 2 == b.len() {
                        Ok(())
                    } else {
                        Err(format!("{} bytes after EOI", b.len() - at - 2))
                    };
                }
                let len = be16(b, at + 2).ok_or("length past the end")?;
                let body = b.get(at + 4..at + 2 + len).ok_or("segment past the end")?;
                match m {
                    0xE0 if body.starts_with(b"JFIF\0") => {}
                    0xE2 if body.starts_with(b"ICC_PROFILE\0") => {}
                    0xDB | 0xC0 | 0xC1 | 0xC2 | 0xC4 | 0xDD => {}
                    0xDA => {}
                    other => return Err(format!("segment 0x{other:02X}")),
                }
                at += 2 + len;
                if m == 0xDA {
                    // Entropy-coded data runs to the next marker that is
                    // neither a stuffed 0x00 nor a restart.
                    while !(b.get(at) == Some(&0xFF)
                        && b.get(at + 1)
                            .is_some_and(|&n| n != 0 && !(0xD0..=0xD7).contains(&n)))
                    {
                        if at >= b.len() {
                            return Err("scan runs past the end".into());
                        }
                        at += 1;
                    }
                }
            }
        }
        "gif" => {
            let flags = *b.get(10).ok_or("short")?;
            let mut at = 13
                + if flags & 0x80 != 0 {
                    3 << ((flags & 7) + 1)
                } else {
                    0
                };
            let skip_blocks = |mut at: usize| -> Option<usize> {
                loop {
                    let n = usize::from(*b.get(at)?);
                    at += 1 + n;
                    if n == 0 {
                        return Some(at);
                    }
                }
            };
            loop {
                match b.get(at) {
                    Some(0x3B) if at + 1 == b.len() => return Ok(()),
                    Some(0x3B) => {
                        return Err(format!("{} bytes after the trailer", b.len() - at - 1))
                    }
                    Some(0x21) => {
                        let label = *b.get(at + 1).ok_or("short")?;
                        let ok = label == 0xF9
                            || (label == 0xFF && b.get(at + 3..at + 14) == Some(b"NETSCAPE2.0"));
                        if !ok {
                            return Err(format!("extension 0x{label:02X}"));
                        }
                        at = skip_blocks(at + 2).ok_or("extension past the end")?;
                    }
                    Some(0x2C) => {
                        let f = *b.get(at + 9).ok_or("short")?;
                        at += 10 + if f & 0x80 != 0 { 3 << ((f & 7) + 1) } else { 0 } + 1;
                        at = skip_blocks(at).ok_or("image data past the end")?;
                    }
                    other => return Err(format!("block {other:?}")),
                }
            }
        }
        "bmp" => match le32(b, 2) {
            Some(n) if n == b.len() => Ok(()),
            n => Err(format!("bfSize {n:?} but {} bytes", b.len())),
        },
        "webp" => {
            if le32(b, 4).map(|n| n + 8) != Some(b.len()) {
                return Err("RIFF size is not the file size".into());
            }
            let mut at = 12;
            while at + 8 <= b.len() {
                let id = &b[at..at + 4];
                if !matches!(id, b"VP8L" | b"VP8X" | b"ICCP" | b"ALPH") {
                    return Err(format!("chunk {}", String::from_utf8_lossy(id)));
                }
                at += 8 + le32(b, at + 4).ok_or("short")?.next_multiple_of(2);
            }
            Ok(())
        }
        "tiff" => {
            // Baseline tags only: layout, compression, resolution, profile.
            const ALLOWED: &[u16] = &[
                254, 256, 257, 258, 259, 262, 273, 277, 278, 279, 282, 283, 284, 296, 317, 338,
                339, 34675,
            ];
            let le = b.starts_with(b"II*\0");
            let rd16 = |at: usize| -> Option<u16> {
                let x: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
                Some(if le {
                    u16::from_le_bytes(x)
                } else {
                    u16::from_be_bytes(x)
                })
            };
            let rd32 = |at: usize| -> Option<usize> {
                let x: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
                Some(if le {
                    u32::from_le_bytes(x)
                } else {
                    u32::from_be_bytes(x)
                } as usize)
            };
            let mut ifd = rd32(4).ok_or("short")?;
            let mut pages = 0;
            while ifd != 0 && pages < 10_000 {
                let n = usize::from(rd16(ifd).ok_or("IFD past the end")?);
                for i in 0..n {
                    let tag = rd16(ifd + 2 + 12 * i).ok_or("entry past the end")?;
                    if !ALLOWED.contains(&tag) {
                        return Err(format!("tag {tag}"));
                    }
                }
                ifd = rd32(ifd + 2 + 12 * n).ok_or("next IFD past the end")?;
                pages += 1;
            }
            Ok(())
        }
        other => Err(format!("unexpected type {other}")),
    }
}

fn format_of(ty: &str) -> Option<ImageFormat> {
    Some(match ty {
        "png" => ImageFormat::Png,
        "jpeg" => ImageFormat::Jpeg,
        "gif" => ImageFormat::Gif,
        "bmp" => ImageFormat::Bmp,
        "tiff" => ImageFormat::Tiff,
        "webp" => ImageFormat::WebP,
        _ => return None,
    })
}

/// Decodes with the orientation its metadata asks for, as a viewer would.
fn decode(bytes: &[u8], f: ImageFormat) -> Option<DynamicImage> {
    let mut r = ImageReader::with_format(Cursor::new(bytes), f);
    let mut l = image::Limits::default();
    l.max_image_width = Some(20_000);
    l.max_image_height = Some(20_000);
    r.limits(l);
    let mut d = r.into_decoder().ok()?;
    let o = d.orientation().ok()?;
    let mut img = DynamicImage::from_decoder(d).ok()?;
    img.apply_orientation(o);
    Some(img)
}

fn gif_frames(bytes: &[u8]) -> Option<Vec<image::RgbaImage>> {
    let d = image::codecs::gif::GifDecoder::new(Cursor::new(bytes)).ok()?;
    d.into_frames()
        .take(1000)
        .map(|f| f.ok().map(|f| f.into_buffer()))
        .collect()
}

/// Whether the input's pixels must come out unchanged.
fn lossless(ty: &str, input: &[u8]) -> bool {
    match ty {
        "png" | "gif" | "bmp" | "tiff" => true,
        "webp" => !input.windows(4).any(|w| w == b"VP8 "),
        _ => false,
    }
}

/// Checks one sanitised output against its input; `Err` says what is wrong.
/// Returns whether pixels were compared.
fn check_output(ty: &str, input: &[u8], output: &[u8]) -> Result<bool, String> {
    structure(ty, output)?;
    let f = format_of(ty).ok_or("not an image type")?;
    let out = decode(output, f).ok_or("the output does not decode")?;
    let Some(inp) = decode(input, f) else {
        // Inputs that only our rebuilder could read: the output still has
        // to decode, which it did.
        return Ok(false);
    };
    if (inp.width(), inp.height()) != (out.width(), out.height()) {
        return Err(format!(
            "{}x{} became {}x{}",
            inp.width(),
            inp.height(),
            out.width(),
            out.height()
        ));
    }
    if ty == "gif" {
        let (a, b) = (gif_frames(input), gif_frames(output));
        if let (Some(a), Some(b)) = (a, b) {
            if a != b {
                return Err(format!(
                    "GIF frames differ ({} vs {} frames)",
                    a.len(),
                    b.len()
                ));
            }
            return Ok(true);
        }
        return Err("the output's frames do not decode".into());
    }
    if lossless(ty, input) {
        if inp.to_rgba16() != out.to_rgba16() {
            return Err("pixels differ".into());
        }
        return Ok(true);
    }
    // JPEG and lossy WebP: the same picture, within re-encoding error.
    let (a, b) = (inp.to_rgb8(), out.to_rgb8());
    let diff: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    let mean = diff as f64 / a.as_raw().len().max(1) as f64;
    if mean > 8.0 {
        return Err(format!(
            "mean sample difference {mean:.1} after re-encoding"
        ));
    }
    Ok(false)
}

/// Runs `mugai sanitize --json` over `inputs` in one process, killed if it
/// runs past `limit`; returns the report of each input by its path.
fn sanitize_all(
    inputs: &[PathBuf],
    out: &Path,
    prefix: &[&str],
    extra: &[&str],
    limit: Duration,
) -> (Option<i32>, BTreeMap<String, Value>) {
    let mut cmd = if prefix.is_empty() {
        util::mugai()
    } else {
        let mut c = Command::new(prefix[0]);
        c.args(&prefix[1..]).arg(env!("CARGO_BIN_EXE_mugai"));
        c
    };
    cmd.arg("sanitize")
        .arg("--json")
        .arg("--out")
        .arg(out)
        .args(extra)
        .args(inputs);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mugai");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("mugai ran past {limit:?} on {} inputs", inputs.len());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let o = child.wait_with_output().expect("output");
    assert!(
        !o.stdout.is_empty() || status.success(),
        "no output; stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let reports = util::json_lines(&o)
        .into_iter()
        .map(|r| (r["input"].as_str().unwrap_or_default().to_string(), r))
        .collect();
    (status.code(), reports)
}

#[test]
fn generated_images_rebuild_to_checked_outputs() {
    let dir = util::corpus_dir().join("image");
    let manifest = mugai_corpus::read_manifest(util::corpus_dir()).expect("manifest");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("image corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 20, "only {} image cases", inputs.len());
    let out = tempfile::tempdir().expect("tempdir");
    let (_, reports) = sanitize_all(&inputs, out.path(), &[], &[], Duration::from_secs(120));
    let mut compared = 0;
    for input in &inputs {
        let key = input.to_string_lossy().to_string();
        let r = reports
            .get(&key)
            .unwrap_or_else(|| panic!("no report for {key}"));
        let rel = format!(
            "image/{}",
            input.file_name().unwrap_or_default().to_string_lossy()
        );
        let expect = &manifest[&rel];
        assert_eq!(
            r["verdict"],
            serde_json::to_value(expect.verdict).expect("verdict"),
            "{rel}: {r}"
        );
        let want: std::collections::BTreeSet<String> =
            expect.codes.iter().map(|c| c.to_string()).collect();
        assert_eq!(util::codes(r), want, "{rel}: {r}");
        if let Some(path) = r["output"].as_str() {
            let ty = r["type"].as_str().unwrap_or_default();
            let bytes = std::fs::read(input).expect("input");
            let output = std::fs::read(path).expect("output");
            match check_output(ty, &bytes, &output) {
                Ok(px) => compared += usize::from(px),
                Err(e) => panic!("{rel}: {e}"),
            }
        }
    }
    // Every lossless clean case (PNG, GIF, BMP, TIFF, WebP) was compared.
    assert!(compared >= 8, "pixels compared for only {compared} outputs");
}

#[test]
fn rotated_jpeg_comes_out_upright() {
    let input = util::corpus_dir().join("image/exif_rotated.jpg");
    let out = tempfile::tempdir().expect("tempdir");
    let (_, reports) = util::sanitize_json(&input, out.path(), &[]);
    let path = reports[0]["output"].as_str().expect("an output");
    let img = image::open(path).expect("decodes");
    // 40x24 stored with orientation 6 (rotate 90° clockwise to view).
    assert_eq!((img.width(), img.height()), (24, 40));
}

#[test]
fn icc_profiles_and_tiff_pages_survive() {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = util::corpus_dir().join("image");
    let (_, r) = util::sanitize_json(&dir.join("icc_profile.png"), out.path(), &[]);
    let png = std::fs::read(r[0]["output"].as_str().expect("output")).expect("read");
    assert!(
        png.windows(4).any(|w| w == b"iCCP"),
        "the ICC profile was dropped"
    );
    let (_, r) = util::sanitize_json(&dir.join("multipage.tiff"), out.path(), &[]);
    let tiff = std::fs::read(r[0]["output"].as_str().expect("output")).expect("read");
    // Count the IFD chain of the output.
    let rd32 =
        |at: usize| u32::from_le_bytes(tiff[at..at + 4].try_into().expect("4 bytes")) as usize;
    let (mut ifd, mut pages) = (rd32(4), 0);
    while ifd != 0 && pages < 10 {
        let n = usize::from(u16::from_le_bytes([tiff[ifd], tiff[ifd + 1]]));
        ifd = rd32(ifd + 2 + 12 * n);
        pages += 1;
    }
    assert_eq!(pages, 3);
}

/// Writes the bombs to a directory: the generated ones and a PNG whose
/// pixel data really is 12000x12000 (432 MB of RGB, under 1 MB compressed).
fn bombs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(util::corpus_dir().join("image"))
        .expect("image corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains("bomb"))
        .collect();
    let (w, h) = (12_000u32, 12_000u32);
    let mut png = Vec::new();
    {
        let mut enc = png_crate_free::Writer::new(&mut png, w, h);
        enc.write_rows();
    }
    let p = dir.join("real_bomb_12000x12000.png");
    std::fs::write(&p, &png).expect("write");
    v.push(p);
    v.sort();
    v
}

/// A minimal PNG writer (zero rows, deflated) that never holds the image.
mod png_crate_free {
    use std::io::Write;

    pub struct Writer<'a> {
        out: &'a mut Vec<u8>,
        w: u32,
        h: u32,
    }

    fn chunk(out: &mut Vec<u8>, ty: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(ty);
        out.extend_from_slice(data);
        let crc = crc(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    fn crc(b: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &x in b {
            c ^= u32::from(x);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    impl<'a> Writer<'a> {
        pub fn new(out: &'a mut Vec<u8>, w: u32, h: u32) -> Self {
            Writer { out, w, h }
        }

        pub fn write_rows(&mut self) {
            self.out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
            let mut ihdr = self.w.to_be_bytes().to_vec();
            ihdr.extend_from_slice(&self.h.to_be_bytes());
            ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
            chunk(self.out, b"IHDR", &ihdr);
            let row = vec![0u8; 1 + 3 * self.w as usize];
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            for _ in 0..self.h {
                z.write_all(&row).expect("deflate");
            }
            let data = z.finish().expect("deflate");
            chunk(self.out, b"IDAT", &data);
            chunk(self.out, b"IEND", b"");
        }
    }
}

#[test]
fn bombs_are_blocked_under_a_512_mib_address_space() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        crate::util::skip("prlimit (util-linux) is not installed");
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let inputs = bombs(work.path());
    assert!(inputs.len() >= 5);
    let out = work.path().join("out");
    // The workers limit themselves to the policy's size; under a 512 MiB
    // hard limit they may not ask for more.
    let policy = work.path().join("policy.toml");
    std::fs::write(&policy, "[limits]\nworker_memory_mib = 512\n").expect("policy");
    let policy = policy.to_string_lossy().to_string();
    let (code, reports) = sanitize_all(
        &inputs,
        &out,
        &["prlimit", "--as=536870912", "--"],
        &["--policy", &policy],
        Duration::from_secs(60),
    );
    // Exit 1: blocked files, not a crash (a kill would give no code or 2).
    assert_eq!(code, Some(1), "{reports:?}");
    assert_eq!(
        reports.len(),
        inputs.len(),
        "a report per bomb: {reports:?}"
    );
    for (input, r) in &reports {
        assert_eq!(r["verdict"], "blocked", "{input}: {r}");
        assert!(
            r["reason"]
                .as_str()
                .is_some_and(|s| s.starts_with("image.bomb")),
            "{input}: {r}"
        );
    }
}

/// The image files of corpus-ext, by MANIFEST.tsv category.
fn corpus_ext_images(root: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let (path, cat) = (cols.get(2)?, cols.get(4)?);
            cat.starts_with("image-").then(|| root.join(path))
        })
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn corpus_ext_images_are_rebuilt_or_blocked_with_a_reason() {
    let Some(root) = util::corpus_ext() else {
        return;
    };
    let inputs = corpus_ext_images(&root);
    assert!(
        !inputs.is_empty(),
        "no image rows in corpus-ext's MANIFEST.tsv"
    );
    let out = tempfile::tempdir().expect("tempdir");
    let (code, reports) = sanitize_all(&inputs, out.path(), &[], &[], Duration::from_secs(120));
    assert!(matches!(code, Some(0) | Some(1)), "exit {code:?}");
    let (mut clean, mut sanitized, mut blocked, mut compared) = (0, 0, 0, 0);
    let mut reasons = BTreeMap::<String, usize>::new();
    for input in &inputs {
        let key = input.to_string_lossy().to_string();
        let r = reports
            .get(&key)
            .unwrap_or_else(|| panic!("no report for {key}"));
        match r["verdict"].as_str() {
            Some("clean") => clean += 1,
            Some("sanitized") => sanitized += 1,
            Some("blocked") => {
                blocked += 1;
                let reason = r["reason"].as_str().unwrap_or_default();
                assert!(!reason.is_empty(), "{key}: blocked without a reason");
                assert_ne!(r["reason"], "worker.crashed", "{key}");
                let code = reason.split(':').next().unwrap_or_default().to_string();
                *reasons.entry(code).or_default() += 1;
                continue;
            }
            other => panic!("{key}: verdict {other:?}"),
        }
        let ty = r["type"].as_str().unwrap_or_default();
        let output = std::fs::read(r["output"].as_str().expect("output path")).expect("output");
        let bytes = std::fs::read(input).expect("input");
        match check_output(ty, &bytes, &output) {
            Ok(px) => compared += usize::from(px),
            Err(e) => panic!("{key}: {e}"),
        }
    }
    eprintln!(
        "corpus-ext images: {} files: {clean} clean, {sanitized} sanitized, {blocked} blocked {reasons:?}; pixels identical in {compared}",
        inputs.len()
    );
    // Benign images stay useful: most of them come out.
    assert!(
        clean + sanitized > blocked,
        "{clean} clean, {sanitized} sanitized, {blocked} blocked"
    );
}

#[test]
fn mutated_images_never_panic_or_hang() {
    let dir = util::corpus_dir().join("image");
    let seed = |name: &str| std::fs::read(dir.join(name)).expect("seed");
    let sets: [(FileType, Vec<Vec<u8>>); 6] = [
        (
            FileType::Png,
            vec![
                seed("clean.png"),
                seed("text_chunks_trailing.png"),
                seed("icc_profile.png"),
            ],
        ),
        (
            FileType::Jpeg,
            vec![seed("clean.jpg"), seed("exif_rotated.jpg")],
        ),
        (
            FileType::Gif,
            vec![seed("clean_anim.gif"), seed("comment.gif")],
        ),
        (
            FileType::Tiff,
            vec![seed("clean.tiff"), seed("description.tiff")],
        ),
        (FileType::Bmp, vec![seed("clean.bmp"), seed("trailing.bmp")]),
        (
            FileType::Webp,
            vec![seed("clean_lossless.webp"), seed("exif_xmp.webp")],
        ),
    ];
    for (ty, seeds) in &sets {
        let r = mugai_engine::fuzz::smoke(
            *ty,
            seeds,
            100_000,
            Duration::from_secs(8),
            Duration::from_secs(10),
        );
        eprintln!(
            "{}: {} runs, {} rebuilt, {} blocked, slowest {:?}",
            ty.name(),
            r.runs,
            r.rebuilt,
            r.blocked,
            r.slowest
        );
        assert!(
            r.panics.is_empty(),
            "{}: {} panics, first: {:?}",
            ty.name(),
            r.panics.len(),
            r.panics.first().map(|p| &p.1)
        );
        assert!(r.runs >= 200, "{}: only {} runs", ty.name(), r.runs);
        assert!(r.rebuilt > 0 && r.blocked > 0, "{}: {r:?}", ty.name());
        assert!(
            r.slowest < Duration::from_secs(5),
            "{}: slowest {:?}",
            ty.name(),
            r.slowest
        );
    }
}

/// Palette (indexed-colour) TIFF, written by ImageMagick at 8 and 4 bits,
/// uncompressed and LZW, in both byte orders: rebuilt with the same
/// pixels as ImageMagick reads from the input.
#[test]
fn palette_tiffs_are_rebuilt_with_their_colours() {
    if Command::new("convert").arg("-version").output().is_err() {
        util::skip("ImageMagick (convert) is missing");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let variants: [(&str, &[&str]); 4] = [
        ("pal8.tif", &["-colors", "200", "-depth", "8"]),
        ("pal4.tif", &["-colors", "16", "-depth", "4"]),
        ("pal8_lzw.tif", &["-colors", "100", "-compress", "LZW"]),
        ("pal8_msb.tif", &["-colors", "60", "-endian", "MSB"]),
    ];
    for (name, args) in variants {
        let input = tmp.path().join(name);
        let o = Command::new("convert")
            .args([
                "-size",
                "37x23",
                "plasma:fractal",
                "-seed",
                "7",
                "-type",
                "Palette",
            ])
            .args(args)
            .arg(&input)
            .output()
            .expect("convert");
        assert!(o.status.success(), "{name}: {o:?}");
        let ident = Command::new("identify")
            .args(["-format", "%[tiff:photometric]"])
            .arg(&input)
            .output()
            .expect("identify");
        assert_eq!(String::from_utf8_lossy(&ident.stdout), "palette", "{name}");
        let want = Command::new("convert")
            .arg(&input)
            .arg("-depth")
            .arg("8")
            .arg("rgb:-")
            .output()
            .expect("convert to rgb");
        let out = tmp.path().join(format!("out-{name}"));
        let (_, r) = util::sanitize_json(&input, &out, &[]);
        assert_eq!(r[0]["verdict"], "clean", "{name}: {}", r[0]);
        let bytes = std::fs::read(r[0]["output"].as_str().expect("output")).expect("read");
        let img = image::load_from_memory_with_format(&bytes, ImageFormat::Tiff)
            .expect("the output decodes");
        assert_eq!((img.width(), img.height()), (37, 23), "{name}");
        // The colour map holds 16-bit values; readers round them to 8
        // bits differently (by one at most).
        let got = img.to_rgb8().into_raw();
        assert_eq!(got.len(), want.stdout.len(), "{name}");
        let worst = got
            .iter()
            .zip(&want.stdout)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        assert!(
            worst <= 1,
            "{name}: the pixels differ from ImageMagick's reading of the input by {worst}"
        );
    }
}
