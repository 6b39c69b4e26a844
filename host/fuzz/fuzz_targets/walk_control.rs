#![no_main]
//! `capsock_host::fuzzing::walk_control` on arbitrary bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| capsock_host::fuzzing::walk_control(data));
