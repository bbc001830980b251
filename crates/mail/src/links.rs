//! Link neutralisation: `https://example.jp/path` becomes
//! `hxxps://example[.]jp/path`, which no mail client turns back into a link
//! while a reader can still see (and type, deliberately) where it went.
//!
//! What a mail client or Windows would open is judged, not how it is
//! spelled: the scheme in any case, `\\` as well as `//` after it
//! (`http:\\host` opens like `http://host`), `file:` URLs with or without
//! a host, any other `scheme://`, the protocol handlers that need no
//! slashes (`ms-msdt:`, `search-ms:` ...), and UNC paths (`\\host\share`),
//! which Windows opens over SMB and so leaks the reader's credentials.

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
        // `\\` right after a colon belongs to a scheme (`http:\\host`).
        let unc = c == b'\\' && (i == 0 || b[i - 1] != b':');
        if !(c.is_ascii_alphabetic() || unc) || !boundary_before(text, i) {
            i += 1;
            continue;
        }
        let Some((scheme_len, kind)) = scheme_at(&b[i..]) else {
            i += 1;
            continue;
        };
        // The host follows the scheme and any slashes or backslashes.
        let host_start = i
            + scheme_len
            + text[i + scheme_len..]
                .bytes()
                .take_while(|&x| x == b'/' || x == b'\\')
                .count();
        let end = url_end(text, host_start);
        let host_end = text[host_start..end]
            .find(['/', '?', '#', '\\'])
            .map_or(end, |j| host_start + j);
        let host = &text[host_start..host_end];
        let needs_host = matches!(kind, Kind::Http | Kind::Ftp | Kind::Www | Kind::Unc);
        if needs_host && host.is_empty()
            || (kind == Kind::Www && !host.get(4..).is_some_and(|h| h.contains('.')))
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
            // `file:` -> `file[:]`: no client links a bracketed colon.
            Kind::Other => {
                out.push_str(&scheme[..scheme.len() - 1]);
                out.push_str("[:]");
            }
            Kind::Unc => out.push_str("[\\\\]"),
            Kind::Www => {}
        }
        let host_text = if kind == Kind::Www {
            &text[i..host_end]
        } else {
            out.push_str(&text[i + scheme_len..host_start]);
            host
        };
        defang_host(host_text, &mut out);
        out.push_str(&text[host_end..end]);
        count += 1;
        if hosts.len() < 5 && !host_text.is_empty() {
            let h = host_text
                .rsplit('@')
                .next()
                .unwrap_or(host_text)
                .to_ascii_lowercase();
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        copied = end.max(i + scheme_len);
        i = copied;
    }
    out.push_str(&text[copied..]);
    (out, count, hosts)
}

/// Writes `host` with every dot as `[.]`; a dot already bracketed stays.
fn defang_host(host: &str, out: &mut String) {
    let mut prev = None;
    let mut chars = host.chars().peekable();
    while let Some(ch) = chars.next() {
        let bracketed = prev == Some('[') && chars.peek() == Some(&']');
        if matches!(ch, '.' | '。' | '．' | '｡') && !bracketed {
            out.push_str("[.]");
        } else {
            out.push(ch);
        }
        prev = Some(ch);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Ftp,
    Www,
    /// `file:`, any other `scheme://`, slashless protocol handlers.
    Other,
    /// `\\host\share`.
    Unc,
}

/// A link may start at the start of the text or after anything that is not
/// an ASCII word character or part of another URL (Japanese text often runs
/// straight into a URL: `こちらhttps://...`).
fn boundary_before(text: &str, i: usize) -> bool {
    match text[..i].chars().next_back() {
        None => true,
        Some(c) => {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-' | '_' | '[' | '%' | '\\'))
        }
    }
}

/// Protocol handlers Windows or Office runs without `//` after the colon.
const SLASHLESS: &[&str] = &[
    "file",
    "ms-msdt",
    "search-ms",
    "ms-search",
    "ms-officecmd",
    "ms-word",
    "ms-excel",
    "ms-powerpoint",
    "ms-visio",
    "ms-access",
    "ms-publisher",
    "ms-spd",
    "ms-infopath",
    "ms-project",
    "ms-settings",
    "ms-appinstaller",
    "ms-cxh",
    "ms-cxh-full",
    "ms-its",
    "mk",
    "mhtml",
    "javascript",
    "vbscript",
    "ldap",
    "telnet",
    "smb",
    "webdav",
    "onenote",
    "shell",
];

fn scheme_at(b: &[u8]) -> Option<(usize, Kind)> {
    if b.starts_with(b"\\\\") {
        let next = *b.get(2)?;
        return (next.is_ascii_alphanumeric() || next >= 0x80).then_some((2, Kind::Unc));
    }
    if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"www.") {
        return Some((0, Kind::Www));
    }
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
    let name_len = b
        .iter()
        .take(33)
        .take_while(|&&x| x.is_ascii_alphanumeric() || matches!(x, b'+' | b'-' | b'.'))
        .count();
    if name_len == 0 || b.get(name_len) != Some(&b':') {
        return None;
    }
    let name = std::str::from_utf8(&b[..name_len])
        .ok()?
        .to_ascii_lowercase();
    let slashes = b
        .get(name_len + 1..name_len + 3)
        .is_some_and(|s| s.iter().all(|&x| x == b'/' || x == b'\\'));
    let len = name_len + 1;
    match name.as_str() {
        "http" | "https" if slashes => Some((len, Kind::Http)),
        "ftp" if slashes => Some((len, Kind::Ftp)),
        // Already neutralised (`hxxps://`, `fxp://`): nothing opens them.
        "hxxp" | "hxxps" | "fxp" => None,
        n if SLASHLESS.contains(&n) => Some((len, Kind::Other)),
        _ if slashes => Some((len, Kind::Other)),
        _ => None,
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
    fn unc_file_and_backslash_forms() {
        let (t, n, _) = neutralise(r"open \\fs01.example\share\a.exe or \\srv\c$ now");
        assert_eq!(t, r"open [\\]fs01[.]example\share\a.exe or [\\]srv\c$ now");
        assert_eq!(n, 2);
        let (t, n, _) =
            neutralise(r"http:\\evil.example\x HTTPS:/\a.example/ file:///C:/Windows/x.exe");
        assert_eq!(
            t,
            r"hxxp:\\evil[.]example\x HXXPS:/\a[.]example/ file[:]///C:/Windows/x.exe"
        );
        assert_eq!(n, 3);
        let (t, _, _) = neutralise("file://host.example/share/x and FILE:C:\\x");
        assert_eq!(t, "file[:]//host[.]example/share/x and FILE[:]C:\\x");
        let (t, _, _) = neutralise("ms-msdt:/id PCWDiagnostic and smb://h.example/s");
        assert_eq!(t, "ms-msdt[:]/id PCWDiagnostic and smb[:]//h[.]example/s");
        // Ordinary colons are not links.
        assert_eq!(neutralise("Note: 10:30 re: a\\b").1, 0);
    }

    #[test]
    fn idempotent_and_plain_text_untouched() {
        let once = neutralise(r"go to https://a.example/ \\h\s file:///x http:\\b.example now").0;
        let (twice, n, _) = neutralise(&once);
        assert_eq!(once, twice);
        assert_eq!(n, 0);
        assert_eq!(neutralise("http:// nothing, wwwx, www.").1, 0);
    }
}
