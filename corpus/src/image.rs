//! Cases for the image rebuilder.

use crate::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
