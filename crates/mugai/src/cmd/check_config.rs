//! `mugai check-config [FILE]`: validates the configuration and, when a
//! scanner is configured, tests the connection and prints its versions;
//! starts a worker and prints the sandbox layers the kernel gives it.

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
    // Start one worker: the layers it reports are what this kernel (and
    // service manager) gives; a missing required layer is an error.
    let layers = super::common::pool(&config, 1)?
        .probe()
        .map_err(|e| anyhow::anyhow!("{source}: worker sandbox: {e}"))?;
    println!(
        "worker sandbox: {layers}; {} files per worker",
        config.sandbox.max_files_per_worker
    );
    if let Some(clamd) = mugai_clamd::from_policy(&config.policy.av) {
        let pong = clamd
            .ping()
            .with_context(|| format!("clamd {}: not reachable", clamd.address))?;
        anyhow::ensure!(pong, "clamd {}: did not answer PONG", clamd.address);
        let version = clamd
            .version()
            .with_context(|| format!("clamd {}: VERSION failed", clamd.address))?;
        // `ClamAV 1.4.6/27400/Sat Nov 21 ...`: engine / signatures / date.
        let engine = version.split('/').next().unwrap_or("?");
        let sigs = mugai_clamd::signatures::from_version(&version, std::time::SystemTime::now());
        println!("clamd {}: {engine}; {}", clamd.address, sigs.describe());
        let av = &config.policy.av;
        if av.max_signature_age_hours > 0 {
            let max = std::time::Duration::from_secs(av.max_signature_age_hours * 3600);
            if sigs == mugai_clamd::Signatures::Missing {
                println!(
                    "FAILED: clamd {}: no signature database is loaded (av.max_signature_age_hours = 0 turns this check off)",
                    clamd.address
                );
                return Ok(crate::exit::BLOCKED);
            }
            if sigs.is_stale(max) {
                println!(
                    "warning: clamd {}: the signatures are older than av.max_signature_age_hours = {}",
                    clamd.address, av.max_signature_age_hours
                );
                if av.on_stale == mugai_core::config::OnStaleSignatures::Block {
                    println!("FAILED: av.on_stale = \"block\": every scan would fail closed");
                    return Ok(crate::exit::BLOCKED);
                }
            }
        }
    } else {
        println!("malware scan: off (no [av] clamd address)");
    }
    Ok(crate::exit::OK)
}
