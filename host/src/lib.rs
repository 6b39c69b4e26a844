//! capsock host: `sendmsg(2)` / `recvmsg(2)` with full ancillary data for
//! WebAssembly components, behind the WIT package `capsock:sockets`.
//!
//! Guests hold [`Socket`] and [`Descriptor`] handles, never fd numbers. An
//! embedder adds capsock to its own wasmtime store in three steps:
//!
//! 1. give its store data a [`CapsockCtx`] (built with [`CapsockCtx::builder`],
//!    granting sockets by name) and implement [`CapsockView`];
//! 2. call [`add_to_linker`] next to `wasmtime_wasi::p2::add_to_linker_sync`;
//! 3. instantiate a component of the `capsock:sockets/sandbox` world.
//!
//! [`Runtime`] does all three for command components.
//! See `examples/embed.rs` for an embedder with its own store.

#![deny(missing_docs)]
#![deny(unsafe_code)]

mod authority;
mod bindings;
pub mod cmsg;
mod control;
mod ctx;
mod descriptors;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod handles;
mod interrupt;
pub mod limits;
pub mod native;
pub mod netpolicy;
mod policy;
mod preopens;
mod readiness;
mod runtime;
mod sockets;
mod sys;
mod types;

/// The example guests of `examples/guests`, built with this crate: paths of
/// their components in the build tree, and the demo plugin embedded.
#[doc(hidden)]
pub mod examples {
    include!(concat!(env!("OUT_DIR"), "/example_guests.rs"));
    include!(concat!(env!("OUT_DIR"), "/embedded_guests.rs"));
}

pub use bindings::types::{ErrorCode, SocketType};
pub use ctx::{
    add_to_linker, CapsockCtx, CapsockCtxBuilder, CapsockCtxView, CapsockView, HasCapsock,
};
pub use error::{CapsockError, CapsockResult};
pub use handles::{Descriptor, Socket};
pub use interrupt::Interrupt;
pub use limits::{GuestStopped, SandboxLimits, StopReason};
pub use policy::{Limits, Policy, Refusal};
pub use runtime::{
    GuestTrapped, Prepared, Runtime, RuntimeBuilder, Sandbox, SandboxState, StopHandle,
};
