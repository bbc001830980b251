//! Job ids (128 random bits, 32 lower-case hex digits) and client job ids.
//! Both are checked before they are used anywhere, so that neither can
//! name a path outside the results folder.

use std::fmt;

/// A job's id: 32 lower-case hex digits from the operating system's
/// random source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(String);

impl JobId {
    /// A new random id.
    pub fn new() -> Result<JobId, getrandom::Error> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b)?;
        Ok(JobId(hex::encode(b)))
    }

    /// The id in `s`, if `s` is exactly one (32 lower-case hex digits).
    pub fn parse(s: &str) -> Option<JobId> {
        (s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| JobId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest client job id accepted.
pub const MAX_CLIENT_JOB_ID: usize = 128;

/// Whether `s` is an acceptable client job id: 1 to 128 letters, digits,
/// `.`, `_`, `:` or `-`.
pub fn valid_client_job_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_CLIENT_JOB_ID
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_parse_and_differ() {
        let a = JobId::new().unwrap();
        let b = JobId::new().unwrap();
        assert_ne!(a, b);
        assert_eq!(JobId::parse(a.as_str()), Some(a));
    }

    #[test]
    fn anything_else_is_not_an_id() {
        for bad in [
            "",
            "..",
            "../../etc/passwd",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef/123456789abcdef",
            "0123456789abcdef0123456789abcde\u{e9}",
        ] {
            assert_eq!(JobId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn client_job_ids() {
        assert!(valid_client_job_id("order-2026:17_a.b"));
        assert!(!valid_client_job_id(""));
        assert!(!valid_client_job_id("a/b"));
        assert!(!valid_client_job_id("a b"));
        assert!(!valid_client_job_id(&"x".repeat(129)));
    }
}
