//! Integration tests: embedded font programs rebuilt. Real PDFs of the
//! external corpus, one for each program format, are drawn by poppler
//! before and after: the rebuilt programs draw what the originals drew,
//! measured against the same file with its programs dropped (so the check
//! can tell a font that no longer draws).

use crate::util;
use std::path::Path;
use std::process::Command;

/// (file in the external corpus, the font type pdffonts names).
const CASES: &[(&str, &str)] = &[
    (
        "py-pdf_sample-files/pdf-benign/minimal-document.pdf",
        "Type 1",
    ),
    ("mozilla_pdf.js/pdf-benign/tracemonkey.pdf", "Type 1"),
    (
        "py-pdf_sample-files/pdf-benign/002-trivial-libre-office-writer.pdf",
        "TrueType",
    ),
    (
        "py-pdf_sample-files/pdf-benign/google-doc-document.pdf",
        "CID TrueType",
    ),
    (
        "py-pdf_sample-files/pdf-benign/crazyones-pdfa.pdf",
        "Type 1C",
    ),
    ("mozilla_pdf.js/pdf-active/issue17056.pdf", "CID Type 0C"),
    (
        "mozilla_pdf.js/pdf-active/bug1937438_af_from_latex.pdf",
        "CID Type 0C",
    ),
];

/// Page 1 drawn in grey at 50 dpi: (width, height, pixels).
fn render(pdf: &Path) -> (usize, usize, Vec<u8>) {
    let o = Command::new("pdftoppm")
        .args(["-q", "-gray", "-r", "50", "-f", "1", "-l", "1"])
        .arg(pdf)
        .output()
        .expect("run pdftoppm");
    assert!(o.status.success(), "pdftoppm failed on {}", pdf.display());
    // P5 <w> <h> 255 <pixels>
    let data = o.stdout;
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while data[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !data[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&data[start..at]).into_owned());
    }
    assert_eq!(fields[0], "P5");
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = data[at + 1..].to_vec();
    assert_eq!(pixels.len(), w * h);
    (w, h, pixels)
}

fn ink(p: &(usize, usize, Vec<u8>)) -> usize {
    p.2.iter().filter(|&&v| v < 128).count()
}

/// Mean absolute difference of two drawings of the same page, 0..1.
fn difference(a: &(usize, usize, Vec<u8>), b: &(usize, usize, Vec<u8>)) -> f64 {
    assert_eq!((a.0, a.1), (b.0, b.1), "page size changed");
    let sum: u64 =
        a.2.iter()
            .zip(&b.2)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
    sum as f64 / (255.0 * a.2.len() as f64)
}

/// Embedded fonts of `font_type` that pdffonts lists.
fn embedded(pdf: &Path, font_type: &str) -> usize {
    let o = Command::new("pdffonts")
        .arg(pdf)
        .output()
        .expect("pdffonts");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(2)
        .filter(|l| l.get(37..54).is_some_and(|t| t.trim() == font_type))
        .filter(|l| l.get(72..75) == Some("yes"))
        .count()
}

fn sanitise(input: &Path, out: &Path, policy: Option<&Path>) -> std::path::PathBuf {
    let mut extra = Vec::new();
    if let Some(p) = policy {
        extra = vec!["--policy", p.to_str().expect("utf-8 path")];
    }
    let (o, lines) = util::sanitize_json(input, out, &extra);
    assert_eq!(lines.len(), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let r = &lines[0];
    let p = r["output"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: not written: {r}", input.display()));
    let codes = util::codes(r);
    if policy.is_none() {
        assert!(
            !codes.contains("pdf.font"),
            "{}: a font program dropped: {r}",
            input.display()
        );
    }
    p.into()
}

#[test]
fn rebuilt_font_programs_draw_as_before() {
    let Some(ext) = util::corpus_ext() else {
        return;
    };
    if !crate::pdf::tool("pdftoppm") || Command::new("pdffonts").arg("-v").output().is_err() {
        util::skip("pdftoppm/pdffonts (poppler-utils) are not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("drop.toml");
    std::fs::write(&policy, "[pdf]\nfonts = \"drop\"\n").unwrap();
    for (i, (file, font_type)) in CASES.iter().enumerate() {
        let input = ext.join(file);
        let before = embedded(&input, font_type);
        assert!(before > 0, "{file}: no embedded {font_type} font");
        let rebuilt = sanitise(&input, &tmp.path().join(format!("r{i}")), None);
        let dropped = sanitise(&input, &tmp.path().join(format!("d{i}")), Some(&policy));
        assert_eq!(embedded(&rebuilt, font_type), before, "{file}: fonts lost");
        assert_eq!(embedded(&dropped, font_type), 0, "{file}: fonts kept");
        let (orig, new, none) = (render(&input), render(&rebuilt), render(&dropped));
        assert!(ink(&orig) > 100, "{file}: page 1 draws nothing");
        let (d_new, d_none) = (difference(&orig, &new), difference(&orig, &none));
        eprintln!(
            "{file}: ink {} -> {} (dropped: {}); difference {d_new:.5} (dropped: {d_none:.5})",
            ink(&orig),
            ink(&new),
            ink(&none)
        );
        assert!(
            d_none > 0.0 && d_new <= d_none / 10.0,
            "{file}: the rebuilt fonts draw differently ({d_new:.5}; dropped {d_none:.5})"
        );
        assert!(ink(&new) * 10 >= ink(&orig) * 9, "{file}: glyphs lost");
    }
}
