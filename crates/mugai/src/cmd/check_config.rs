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
    // The daemon's directories: all six or none (a relay-only file).
    let d = &config.daemon;
    let any = [
        &d.inbox,
        &d.clean,
        &d.quarantine,
        &d.originals,
        &d.state,
        &d.audit,
    ]
    .iter()
    .any(|p| p.is_some());
    let mut daemon_line = None;
    if any {
        match mugai_daemon::Dirs::from_config(d) {
            Ok(dirs) => {
                daemon_line = Some(format!(
                    "daemon: inbox {} -> clean {}",
                    dirs.inbox.display(),
                    dirs.clean.display()
                ))
            }
            Err(e) => anyhow::bail!("{source}: daemon: {e}"),
        }
    }
    println!(
        "{source}: ok ({} types allowed, deadline {} s, worker memory {} MiB)",
        config.policy.types.allow.len(),
        config.policy.limits.deadline_secs,
        config.policy.limits.worker_memory_mib
    );
    if let Some(l) = daemon_line {
        println!("{l}");
    }
    Ok(crate::exit::OK)
}
