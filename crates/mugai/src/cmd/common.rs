//! Pieces shared by subcommands: finding and loading the configuration,
//! the pool.

use anyhow::Context as _;
use mugai_core::{Config, Sanitize};
use mugai_pool::{Pool, PoolConfig};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The system-wide configuration file, used when present and nothing else
/// is named.
pub const SYSTEM_CONFIG: &str = "/etc/mugai/mugai.toml";
/// The environment variable that names a configuration file.
pub const CONFIG_ENV: &str = "MUGAI_CONFIG";

/// Where the configuration in force came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Named on the command line.
    Argument(PathBuf),
    /// Named by `$MUGAI_CONFIG`.
    Environment(PathBuf),
    /// `/etc/mugai/mugai.toml`.
    System(PathBuf),
    /// The default compiled into the binary.
    Embedded,
}

impl ConfigSource {
    /// Finds the configuration: the argument, else `$MUGAI_CONFIG`, else
    /// `/etc/mugai/mugai.toml` if it exists, else the embedded default.
    pub fn find(argument: Option<&Path>) -> ConfigSource {
        Self::find_in(
            argument,
            std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()),
            Path::new(SYSTEM_CONFIG),
        )
    }

    fn find_in(
        argument: Option<&Path>,
        env: Option<std::ffi::OsString>,
        system: &Path,
    ) -> ConfigSource {
        if let Some(p) = argument {
            ConfigSource::Argument(p.to_path_buf())
        } else if let Some(p) = env {
            ConfigSource::Environment(PathBuf::from(p))
        } else if system.exists() {
            ConfigSource::System(system.to_path_buf())
        } else {
            ConfigSource::Embedded
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigSource::Argument(p) | ConfigSource::Environment(p) | ConfigSource::System(p) => {
                Some(p)
            }
            ConfigSource::Embedded => None,
        }
    }
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Argument(p) => write!(f, "{}", p.display()),
            ConfigSource::Environment(p) => write!(f, "{} (from ${CONFIG_ENV})", p.display()),
            ConfigSource::System(p) => write!(f, "{}", p.display()),
            ConfigSource::Embedded => f.write_str("embedded default configuration"),
        }
    }
}

static LOADED_FROM: OnceLock<ConfigSource> = OnceLock::new();

/// Loads the configuration found by [`ConfigSource::find`] and remembers
/// where it came from ([`config_source`]).
pub fn load_config(argument: Option<&Path>) -> anyhow::Result<Config> {
    let source = ConfigSource::find(argument);
    let config = match source.path() {
        Some(p) => Config::load(p)?,
        None => Config::embedded(),
    };
    let _ = LOADED_FROM.set(source);
    Ok(config)
}

/// Where the configuration loaded by [`load_config`] came from.
pub fn config_source() -> &'static ConfigSource {
    LOADED_FROM.get_or_init(|| ConfigSource::Embedded)
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

/// Files worked on at once: `workers` when given (non-zero), else one per
/// core (the pool's size when it is not given).
pub fn worker_count(workers: usize) -> usize {
    if workers > 0 {
        workers
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
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

/// Under systemd (Type=notify), for a network service: ready once
/// listening, the watchdog fed while the runtime serves; the signature
/// watcher runs. Call inside the runtime, after binding.
pub fn service_ready(av: mugai_core::config::AvPolicy) {
    use mugai_daemon::sdnotify;
    tokio::spawn(mugai_daemon::signatures::watch(move || av.clone(), |_| {}));
    sdnotify::notify("READY=1");
    if let Some(every) = sdnotify::watchdog_interval() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every / 2);
            loop {
                tick.tick().await;
                sdnotify::notify("WATCHDOG=1");
            }
        });
    }
}

/// The multi-threaded async runtime a network service runs on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_wins_then_the_environment_then_the_system_file() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("mugai.toml");
        let arg = Path::new("/x/a.toml");
        let env = Some(std::ffi::OsString::from("/x/env.toml"));
        assert_eq!(
            ConfigSource::find_in(Some(arg), env.clone(), &system),
            ConfigSource::Argument(arg.into())
        );
        assert_eq!(
            ConfigSource::find_in(None, env, &system),
            ConfigSource::Environment("/x/env.toml".into())
        );
        assert_eq!(
            ConfigSource::find_in(None, None, &system),
            ConfigSource::Embedded
        );
        std::fs::write(&system, "").unwrap();
        assert_eq!(
            ConfigSource::find_in(None, None, &system),
            ConfigSource::System(system.clone())
        );
    }
}
