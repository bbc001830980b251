//! clamd client (INSTREAM over a UNIX socket or TCP) implementing the
//! [`mugai_core::Scanner`] seam.

use mugai_core::config::AvPolicy;
use mugai_core::{ScanResult, Scanner};

/// A clamd connection description.
#[derive(Debug, Clone)]
pub struct Clamd {
    pub address: String,
}

impl Scanner for Clamd {
    fn scan(&self, _bytes: &[u8]) -> ScanResult {
        ScanResult::Unavailable(format!("clamd client not built yet ({})", self.address))
    }
}

/// The scanner the policy configures, if any.
pub fn from_policy(av: &AvPolicy) -> Option<Clamd> {
    av.clamd.as_ref().map(|a| Clamd { address: a.clone() })
}
