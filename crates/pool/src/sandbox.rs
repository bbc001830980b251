//! Confinement of a worker process, applied by the worker to itself before
//! it reads its first byte of input.
//!
//! Layers, from the outside in:
//! 1. resource limits: no core files, no file of any size, few descriptors,
//!    a CPU-time budget for the worker's whole life (hard limit) and one for
//!    each file (soft limit, set as the file arrives);
//! 2. new user, network, IPC and mount namespaces (no network at all);
//! 3. `PR_SET_NO_NEW_PRIVS`;
//! 4. a Landlock ruleset that handles every filesystem and TCP right and
//!    grants none;
//! 5. a seccomp-BPF allow-list: reading and writing the pipes already
//!    open, memory, threads, signals, time, randomness, its own CPU
//!    limit, exit. Any other
//!    call kills the whole process (`SIGSYS`), which the parent reports as
//!    `worker.violation`.
//!
//! A layer the configuration marks required and the kernel refuses makes
//! [`confine`] fail, and the worker refuses to serve.

use mugai_core::config::{Requirement, SandboxConfig};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What the worker obtained, reported to the parent before serving.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layers {
    pub no_new_privs: bool,
    pub seccomp: bool,
    /// The namespaces entered (`user`, `net`, `ipc`, `mnt`).
    pub namespaces: Vec<String>,
    /// The Landlock ABI level enforced; 0 when Landlock is unavailable.
    pub landlock_abi: u32,
    /// `fully`, `partially` or `not` enforced.
    pub landlock: String,
    /// `RLIMIT_FSIZE` 0, `RLIMIT_NOFILE` and `RLIMIT_CPU` set.
    pub rlimits: bool,
}

impl fmt::Display for Layers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "on" } else { "off" };
        let ns = if self.namespaces.is_empty() {
            "none".to_string()
        } else {
            self.namespaces.join("+")
        };
        write!(
            f,
            "no_new_privs {}, seccomp {}, namespaces {ns}, landlock ABI {} ({} enforced), rlimits {}",
            yes(self.no_new_privs),
            yes(self.seccomp),
            self.landlock_abi,
            self.landlock,
            yes(self.rlimits)
        )
    }
}

/// A required layer that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub layer: &'static str,
    pub why: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the required sandbox layer `{}` is not available: {}",
            self.layer, self.why
        )
    }
}

/// Descriptors a worker may have: stdin, stdout, stderr.
const MAX_FDS: u64 = 3;

/// Confines the calling process. Must run while the process has a single
/// thread (a new user namespace requires it) and before any input is read.
pub fn confine(config: &SandboxConfig, cpu_secs: u64) -> Result<Layers, Refused> {
    let mut layers = Layers {
        rlimits: set_rlimits(cpu_secs).is_ok(),
        ..Layers::default()
    };

    layers.namespaces = enter_namespaces();
    if layers.namespaces.is_empty() {
        require(config.namespaces, "namespaces", "unshare(2) was refused")?;
    }

    match rustix::thread::set_no_new_privs(true) {
        Ok(()) => layers.no_new_privs = true,
        Err(e) => require(config.no_new_privs, "no_new_privs", &e.to_string())?,
    }

    match restrict_landlock() {
        Ok((abi, status)) => {
            layers.landlock_abi = abi;
            layers.landlock = status.to_string();
            if abi == 0 || status == "not" {
                require(
                    config.landlock,
                    "landlock",
                    "the kernel does not enforce it",
                )?;
            }
        }
        Err(e) => {
            layers.landlock = "not".into();
            require(config.landlock, "landlock", &e)?;
        }
    }

    match install_seccomp() {
        Ok(()) => layers.seccomp = true,
        Err(e) => require(config.seccomp, "seccomp", &e)?,
    }
    Ok(layers)
}

fn require(r: Requirement, layer: &'static str, why: &str) -> Result<(), Refused> {
    match r {
        Requirement::Required => Err(Refused {
            layer,
            why: why.to_string(),
        }),
        Requirement::BestEffort => Ok(()),
    }
}

fn set_rlimits(cpu_secs: u64) -> std::io::Result<()> {
    use rlimit::Resource;
    // Never ask for more than an inherited hard limit allows.
    let lower = |r: Resource, want: u64| -> std::io::Result<()> {
        let (_, hard) = rlimit::getrlimit(r)?;
        let v = want.min(hard);
        rlimit::setrlimit(r, v, v)
    };
    lower(Resource::CORE, 0)?;
    lower(Resource::FSIZE, 0)?;
    lower(Resource::NOFILE, MAX_FDS)?;
    // SIGXCPU at the soft limit, SIGKILL a second later. The hard limit is
    // the budget of the worker's whole life; each file then gets its own
    // soft limit (`limit_cpu_per_file`), which nothing in the worker can
    // raise above this.
    let (_, hard) = rlimit::getrlimit(Resource::CPU)?;
    let soft = cpu_secs.max(1).min(hard);
    rlimit::setrlimit(Resource::CPU, soft, soft.saturating_add(1).min(hard))
}

/// Gives the next file `secs` of CPU time (over all the worker's threads)
/// from now: the soft `RLIMIT_CPU` is set to the CPU time used so far plus
/// `secs`, within the hard limit set by `confine`. A file that spends more
/// is stopped by SIGXCPU, whatever the wall-clock deadline says.
pub fn limit_cpu_per_file(secs: u64) -> std::io::Result<()> {
    use rlimit::Resource;
    // (nix, not rustix: rustix would look up the vDSO through a `prctl`
    // the allow-list does not grant.)
    let used = nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)?;
    // Whole seconds used, rounded up, so the file never gets less than `secs`.
    let used = u64::try_from(used.tv_sec()).unwrap_or(0) + u64::from(used.tv_nsec() > 0);
    let (_, hard) = rlimit::getrlimit(Resource::CPU)?;
    let soft = used.saturating_add(secs.max(1)).min(hard);
    rlimit::setrlimit(Resource::CPU, soft, hard)
}

/// Enters every namespace the kernel allows; returns their names.
fn enter_namespaces() -> Vec<String> {
    use nix::sched::{unshare, CloneFlags};
    let mut got = Vec::new();
    // The user namespace first: it gives the rights to create the others
    // without privileges on the host.
    if unshare(CloneFlags::CLONE_NEWUSER).is_ok() {
        got.push("user".to_string());
    }
    for (flag, name) in [
        (CloneFlags::CLONE_NEWNET, "net"),
        (CloneFlags::CLONE_NEWIPC, "ipc"),
        (CloneFlags::CLONE_NEWNS, "mnt"),
    ] {
        if unshare(flag).is_ok() {
            got.push(name.to_string());
        }
    }
    got
}

/// A ruleset that handles every right the kernel knows and grants none.
/// Returns the ABI level and how fully it is enforced.
fn restrict_landlock() -> Result<(u32, &'static str), String> {
    use landlock::{
        Access, AccessFs, AccessNet, CompatLevel, Compatible, LandlockStatus, Ruleset, RulesetAttr,
        RulesetStatus, Scope, ABI,
    };
    let abi = ABI::V6;
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self())
        .map_err(|e| e.to_string())?;
    let level = match status.landlock {
        LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        } => kernel_abi.map_or(effective_abi as u32, |k| k.max(0) as u32),
        _ => 0,
    };
    let how = match status.ruleset {
        RulesetStatus::FullyEnforced => "fully",
        RulesetStatus::PartiallyEnforced => "partially",
        RulesetStatus::NotEnforced => "not",
    };
    Ok((level, how))
}

/// Installs the allow-list on every thread of the process.
fn install_seccomp() -> Result<(), String> {
    let arch: TargetArch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| format!("{e:?}"))?;
    let allow = allow_list().map_err(|e| e.to_string())?;
    let filter = SeccompFilter::new(
        allow,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    // `clone3` cannot be filtered by its flags (they are behind a
    // pointer), so it answers ENOSYS and the C library falls back to
    // `clone`, whose flags the allow-list checks. Stacked filters take the
    // strictest answer: ENOSYS here, allowed by the allow-list.
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    let clone3: BpfProgram = clone3
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    // The allow-list last: it does not allow `seccomp` itself.
    seccompiler::apply_filter_all_threads(&clone3).map_err(|e| e.to_string())?;
    seccompiler::apply_filter_all_threads(&program).map_err(|e| e.to_string())
}

type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// The system calls a worker may make, some only with given arguments.
fn allow_list() -> Result<Rules, seccompiler::BackendError> {
    use SeccompCmpArgLen::{Dword, Qword};
    use SeccompCmpOp::{Eq, MaskedEq};
    let arg = |i: u8, len, op, v: u64| SeccompCondition::new(i, len, op, v);
    let one = |c: SeccompCondition| SeccompRule::new(vec![c]);
    let fd_is = |fds: &[u64]| -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
        fds.iter().map(|&fd| one(arg(0, Dword, Eq, fd)?)).collect()
    };
    let no_exec = || arg(2, Dword, MaskedEq(libc::PROT_EXEC as u64), 0);
    // Anonymous memory only: a descriptor leaked from the parent cannot be
    // mapped and read or written through memory.
    let anonymous = || {
        arg(
            3,
            Dword,
            MaskedEq(libc::MAP_ANONYMOUS as u64),
            libc::MAP_ANONYMOUS as u64,
        )
    };
    let pid = u64::from(std::process::id());

    let mut r: Rules = BTreeMap::new();
    // The pipes: requests in on stdin, replies out on stdout, the reason
    // of a fatal error out on stderr. No call that opens anything.
    r.insert(libc::SYS_read, fd_is(&[0])?);
    r.insert(libc::SYS_write, fd_is(&[1, 2])?);
    r.insert(libc::SYS_writev, fd_is(&[1, 2])?);
    // Memory, never executable (W^X for anything the worker maps).
    r.insert(
        libc::SYS_mmap,
        vec![SeccompRule::new(vec![no_exec()?, anonymous()?])?],
    );
    r.insert(libc::SYS_mprotect, vec![one(no_exec()?)?]);
    // Threads: `clone` only with CLONE_THREAD (no new process).
    r.insert(
        libc::SYS_clone,
        vec![one(arg(
            0,
            Qword,
            MaskedEq(libc::CLONE_THREAD as u64),
            libc::CLONE_THREAD as u64,
        )?)?],
    );
    // Naming its own threads is the only `prctl`.
    r.insert(
        libc::SYS_prctl,
        vec![one(arg(0, Dword, Eq, libc::PR_SET_NAME as u64)?)?],
    );
    // The per-file CPU limit: its own `RLIMIT_CPU` only (pid 0 is itself).
    // Raising the hard limit needs a privilege the worker does not have.
    r.insert(
        libc::SYS_prlimit64,
        vec![SeccompRule::new(vec![
            arg(0, Dword, Eq, 0)?,
            arg(1, Dword, Eq, libc::RLIMIT_CPU as u64)?,
        ])?],
    );
    // `abort()` signals the worker itself, nobody else.
    r.insert(libc::SYS_tgkill, vec![one(arg(0, Dword, Eq, pid)?)?]);
    for call in [
        libc::SYS_close,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_brk,
        libc::SYS_madvise,
        libc::SYS_futex,
        libc::SYS_set_robust_list,
        libc::SYS_rseq,
        libc::SYS_sched_yield,
        libc::SYS_sched_getaffinity,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_rt_sigreturn,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigaction,
        libc::SYS_sigaltstack,
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        libc::SYS_gettimeofday,
        libc::SYS_getrandom,
        libc::SYS_exit,
        libc::SYS_exit_group,
        libc::SYS_clone3,
    ] {
        r.insert(call, Vec::new());
    }
    Ok(r)
}
