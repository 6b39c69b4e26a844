//! Builds the example guests (examples/guests) for wasm32-wasip2; the demo
//! embeds `temperature_plugin`, and the paths of all of them are exported
//! for tests as `capsock_host::examples::*`.

include!("guest_build.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=guest_build.rs");
    let bins = build_guests("capsock-examples", "examples/guests");
    write_path_constants("example_guests.rs", &bins);
    let plugin = &bins
        .iter()
        .find(|(n, _)| n == "temperature_plugin")
        .expect("demo plugin")
        .1;
    let embed = format!(
        "/// The demo plugin component, embedded in the binary.\npub const TEMPERATURE_PLUGIN_WASM: &[u8] = include_bytes!({:?});\n",
        plugin.display().to_string()
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("demo_plugin.rs"), embed).expect("write demo_plugin.rs");
}
