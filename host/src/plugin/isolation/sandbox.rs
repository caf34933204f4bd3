//! The worker's sandbox (worker side), after glycin's sandboxed loaders:
//! a plugin in a worker can open nothing but what the host passes it,
//! create no file outside its scratch folder, reach no network, start no
//! program and no process, signal no other process, and not raise its
//! memory cap.
//!
//! Two layers, both applied by the worker to itself:
//!
//! - **seccomp** (for every thread, before the plugin is loaded): `execve`,
//!   `fork`, a `clone` without `CLONE_THREAD`, sockets (`socket`,
//!   `connect`, `bind`, ...), `ptrace`, signals to other processes,
//!   `setrlimit`, `setsid`/`setpgid` (leaving the group the host ends),
//!   mounts, namespaces, modules and `io_uring` fail with `EPERM`
//!   (`clone3` with `ENOSYS`, so the C library makes threads with `clone`);
//! - **Landlock** in two steps: while the plugin loads, it may read (and
//!   map) the system's library folders, the plugin's own folder and the
//!   folders of `LD_LIBRARY_PATH`; once loaded, nothing but its scratch
//!   folder (the host's `TMPDIR` for it, removed when it ends) and
//!   `/dev/null`. TCP binds and connects, abstract Unix sockets and
//!   signals out of the sandbox are denied where the kernel's Landlock
//!   knows them.
//!
//! A kernel without Landlock or seccomp runs the worker with what it has
//! and says so in the log (isolation against crashes and hangs holds
//! either way). `IMAGEIO_SANDBOX=off` turns the sandbox off (for debugging
//! a plugin that needs a file).

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    Scope, path_beneath_rules,
};
use seccompiler::{
    SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition as Cond, SeccompFilter, SeccompRule,
    TargetArch,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The Landlock ABI this code is written for (newer kernels enforce it;
/// older ones what they know).
const LANDLOCK: ABI = ABI::V6;

/// The sandbox between its two steps: the scratch folder, kept for the
/// narrowing after the plugin has loaded.
pub(crate) struct Confinement {
    scratch: Option<PathBuf>,
}

/// The first step, before the plugin is loaded: the system call filter for
/// the whole process, and the file system narrowed to libraries, the
/// plugin's folder and the scratch folder.
pub(crate) fn before_load(plugin: Option<&Path>) -> Result<Confinement, String> {
    let scratch = std::env::var_os("TMPDIR").map(PathBuf::from).filter(|p| p.is_dir());
    filter_system_calls()?;
    let mut readable: Vec<PathBuf> = [
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/usr/lib",
        "/usr/lib32",
        "/usr/lib64",
        "/usr/libx32",
        "/usr/local/lib",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/ld.so.preload",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(dir) = plugin.and_then(Path::parent) {
        readable.push(dir.to_owned());
    }
    if let Some(paths) = std::env::var_os("LD_LIBRARY_PATH") {
        readable.extend(std::env::split_paths(&paths).filter(|p| p.is_absolute()));
    }
    readable.retain(|p| p.exists());
    let writable: Vec<PathBuf> = scratch.iter().cloned().chain([PathBuf::from("/dev/null")]).collect();
    restrict(&readable, &writable, "while loading")?;
    Ok(Confinement { scratch })
}

/// The second step, once the plugin is loaded: nothing but the scratch
/// folder and `/dev/null`.
pub(crate) fn after_load(c: Confinement) -> Result<(), String> {
    let writable: Vec<PathBuf> = c.scratch.into_iter().chain([PathBuf::from("/dev/null")]).collect();
    restrict(&[], &writable, "after loading")
}

/// One Landlock layer: every file system access handled, `readable` read
/// (and mapped executable), `writable` fully usable; TCP, abstract
/// sockets and signals out of the sandbox denied.
fn restrict(readable: &[PathBuf], writable: &[PathBuf], when: &str) -> Result<(), String> {
    let read = AccessFs::from_read(LANDLOCK);
    let all = AccessFs::from_all(LANDLOCK);
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .and_then(|r| r.handle_access(AccessNet::from_all(LANDLOCK)))
        .and_then(|r| r.scope(Scope::from_all(LANDLOCK)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(readable, read)))
        .and_then(|r| r.add_rules(path_beneath_rules(writable, all)))
        .and_then(|r| r.restrict_self())
        .map_err(|e| format!("Landlock {when}: {e}"))?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => {}
        RulesetStatus::PartiallyEnforced => {
            log::debug!("the worker's Landlock sandbox is partly enforced by this kernel ({when})")
        }
        RulesetStatus::NotEnforced => {
            log::warn!(
                "this kernel has no Landlock: the plugin's worker can read and write files \
                 (isolation against crashes and hangs holds)"
            )
        }
    }
    Ok(())
}

/// The system call filter, for every thread of the process.
fn filter_system_calls() -> Result<(), String> {
    let arch = if cfg!(target_arch = "x86_64") {
        TargetArch::x86_64
    } else if cfg!(target_arch = "aarch64") {
        TargetArch::aarch64
    } else {
        log::warn!("no system call filter for this architecture: the plugin's worker is not filtered");
        return Ok(());
    };
    let err = |e: seccompiler::BackendError| format!("seccomp: {e}");
    let cond = |arg: u8, len: Len, op: Op, v: u64| Cond::new(arg, len, op, v).map_err(err);
    let pid = std::process::id() as u64;
    let mut denied: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    // Denied outright (an empty rule list matches every call).
    for nr in always_denied() {
        denied.insert(nr, Vec::new());
    }
    // A new process: clone without CLONE_THREAD (threads are fine).
    denied.insert(
        libc::SYS_clone,
        vec![SeccompRule::new(vec![cond(0, Len::Qword, Op::MaskedEq(libc::CLONE_THREAD as u64), 0)?]).map_err(err)?],
    );
    // Signals: only to this process (or its own group, 0).
    denied.insert(
        libc::SYS_kill,
        vec![
            SeccompRule::new(vec![
                cond(0, Len::Dword, Op::Ne, 0)?,
                cond(0, Len::Dword, Op::Ne, pid)?,
                cond(0, Len::Dword, Op::Ne, (-(pid as i64)) as u32 as u64)?,
            ])
            .map_err(err)?,
        ],
    );
    denied.insert(
        libc::SYS_tgkill,
        vec![SeccompRule::new(vec![cond(0, Len::Dword, Op::Ne, pid)?]).map_err(err)?],
    );
    // Limits may be read, not changed (the memory cap holds).
    denied.insert(
        libc::SYS_prlimit64,
        vec![SeccompRule::new(vec![cond(2, Len::Qword, Op::Ne, 0)?]).map_err(err)?],
    );
    let deny = SeccompFilter::new(
        denied,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(err)?;
    let program: seccompiler::BpfProgram = deny.try_into().map_err(err)?;
    seccompiler::apply_filter_all_threads(&program).map_err(|e| format!("seccomp: {e}"))?;
    // clone3 answers "not implemented", so the C library makes its threads
    // with clone (whose flags the first filter can see).
    let mut clone3: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    clone3.insert(libc::SYS_clone3, Vec::new());
    let no_clone3 = SeccompFilter::new(
        clone3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(err)?;
    let program: seccompiler::BpfProgram = no_clone3.try_into().map_err(err)?;
    seccompiler::apply_filter_all_threads(&program).map_err(|e| format!("seccomp: {e}"))?;
    Ok(())
}

/// The system calls a plugin never needs.
fn always_denied() -> Vec<i64> {
    let mut v = vec![
        libc::SYS_execve,
        libc::SYS_execveat,
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_connect,
        libc::SYS_bind,
        libc::SYS_listen,
        libc::SYS_accept,
        libc::SYS_accept4,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_pidfd_open,
        libc::SYS_pidfd_send_signal,
        libc::SYS_pidfd_getfd,
        libc::SYS_tkill,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
        libc::SYS_setrlimit,
        libc::SYS_setsid,
        libc::SYS_setpgid,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([libc::SYS_fork, libc::SYS_vfork, libc::SYS_setrlimit]);
    v.sort_unstable();
    v.dedup();
    v
}
