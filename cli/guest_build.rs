// Builds wasm32-wasip2 guest programs with a nested `cargo build`, the way
// wasmtime's `crates/test-programs/artifacts` does. Shared (via `include!`)
// by cli/build.rs (the demo and bench guests, embedded in the command) and
// tests/artifacts/build.rs (the test and example guests, by path).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root: the parent of the crate that includes this file.
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").exists() || dir.join("rust-toolchain.toml").exists())
        .expect("workspace root above CARGO_MANIFEST_DIR")
        .to_path_buf()
}

/// `<target>/wasm-guests`, shared by every profile and build script so the
/// guests are compiled once. OUT_DIR is `<target>/<profile>/build/<pkg>/out`.
fn guest_target_dir() -> PathBuf {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    match out.ancestors().nth(4) {
        Some(target) => target.join("wasm-guests"),
        None => out.join("wasm-guests"),
    }
}

/// Builds every binary of `package` (at `package_dir`, relative to the
/// workspace root) for wasm32-wasip2 in release mode and returns
/// `(binary name, path of its .wasm)`, sorted by name.
fn build_guests(package: &str, package_dir: &str) -> Vec<(String, PathBuf)> {
    let root = workspace_root();
    for watched in [package_dir, "guest-sdk", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = guest_target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--package", package])
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags meant for the host build must not reach the wasm build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        // `cargo clippy` on the host must not lint (and fail) this build step.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("cannot run cargo to build the wasm32-wasip2 guests");
    if !status.success() {
        panic!(
            "building the {package} guests for wasm32-wasip2 failed; \
             is the target installed? (rustup target add wasm32-wasip2)"
        );
    }
    let mut bins: Vec<(String, PathBuf)> = std::fs::read_dir(root.join(package_dir).join("src/bin"))
        .expect("guest package has src/bin")
        .filter_map(|e| {
            let name = e.ok()?.path().file_stem()?.to_str()?.to_string();
            let wasm = target_dir.join("wasm32-wasip2/release").join(format!("{name}.wasm"));
            Some((name, wasm))
        })
        .collect();
    bins.sort();
    for (name, wasm) in &bins {
        assert!(Path::new(wasm).exists(), "guest {name} was not built at {}", wasm.display());
    }
    bins
}
