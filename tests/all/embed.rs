//! examples/embed.rs, an embedder's starting point, runs and leaks nothing.

use std::process::Command;

use crate::support;

#[test]
fn embedding_example_runs_a_guest_in_its_own_store() {
    let _fds = support::shared();
    // `cargo test` builds the package's examples beside its tests: this
    // binary is <target>/<profile>/deps/all-HASH, the example
    // <target>/<profile>/examples/embed.
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let embed = profile.join("examples/embed");
    let out = Command::new(&embed)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", embed.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("File 1 contents: time temp 00.00 21 01.00 20"),
        "{stdout}"
    );
    assert!(
        stdout.contains("handles it still held at exit: 0"),
        "{stdout}"
    );
}
