//! `mugai serve`: the REST API.

use crate::cmd::common;
use anyhow::Context as _;
use clap::Args;
use std::io::BufRead as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (default: $MUGAI_CONFIG, else
    /// /etc/mugai/mugai.toml if it exists, else the embedded default).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address (overrides `serve.listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Folder of the jobs' results (overrides `serve.results`).
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// Folder of the API's audit log (overrides `serve.audit`).
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
    /// Worker processes (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub workers: usize,
    /// Read a token on stdin and print its `[serve]` entry under NAME
    /// (the SHA-256 only), then exit.
    #[arg(long, value_name = "NAME")]
    pub hash_token: Option<String>,
    /// Rebuild in this process instead of worker processes (tests, benches).
    #[arg(long, hide = true)]
    pub in_process: bool,
}

pub fn run(a: ServeArgs) -> anyhow::Result<u8> {
    if let Some(name) = a.hash_token {
        return hash_token(&name);
    }
    // The local offset can only be read while this is the only thread.
    mugai_audit::clock::init();
    let mut config = common::load_config(a.config.as_deref())?;
    if let Some(l) = a.listen {
        config.serve.listen = l;
    }
    if let Some(r) = a.results {
        config.serve.results = Some(r);
    }
    if let Some(d) = a.audit {
        config.serve.audit = Some(d);
    }
    let errors = config.serve.validate();
    if !errors.is_empty() {
        anyhow::bail!("invalid serve settings: {}", errors.join("; "));
    }
    common::init_logging(&config.log);
    tracing::info!(config = %common::config_source(), "configuration loaded");
    let workers = common::worker_count(a.workers);
    let max_jobs = match config.serve.max_jobs {
        0 => workers,
        n => n,
    };
    let sanitizer: std::sync::Arc<dyn mugai_core::Sanitize> = if config.cluster.serve {
        // Files go to the cluster's workers; the API still keeps, places
        // and audits its results itself.
        let node = format!("serve@{}", super::cluster::host_name());
        std::sync::Arc::new(mugai_cluster::ClusterSanitizer::connect(
            &config.cluster,
            &node,
        )?)
    } else {
        common::sanitizer(&config, a.workers, a.in_process)?
    };
    let listen = config.serve.listen.clone();
    let api = mugai_api::Api::open(mugai_api::Options {
        config: config.serve.clone(),
        policy: config.policy.clone(),
        sanitizer,
        max_jobs,
        version: crate::VERSION.to_string(),
    })?;
    let rt = common::runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        tracing::info!(listen = %listen, max_jobs, "REST API listening");
        common::service_ready(config.policy.av.clone());
        use mugai_daemon::sdnotify;
        api.run(listener, async {
            common::shutdown_signal().await;
            sdnotify::notify("STOPPING=1");
            tracing::info!("REST API stopping");
        })
        .await
        .context("REST API stopped")?;
        Ok(crate::exit::OK)
    })
}

/// Reads one token on stdin; prints the inline table for `serve.tokens`.
fn hash_token(name: &str) -> anyhow::Result<u8> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the token on stdin")?;
    let token = line.trim_end_matches(['\r', '\n']);
    if token.is_empty() {
        anyhow::bail!("no token on stdin");
    }
    let entry = mugai_core::config::ApiToken {
        name: name.to_string(),
        sha256: mugai_api::auth::hash_token(token),
    };
    let check = mugai_core::config::ServeConfig {
        tokens: vec![entry.clone()],
        ..Default::default()
    };
    if let Some(e) = check.validate().into_iter().next() {
        anyhow::bail!("{e}");
    }
    println!(
        "{{ name = \"{}\", sha256 = \"{}\" }}",
        entry.name, entry.sha256
    );
    Ok(crate::exit::OK)
}
