//! `mugai relay`: the mail text-ization SMTP relay.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Configuration file (default: the embedded configuration).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address (default 127.0.0.1:10025).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// SMTP server receiving the converted mail.
    #[arg(long, value_name = "HOST:PORT")]
    pub next_hop: Option<String>,
    #[arg(long, value_name = "DIR")]
    pub originals: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
}

pub fn run(_a: RelayArgs) -> anyhow::Result<u8> {
    anyhow::bail!("the relay is not available in this build")
}
