//! `iio-capped SECONDS PROGRAM [ARGS...]`: runs PROGRAM under a 2 GiB
//! address-space limit, its stdout discarded and its stderr passed
//! through, kills it after SECONDS (a guard against hangs), and prints how
//! it ended: `exit=N` or `signal=N`, then `peak_kib=N` (its own
//! `ru_maxrss`) and `timed_out=0|1`, one per line.
//!
//! The test binary cannot measure this itself: a process started from a
//! large process (by `posix_spawn`'s vfork, or fork) inherits the
//! parent's high-water mark in `ru_maxrss` across `exec`. Started from
//! this small program, the figure is the program's own (within this
//! program's few MiB).

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[allow(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also gives its resource usage"
)]
fn main() {
    let mut args = std::env::args_os().skip(1);
    let seconds: u64 = args
        .next()
        .and_then(|s| s.to_str()?.parse().ok())
        .expect("usage: iio-capped SECONDS PROGRAM [ARGS...]");
    let program = args.next().expect("a program to run");
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 2 << 30,
                rlim_max: 2 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn the program");
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        // SAFETY: `pid` is our unreaped child (std's Child is never waited
        // on); the out-pointers are valid.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert_eq!(r, 0, "wait4: {}", std::io::Error::last_os_error());
        if !timed_out && start.elapsed() > Duration::from_secs(seconds) {
            timed_out = true;
            // SAFETY: a signal to our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if libc::WIFEXITED(status) {
        println!("exit={}", libc::WEXITSTATUS(status));
    } else {
        println!("signal={}", libc::WTERMSIG(status));
    }
    println!("peak_kib={}", usage.ru_maxrss);
    println!("timed_out={}", u8::from(timed_out));
}
