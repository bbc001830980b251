//! `mugai check-config [FILE]`: validates the configuration and, when a
//! scanner is configured, tests the connection and prints its versions.

use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file (default: $MUGAI_CONFIG, else
    /// /etc/mugai/mugai.toml if it exists, else the embedded default).
    pub file: Option<PathBuf>,
    /// Test this clamd address instead of the configured one.
    #[arg(long, value_name = "ADDR")]
    pub clamd: Option<String>,
}

pub fn run(a: CheckConfigArgs) -> anyhow::Result<u8> {
    let mut config = super::common::load_config(a.file.as_deref())?;
    if let Some(c) = a.clamd {
        config.policy.av.clamd = Some(c);
    }
    let source = super::common::config_source().to_string();
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
    if let Some(clamd) = mugai_clamd::from_policy(&config.policy.av) {
        let pong = clamd
            .ping()
            .with_context(|| format!("clamd {}: not reachable", clamd.address))?;
        anyhow::ensure!(pong, "clamd {}: did not answer PONG", clamd.address);
        let version = clamd
            .version()
            .with_context(|| format!("clamd {}: VERSION failed", clamd.address))?;
        // `ClamAV 1.4.6/27400/Sat Nov 21 ...`: engine / signatures / date.
        let mut parts = version.splitn(3, '/');
        let engine = parts.next().unwrap_or("?");
        let sigs = parts.next().unwrap_or("none loaded");
        let date = parts.next().unwrap_or("-");
        println!(
            "clamd {}: {engine}; signatures {sigs} ({date})",
            clamd.address
        );
    } else {
        println!("malware scan: off (no [av] clamd address)");
    }
    Ok(crate::exit::OK)
}
