//! UDP and TCP sockets, shaped like `std::net`, with the same `send_msg` /
//! `recv_msg` as the Unix sockets and the IP control messages typed.
//!
//! Every address a guest binds, connects or sends to must be allowed by the
//! host's network policy (`capsock run --allow-ip CIDR[:PORTS]`); others
//! fail with `PermissionDenied` before any packet leaves. There is no name
//! resolution: addresses are `std::net::SocketAddr`s.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Shutdown, SocketAddr as IpSocketAddr};

use super::{Ancillary, RecvMsg, Sock, SocketAddr};
use crate::bindings::capsock::sockets::sockets::Socket;
use crate::bindings::capsock::sockets::types::AddressFamily;
use crate::error::to_io;
use crate::handle::SocketType;
use crate::{RecvFlags, SendFlags};

fn family_of(addr: &IpSocketAddr) -> AddressFamily {
    match addr {
        IpSocketAddr::V4(_) => AddressFamily::Ipv4,
        IpSocketAddr::V6(_) => AddressFamily::Ipv6,
    }
}

fn new_sock(family: AddressFamily, ty: SocketType) -> io::Result<Sock> {
    Socket::create_ip(family, ty)
        .map(|inner| Sock { inner })
        .map_err(to_io)
}

fn ip_addr(a: SocketAddr) -> io::Result<IpSocketAddr> {
    match a {
        SocketAddr::Inet(ip) => Ok(ip),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not an IP address: {other:?}"),
        )),
    }
}

/// Methods UDP and TCP sockets share.
macro_rules! ip_common {
    ($name:ident) => {
        impl $name {
            /// `getsockname(2)`.
            pub fn local_addr(&self) -> io::Result<IpSocketAddr> {
                ip_addr(self.sock.local_addr()?)
            }

            super::sock_options!();

            /// `sendmsg(2)` with typed ancillary items ([`Ancillary::Ttl`],
            /// [`Ancillary::Ipv4PacketInfo`], [`Ancillary::SegmentSize`], ...).
            pub fn send_msg(
                &self,
                bufs: &[IoSlice<'_>],
                ancillary: &[Ancillary<'_>],
                flags: SendFlags,
                to: Option<IpSocketAddr>,
            ) -> io::Result<usize> {
                let to = to.map(SocketAddr::Inet);
                self.sock.send_msg(bufs, ancillary, flags, to.as_ref())
            }

            /// `recvmsg(2)`: data into `bufs`, up to `control_space` bytes of
            /// control data (size it with [`cmsg_space`](crate::cmsg_space)).
            /// [`RecvFlags::ERROR_QUEUE`] reads the error queue.
            pub fn recv_msg(
                &self,
                bufs: &mut [IoSliceMut<'_>],
                control_space: usize,
                flags: RecvFlags,
            ) -> io::Result<RecvMsg> {
                self.sock.recv_msg(bufs, control_space, flags)
            }
        }

        super::socket_handle!($name);
    };
}

/// A UDP socket, like `std::net::UdpSocket`.
///
/// ```no_run
/// use capsock::UdpSocket;
///
/// let sock = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
/// sock.send_to(b"ping", "127.0.0.1:9000".parse().unwrap())?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    sock: Sock,
}

ip_common!(UdpSocket);

impl UdpSocket {
    /// A UDP socket bound to `addr` (port 0: any port, where the policy
    /// allows port 0).
    pub fn bind(addr: IpSocketAddr) -> io::Result<UdpSocket> {
        let sock = new_sock(family_of(&addr), SocketType::Datagram)?;
        sock.bind(&SocketAddr::Inet(addr))?;
        Ok(UdpSocket { sock })
    }

    /// An unbound UDP socket of `family` (the kernel binds it on first send).
    pub fn unbound(family: AddressFamily) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            sock: new_sock(family, SocketType::Datagram)?,
        })
    }

    /// `connect(2)`: the default destination, and the only source received.
    pub fn connect(&self, addr: IpSocketAddr) -> io::Result<()> {
        self.sock.connect(&SocketAddr::Inet(addr))
    }

    /// Sends one datagram to the connected address.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send(buf)
    }

    /// Sends one datagram to `addr`.
    pub fn send_to(&self, buf: &[u8], addr: IpSocketAddr) -> io::Result<usize> {
        self.send_msg(&[IoSlice::new(buf)], &[], SendFlags::empty(), Some(addr))
    }

    /// Receives one datagram (the rest of a longer one is discarded).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.recv(buf)
    }

    /// Receives one datagram and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, IpSocketAddr)> {
        let (n, from) = self.sock.recv_into(buf, RecvFlags::empty())?;
        let from = from.ok_or_else(|| io::Error::other("no sender address"))?;
        Ok((n, ip_addr(from)?))
    }

    /// `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<IpSocketAddr> {
        ip_addr(self.sock.peer_addr()?)
    }
}

/// A TCP connection, like `std::net::TcpStream`.
pub struct TcpStream {
    sock: Sock,
}

ip_common!(TcpStream);

impl TcpStream {
    /// Connects to `addr`, which the network policy must allow.
    pub fn connect(addr: IpSocketAddr) -> io::Result<TcpStream> {
        let sock = new_sock(family_of(&addr), SocketType::Stream)?;
        sock.connect(&SocketAddr::Inet(addr))?;
        Ok(TcpStream { sock })
    }

    /// `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<IpSocketAddr> {
        ip_addr(self.sock.peer_addr()?)
    }

    /// `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how)
    }
}

super::stream_io!(TcpStream);

/// A TCP listening socket, like `std::net::TcpListener`.
pub struct TcpListener {
    sock: Sock,
}

ip_common!(TcpListener);

impl TcpListener {
    /// Binds `addr` with `SO_REUSEADDR` (as std does) and listens.
    pub fn bind(addr: IpSocketAddr) -> io::Result<TcpListener> {
        let sock = new_sock(family_of(&addr), SocketType::Stream)?;
        sock.inner.set_reuse_address(true).map_err(to_io)?;
        sock.bind(&SocketAddr::Inet(addr))?;
        sock.listen(128)?;
        Ok(TcpListener { sock })
    }

    /// The next connection and its peer's address.
    pub fn accept(&self) -> io::Result<(TcpStream, IpSocketAddr)> {
        let conn = TcpStream {
            sock: self.sock.accept()?,
        };
        let peer = conn.peer_addr()?;
        Ok((conn, peer))
    }
}
