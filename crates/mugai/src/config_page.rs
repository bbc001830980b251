//! mugai.toml(5): the configuration reference, rendered as a man page from
//! the documented default configuration (`config/mugai.toml`), so that every
//! key, its default and its meaning come from the one file the binary embeds.
//!
//! The file's conventions: `[section]` headers; a comment block above a key
//! (or after it on the same line) explains it; `# key = value` is a key that
//! is unset by default, with an example value; a comment block right above
//! a section header introduces that section; comments that end at a
//! `# ----` rule are banners and are left out.

/// One key of a section.
struct Key {
    name: String,
    /// The default as written in the file, or `None` when unset by default.
    default: Option<String>,
    /// The example value of a key that is unset by default.
    example: Option<String>,
    text: Vec<String>,
}

#[derive(Default)]
struct Section {
    name: String,
    intro: Vec<String>,
    keys: Vec<Key>,
}

/// Renders the man page.
pub fn render(toml_text: &str, version: &str) -> String {
    let sections = parse(toml_text);
    let mut out = String::new();
    out.push_str(&format!(
        ".TH MUGAI.TOML 5 \"\" \"mugai {}\" \"mugai manual\"\n",
        roff(version)
    ));
    out.push_str(
        ".SH NAME\nmugai.toml \\- configuration of the mugai file\\-sanitisation gateway\n",
    );
    out.push_str(".SH SYNOPSIS\n/etc/mugai/mugai.toml\n");
    out.push_str(
        ".SH DESCRIPTION\nOne TOML file configures the policy (what may cross the gateway, and \
         how), the transfer\\-share daemon, the mail relay, the ICAP server, the REST API and logging. \
         The file in force is the one named with \\fB\\-\\-config\\fR (or \
         \\fB\\-\\-policy\\fR), else the one named by \\fBMUGAI_CONFIG\\fR, else \
         \\fI/etc/mugai/mugai.toml\\fR if it exists, else the default compiled \
         into the binary, which is the file this page is made from. \
         Every key is optional: an omitted key takes the default shown here. \
         Unknown keys and bad values are errors, all reported at once, each \
         naming its key; \\fBmugai check\\-config\\fR checks a file and says which \
         file is in force.\n",
    );
    for s in &sections {
        if s.name.is_empty() {
            continue;
        }
        out.push_str(&format!(".SH [{}]\n", roff(&s.name)));
        if !s.intro.is_empty() {
            out.push_str(&format!(".PP\n{}\n", roff(&s.intro.join(" "))));
        }
        for k in &s.keys {
            out.push_str(&format!(".TP\n.B {}\n", roff(&k.name)));
            match (&k.default, &k.example) {
                (Some(d), _) => out.push_str(&format!("Default: {}.\n", roff(d))),
                (None, Some(e)) => {
                    out.push_str(&format!("Not set by default; for example {}.\n", roff(e)))
                }
                (None, None) => out.push_str("Not set by default.\n"),
            }
            if !k.text.is_empty() {
                out.push_str(&format!(".br\n{}\n", roff(&k.text.join(" "))));
            }
        }
    }
    out.push_str(".SH SEE ALSO\n\\fBmugai\\fR(1), \\fBmugai\\-check\\-config\\fR(1)\n");
    out
}

fn parse(text: &str) -> Vec<Section> {
    let mut sections = vec![Section::default()];
    let mut pending: Vec<String> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(raw) = lines.next() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        // A rule closes a banner (the file's header, a part's title):
        // those comments describe the file, not a section.
        if line.starts_with("# ---") {
            pending.clear();
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push(Section {
                name: name.to_string(),
                intro: std::mem::take(&mut pending),
                keys: Vec::new(),
            });
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if let Some((name, value)) = assignment(comment) {
                let (value, inline) = split_comment(value);
                let mut text = std::mem::take(&mut pending);
                text.extend(inline);
                push_key(&mut sections, name, None, Some(value), text);
            } else {
                pending.push(comment.to_string());
            }
            continue;
        }
        if let Some((name, value)) = assignment(line) {
            let (mut value, inline) = split_comment(value);
            let mut text = std::mem::take(&mut pending);
            text.extend(inline);
            // A multi-line array runs to its closing bracket.
            if value.starts_with('[') && !value.ends_with(']') {
                for more in lines.by_ref() {
                    let (part, _) = split_comment(more.trim());
                    value.push(' ');
                    value.push_str(&part);
                    if part.ends_with(']') {
                        break;
                    }
                }
            }
            push_key(&mut sections, name, Some(value), None, text);
        }
    }
    sections
}

fn push_key(
    sections: &mut [Section],
    name: &str,
    default: Option<String>,
    example: Option<String>,
    text: Vec<String>,
) {
    if let Some(s) = sections.last_mut() {
        s.keys.push(Key {
            name: name.to_string(),
            default,
            example,
            text,
        });
    }
}

/// `key = value` with a bare-key name.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    bare.then(|| (name, value.trim()))
}

/// Splits `value   # comment` at the first `#` outside a string.
fn split_comment(s: &str) -> (String, Option<String>) {
    let mut in_string = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => {
                let comment = s[i + 1..].trim();
                return (
                    s[..i].trim().to_string(),
                    (!comment.is_empty()).then(|| comment.to_string()),
                );
            }
            _ => {}
        }
    }
    (s.trim().to_string(), None)
}

/// Escapes text for roff: backslashes, hyphens, and a leading `.` or `'`.
fn roff(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            _ => out.push(c),
        }
    }
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugai_core::config::EMBEDDED_TOML;
    use mugai_core::Config;

    /// Every key the program knows, as `(section, key)`, from the Rust
    /// defaults (not from the file the page is made from).
    fn known_keys() -> Vec<(String, String)> {
        let v = serde_json::to_value(Config::default()).unwrap();
        let mut keys = Vec::new();
        let mut add = |section: &str, obj: &serde_json::Value| {
            for k in obj.as_object().unwrap().keys() {
                keys.push((section.to_string(), k.clone()));
            }
        };
        for (name, section) in v["policy"].as_object().unwrap() {
            add(name, section);
        }
        for name in ["daemon", "relay", "icap", "log", "serve"] {
            add(name, &v[name]);
        }
        keys
    }

    #[test]
    fn every_key_is_documented_with_its_section() {
        let sections = parse(EMBEDDED_TOML);
        let page = render(EMBEDDED_TOML, "0");
        let mut undocumented = Vec::new();
        for (section, key) in known_keys() {
            let s = sections
                .iter()
                .find(|s| s.name == section)
                .unwrap_or_else(|| panic!("no [{section}] in the configuration page"));
            let k = s
                .keys
                .iter()
                .find(|k| k.name == key)
                .unwrap_or_else(|| panic!("{section}.{key} is not documented"));
            if k.text.is_empty() {
                undocumented.push(format!("{section}.{key}"));
            }
            assert!(page.contains(&format!(".B {}\n", roff(&key))));
        }
        assert!(
            undocumented.is_empty(),
            "keys without a meaning in config/mugai.toml: {undocumented:?}"
        );
    }

    #[test]
    fn defaults_examples_and_comments_are_read() {
        let s = parse(
            "# banner\n# ---\n# intro\n[a]\n# what x is\nx = 5   # five\n# y = \"p#q\"  # unset\nz = [\n  \"1\",\n  \"2\",\n]\n",
        );
        let a = &s[1];
        assert_eq!(a.intro, ["intro"]);
        assert_eq!(a.keys[0].default.as_deref(), Some("5"));
        assert_eq!(a.keys[0].text, ["what x is", "five"]);
        assert_eq!(a.keys[1].default, None);
        assert_eq!(a.keys[1].example.as_deref(), Some("\"p#q\""));
        assert_eq!(a.keys[2].default.as_deref(), Some("[ \"1\", \"2\", ]"));
        assert_eq!(roff(".x-y\\"), "\\&.x\\-y\\e");
    }
}
