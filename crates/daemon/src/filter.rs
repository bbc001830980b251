//! Names the daemon leaves alone: files still being written by an editor
//! or a copy tool, and hidden files. They are taken once renamed.

use std::path::Path;

/// Whether one name is temporary or hidden.
pub fn is_ignored_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || lower.ends_with(".tmp")
        || lower.ends_with(".part")
        || lower.ends_with(".crdownload")
        || lower.ends_with(".partial")
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
