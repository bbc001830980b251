//! What a blocked body becomes: an HTTP 403 page in Japanese and English,
//! and the ICAP headers other ICAP servers use to report it
//! (`X-Blocked-Reason`, `X-Infection-Found` for malware,
//! `X-Violations-Found` for other blocks).

use mugai_core::{Code, Finding};

/// A header value: printable ASCII only (other characters become `?`),
/// at most `max` characters.
pub fn header_safe(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(max)
        .collect()
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// The signature name of an `av.detected` finding (`member: NAME found`).
pub fn threat_name(detail: &str) -> String {
    let d = detail.strip_suffix(" found").unwrap_or(detail);
    let d = d.rsplit(": ").next().unwrap_or(d);
    header_safe(d.trim(), 200)
}

/// The `X-Blocked-Reason` value (ICAP and HTTP) of a block for `r`.
pub fn blocked_reason(r: &Finding) -> String {
    header_safe(&format!("{}: {}", r.code, r.detail), 300)
}

/// The ICAP headers reporting a body blocked for `r` (the outcome's
/// reason), as `(name, value)`; a folded value carries its continuation
/// lines (CRLF, tab).
pub fn icap_headers(r: &Finding, name: &str) -> Vec<(String, String)> {
    let mut h = vec![("X-Blocked-Reason".into(), blocked_reason(r))];
    if r.code == Code::AvDetected {
        h.push((
            "X-Infection-Found".into(),
            format!("Type=0; Resolution=2; Threat={};", threat_name(&r.detail)),
        ));
    } else {
        // draft-stecher-icap-subid: count, then per violation the file
        // name, the description, the id and the resolution (2: removed).
        h.push((
            "X-Violations-Found".into(),
            format!(
                "1\r\n\t{}\r\n\t{}\r\n\t{}\r\n\t2",
                header_safe(name, 200),
                header_safe(&r.detail, 200),
                r.code
            ),
        ));
    }
    h
}

/// The HTML page shown in place of a body blocked for `r` (the outcome's
/// reason); `sha256` is the input's.
pub fn blocked_page(r: &Finding, sha256: &str, name: &str, upload: bool) -> Vec<u8> {
    let (code, ja) = (r.code.as_str(), r.code.ja());
    let (title_ja, title_en) = if upload {
        ("送信を止めました", "Upload blocked")
    } else {
        ("ダウンロードを止めました", "Download blocked")
    };
    let name = html_escape(name);
    let detail = html_escape(&r.detail);
    let sha = html_escape(sha256);
    format!(
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head><meta charset=\"utf-8\">\
<title>{title_ja} / {title_en}</title></head>\n<body>\n\
<h1>{title_ja}</h1>\n\
<p>ファイル「{name}」は無害化ゲートウェイ（mugai）の判定により受け渡しを止めました。</p>\n\
<p>理由: {ja}（{code}）</p>\n\
<hr>\n<h1 lang=\"en\">{title_en}</h1>\n\
<p lang=\"en\">The file \"{name}\" was blocked by the file-sanitisation gateway (mugai).</p>\n\
<p lang=\"en\">Reason: {code}: {detail}</p>\n\
<hr>\n<p>SHA-256: <code>{sha}</code></p>\n\
<p>必要な場合は、このページの内容を添えて情報システム担当へお問い合わせください。 \
If you need this file, contact your IT department with this page.</p>\n\
</body>\n</html>\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugai_core::Blocked;

    fn blocked(code: Code, detail: &str) -> Finding {
        Blocked::new(code, detail).into_finding()
    }

    #[test]
    fn malware_is_reported_as_an_infection_other_blocks_as_violations() {
        let o = blocked(Code::AvDetected, "word/x.bin: Eicar-Test-Signature found");
        let h = icap_headers(&o, "a.docx");
        assert_eq!(
            h[1],
            (
                "X-Infection-Found".to_string(),
                "Type=0; Resolution=2; Threat=Eicar-Test-Signature;".to_string()
            )
        );
        let o = blocked(Code::TypeExecutable, "content is a PE executable");
        let h = icap_headers(&o, "名前.exe");
        assert_eq!(h[0].0, "X-Blocked-Reason");
        assert!(h[0].1.starts_with("type.executable: content"));
        assert_eq!(h[1].0, "X-Violations-Found");
        assert!(h[1].1.starts_with("1\r\n\t??.exe\r\n\t"), "{}", h[1].1);
    }

    #[test]
    fn the_page_is_bilingual_and_escaped() {
        let o = blocked(Code::TypeExecutable, "<script>");
        let sha = "ab".repeat(32);
        let page = String::from_utf8(blocked_page(&o, &sha, "a<b>.exe", false)).unwrap();
        assert!(page.contains(Code::TypeExecutable.ja()));
        assert!(page.contains("Download blocked"));
        assert!(page.contains("a&lt;b&gt;.exe"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("type.executable: &lt;script&gt;"));
        assert!(page.contains(&sha));
    }
}
