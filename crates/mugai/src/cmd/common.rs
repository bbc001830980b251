//! Pieces shared by subcommands: loading the configuration, the pool.

use anyhow::Context as _;
use mugai_core::{Config, Sanitize};
use mugai_pool::{Pool, PoolConfig};
use std::path::Path;
use std::sync::Arc;

/// The configuration from `path`, or the embedded default.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::embedded()),
    }
}

/// Where files are sanitised: the worker-process pool, or (for tests and
/// benches) the calling process.
pub fn sanitizer(
    config: &Config,
    workers: usize,
    in_process: bool,
) -> anyhow::Result<Arc<dyn Sanitize>> {
    if in_process {
        return Ok(Arc::new(mugai_engine::InProcess));
    }
    let pool = pool(config, workers)?;
    // A host that cannot confine workers as the configuration requires
    // stops here, with one line, before any file is touched.
    let layers = pool
        .probe()
        .map_err(|e| anyhow::anyhow!("worker sandbox: {e}"))?;
    tracing::info!(%layers, "worker sandbox");
    Ok(Arc::new(pool))
}

/// The worker-process pool the configuration describes, not yet started.
pub fn pool(config: &Config, workers: usize) -> anyhow::Result<Pool> {
    let mut pc = PoolConfig::current_exe(config)
        .context("cannot find the mugai executable for worker processes")?;
    if workers > 0 {
        pc.size = workers;
    }
    Ok(Pool::new(pc))
}

/// Sets up tracing for the daemon and the relay alike, per `[log]`: plain
/// lines (journald adds the time) or one JSON object per line with the
/// same fields for both. `RUST_LOG`, when set, overrides `log.level`.
/// Colour only when stderr is a terminal (never under a service manager).
pub fn init_logging(log: &mugai_core::config::LogConfig) {
    use mugai_core::config::LogFormat;
    let level = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| log.level.clone());
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    // A second initialisation (tests calling run twice) is harmless.
    let _ = match log.format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
