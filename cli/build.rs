//! Embeds the guests `capsock demo` and `capsock bench` run
//! (`temperature_plugin` and `bench` of examples/guests), built for
//! wasm32-wasip2. A build from the published package has no guest sources
//! (they are the repository's, beside this crate): there both are `None`
//! and the two commands say so.

include!("guest_build.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=guest_build.rs");
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let in_repository = manifest.join("../examples/guests/Cargo.toml").is_file();
    let bins = if in_repository {
        build_guests("capsock-examples", "examples/guests")
    } else {
        Vec::new()
    };
    let embedded = |name: &str, constant: &str, doc: &str| {
        let value = match bins.iter().find(|(n, _)| n == name) {
            Some((_, path)) => format!("Some(include_bytes!({:?}))", path.display().to_string()),
            None if in_repository => panic!("examples/guests has no {name} guest"),
            None => "None".to_string(),
        };
        format!("/// {doc}\npub const {constant}: Option<&[u8]> = {value};\n")
    };
    let embed = embedded(
        "temperature_plugin",
        "TEMPERATURE_PLUGIN_WASM",
        "The demo plugin component.",
    ) + &embedded("bench", "BENCH_WASM", "The guest half of `capsock bench`.");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("embedded_guests.rs"), embed).expect("write embedded_guests.rs");
}
