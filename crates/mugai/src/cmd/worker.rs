//! `mugai __worker`: the worker process of the pool.

use clap::Args;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Address-space limit, MiB.
    #[arg(long)]
    memory_mib: u64,
}

pub fn run(a: WorkerArgs) -> anyhow::Result<u8> {
    mugai_pool::worker::serve(a.memory_mib)?;
    Ok(crate::exit::OK)
}
