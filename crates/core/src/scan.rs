//! The malware-scanner seam.

/// What a scanner said about some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanResult {
    Clean,
    /// A signature matched; its name.
    Detected(String),
    /// The scanner could not be reached or failed; why.
    Unavailable(String),
    /// Over the scanner's stream limit.
    TooLarge,
}

/// A malware scanner (clamd in production).
pub trait Scanner {
    fn scan(&self, bytes: &[u8]) -> ScanResult;
}
