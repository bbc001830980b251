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
    let mut pc = PoolConfig::current_exe(config.policy.limits.worker_memory_mib)
        .context("cannot find the mugai executable for worker processes")?;
    if workers > 0 {
        pc.size = workers;
    }
    Ok(Arc::new(Pool::new(pc)))
}
