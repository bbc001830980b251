//! Cases for the office rebuilder.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
