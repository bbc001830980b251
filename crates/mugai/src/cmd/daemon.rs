//! `mugai daemon`: the transfer-share daemon.

use clap::Args;
use mugai_daemon::{Daemon, DirOverrides, Options};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Configuration file (default: $MUGAI_CONFIG, else
    /// /etc/mugai/mugai.toml if it exists, else the embedded default).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where files are dropped (overrides `daemon.inbox`).
    #[arg(long, value_name = "DIR")]
    pub inbox: Option<PathBuf>,
    /// Where sanitised files appear (overrides `daemon.clean`).
    #[arg(long, value_name = "DIR")]
    pub clean: Option<PathBuf>,
    /// Blocked files with their reasons (overrides `daemon.quarantine`).
    #[arg(long, value_name = "DIR")]
    pub quarantine: Option<PathBuf>,
    /// Originals of delivered files (overrides `daemon.originals`).
    #[arg(long, value_name = "DIR")]
    pub originals: Option<PathBuf>,
    /// Journal and work area (overrides `daemon.state`).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// The hash-chained audit log (overrides `daemon.audit`).
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
    /// Rebuild in this process instead of worker processes (tests, benches).
    #[arg(long, hide = true)]
    pub in_process: bool,
}

pub fn run(a: DaemonArgs) -> anyhow::Result<u8> {
    // The local offset can only be read while this is the only thread.
    mugai_audit::clock::init();
    let config = super::common::load_config(a.config.as_deref())?;
    super::common::init_logging(&config.log);
    tracing::info!(config = %super::common::config_source(), "configuration loaded");
    let options = Options {
        config,
        config_path: super::common::config_source().path().map(Into::into),
        overrides: DirOverrides {
            inbox: a.inbox,
            clean: a.clean,
            quarantine: a.quarantine,
            originals: a.originals,
            state: a.state,
            audit: a.audit,
        },
    };
    let (effective, _) = options.effective()?;
    let sanitizer: std::sync::Arc<dyn mugai_core::Sanitize> = if effective.cluster.daemon {
        // Files go to the cluster's workers; this node still journals,
        // places and audits them itself.
        let node = format!("daemon@{}", super::cluster::host_name());
        std::sync::Arc::new(mugai_cluster::ClusterSanitizer::connect(
            &effective.cluster,
            &node,
        )?)
    } else {
        super::common::sanitizer(&effective, effective.daemon.workers, a.in_process)?
    };
    Daemon::new(options, sanitizer).run()?;
    Ok(crate::exit::OK)
}
