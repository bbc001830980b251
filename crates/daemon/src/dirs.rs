//! The daemon's directories.

use mugai_core::config::DaemonConfig;
use std::path::{Path, PathBuf};

/// Directories given on the command line, overriding the configuration.
#[derive(Debug, Clone, Default)]
pub struct DirOverrides {
    pub inbox: Option<PathBuf>,
    pub clean: Option<PathBuf>,
    pub quarantine: Option<PathBuf>,
    pub originals: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub audit: Option<PathBuf>,
}

impl DirOverrides {
    /// Writes the overrides into a configuration's `[daemon]` section.
    pub fn apply(&self, d: &mut DaemonConfig) {
        let pairs = [
            (&self.inbox, &mut d.inbox),
            (&self.clean, &mut d.clean),
            (&self.quarantine, &mut d.quarantine),
            (&self.originals, &mut d.originals),
            (&self.state, &mut d.state),
            (&self.audit, &mut d.audit),
        ];
        for (over, slot) in pairs {
            if let Some(p) = over {
                *slot = Some(p.clone());
            }
        }
    }
}

/// All six directories, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    pub inbox: PathBuf,
    pub clean: PathBuf,
    pub quarantine: PathBuf,
    pub originals: PathBuf,
    pub state: PathBuf,
    pub audit: PathBuf,
}

impl Dirs {
    /// Takes the directories from `[daemon]`; every missing one is named.
    pub fn from_config(d: &DaemonConfig) -> Result<Dirs, String> {
        let mut missing = Vec::new();
        let mut get = |name: &str, p: &Option<PathBuf>| match p {
            Some(p) => p.clone(),
            None => {
                missing.push(format!("`daemon.{name}` (--{name})"));
                PathBuf::new()
            }
        };
        let dirs = Dirs {
            inbox: get("inbox", &d.inbox),
            clean: get("clean", &d.clean),
            quarantine: get("quarantine", &d.quarantine),
            originals: get("originals", &d.originals),
            state: get("state", &d.state),
            audit: get("audit", &d.audit),
        };
        if missing.is_empty() {
            Ok(dirs)
        } else {
            Err(format!("directories not set: {}", missing.join(", ")))
        }
    }

    /// Creates every directory and makes the paths absolute.
    pub fn create(&mut self) -> std::io::Result<()> {
        for p in [
            &mut self.inbox,
            &mut self.clean,
            &mut self.quarantine,
            &mut self.originals,
            &mut self.state,
            &mut self.audit,
        ] {
            std::fs::create_dir_all(&*p)?;
            *p = p.canonicalize()?;
        }
        std::fs::create_dir_all(self.work())?;
        Ok(())
    }

    /// Where claimed inputs wait while their job runs.
    pub fn work(&self) -> PathBuf {
        self.state.join("work")
    }

    pub fn journal(&self) -> PathBuf {
        self.state.join("journal.jsonl")
    }

    pub fn lock(&self) -> PathBuf {
        self.state.join("lock")
    }

    pub fn job_dir(&self, id: &str) -> PathBuf {
        self.work().join(id)
    }

    /// A path relative to one of the roots, for logs and records.
    pub fn show(root: &Path, p: &Path) -> String {
        p.strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    }
}
