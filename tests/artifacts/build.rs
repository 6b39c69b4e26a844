//! Builds the test guests (tests/programs) and the example guests
//! (examples/guests) for wasm32-wasip2 and exports their paths.

include!("../../cli/guest_build.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../cli/guest_build.rs");
    let bins = build_guests("capsock-test-programs", "tests/programs");
    write_path_constants("test_guests.rs", &bins);
    let bins = build_guests("capsock-examples", "examples/guests");
    write_path_constants("example_guests.rs", &bins);
}

/// Writes `$OUT_DIR/<file>` with one `pub const NAME: &str = "<path>";` per guest.
fn write_path_constants(file: &str, bins: &[(String, PathBuf)]) {
    let mut src = String::new();
    for (name, wasm) in bins {
        src += &format!("/// Path of the `{name}` guest component.\n");
        src += &format!(
            "pub const {}: &str = {:?};\n",
            name.to_uppercase(),
            wasm.display().to_string()
        );
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join(file), src).expect("write guest path constants");
}
