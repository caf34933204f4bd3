//! `imageio-worker`: runs one imageio plugin in a process of its own, for a
//! host that isolates its plugins (see `imageio::plugin::IsolationConfig`).
//! The host starts it with `serve LIBRARY` (or `serve --builtin ID`) and a
//! socket on file descriptor 3; it is not meant to be run by hand.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    imageio::plugin::worker_main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("imageio-worker: plugin isolation needs Linux");
    std::process::ExitCode::from(2)
}
