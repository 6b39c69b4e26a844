#![no_main]
//! `capsock_host::fuzzing::sockaddr_round_trip` on arbitrary bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| capsock_host::fuzzing::sockaddr_round_trip(data));
