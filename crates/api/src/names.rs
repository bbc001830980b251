//! File names in and out: the name of an uploaded file (from the `name`
//! query parameter or a `Content-Disposition` header) and the
//! `Content-Disposition` of a rebuilt file (RFC 6266, with an RFC 8187
//! `filename*` for names beyond ASCII).

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Longest uploaded file name accepted, in bytes.
pub const MAX_NAME: usize = 1024;

/// Why a file name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the file name is longer than {MAX_NAME} bytes")]
    TooLong,
    #[error("the Content-Disposition header cannot be read: {0}")]
    BadHeader(&'static str),
}

/// The last path component of a name as a client sent it (a client may
/// send `C:\\受信\\a.pdf` or `dir/a.pdf`); `None` when nothing is left.
/// The engine's name checks see this name; it never names a path here.
pub fn last_component(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let last = last.trim();
    (!last.is_empty() && last != "." && last != "..").then(|| last.to_string())
}

/// The file name in a `Content-Disposition` request header: `filename*`
/// (RFC 8187, UTF-8) if present, else `filename`.
pub fn from_content_disposition(value: &[u8]) -> Result<Option<String>, NameError> {
    let text = std::str::from_utf8(value).map_err(|_| NameError::BadHeader("not UTF-8"))?;
    let mut plain = None;
    let mut extended = None;
    for param in split_params(text).into_iter().skip(1) {
        let Some((key, val)) = param.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let val = val.trim();
        match key.as_str() {
            "filename" => plain = Some(unquote(val)),
            "filename*" => {
                let (charset, rest) = val
                    .split_once('\'')
                    .ok_or(NameError::BadHeader("filename* without a charset"))?;
                let (_lang, encoded) = rest
                    .split_once('\'')
                    .ok_or(NameError::BadHeader("filename* without a language part"))?;
                if !charset.eq_ignore_ascii_case("utf-8") {
                    return Err(NameError::BadHeader("filename* charset is not UTF-8"));
                }
                let decoded = percent_decode_str(encoded)
                    .decode_utf8()
                    .map_err(|_| NameError::BadHeader("filename* is not UTF-8"))?;
                extended = Some(decoded.into_owned());
            }
            _ => {}
        }
    }
    let name = extended.or(plain);
    match name {
        Some(n) if n.len() > MAX_NAME => Err(NameError::TooLong),
        Some(n) => Ok(last_component(&n)),
        None => Ok(None),
    }
}

/// Splits at `;` outside double quotes.
fn split_params(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => v.to_string(),
    }
}

/// RFC 8187 attr-char: letters, digits and `!#$&+-.^_`|~` stay as they are.
const ATTR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="ASCII fallback"; filename*=UTF-8''…` for a
/// (safe) output name.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_component_only() {
        assert_eq!(last_component("a.pdf").as_deref(), Some("a.pdf"));
        assert_eq!(
            last_component("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            last_component("C:\\受信\\申請書.docx").as_deref(),
            Some("申請書.docx")
        );
        assert_eq!(last_component("dir/"), None);
        assert_eq!(last_component(".."), None);
    }

    #[test]
    fn content_disposition_names() {
        let f = |s: &str| from_content_disposition(s.as_bytes());
        assert_eq!(
            f("attachment; filename=\"a;b.pdf\"").unwrap().as_deref(),
            Some("a;b.pdf")
        );
        assert_eq!(
            f("inline; filename=x.csv").unwrap().as_deref(),
            Some("x.csv")
        );
        assert_eq!(
            f("attachment; filename=\"fallback.pdf\"; filename*=UTF-8''%E7%94%B3%E8%AB%8B.pdf")
                .unwrap()
                .as_deref(),
            Some("申請.pdf")
        );
        assert_eq!(
            f("attachment; filename=\"..\\\\..\\\\x.exe\"")
                .unwrap()
                .as_deref(),
            Some("x.exe")
        );
        assert_eq!(f("attachment").unwrap(), None);
        assert!(f("attachment; filename*=ISO-8859-1''a.pdf").is_err());
        assert!(f("attachment; filename*=UTF-8''%FF.pdf").is_err());
        let long = format!("attachment; filename=\"{}\"", "a".repeat(MAX_NAME + 1));
        assert_eq!(f(&long), Err(NameError::TooLong));
    }

    #[test]
    fn output_disposition_round_trips() {
        for name in ["申請書.docx", "a \"b\".pdf", "plain.csv", "100%.txt"] {
            let header = content_disposition(name);
            assert!(header.is_ascii(), "{header}");
            assert_eq!(
                from_content_disposition(header.as_bytes())
                    .unwrap()
                    .as_deref(),
                Some(name)
            );
        }
    }
}
