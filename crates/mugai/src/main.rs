//! The `mugai` command: a thin shell over the library crates. Errors are
//! mapped to exit codes here: 0 clean or sanitised, 1 something blocked
//! (or, for `inspect`, found), 2 usage, configuration or I/O error.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mugai (無害): a file-sanitisation (無害化) gateway.
#[derive(Debug, Parser)]
#[command(name = "mugai", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sanitise files and directories into --out.
    Sanitize(cmd::sanitize::SanitizeArgs),
    /// Check files for danger factors without writing anything.
    Inspect(cmd::sanitize::InspectArgs),
    /// Run the transfer-share daemon.
    Daemon(cmd::daemon::DaemonArgs),
    /// Run the mail text-ization SMTP relay.
    Relay(cmd::relay::RelayArgs),
    /// Verify or summarise audit logs.
    Audit(cmd::audit::AuditArgs),
    /// Validate a configuration file (and test the scanner connection).
    CheckConfig(cmd::check_config::CheckConfigArgs),
    /// Worker mode: serves rebuild requests on stdin/stdout.
    #[command(name = "__worker", hide = true)]
    Worker(cmd::worker::WorkerArgs),
}

/// Exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const BLOCKED: u8 = 1;
    pub const ERROR: u8 = 2;
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::from(
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        exit::ERROR
                    } else {
                        exit::OK
                    },
                );
            }
            // One line: the cause, without the usage block.
            let text = e.render().to_string();
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            eprintln!("mugai: {}", line.trim_start_matches("error: "));
            return ExitCode::from(exit::ERROR);
        }
    };
    let result = match cli.command {
        Command::Sanitize(a) => cmd::sanitize::run_sanitize(a),
        Command::Inspect(a) => cmd::sanitize::run_inspect(a),
        Command::Daemon(a) => cmd::daemon::run(a),
        Command::Relay(a) => cmd::relay::run(a),
        Command::Audit(a) => cmd::audit::run(a),
        Command::CheckConfig(a) => cmd::check_config::run(a),
        Command::Worker(a) => cmd::worker::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mugai: {}", one_line(&format!("{e:#}")));
            ExitCode::from(exit::ERROR)
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
