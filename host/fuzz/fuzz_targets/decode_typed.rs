#![no_main]
//! `capsock_host::fuzzing::decode_typed` on arbitrary bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| capsock_host::fuzzing::decode_typed(data));
