//! `capsock:sockets/descriptors`: file I/O on descriptors a guest holds.

use std::io::{self, Seek};
use std::os::fd::BorrowedFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use wasmtime::component::{Linker, Resource, WasmList};
use wasmtime::StoreContextMut;
use wasmtime_wasi::p2::DynPollable;

use crate::bindings::descriptors::{DescriptorStat, Host, HostDescriptor, SeekFrom};
use crate::bindings::types::{DescriptorKind, ErrorCode, SocketType};
use crate::ctx::{CapsockCtxView, CapsockView};
use crate::error::CapsockResult;
use crate::handles::{kind_of, Descriptor};
use crate::interrupt::Interrupt;
use crate::sys;

/// How a descriptor's reads and writes wait, as the guest set it.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct DescriptorModes {
    /// `O_NONBLOCK` was set through this handle.
    pub nonblocking: bool,
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
}

/// Whether a descriptor of this kind can wait at all (for data or room):
/// regular files, directories and block devices never do.
fn can_wait(kind: DescriptorKind) -> bool {
    matches!(
        kind,
        DescriptorKind::Fifo | DescriptorKind::Socket | DescriptorKind::CharacterDevice
    )
}

/// One read or write of a descriptor, waiting as its modes say.
///
/// Without a timeout it is the plain blocking call (ended early only by the
/// sandbox stopping). With one, it waits for readiness with `poll(2)` for
/// the time left, then makes the call with `RWF_NOWAIT` so that a reader or
/// writer sharing the file that got there first sends it back to waiting
/// instead of blocking; files that cannot do `RWF_NOWAIT` (FIFOs opened by
/// name, terminals) get the plain call after `poll`, which can then wait
/// past the timeout only if someone else drained (or filled) the file in
/// between.
fn transfer(
    interrupt: &Interrupt,
    fd: BorrowedFd<'_>,
    writable: bool,
    timeout: Option<Duration>,
    mut op: impl FnMut(bool) -> io::Result<usize>,
) -> CapsockResult<usize> {
    let Some(timeout) = timeout else {
        return Ok(interrupt.blocking(|| op(false))??);
    };
    let deadline = Instant::now() + timeout;
    let r = interrupt.blocking(|| loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if !sys::wait_ready(fd, writable, Some(left))? {
            return Err(io::Error::from_raw_os_error(libc::ETIMEDOUT));
        }
        match op(true) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return op(false),
            other => return other,
        }
    })?;
    Ok(r?)
}

impl CapsockCtxView<'_> {
    fn descriptor(&self, d: &Resource<Descriptor>) -> CapsockResult<&Descriptor> {
        Ok(self.table.get(d)?)
    }

    /// `read(2)` or `pread(2)` of up to `len` bytes (at most the message
    /// limit: a short read) into a new buffer, without zero-filling it.
    fn read_new(
        &self,
        d: &Resource<Descriptor>,
        len: u64,
        offset: Option<u64>,
    ) -> CapsockResult<Vec<u8>> {
        let len = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(self.ctx.limits.max_message_bytes);
        let desc = self.descriptor(d)?;
        let fd = desc.fd()?;
        let timeout = desc.modes.read_timeout.filter(|_| can_wait(desc.kind()));
        let mut buf = Vec::new();
        transfer(&self.ctx.interrupt, fd, false, timeout, |nowait| {
            sys::read_into(fd, &mut buf, len, offset, nowait)
        })?;
        Ok(buf)
    }

    fn set_descriptor_timeout(
        &mut self,
        d: Resource<Descriptor>,
        write: bool,
        ns: Option<u64>,
    ) -> CapsockResult<()> {
        if ns == Some(0) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let desc = self.table.get_mut(&d)?;
        desc.fd()?;
        let t = ns.map(Duration::from_nanos);
        if write {
            desc.modes.write_timeout = t;
        } else {
            desc.modes.read_timeout = t;
        }
        Ok(())
    }

    fn subscribe_descriptor(
        &mut self,
        d: Resource<Descriptor>,
        writable: bool,
    ) -> CapsockResult<Resource<DynPollable>> {
        let fd = self.table.get_mut(&d)?.shared_fd()?;
        self.subscribe_to(fd, writable)
    }
}

/// `write(2)` / `pwrite(2)` of at most `max` bytes of `data` to a
/// descriptor with `modes`, never raising `SIGPIPE`.
fn write_descriptor(
    interrupt: &Interrupt,
    fd: BorrowedFd<'_>,
    kind: DescriptorKind,
    modes: DescriptorModes,
    data: &[u8],
    offset: Option<u64>,
    max: usize,
) -> CapsockResult<u64> {
    let data = &data[..data.len().min(max)];
    let timeout = modes.write_timeout.filter(|_| can_wait(kind));
    let n = transfer(interrupt, fd, true, timeout, |nowait| {
        // Without RWF_NOWAIT (a FIFO opened by name), at most PIPE_BUF
        // bytes: that much fits once poll(2) reported room.
        let chunk = if timeout.is_some() && !nowait {
            &data[..data.len().min(libc::PIPE_BUF)]
        } else {
            data
        };
        sys::write_nosignal(fd, chunk, offset, nowait)
    })?;
    Ok(n as u64)
}

impl HostDescriptor for CapsockCtxView<'_> {
    fn get_kind(&mut self, d: Resource<Descriptor>) -> wasmtime::Result<DescriptorKind> {
        Ok(self.table.get(&d)?.kind())
    }

    fn get_socket_type(&mut self, d: Resource<Descriptor>) -> wasmtime::Result<Option<SocketType>> {
        Ok(self.table.get(&d)?.socket_type())
    }

    fn read(&mut self, d: Resource<Descriptor>, len: u64) -> CapsockResult<Vec<u8>> {
        self.read_new(&d, len, None)
    }

    // `write` and `write-at` are replaced by `add_fast_writes`, which reads
    // the data in guest memory; these serve a linker without them.
    fn write(&mut self, d: Resource<Descriptor>, data: Vec<u8>) -> CapsockResult<u64> {
        let desc = self.descriptor(&d)?;
        let max = self.ctx.limits.max_message_bytes;
        let (fd, kind) = (desc.fd()?, desc.kind());
        write_descriptor(&self.ctx.interrupt, fd, kind, desc.modes, &data, None, max)
    }

    fn read_at(
        &mut self,
        d: Resource<Descriptor>,
        len: u64,
        offset: u64,
    ) -> CapsockResult<Vec<u8>> {
        self.read_new(&d, len, Some(offset))
    }

    fn write_at(
        &mut self,
        d: Resource<Descriptor>,
        data: Vec<u8>,
        offset: u64,
    ) -> CapsockResult<u64> {
        let desc = self.descriptor(&d)?;
        let max = self.ctx.limits.max_message_bytes;
        let (fd, kind) = (desc.fd()?, desc.kind());
        let offset = Some(offset);
        write_descriptor(
            &self.ctx.interrupt,
            fd,
            kind,
            desc.modes,
            &data,
            offset,
            max,
        )
    }

    fn seek(&mut self, d: Resource<Descriptor>, from: SeekFrom) -> CapsockResult<u64> {
        let pos = match from {
            SeekFrom::Start(n) => io::SeekFrom::Start(n),
            SeekFrom::Current(n) => io::SeekFrom::Current(n),
            SeekFrom::End(n) => io::SeekFrom::End(n),
        };
        Ok(self.descriptor(&d)?.with_file(|mut f| f.seek(pos))??)
    }

    fn stat(&mut self, d: Resource<Descriptor>) -> CapsockResult<DescriptorStat> {
        let m = self.descriptor(&d)?.with_file(|f| f.metadata())??;
        Ok(DescriptorStat {
            kind: kind_of(m.file_type()),
            size: m.size(),
            mode: m.mode() & 0o7777,
            link_count: m.nlink(),
            inode: m.ino(),
            device: m.dev(),
        })
    }

    fn duplicate(&mut self, d: Resource<Descriptor>) -> CapsockResult<Resource<Descriptor>> {
        self.check_room(1)?;
        let copy = self.descriptor(&d)?.with_file(|f| f.try_clone())??;
        self.push_descriptor(Descriptor::new(copy.into()))
    }

    fn set_nonblocking(&mut self, d: Resource<Descriptor>, enable: bool) -> CapsockResult<()> {
        let desc = self.table.get_mut(&d)?;
        sys::set_nonblocking(desc.fd()?, enable)?;
        desc.modes.nonblocking = enable;
        Ok(())
    }

    fn set_read_timeout(&mut self, d: Resource<Descriptor>, ns: Option<u64>) -> CapsockResult<()> {
        self.set_descriptor_timeout(d, false, ns)
    }

    fn set_write_timeout(&mut self, d: Resource<Descriptor>, ns: Option<u64>) -> CapsockResult<()> {
        self.set_descriptor_timeout(d, true, ns)
    }

    fn subscribe(&mut self, d: Resource<Descriptor>) -> CapsockResult<Resource<DynPollable>> {
        self.subscribe_descriptor(d, false)
    }

    fn subscribe_writable(
        &mut self,
        d: Resource<Descriptor>,
    ) -> CapsockResult<Resource<DynPollable>> {
        self.subscribe_descriptor(d, true)
    }

    fn drop(&mut self, d: Resource<Descriptor>) -> wasmtime::Result<()> {
        self.delete(d)
    }
}

impl Host for CapsockCtxView<'_> {}

/// Replaces the generated `[method]descriptor.write` and `write-at` with
/// functions that take the data as a [`WasmList`] and write the guest's own
/// bytes: the generated bindings would first copy the whole list into a
/// `Vec`, and wasmtime traps a guest that hands the host more than 128 MiB
/// in one call ("hostcall fuel"). Here a write of any size is a short write
/// of at most the message limit, as `write(2)` may be.
pub(crate) fn add_fast_writes<T: CapsockView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    fn write<T: CapsockView>(
        caller: &mut StoreContextMut<'_, T>,
        d: &Resource<Descriptor>,
        data: &WasmList<u8>,
        offset: Option<u64>,
    ) -> wasmtime::Result<Result<u64, ErrorCode>> {
        let (fd, kind, modes, max, interrupt) = {
            let view = caller.data_mut().capsock();
            // Shared (an `Arc`) so it stays open while the store is
            // borrowed for guest memory instead of the table.
            let desc = view.table.get_mut(d)?;
            let fd = match desc.shared_fd() {
                Ok(fd) => fd,
                Err(code) => return Ok(Err(code)),
            };
            let max = view.ctx.limits.max_message_bytes;
            (fd, desc.kind(), desc.modes, max, view.ctx.interrupt.clone())
        };
        let bytes = data.as_le_slice(&*caller);
        let fd = std::os::fd::AsFd::as_fd(&*fd);
        match write_descriptor(&interrupt, fd, kind, modes, bytes, offset, max) {
            Ok(n) => Ok(Ok(n)),
            Err(e) => e.into_code().map(Err),
        }
    }
    let mut inst = linker.instance("capsock:sockets/descriptors@0.1.0")?;
    inst.func_wrap(
        "[method]descriptor.write",
        |mut caller: StoreContextMut<'_, T>, (d, data): (Resource<Descriptor>, WasmList<u8>)| {
            Ok((write(&mut caller, &d, &data, None)?,))
        },
    )?;
    inst.func_wrap(
        "[method]descriptor.write-at",
        |mut caller: StoreContextMut<'_, T>,
         (d, data, offset): (Resource<Descriptor>, WasmList<u8>, u64)| {
            Ok((write(&mut caller, &d, &data, Some(offset))?,))
        },
    )
}
