//! Limits accounted across a file's whole tree of members.

use crate::config::Limits;
use crate::finding::Code;
use crate::rebuild::Blocked;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Below this many expanded bytes a member's ratio is not judged: ordinary
/// files compress past any sensible ratio when they are small and
/// repetitive (a vector picture at 667:1, a column of zeros), and what
/// they expand to is charged to the shared expanded-size budget anyway.
/// The guard is for members that would grow large quickly.
pub const RATIO_FLOOR: u64 = 16 << 20;

/// True when `expanded` bytes from `compressed` bytes is past `max_ratio`
/// (and past [`RATIO_FLOOR`]). ZIP members and Office package parts use it.
pub fn ratio_exceeded(expanded: u64, compressed: u64, max_ratio: u64) -> bool {
    expanded > RATIO_FLOOR && expanded > compressed.max(1).saturating_mul(max_ratio)
}

/// The byte, entry and time budget of one top-level file. Shared (by
/// reference) by every member's [`crate::Context`], so a zip of zips cannot
/// multiply its allowance by nesting.
#[derive(Debug)]
pub struct Budget {
    deadline: Instant,
    max_expanded: u64,
    expanded: Cell<u64>,
    max_entries: u64,
    entries: Cell<u64>,
}

impl Budget {
    pub fn new(limits: &Limits) -> Self {
        Budget::with_deadline(
            limits,
            Instant::now() + Duration::from_secs(limits.deadline_secs),
        )
    }

    pub fn with_deadline(limits: &Limits, deadline: Instant) -> Self {
        Budget {
            deadline,
            max_expanded: limits.max_expanded_bytes,
            expanded: Cell::new(0),
            max_entries: limits.max_entries,
            entries: Cell::new(0),
        }
    }

    /// Blocks with `limit.time` once the deadline has passed.
    pub fn check_deadline(&self) -> Result<(), Blocked> {
        if Instant::now() >= self.deadline {
            Err(Blocked::new(Code::LimitTime, "deadline passed"))
        } else {
            Ok(())
        }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Accounts `n` more bytes produced by decompression or extraction.
    pub fn charge_expanded(&self, n: u64) -> Result<(), Blocked> {
        let total = self.expanded.get().saturating_add(n);
        self.expanded.set(total);
        if total > self.max_expanded {
            Err(Blocked::new(
                Code::LimitSize,
                format!(
                    "expanded size over the limit of {} bytes",
                    self.max_expanded
                ),
            ))
        } else {
            Ok(())
        }
    }

    /// Accounts `n` more entries (archive members, parts, objects).
    pub fn charge_entries(&self, n: u64) -> Result<(), Blocked> {
        let total = self.entries.get().saturating_add(n);
        self.entries.set(total);
        if total > self.max_entries {
            Err(Blocked::new(
                Code::LimitCount,
                format!("more than {} entries", self.max_entries),
            ))
        } else {
            Ok(())
        }
    }

    pub fn expanded(&self) -> u64 {
        self.expanded.get()
    }

    /// Gives back `n` bytes charged by work whose output was thrown away
    /// (a parse that failed and is run again on a repaired input), so the
    /// retry gets the allowance the file had; never below zero.
    pub fn refund_expanded(&self, n: u64) {
        self.expanded.set(self.expanded.get().saturating_sub(n));
    }

    pub fn entries(&self) -> u64 {
        self.entries.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_accumulate_and_block_past_the_limit() {
        let limits = Limits {
            max_expanded_bytes: 100,
            max_entries: 2,
            ..Limits::default()
        };
        let b = Budget::new(&limits);
        assert!(b.charge_expanded(60).is_ok());
        assert_eq!(b.charge_expanded(60).unwrap_err().code, Code::LimitSize);
        assert!(b.charge_entries(2).is_ok());
        assert_eq!(b.charge_entries(1).unwrap_err().code, Code::LimitCount);
        let past = Budget::with_deadline(&limits, Instant::now());
        assert_eq!(past.check_deadline().unwrap_err().code, Code::LimitTime);
    }
}
