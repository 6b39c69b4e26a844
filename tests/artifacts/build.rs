//! Builds the test guests (tests/programs) for wasm32-wasip2.

include!("../../host/guest_build.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../host/guest_build.rs");
    let bins = build_guests("capsock-test-programs", "tests/programs");
    write_path_constants("test_guests.rs", &bins);
}
