//! Pruning of originals and quarantine after the retention period.

use std::path::Path;
use time::Duration;

/// Whether `name` is a `YYYY-MM-DD` directory name.
fn is_date(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// The oldest date kept when keeping `days` days (today counts as one).
pub fn cutoff(days: u32) -> String {
    let t = mugai_audit::clock::now() - Duration::days(i64::from(days.saturating_sub(1)));
    mugai_audit::clock::date(t)
}

/// Removes the date directories of `root` older than `keep_from`; returns
/// the names removed.
pub fn prune(root: &Path, keep_from: &str) -> std::io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return Ok(removed);
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if is_date(&name) && name.as_str() < keep_from && e.file_type()?.is_dir() {
            std::fs::remove_dir_all(e.path())?;
            removed.push(name);
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_date_directories_go() {
        let d = tempfile::tempdir().unwrap();
        for n in ["2020-01-01", "2020-01-02", "2999-01-01", "notes"] {
            std::fs::create_dir_all(d.path().join(n).join("x")).unwrap();
        }
        std::fs::write(d.path().join("2000-01-01"), "a file, not a day").unwrap();
        let removed = prune(d.path(), "2020-01-02").unwrap();
        assert_eq!(removed, vec!["2020-01-01"]);
        assert!(d.path().join("2020-01-02").exists());
        assert!(d.path().join("notes").exists());
        assert!(d.path().join("2000-01-01").exists());
        assert!(cutoff(1) >= cutoff(30));
    }
}
