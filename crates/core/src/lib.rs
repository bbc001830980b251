//! Core types of mugai, the file-sanitisation (無害化) gateway.
//!
//! Everything that decides what happens to a file meets here:
//!
//! - [`Code`], [`Action`] and [`Finding`]: the danger factors of the threat
//!   catalogue with their stable string names, and what was done about them.
//! - [`Verdict`] and [`Outcome`] (a [`Disposition`]: blocked with a reason,
//!   or passed with an [`Output`]): the result for one file; [`Report`]: its
//!   JSON form for machines (`sanitize --json`, the REST API).
//! - [`FileType`]: the true type of a file, found from its content.
//! - [`Policy`] and [`Config`]: what is allowed and the limits, loaded from
//!   TOML with every error reported at once; [`Config::embedded`] is the
//!   default compiled into the binary.
//! - [`Rebuilder`]: one implementation per format family; it reads the input
//!   and writes a new file, or refuses it with a [`Blocked`].
//! - [`Context`]: the per-file state a rebuilder works in: findings, the
//!   byte/depth/deadline [`Budget`] shared across a container's whole tree,
//!   and the way back into the dispatcher for container members.
//! - [`Sanitize`]: the seam between callers (CLI, daemon, relay) and the
//!   place where rebuilding runs (in process, or in a worker process).
//! - [`Scanner`]: the malware-scanner seam.
//! - [`Reader`]: a bounds-checked byte reader that cannot panic.

pub mod budget;
pub mod config;
pub mod context;
pub mod filetype;
pub mod finding;
mod finding_ja;
pub mod hash;
pub mod job;
pub mod reader;
pub mod rebuild;
pub mod report;
pub mod scan;

pub use budget::Budget;
pub use config::{Config, ConfigError, Policy};
pub use context::{Context, Dispatch, MemberOutcome, NoMembers, ScanStage};
pub use filetype::FileType;
pub use finding::{Action, Code, Finding, Verdict};
pub use hash::{sha256_hex, sha256_reader};
pub use job::{
    is_wrong_password, verdict_of, Disposition, HeldPart, Inconsistent, Job, Outcome,
    OutcomeFields, Output, Passwords, Sanitize, WRONG_PASSWORD,
};
pub use reader::Reader;
pub use rebuild::{Blocked, Rebuilder, Rebuilt};
pub use report::Report;
pub use scan::{ScanResult, Scanner};
