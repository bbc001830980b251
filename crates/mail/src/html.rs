//! HTML to readable plain text over a tolerant tokenizer.
//!
//! Own code rather than a DOM library: mail HTML is often broken, and the
//! converter must never panic, never recurse and stay linear in the input.
//! Scripts, styles, hidden elements, forms and images are dropped (counted
//! for the report); paragraphs, line breaks, lists, table rows and link text
//! are kept. A link whose text is not its own target is followed by the
//! target in angle brackets so that the reader still sees where it went
//! (the link neutraliser runs over the whole text afterwards).

/// What the conversion dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HtmlStats {
    pub scripts: usize,
    pub styles: usize,
    pub hidden: usize,
    pub tracking_images: usize,
    pub images: usize,
    pub forms: usize,
    pub frames: usize,
    /// The text was cut at the output bound.
    pub truncated: bool,
}

impl HtmlStats {
    /// One-line description of what was dropped.
    pub fn describe(&self) -> String {
        let mut v = Vec::new();
        let mut add = |n: usize, what: &str| {
            if n > 0 {
                v.push(format!("{n} {what}"));
            }
        };
        add(self.scripts, "script(s)");
        add(self.styles, "style sheet(s)");
        add(self.hidden, "hidden element(s)");
        add(self.tracking_images, "tracking image(s)");
        add(self.images, "image(s)");
        add(self.forms, "form(s)");
        add(self.frames, "frame/object element(s)");
        if v.is_empty() {
            "markup".into()
        } else {
            v.join(", ")
        }
    }
}

/// Converts `html` to text; the result is at most about `max_out` bytes.
pub fn html_to_text(html: &str, max_out: usize) -> (String, HtmlStats) {
    let mut c = Converter {
        src: html,
        pos: 0,
        out: Out::new(max_out),
        stats: HtmlStats::default(),
        links: Vec::new(),
        lists: Vec::new(),
        cells: 0,
    };
    c.run();
    let stats = HtmlStats {
        truncated: c.out.truncated,
        ..c.stats
    };
    (c.out.finish(), stats)
}

struct Converter<'a> {
    src: &'a str,
    pos: usize,
    out: Out,
    stats: HtmlStats,
    /// Open `<a>` elements: (target to show, output length at the start).
    links: Vec<(Option<String>, usize)>,
    /// Open lists: `None` for `<ul>`, `Some(n)` for the next `<ol>` number.
    lists: Vec<Option<u32>>,
    /// Cells seen in the current table row.
    cells: usize,
}

/// A parsed start or end tag.
struct Tag {
    name: String,
    end: bool,
    self_closing: bool,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

const MAX_LIST_DEPTH: usize = 32;
const MAX_OPEN_LINKS: usize = 64;

impl Converter<'_> {
    fn run(&mut self) {
        while self.pos < self.src.len() && !self.out.truncated {
            let rest = &self.src[self.pos..];
            match rest.find('<') {
                Some(0) => self.markup(),
                Some(n) => {
                    let text = &rest[..n];
                    self.pos += n;
                    self.text(text);
                }
                None => {
                    self.pos = self.src.len();
                    self.text(rest);
                }
            }
        }
    }

    fn text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        self.out.text(&decoded);
    }

    /// At a `<`: a comment, declaration, tag, or a literal `<`.
    fn markup(&mut self) {
        let rest = &self.src[self.pos..];
        if let Some(body) = rest.strip_prefix("<!--") {
            self.pos += body.find("-->").map_or(rest.len(), |i| 4 + i + 3);
            return;
        }
        let b = rest.as_bytes();
        let second = b.get(1).copied().unwrap_or(0);
        if second == b'!' || second == b'?' {
            self.pos += rest.find('>').map_or(rest.len(), |i| i + 1);
            return;
        }
        let is_tag = second.is_ascii_alphabetic()
            || (second == b'/' && b.get(2).is_some_and(|c| c.is_ascii_alphabetic()));
        if !is_tag {
            self.pos += 1;
            self.out.text("<");
            return;
        }
        let (tag, len) = parse_tag(rest);
        self.pos += len;
        self.tag(tag);
    }

    fn tag(&mut self, t: Tag) {
        let name = t.name.as_str();
        if !t.end {
            if is_hidden(&t) && !is_void(name) {
                self.stats.hidden += 1;
                self.skip_element(name);
                return;
            }
            match name {
                "script" => {
                    self.stats.scripts += 1;
                    self.skip_raw(name);
                    return;
                }
                "style" => {
                    self.stats.styles += 1;
                    self.skip_raw(name);
                    return;
                }
                "title" | "textarea" | "xmp" => {
                    self.skip_raw(name);
                    return;
                }
                "template" | "select" | "svg" | "math" | "noframes" => {
                    self.skip_element(name);
                    return;
                }
                "iframe" | "object" | "applet" | "frameset" => {
                    self.stats.frames += 1;
                    self.skip_element(name);
                    return;
                }
                "embed" | "frame" => {
                    self.stats.frames += 1;
                    return;
                }
                _ => {}
            }
        }
        match (name, t.end) {
            ("br", _) => self.out.line_break(),
            ("p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table" | "dl" | "pre", _) => {
                if name == "pre" {
                    if t.end {
                        self.out.pre = self.out.pre.saturating_sub(1);
                    } else {
                        self.out.pre += 1;
                    }
                }
                self.out.blank_line();
            }
            ("blockquote", false) => {
                self.out.blank_line();
                self.out.quote += 1;
            }
            ("blockquote", true) => {
                self.out.blank_line();
                self.out.quote = self.out.quote.saturating_sub(1);
            }
            ("ul", false) | ("ol", false) => {
                if self.lists.len() < MAX_LIST_DEPTH {
                    let start = t
                        .attr("start")
                        .and_then(|s| s.trim().parse::<u32>().ok())
                        .unwrap_or(1);
                    self.lists
                        .push(if name == "ol" { Some(start) } else { None });
                }
                self.out.newline();
            }
            ("ul", true) | ("ol", true) => {
                self.lists.pop();
                self.out.newline();
            }
            ("li", false) => {
                self.out.newline();
                let depth = self.lists.len().max(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n = n.saturating_add(1);
                        m
                    }
                    _ => "* ".to_string(),
                };
                self.out.raw(&"  ".repeat(depth - 1));
                self.out.raw(&marker);
            }
            ("tr", false) => {
                self.cells = 0;
                self.out.newline();
            }
            ("td" | "th", false) => {
                if self.cells > 0 {
                    self.out.raw(" | ");
                }
                self.cells += 1;
            }
            ("hr", _) => {
                self.out.newline();
                self.out.raw("----------------------------------------");
                self.out.newline();
            }
            ("img", false) => self.image(&t),
            ("form", false) => {
                self.stats.forms += 1;
                self.out.newline();
            }
            ("input", false) => {
                // Form controls carry no text a reader needs, except the
                // label of a submit button.
                if let Some(v) = t.attr("value").filter(|v| !v.trim().is_empty()) {
                    if matches!(t.attr("type"), Some("submit" | "button")) {
                        let v = format!("[{}]", v.trim());
                        self.out.text(&v);
                    }
                }
            }
            ("a", false) if self.links.len() < MAX_OPEN_LINKS => {
                let target = t.attr("href").and_then(link_target);
                self.links.push((target, self.out.len()));
            }
            ("a", true) => {
                if let Some((Some(target), start)) = self.links.pop() {
                    let shown = self.out.since(start);
                    if !shown.contains(target.as_str()) {
                        self.out.text(" <");
                        self.out.raw(&target);
                        self.out.raw(">");
                    }
                }
            }
            (
                "div" | "li" | "tr" | "dt" | "dd" | "section" | "article" | "header" | "footer"
                | "center" | "address" | "form" | "fieldset" | "nav" | "main" | "aside" | "figure"
                | "figcaption" | "caption" | "tbody" | "thead" | "tfoot" | "body" | "html",
                _,
            ) => self.out.newline(),
            _ => {}
        }
        let _ = t.self_closing;
    }

    fn image(&mut self, t: &Tag) {
        let dim = |k: &str| {
            t.attr(k)
                .and_then(|v| v.trim().trim_end_matches("px").trim().parse::<u32>().ok())
        };
        let style = t.attr("style").map(compact_style).unwrap_or_default();
        let tiny = matches!(dim("width"), Some(0..=2))
            || matches!(dim("height"), Some(0..=2))
            || style.contains("width:1px")
            || style.contains("height:1px")
            || style.contains("width:0")
            || style.contains("height:0");
        if tiny {
            self.stats.tracking_images += 1;
            return;
        }
        self.stats.images += 1;
        if let Some(alt) = t.attr("alt").map(str::trim).filter(|a| !a.is_empty()) {
            let alt = format!("[{alt}]");
            self.out.text(&alt);
        }
    }

    /// Skips to the end of a raw-text element (`</script>`), or the end.
    fn skip_raw(&mut self, name: &str) {
        let rest = &self.src[self.pos..];
        let close = format!("</{name}");
        match find_ascii_ci(rest, &close) {
            Some(i) => {
                let after = &rest[i..];
                self.pos += i + after.find('>').map_or(after.len(), |j| j + 1);
            }
            None => self.pos = self.src.len(),
        }
    }

    /// Skips an element and everything in it, counting nested elements of
    /// the same name; an element never closed runs to the end.
    fn skip_element(&mut self, name: &str) {
        if is_void(name) {
            return;
        }
        let mut depth = 1usize;
        while self.pos < self.src.len() {
            let rest = &self.src[self.pos..];
            let Some(i) = rest.find('<') else {
                self.pos = self.src.len();
                return;
            };
            self.pos += i;
            let rest = &self.src[self.pos..];
            if let Some(body) = rest.strip_prefix("<!--") {
                self.pos += body.find("-->").map_or(rest.len(), |j| 4 + j + 3);
                continue;
            }
            let b = rest.as_bytes();
            let is_tag = b.get(1).is_some_and(|c| c.is_ascii_alphabetic())
                || (b.get(1) == Some(&b'/') && b.get(2).is_some_and(|c| c.is_ascii_alphabetic()));
            if !is_tag {
                self.pos += 1;
                continue;
            }
            let (t, len) = parse_tag(rest);
            self.pos += len;
            if t.name == name {
                if t.end {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                } else if !t.self_closing {
                    depth += 1;
                }
            } else if !t.end && (t.name == "script" || t.name == "style") {
                self.skip_raw(&t.name);
            }
        }
    }
}

/// The link target worth showing: web and mail addresses only.
fn link_target(href: &str) -> Option<String> {
    let h: String = href.trim().chars().filter(|c| !c.is_control()).collect();
    let h = decode_entities(&h);
    let lower = h.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("ftp://")
    {
        Some(h)
    } else if let Some(addr) = h
        .strip_prefix("mailto:")
        .or_else(|| h.strip_prefix("MAILTO:"))
    {
        let addr = addr.split('?').next().unwrap_or("");
        (!addr.is_empty()).then(|| addr.to_string())
    } else {
        None
    }
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
            | "frame"
    )
}

fn compact_style(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `hidden`, `display:none`, `visibility:hidden`, zero font size or
/// opacity: text the reader of the HTML would not see.
fn is_hidden(t: &Tag) -> bool {
    if t.attrs.iter().any(|(k, _)| k == "hidden") {
        return true;
    }
    if t.attr("type") == Some("hidden") {
        return true;
    }
    let Some(style) = t.attr("style") else {
        return false;
    };
    let s = compact_style(style);
    s.contains("display:none")
        || s.contains("visibility:hidden")
        || s.contains("font-size:0;")
        || s.ends_with("font-size:0")
        || s.contains("font-size:0px")
        || s.contains("opacity:0;")
        || s.ends_with("opacity:0")
        || s.contains("max-height:0")
}

/// Parses the tag at the start of `s` (which starts with `<`). Returns the
/// tag and the number of bytes it spans; an unterminated tag runs to the end.
fn parse_tag(s: &str) -> (Tag, usize) {
    let b = s.as_bytes();
    let mut i = 1;
    let end = b.get(1) == Some(&b'/');
    if end {
        i += 1;
    }
    let name_start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b':') {
        i += 1;
    }
    let name = s[name_start..i].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut self_closing = false;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            if b[i] == b'/' {
                self_closing = true;
            }
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'>' {
            i += 1;
            break;
        }
        self_closing = false;
        let k_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let key = s[k_start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let v_start = i + 1;
                i = v_start;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                value = s[v_start..i].to_string();
                i = (i + 1).min(b.len());
            } else {
                let v_start = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = s[v_start..i].to_string();
            }
        }
        if !key.is_empty() && attrs.len() < 64 {
            attrs.push((key, value));
        }
        if k_start == i {
            // Nothing consumed: step over the byte so the loop advances.
            i += 1;
        }
    }
    // Every index above stops at an ASCII byte or the end, so `i` is a char
    // boundary; clamp anyway.
    let mut len = i.min(s.len());
    while !s.is_char_boundary(len) {
        len += 1;
    }
    (
        Tag {
            name,
            end,
            self_closing,
            attrs,
        },
        len,
    )
}

fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Decodes character references; unknown ones stay as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest
            .char_indices()
            .take(34)
            .find(|&(_, c)| c == ';')
            .map(|(j, _)| j);
        let Some(end) = end else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let body = &rest[1..end];
        let decoded = if let Some(num) = body.strip_prefix('#') {
            let n = if let Some(hex) = num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
                u32::from_str_radix(hex, 16).ok()
            } else {
                num.parse::<u32>().ok()
            };
            n.map(|n| match char::from_u32(n) {
                Some(c) if !c.is_control() || c == '\n' || c == '\t' => c,
                _ => '\u{FFFD}',
            })
        } else {
            named_entity(body)
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "yen" => '¥',
        "euro" => '€',
        "pound" => '£',
        "cent" => '¢',
        "sect" => '§',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "middot" => '·',
        "bull" => '•',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "larr" => '←',
        "rarr" => '→',
        "uarr" => '↑',
        "darr" => '↓',
        "zwnj" | "zwj" | "shy" | "lrm" | "rlm" => '\u{200B}',
        "ensp" | "emsp" | "thinsp" => ' ',
        _ => return None,
    })
}

/// The text being written: whitespace collapsing, line and paragraph breaks,
/// quote prefixes, and the size bound.
struct Out {
    s: String,
    cap: usize,
    truncated: bool,
    /// Trailing newlines already written (2 = a blank line).
    newlines: usize,
    pending_space: bool,
    pre: usize,
    quote: usize,
}

impl Out {
    fn new(cap: usize) -> Self {
        Out {
            s: String::new(),
            cap,
            truncated: false,
            newlines: 2,
            pending_space: false,
            pre: 0,
            quote: 0,
        }
    }

    fn len(&self) -> usize {
        self.s.len()
    }

    fn since(&self, start: usize) -> &str {
        self.s.get(start..).unwrap_or("")
    }

    fn push(&mut self, c: char) {
        if self.s.len() + c.len_utf8() > self.cap {
            self.truncated = true;
            return;
        }
        self.s.push(c);
    }

    fn start_line(&mut self) {
        if self.newlines > 0 && self.quote > 0 {
            for _ in 0..self.quote.min(16) {
                self.push('>');
            }
            self.push(' ');
        }
    }

    /// Text as written in the HTML source (whitespace collapses outside `<pre>`).
    fn text(&mut self, t: &str) {
        for c in t.chars() {
            if self.truncated {
                return;
            }
            if c == '\u{200B}' {
                continue;
            }
            if self.pre > 0 {
                if c == '\n' {
                    self.line_break();
                } else if c == '\r' {
                    continue;
                } else {
                    if self.newlines > 0 {
                        self.start_line();
                    }
                    self.push(c);
                    self.newlines = 0;
                }
                continue;
            }
            if c.is_whitespace() && c != '\u{3000}' {
                if self.newlines == 0 {
                    self.pending_space = true;
                }
                continue;
            }
            if c.is_control() {
                continue;
            }
            if self.newlines > 0 {
                self.start_line();
            } else if self.pending_space {
                self.push(' ');
            }
            self.pending_space = false;
            self.push(c);
            self.newlines = 0;
        }
    }

    /// Generated text (list markers, separators): written as is.
    fn raw(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        if self.newlines > 0 {
            self.start_line();
        } else if self.pending_space && !t.starts_with(' ') {
            self.push(' ');
        }
        self.pending_space = false;
        for c in t.chars() {
            self.push(c);
        }
        self.newlines = 0;
    }

    fn line_break(&mut self) {
        self.pending_space = false;
        self.push('\n');
        self.newlines += 1;
    }

    fn newline(&mut self) {
        if self.newlines == 0 {
            self.line_break();
        }
        self.pending_space = false;
    }

    fn blank_line(&mut self) {
        while self.newlines < 2 {
            self.line_break();
        }
        self.pending_space = false;
    }

    fn finish(self) -> String {
        let mut out = String::with_capacity(self.s.len());
        let mut blank = 0;
        for line in self.s.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                blank += 1;
                if blank > 1 {
                    continue;
                }
            } else {
                blank = 0;
            }
            out.push_str(line);
            out.push('\n');
        }
        out.trim_matches('\n').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(h: &str) -> (String, HtmlStats) {
        html_to_text(h, 1 << 20)
    }

    #[test]
    fn paragraphs_lists_tables_and_links() {
        let (t, _) = conv(
            "<html><body><p>Hello<br>world</p><ul><li>one</li><li>two</li></ul>\
             <ol><li>a<li>b</ol><table><tr><td>x</td><td>y</td></tr><tr><td>z</td></tr></table>\
             <a href=\"https://example.jp/p\">click</a> &amp; <a href='https://a.jp'>https://a.jp</a></body></html>",
        );
        assert!(t.contains("Hello\nworld"), "{t}");
        assert!(t.contains("* one\n* two"), "{t}");
        assert!(t.contains("1. a\n2. b"), "{t}");
        assert!(t.contains("x | y\nz"), "{t}");
        assert!(t.contains("click <https://example.jp/p> &"), "{t}");
        assert_eq!(t.matches("https://a.jp").count(), 1, "{t}");
    }

    #[test]
    fn scripts_styles_hidden_and_tracking_images_are_dropped() {
        let (t, s) = conv(
            "<style>p{color:red}</style><script>alert('x')</script><p>seen</p>\
             <div style=\"display: none\">secret <div>deeper</div> still</div>\
             <span hidden>gone</span><img src=\"https://t.example/p.gif\" width=\"1\" height=\"1\">\
             <img src=x alt=\"logo\"><p>after</p>",
        );
        assert_eq!(t, "seen\n\n[logo]\n\nafter");
        assert_eq!(
            (s.scripts, s.styles, s.hidden, s.tracking_images, s.images),
            (1, 1, 2, 1, 1)
        );
    }

    #[test]
    fn broken_markup_never_panics_and_keeps_text() {
        for h in [
            "<",
            "<a",
            "<a href=\"x",
            "</",
            "&#xFFFFFFFF;",
            "<p>a<b>b</p",
            "<!--",
            "<script>x",
            "<div hidden>x",
            "a < b > c",
            "&#0;&#1;&amp",
        ] {
            let _ = conv(h);
        }
        assert_eq!(conv("a < b").0, "a < b");
        assert_eq!(conv("x &#x65E5;&#26412; &bogus; y").0, "x 日本 &bogus; y");
    }

    #[test]
    fn output_is_bounded() {
        let big = "word ".repeat(10_000);
        let (t, s) = html_to_text(&big, 1000);
        assert!(t.len() <= 1000);
        assert!(s.truncated);
    }
}
