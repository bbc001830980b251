//! Cases for the mail rebuilder.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
