//! Hand-written host functions for the calls that take a guest buffer:
//! `socket.send`, `descriptor.write` and `descriptor.write-at`. The
//! generated bindings would first copy the whole `list<u8>` into a `Vec`,
//! and wasmtime traps a guest that hands the host more than 128 MiB in one
//! call ("hostcall fuel"); these take the data as a [`WasmList`] and hand
//! the guest's own bytes to the kernel, so a write of any size is a short
//! write of at most the message limit, as `write(2)` may be.
//!
//! They replace the generated functions under the same names (shadowing),
//! so the names must be exactly the generated ones: they come from
//! [`super::instance_name`], and a test below fails if the generated
//! bindings define them elsewhere. The generated functions stay as the
//! fallback with the same body ([`Sender::send`],
//! [`DescriptorWriter::write`]); the `oversize_fast_send` test in
//! `tests/` tells the two paths apart (only the fast one survives a
//! 129 MiB send).

use wasmtime::component::{Linker, Resource, WasmList};
use wasmtime::StoreContextMut;

use super::instance_name;
use crate::bindings::types::{ErrorCode, SendFlags};
use crate::convert;
use crate::ctx::CapsockView;
use crate::error::CapsockResult;
use crate::resources::{Descriptor, DescriptorWriter, Sender, Socket};

pub(super) const SEND: &str = "[method]socket.send";
pub(super) const WRITE: &str = "[method]descriptor.write";
pub(super) const WRITE_AT: &str = "[method]descriptor.write-at";

/// The result a WIT function returns: an error code goes to the guest, a
/// trap ends it.
fn returned<T>(r: CapsockResult<T>) -> wasmtime::Result<(Result<T, ErrorCode>,)> {
    match r {
        Ok(v) => Ok((Ok(v),)),
        Err(e) => Ok((Err(e.into_code()?),)),
    }
}

fn send<T: CapsockView>(
    caller: &mut StoreContextMut<'_, T>,
    s: &Resource<Socket>,
    data: &WasmList<u8>,
    flags: SendFlags,
) -> CapsockResult<u64> {
    // Everything the send needs leaves the table first: the store is then
    // borrowed for guest memory instead.
    let (sender, limits, interrupt): (Sender, _, _) = {
        let view = caller.data_mut().capsock();
        let sender = view.table.get(s)?.sender();
        (sender, view.ctx.limits.clone(), view.ctx.interrupt.clone())
    };
    let bytes = data.as_le_slice(&*caller);
    sender.send(&interrupt, bytes, convert::send_flags(flags), &limits)
}

fn write<T: CapsockView>(
    caller: &mut StoreContextMut<'_, T>,
    d: &Resource<Descriptor>,
    data: &WasmList<u8>,
    offset: Option<u64>,
) -> CapsockResult<u64> {
    let (writer, max, interrupt): (DescriptorWriter, _, _) = {
        let view = caller.data_mut().capsock();
        let writer = view.table.get_mut(d)?.writer()?;
        let max = view.ctx.limits.max_message_bytes;
        (writer, max, view.ctx.interrupt.clone())
    };
    let bytes = data.as_le_slice(&*caller);
    writer.write(&interrupt, bytes, offset, max)
}

/// Defines the three functions over the generated ones (the linker must
/// allow shadowing).
pub(super) fn add_to_linker<T: CapsockView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.instance(&instance_name("sockets"))?.func_wrap(
        SEND,
        |mut caller: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, SendFlags)| {
            returned(send(&mut caller, &s, &data, flags))
        },
    )?;
    let mut descriptors = linker.instance(&instance_name("descriptors"))?;
    descriptors.func_wrap(
        WRITE,
        |mut caller: StoreContextMut<'_, T>, (d, data): (Resource<Descriptor>, WasmList<u8>)| {
            returned(write(&mut caller, &d, &data, None))
        },
    )?;
    descriptors.func_wrap(
        WRITE_AT,
        |mut caller: StoreContextMut<'_, T>,
         (d, data, offset): (Resource<Descriptor>, WasmList<u8>, u64)| {
            returned(write(&mut caller, &d, &data, Some(offset)))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings;
    use crate::ctx::{CapsockCtx, CapsockCtxView, HasCapsock};
    use wasmtime::component::ResourceTable;

    struct Host {
        ctx: CapsockCtx,
        table: ResourceTable,
    }

    impl CapsockView for Host {
        fn capsock(&mut self) -> CapsockCtxView<'_> {
            CapsockCtxView {
                ctx: &mut self.ctx,
                table: &mut self.table,
            }
        }
    }

    /// With shadowing off, defining a name the generated bindings already
    /// defined fails: so each fast function's name is one the generated
    /// bindings use, and the fast function really replaces it.
    #[test]
    fn fast_functions_have_the_generated_names() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<Host>::new(&engine);
        bindings::sockets::add_to_linker::<Host, HasCapsock>(&mut linker, Host::capsock).unwrap();
        bindings::descriptors::add_to_linker::<Host, HasCapsock>(&mut linker, Host::capsock)
            .unwrap();
        let taken = |linker: &mut Linker<Host>, interface: &str, name: &str| {
            linker
                .instance(&instance_name(interface))
                .unwrap()
                .func_wrap(name, |_: StoreContextMut<'_, Host>, (): ()| Ok(()))
                .is_err()
        };
        assert!(taken(&mut linker, "sockets", SEND));
        assert!(taken(&mut linker, "descriptors", WRITE));
        assert!(taken(&mut linker, "descriptors", WRITE_AT));
        assert!(!taken(
            &mut linker,
            "sockets",
            "[method]socket.no-such-method"
        ));
        // And add_to_linker replaces them without complaint.
        let mut linker = Linker::<Host>::new(&engine);
        crate::add_to_linker(&mut linker).unwrap();
    }
}
