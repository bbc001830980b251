//! `mugai daemon`: the transfer-share daemon.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Configuration file (default: the embedded configuration).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub inbox: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub clean: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub quarantine: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub originals: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
}

pub fn run(_a: DaemonArgs) -> anyhow::Result<u8> {
    anyhow::bail!("the daemon is not available in this build")
}
