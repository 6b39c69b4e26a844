//! The host's integration tests, in one binary (as wasmtime's `tests/all`):
//! the host and wasmtime are linked once, and one process compiles each
//! guest once. A module is one area; `cargo test --test all hardening::`
//! runs one of them. Every test takes one of `support`'s two fd locks
//! first: read `support`'s docs before writing a test.

mod support;

mod conformance;
mod embed;
mod embedding;
mod hardening;
mod inet;
mod kinds;
mod script_guests;
mod security;
mod servers;
mod sigpipe;
mod soak;

/// The rule of `support`'s docs, checked: the first statement of every
/// test in this directory and in tests/cli (the other binary that shares
/// `support`) takes the shared or the exclusive fd lock, so no test can
/// open an fd while another counts them.
#[test]
fn every_test_takes_the_fd_lock_first() {
    let _fds = support::shared();
    let tests_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    let files = ["all", "cli"].iter().flat_map(|dir| {
        std::fs::read_dir(tests_dir.join(dir))
            .unwrap()
            .map(|entry| entry.unwrap().path())
    });
    let mut tests = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            if line != "#[test]" {
                continue;
            }
            let mut rest = lines
                .by_ref()
                .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with("#["));
            let signature = rest.next().unwrap_or_default();
            let first = rest.next().unwrap_or_default();
            let name = signature
                .trim_start_matches("fn ")
                .split('(')
                .next()
                .unwrap_or_default();
            assert!(
                signature.starts_with("fn ") && signature.ends_with('{'),
                "{}: a test's signature on one line: {signature:?}",
                path.display()
            );
            let locked = ["shared()", "exclusive("].iter().any(|f| {
                first.starts_with(&format!("let _fds = support::{f}"))
                    || first.starts_with(&format!("let _fds = {f}"))
            }) || first.starts_with("let (_fds, wasm) = support::exclusive_after(");
            assert!(
                locked,
                "{}: {name} must start with `let _fds = support::shared();`, \
                 `let _fds = support::exclusive(...);` or \
                 `let (_fds, wasm) = support::exclusive_after(...);`, not {first:?}",
                path.display()
            );
            tests += 1;
        }
    }
    assert!(
        tests >= 100,
        "only {tests} tests found in {}/{{all,cli}}",
        tests_dir.display()
    );
}
