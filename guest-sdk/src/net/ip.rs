//! UDP and TCP sockets, shaped like `std::net`, with the same
//! [`SocketExt`] as the Unix sockets and the IP control messages typed.
//!
//! Every address a guest binds, connects or sends to must be allowed by the
//! host's network policy (`capsock run --allow-ip CIDR[:PORTS]`); others
//! fail with `PermissionDenied` before any packet leaves. There is no name
//! resolution: addresses are [`std::net::SocketAddr`]s, or what parses as
//! one (`"127.0.0.1:80"`, `(Ipv4Addr::LOCALHOST, 80)`), as std's
//! [`ToSocketAddrs`] takes them.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use super::listener::{Connection, Listener};
use super::sock::{socket_impls, std_methods, stream_io, Kind, Sock};
use super::{RecvFds, SocketExt};
use crate::bindings::capsock::sockets::types::AddressFamily;
use crate::handle::SocketType;

/// `f` on each address `addr` resolves to until one succeeds, as std's
/// `std::net` constructors do: the last error, or `InvalidInput` if there
/// is no address.
fn each_addr<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(&a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// A UDP socket, like `std::net::UdpSocket`; messages with ancillary data
/// (TTL, packet info, GSO, timestamps, the error queue) through
/// [`SocketExt`].
///
/// ```no_run
/// use capsock::UdpSocket;
///
/// // capsock run --allow-ip 127.0.0.1 guest.wasm
/// let sock = UdpSocket::bind("127.0.0.1:0")?;
/// sock.send_to(b"ping", "127.0.0.1:9000")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    sock: Sock,
}

const UDP: Kind = Kind {
    unix: false,
    ty: SocketType::Datagram,
};

impl UdpSocket {
    /// A UDP socket bound to `addr` (port 0: any port, where the policy
    /// allows port 0), like std's `UdpSocket::bind`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(addr, |a| Sock::bound(UDP.ty, a)).map(|sock| UdpSocket { sock })
    }

    /// An unbound UDP socket of `family` (the kernel binds it on the first
    /// send). std has no such constructor.
    pub fn unbound(family: AddressFamily) -> io::Result<UdpSocket> {
        Sock::create_ip(family, UDP.ty).map(|sock| UdpSocket { sock })
    }

    /// `connect(2)`: the default destination, and the only source
    /// received, like std's `UdpSocket::connect`.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr, |a| self.sock.connect(a))
    }

    /// Sends one datagram to the connected address, like std's
    /// `UdpSocket::send`.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send(buf)
    }

    /// Sends one datagram to the first address `addr` resolves to, like
    /// std's `UdpSocket::send_to`.
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        match addr.to_socket_addrs()?.next() {
            Some(to) => self.sock.send_to(buf, &to),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no addresses to send data to",
            )),
        }
    }

    /// Receives one datagram (the rest of a longer one is discarded), like
    /// std's `UdpSocket::recv`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.recv(buf)
    }

    /// Receives one datagram and its sender, like std's
    /// `UdpSocket::recv_from`.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = self.sock.recv_from(buf)?;
        Ok((
            n,
            from.ok_or_else(|| io::Error::other("no sender address"))?,
        ))
    }
}

socket_impls!(UdpSocket, UDP);
std_methods!(UdpSocket, SocketAddr, "UdpSocket");

impl SocketExt for UdpSocket {
    type Addr = SocketAddr;
    // Through `recv-msg`, which reports the sender.
    fn recv_fds(&self, bufsize: usize, maxfds: usize) -> io::Result<RecvFds<Self::Addr>> {
        self.sock.recv_fds(bufsize, maxfds)
    }
}

/// A TCP connection, like `std::net::TcpStream`: [`Read`](std::io::Read)
/// and [`Write`](std::io::Write) (on `&TcpStream` too), and
/// [`SocketExt`] (descriptors are refused: `Unsupported`).
pub struct TcpStream {
    sock: Sock,
}

const TCP: Kind = Kind {
    unix: false,
    ty: SocketType::Stream,
};

impl TcpStream {
    /// Connects to `addr` (each address it resolves to in turn), which
    /// the network policy must allow, like std's `TcpStream::connect`.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, |a| Sock::connected(TCP.ty, a)).map(|sock| TcpStream { sock })
    }
}

socket_impls!(TcpStream, TCP);
std_methods!(TcpStream, SocketAddr, "TcpStream", shutdown);
stream_io!(TcpStream);

impl SocketExt for TcpStream {
    type Addr = SocketAddr;
}

impl Connection for TcpStream {}

/// A TCP listening socket, like `std::net::TcpListener` (see
/// [`Listener`]): `accept` returns `(TcpStream, SocketAddr)`.
///
/// ```no_run
/// use std::io::Write;
/// use capsock::TcpListener;
///
/// // capsock run --allow-ip 127.0.0.1:8080 guest.wasm
/// let listener = TcpListener::bind("127.0.0.1:8080")?;
/// let (mut conn, peer) = listener.accept()?;
/// writeln!(conn, "hello, {peer}")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub type TcpListener = Listener<TcpStream>;

impl Listener<TcpStream> {
    /// Binds `addr` (each address it resolves to in turn) with
    /// `SO_REUSEADDR`, as std does, and listens, like std's
    /// `TcpListener::bind`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |a| Sock::listening(TCP.ty, a, true)).map(Listener::from_sock)
    }
}
