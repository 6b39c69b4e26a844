//! [`UnixDatagram`]: a Unix datagram socket.

use std::io;
use std::path::Path;

use super::sock::{socket_impls, std_methods, Kind, Sock};
use super::{Credentials, RecvFds, SocketExt, UnixSocketAddr};
use crate::handle::SocketType;

/// A Unix datagram socket (`SOCK_DGRAM`), like
/// `std::os::unix::net::UnixDatagram`; messages with ancillary data
/// through [`SocketExt`].
///
/// ```no_run
/// use capsock::UnixDatagram;
///
/// // capsock run --unix-dir /run/app::/run/app guest.wasm
/// let sock = UnixDatagram::bind("/run/app/client.sock")?;
/// sock.send_to(b"hello", "/run/app/server.sock")?;
/// let mut buf = [0; 64];
/// let (n, from) = sock.recv_from(&mut buf)?;
/// println!("{n} bytes from {:?}", from.as_pathname());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    sock: Sock,
}

const KIND: Kind = Kind {
    unix: true,
    ty: SocketType::Datagram,
};

impl UnixDatagram {
    /// A datagram socket bound to `path` (below a directory the host
    /// granted), like std's `UnixDatagram::bind`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_addr(&UnixSocketAddr::from_pathname(path)?)
    }

    /// A datagram socket bound to `addr` — a path name below a granted
    /// directory, or an abstract name the host allows — like std's
    /// `UnixDatagram::bind_addr`.
    pub fn bind_addr(addr: &UnixSocketAddr) -> io::Result<UnixDatagram> {
        Sock::bound(KIND.ty, addr).map(|sock| UnixDatagram { sock })
    }

    /// A datagram socket with no name, like std's `UnixDatagram::unbound`.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Sock::create(KIND.ty).map(|sock| UnixDatagram { sock })
    }

    /// Two connected datagram sockets (`socketpair(2)`), like std's
    /// `UnixDatagram::pair`; needs no authority.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = Sock::pair(KIND.ty)?;
        Ok((UnixDatagram { sock: a }, UnixDatagram { sock: b }))
    }

    /// `bind(2)` of this socket — one made [`unbound`](Self::unbound), or
    /// received unbound — to `addr`. std has no such method (its
    /// `bind_addr` makes a new socket). A bind that fails leaves the
    /// socket as it was; [`UnixSocketAddr::Unnamed`] asks the kernel for
    /// an abstract name (autobind).
    pub fn bind_to_addr(&self, addr: &UnixSocketAddr) -> io::Result<()> {
        self.sock.bind(addr)
    }

    /// Sets the default destination (and the only source accepted) to the
    /// socket at `path`, like std's `UnixDatagram::connect`.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.connect_addr(&UnixSocketAddr::from_pathname(path)?)
    }

    /// Sets the default destination to `addr`, like std's
    /// `UnixDatagram::connect_addr`.
    pub fn connect_addr(&self, addr: &UnixSocketAddr) -> io::Result<()> {
        self.sock.connect(addr)
    }

    /// `SO_PEERCRED`: the peer's credentials, for a socket pair or a
    /// connected socket (std has `peer_cred` on `UnixStream` only).
    pub fn peer_cred(&self) -> io::Result<Credentials> {
        self.sock.peer_cred()
    }

    /// Sends one datagram to the connected peer, like std's
    /// `UnixDatagram::send`.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send(buf)
    }

    /// Sends one datagram to the socket at `path` (the host must grant
    /// authority for it), like std's `UnixDatagram::send_to`.
    pub fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        self.send_to_addr(buf, &UnixSocketAddr::from_pathname(path)?)
    }

    /// Sends one datagram to `addr`, like std's
    /// `UnixDatagram::send_to_addr`.
    pub fn send_to_addr(&self, buf: &[u8], addr: &UnixSocketAddr) -> io::Result<usize> {
        self.sock.send_to(buf, addr)
    }

    /// Receives one datagram; the rest of a longer one is discarded. Like
    /// std's `UnixDatagram::recv`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.recv(buf)
    }

    /// Receives one datagram and the sender's address, like std's
    /// `UnixDatagram::recv_from`.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, UnixSocketAddr)> {
        let (n, from) = self.sock.recv_from(buf)?;
        Ok((n, from.unwrap_or(UnixSocketAddr::Unnamed)))
    }
}

socket_impls!(UnixDatagram, KIND);
std_methods!(UnixDatagram, UnixSocketAddr, "UnixDatagram", shutdown);

impl SocketExt for UnixDatagram {
    type Addr = UnixSocketAddr;
    // Through `recv-msg`, which reports the sender.
    fn recv_fds(&self, bufsize: usize, maxfds: usize) -> io::Result<RecvFds<Self::Addr>> {
        self.sock.recv_fds(bufsize, maxfds)
    }
}
