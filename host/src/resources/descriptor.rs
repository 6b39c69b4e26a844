//! [`Descriptor`]: an open file description a guest holds through a
//! `descriptor` handle, and how its reads and writes wait.

use std::cell::OnceCell;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{SharedFd, Slot};
use crate::bindings::types::{DescriptorKind, ErrorCode, SocketType};
use crate::convert::sock_type_from_libc;
use crate::error::CapsockResult;
use crate::interrupt::Interrupt;
use crate::sys;
use crate::wait::{self, Ready, Waiting};

/// An open file descriptor held by a guest through a `descriptor` handle.
///
/// The kind is read with `fstat(2)` the first time it is asked for, not
/// when the descriptor arrives: receiving many fds costs no extra syscalls.
/// The fd is closed when the handle (and any pollable made from it) is
/// dropped, or moves out when the guest turns the descriptor into a socket.
pub struct Descriptor {
    fd: Option<DescriptorFd>,
    kind: OnceCell<(DescriptorKind, Option<SocketType>)>,
    /// Non-blocking mode and timeouts the guest set.
    pub(crate) modes: DescriptorModes,
    /// The unit of the guest's handle count it holds (see `Socket`).
    pub(crate) slot: Option<Slot>,
}

/// A descriptor's fd: owned outright until a pollable needs to share it
/// (receiving an fd costs no allocation), then shared.
enum DescriptorFd {
    Owned(OwnedFd),
    Shared(Arc<SharedFd>),
}

impl DescriptorFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DescriptorFd::Owned(fd) => fd.as_fd(),
            DescriptorFd::Shared(fd) => fd.as_fd(),
        }
    }

    fn into_shared(self) -> Arc<SharedFd> {
        match self {
            DescriptorFd::Owned(fd) => SharedFd::new(fd),
            DescriptorFd::Shared(fd) => fd,
        }
    }
}

impl Descriptor {
    /// Wraps `fd`.
    pub fn new(fd: OwnedFd) -> Descriptor {
        Descriptor {
            fd: Some(DescriptorFd::Owned(fd)),
            kind: OnceCell::new(),
            modes: Default::default(),
            slot: None,
        }
    }

    /// Wraps an fd a socket handle gave up.
    pub(crate) fn from_shared(fd: Arc<SharedFd>) -> Descriptor {
        Descriptor {
            fd: Some(DescriptorFd::Shared(fd)),
            kind: OnceCell::new(),
            modes: Default::default(),
            slot: None,
        }
    }

    fn classify(&self) -> (DescriptorKind, Option<SocketType>) {
        *self.kind.get_or_init(|| {
            let Some(fd) = &self.fd else {
                return (DescriptorKind::Unknown, None);
            };
            let kind = sys::with_file(fd.as_fd(), |f| f.metadata())
                .map(|m| kind_of(m.file_type()))
                .unwrap_or(DescriptorKind::Unknown);
            let socket_type = match kind {
                DescriptorKind::Socket => sys::socket_type(fd.as_fd())
                    .ok()
                    .and_then(sock_type_from_libc),
                _ => None,
            };
            (kind, socket_type)
        })
    }

    /// What the descriptor refers to.
    pub fn kind(&self) -> DescriptorKind {
        self.classify().0
    }

    /// The socket type, when it is a socket of a type capsock knows.
    pub fn socket_type(&self) -> Option<SocketType> {
        self.classify().1
    }

    /// The fd, or `bad-descriptor` once it has moved out.
    pub fn fd(&self) -> Result<BorrowedFd<'_>, ErrorCode> {
        self.fd
            .as_ref()
            .map(DescriptorFd::as_fd)
            .ok_or(ErrorCode::BadDescriptor)
    }

    /// Runs `f` with the fd as a [`File`] (which it cannot close).
    pub(crate) fn with_file<R>(&self, f: impl FnOnce(&File) -> R) -> Result<R, ErrorCode> {
        Ok(sys::with_file(self.fd()?, f))
    }

    /// Another reference to the fd, for a pollable (sharing it from now on).
    pub(crate) fn shared_fd(&mut self) -> Result<Arc<SharedFd>, ErrorCode> {
        let shared = self
            .fd
            .take()
            .ok_or(ErrorCode::BadDescriptor)?
            .into_shared();
        self.fd = Some(DescriptorFd::Shared(Arc::clone(&shared)));
        Ok(shared)
    }

    /// The descriptor's fd, for the host: its own if no pollable shares it,
    /// else a duplicate (`F_DUPFD_CLOEXEC`); `bad-descriptor` once it moved
    /// out.
    pub fn into_fd(mut self) -> io::Result<OwnedFd> {
        self.take_owned()
    }

    /// Moves the fd out as [`into_fd`](Self::into_fd) does, leaving the
    /// descriptor empty (`bad-descriptor` from then on, its kind kept).
    pub(crate) fn take_owned(&mut self) -> io::Result<OwnedFd> {
        self.classify();
        match self.fd.take() {
            Some(DescriptorFd::Owned(fd)) => Ok(fd),
            Some(DescriptorFd::Shared(fd)) if Arc::strong_count(&fd) > 1 => {
                // A pollable shares it: a duplicate, and if none can be
                // had (`EMFILE`), the descriptor keeps its fd.
                let dup = fd.as_fd().try_clone_to_owned();
                if dup.is_err() {
                    self.fd = Some(DescriptorFd::Shared(fd));
                }
                dup
            }
            Some(DescriptorFd::Shared(fd)) => SharedFd::into_owned(fd),
            None => Err(io::Error::from_raw_os_error(libc::EBADF)),
        }
    }

    /// Moves the fd out; the descriptor answers `bad-descriptor` from then
    /// on (its kind is kept, as read before the move).
    pub(crate) fn take(&mut self) -> Option<Arc<SharedFd>> {
        self.classify();
        self.fd.take().map(DescriptorFd::into_shared)
    }
}

/// What a read or write needs of a descriptor, taken out of the resource
/// table (the fd is shared, an `Arc`): guest memory can then be borrowed
/// for the data meanwhile, and the call can go on on another thread.
/// Both `descriptor.write` paths go through [`DescriptorIo::write`].
pub(crate) struct DescriptorIo {
    fd: Arc<SharedFd>,
    kind: DescriptorKind,
    modes: DescriptorModes,
}

impl Descriptor {
    /// A [`DescriptorIo`] for this descriptor.
    pub(crate) fn io(&mut self) -> Result<DescriptorIo, ErrorCode> {
        Ok(DescriptorIo {
            fd: self.shared_fd()?,
            kind: self.kind(),
            modes: self.modes,
        })
    }
}

impl DescriptorIo {
    /// `read(2)` or `pread(2)` of up to `len` bytes into a new buffer,
    /// without zero-filling it, waiting as the modes say, in the thread or
    /// on the reactor (`how`).
    pub(crate) async fn read(
        &self,
        interrupt: &Interrupt,
        len: usize,
        offset: Option<u64>,
        how: Waiting,
    ) -> CapsockResult<Vec<u8>> {
        let fd = self.fd.as_fd();
        let timeout = self.modes.read_timeout.filter(|_| can_wait(self.kind));
        let mut buf = Vec::new();
        let mut op = |nowait| sys::read_into(fd, &mut buf, len, offset, nowait);
        if how == Waiting::Thread {
            transfer(interrupt, fd, false, timeout, op)?;
            return Ok(buf);
        }
        if self
            .on_reactor(interrupt, false, timeout, &mut op)
            .await?
            .is_some()
        {
            return Ok(buf);
        }
        let fd = Arc::clone(&self.fd);
        let hop = move || {
            let mut buf = Vec::new();
            sys::read_into(fd.as_fd(), &mut buf, len, offset, false).map(|_| buf)
        };
        self.after_ready(interrupt, false, timeout, hop).await
    }

    /// `write(2)` / `pwrite(2)` of at most `max` bytes of `data`, never
    /// raising `SIGPIPE`, waiting as the modes say, in the thread or on the
    /// reactor (`how`).
    pub(crate) async fn write(
        &self,
        interrupt: &Interrupt,
        data: &[u8],
        offset: Option<u64>,
        max: usize,
        how: Waiting,
    ) -> CapsockResult<u64> {
        let fd = self.fd.as_fd();
        let data = &data[..data.len().min(max)];
        let timeout = self.modes.write_timeout.filter(|_| can_wait(self.kind));
        // Without RWF_NOWAIT (a FIFO opened by name), after poll(2), at
        // most PIPE_BUF bytes: that much fits once room was reported.
        let chunk = &data[..data.len().min(libc::PIPE_BUF)];
        let mut op = |nowait: bool| {
            let data = if timeout.is_some() && !nowait {
                chunk
            } else {
                data
            };
            sys::write_nosignal(fd, data, offset, nowait)
        };
        if how == Waiting::Thread {
            return Ok(transfer(interrupt, fd, true, timeout, op)? as u64);
        }
        if let Some(n) = self.on_reactor(interrupt, true, timeout, &mut op).await? {
            return Ok(n as u64);
        }
        let (fd, chunk) = (Arc::clone(&self.fd), chunk.to_vec());
        let hop = move || sys::write_nosignal(fd.as_fd(), &chunk, offset, false);
        Ok(self.after_ready(interrupt, true, timeout, hop).await? as u64)
    }

    /// The reactor's half of a read or write: `op(true)` (`RWF_NOWAIT`)
    /// until it does not meet `EAGAIN`, waiting for readiness in between;
    /// `None` if the file cannot take `RWF_NOWAIT`. Files that never wait,
    /// and non-blocking ones, get one plain call.
    async fn on_reactor(
        &self,
        interrupt: &Interrupt,
        writable: bool,
        timeout: Option<Duration>,
        op: &mut impl FnMut(bool) -> io::Result<usize>,
    ) -> CapsockResult<Option<usize>> {
        if !can_wait(self.kind) || self.modes.nonblocking {
            interrupt.check()?;
            return Ok(Some(op(false)?));
        }
        let deadline = wait::deadline(timeout);
        let r = wait::retry(&self.fd, writable, interrupt, deadline, timed_out, || {
            op(true)
        });
        match r.await? {
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(None),
            other => Ok(Some(other?)),
        }
    }

    /// A read or write of a file that cannot take `RWF_NOWAIT` (a FIFO
    /// opened by name, a terminal): readiness on the reactor, then the
    /// plain call off it ([`wait::hop`]).
    async fn after_ready<T: Send + 'static>(
        &self,
        interrupt: &Interrupt,
        writable: bool,
        timeout: Option<Duration>,
        op: impl FnMut() -> io::Result<T> + Send + 'static,
    ) -> CapsockResult<T> {
        let deadline = wait::deadline(timeout);
        if wait::ready(&self.fd, writable, interrupt, deadline).await? == Ready::TimedOut {
            return Err(ErrorCode::from(timed_out()).into());
        }
        Ok(wait::hop(interrupt, op).await??)
    }
}

fn timed_out() -> io::Error {
    io::Error::from_raw_os_error(libc::ETIMEDOUT)
}

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
            return Err(timed_out());
        }
        match op(true) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return op(false),
            other => return other,
        }
    })?;
    Ok(r?)
}

pub(crate) fn kind_of(ft: std::fs::FileType) -> DescriptorKind {
    if ft.is_file() {
        DescriptorKind::RegularFile
    } else if ft.is_dir() {
        DescriptorKind::Directory
    } else if ft.is_fifo() {
        DescriptorKind::Fifo
    } else if ft.is_socket() {
        DescriptorKind::Socket
    } else if ft.is_char_device() {
        DescriptorKind::CharacterDevice
    } else if ft.is_block_device() {
        DescriptorKind::BlockDevice
    } else if ft.is_symlink() {
        DescriptorKind::SymbolicLink
    } else {
        DescriptorKind::Unknown
    }
}
