//! Cases for the archive rebuilder.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
