//! `mugai check-config [FILE]`.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file (default: the embedded configuration).
    pub file: Option<PathBuf>,
}

pub fn run(a: CheckConfigArgs) -> anyhow::Result<u8> {
    let config = super::common::load_config(a.file.as_deref())?;
    let source = a
        .file
        .as_ref()
        .map_or("embedded configuration".to_string(), |p| {
            p.display().to_string()
        });
    println!(
        "{source}: ok ({} types allowed, deadline {} s, worker memory {} MiB)",
        config.policy.types.allow.len(),
        config.policy.limits.deadline_secs,
        config.policy.limits.worker_memory_mib
    );
    Ok(crate::exit::OK)
}
