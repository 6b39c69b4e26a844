//! Paths of the test guest components (tests/programs), and in
//! [`examples`] of the example guests (examples/guests), built by this
//! crate's build script.

include!(concat!(env!("OUT_DIR"), "/test_guests.rs"));

/// Paths of the example guest components.
pub mod examples {
    include!(concat!(env!("OUT_DIR"), "/example_guests.rs"));
}
