//! Hand-written host functions for the calls that take a guest buffer:
//! `socket.send`, `descriptor.write` and `descriptor.write-at`, which read
//! it, and `socket.recv-into` and `socket.recv-fds`, which write into it.
//! The generated bindings would first copy the whole `list<u8>` into a new
//! `Vec`; these take the data as a [`WasmList`] and hand the guest's own
//! bytes to the kernel (at most the message limit of them: a short write,
//! as `write(2)` may make). wasmtime bounds what one call may pass either
//! way (its "hostcall fuel", 128 MiB by default: a guest passing more is
//! trapped); the SDK never passes more than 16 MiB. The receiving ones
//! write while their result is lowered (see [`RecvInto`]).
//!
//! They replace the generated functions under the same names (shadowing),
//! so the names must be exactly the generated ones: they come from
//! [`super::instance_name`], and a test below fails if the generated
//! bindings define them elsewhere. The generated functions, if ever
//! reached, trap with [`not_linked`] instead of quietly copying; a test
//! below tells the two apart.

use wasmtime::component::{Linker, Resource, WasmList};
use wasmtime::StoreContextMut;

use super::instance_name;
use crate::bindings::sockets::FdsMessage;
use crate::bindings::types::{ErrorCode, SendFlags};
use crate::cmsg::layout::Control;
use crate::convert;
use crate::ctx::CapsockView;
use crate::error::CapsockResult;
use crate::resources::{Descriptor, DescriptorIo, Socket, SocketIo};
use crate::wait::Waiting;

use super::sync;

pub(super) const SEND: &str = "[method]socket.send";
pub(super) const WRITE: &str = "[method]descriptor.write";
pub(super) const WRITE_AT: &str = "[method]descriptor.write-at";
pub(super) const RECV_INTO: &str = "[method]socket.recv-into";
pub(super) const RECV_FDS: &str = "[method]socket.recv-fds";

/// The result a WIT function returns: an error code goes to the guest, a
/// trap ends it.
pub(super) fn returned<T>(r: CapsockResult<T>) -> wasmtime::Result<(Result<T, ErrorCode>,)> {
    match r {
        Ok(v) => Ok((Ok(v),)),
        Err(e) => Ok((Err(e.into_code()?),)),
    }
}

/// `socket.send` of the guest's bytes, waiting as `how` says.
pub(super) async fn send<T: CapsockView>(
    caller: &mut StoreContextMut<'_, T>,
    s: &Resource<Socket>,
    data: &WasmList<u8>,
    flags: SendFlags,
    how: Waiting,
) -> CapsockResult<u64> {
    // Everything the send needs leaves the table first: the store is then
    // borrowed for guest memory instead.
    let (io, limits, interrupt): (SocketIo, _, _) = {
        let view = caller.data_mut().capsock();
        let io = view.table.get(s)?.io();
        (io, view.ctx.limits.clone(), view.ctx.interrupt.clone())
    };
    let bytes = data.as_le_slice(&*caller);
    let len = limits.send_size(io.kind().ty, bytes.len())?;
    let flags = convert::send_flags(flags);
    io.send(
        &interrupt,
        &[&bytes[..len]],
        Control::EMPTY,
        None,
        flags,
        how,
    )
    .await
}

/// `descriptor.write` (at `offset`: `write-at`) of the guest's bytes,
/// waiting as `how` says.
pub(super) async fn write<T: CapsockView>(
    caller: &mut StoreContextMut<'_, T>,
    d: &Resource<Descriptor>,
    data: &WasmList<u8>,
    offset: Option<u64>,
    how: Waiting,
) -> CapsockResult<u64> {
    let (io, max, interrupt): (DescriptorIo, _, _) = {
        let view = caller.data_mut().capsock();
        let io = view.table.get_mut(d)?.io()?;
        let max = view.ctx.limits.max_message_bytes;
        (io, max, view.ctx.interrupt.clone())
    };
    let bytes = data.as_le_slice(&*caller);
    io.write(&interrupt, bytes, offset, max, how).await
}

/// `socket.recv-into`'s result, which puts the received bytes into the
/// guest's buffer while wasmtime lowers it: that is the one moment a host
/// function holds guest memory mutably (`LowerContext::as_slice_mut`).
/// Blocking host calls receive right then, so the kernel copies straight
/// into the guest's buffer; async ones cannot wait there, so they receive
/// into a host buffer while awaiting and copy it in. Built on wasmtime's
/// doc-hidden `Lower` / `ComponentType` (the traits its derive macros
/// use); the layout is `result<u64, error-code>`'s, delegated.
pub(super) struct RecvInto {
    buffer: Lent,
    how: Into,
}

/// A buffer the guest lent a call: its address in host memory when the
/// call was lifted, and its length (at most the message limit).
#[derive(Clone, Copy)]
struct Lent {
    addr: usize,
    len: usize,
}

impl Lent {
    fn new(bytes: &[u8], max: usize) -> Lent {
        Lent {
            addr: bytes.as_ptr() as usize,
            len: bytes.len().min(max),
        }
    }

    /// The buffer, found again in the memory being lowered into (no guest
    /// code ran since it was lifted, so it has not moved; checked anyway).
    fn find(self, memory: &mut [u8]) -> wasmtime::Result<&mut [u8]> {
        let base = memory.as_ptr() as usize;
        self.addr
            .checked_sub(base)
            .and_then(|at| memory.get_mut(at..at.checked_add(self.len)?))
            .ok_or_else(|| wasmtime::Error::msg("capsock: a lent buffer left guest memory"))
    }
}

/// When [`RecvInto`] receives.
enum Into {
    /// While it is lowered, blocking the thread as needed.
    Lowering {
        io: SocketIo,
        interrupt: crate::interrupt::Interrupt,
        flags: crate::sys::MsgFlags,
    },
    /// Already: the bytes (at most `len`) or the error.
    Received(Result<Vec<u8>, ErrorCode>),
}

type RecvResult = Result<u64, ErrorCode>;

/// Implements wasmtime's doc-hidden `ComponentType` and `Lower` for
/// `$ty` as `$as` (the WIT result type it stands for): lowering first runs
/// `$fill` with the value and the guest's memory, which gives the `$as`
/// value (or a reference to one) that is then lowered as usual.
macro_rules! lowered_as {
    ($ty:ty, $as:ty, |$this:ident, $memory:ident| $fill:expr) => {
        // SAFETY: the layout and type check are `$as`'s.
        #[allow(unsafe_code)]
        unsafe impl wasmtime::component::ComponentType for $ty {
            type Lower = <$as as wasmtime::component::ComponentType>::Lower;
            const ABI: wasmtime::component::__internal::CanonicalAbiInfo =
                <$as as wasmtime::component::ComponentType>::ABI;

            fn typecheck(
                ty: &wasmtime::component::__internal::InterfaceType,
                types: &wasmtime::component::__internal::InstanceType<'_>,
            ) -> wasmtime::Result<()> {
                <$as as wasmtime::component::ComponentType>::typecheck(ty, types)
            }
        }

        // SAFETY: lowers exactly a `$as`, through its own impl.
        #[allow(unsafe_code)]
        unsafe impl wasmtime::component::Lower for $ty {
            fn linear_lower_to_flat<U>(
                &self,
                cx: &mut wasmtime::component::__internal::LowerContext<'_, U>,
                ty: wasmtime::component::__internal::InterfaceType,
                dst: &mut std::mem::MaybeUninit<Self::Lower>,
            ) -> wasmtime::Result<()> {
                let ($this, $memory) = (self, cx.as_slice_mut());
                let value = $fill?;
                value.linear_lower_to_flat(cx, ty, dst)
            }

            fn linear_lower_to_memory<U>(
                &self,
                cx: &mut wasmtime::component::__internal::LowerContext<'_, U>,
                ty: wasmtime::component::__internal::InterfaceType,
                offset: usize,
            ) -> wasmtime::Result<()> {
                let ($this, $memory) = (self, cx.as_slice_mut());
                let value = $fill?;
                value.linear_lower_to_memory(cx, ty, offset)
            }
        }
    };
}

lowered_as!(RecvInto, RecvResult, |this, memory| this.receive(memory));

impl RecvInto {
    /// Fills the guest's buffer.
    fn receive(&self, memory: &mut [u8]) -> wasmtime::Result<RecvResult> {
        let buf = self.buffer.find(memory)?;
        let r = match &self.how {
            Into::Lowering {
                io,
                interrupt,
                flags,
            } => {
                let wait = crate::resources::Wait::unless(
                    flags.contains(crate::sys::MsgFlags::DONTWAIT),
                    crate::resources::Wait::Receive,
                );
                let fd = io.as_fd();
                sync(io.call(interrupt, wait, Waiting::Thread, |more| {
                    crate::sys::recv_to_slice(fd, buf, *flags | more)
                }))
            }
            Into::Received(Ok(data)) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                Ok(n)
            }
            Into::Received(Err(code)) => return Ok(Err(*code)),
        };
        match r {
            Ok(n) => Ok(Ok(n as u64)),
            Err(e) => Ok(Err(e.into_code()?)),
        }
    }
}

/// `socket.recv-into`, waiting as `how` says: with [`Waiting::Thread`]
/// the receive is left to the lowering of the result; with
/// [`Waiting::Reactor`] it happens here, into a host buffer.
pub(super) async fn recv_into<T: CapsockView>(
    caller: &mut StoreContextMut<'_, T>,
    s: &Resource<Socket>,
    buffer: &WasmList<u8>,
    flags: crate::bindings::types::RecvFlags,
    how: Waiting,
) -> wasmtime::Result<RecvInto> {
    let max = caller.data_mut().capsock().ctx.limits.max_message_bytes;
    let lent = Lent::new(buffer.as_le_slice(&*caller), max);
    let how = match how {
        Waiting::Thread => {
            let view = caller.data_mut().capsock();
            Into::Lowering {
                io: view.table.get(s)?.io(),
                interrupt: view.ctx.interrupt.clone(),
                flags: convert::recv_flags(flags),
            }
        }
        _ => {
            let mut view = caller.data_mut().capsock();
            match view.recv_with(s, lent.len as u64, flags, how).await {
                Ok(data) => Into::Received(Ok(data)),
                Err(e) => Into::Received(Err(e.into_code()?)),
            }
        }
    };
    Ok(RecvInto { buffer: lent, how })
}

/// `socket.recv-fds`'s result, which copies the received bytes into the
/// guest's buffer while wasmtime lowers it, then lowers
/// `result<fds-message, error-code>`. The receive itself happens in the
/// call (the descriptors must enter the resource table, which lowering
/// cannot reach), into a host buffer: one more copy than `recv-into`, of
/// what is usually a few bytes, for one list crossing the boundary
/// instead of three (each a call of the guest's allocator).
pub(super) struct RecvFds {
    buffer: Lent,
    data: Vec<u8>,
    result: FdsResult,
}

type FdsResult = Result<FdsMessage, ErrorCode>;

lowered_as!(RecvFds, FdsResult, |this, memory| this
    .copy_in(memory)
    .map(|()| &this.result));

impl RecvFds {
    /// Puts the received bytes into the guest's buffer.
    fn copy_in(&self, memory: &mut [u8]) -> wasmtime::Result<()> {
        if self.result.is_ok() {
            let buf = self.buffer.find(memory)?;
            // `data` was received with the buffer's length as its limit.
            let n = self.data.len().min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
        }
        Ok(())
    }
}

/// `socket.recv-fds`, waiting as `how` says.
pub(super) async fn recv_fds<T: CapsockView>(
    caller: &mut StoreContextMut<'_, T>,
    s: &Resource<Socket>,
    buffer: &WasmList<u8>,
    max_fds: u32,
    flags: crate::bindings::types::RecvFlags,
    how: Waiting,
) -> wasmtime::Result<RecvFds> {
    let max = caller.data_mut().capsock().ctx.limits.max_message_bytes;
    let lent = Lent::new(buffer.as_le_slice(&*caller), max);
    let mut view = caller.data_mut().capsock();
    let (data, result) = match view
        .recv_fds_with(s, lent.len as u64, max_fds, flags, how)
        .await
    {
        Ok((data, msg)) => (data, Ok(msg)),
        Err(e) => (Vec::new(), Err(e.into_code()?)),
    };
    Ok(RecvFds {
        buffer: lent,
        data,
        result,
    })
}

/// The trap for a call of the sync bindings that did not complete at
/// once (see [`crate::wait::now`]).
fn waited() -> wasmtime::Error {
    wasmtime::Error::msg("capsock: a call of the sync bindings waited on the reactor")
}

/// What the generated `send`, `write`, `write-at`, `recv-into` and
/// `recv-fds` do: they are always replaced by this module's functions, so
/// reaching one is a linking bug.
pub(super) fn not_linked(name: &str) -> crate::error::CapsockError {
    crate::error::CapsockError::trap(wasmtime::Error::msg(format!(
        "capsock: the generated `{name}` was called: its replacement in wit/fast.rs was not linked"
    )))
}

/// Defines this module's functions over the generated ones (the linker must
/// allow shadowing).
pub(super) fn add_to_linker<T: CapsockView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.instance(&instance_name("sockets"))?.func_wrap(
        SEND,
        |mut caller: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, SendFlags)| {
            returned(sync(send(&mut caller, &s, &data, flags, Waiting::Thread)))
        },
    )?;
    linker.instance(&instance_name("sockets"))?.func_wrap(
        RECV_INTO,
        |mut caller: StoreContextMut<'_, T>,
         (s, buffer, flags): (
            Resource<Socket>,
            WasmList<u8>,
            crate::bindings::types::RecvFlags,
        )| {
            let r: wasmtime::Result<RecvInto> =
                crate::wait::now(recv_into(&mut caller, &s, &buffer, flags, Waiting::Thread))
                    .unwrap_or_else(|| Err(waited()));
            Ok((r?,))
        },
    )?;
    linker.instance(&instance_name("sockets"))?.func_wrap(
        RECV_FDS,
        |mut caller: StoreContextMut<'_, T>,
         (s, buffer, max_fds, flags): (
            Resource<Socket>,
            WasmList<u8>,
            u32,
            crate::bindings::types::RecvFlags,
        )| {
            let r = crate::wait::now(recv_fds(
                &mut caller,
                &s,
                &buffer,
                max_fds,
                flags,
                Waiting::Thread,
            ))
            .unwrap_or_else(|| Err(waited()));
            Ok((r?,))
        },
    )?;
    let mut descriptors = linker.instance(&instance_name("descriptors"))?;
    descriptors.func_wrap(
        WRITE,
        |mut caller: StoreContextMut<'_, T>, (d, data): (Resource<Descriptor>, WasmList<u8>)| {
            returned(sync(write(&mut caller, &d, &data, None, Waiting::Thread)))
        },
    )?;
    descriptors.func_wrap(
        WRITE_AT,
        |mut caller: StoreContextMut<'_, T>,
         (d, data, offset): (Resource<Descriptor>, WasmList<u8>, u64)| {
            returned(sync(write(
                &mut caller,
                &d,
                &data,
                Some(offset),
                Waiting::Thread,
            )))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings;
    use crate::ctx::{CapsockCtx, HasCapsock};
    use std::os::fd::AsFd;
    use wasmtime::component::Component;
    use wasmtime::{Config, Engine, Store};
    use wasmtime_wasi::p2::bindings::sync::Command;
    use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
    use wasmtime_wasi::WasiCtx;

    type Host = crate::SandboxState;

    /// With shadowing off, defining a name the generated bindings already
    /// defined fails: so each fast function's name is one the generated
    /// bindings use, and the fast function really replaces it.
    /// Runs the `misuse huge` guest, which hands the host 100 MiB in one
    /// `socket.send` and one `descriptor.write`, with capsock added by
    /// `add`; its output, or the trap.
    fn run_huge(add: fn(&mut Linker<Host>) -> wasmtime::Result<()>) -> wasmtime::Result<String> {
        let engine = Engine::new(&Config::new()).unwrap();
        let component = Component::from_file(&engine, capsock_test_artifacts::MISUSE).unwrap();
        let mut linker = Linker::<Host>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
        add(&mut linker).unwrap();
        let (peer, _other) = std::os::unix::net::UnixStream::pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        let stdout = MemoryOutputPipe::new(1 << 16);
        let mut ctx = CapsockCtx::builder();
        ctx.grant("peer", peer)
            .grant("file", file.as_fd().try_clone_to_owned().unwrap());
        let wasi = WasiCtx::builder()
            .args(&["misuse", "huge"])
            .stdout(stdout.clone())
            .build();
        let host = Host::new(wasi, ctx.build());
        let mut store = Store::new(&engine, host);
        let command = Command::instantiate(&mut store, &component, &linker)?;
        let _ = command.wasi_cli_run().call_run(&mut store)?;
        Ok(String::from_utf8_lossy(&stdout.contents()).into_owned())
    }

    /// With the generated bindings alone the guest's `send` traps, naming
    /// the missing function; with `add_to_linker` the fast functions take
    /// the data in place and answer with short counts.
    #[test]
    fn the_generated_functions_trap_and_the_fast_ones_answer() {
        let generated_only = |linker: &mut Linker<Host>| {
            bindings::types::add_to_linker::<Host, HasCapsock>(linker, Host::capsock)?;
            bindings::descriptors::add_to_linker::<Host, HasCapsock>(linker, Host::capsock)?;
            bindings::sockets::add_to_linker::<Host, HasCapsock>(linker, Host::capsock)?;
            bindings::preopens::add_to_linker::<Host, HasCapsock>(linker, Host::capsock)
        };
        let trap = run_huge(generated_only).expect_err("the generated send traps");
        assert!(
            format!("{trap:?}").contains("`[method]socket.send` was called"),
            "{trap:?}"
        );
        let out = run_huge(crate::add_to_linker_sync).expect("the fast functions take it");
        assert!(out.contains("send=ok:true\n"), "{out}");
        assert!(out.contains(&format!("write=ok:{}\n", 8 << 20)), "{out}");
    }

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
        // The async versions of the calls that wait, likewise.
        for (interface, name) in super::super::reactor::NAMES {
            assert!(taken(&mut linker, interface, name), "{name}");
        }
        assert!(!taken(
            &mut linker,
            "sockets",
            "[method]socket.no-such-method"
        ));
        // And both add_to_linker functions replace them without complaint.
        let mut linker = Linker::<Host>::new(&engine);
        crate::add_to_linker_sync(&mut linker).unwrap();
        let mut linker = Linker::<Host>::new(&engine);
        crate::add_to_linker_async(&mut linker).unwrap();
    }
}
