//! [`Listener`]: listening sockets, one type for every connection type —
//! [`UnixListener`], [`UnixSeqpacketListener`] and
//! [`TcpListener`](crate::TcpListener) are its three instances.

use std::fmt;
use std::io;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

use super::sock::{IntoSocketError, Sock};
use super::{SocketExt, UnixSeqpacket, UnixSocketAddr, UnixStream};
use crate::handle::{AsHandle, BorrowedHandle, OwnedHandle};
use crate::poll::Ready;

/// The socket types a [`Listener`] accepts: [`UnixStream`],
/// [`UnixSeqpacket`] and [`TcpStream`](crate::TcpStream) (sealed).
pub trait Connection: SocketExt {}

impl Connection for UnixStream {}
impl Connection for UnixSeqpacket {}

/// A listening socket whose connections are `C`s, like std's
/// `UnixListener` and `TcpListener`: [`UnixListener`] is
/// `Listener<UnixStream>`, [`UnixSeqpacketListener`] is
/// `Listener<UnixSeqpacket>`, [`TcpListener`](crate::TcpListener) is
/// `Listener<TcpStream>`.
///
/// Connections it accepts are ordinary sockets: they can be handed to
/// another guest with [`send_fds`](SocketExt::send_fds).
///
/// ```no_run
/// use std::io::Write;
/// use capsock::UnixListener;
///
/// // capsock run --unix-dir /run/app::/run/app guest.wasm
/// let listener = UnixListener::bind("/run/app/server.sock")?;
/// for conn in &listener {
///     conn?.write_all(b"hello\n")?;
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Listener<C> {
    sock: Sock,
    accepts: PhantomData<fn() -> C>,
}

/// A listening Unix stream socket, like `std::os::unix::net::UnixListener`
/// (see [`Listener`]).
pub type UnixListener = Listener<UnixStream>;

/// A listening Unix seqpacket socket (see [`Listener`]); std has none.
pub type UnixSeqpacketListener = Listener<UnixSeqpacket>;

impl<C: Connection> Listener<C> {
    pub(crate) fn from_sock(sock: Sock) -> Listener<C> {
        Listener {
            sock,
            accepts: PhantomData,
        }
    }

    /// Takes the listening socket the host granted as `name` (`capsock
    /// run --unix-listen`, socket activation). Each grant can be taken
    /// once; a grant of another kind is an `InvalidInput` error (and is
    /// closed).
    pub fn preopened(name: &str) -> io::Result<Listener<C>> {
        Ok(Listener::try_from(crate::preopened(name)?)?)
    }

    /// `accept(2)`: the next connection and its peer's address, like std's
    /// `UnixListener::accept` / `TcpListener::accept`. (The host's accept
    /// returns the socket; its `getpeername(2)` is a second host call,
    /// which [`incoming`](Self::incoming) does not make.)
    pub fn accept(&self) -> io::Result<(C, C::Addr)> {
        let (sock, peer) = self.sock.accept()?;
        Ok((C::from_sock(sock), peer))
    }

    /// An endless iterator of accepted connections (or errors), like std's
    /// `UnixListener::incoming`; `for conn in &listener` does the same.
    pub fn incoming(&self) -> Incoming<'_, C> {
        Incoming { listener: self }
    }

    /// `getsockname(2)`, like std's `UnixListener::local_addr`.
    pub fn local_addr(&self) -> io::Result<C::Addr> {
        self.sock.local_addr()
    }

    /// A second handle on the same socket (`socket.duplicate`), like std's
    /// `UnixListener::try_clone`.
    pub fn try_clone(&self) -> io::Result<Listener<C>> {
        self.sock.try_clone().map(Listener::from_sock)
    }

    /// `O_NONBLOCK`, like std's `UnixListener::set_nonblocking`: `accept`
    /// fails with `WouldBlock` when nothing is pending.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.sock.set_nonblocking(nonblocking)
    }

    /// `SO_RCVTIMEO`: an `accept` that waits longer fails with `TimedOut`;
    /// `None` waits for ever. std has no such method.
    pub fn set_accept_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }

    /// `SO_ERROR`, like std's `UnixListener::take_error`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }

    /// Readiness to accept, for [`wait`](crate::wait).
    pub fn readable(&self) -> io::Result<Ready> {
        self.sock.readable()
    }
}

impl<C: Connection<Addr = UnixSocketAddr>> Listener<C> {
    /// Binds `path` (below a directory the host granted) and listens, like
    /// std's `UnixListener::bind`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Listener<C>> {
        Listener::bind_addr(&UnixSocketAddr::from_pathname(path)?)
    }

    /// Binds `addr` — a path name below a granted directory, or an
    /// abstract name the host allows — and listens, like std's
    /// `UnixListener::bind_addr`.
    pub fn bind_addr(addr: &UnixSocketAddr) -> io::Result<Listener<C>> {
        Sock::listening(C::KIND.ty, addr, false).map(Listener::from_sock)
    }
}

impl<C: Connection> TryFrom<OwnedHandle> for Listener<C> {
    type Error = IntoSocketError;

    /// Turns a handle into a listener of `C`s; fails, giving the handle
    /// back, if it is a socket of another family or type, or no socket.
    /// Whether it listens is not checked: `accept` tells.
    fn try_from(h: OwnedHandle) -> Result<Listener<C>, IntoSocketError> {
        Sock::from_handle(h, C::KIND).map(Listener::from_sock)
    }
}

impl<C> From<Listener<C>> for OwnedHandle {
    /// The listener as a plain descriptor handle: the file descriptor
    /// moves, nothing is closed (`socket.into-descriptor`).
    fn from(l: Listener<C>) -> OwnedHandle {
        l.sock.into_handle()
    }
}

impl<C> AsHandle for Listener<C> {
    fn as_handle(&self) -> BorrowedHandle<'_> {
        self.sock.borrow()
    }
}

impl<C: Connection> fmt::Debug for Listener<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Listener<{}> {{ .. }}", C::NAME)
    }
}

/// The endless iterator of a [`Listener`]'s connections, like std's
/// `std::os::unix::net::Incoming`: each `next` is one `accept`.
pub struct Incoming<'a, C> {
    listener: &'a Listener<C>,
}

impl<C: Connection> Iterator for Incoming<'_, C> {
    type Item = io::Result<C>;

    fn next(&mut self) -> Option<io::Result<C>> {
        Some(self.listener.sock.accept_only().map(C::from_sock))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl<C: Connection> FusedIterator for Incoming<'_, C> {}

impl<C: Connection> fmt::Debug for Incoming<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("listener", self.listener)
            .finish()
    }
}

impl<'a, C: Connection> IntoIterator for &'a Listener<C> {
    type Item = io::Result<C>;
    type IntoIter = Incoming<'a, C>;

    fn into_iter(self) -> Incoming<'a, C> {
        self.incoming()
    }
}
