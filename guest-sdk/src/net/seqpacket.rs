//! [`UnixSeqpacket`]: a connected Unix sequenced-packet socket (std has
//! none; its listener is [`UnixSeqpacketListener`](crate::UnixSeqpacketListener)).

use std::io;
use std::path::Path;

use super::sock::{socket_impls, std_methods, Kind, Sock};
use super::{Credentials, SocketExt, UnixSocketAddr};
use crate::handle::SocketType;

/// A connected Unix sequenced-packet socket (`SOCK_SEQPACKET`): reliable,
/// ordered, message boundaries kept. std has no such type; its methods
/// are [`UnixStream`](crate::UnixStream)'s, with `send` / `recv` of whole
/// packets in place of `Read` / `Write`.
///
/// ```no_run
/// use capsock::UnixSeqpacket;
///
/// let (a, b) = UnixSeqpacket::pair()?;
/// a.send(b"one")?;
/// a.send(b"two")?;
/// let mut buf = [0; 16];
/// assert_eq!(b.recv(&mut buf)?, 3);
/// assert_eq!(&buf[..3], b"one");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixSeqpacket {
    sock: Sock,
}

const KIND: Kind = Kind {
    unix: true,
    ty: SocketType::Seqpacket,
};

impl UnixSeqpacket {
    /// Connects to the seqpacket socket at `path` (below a directory the
    /// host granted), as std's `UnixStream::connect` for streams.
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixSeqpacket> {
        UnixSeqpacket::connect_addr(&UnixSocketAddr::from_pathname(path)?)
    }

    /// Connects to the seqpacket socket at `addr` — a path name below a
    /// granted directory, or an abstract name the host allows — as std's
    /// `UnixStream::connect_addr` for streams.
    pub fn connect_addr(addr: &UnixSocketAddr) -> io::Result<UnixSeqpacket> {
        Sock::connected(KIND.ty, addr).map(|sock| UnixSeqpacket { sock })
    }

    /// Two connected seqpacket sockets (`socketpair(2)`); needs no
    /// authority.
    pub fn pair() -> io::Result<(UnixSeqpacket, UnixSeqpacket)> {
        let (a, b) = Sock::pair(KIND.ty)?;
        Ok((UnixSeqpacket { sock: a }, UnixSeqpacket { sock: b }))
    }

    /// `SO_PEERCRED`: who was at the other end when the connection (or
    /// pair) was made, as std's unstable `UnixStream::peer_cred`.
    pub fn peer_cred(&self) -> io::Result<Credentials> {
        self.sock.peer_cred()
    }

    /// Sends one packet.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send(buf)
    }

    /// Receives one packet; the rest of a longer one is discarded.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.recv(buf)
    }
}

socket_impls!(UnixSeqpacket, KIND);
std_methods!(UnixSeqpacket, UnixSocketAddr, "UnixStream", shutdown);

impl SocketExt for UnixSeqpacket {
    type Addr = UnixSocketAddr;
}
