//! Owned and borrowed handles: the guest's file descriptors.

use std::fmt;
use std::io::{self, Read, Seek, Write};
use std::time::Duration;

use crate::bindings::capsock::sockets::descriptors::{self as wit, Descriptor};
use crate::bindings::capsock::sockets::sockets::{HandleRef, Socket};
pub use crate::bindings::capsock::sockets::types::{DescriptorKind, SocketType};
use crate::error::to_io;
use crate::poll::Ready;
use crate::MAX_WRITE;

/// The most bytes one `read` asks the host for; a larger buffer is filled
/// by a short read, as `read(2)` may do anyway.
const READ_CHUNK: usize = 1 << 20;

/// An open file descriptor the guest owns: received with `SCM_RIGHTS` or
/// granted by the host. Dropping it closes the descriptor.
///
/// It reads and writes like a [`std::fs::File`] where its kind allows
/// ([`Read`], [`Write`], [`Seek`], [`read_at`](Self::read_at),
/// [`write_at`](Self::write_at)); a socket becomes a
/// [`UnixStream`](crate::UnixStream) (or any other socket type) with
/// `try_from`, and any socket becomes an `OwnedHandle` with `from`.
///
/// ```no_run
/// use std::io::Read;
/// use capsock::{SocketExt, UnixStream};
///
/// let sock = UnixStream::preopened("broker")?;
/// let mut text = String::new();
/// for mut h in sock.recv_fds(1024, 1)?.fds {
///     h.read_to_string(&mut text)?;
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct OwnedHandle {
    inner: Descriptor,
}

impl OwnedHandle {
    pub(crate) fn from_wit(inner: Descriptor) -> OwnedHandle {
        OwnedHandle { inner }
    }

    pub(crate) fn wit(&self) -> &Descriptor {
        &self.inner
    }

    /// What the descriptor refers to (`fstat(2)`'s file type).
    pub fn kind(&self) -> DescriptorKind {
        self.inner.get_kind()
    }

    /// The socket type when it is a socket.
    pub fn socket_type(&self) -> Option<SocketType> {
        self.inner.get_socket_type()
    }

    /// `fstat(2)`.
    pub fn metadata(&self) -> io::Result<Metadata> {
        let s = self.inner.stat().map_err(to_io)?;
        Ok(Metadata {
            kind: s.kind,
            len: s.size,
            mode: s.mode,
            link_count: s.link_count,
            inode: s.inode,
            device: s.device,
        })
    }

    /// A second handle on the same open file (`dup(2)`): shared offset.
    pub fn try_clone(&self) -> io::Result<OwnedHandle> {
        self.inner
            .duplicate()
            .map(OwnedHandle::from_wit)
            .map_err(to_io)
    }

    /// `pread(2)`: reads at `offset` without moving the file offset.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let len = buf.len().min(READ_CHUNK);
        let data = self.inner.read_at(len as u64, offset).map_err(to_io)?;
        let n = data.len().min(len);
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    /// `pwrite(2)`: writes at `offset` without moving the file offset.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let buf = &buf[..buf.len().min(MAX_WRITE)];
        self.inner
            .write_at(buf, offset)
            .map(|n| n as usize)
            .map_err(to_io)
    }

    /// `O_NONBLOCK`: reads and writes that would wait fail with
    /// `WouldBlock`. The flag belongs to the open file, as natively: a
    /// [`try_clone`](Self::try_clone) (or the process that sent it) sees it.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.inner.set_nonblocking(on).map_err(to_io)
    }

    /// Reads (of a pipe, FIFO, socket or terminal) that wait longer fail
    /// with `TimedOut`; `None` waits for ever; zero is refused.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner
            .set_read_timeout(timeout_ns(timeout)?)
            .map_err(to_io)
    }

    /// Writes that wait longer for room fail with `TimedOut`.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner
            .set_write_timeout(timeout_ns(timeout)?)
            .map_err(to_io)
    }

    /// Readiness to read (data, end-of-file or an error), for
    /// [`wait`](crate::wait). A regular file is always ready.
    pub fn readable(&self) -> io::Result<Ready> {
        self.inner
            .subscribe()
            .map(|pollable| Ready { pollable })
            .map_err(to_io)
    }

    /// Readiness to write, for [`wait`](crate::wait).
    pub fn writable(&self) -> io::Result<Ready> {
        self.inner
            .subscribe_writable()
            .map(|pollable| Ready { pollable })
            .map_err(to_io)
    }
}

/// A timeout as the host takes it: nanoseconds, `None` for ever; zero is
/// refused (as `std` refuses it).
pub(crate) fn timeout_ns(t: Option<Duration>) -> io::Result<Option<u64>> {
    match t {
        Some(d) if d.is_zero() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a zero timeout (use None, or non-blocking mode)",
        )),
        Some(d) => Ok(Some(d.as_nanos().min(u64::MAX as u128) as u64)),
        None => Ok(None),
    }
}

impl fmt::Debug for OwnedHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedHandle")
            .field("kind", &self.kind())
            .finish()
    }
}

impl Read for &OwnedHandle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(READ_CHUNK);
        let data = self.inner.read(len as u64).map_err(to_io)?;
        let n = data.len().min(len);
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }
}

impl Write for &OwnedHandle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let buf = &buf[..buf.len().min(MAX_WRITE)];
        self.inner.write(buf).map(|n| n as usize).map_err(to_io)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &OwnedHandle {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let from = match pos {
            io::SeekFrom::Start(n) => wit::SeekFrom::Start(n),
            io::SeekFrom::Current(n) => wit::SeekFrom::Current(n),
            io::SeekFrom::End(n) => wit::SeekFrom::End(n),
        };
        self.inner.seek(from).map_err(to_io)
    }
}

impl Read for OwnedHandle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for OwnedHandle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for OwnedHandle {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

/// What `fstat(2)` says of a handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The file type.
    pub kind: DescriptorKind,
    /// Size in bytes of a regular file.
    pub len: u64,
    /// Permission, set-id and sticky bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// `st_nlink`.
    pub link_count: u64,
    /// `st_ino`.
    pub inode: u64,
    /// `st_dev`.
    pub device: u64,
}

/// A handle lent to a send, like [`std::os::fd::BorrowedFd`]: the sender
/// keeps it, the peer gets a copy.
#[derive(Clone, Copy)]
pub struct BorrowedHandle<'a> {
    pub(crate) inner: Borrowed<'a>,
}

#[derive(Clone, Copy)]
pub(crate) enum Borrowed<'a> {
    Socket(&'a Socket),
    Descriptor(&'a Descriptor),
}

impl<'a> BorrowedHandle<'a> {
    pub(crate) fn to_wit(self) -> HandleRef<'a> {
        match self.inner {
            Borrowed::Socket(s) => HandleRef::Socket(s),
            Borrowed::Descriptor(d) => HandleRef::Descriptor(d),
        }
    }
}

impl fmt::Debug for BorrowedHandle<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.inner {
            Borrowed::Socket(_) => "socket",
            Borrowed::Descriptor(_) => "descriptor",
        };
        f.debug_tuple("BorrowedHandle").field(&what).finish()
    }
}

/// Anything that can lend its descriptor to a send, like
/// [`std::os::fd::AsFd`].
pub trait AsHandle {
    /// Borrows the handle.
    fn as_handle(&self) -> BorrowedHandle<'_>;
}

impl AsHandle for OwnedHandle {
    fn as_handle(&self) -> BorrowedHandle<'_> {
        BorrowedHandle {
            inner: Borrowed::Descriptor(&self.inner),
        }
    }
}

impl<T: AsHandle + ?Sized> AsHandle for &T {
    fn as_handle(&self) -> BorrowedHandle<'_> {
        (**self).as_handle()
    }
}

impl AsHandle for BorrowedHandle<'_> {
    fn as_handle(&self) -> BorrowedHandle<'_> {
        *self
    }
}
