//! The tests that run the `capsock` binary (capsock-cli's), in one binary
//! beside tests/all, whose `support` they share: every test takes one of
//! its two fd locks first (tests/all/main.rs checks this directory too).
//! `cargo test --test cli hardening::` runs one module.

// Shared with tests/all; each binary uses a part of it.
#[allow(dead_code)]
#[path = "../all/support.rs"]
mod support;

mod cli;
mod examples;
mod hardening;
mod scripts;

/// The `capsock` binary of this build.
pub const CAPSOCK: &str = env!("CARGO_BIN_EXE_capsock");

/// Runs `capsock ARGS` to completion.
pub fn capsock(args: &[&str]) -> std::process::Output {
    std::process::Command::new(CAPSOCK)
        .args(args)
        .output()
        .expect("run capsock")
}

/// Runs `capsock ARGS` under `ulimit LIMIT` (as `sh` sets it: `-n N` sets
/// the soft and hard fd limits, `-Sn N` the soft one).
pub fn capsock_under_ulimit(limit: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit {limit} && exec \"$0\" \"$@\""))
        .arg(CAPSOCK)
        .args(args)
        .output()
        .expect("run sh")
}

/// Asserts one line on stderr, starting with `capsock: ` and containing
/// `needle`; returns the exit status.
pub fn one_line_error(out: &std::process::Output, needle: &str) -> i32 {
    let err = support::stderr_of(out);
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(
        err.starts_with("capsock: ") && err.contains(needle),
        "{err:?} should mention {needle:?}"
    );
    out.status.code().expect("an exit status")
}
