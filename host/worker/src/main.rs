//! `imageio-worker`: runs one imageio plugin in a sandboxed process of its
//! own, for a host that isolates its plugins (see
//! `imageio::plugin::IsolationConfig`). The host starts it with a socket on
//! file descriptor 3; it is not meant to be run by hand.
//!
//! A Rust program that embeds the library does not need it: calling
//! `imageio::plugin::serve_if_worker()` first thing in `main` makes the
//! program its own worker. Programs that cannot (the C library's users, the
//! Python package) install this one beside them, or in
//! `<prefix>/libexec/imageio/`.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    imageio::plugin::worker_main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("imageio-worker: plugin isolation needs Linux");
    std::process::ExitCode::from(2)
}
