//! The WIT glue: capsock's implementations of the traits `bindgen!`
//! generated (in [`crate::bindings`]), one file per interface, each method
//! a few lines over the layers below: [`crate::convert`] for the types,
//! [`crate::policy`] for what is allowed, [`crate::cmsg`] for ancillary
//! data, [`crate::resources`] and [`crate::sys`] for the calls.
//! [`add_to_linker`] adds them all, then [`fast`]'s hand-written functions
//! for the calls that take guest buffers.

mod descriptors;
mod fast;
mod preopens;
mod sockets;

use wasmtime::component::Linker;

use crate::bindings;
use crate::ctx::{CapsockCtxView, CapsockView, HasCapsock};
use crate::error::{CapsockError, ErrorCode};

/// The WIT package and version capsock implements, as the component model
/// names its interfaces (`capsock:sockets/<interface>@<version>`). A test
/// checks it against `wit/`.
const PACKAGE: &str = "capsock:sockets";
const VERSION: &str = "0.1.0";

/// The instance name of one of capsock's interfaces.
fn instance_name(interface: &str) -> String {
    format!("{PACKAGE}/{interface}@{VERSION}")
}

/// Adds every capsock interface to `linker`. Add WASI separately (for
/// example with `wasmtime_wasi::p2::add_to_linker_sync`).
///
/// `socket.send`, `descriptor.write` and `descriptor.write-at` are then
/// redefined by hand-written functions that read the data straight from
/// guest memory; this needs shadowing for a moment, and leaves the linker
/// with shadowing disallowed (wasmtime's default).
pub fn add_to_linker<T: CapsockView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    // Interface by interface: the world also names wasi:io/poll, which the
    // embedder's WASI linker provides.
    bindings::types::add_to_linker::<T, HasCapsock>(linker, T::capsock)?;
    bindings::descriptors::add_to_linker::<T, HasCapsock>(linker, T::capsock)?;
    bindings::sockets::add_to_linker::<T, HasCapsock>(linker, T::capsock)?;
    bindings::preopens::add_to_linker::<T, HasCapsock>(linker, T::capsock)?;
    linker.allow_shadowing(true);
    let fast = fast::add_to_linker(linker);
    linker.allow_shadowing(false);
    fast
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
