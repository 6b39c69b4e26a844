//! capsock host: `sendmsg(2)` / `recvmsg(2)` with full ancillary data for
//! WebAssembly components, behind the WIT package `capsock:sockets`.
//!
//! Guests hold [`Socket`] and [`Descriptor`] handles, never fd numbers. An
//! embedder adds capsock to its own wasmtime store in three steps:
//!
//! 1. give its store data a [`CapsockCtx`] (built with [`CapsockCtx::builder`],
//!    granting sockets by name) and implement [`CapsockView`];
//! 2. call [`add_to_linker_sync`] next to
//!    `wasmtime_wasi::p2::add_to_linker_sync`, or in a tokio host
//!    [`add_to_linker_async`] next to `wasmtime_wasi::p2::add_to_linker_async`
//!    (a guest waiting in `recv` then holds no thread);
//! 3. instantiate a component of the `capsock:sockets/sandbox` world, or of
//!    your own world that uses capsock's types through [`bindings`]; hand it
//!    sockets with [`CapsockCtxView::push_socket`] and take back the ones it
//!    returns with [`CapsockCtxView::take_socket`].
//!
//! [`Runtime`] does all three for command components. The repository's
//! `docs/embedding.md` is the guide, with `examples/embed.rs`,
//! `embed_async.rs` and `plugin_host.rs`.

#![deny(missing_docs)]
#![deny(unsafe_code)]

// The layers, top down (see ARCHITECTURE.md): the WIT glue calls the
// policy, the codec and the resources, which call the syscalls.
pub mod bindings;
mod cmsg;
mod convert;
mod ctx;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod interrupt;
pub mod native;
mod policy;
mod resources;
mod runtime;
mod sys;
mod wait;
mod wit;

pub use bindings::types::{ErrorCode, SocketType};
pub use ctx::{CapsockCtx, CapsockCtxBuilder, CapsockCtxView, CapsockView, HasCapsock};
pub use error::{CapsockError, CapsockResult};
pub use interrupt::Interrupt;
pub use policy::{BadRule, IpRule, Limits, Policy, Refusal};
pub use resources::{Descriptor, Socket};
pub use runtime::limits::{self, GuestStopped, SandboxLimits, StopReason};
pub use runtime::{
    GuestTrapped, HostCalls, Runtime, RuntimeBuilder, Sandbox, SandboxPre, SandboxState, StopHandle,
};
pub use wit::{add_to_linker_async, add_to_linker_sync};
