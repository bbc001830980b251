//! Word field instructions (OOXML, RTF and Word binary share them): the
//! kept list, and the verdict on one instruction after its text has been
//! joined across runs or groups and nested fields have been resolved.

/// Fields that only show something computed from the document itself (or
/// from the date, the user name, a bookmark). Everything else is dropped.
pub const KEPT_FIELDS: &[&str] = &[
    "ADDRESSBLOCK",
    "ADVANCE",
    "AUTHOR",
    "AUTONUM",
    "AUTONUMLGL",
    "AUTONUMOUT",
    "BIBLIOGRAPHY",
    "BIDIOUTLINE",
    "CITATION",
    "COMMENTS",
    "COMPARE",
    "CREATEDATE",
    "DATE",
    "DOCPROPERTY",
    "DOCVARIABLE",
    "EDITTIME",
    "EQ",
    "FILENAME",
    "FILESIZE",
    "FORMCHECKBOX",
    "FORMDROPDOWN",
    "FORMTEXT",
    "GREETINGLINE",
    "IF",
    "INDEX",
    "INFO",
    "KEYWORDS",
    "LASTSAVEDBY",
    "LISTNUM",
    "MERGEFIELD",
    "MERGEREC",
    "MERGESEQ",
    "NEXT",
    "NEXTIF",
    "NOTEREF",
    "NUMCHARS",
    "NUMPAGES",
    "NUMWORDS",
    "PAGE",
    "PAGEREF",
    "PRINTDATE",
    "QUOTE",
    "REF",
    "REVNUM",
    "SAVEDATE",
    "SECTION",
    "SECTIONPAGES",
    "SEQ",
    "SET",
    "SHAPE",
    "SKIPIF",
    "STYLEREF",
    "SUBJECT",
    "SYMBOL",
    "TA",
    "TC",
    "TEMPLATE",
    "TIME",
    "TITLE",
    "TOA",
    "TOC",
    "USERADDRESS",
    "USERINITIALS",
    "USERNAME",
    "XE",
    // `= 1+2`: a formula over the document's own numbers.
    "=",
];

/// Why a field instruction is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldDanger {
    /// DDE / DDEAUTO: runs another program.
    Dde,
    /// INCLUDETEXT, INCLUDEPICTURE, LINK, IMPORT, ...: fetches content.
    Fetch,
    /// A HYPERLINK whose target the `[office] hyperlinks` policy removes.
    Hyperlink,
    /// Anything else outside the kept list, a name built by a nested field
    /// included.
    NotKept,
}

/// Splits an instruction into words, keeping quoted strings whole; each
/// with whether it was quoted.
fn words(s: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                if quoted || !cur.is_empty() {
                    out.push((std::mem::take(&mut cur), quoted));
                }
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push((std::mem::take(&mut cur), false));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push((cur, quoted));
    }
    out
}

/// The field's name as Word reads it: upper-cased, up to the first
/// character that is not a letter or digit (`PAGE\*Arabic` is `PAGE`).
pub fn field_name(instr: &str) -> String {
    let t = instr.trim_start_matches(|c: char| c.is_whitespace() || c == '"');
    if t.starts_with('=') {
        return "=".into();
    }
    t.chars()
        .take_while(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_uppercase()
}

/// A HYPERLINK's external target, if it has one (`\l` alone is a jump
/// inside the document).
fn hyperlink_target(instr: &str) -> Option<String> {
    let w = words(instr);
    let mut i = 1;
    while i < w.len() {
        let (s, quoted) = &w[i];
        if let Some(sw) = s.strip_prefix('\\').filter(|sw| !quoted && sw.len() <= 2) {
            // Switches with an argument.
            if matches!(sw, "l" | "o" | "t") {
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        return Some(s.clone());
    }
    None
}

/// The verdict on one instruction: `None` keeps it.
///
/// `nested_in_name` says a nested field produced (part of) the field's
/// name: whatever it produces, the field goes.
pub fn verdict(
    instr: &str,
    nested_in_name: bool,
    neutralise_links: bool,
) -> Option<(FieldDanger, String)> {
    let short: String = instr
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect();
    if nested_in_name {
        return Some((
            FieldDanger::NotKept,
            format!("field whose name is built by a nested field removed: {short}"),
        ));
    }
    if instr.trim().is_empty() {
        return None;
    }
    let name = field_name(instr);
    match name.as_str() {
        "DDE" | "DDEAUTO" => Some((FieldDanger::Dde, format!("{name} field removed: {short}"))),
        "INCLUDETEXT" | "INCLUDEPICTURE" | "INCLUDE" | "IMPORT" | "LINK" | "RD" | "DATABASE" => {
            Some((
                FieldDanger::Fetch,
                format!("{name} field (fetches external content) removed: {short}"),
            ))
        }
        "HYPERLINK" => {
            let target = hyperlink_target(instr)?;
            let t = target.trim().to_ascii_lowercase();
            let web =
                t.starts_with("http://") || t.starts_with("https://") || t.starts_with("mailto:");
            (neutralise_links || !web).then(|| {
                (
                    FieldDanger::Hyperlink,
                    format!("HYPERLINK field target removed: {short}"),
                )
            })
        }
        n if KEPT_FIELDS.contains(&n) => None,
        _ => Some((
            FieldDanger::NotKept,
            format!(
                "field {} outside the kept list removed: {short}",
                if name.is_empty() {
                    "without a name"
                } else {
                    &name
                }
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kept_fields_survive() {
        let v = |s: &str| verdict(s, false, true).map(|v| v.0);
        assert_eq!(v(" DDEAUTO c:\\\\windows\\\\cmd "), Some(FieldDanger::Dde));
        assert_eq!(v("\"dde\" x"), Some(FieldDanger::Dde));
        assert_eq!(v("ddeauto x"), Some(FieldDanger::Dde));
        assert_eq!(v("PAGE \\* MERGEFORMAT"), None);
        assert_eq!(v("PAGE\\*Arabic"), None);
        assert_eq!(v(" TOC \\o \"1-3\" "), None);
        assert_eq!(v("= 2 * 3"), None);
        assert_eq!(v("   "), None);
        assert_eq!(v("MACROBUTTON Go click"), Some(FieldDanger::NotKept));
        assert_eq!(v("PRINT \"\\\\x\""), Some(FieldDanger::NotKept));
        assert_eq!(v("\\\\x"), Some(FieldDanger::NotKept));
        assert_eq!(
            v("INCLUDEPICTURE \"http://a/b.png\""),
            Some(FieldDanger::Fetch)
        );
        assert_eq!(v("HYPERLINK \\l \"_Toc1\""), None);
        assert_eq!(v("HYPERLINK \"http://x\""), Some(FieldDanger::Hyperlink));
        assert_eq!(verdict("HYPERLINK \"http://x\"", false, false), None);
        assert_eq!(
            verdict("HYPERLINK \"\\\\\\\\host\\\\share\"", false, false).map(|v| v.0),
            Some(FieldDanger::Hyperlink)
        );
        assert_eq!(
            verdict("PAGE", true, true).map(|v| v.0),
            Some(FieldDanger::NotKept)
        );
    }
}
