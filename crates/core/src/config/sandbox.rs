//! `[sandbox]`: the confinement of worker processes, and how long a worker
//! lives.

use serde::{Deserialize, Serialize};

/// Whether a worker may serve without a confinement layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// A worker that cannot apply the layer refuses to serve, and the
    /// command that started it stops with an error.
    Required,
    /// Applied when the kernel (or the service manager) allows it.
    BestEffort,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// `PR_SET_NO_NEW_PRIVS`: the worker can never gain privileges.
    pub no_new_privs: Requirement,
    /// The seccomp allow-list: any other system call kills the worker.
    pub seccomp: Requirement,
    /// New user, network, IPC and mount namespaces.
    pub namespaces: Requirement,
    /// A Landlock ruleset that grants no filesystem or TCP access.
    pub landlock: Requirement,
    /// Files one worker rebuilds before it is replaced, so that a file that
    /// subverts a worker cannot shape the outputs of many files after it.
    pub max_files_per_worker: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            no_new_privs: Requirement::Required,
            seccomp: Requirement::Required,
            namespaces: Requirement::BestEffort,
            landlock: Requirement::BestEffort,
            max_files_per_worker: 10,
        }
    }
}

impl SandboxConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut e = Vec::new();
        if !(1..=100_000).contains(&self.max_files_per_worker) {
            e.push("`sandbox.max_files_per_worker`: must be from 1 to 100000".into());
        }
        if self.seccomp == Requirement::Required && self.no_new_privs != Requirement::Required {
            // An unprivileged process can install a seccomp filter only
            // with no-new-privileges set.
            e.push("`sandbox.no_new_privs`: must be `required` when `sandbox.seccomp` is".into());
        }
        e
    }
}
