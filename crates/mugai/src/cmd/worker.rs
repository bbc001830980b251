//! `mugai __worker`: the worker process of the pool.

use anyhow::Context as _;
use clap::Args;
use mugai_core::config::SandboxConfig;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Address-space limit, MiB.
    #[arg(long)]
    memory_mib: u64,
    /// CPU seconds for the worker's whole life.
    #[arg(long)]
    cpu_secs: u64,
    /// The `[sandbox]` section, as JSON.
    #[arg(long)]
    sandbox: String,
}

pub fn run(a: WorkerArgs) -> anyhow::Result<u8> {
    let sandbox: SandboxConfig =
        serde_json::from_str(&a.sandbox).context("worker: bad --sandbox")?;
    mugai_pool::worker::serve(a.memory_mib, &sandbox, a.cpu_secs)?;
    Ok(crate::exit::OK)
}
