#![no_main]
//! `capsock_host::fuzzing::encode_items` on items read from arbitrary bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (items, short) = capsock_host::fuzzing::items_from_bytes(data);
    capsock_host::fuzzing::encode_items(&items, short);
});
