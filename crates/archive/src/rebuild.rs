//! [`ZipRebuilder`]: parse, check, extract, sanitise each member, write.

use crate::extract::{extract, ExtractError, Meter};
use crate::names::{self, NameEncoding, NameTable};
use crate::read::{self, Entry, ParseLimits};
use crate::write::ZipWriter;
use mugai_core::config::BlockedMember;
use mugai_core::{Blocked, Budget, Code, Context, FileType, Rebuilder, Rebuilt};
use mugai_detect::name::printable;
use mugai_detect::{active_meaning, claimed_types, extension_of};

/// The rebuilder for ZIP archives.
#[derive(Debug, Default, Clone, Copy)]
pub struct ZipRebuilder;

/// What an entry is, from its name and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
    /// FIFO, device or socket.
    Special,
}

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;
const DOS_DIR: u32 = 0x10;
/// `FILE_ATTRIBUTE_REPARSE_POINT`: NTFS symbolic links and junctions.
const DOS_REPARSE: u32 = 0x400;

fn kind_of(e: &Entry<'_>, named_dir: bool) -> Kind {
    let mode = e.external_attrs >> 16;
    let ft = mode & S_IFMT;
    if ft == S_IFLNK || e.external_attrs & DOS_REPARSE != 0 {
        Kind::Symlink
    } else if named_dir
        || ft == S_IFDIR
        || (e.external_attrs & DOS_DIR != 0 && e.uncompressed_size == 0)
    {
        Kind::Dir
    } else if ft != 0 && ft != S_IFREG {
        Kind::Special
    } else {
        Kind::File
    }
}

/// Finder metadata that Mac archivers add; not user content.
fn is_mac_metadata(path: &str) -> bool {
    path.split('/').next() == Some("__MACOSX") || path.rsplit('/').next() == Some(".DS_Store")
}

/// Codes that end the whole archive even when blocked members are dropped:
/// limits are shared by the whole tree, so continuing cannot help.
fn droppable(code: Code) -> bool {
    !matches!(
        code,
        Code::LimitTime
            | Code::LimitSize
            | Code::LimitCount
            | Code::LimitMemory
            | Code::ArchiveBomb
            | Code::WorkerCrashed
    )
}

/// The output name: the member's safe path, with its extension kept only
/// when that extension claims the rebuilt type (the same rule as a
/// top-level file); an unknown or active extension (`.shtml`, `.slk`,
/// `.iqy` ...) on text becomes `.txt`.
fn output_path(path: &str, ty: FileType) -> String {
    mugai_detect::output_name(path, ty)
}

/// Reports a member written under another extension than it came with
/// (`archive.member_type`). A macro-enabled Office member renamed to its
/// macro-free type is reported by its rebuilder, not here.
fn report_renamed(cx: &mut Context<'_>, path: &str, written: &str, ty: FileType) {
    let (Some(old), new) = (extension_of(path), extension_of(written)) else {
        return;
    };
    // Conversions a rebuilder makes on purpose (docm -> docx, an Outlook
    // msg text-ized as eml) are its own findings, not a lying name.
    let converted = FileType::ALL.iter().any(|t| {
        t.extension() == old
            && (t.is_macro_enabled() || (*t == FileType::Msg && ty == FileType::Eml))
    });
    if new.as_deref() == Some(old.as_str()) || converted {
        return;
    }
    let why = match active_meaning(&old) {
        Some(meaning) => format!("`.{old}` {meaning}"),
        None if claimed_types(&old).is_some() => format!("`.{old}` claims another type"),
        None => format!("`.{old}` is not an extension of {}", ty.name()),
    };
    cx.neutralised(
        Code::ArchiveMemberType,
        format!(
            "{path}: the content is {} but {why}; written as `{written}`",
            ty.name()
        ),
    );
}

/// The shared budget, unqualified: the caller names the member path once.
struct BudgetMeter<'b>(&'b Budget);

impl Meter for BudgetMeter<'_> {
    fn charge(&mut self, n: u64) -> Result<(), Blocked> {
        self.0.charge_expanded(n)
    }
    fn tick(&mut self) -> Result<(), Blocked> {
        self.0.check_deadline()
    }
}

/// A blocked member: blocks the archive, or is dropped and listed.
fn member_blocked(cx: &mut Context<'_>, b: Blocked) -> Result<(), Blocked> {
    if cx.policy().archive.blocked_member == BlockedMember::Drop && droppable(b.code) {
        cx.removed(
            Code::ArchiveMemberDropped,
            format!("blocked member dropped ({}: {})", b.code, b.detail),
        );
        Ok(())
    } else {
        Err(b)
    }
}

impl Rebuilder for ZipRebuilder {
    fn rebuild(
        &self,
        input: &[u8],
        file_type: FileType,
        cx: &mut Context<'_>,
    ) -> Result<Rebuilt, Blocked> {
        if file_type != FileType::Zip {
            return Err(cx.block(
                Code::RebuildFailed,
                format!("the ZIP rebuilder cannot rebuild {file_type}"),
            ));
        }
        let limits = &cx.policy().limits;
        let parse_limits = ParseLimits {
            max_entries: limits.max_entries,
            max_expanded: limits
                .max_expanded_bytes
                .saturating_sub(cx.budget().expanded()),
            max_ratio: limits.max_ratio,
        };
        let max_ratio = limits.max_ratio;
        let budget = cx.budget();
        let archive = {
            read::parse(input, parse_limits, || {
                budget.check_deadline()?;
                budget.charge_entries(1).map_err(|b| {
                    Blocked::new(Code::ArchiveBomb, format!("{} ({})", b.detail, b.code))
                })
            })
            .map_err(|b| cx.block(b.code, b.detail))?
        };
        if archive.hidden_bytes > 0 {
            cx.removed(
                Code::ArchiveHiddenData,
                format!(
                    "{} bytes that no entry refers to (between entries or after the end record) removed",
                    archive.hidden_bytes
                ),
            );
        }

        let mut table = NameTable::new();
        let mut out = ZipWriter::new();
        for e in &archive.entries {
            cx.check_deadline()?;
            let decoded = names::decode(e.raw_name, e.flags, e.extra);
            if let NameEncoding::Cp932 { lossy } = decoded.encoding {
                cx.neutralised(
                    Code::ArchiveNameEncoding,
                    format!(
                        "name `{}` decoded from CP932 (Shift_JIS) and written as UTF-8{}",
                        printable(&decoded.text),
                        if lossy {
                            "; bytes that did not decode were replaced"
                        } else {
                            ""
                        }
                    ),
                );
            }
            let safe = names::neutralise(&decoded.text);
            for f in &safe.findings {
                cx.record(f.code, f.action, f.detail.clone());
            }
            match kind_of(e, safe.is_dir) {
                Kind::Symlink => {
                    cx.removed(
                        Code::ArchiveSymlink,
                        format!("{}: symbolic link removed", safe.path),
                    );
                    continue;
                }
                Kind::Special => {
                    cx.removed(
                        Code::ArchiveSymlink,
                        format!(
                            "{}: special file (FIFO, device or socket) removed",
                            safe.path
                        ),
                    );
                    continue;
                }
                Kind::Dir => {
                    // Directories are implied by the files in them; a
                    // directory entry that carries bytes is hiding them.
                    if e.uncompressed_size > 0 || e.compressed_size > 0 {
                        cx.removed(
                            Code::ArchiveHiddenData,
                            format!(
                                "{}: directory entry carrying {} bytes removed",
                                safe.path, e.compressed_size
                            ),
                        );
                    }
                    continue;
                }
                Kind::File => {}
            }
            if is_mac_metadata(&safe.path) {
                cx.removed(
                    Code::ArchiveMemberDropped,
                    format!("{}: Mac Finder metadata dropped", safe.path),
                );
                continue;
            }
            if let Some(b) = &safe.block {
                let b = cx.block(b.code, format!("{}: {}", safe.path, b.detail));
                member_blocked(cx, b)?;
                continue;
            }
            let bytes = match extract(e, max_ratio, &mut BudgetMeter(budget)) {
                Ok(b) => b,
                Err(ExtractError::Unsupported(b)) => {
                    let b = cx.block(b.code, b.detail);
                    member_blocked(cx, b)?;
                    continue;
                }
                Err(ExtractError::Archive(b)) => return Err(cx.block(b.code, b.detail)),
            };
            let before = cx.findings().len();
            let rebuilt = match cx.member(&safe.path, &bytes) {
                Ok(r) => r,
                Err(b) => {
                    member_blocked(cx, b)?;
                    continue;
                }
            };
            drop(bytes);
            // Reported when the nested archive needed changes: a nested ZIP
            // that is already clean (our own output) is no finding, so that
            // sanitising an output again finds nothing.
            if rebuilt.file_type == FileType::Zip && cx.findings().len() > before {
                cx.removed(
                    Code::ArchiveNested,
                    format!("{}: nested ZIP sanitised member by member", safe.path),
                );
            }
            let wanted = output_path(&safe.path, rebuilt.file_type);
            report_renamed(cx, &safe.path, &wanted, rebuilt.file_type);
            let name = table.take(&wanted);
            if name != wanted {
                cx.neutralised(
                    Code::NameUnsafe,
                    format!("duplicate name `{wanted}` written as `{name}`"),
                );
            }
            out.add(&name, &rebuilt.bytes, e.dos_time, e.dos_date)
                .map_err(|b| cx.block(b.code, b.detail))?;
        }
        let bytes = out.finish().map_err(|b| cx.block(b.code, b.detail))?;
        Ok(Rebuilt::new(bytes, FileType::Zip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths_follow_the_rebuilt_type() {
        assert_eq!(output_path("d/a.docm", FileType::Docx), "d/a.docx");
        assert_eq!(output_path("d/a.docx", FileType::Docx), "d/a.docx");
        assert_eq!(output_path("a.csv", FileType::Csv), "a.csv");
        assert_eq!(output_path("README", FileType::Text), "README");
        assert_eq!(output_path("a.weird", FileType::Text), "a.txt");
        assert_eq!(output_path("q/web.iqy", FileType::Text), "q/web.txt");
    }

    #[test]
    fn limits_are_not_droppable() {
        assert!(!droppable(Code::ArchiveBomb));
        assert!(!droppable(Code::LimitTime));
        assert!(droppable(Code::TypeExecutable));
        assert!(droppable(Code::ArchiveEncrypted));
    }
}
