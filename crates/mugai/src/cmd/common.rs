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
