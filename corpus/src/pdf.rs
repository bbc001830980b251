//! Cases for the pdf rebuilder.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
