//! `mugai icap`: the ICAP server (RFC 3507) for web proxies.

use crate::cmd::common;
use anyhow::Context as _;
use clap::Args;
use mugai_core::config::AvPolicy;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct IcapArgs {
    /// Configuration file (default: $MUGAI_CONFIG, else
    /// /etc/mugai/mugai.toml if it exists, else the embedded default).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address (default 127.0.0.1:1344); the service is
    /// icap://ADDR/mugai.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Folder of the ICAP audit log.
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
    /// Worker processes (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Sanitise in this process instead of worker processes (tests, benches).
    #[arg(long, hide = true)]
    pub in_process: bool,
}

/// How often the signature version is asked of clamd (it feeds the ISTag).
const SIGNATURE_CHECK: Duration = Duration::from_secs(600);

pub fn run(a: IcapArgs) -> anyhow::Result<u8> {
    // The local offset can only be read while this is the only thread.
    mugai_audit::clock::init();
    let mut config = common::load_config(a.config.as_deref())?;
    if let Some(l) = a.listen {
        config.icap.listen = l;
    }
    if let Some(d) = a.audit {
        config.icap.audit = Some(d);
    }
    let errors = config.icap.validate();
    if !errors.is_empty() {
        anyhow::bail!("invalid icap settings: {}", errors.join("; "));
    }
    common::init_logging(&config.log);
    tracing::info!(config = %common::config_source(), "configuration loaded");
    if config.icap.audit.is_none() {
        tracing::warn!("icap.audit is not set: decisions are logged but not audited");
    }
    let sanitizer = common::sanitizer(&config, a.workers, a.in_process)?;
    let jobs = common::worker_count(a.workers);
    // The ISTag changes with everything that decides an answer: the policy
    // and the ICAP settings, the engine, the signatures.
    let config_text = serde_json::to_string(&(&config.policy, &config.icap))
        .context("cannot serialise the configuration")?;
    let av = config.policy.av.clone();
    let settings = mugai_icap::Settings {
        config: config.icap.clone(),
        policy: std::sync::Arc::new(config.policy.clone()),
        engine_version: crate::VERSION.to_string(),
        config_text,
        jobs,
        signatures: signature_version(&av),
    };
    let rt = common::runtime()?;
    rt.block_on(async move {
        let server = mugai_icap::Server::bind(settings, sanitizer)
            .await
            .with_context(|| format!("cannot start the ICAP server on {}", config.icap.listen))?;
        tracing::info!(listen = %server.local_addr()?, service = "/mugai", "ICAP server ready");
        let istag = server.istag();
        let check_av = av.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SIGNATURE_CHECK).await;
                let av = check_av.clone();
                if let Ok(v) = tokio::task::spawn_blocking(move || signature_version(&av)).await {
                    if istag.set_signatures(&v) {
                        tracing::info!(signatures = %v, istag = %istag.value(), "ISTag changed");
                    }
                }
            }
        });
        common::service_ready(av);
        use mugai_daemon::sdnotify;
        // Stopping mid-request is safe: the proxy sees the connection end
        // and, with bypass off, serves an error rather than the body.
        tokio::select! {
            r = server.run() => r.context("ICAP server stopped")?,
            _ = common::shutdown_signal() => {
                sdnotify::notify("STOPPING=1");
                tracing::info!("ICAP server stopping")
            }
        }
        Ok(crate::exit::OK)
    })
}

/// The signature database version clamd reports, for the ISTag.
fn signature_version(av: &AvPolicy) -> String {
    let Some(clamd) = mugai_clamd::from_policy(av) else {
        return "no-scanner".into();
    };
    match mugai_clamd::signatures::check(&clamd) {
        Ok(mugai_clamd::Signatures::Dated { version, .. })
        | Ok(mugai_clamd::Signatures::Undated { version }) => version,
        Ok(mugai_clamd::Signatures::Missing) => "none".into(),
        Err(_) => "unavailable".into(),
    }
}
