//! `mugai audit verify|summary`.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; report the first bad record.
    Verify {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Counts by verdict, type and finding.
    Summary {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(_a: AuditArgs) -> anyhow::Result<u8> {
    anyhow::bail!("audit tools are not available in this build")
}
