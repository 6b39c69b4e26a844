//! The async bindings' versions of the calls that may wait: `connect`,
//! `send-msg`, `send`, `recv`, `recv-msg`, `accept` and the descriptor
//! reads and writes. Each is the sync glue's own body run with
//! [`Waiting::Reactor`] (see [`crate::wait`]), defined with
//! `func_wrap_async` over the sync function of the same name (shadowing,
//! like [`super::fast`]); the names come from [`super::instance_name`] and
//! a test in [`super::fast`] checks that the generated bindings define
//! them.

use wasmtime::component::{Linker, Resource, WasmList};
use wasmtime::StoreContextMut;

use super::fast::{self, returned};
use super::instance_name;
use crate::bindings::sockets::AncillaryOut;
use crate::bindings::types::{Address, RecvFlags, SendFlags};
use crate::ctx::CapsockView;
use crate::resources::{Descriptor, Socket};
use crate::wait::Waiting;

pub(super) const CONNECT: &str = "[method]socket.connect";
pub(super) const SEND_MSG: &str = "[method]socket.send-msg";
pub(super) const RECV: &str = "[method]socket.recv";
pub(super) const RECV_MSG: &str = "[method]socket.recv-msg";
pub(super) const ACCEPT: &str = "[method]socket.accept";
pub(super) const READ: &str = "[method]descriptor.read";
pub(super) const READ_AT: &str = "[method]descriptor.read-at";

/// Every name this module defines, by interface.
#[cfg(test)]
pub(super) const NAMES: &[(&str, &str)] = &[
    ("sockets", CONNECT),
    ("sockets", SEND_MSG),
    ("sockets", fast::SEND),
    ("sockets", RECV),
    ("sockets", fast::RECV_INTO),
    ("sockets", fast::RECV_FDS),
    ("sockets", RECV_MSG),
    ("sockets", ACCEPT),
    ("descriptors", READ),
    ("descriptors", READ_AT),
    ("descriptors", fast::WRITE),
    ("descriptors", fast::WRITE_AT),
];

const R: Waiting = Waiting::Reactor;

/// `send-msg`'s parameters.
type SendMsgArgs = (
    Resource<Socket>,
    Vec<Vec<u8>>,
    Vec<AncillaryOut>,
    SendFlags,
    Option<Address>,
);

/// Defines the async functions over the sync ones (the linker must allow
/// shadowing).
pub(super) fn add_to_linker<T: CapsockView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    let mut i = linker.instance(&instance_name("sockets"))?;
    i.func_wrap_async(
        CONNECT,
        |mut store: StoreContextMut<'_, T>, (s, to): (Resource<Socket>, Address)| {
            Box::new(async move {
                let mut view = store.data_mut().capsock();
                returned(view.connect_with(&s, to, R).await)
            })
        },
    )?;
    i.func_wrap_async(
        fast::RECV_INTO,
        |mut store: StoreContextMut<'_, T>,
         (s, buffer, flags): (Resource<Socket>, WasmList<u8>, RecvFlags)| {
            Box::new(
                async move { Ok((fast::recv_into(&mut store, &s, &buffer, flags, R).await?,)) },
            )
        },
    )?;
    i.func_wrap_async(
        fast::RECV_FDS,
        |mut store: StoreContextMut<'_, T>,
         (s, buffer, max_fds, flags): (Resource<Socket>, WasmList<u8>, u32, RecvFlags)| {
            Box::new(async move {
                let r = fast::recv_fds(&mut store, &s, &buffer, max_fds, flags, R).await?;
                Ok((r,))
            })
        },
    )?;
    i.func_wrap_async(
        SEND_MSG,
        |mut store: StoreContextMut<'_, T>, (s, data, ancillary, flags, to): SendMsgArgs| {
            Box::new(async move {
                let mut view = store.data_mut().capsock();
                let sent = view.send_msg_with(&s, &data, &ancillary, flags, to, R);
                returned(sent.await)
            })
        },
    )?;
    i.func_wrap_async(
        fast::SEND,
        |mut store: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, SendFlags)| {
            Box::new(async move { returned(fast::send(&mut store, &s, &data, flags, R).await) })
        },
    )?;
    i.func_wrap_async(
        RECV,
        |mut store: StoreContextMut<'_, T>, (s, max, flags): (Resource<Socket>, u64, RecvFlags)| {
            Box::new(async move {
                let mut view = store.data_mut().capsock();
                returned(view.recv_with(&s, max, flags, R).await)
            })
        },
    )?;
    i.func_wrap_async(
        RECV_MSG,
        |mut store: StoreContextMut<'_, T>,
         (s, max, space, flags): (Resource<Socket>, u64, u64, RecvFlags)| {
            Box::new(async move {
                let mut view = store.data_mut().capsock();
                returned(view.recv_msg_with(&s, max, space, flags, R).await)
            })
        },
    )?;
    i.func_wrap_async(
        ACCEPT,
        |mut store: StoreContextMut<'_, T>, (s,): (Resource<Socket>,)| {
            Box::new(async move {
                let mut view = store.data_mut().capsock();
                returned(view.accept_with(&s, R).await)
            })
        },
    )?;
    let mut i = linker.instance(&instance_name("descriptors"))?;
    i.func_wrap_async(
        READ,
        |mut store: StoreContextMut<'_, T>, (d, len): (Resource<Descriptor>, u64)| {
            Box::new(async move {
                let mut view = store.data_mut().capsock();
                returned(view.read_with(&d, len, None, R).await)
            })
        },
    )?;
    i.func_wrap_async(
        READ_AT,
        |mut store: StoreContextMut<'_, T>, (d, len, offset): (Resource<Descriptor>, u64, u64)| {
            Box::new(async move {
                let mut view = store.data_mut().capsock();
                returned(view.read_with(&d, len, Some(offset), R).await)
            })
        },
    )?;
    i.func_wrap_async(
        fast::WRITE,
        |mut store: StoreContextMut<'_, T>, (d, data): (Resource<Descriptor>, WasmList<u8>)| {
            Box::new(async move { returned(fast::write(&mut store, &d, &data, None, R).await) })
        },
    )?;
    i.func_wrap_async(
        fast::WRITE_AT,
        |mut store: StoreContextMut<'_, T>,
         (d, data, offset): (Resource<Descriptor>, WasmList<u8>, u64)| {
            Box::new(
                async move { returned(fast::write(&mut store, &d, &data, Some(offset), R).await) },
            )
        },
    )
}
