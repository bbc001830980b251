//! Failure counting per key (an account, an address, a held item): after
//! `max` failures within the window, the key is refused until it passes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Limiter {
    max: u32,
    window: Duration,
    seen: HashMap<String, (u32, Instant)>,
}

/// Keys kept at most; the oldest go first beyond this.
const MAX_KEYS: usize = 100_000;

impl Limiter {
    pub fn new(max: u32, window_secs: u64) -> Limiter {
        Limiter {
            max,
            window: Duration::from_secs(window_secs),
            seen: HashMap::new(),
        }
    }

    fn fresh(&mut self, key: &str) -> Option<&mut (u32, Instant)> {
        let window = self.window;
        if self
            .seen
            .get(key)
            .is_some_and(|(_, t)| t.elapsed() >= window)
        {
            self.seen.remove(key);
        }
        self.seen.get_mut(key)
    }

    /// Whether `key` is refused now.
    pub fn refused(&mut self, key: &str) -> bool {
        let max = self.max;
        self.fresh(key).is_some_and(|(n, _)| *n >= max)
    }

    pub fn fail(&mut self, key: &str) {
        if let Some((n, _)) = self.fresh(key) {
            *n = n.saturating_add(1);
            return;
        }
        if self.seen.len() >= MAX_KEYS {
            let window = self.window;
            self.seen.retain(|_, (_, t)| t.elapsed() < window);
            if self.seen.len() >= MAX_KEYS {
                self.seen.clear();
            }
        }
        self.seen.insert(key.to_string(), (1, Instant::now()));
    }

    pub fn clear(&mut self, key: &str) {
        self.seen.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_max_failures_per_key() {
        let mut l = Limiter::new(3, 3600);
        for _ in 0..2 {
            l.fail("u:a");
        }
        assert!(!l.refused("u:a"));
        l.fail("u:a");
        assert!(l.refused("u:a"));
        assert!(!l.refused("u:b"));
        l.clear("u:a");
        assert!(!l.refused("u:a"));
        let mut l = Limiter::new(1, 0);
        l.fail("x");
        assert!(!l.refused("x"), "the window has passed");
    }
}
