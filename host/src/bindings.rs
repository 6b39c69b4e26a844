//! The host bindings `wasmtime::component::bindgen!` generates from
//! capsock's WIT (`capsock:sockets`, world `imports`): the types of every
//! interface, the `Host*` traits capsock implements, and their
//! `add_to_linker` functions (which [`crate::add_to_linker_sync`] and
//! [`crate::add_to_linker_async`] call, then replace a few functions of).
//!
//! WIT resources map to capsock's own types ([`crate::Socket`],
//! [`crate::Descriptor`]); `error-code` results surface as
//! [`crate::CapsockError`], which is either a code for the guest or a trap.
//!
//! An embedder whose own world imports or exports capsock's types (say, an
//! export `on-connection: func(conn: own<socket>)`) reuses these in its own
//! `bindgen!`, as wasmtime-wasi-http reuses wasmtime-wasi's:
//!
//! ```ignore
//! wasmtime::component::bindgen!({
//!     path: "wit",
//!     world: "my:plugin/plugin",
//!     with: {
//!         "wasi": wasmtime_wasi::p2::bindings::sync,
//!         "capsock:sockets": capsock_host::bindings::capsock::sockets,
//!     },
//! });
//! ```
//!
//! Every call of the generated functions runs in a `tracing` span at the
//! `trace` level (target `capsock_host::bindings::…`).

// Generated helpers (`ErrorCode::name`, ...) carry no rustdoc of their own.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "wit",
    world: "capsock:sockets/imports",
    imports: { default: trappable | tracing },
    trappable_error_type: {
        "capsock:sockets/types.error-code" => crate::CapsockError,
    },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::sync::io,
        "wasi:filesystem": wasmtime_wasi::p2::bindings::sync::filesystem,
        "capsock:sockets/sockets.socket": crate::Socket,
        "capsock:sockets/descriptors.descriptor": crate::Descriptor,
    },
});

pub use capsock::sockets::*;
