//! Builds the example guests (examples/guests) for wasm32-wasip2; the demo
//! and `capsock bench` embed `temperature_plugin` and `bench`; the paths of all of them are exported
//! for tests as `capsock_host::examples::*`.

include!("guest_build.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=guest_build.rs");
    let bins = build_guests("capsock-examples", "examples/guests");
    write_path_constants("example_guests.rs", &bins);
    let embedded = |name: &str, constant: &str, doc: &str| {
        let path = &bins
            .iter()
            .find(|(n, _)| n == name)
            .expect("embedded guest")
            .1;
        format!(
            "/// {doc}\npub const {constant}: &[u8] = include_bytes!({:?});\n",
            path.display().to_string()
        )
    };
    let embed = embedded(
        "temperature_plugin",
        "TEMPERATURE_PLUGIN_WASM",
        "The demo plugin component.",
    ) + &embedded("bench", "BENCH_WASM", "The guest half of `capsock bench`.");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("embedded_guests.rs"), embed).expect("write embedded_guests.rs");
}
