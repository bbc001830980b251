//! Applying the policy's malware-scan settings.

use mugai_core::config::{AvScan, OnAvFailure};
use mugai_core::{Blocked, Code, Context, Policy, ScanResult};

/// Which copy of a file is being scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Original,
    Output,
}

/// Scans `bytes` if the policy asks for this stage; a hit, or a failure
/// under a fail-closed policy, blocks.
pub fn check(
    policy: &Policy,
    cx: &mut Context<'_>,
    stage: Stage,
    bytes: &[u8],
) -> Result<(), Blocked> {
    let Some(scanner) = cx.scanner() else {
        return Ok(());
    };
    let wanted = match (policy.av.scan, stage) {
        (AvScan::Both, _) => true,
        (AvScan::Original, Stage::Original) => true,
        (AvScan::Output, Stage::Output) => true,
        _ => false,
    };
    if !wanted {
        return Ok(());
    }
    let what = match stage {
        Stage::Original => "original",
        Stage::Output => "rebuilt output",
    };
    match scanner.scan(bytes) {
        ScanResult::Clean => Ok(()),
        ScanResult::Detected(sig) => {
            Err(cx.block(Code::AvDetected, format!("{sig} in the {what}")))
        }
        ScanResult::Unavailable(why) => match policy.av.on_unavailable {
            OnAvFailure::Block => {
                Err(cx.block(Code::AvUnavailable, format!("scanner unavailable: {why}")))
            }
            OnAvFailure::Allow => Ok(()),
        },
        ScanResult::TooLarge => match policy.av.on_too_large {
            OnAvFailure::Block => Err(cx.block(
                Code::AvTooLarge,
                format!(
                    "the {what} ({} bytes) is over the scanner's stream limit",
                    bytes.len()
                ),
            )),
            OnAvFailure::Allow => Ok(()),
        },
    }
}
