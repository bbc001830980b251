//! Image rebuild throughput, against ImageMagick on the same images.
//!
//! Before the criterion groups, one timed pass prints images/s and MB/s of
//! (a) the in-process rebuild, (b) `mugai sanitize` run once per image,
//! (c) `convert-im6.q16 IN -strip OUT` run once per image, and the ratios
//! mugai/ImageMagick (time; below 1.0 means mugai is faster).
//!
//! Two sets: `typical` (generated office-sized pictures: a 1920x1080 photo
//! as JPEG, a screenshot as PNG, BMP, TIFF and lossless WebP, a 640x480
//! animated GIF) and `corpus-ext` (the images of ../shared/corpus-ext that
//! mugai rebuilds, when present).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::{Delay, Frame, ImageEncoder, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use mugai_core::{Budget, Context, FileType, Policy, Rebuilder};
use mugai_image::ImageRebuilder;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CONVERT: &str = "/usr/bin/convert-im6.q16";

struct Sample {
    name: String,
    ty: FileType,
    bytes: Vec<u8>,
}

fn photo(w: u32, h: u32) -> RgbImage {
    // Smooth gradients with texture, like a photograph.
    RgbImage::from_fn(w, h, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 27;
        Rgb([
            ((x * 255 / w) as u8).wrapping_add(n as u8),
            ((y * 255 / h) as u8).wrapping_add((n >> 1) as u8),
            (((x + y) * 127 / (w + h)) as u8).wrapping_add(n as u8),
        ])
    })
}

fn screenshot(w: u32, h: u32) -> RgbImage {
    // Flat areas and text-like edges.
    RgbImage::from_fn(w, h, |x, y| {
        if y < 40 {
            Rgb([30, 60, 120])
        } else if (y / 12) % 3 == 0 && (x / 5) % 7 != 0 && x % 600 < 400 {
            Rgb([20, 20, 20])
        } else {
            Rgb([245, 245, 245])
        }
    })
}

fn encode(img: &RgbImage, f: ImageFormat) -> Vec<u8> {
    let mut v = std::io::Cursor::new(Vec::new());
    if f == ImageFormat::Jpeg {
        JpegEncoder::new_with_quality(&mut v, 85)
            .write_image(
                img.as_raw(),
                img.width(),
                img.height(),
                image::ExtendedColorType::Rgb8,
            )
            .expect("jpeg");
    } else {
        img.write_to(&mut v, f).expect("encode");
    }
    v.into_inner()
}

fn anim_gif(w: u32, h: u32, frames: u8) -> Vec<u8> {
    let mut v = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut v, 30);
        enc.set_repeat(Repeat::Infinite).expect("repeat");
        for k in 0..frames {
            let img = RgbaImage::from_fn(w, h, |x, y| {
                let c = ((x / 8 + y / 8 + u32::from(k)) % 8) as u8 * 30;
                Rgba([c, 255 - c, 128, 255])
            });
            let f = Frame::from_parts(img, 0, 0, Delay::from_numer_denom_ms(80, 1));
            enc.encode_frame(f).expect("frame");
        }
    }
    v
}

fn typical() -> Vec<Sample> {
    let p = photo(1920, 1080);
    let s = screenshot(1920, 1080);
    let mk = |name: &str, ty, bytes| Sample {
        name: name.into(),
        ty,
        bytes,
    };
    vec![
        mk("photo.jpg", FileType::Jpeg, encode(&p, ImageFormat::Jpeg)),
        mk("screen.png", FileType::Png, encode(&s, ImageFormat::Png)),
        mk("screen.bmp", FileType::Bmp, encode(&s, ImageFormat::Bmp)),
        mk("screen.tiff", FileType::Tiff, encode(&s, ImageFormat::Tiff)),
        mk("screen.webp", FileType::Webp, encode(&s, ImageFormat::WebP)),
        mk("anim.gif", FileType::Gif, anim_gif(640, 480, 4)),
    ]
}

fn rebuild(s: &Sample) -> bool {
    let policy = Policy::default();
    let budget = Budget::new(&policy.limits);
    let mut cx = Context::new(&policy, &budget, &mugai_engine::Engine, None);
    ImageRebuilder.rebuild(&s.bytes, s.ty, &mut cx).is_ok()
}

/// The corpus-ext images mugai rebuilds (blocked ones are left out so both
/// tools do the same work).
fn corpus_ext() -> Vec<Sample> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus-ext");
    let Ok(manifest) = std::fs::read_to_string(root.join("MANIFEST.tsv")) else {
        eprintln!("corpus-ext absent: its set is skipped");
        return Vec::new();
    };
    manifest
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let path = cols.get(2)?;
            cols.get(4)?.starts_with("image-").then(|| root.join(path))
        })
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            let ty = mugai_detect_type(&bytes)?;
            let s = Sample {
                name: p.file_name()?.to_string_lossy().into(),
                ty,
                bytes,
            };
            rebuild(&s).then_some(s)
        })
        .collect()
}

fn mugai_detect_type(b: &[u8]) -> Option<FileType> {
    Some(match image::guess_format(b).ok()? {
        ImageFormat::Jpeg => FileType::Jpeg,
        ImageFormat::Png => FileType::Png,
        ImageFormat::Gif => FileType::Gif,
        ImageFormat::Bmp => FileType::Bmp,
        ImageFormat::Tiff => FileType::Tiff,
        ImageFormat::WebP => FileType::Webp,
        _ => return None,
    })
}

fn write_all(dir: &Path, set: &[Sample]) -> Vec<PathBuf> {
    set.iter()
        .enumerate()
        .map(|(i, s)| {
            let p = dir.join(format!("{i:03}-{}", s.name));
            std::fs::write(&p, &s.bytes).expect("write sample");
            p
        })
        .collect()
}

/// Times `f` over `rounds` rounds; returns seconds per round.
fn time(rounds: u32, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..rounds {
        f();
    }
    t.elapsed().as_secs_f64() / f64::from(rounds)
}

fn compare(label: &str, set: &[Sample]) {
    if set.is_empty() {
        return;
    }
    let n = set.len() as f64;
    let mb = set.iter().map(|s| s.bytes.len()).sum::<usize>() as f64 / 1e6;
    let dir = std::env::temp_dir().join(format!("mugai-bench-image-{}", std::process::id()));
    let out = dir.join("out");
    std::fs::create_dir_all(&out).expect("bench dir");
    let files = write_all(&dir, set);
    let rounds = 3;

    let lib = time(rounds, || {
        for s in set {
            assert!(rebuild(s), "{} did not rebuild", s.name);
        }
    });
    let mugai_bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/mugai");
    let cli = mugai_bin.exists().then(|| {
        time(rounds, || {
            for f in &files {
                let st = Command::new(&mugai_bin)
                    .args(["sanitize", "--workers", "1", "--out"])
                    .arg(&out)
                    .arg(f)
                    .output()
                    .expect("mugai");
                assert!(st.status.code().is_some());
            }
        })
    });
    let im = Path::new(CONVERT).exists().then(|| {
        time(rounds, || {
            for f in &files {
                let name = f.file_name().expect("name").to_string_lossy().to_string();
                // ImageMagick names the output format by extension.
                let st = Command::new(CONVERT)
                    .arg(f)
                    .arg("-strip")
                    .arg(out.join(format!("im-{name}")))
                    .output()
                    .expect("convert");
                assert!(st.status.code().is_some());
            }
        })
    });
    let rate = |secs: f64| format!("{:8.1} images/s {:8.2} MB/s", n / secs, mb / secs);
    eprintln!("[{label}] {} images, {mb:.2} MB", set.len());
    eprintln!("  mugai rebuild (in process)      {}", rate(lib));
    if let Some(c) = cli {
        eprintln!("  mugai sanitize (one per image)  {}", rate(c));
    } else {
        eprintln!(
            "  mugai sanitize: build target/release/mugai first (cargo build --release -p mugai)"
        );
    }
    if let Some(i) = im {
        eprintln!("  convert -strip (one per image)  {}", rate(i));
        eprintln!("  ratio time mugai/ImageMagick: in process {:.3}", lib / i);
        if let Some(c) = cli {
            eprintln!(
                "  ratio time mugai/ImageMagick: process per image {:.3}",
                c / i
            );
        }
    } else {
        eprintln!("  {CONVERT} absent: no comparison");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn bench(c: &mut Criterion) {
    let typical = typical();
    let ext = corpus_ext();
    compare("typical", &typical);
    compare("corpus-ext", &ext);

    let mut g = c.benchmark_group("image");
    g.measurement_time(Duration::from_secs(5));
    for s in &typical {
        g.throughput(Throughput::Bytes(s.bytes.len() as u64));
        g.bench_function(format!("rebuild/{}", s.name), |b| b.iter(|| rebuild(s)));
    }
    if !ext.is_empty() {
        let bytes: usize = ext.iter().map(|s| s.bytes.len()).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function("rebuild/corpus-ext-all", |b| {
            b.iter(|| ext.iter().filter(|s| rebuild(s)).count())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
