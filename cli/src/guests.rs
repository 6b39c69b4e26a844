//! The guests `demo` and `bench` run, embedded by build.rs from
//! examples/guests. A build from the published package has none (their
//! sources are the repository's): the two commands then fail, saying so.

use anyhow::Context;

include!(concat!(env!("OUT_DIR"), "/embedded_guests.rs"));

/// `guest`, or why this build has none.
fn embedded(guest: Option<&'static [u8]>) -> anyhow::Result<&'static [u8]> {
    guest.context(
        "this capsock was built without the example guests (they are built \
         from the capsock repository's examples/guests); `demo` and `bench` \
         need a build from the repository",
    )
}

/// The demo plugin component.
pub fn temperature_plugin() -> anyhow::Result<&'static [u8]> {
    embedded(TEMPERATURE_PLUGIN_WASM)
}

/// The guest half of `capsock bench`.
pub fn bench() -> anyhow::Result<&'static [u8]> {
    embedded(BENCH_WASM)
}
