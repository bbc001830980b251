//! ZIP rebuilder: member-by-member rebuild with bomb and traversal guards.
//!
//! Main type: [`ZipRebuilder`], the [`mugai_core::Rebuilder`] for ZIP. It
//! reads the central directory *and* every local header with a
//! bounds-checked reader and refuses archives where they disagree, where
//! entries overlap (Fifield-style bombs) or point outside the file, and
//! encrypted archives. Members are inflated as a stream under the policy's
//! ratio, expanded-size and entry limits, handed back to the engine to be
//! sanitised by their own type's rules, and written into a new ZIP with
//! safe UTF-8 names.
//!
//! - [`read`]: parsing and structural checks.
//! - [`names`]: name decoding (UTF-8 flag, Info-ZIP Unicode Path, CP932)
//!   and neutralisation.
//! - [`extract`]: streaming extraction under the limits.
//! - [`write`]: the ZIP writer for the output.
//! - [`unlock`]: decrypting a password-protected ZIP with given passwords
//!   (ZipCrypto, WinZip AES), in the worker, before the rebuild.

pub mod extract;
pub mod names;
pub mod read;
mod rebuild;
pub mod unlock;
pub mod write;

pub use rebuild::ZipRebuilder;
