//! The embedding examples (examples/embed.rs, embed_async.rs,
//! plugin_host.rs), an embedder's starting points, run and leak nothing.

use std::process::Command;

use crate::support;

/// Runs the example `name` and returns its output; it must succeed.
fn run_example(name: &str) -> String {
    // `cargo test` builds the package's examples beside its tests: this
    // binary is <target>/<profile>/deps/all-HASH, the example
    // <target>/<profile>/examples/NAME.
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let example = profile.join("examples").join(name);
    let out = Command::new(&example)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", example.display()));
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn embedding_example_runs_a_guest_in_its_own_store() {
    let _fds = support::shared();
    let stdout = run_example("embed");
    assert!(
        stdout.contains("File 1 contents: time temp 00.00 21 01.00 20"),
        "{stdout}"
    );
    assert!(
        stdout.contains("handles it still held at exit: 0"),
        "{stdout}"
    );
}

#[test]
fn async_example_serves_100_guests_on_one_thread() {
    let _fds = support::shared();
    let stdout = run_example("embed_async");
    assert!(
        stdout.contains("File 1 contents: time temp 00.00 20"),
        "{stdout}"
    );
    assert!(stdout.contains("100 of 100 guests succeeded"), "{stdout}");
}

#[test]
fn plugin_host_example_hands_connections_to_an_export_and_takes_a_socket_back() {
    let _fds = support::shared();
    let stdout = run_example("plugin_host");
    assert_eq!(
        stdout.matches("a client read \"hello\"").count(),
        3,
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("the plugin holds 0 handles").count(),
        3,
        "{stdout}"
    );
    assert!(
        stdout.contains("from the plugin's channel: \"from the guest\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("handles the plugin still holds: 0"),
        "{stdout}"
    );
}
