//! [`SocketExt`]: what capsock adds to every socket that carries data.

use std::io::{self, IoSlice, IoSliceMut};

use super::sock::{Address, AsSock};
use super::{RecvFds, RecvMsg, SendAncillary};
use crate::bindings::capsock::sockets::sockets::ReceiveOption;
use crate::handle::BorrowedHandle;
use crate::poll::Ready;
use crate::{RecvFlags, SendFlags, TimestampingFlags};

/// capsock's extension of the sockets that carry data — [`UnixStream`],
/// [`UnixDatagram`], [`UnixSeqpacket`], [`UdpSocket`] and [`TcpStream`] —
/// with what std's types lack: the full `sendmsg(2)` / `recvmsg(2)` with
/// typed ancillary items, Python's `send_fds` / `recv_fds`, receive-side
/// control-message options, buffer sizes, and readiness for
/// [`wait`](crate::wait).
///
/// Bring it into scope (`use capsock::SocketExt;`) to call these methods.
/// Listeners do not implement it: they carry no messages. What std's types
/// have (`set_nonblocking`, `set_read_timeout`, `take_error`, `shutdown`,
/// ...) stays inherent, under std's names.
///
/// Each method works the same on every socket type; the address type is
/// the socket's own ([`Addr`](Self::Addr)). Generic code can take any data
/// socket:
///
/// ```no_run
/// use capsock::{SocketExt, UnixStream};
///
/// fn drain(sock: &impl SocketExt) -> std::io::Result<usize> {
///     let mut total = 0;
///     loop {
///         let got = sock.recv_fds(4096, 8)?;
///         if got.data.is_empty() && got.fds.is_empty() {
///             return Ok(total);
///         }
///         total += got.data.len();
///     }
/// }
/// let (a, b) = UnixStream::pair()?;
/// drop(a);
/// assert_eq!(drain(&b)?, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// [`UnixStream`]: crate::UnixStream
/// [`UnixDatagram`]: crate::UnixDatagram
/// [`UnixSeqpacket`]: crate::UnixSeqpacket
/// [`UdpSocket`]: crate::UdpSocket
/// [`TcpStream`]: crate::TcpStream
pub trait SocketExt: AsSock {
    /// The socket's address type: [`UnixSocketAddr`](crate::UnixSocketAddr)
    /// for Unix sockets, [`std::net::SocketAddr`] for UDP and TCP.
    type Addr: Address;

    /// `sendmsg(2)`: gathers `bufs` into one message with `ancillary`
    /// items, to `to` if given (unconnected datagram sockets). Returns the
    /// bytes sent, which on a stream socket may be fewer (at most the
    /// host's message limit goes in one call). std's unstable
    /// `send_vectored_with_ancillary`, with typed items.
    ///
    /// ```no_run
    /// use std::io::IoSlice;
    /// use capsock::{AsHandle, SendAncillary, SendFlags, SocketExt, UnixStream};
    ///
    /// let (a, b) = UnixStream::pair()?;
    /// let lent = [b.as_handle()];
    /// let n = a.send_msg(
    ///     &[IoSlice::new(b"Hel"), IoSlice::new(b"lo")],
    ///     &[SendAncillary::Rights(&lent)],
    ///     SendFlags::empty(),
    ///     None,
    /// )?;
    /// assert_eq!(n, 5);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn send_msg(
        &self,
        bufs: &[IoSlice<'_>],
        ancillary: &[SendAncillary<'_>],
        flags: SendFlags,
        to: Option<&Self::Addr>,
    ) -> io::Result<usize> {
        self.sock()
            .send_msg(bufs, ancillary, flags, to.map(Address::to_wit))
    }

    /// `recvmsg(2)`: scatters the data into `bufs` and receives up to
    /// `control_space` bytes of ancillary data, sized with
    /// [`cmsg_space`](crate::cmsg_space) / [`cmsg_len`](crate::cmsg_len)
    /// exactly as for Python's `recvmsg(bufsize, ancbufsize)`. Items that
    /// do not fit are dropped (their descriptors closed) and
    /// [`CONTROL_TRUNCATED`](crate::MessageFlags::CONTROL_TRUNCATED) is set.
    /// [`RecvFlags::ERROR_QUEUE`] reads an IP socket's error queue. std's
    /// unstable `recv_vectored_with_ancillary`, with typed items.
    ///
    /// ```no_run
    /// use std::io::IoSliceMut;
    /// use capsock::{cmsg_space, RecvFlags, SocketExt, UnixSeqpacket, FD_SIZE};
    ///
    /// let sock = UnixSeqpacket::preopened("peer")?;
    /// let (mut head, mut body) = ([0u8; 4], [0u8; 64]);
    /// let mut bufs = [IoSliceMut::new(&mut head), IoSliceMut::new(&mut body)];
    /// let mut msg = sock.recv_msg(&mut bufs, cmsg_space(4 * FD_SIZE), RecvFlags::empty())?;
    /// let handles = msg.take_handles();
    /// println!("{} bytes, {} handles, {:?}", msg.bytes, handles.len(), msg.flags);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn recv_msg(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        control_space: usize,
        flags: RecvFlags,
    ) -> io::Result<RecvMsg<Self::Addr>> {
        self.sock().recv_msg(bufs, control_space, flags)
    }

    /// Python's `socket.send_fds`: sends `data` with copies of `fds` in one
    /// `SCM_RIGHTS` item (none if `fds` is empty). Unix sockets only: an IP
    /// socket refuses descriptors (`Unsupported`), as Linux would.
    ///
    /// ```no_run
    /// use capsock::{AsHandle, OwnedHandle, SocketExt, UnixStream};
    ///
    /// let sock = UnixStream::preopened("peer")?;
    /// let file: OwnedHandle = capsock::preopened("log")?;
    /// sock.send_fds(b"here", &[file.as_handle()])?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn send_fds(&self, data: &[u8], fds: &[BorrowedHandle<'_>]) -> io::Result<usize> {
        self.sock().send_fds(data, fds)
    }

    /// Python's `socket.recv_fds`: up to `bufsize` bytes and up to `maxfds`
    /// descriptors (control space `CMSG_LEN(maxfds * 4)`, as CPython sizes
    /// it; more are closed and `CONTROL_TRUNCATED` is set). Other ancillary
    /// items are dropped, as CPython ignores them. On stream and seqpacket
    /// sockets this is one `recv-fds` host call, the host writing the data
    /// into the returned vector; datagram sockets go through `recv-msg`,
    /// which also reports the sender (`addr`).
    ///
    /// On a stream socket, empty data and no descriptors mean the peer
    /// closed its end. A stream socket delivers the fds with the bytes
    /// they were sent with, and a receive stops at such a boundary: a peer
    /// that sends one byte per fd (as Twisted's `sendmsg` examples do)
    /// needs one `recv_fds` per fd.
    ///
    /// ```no_run
    /// use std::io::Read;
    /// use capsock::{RecvFds, SocketExt, UnixStream};
    ///
    /// let sock = UnixStream::preopened("broker")?;
    /// let RecvFds { data, fds, .. } = sock.recv_fds(1024, 8)?;
    /// println!("{} with {} files", String::from_utf8_lossy(&data), fds.len());
    /// for mut file in fds {
    ///     let mut text = String::new();
    ///     file.read_to_string(&mut text)?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn recv_fds(&self, bufsize: usize, maxfds: usize) -> io::Result<RecvFds<Self::Addr>> {
        // Datagram sockets override this to report the sender.
        self.sock().recv_fds_connected(bufsize, maxfds)
    }

    /// `recv(2)` of up to `max` bytes into a new vector: the bytes land in
    /// guest memory once, where `recv(&mut buf)` or `read` copy them once
    /// more into the caller's buffer. Descriptors that arrive are closed,
    /// as with `recv(2)`.
    fn recv_vec(&self, max: usize) -> io::Result<Vec<u8>> {
        self.sock().recv_vec(max)
    }

    /// `SO_PASSCRED`: attach the sender's credentials to every message
    /// received (a [`RecvAncillary::Credentials`](crate::RecvAncillary::Credentials)
    /// item), as std's unstable `UnixSocketExt::set_passcred`. The same as
    /// `set_receive_option(ReceiveOption::Credentials, on)`; Unix sockets
    /// only.
    fn set_passcred(&self, on: bool) -> io::Result<()> {
        self.set_receive_option(ReceiveOption::Credentials, on)
    }

    /// Switches a received control message on or off, with the option of
    /// this socket's family ([`ReceiveOption::Pidfd`](crate::ReceiveOption::Pidfd)
    /// for `SCM_PIDFD`, `IP_PKTINFO` or `IPV6_RECVPKTINFO` for
    /// [`ReceiveOption::PacketInfo`](crate::ReceiveOption::PacketInfo), ...).
    /// An option of another family is `Unsupported`.
    fn set_receive_option(&self, which: ReceiveOption, on: bool) -> io::Result<()> {
        self.sock().set_receive_option(which, on)
    }

    /// `SO_TIMESTAMPING`: which timestamps to take and report.
    fn set_timestamping(&self, flags: TimestampingFlags) -> io::Result<()> {
        self.sock().set_timestamping(flags)
    }

    /// `SO_RCVBUF`: asks for a receive buffer of `bytes` (Linux doubles it
    /// for bookkeeping and clamps it to `net.core.rmem_max`).
    fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.sock().set_buffer_size(false, bytes)
    }

    /// `SO_RCVBUF` as the kernel reports it.
    fn recv_buffer_size(&self) -> io::Result<usize> {
        self.sock().buffer_size(false)
    }

    /// `SO_SNDBUF`: asks for a send buffer of `bytes`, as for
    /// [`set_recv_buffer_size`](Self::set_recv_buffer_size).
    fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.sock().set_buffer_size(true, bytes)
    }

    /// `SO_SNDBUF` as the kernel reports it.
    fn send_buffer_size(&self) -> io::Result<usize> {
        self.sock().buffer_size(true)
    }

    /// Readiness to receive (data, end-of-file or an error), for
    /// [`wait`](crate::wait).
    fn readable(&self) -> io::Result<Ready> {
        self.sock().readable()
    }

    /// Readiness to send, for [`wait`](crate::wait).
    fn writable(&self) -> io::Result<Ready> {
        self.sock().writable()
    }
}
