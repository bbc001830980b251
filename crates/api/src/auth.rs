//! Bearer tokens: only their SHA-256 is configured; a presented token is
//! hashed and compared with every configured hash in constant time.

use mugai_core::config::ApiToken;
use sha2::{Digest, Sha256};

/// The accepted tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    entries: Vec<(String, [u8; 32])>,
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token that is not one of the configured ones.
    Invalid,
}

/// The lower-case hex SHA-256 of a token, as the configuration holds it.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Tokens {
    /// The tokens of `[serve]`; entries that are not 64 hex digits (which
    /// validation already reports) are left out, so they match nothing.
    pub fn new(config: &[ApiToken]) -> Tokens {
        let entries = config
            .iter()
            .filter_map(|t| {
                let mut h = [0u8; 32];
                hex::decode_to_slice(&t.sha256, &mut h).ok()?;
                Some((t.name.clone(), h))
            })
            .collect();
        Tokens { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The name of the token in an `Authorization` header value.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<&str, Refusal> {
        let value = authorization.ok_or(Refusal::Missing)?;
        let token = bearer(value).ok_or(Refusal::Missing)?;
        let presented: [u8; 32] = Sha256::digest(token).into();
        // Every entry is compared, whichever matches.
        let mut found = None;
        for (name, hash) in &self.entries {
            if ct_eq(&presented, hash) {
                found = Some(name.as_str());
            }
        }
        found.ok_or(Refusal::Invalid)
    }
}

/// The token of a `Bearer` credential (scheme case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at(value.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty() && token.len() <= 4096).then_some(token)
}

/// Equality whose time does not depend on where the inputs differ.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&[
            ApiToken {
                name: "proxy-1".into(),
                sha256: hash_token("s3cret"),
            },
            ApiToken {
                name: "transfer".into(),
                sha256: hash_token("other"),
            },
        ])
    }

    #[test]
    fn the_right_token_names_its_holder() {
        let t = tokens();
        assert_eq!(t.check(Some(b"Bearer s3cret")), Ok("proxy-1"));
        assert_eq!(t.check(Some(b"bearer   other ")), Ok("transfer"));
    }

    #[test]
    fn anything_else_is_refused() {
        let t = tokens();
        assert_eq!(t.check(None), Err(Refusal::Missing));
        assert_eq!(t.check(Some(b"Basic czNjcmV0")), Err(Refusal::Missing));
        assert_eq!(t.check(Some(b"Bearer")), Err(Refusal::Missing));
        assert_eq!(t.check(Some(b"Bearer s3cre")), Err(Refusal::Invalid));
        // The configured hash itself is not a token.
        let h = format!("Bearer {}", hash_token("s3cret"));
        assert_eq!(t.check(Some(h.as_bytes())), Err(Refusal::Invalid));
    }

    #[test]
    fn hashes_are_sha256() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(ct_eq(&[1; 32], &[1; 32]));
        assert!(!ct_eq(&[1; 32], &[2; 32]));
    }
}
