//! The `mugai` command: a thin shell over the library crates. Errors are
//! mapped to exit codes here: 0 clean or sanitised, 1 something blocked
//! (or, for `inspect`, found), 2 usage, configuration or I/O error.

mod cmd;
mod config_page;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The version and the commit it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("MUGAI_COMMIT"), ")");

/// mugai (無害): a file-sanitisation (無害化) gateway.
#[derive(Debug, Parser)]
#[command(name = "mugai", version = VERSION, about, propagate_version = true)]
#[command(long_about = "mugai (無害): a file-sanitisation (無害化) gateway.\n\n\
        Every file is rebuilt from what its format allows (content disarm and \
        reconstruction); anything not understood is blocked with a reason. \
        The configuration is the file given with --config/--policy, else \
        $MUGAI_CONFIG, else /etc/mugai/mugai.toml if it exists, else the \
        embedded default (see mugai.toml(5)).")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sanitise files and directories into --out.
    #[command(after_help = SANITIZE_EXAMPLES)]
    Sanitize(cmd::sanitize::SanitizeArgs),
    /// Check files for danger factors without writing anything.
    Inspect(cmd::sanitize::InspectArgs),
    /// Run the transfer-share daemon.
    Daemon(cmd::daemon::DaemonArgs),
    /// Run the mail text-ization SMTP relay.
    Relay(cmd::relay::RelayArgs),
    /// Run the ICAP server (icap://ADDR/mugai) for web proxies.
    Icap(cmd::icap::IcapArgs),
    /// Run the REST API (sanitise files over HTTP).
    Serve(cmd::serve::ServeArgs),
    /// Verify or summarise audit logs.
    Audit(cmd::audit::AuditArgs),
    /// Run the web console: review held files, release with approval.
    Console(cmd::console::ConsoleArgs),
    /// Manage the console's accounts.
    User(cmd::console::UserArgs),
    /// Cluster nodes on NATS JetStream: `worker` and `submit`.
    Cluster(cmd::cluster::ClusterArgs),
    /// Validate a configuration file (and test the scanner connection).
    CheckConfig(cmd::check_config::CheckConfigArgs),
    /// Print a shell completion script (bash, zsh, fish) on stdout.
    Completions(cmd::docs::CompletionsArgs),
    /// Write the man pages into a folder (packaging).
    #[command(name = "__man", hide = true)]
    Man(cmd::docs::ManArgs),
    /// Worker mode: serves rebuild requests on stdin/stdout.
    #[command(name = "__worker", hide = true)]
    Worker(cmd::worker::WorkerArgs),
}

const SANITIZE_EXAMPLES: &str = "\
Examples:
  mugai sanitize --out /srv/clean 受信/申請書.docx
      rebuild one file into /srv/clean
  mugai sanitize --json --quarantine /srv/q --out /srv/clean inbox/
      a whole folder; one JSON line per file; blocked files copied to /srv/q
  mugai sanitize --clamd /run/clamav/clamd.ctl --out out a.pdf
      also scan with clamd (fails closed when clamd is down)

Exit status: 0 all clean or sanitised, 1 something blocked, 2 usage or I/O error.";

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
            eprintln!("mugai: {}", usage_error_line(&e.render().to_string()));
            return ExitCode::from(exit::ERROR);
        }
    };
    let result = match cli.command {
        Command::Sanitize(a) => cmd::sanitize::run_sanitize(a),
        Command::Inspect(a) => cmd::sanitize::run_inspect(a),
        Command::Daemon(a) => cmd::daemon::run(a),
        Command::Relay(a) => cmd::relay::run(a),
        Command::Icap(a) => cmd::icap::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Console(a) => cmd::console::run(a),
        Command::User(a) => cmd::console::user(a),
        Command::Cluster(a) => cmd::cluster::run(a),
        Command::CheckConfig(a) => cmd::check_config::run(a),
        Command::Completions(a) => cmd::docs::completions(a),
        Command::Man(a) => cmd::docs::man(a),
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

/// One line from clap's error text: the cause, the arguments it names and
/// any "similar argument" tip, without the usage block.
fn usage_error_line(text: &str) -> String {
    let parts: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(|l| l.trim().trim_start_matches("error: "))
        .filter(|l| !l.is_empty())
        .collect();
    if parts.is_empty() {
        "invalid arguments".to_string()
    } else {
        one_line(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_visible_argument_has_help() {
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in c.get_arguments() {
                if !a.is_hide_set() && a.get_help().is_none() && a.get_id() != "help" {
                    missing.push(format!("{path} {}", a.get_id()));
                }
            }
            for s in c.get_subcommands().filter(|s| !s.is_hide_set()) {
                walk(s, &format!("{path} {}", s.get_name()), missing);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&cmd, "mugai", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    #[test]
    fn a_mistyped_option_names_the_right_one_on_one_line() {
        let e = Cli::try_parse_from(["mugai", "sanitize", "--quarantin", "q", "--out", "o", "a"])
            .unwrap_err();
        let line = usage_error_line(&e.render().to_string());
        assert!(line.contains("'--quarantine'"), "{line}");
        assert!(!line.contains('\n'));
        let e = Cli::try_parse_from(["mugai", "sanitize", "a"]).unwrap_err();
        let line = usage_error_line(&e.render().to_string());
        assert!(line.contains("--out <DIR>"), "{line}");
    }
}
