//! Sockets: Unix domain sockets shaped like `std::os::unix::net`, UDP and
//! TCP sockets shaped like `std::net` (under the host's network policy),
//! and the full `sendmsg` / `recvmsg` with Python's `send_fds` /
//! `recv_fds` on top.
//!
//! # Layout
//!
//! The files follow std's `std/src/os/unix/net/`: [`addr`]
//! ([`UnixSocketAddr`]), [`ancillary`] (control messages, `CMSG_SPACE`,
//! credentials, flags), [`stream`], [`datagram`], [`listener`], plus
//! [`seqpacket`] (no std twin) and [`ip`] (`std::net`'s UDP and TCP). The
//! real work is done once, in the private [`sock`] core that every socket
//! type wraps; the public types are thin wrappers that give it std's names
//! and types.
//!
//! # Where a method lives
//!
//! - **Inherent**, under std's name and signature: whatever std's own type
//!   has — constructors (`connect`, `bind`, `bind_addr`, `pair`,
//!   `unbound`), `send` / `recv` / `send_to` / `recv_from`, addresses,
//!   `set_nonblocking`, `set_read_timeout`, `take_error`, `try_clone`,
//!   `shutdown`, `peer_cred`. Code written against std reads the same,
//!   and each method's documentation names its std twin.
//! - **[`SocketExt`]**, one extension trait: what std lacks and every
//!   socket that carries data shares — `send_msg` / `recv_msg` with typed
//!   ancillary items, `send_fds` / `recv_fds`, receive options, buffer
//!   sizes, readiness. A trait because these are the same on five types
//!   (written once, as default methods over the core, with the socket's
//!   address type as [`SocketExt::Addr`]), because generic code can then
//!   take any data socket, and because it keeps capsock's additions apart
//!   from std's surface, as `std::os::linux::net::UnixSocketExt` does.
//!   Listeners do not implement it: they carry no messages.
//! - Listeners are one generic type, [`Listener<C>`](Listener), whose
//!   three instances are named as std names them (`UnixListener`,
//!   `TcpListener`) plus `UnixSeqpacketListener`: accepting is the same
//!   for every connection type, so it is written once.
//!
//! Macros are kept for trivial impls only (`AsHandle`, `Debug`, the
//! handle conversions, `Read` / `Write`).

mod addr;
mod ancillary;
mod datagram;
mod ext;
mod ip;
mod listener;
mod seqpacket;
pub(crate) mod sock;
mod stream;

pub use addr::UnixSocketAddr;
pub use ancillary::{
    cmsg_len, cmsg_space, Credentials, ErrorOrigin, ExtendedError, MessageFlags, ReceiveOption,
    RecvAncillary, RecvFds, RecvFlags, RecvMsg, SendAncillary, SendFlags, Timestamp, Timestamping,
    TimestampingFlags, FD_SIZE,
};
pub use datagram::UnixDatagram;
pub use ext::SocketExt;
pub use ip::{TcpListener, TcpStream, UdpSocket};
pub use listener::{Connection, Incoming, Listener, UnixListener, UnixSeqpacketListener};
pub use seqpacket::UnixSeqpacket;
pub use sock::IntoSocketError;
pub use stream::UnixStream;
