//! `mugai audit verify|summary`.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain over FILEs (in order; a directory means all its
    /// log files); report the first bad record and exit 1. No records, a
    /// missing file or a folder without log files also fail (exit 1).
    Verify {
        /// Log files or directories, oldest first.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Counts by verdict, type and finding over a period.
    Summary {
        /// First day included, YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Last day included, YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        /// Log files or directories.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// Expands directories into their log files, oldest first.
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            out.extend(
                mugai_audit::files_in(p).with_context(|| format!("cannot read {}", p.display()))?,
            );
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// What makes a verification fail before any record is checked: a path
/// that is missing, or a folder without audit log files.
fn unverifiable(paths: &[PathBuf]) -> Option<String> {
    for p in paths {
        if p.is_dir() {
            match mugai_audit::files_in(p) {
                Ok(f) if f.is_empty() => {
                    return Some(format!(
                        "{} holds no audit log ({}DATE{} files)",
                        p.display(),
                        mugai_audit::FILE_PREFIX,
                        mugai_audit::FILE_SUFFIX
                    ))
                }
                Ok(_) => {}
                Err(e) => return Some(format!("{}: {e}", p.display())),
            }
        } else if !p.is_file() {
            return Some(format!("{}: no such audit log", p.display()));
        }
    }
    None
}

fn check_date(d: &Option<String>) -> anyhow::Result<()> {
    if let Some(d) = d {
        let ok = d.len() == 10
            && d.bytes().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !ok {
            anyhow::bail!("`{d}` is not a date (YYYY-MM-DD)");
        }
    }
    Ok(())
}

pub fn run(a: AuditArgs) -> anyhow::Result<u8> {
    match a.command {
        AuditCommand::Verify { files } => {
            // Nothing verified is never OK.
            if let Some(why) = unverifiable(&files) {
                println!("FAILED: {why}");
                return Ok(crate::exit::BLOCKED);
            }
            let files = expand(&files)?;
            let report = mugai_audit::verify(&files).context("cannot read the audit log")?;
            match report.problem {
                None if report.records == 0 => {
                    println!("FAILED: no records in {} file(s)", files.len());
                    Ok(crate::exit::BLOCKED)
                }
                Some(p) => {
                    println!("FAILED: {p}");
                    println!("{} record(s) before it verified", report.records);
                    Ok(crate::exit::BLOCKED)
                }
                None => {
                    let start = match (report.first_seq, report.from_genesis) {
                        (None, _) => "no chain".to_string(),
                        (Some(_), true) => "from the start of the chain".to_string(),
                        (Some(s), false) => format!("from sequence {s} (earlier files not given)"),
                    };
                    println!(
                        "OK: {} record(s) in {} file(s), {start}, last sequence {}",
                        report.records,
                        files.len(),
                        report.last_seq.unwrap_or(0)
                    );
                    Ok(crate::exit::OK)
                }
            }
        }
        AuditCommand::Summary {
            since,
            until,
            files,
        } => {
            check_date(&since)?;
            check_date(&until)?;
            let files = expand(&files)?;
            let s = mugai_audit::summary(&files, since.as_deref(), until.as_deref())
                .context("cannot read the audit log")?;
            print!("{s}");
            Ok(crate::exit::OK)
        }
    }
}
