//! `mugai relay`: the mail text-ization SMTP relay.

use crate::cmd::common;
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Configuration file (default: $MUGAI_CONFIG, else
    /// /etc/mugai/mugai.toml if it exists, else the embedded default).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address (default 127.0.0.1:10025).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// SMTP server receiving the converted mail.
    #[arg(long, value_name = "HOST:PORT")]
    pub next_hop: Option<String>,
    /// Internet-side Maildir for the originals.
    #[arg(long, value_name = "DIR")]
    pub originals: Option<PathBuf>,
    /// Folder of the relay's audit log.
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
    /// Worker processes (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Convert in this process instead of worker processes (tests, benches).
    #[arg(long, hide = true)]
    pub in_process: bool,
}

pub fn run(a: RelayArgs) -> anyhow::Result<u8> {
    // The local offset can only be read while this is the only thread.
    mugai_audit::clock::init();
    let mut config = common::load_config(a.config.as_deref())?;
    // Flags override the file.
    if let Some(l) = a.listen {
        config.relay.listen = l;
    }
    if let Some(h) = a.next_hop {
        config.relay.next_hop = h;
    }
    if let Some(o) = a.originals {
        config.relay.originals = Some(o);
    }
    if let Some(d) = a.audit {
        config.relay.audit = Some(d);
    }
    let mut errors = config.relay.validate();
    if config.relay.held.is_some() && config.console.public_url.is_none() {
        errors.push("`relay.held` needs `console.public_url` (the links' base)".into());
    }
    if !errors.is_empty() {
        anyhow::bail!("invalid relay settings: {}", errors.join("; "));
    }
    super::common::init_logging(&config.log);
    tracing::info!(config = %super::common::config_source(), "configuration loaded");
    let sanitizer = common::sanitizer(&config, a.workers, a.in_process)?;
    let rt = common::runtime()?;
    rt.block_on(async move {
        let mut relay =
            mugai_relay::Relay::bind(config.relay.clone(), config.policy.clone(), sanitizer)
                .await
                .with_context(|| format!("cannot start the relay on {}", config.relay.listen))?;
        if let Some(dir) = config.relay.held.clone() {
            relay = relay.hold_encrypted(mugai_relay::held::Hold {
                dir,
                public_url: config.console.public_url.clone().unwrap_or_default(),
                link_days: config.console.link_days,
                max_tries: config.console.link_max_tries,
            });
        }
        common::service_ready(config.policy.av.clone());
        use mugai_daemon::sdnotify;
        // Stopping mid-message is safe: nothing was answered 250 yet, so
        // the sending MTA still holds the message and retries.
        tokio::select! {
            r = relay.run() => r.context("relay stopped")?,
            _ = common::shutdown_signal() => {
                sdnotify::notify("STOPPING=1");
                tracing::info!("relay stopping")
            }
        }
        Ok(crate::exit::OK)
    })
}
