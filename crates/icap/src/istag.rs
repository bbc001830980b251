//! The ISTag (RFC 3507 §4.7): it changes whenever the same body could be
//! answered differently, so a proxy that caches adapted responses drops
//! them. It is a hash of the effective configuration, the engine version
//! and the malware signature version.

use mugai_core::sha256_hex;
use std::sync::RwLock;

/// The current ISTag; the signature part is updated while serving.
#[derive(Debug)]
pub struct IsTag {
    base: String,
    tag: RwLock<(String, String)>,
}

impl IsTag {
    /// `config`: a stable text of the effective configuration; `engine`:
    /// the engine's version; `signatures`: the signature version (or a
    /// word saying there is none).
    pub fn new(config: &str, engine: &str, signatures: &str) -> IsTag {
        let base = format!("{}\n{engine}\n", sha256_hex(config.as_bytes()));
        let t = IsTag {
            base,
            tag: RwLock::new((String::new(), String::new())),
        };
        t.set_signatures(signatures);
        t
    }

    /// Records the signature version; returns whether the tag changed.
    pub fn set_signatures(&self, signatures: &str) -> bool {
        let tag = compute(&self.base, signatures);
        let mut g = self.tag.write().unwrap_or_else(|p| p.into_inner());
        let changed = g.1 != tag;
        *g = (signatures.to_string(), tag);
        changed
    }

    /// The header value, quoted (at most 32 characters inside the quotes).
    pub fn value(&self) -> String {
        let g = self.tag.read().unwrap_or_else(|p| p.into_inner());
        format!("\"{}\"", g.1)
    }
}

fn compute(base: &str, signatures: &str) -> String {
    let h = sha256_hex(format!("{base}{signatures}").as_bytes());
    format!("mugai-{}", &h[..26])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_follows_each_input() {
        let a = IsTag::new("[pdf]\njavascript = \"remove\"", "0.1.0", "27400");
        let v = a.value();
        assert_eq!(v.len(), 34);
        assert_eq!(
            IsTag::new("[pdf]\njavascript = \"remove\"", "0.1.0", "27400").value(),
            v
        );
        assert_ne!(
            IsTag::new("[pdf]\njavascript = \"block\"", "0.1.0", "27400").value(),
            v
        );
        assert_ne!(
            IsTag::new("[pdf]\njavascript = \"remove\"", "0.1.1", "27400").value(),
            v
        );
        assert!(!a.set_signatures("27400"));
        assert!(a.set_signatures("27401"));
        assert_ne!(a.value(), v);
    }
}
