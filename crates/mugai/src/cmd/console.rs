//! `mugai console` (the web console) and `mugai user` (its accounts).

use crate::cmd::common;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use mugai_console::users::{Role, Users};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Configuration file (default: $MUGAI_CONFIG, else
    /// /etc/mugai/mugai.toml if it exists, else the embedded default).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address (overrides `console.listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The accounts file (overrides `console.users`).
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// The daemon's quarantine (overrides `daemon.quarantine`).
    #[arg(long, value_name = "DIR")]
    pub quarantine: Option<PathBuf>,
    /// The relay's held mail parts (overrides `relay.held`).
    #[arg(long, value_name = "DIR")]
    pub mail_held: Option<PathBuf>,
    /// The daemon's clean folder, where releases go (overrides `daemon.clean`).
    #[arg(long, value_name = "DIR")]
    pub clean: Option<PathBuf>,
    /// Release requests (overrides `console.state`).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// The console's audit log folder (overrides `console.audit`).
    #[arg(long, value_name = "DIR")]
    pub audit: Option<PathBuf>,
    /// Worker processes for releases (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
}

fn need(p: Option<PathBuf>, key: &str, flag: &str) -> anyhow::Result<PathBuf> {
    p.with_context(|| format!("`{key}` is not set (or give --{flag})"))
}

pub fn run(a: ConsoleArgs) -> anyhow::Result<u8> {
    mugai_audit::clock::init();
    let mut config = common::load_config(a.config.as_deref())?;
    if let Some(l) = a.listen {
        config.console.listen = l;
    }
    let errors = config.console.validate();
    if !errors.is_empty() {
        anyhow::bail!("invalid console settings: {}", errors.join("; "));
    }
    common::init_logging(&config.log);
    tracing::info!(config = %common::config_source(), "configuration loaded");
    let listen = config.console.listen.parse().context("console.listen")?;
    let users = need(
        a.users.or(config.console.users.clone()),
        "console.users",
        "users",
    )?;
    let quarantine = need(
        a.quarantine.or(config.daemon.quarantine.clone()),
        "daemon.quarantine",
        "quarantine",
    )?;
    let clean = need(
        a.clean.or(config.daemon.clean.clone()),
        "daemon.clean",
        "clean",
    )?;
    let state = need(
        a.state.or(config.console.state.clone()),
        "console.state",
        "state",
    )?;
    let audit = need(
        a.audit.or(config.console.audit.clone()),
        "console.audit",
        "audit",
    )?;
    if Users::load(&users)?.users.is_empty() {
        tracing::warn!(users = %users.display(), "no accounts yet: add one with `mugai user add`");
    }
    let sanitizer = common::sanitizer(&config, a.workers, false)?;
    let mail_held = a.mail_held.or(config.relay.held.clone());
    let options = mugai_console::Options {
        config: Arc::new(config),
        listen,
        users,
        quarantine,
        mail_held,
        clean,
        state,
        audit,
        sanitizer,
    };
    let rt = common::runtime()?;
    rt.block_on(mugai_console::serve(options))?;
    Ok(crate::exit::OK)
}

#[derive(Debug, Args)]
pub struct UserArgs {
    /// Configuration file naming the accounts file (`console.users`).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// The accounts file (overrides `console.users`).
    #[arg(long, value_name = "FILE", global = true)]
    pub users: Option<PathBuf>,
    #[command(subcommand)]
    pub action: UserAction,
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Add an account.
    Add {
        /// Account name (letters, digits, `.`, `_`, `-`).
        name: String,
        /// operator (views, requests releases), approver (approves or
        /// rejects), auditor (read-only, audit log).
        #[arg(long, value_parser = ["operator", "approver", "auditor"])]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Set an account's password (read from standard input).
    Passwd {
        /// Account name.
        name: String,
    },
    /// Disable an account (it can no longer log in).
    Disable {
        /// Account name.
        name: String,
    },
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn users_path(a: &UserArgs) -> anyhow::Result<PathBuf> {
    if let Some(p) = &a.users {
        return Ok(p.clone());
    }
    let config = common::load_config(a.config.as_deref())?;
    need(config.console.users, "console.users", "users")
}

pub fn user(a: UserArgs) -> anyhow::Result<u8> {
    let path = users_path(&a)?;
    let mut users = Users::load(&path)?;
    let done = |path: &Path, what: String| {
        println!("{what} ({})", path.display());
    };
    match a.action {
        UserAction::Add { name, role, .. } => {
            let role = Role::parse(&role).context("unknown role")?;
            let pw = read_password()?;
            users.add(&name, role, &pw)?;
            users.save(&path)?;
            done(&path, format!("added {name} as {}", role.as_str()));
        }
        UserAction::Passwd { name } => {
            let pw = read_password()?;
            users.passwd(&name, &pw)?;
            users.save(&path)?;
            done(&path, format!("password of {name} changed"));
        }
        UserAction::Disable { name } => {
            users.disable(&name)?;
            users.save(&path)?;
            done(&path, format!("disabled {name}"));
        }
    }
    Ok(crate::exit::OK)
}
