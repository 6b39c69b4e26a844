//! The WIT glue: capsock's implementations of the traits `bindgen!`
//! generated (in [`crate::bindings`]), one file per interface, each method
//! a few lines over the layers below: [`crate::convert`] for the types,
//! [`crate::policy`] for what is allowed, [`crate::cmsg`] for ancillary
//! data, [`crate::resources`] and [`crate::sys`] for the calls.
//! [`add_to_linker_sync`] adds them all, then [`fast`]'s hand-written
//! functions for the calls that take guest buffers;
//! [`add_to_linker_async`] then [`reactor`]'s async versions of the calls
//! that wait.

mod descriptors;
mod fast;
mod preopens;
mod reactor;
mod sockets;

use wasmtime::component::Linker;

use crate::bindings;
use crate::ctx::{CapsockCtxView, CapsockView, HasCapsock};
use crate::error::{CapsockError, CapsockResult, ErrorCode};

/// The WIT package and version capsock implements, as the component model
/// names its interfaces (`capsock:sockets/<interface>@<version>`). A test
/// checks it against `wit/`.
const PACKAGE: &str = "capsock:sockets";
const VERSION: &str = "0.1.0";

/// The instance name of one of capsock's interfaces.
fn instance_name(interface: &str) -> String {
    format!("{PACKAGE}/{interface}@{VERSION}")
}

/// Adds every capsock interface to `linker`, for stores whose guests are
/// called synchronously (`Func::call`, `Command::call_run` from
/// `wasmtime_wasi::p2::bindings::sync`): a call that waits (`recv`,
/// `accept`, a pipe `read`, ...) blocks its thread in the system call. Add
/// WASI with `wasmtime_wasi::p2::add_to_linker_sync`.
///
/// `socket.send`, `descriptor.write` and `descriptor.write-at` are
/// hand-written functions that read the data straight from guest memory;
/// defining them needs shadowing for a moment, and leaves the linker with
/// shadowing disallowed (wasmtime's default).
///
/// ```
/// use capsock_host::{CapsockCtx, CapsockCtxView, CapsockView};
/// use wasmtime::component::{Linker, ResourceTable};
/// use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
///
/// struct Host { wasi: WasiCtx, capsock: CapsockCtx, table: ResourceTable }
///
/// impl WasiView for Host {
///     fn ctx(&mut self) -> WasiCtxView<'_> {
///         WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
///     }
/// }
/// impl CapsockView for Host {
///     fn capsock(&mut self) -> CapsockCtxView<'_> {
///         CapsockCtxView { ctx: &mut self.capsock, table: &mut self.table }
///     }
/// }
///
/// let engine = wasmtime::Engine::default();
/// let mut linker = Linker::<Host>::new(&engine);
/// wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
/// capsock_host::add_to_linker_sync(&mut linker)?;
/// # Ok::<(), wasmtime::Error>(())
/// ```
pub fn add_to_linker_sync<T: CapsockView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    // Interface by interface: the world also names wasi:io/poll, which the
    // embedder's WASI linker provides.
    bindings::types::add_to_linker::<T, HasCapsock>(linker, T::capsock)?;
    bindings::descriptors::add_to_linker::<T, HasCapsock>(linker, T::capsock)?;
    bindings::sockets::add_to_linker::<T, HasCapsock>(linker, T::capsock)?;
    bindings::preopens::add_to_linker::<T, HasCapsock>(linker, T::capsock)?;
    shadowing(linker, fast::add_to_linker)
}

/// Adds every capsock interface to `linker`, for stores whose guests are
/// called asynchronously (`call_async`, `Command::call_run` from
/// `wasmtime_wasi::p2::bindings`), inside a tokio runtime (as
/// wasmtime-wasi's async bindings need too): a call that waits awaits the
/// fd's readiness on the tokio reactor instead of blocking a thread, so a
/// guest blocked in `recv` costs no thread, the runtime may have a single
/// one, and dropping the call's future (e.g. `tokio::time::timeout`)
/// abandons the wait. Add WASI with `wasmtime_wasi::p2::add_to_linker_async`.
///
/// Guest-set timeouts and non-blocking mode behave as with
/// [`add_to_linker_sync`]; a blocking send on a stream socket still sends
/// everything. `accept`, `connect`, and reads and writes of FIFOs opened by
/// name and of terminals have no per-call non-blocking flag: they wait for
/// readiness on the reactor, then make the call on tokio's blocking pool,
/// where it returns at once unless someone sharing the file got there first
/// (a TCP `connect` waits there for its handshake).
///
/// ```
/// # use capsock_host::{CapsockCtx, CapsockCtxView, CapsockView};
/// # use wasmtime::component::{Linker, ResourceTable};
/// # use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
/// # struct Host { wasi: WasiCtx, capsock: CapsockCtx, table: ResourceTable }
/// # impl WasiView for Host {
/// #     fn ctx(&mut self) -> WasiCtxView<'_> {
/// #         WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
/// #     }
/// # }
/// # impl CapsockView for Host {
/// #     fn capsock(&mut self) -> CapsockCtxView<'_> {
/// #         CapsockCtxView { ctx: &mut self.capsock, table: &mut self.table }
/// #     }
/// # }
/// let engine = wasmtime::Engine::default();
/// let mut linker = Linker::<Host>::new(&engine);
/// wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
/// capsock_host::add_to_linker_async(&mut linker)?;
/// # Ok::<(), wasmtime::Error>(())
/// ```
pub fn add_to_linker_async<T: CapsockView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    add_to_linker_sync(linker)?;
    shadowing(linker, reactor::add_to_linker)
}

/// Runs `define` with shadowing allowed, then disallows it again.
fn shadowing<T: 'static>(
    linker: &mut Linker<T>,
    define: fn(&mut Linker<T>) -> wasmtime::Result<()>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let r = define(linker);
    linker.allow_shadowing(false);
    r
}

/// The result of a call made with [`Waiting::Thread`](crate::wait::Waiting),
/// which never waits on the reactor; if it ever did, a trap (a bug in
/// capsock) rather than a hang or a panic.
fn sync<T>(call: impl std::future::Future<Output = CapsockResult<T>>) -> CapsockResult<T> {
    crate::wait::now(call).unwrap_or_else(|| {
        Err(CapsockError::trap(wasmtime::Error::msg(
            "capsock: a call of the sync bindings waited on the reactor",
        )))
    })
}

impl bindings::types::Host for CapsockCtxView<'_> {
    fn convert_error_code(&mut self, err: CapsockError) -> wasmtime::Result<ErrorCode> {
        err.into_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_and_version_match_the_wit() {
        let wit = include_str!("../../wit/types.wit");
        assert!(
            wit.contains(&format!("package {PACKAGE}@{VERSION};")),
            "wit/types.wit declares another package or version"
        );
    }
}
