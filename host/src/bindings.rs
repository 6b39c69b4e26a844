//! The one `bindgen!` call: host traits and types generated from `wit/`.
//!
//! WIT resources map to our own structs ([`crate::Socket`],
//! [`crate::Descriptor`]); `error-code` results surface as
//! [`crate::CapsockError`], which is either a code for the guest or a trap.

// Generated helpers (`ErrorCode::name`, ...) carry no rustdoc of their own.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "wit",
    world: "capsock:sockets/imports",
    imports: { default: trappable },
    trappable_error_type: {
        "capsock:sockets/types.error-code" => crate::CapsockError,
    },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::sync::io,
        "capsock:sockets/sockets.socket": crate::Socket,
        "capsock:sockets/descriptors.descriptor": crate::Descriptor,
    },
});

pub use capsock::sockets::*;
