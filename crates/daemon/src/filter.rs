//! Names the daemon does not take: files still being written by an editor
//! or a copy tool, and hidden files. They are taken once renamed; left
//! alone, they are reported and in time quarantined (see `unaccepted`).

use std::path::Path;

/// Why a name is not taken: hidden, an Office lock file, or a temporary
/// name of an upload or download in progress. `None`: taken.
pub fn why_ignored(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    if name.starts_with('.') {
        Some("hidden name (starts with `.`)")
    } else if name.starts_with("~$") {
        Some("Office lock file name (starts with `~$`)")
    } else if [".tmp", ".part", ".crdownload", ".partial"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        Some("temporary upload name (.tmp, .part, .crdownload, .partial)")
    } else {
        None
    }
}

/// Whether one name is temporary or hidden.
pub fn is_ignored_name(name: &str) -> bool {
    why_ignored(name).is_some()
}

/// Whether any component of a path relative to the inbox is ignored.
pub fn is_ignored(rel: &Path) -> bool {
    rel.components().any(|c| match c {
        std::path::Component::Normal(n) => is_ignored_name(&n.to_string_lossy()),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_and_hidden_names() {
        for n in [
            "~$report.docx",
            "a.tmp",
            "a.TMP",
            "big.iso.part",
            ".~lock.a.odt#",
            ".hidden",
        ] {
            assert!(is_ignored_name(n), "{n}");
        }
        for n in ["report.docx", "a.tmpl", "part.txt", "~report.txt"] {
            assert!(!is_ignored_name(n), "{n}");
        }
        assert!(is_ignored(Path::new(".git/config")));
        assert!(is_ignored(Path::new("a/../b")));
        assert!(!is_ignored(Path::new("課/報告.txt")));
    }
}
