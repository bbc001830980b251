//! Link neutralisation: `https://example.jp/path` becomes
//! `hxxps://example[.]jp/path`, which no mail client turns back into a link
//! while a reader can still see (and type, deliberately) where it went.

/// The neutralised text, the number of links changed and their hosts
/// (first few, for the report).
pub fn neutralise(text: &str) -> (String, usize, Vec<String>) {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut count = 0usize;
    let mut hosts: Vec<String> = Vec::new();
    let mut copied = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        let c = b[i];
        if !matches!(c, b'h' | b'H' | b'f' | b'F' | b'w' | b'W') || !boundary_before(text, i) {
            i += 1;
            continue;
        }
        let Some((scheme_len, kind)) = scheme_at(&b[i..]) else {
            i += 1;
            continue;
        };
        let end = url_end(text, i + scheme_len);
        let host_end = text[i + scheme_len..end]
            .find(['/', '?', '#', '\\'])
            .map_or(end, |j| i + scheme_len + j);
        let host = &text[i + scheme_len..host_end];
        if host.is_empty() || (kind == Kind::Www && !host.get(4..).is_some_and(|h| h.contains('.')))
        {
            i += scheme_len.max(1);
            continue;
        }
        out.push_str(&text[copied..i]);
        let scheme = &text[i..i + scheme_len];
        match kind {
            // http -> hxxp, keeping the writer's case.
            Kind::Http => {
                out.push_str(&scheme[..1]);
                out.push_str(if scheme.as_bytes()[1] == b'T' {
                    "XX"
                } else {
                    "xx"
                });
                out.push_str(&scheme[3..]);
            }
            Kind::Ftp => {
                out.push_str(&scheme[..1]);
                out.push_str(if scheme.as_bytes()[1] == b'T' {
                    "X"
                } else {
                    "x"
                });
                out.push_str(&scheme[2..]);
            }
            Kind::Www => {}
        }
        let host_text = if kind == Kind::Www {
            &text[i..host_end]
        } else {
            host
        };
        for ch in host_text.chars() {
            if matches!(ch, '.' | '。' | '．' | '｡') {
                out.push_str("[.]");
            } else {
                out.push(ch);
            }
        }
        out.push_str(&text[host_end..end]);
        count += 1;
        if hosts.len() < 5 {
            let h = host_text
                .rsplit('@')
                .next()
                .unwrap_or(host_text)
                .to_ascii_lowercase();
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        copied = end;
        i = end;
    }
    out.push_str(&text[copied..]);
    (out, count, hosts)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Ftp,
    Www,
}

/// A link may start at the start of the text or after anything that is not
/// an ASCII word character or part of another URL (Japanese text often runs
/// straight into a URL: `こちらhttps://...`).
fn boundary_before(text: &str, i: usize) -> bool {
    match text[..i].chars().next_back() {
        None => true,
        Some(c) => !(c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-' | '_' | '[' | '%')),
    }
}

fn scheme_at(b: &[u8]) -> Option<(usize, Kind)> {
    let starts = |p: &[u8]| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p);
    if starts(b"https://") {
        Some((8, Kind::Http))
    } else if starts(b"http://") {
        Some((7, Kind::Http))
    } else if starts(b"ftp://") {
        Some((6, Kind::Ftp))
    } else if starts(b"www.") {
        Some((0, Kind::Www))
    } else {
        None
    }
}

/// The end of a URL starting at byte `from`: the host may hold non-ASCII
/// letters (IDN), the rest is ASCII; trailing punctuation is not part of it.
fn url_end(text: &str, from: usize) -> usize {
    let mut end = from;
    let mut in_host = true;
    for (j, c) in text[from..].char_indices() {
        let ok = if c.is_ascii() {
            c.is_ascii_graphic()
                && !matches!(c, '<' | '>' | '"' | '\'' | '`' | '{' | '}' | '|' | '^')
        } else {
            in_host && (c.is_alphanumeric() || matches!(c, '。' | '．' | '｡'))
        };
        if !ok {
            break;
        }
        if matches!(c, '/' | '?' | '#') {
            in_host = false;
        }
        end = from + j + c.len_utf8();
    }
    // Strip trailing punctuation and unbalanced closing brackets.
    loop {
        let s = &text[from..end];
        let Some(last) = s.chars().next_back() else {
            break;
        };
        let strip = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '。' | '．' | '｡' => true,
            ')' => s.matches('(').count() < s.matches(')').count(),
            ']' => s.matches('[').count() < s.matches(']').count(),
            _ => false,
        };
        if !strip {
            break;
        }
        end -= last.len_utf8();
    }
    end
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn defangs_schemes_and_host_dots_only() {
        let (t, n, hosts) = neutralise(
            "see https://example.jp/a.b/c?x=1. and HTTP://WWW.EXAMPLE.COM, ftp://f.example/x",
        );
        assert_eq!(
            t,
            "see hxxps://example[.]jp/a.b/c?x=1. and HXXP://WWW[.]EXAMPLE[.]COM, fxp://f[.]example/x"
        );
        assert_eq!(n, 3);
        assert_eq!(hosts, vec!["example.jp", "www.example.com", "f.example"]);
    }

    #[test]
    fn www_and_japanese_context() {
        let (t, n, _) = neutralise("詳細はwww.example.jp/をご覧ください。(https://例え.jp/x)");
        assert_eq!(
            t,
            "詳細はwww[.]example[.]jp/をご覧ください。(hxxps://例え[.]jp/x)"
        );
        assert_eq!(n, 2);
        assert_eq!(
            neutralise("こちらhttps://a.example/").0,
            "こちらhxxps://a[.]example/"
        );
        assert_eq!(neutralise("xwww.a.example").1, 0, "glued to an ASCII word");
        let (t, n, _) = neutralise("詳細は www.example.jp/をご覧ください");
        assert_eq!(t, "詳細は www[.]example[.]jp/をご覧ください");
        assert_eq!(n, 1);
    }

    #[test]
    fn idempotent_and_plain_text_untouched() {
        let once = neutralise("go to https://a.example/ now").0;
        let (twice, n, _) = neutralise(&once);
        assert_eq!(once, twice);
        assert_eq!(n, 0);
        assert_eq!(neutralise("http:// nothing, wwwx, www.").1, 0);
    }
}
