//! [`UnixStream`]: a connected Unix stream socket.

use std::io;
use std::path::Path;

use super::sock::{socket_impls, std_methods, stream_io, Kind, Sock};
use super::{Credentials, SocketExt, UnixSocketAddr};
use crate::handle::SocketType;

/// A connected Unix stream socket (`SOCK_STREAM`), like
/// `std::os::unix::net::UnixStream`. Reads and writes with
/// [`Read`](std::io::Read) and [`Write`](std::io::Write) (on `&UnixStream`
/// too); passes handles with [`send_fds`](SocketExt::send_fds) /
/// [`recv_fds`](SocketExt::recv_fds) and the rest of [`SocketExt`].
///
/// ```no_run
/// use std::io::{Read, Write};
/// use capsock::UnixStream;
///
/// let (mut a, mut b) = UnixStream::pair()?;
/// a.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    sock: Sock,
}

const KIND: Kind = Kind {
    unix: true,
    ty: SocketType::Stream,
};

impl UnixStream {
    /// Connects to the stream socket at `path` (below a directory the host
    /// granted), like std's `UnixStream::connect`.
    ///
    /// ```no_run
    /// // capsock run --unix-dir /run/app::/run/app guest.wasm
    /// let stream = capsock::UnixStream::connect("/run/app/server.sock")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::connect_addr(&UnixSocketAddr::from_pathname(path)?)
    }

    /// Connects to the stream socket at `addr` — a path name below a
    /// granted directory, or an abstract name the host allows — like std's
    /// `UnixStream::connect_addr`.
    pub fn connect_addr(addr: &UnixSocketAddr) -> io::Result<UnixStream> {
        Sock::connected(KIND.ty, addr).map(|sock| UnixStream { sock })
    }

    /// Two connected stream sockets (`socketpair(2)`), like std's
    /// `UnixStream::pair`; needs no authority.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = Sock::pair(KIND.ty)?;
        Ok((UnixStream { sock: a }, UnixStream { sock: b }))
    }

    /// `SO_PEERCRED`: who was at the other end when the connection (or
    /// pair) was made, like std's unstable `UnixStream::peer_cred`.
    pub fn peer_cred(&self) -> io::Result<Credentials> {
        self.sock.peer_cred()
    }
}

socket_impls!(UnixStream, KIND);
std_methods!(UnixStream, UnixSocketAddr, "UnixStream", shutdown);
stream_io!(UnixStream);

impl SocketExt for UnixStream {
    type Addr = UnixSocketAddr;
}
