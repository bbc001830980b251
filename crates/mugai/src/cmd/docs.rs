//! `mugai completions SHELL` and the hidden `mugai __man DIR`: shell
//! completions and man pages generated from the command's own definition
//! and from the documented default configuration, so they cannot drift.

use anyhow::Context as _;
use clap::{Args, CommandFactory, ValueEnum};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Folder to write mugai.1, mugai-SUBCOMMAND.1 and mugai.toml.5 into.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub fn completions(a: CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = crate::Cli::command();
    let shell = match a.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "mugai", &mut std::io::stdout());
    Ok(crate::exit::OK)
}

pub fn man(a: ManArgs) -> anyhow::Result<u8> {
    let written = write_man_pages(&a.dir)?;
    for p in &written {
        println!("{}", p.display());
    }
    Ok(crate::exit::OK)
}

/// Writes every man page into `dir`; returns their paths.
pub fn write_man_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut cmd = crate::Cli::command();
    cmd.build();
    let mut written = Vec::new();
    command_pages(dir, &cmd, "mugai", &mut written)?;
    let page =
        crate::config_page::render(mugai_core::config::EMBEDDED_TOML, env!("CARGO_PKG_VERSION"));
    let path = dir.join("mugai.toml.5");
    fs::write(&path, page).with_context(|| format!("{}: cannot write", path.display()))?;
    written.push(path);
    Ok(written)
}

/// `mugai.1`, then `mugai-sanitize.1`, `mugai-audit-verify.1`, … for every
/// visible subcommand.
fn command_pages(
    dir: &Path,
    cmd: &clap::Command,
    name: &str,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let page_cmd = cmd
        .clone()
        .name(name.to_string())
        .bin_name(name.replace('-', " "));
    let mut buf = Vec::new();
    clap_mangen::Man::new(page_cmd)
        .title(name.to_uppercase())
        .section("1")
        .source(format!("mugai {}", env!("CARGO_PKG_VERSION")))
        .manual("mugai manual")
        .render(&mut buf)?;
    let path = dir.join(format!("{name}.1"));
    fs::write(&path, buf).with_context(|| format!("{}: cannot write", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        command_pages(dir, sub, &format!("{name}-{}", sub.get_name()), written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_for_every_visible_subcommand_and_the_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_man_pages(dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "mugai.1",
            "mugai-sanitize.1",
            "mugai-inspect.1",
            "mugai-daemon.1",
            "mugai-relay.1",
            "mugai-check-config.1",
            "mugai-audit-verify.1",
            "mugai-completions.1",
            "mugai.toml.5",
        ] {
            assert!(names.iter().any(|n| n == want), "no {want} in {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("__")), "{names:?}");
        let sanitize = fs::read_to_string(dir.path().join("mugai-sanitize.1")).unwrap();
        assert!(sanitize.contains("quarantine"), "{sanitize}");
    }
}
