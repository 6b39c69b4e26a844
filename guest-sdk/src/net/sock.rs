//! The private core every socket type wraps: one host `socket` resource,
//! and the one implementation of each operation. The public types are thin
//! wrappers that give these operations std's names and types.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::time::Duration;

use super::ancillary::{self, cmsg_len, RecvAncillary, RecvFds, RecvMsg, SendAncillary, FD_SIZE};
use super::Credentials;
use crate::bindings::capsock::sockets::sockets::{AncillaryIn, ReceiveOption, Socket};
use crate::bindings::capsock::sockets::types::{
    AddressFamily, AddressParam, AddressResult, RecvFlags, SendFlags, ShutdownHow,
};
use crate::error::to_io;
use crate::handle::{BorrowedHandle, OwnedHandle, SocketType};
use crate::poll::Ready;
use crate::{TimestampingFlags, MAX_WRITE};

/// How a connection backlog is sized when `listen(2)` is called for the
/// caller (std uses 128 too).
const BACKLOG: u32 = 128;

/// What a socket type wraps: its family and socket type, checked when a
/// handle becomes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    /// Unix or IP.
    pub unix: bool,
    /// `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    pub ty: SocketType,
}

impl Kind {
    fn has_family(self, family: AddressFamily) -> bool {
        self.unix == (family == AddressFamily::Unix)
    }

    fn family_name(self) -> &'static str {
        if self.unix {
            "Unix"
        } else {
            "IP"
        }
    }
}

/// The socket types: how the shared code reaches the core of each (sealed:
/// no type outside this crate implements it).
pub trait AsSock: Sized {
    /// The type's name, for `Debug`.
    const NAME: &'static str;
    /// What a handle must be to become this type.
    const KIND: Kind;
    /// The core.
    fn sock(&self) -> &Sock;
    /// Wraps a core of the right kind.
    fn from_sock(sock: Sock) -> Self;
}

/// The two address types, [`UnixSocketAddr`](super::UnixSocketAddr) and
/// [`std::net::SocketAddr`] (sealed).
pub trait Address: Sized {
    /// A new socket of this address's family and type `ty`.
    fn socket(&self, ty: SocketType) -> io::Result<Sock>;
    /// The address as the host takes it.
    fn to_wit(&self) -> AddressParam<'_>;
    /// The address the host gave, if it is of this family.
    fn from_wit(a: AddressResult) -> Option<Self>;
}

/// The one host `socket` behind every socket type.
pub struct Sock {
    pub(crate) inner: Socket,
}

impl Sock {
    pub(crate) fn new(inner: Socket) -> Sock {
        Sock { inner }
    }

    /// `socket(AF_UNIX, ty)`: neither bound nor connected.
    pub(crate) fn create(ty: SocketType) -> io::Result<Sock> {
        Socket::create(ty).map(Sock::new).map_err(to_io)
    }

    /// `socket(AF_INET or AF_INET6, ty)`, under the network policy.
    pub(crate) fn create_ip(family: AddressFamily, ty: SocketType) -> io::Result<Sock> {
        Socket::create_ip(family, ty).map(Sock::new).map_err(to_io)
    }

    pub(crate) fn pair(ty: SocketType) -> io::Result<(Sock, Sock)> {
        let (a, b) = Socket::pair(ty).map_err(to_io)?;
        Ok((Sock::new(a), Sock::new(b)))
    }

    /// A new socket bound to `addr`.
    pub(crate) fn bound<A: Address>(ty: SocketType, addr: &A) -> io::Result<Sock> {
        let sock = addr.socket(ty)?;
        sock.bind(addr)?;
        Ok(sock)
    }

    /// A new socket connected to `addr`.
    pub(crate) fn connected<A: Address>(ty: SocketType, addr: &A) -> io::Result<Sock> {
        let sock = addr.socket(ty)?;
        sock.connect(addr)?;
        Ok(sock)
    }

    /// A new socket listening at `addr`; `reuse` sets `SO_REUSEADDR`
    /// first (as std's `TcpListener::bind` does).
    pub(crate) fn listening<A: Address>(ty: SocketType, addr: &A, reuse: bool) -> io::Result<Sock> {
        let sock = addr.socket(ty)?;
        if reuse {
            sock.inner.set_reuse_address(true).map_err(to_io)?;
        }
        sock.bind(addr)?;
        sock.inner.listen(BACKLOG).map_err(to_io)?;
        Ok(sock)
    }

    /// The handle as a socket of `kind`; on any mismatch the handle comes
    /// back in the error, still open.
    pub(crate) fn from_handle(h: OwnedHandle, kind: Kind) -> Result<Sock, IntoSocketError> {
        let error = match h.socket_type() {
            Some(t) if t == kind.ty => match Socket::from_descriptor(h.wit()) {
                Ok(inner) if kind.has_family(inner.family()) => return Ok(Sock::new(inner)),
                Ok(inner) => {
                    // The fd moved into `inner`: move it back into a handle.
                    let error = io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "a {:?} socket, not a {} socket",
                            inner.family(),
                            kind.family_name()
                        ),
                    );
                    let handle = Sock::new(inner).into_handle();
                    return Err(IntoSocketError { error, handle });
                }
                Err(code) => to_io(code),
            },
            Some(t) => io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a {} socket, not a {} socket",
                    type_name(t),
                    type_name(kind.ty)
                ),
            ),
            None => io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a {:?}, not a socket", h.kind()),
            ),
        };
        Err(IntoSocketError { error, handle: h })
    }

    /// The socket as a plain descriptor handle (`socket.into-descriptor`:
    /// the fd moves, nothing is closed).
    pub(crate) fn into_handle(self) -> OwnedHandle {
        OwnedHandle::from_wit(Socket::into_descriptor(self.inner))
    }

    pub(crate) fn borrow(&self) -> BorrowedHandle<'_> {
        BorrowedHandle {
            inner: crate::handle::Borrowed::Socket(&self.inner),
        }
    }

    pub(crate) fn try_clone(&self) -> io::Result<Sock> {
        self.inner.duplicate().map(Sock::new).map_err(to_io)
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner
            .take_error()
            .map(|pending| pending.map(to_io))
            .map_err(to_io)
    }

    pub(crate) fn bind<A: Address>(&self, addr: &A) -> io::Result<()> {
        self.inner.bind(addr.to_wit()).map_err(to_io)
    }

    pub(crate) fn connect<A: Address>(&self, addr: &A) -> io::Result<()> {
        self.inner.connect(addr.to_wit()).map_err(to_io)
    }

    /// `accept(2)` and the peer's address (`getpeername(2)` of the new
    /// socket: the host's `accept` returns the socket alone).
    pub(crate) fn accept<A: Address>(&self) -> io::Result<(Sock, A)> {
        let conn = self.accept_only()?;
        let peer = conn.peer_addr()?;
        Ok((conn, peer))
    }

    /// `accept(2)` alone.
    pub(crate) fn accept_only(&self) -> io::Result<Sock> {
        self.inner.accept().map(Sock::new).map_err(to_io)
    }

    pub(crate) fn local_addr<A: Address>(&self) -> io::Result<A> {
        typed(self.inner.local_address().map_err(to_io)?)
    }

    pub(crate) fn peer_addr<A: Address>(&self) -> io::Result<A> {
        typed(self.inner.remote_address().map_err(to_io)?)
    }

    pub(crate) fn peer_cred(&self) -> io::Result<Credentials> {
        self.inner
            .peer_credentials()
            .map(Credentials::from)
            .map_err(to_io)
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let how = match how {
            Shutdown::Read => ShutdownHow::Receive,
            Shutdown::Write => ShutdownHow::Send,
            Shutdown::Both => ShutdownHow::Both,
        };
        self.inner.shutdown(how).map_err(to_io)
    }

    pub(crate) fn readable(&self) -> io::Result<Ready> {
        self.inner
            .subscribe()
            .map(|pollable| Ready { pollable })
            .map_err(to_io)
    }

    pub(crate) fn writable(&self) -> io::Result<Ready> {
        self.inner
            .subscribe_writable()
            .map(|pollable| Ready { pollable })
            .map_err(to_io)
    }

    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.inner.set_nonblocking(on).map_err(to_io)
    }

    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        let ns = crate::handle::timeout_ns(t)?;
        self.inner.set_receive_timeout(ns).map_err(to_io)
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        let ns = crate::handle::timeout_ns(t)?;
        self.inner.set_send_timeout(ns).map_err(to_io)
    }

    pub(crate) fn set_receive_option(&self, which: ReceiveOption, on: bool) -> io::Result<()> {
        self.inner.set_receive_option(which, on).map_err(to_io)
    }

    pub(crate) fn set_timestamping(&self, flags: TimestampingFlags) -> io::Result<()> {
        self.inner.set_timestamping(flags).map_err(to_io)
    }

    pub(crate) fn set_buffer_size(&self, send: bool, bytes: usize) -> io::Result<()> {
        let bytes = bytes as u64;
        if send {
            self.inner.set_send_buffer_size(bytes).map_err(to_io)
        } else {
            self.inner.set_receive_buffer_size(bytes).map_err(to_io)
        }
    }

    pub(crate) fn buffer_size(&self, send: bool) -> io::Result<usize> {
        let size = if send {
            self.inner.send_buffer_size()
        } else {
            self.inner.receive_buffer_size()
        };
        size.map(|n| n as usize).map_err(to_io)
    }

    /// One `send` host call: no gather list, no ancillary items.
    pub(crate) fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .send(buf, SendFlags::empty())
            .map(|n| n as usize)
            .map_err(to_io)
    }

    /// `sendmsg(2)`.
    pub(crate) fn send_msg(
        &self,
        bufs: &[IoSlice<'_>],
        items: &[SendAncillary<'_>],
        flags: SendFlags,
        to: Option<AddressParam<'_>>,
    ) -> io::Result<usize> {
        let data: Vec<&[u8]> = bufs.iter().map(|b| &**b).collect();
        let rights = ancillary::rights_lists(items);
        let items = ancillary::to_wit_items(items, &rights);
        self.inner
            .send_msg(&data, &items, flags, to)
            .map(|n| n as usize)
            .map_err(to_io)
    }

    /// `sendmsg(2)` of `data` to `to`, or to the peer.
    pub(crate) fn send_to<A: Address>(&self, data: &[u8], to: &A) -> io::Result<usize> {
        let to = Some(to.to_wit());
        self.send_msg(&[IoSlice::new(data)], &[], SendFlags::empty(), to)
    }

    /// Python's `send_fds`: `data` with one `SCM_RIGHTS` item (none if
    /// `fds` is empty).
    pub(crate) fn send_fds(&self, data: &[u8], fds: &[BorrowedHandle<'_>]) -> io::Result<usize> {
        let items = [SendAncillary::Rights(fds)];
        let items = if fds.is_empty() { &items[..0] } else { &items };
        self.send_msg(&[IoSlice::new(data)], items, SendFlags::empty(), None)
    }

    /// `Write::write` for a stream: one `send` of at most [`MAX_WRITE`]
    /// bytes (a short write).
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.send(&buf[..buf.len().min(MAX_WRITE)])
    }

    /// `Write::write_vectored` for a stream: one `send-msg` of at most
    /// [`MAX_WRITE`] bytes (a short write).
    pub(crate) fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut left = MAX_WRITE;
        let mut clipped = Vec::with_capacity(bufs.len());
        for b in bufs {
            if left == 0 {
                break;
            }
            let n = b.len().min(left);
            clipped.push(IoSlice::new(&b[..n]));
            left -= n;
        }
        self.send_msg(&clipped, &[], SendFlags::empty(), None)
    }

    /// One `recv` host call: data only, in the vector the host filled.
    pub(crate) fn recv_vec(&self, max: usize) -> io::Result<Vec<u8>> {
        self.inner
            .recv(max as u64, RecvFlags::empty())
            .map_err(to_io)
    }

    /// One `recv` host call: data only, copied into `buf`.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        recv_into::recv_into(&self.inner, buf, RecvFlags::empty())
    }

    /// `recvfrom(2)`: one datagram into `buf`, and its sender.
    pub(crate) fn recv_from<A: Address>(&self, buf: &mut [u8]) -> io::Result<(usize, Option<A>)> {
        let m = self.recv_msg(&mut [IoSliceMut::new(buf)], 0, RecvFlags::empty())?;
        Ok((m.bytes, m.addr))
    }

    /// `recvmsg(2)`: scatters the data into `bufs`.
    pub(crate) fn recv_msg<A: Address>(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        control_space: usize,
        flags: RecvFlags,
    ) -> io::Result<RecvMsg<A>> {
        let max: usize = bufs.iter().map(|b| b.len()).sum();
        let m = self
            .inner
            .recv_msg(max as u64, control_space as u64, flags)
            .map_err(to_io)?;
        // Never trust a count beyond the buffers.
        let mut rest = &m.data[..m.data.len().min(max)];
        let bytes = rest.len();
        for buf in bufs.iter_mut() {
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        Ok(RecvMsg {
            bytes,
            ancillary: m
                .ancillary
                .into_iter()
                .map(RecvAncillary::from_wit)
                .collect(),
            flags: m.flags,
            addr: m.address.and_then(A::from_wit),
        })
    }

    /// Python's `recv_fds` in one `recv-fds` host call, for sockets whose
    /// sender needs no reporting (stream and seqpacket): the host writes
    /// the data into a new vector of `bufsize` bytes' capacity.
    pub(crate) fn recv_fds_connected<A: Address>(
        &self,
        bufsize: usize,
        maxfds: usize,
    ) -> io::Result<RecvFds<A>> {
        // The host receives at most its message limit (8 MiB by default)
        // in one call: no larger buffer is needed, and none is allocated
        // for a `bufsize` the guest's memory could not hold.
        let mut data = Vec::with_capacity(bufsize.min(MAX_WRITE));
        let max_fds = u32::try_from(maxfds).unwrap_or(u32::MAX);
        let (len, fds, flags) =
            recv_fds::recv_fds(&self.inner, data.spare_capacity_mut(), max_fds)?;
        // SAFETY: the host initialised the first `len` bytes (`len` is at
        // most the capacity: checked by `recv_fds`).
        #[allow(unsafe_code)]
        unsafe {
            data.set_len(len)
        };
        Ok(RecvFds {
            data,
            fds,
            flags,
            addr: None,
        })
    }

    /// Python's `recv_fds` through `recv-msg`, which reports the sender
    /// (datagram sockets): control space `CMSG_LEN(maxfds * 4)`, as
    /// CPython sizes it; the data stays in the vector the host filled.
    pub(crate) fn recv_fds<A: Address>(
        &self,
        bufsize: usize,
        maxfds: usize,
    ) -> io::Result<RecvFds<A>> {
        let space = cmsg_len(maxfds.saturating_mul(FD_SIZE));
        let m = self
            .inner
            .recv_msg(bufsize as u64, space as u64, RecvFlags::empty())
            .map_err(to_io)?;
        let mut data = m.data;
        data.truncate(bufsize);
        let mut fds = Vec::new();
        for item in m.ancillary {
            // Other items (a pidfd, say) are dropped, as CPython ignores them.
            if let AncillaryIn::Rights(ds) = item {
                fds.extend(ds.into_iter().map(OwnedHandle::from_wit));
            }
        }
        Ok(RecvFds {
            data,
            fds,
            flags: m.flags,
            addr: m.address.and_then(A::from_wit),
        })
    }
}

/// An address of the socket's own family, or `InvalidData`.
fn typed<A: Address>(a: AddressResult) -> io::Result<A> {
    A::from_wit(a).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the host gave an address of another family",
        )
    })
}

fn type_name(ty: SocketType) -> &'static str {
    match ty {
        SocketType::Stream => "stream",
        SocketType::Datagram => "datagram",
        SocketType::Seqpacket => "seqpacket",
    }
}

/// A handle could not become a socket of the requested type (`TryFrom`,
/// `preopened`); the handle is given back, still open.
#[derive(Debug)]
pub struct IntoSocketError {
    error: io::Error,
    handle: OwnedHandle,
}

impl IntoSocketError {
    /// Why the conversion failed.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The handle, still open.
    pub fn into_handle(self) -> OwnedHandle {
        self.handle
    }
}

impl fmt::Display for IntoSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a socket of the requested type: {}", self.error)
    }
}

impl std::error::Error for IntoSocketError {}

impl From<IntoSocketError> for io::Error {
    fn from(e: IntoSocketError) -> io::Error {
        e.error
    }
}

/// The trivial impls every socket type has: the core accessor
/// ([`AsSock`]), [`AsHandle`](crate::AsHandle) (so the socket can be sent
/// with `SCM_RIGHTS`), an opaque `Debug`, `TryFrom<OwnedHandle>` and
/// `From<_> for OwnedHandle`.
macro_rules! socket_impls {
    ($name:ident, $kind:expr) => {
        impl $crate::net::sock::AsSock for $name {
            const NAME: &'static str = stringify!($name);
            const KIND: $crate::net::sock::Kind = $kind;

            fn sock(&self) -> &$crate::net::sock::Sock {
                &self.sock
            }

            fn from_sock(sock: $crate::net::sock::Sock) -> $name {
                $name { sock }
            }
        }

        impl $crate::AsHandle for $name {
            fn as_handle(&self) -> $crate::BorrowedHandle<'_> {
                self.sock.borrow()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }

        impl TryFrom<$crate::OwnedHandle> for $name {
            type Error = $crate::IntoSocketError;

            #[doc = concat!("Turns a handle (received, or granted by the host) into a `", stringify!($name), "`;")]
            /// fails, giving the handle back, if it is a socket of another
            /// family or type, or no socket.
            fn try_from(h: $crate::OwnedHandle) -> Result<$name, $crate::IntoSocketError> {
                $crate::net::sock::Sock::from_handle(h, $kind).map(|sock| $name { sock })
            }
        }

        impl From<$name> for $crate::OwnedHandle {
            #[doc = concat!("The `", stringify!($name), "` as a plain descriptor handle: the file")]
            /// descriptor moves, nothing is closed (`socket.into-descriptor`).
            fn from(s: $name) -> $crate::OwnedHandle {
                s.sock.into_handle()
            }
        }
    };
}
pub(crate) use socket_impls;

/// The inherent methods std's socket types share, under std's names:
/// one-line calls of the core, documented with `$std`, the std type whose
/// methods they mirror. `$addr` is the socket's address type; `shutdown`
/// adds std's `shutdown` (which `UdpSocket` lacks).
macro_rules! std_methods {
    ($name:ident, $addr:ty, $std:literal, shutdown) => {
        $crate::net::sock::std_methods!($name, $addr, $std);

        impl $name {
            #[doc = concat!("`shutdown(2)`, like std's `", $std, "::shutdown`.")]
            pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.sock.shutdown(how)
            }
        }
    };
    ($name:ident, $addr:ty, $std:literal) => {
        impl $name {
            /// Takes the socket the host granted as `name` (`capsock run
            /// --fd`, `--unix-connect`). Each grant can be taken once; a grant of another kind is an
            /// `InvalidInput` error (and is closed).
            pub fn preopened(name: &str) -> std::io::Result<$name> {
                Ok($name::try_from($crate::preopened(name)?)?)
            }

            #[doc = concat!("A second handle on the same socket (`socket.duplicate`), like std's `", $std, "::try_clone`.")]
            pub fn try_clone(&self) -> std::io::Result<$name> {
                self.sock.try_clone().map(|sock| $name { sock })
            }

            #[doc = concat!("`getsockname(2)`, like std's `", $std, "::local_addr`.")]
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.sock.local_addr()
            }

            #[doc = concat!("`getpeername(2)`, like std's `", $std, "::peer_addr`.")]
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.sock.peer_addr()
            }

            #[doc = concat!("`SO_RCVTIMEO`, like std's `", $std, "::set_read_timeout`: receives that")]
            /// wait longer fail with `TimedOut`; `None` waits for ever; zero
            /// is refused (`InvalidInput`).
            pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> std::io::Result<()> {
                self.sock.set_read_timeout(timeout)
            }

            #[doc = concat!("`SO_SNDTIMEO`, like std's `", $std, "::set_write_timeout`: sends that")]
            /// wait longer fail with `TimedOut`.
            pub fn set_write_timeout(&self, timeout: Option<std::time::Duration>) -> std::io::Result<()> {
                self.sock.set_write_timeout(timeout)
            }

            #[doc = concat!("`O_NONBLOCK`, like std's `", $std, "::set_nonblocking`: calls that would")]
            /// wait fail with `WouldBlock`.
            pub fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
                self.sock.set_nonblocking(nonblocking)
            }

            #[doc = concat!("`SO_ERROR`: the pending error, cleared by reading it, like std's `", $std, "::take_error`.")]
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.sock.take_error()
            }
        }
    };
}
pub(crate) use std_methods;

/// `Read` and `Write` for a stream socket type and for references to it
/// (like std's impls for `UnixStream` and `&UnixStream`), one host call
/// each.
macro_rules! stream_io {
    ($name:ident) => {
        $crate::net::sock::stream_io!(@impl $name);
        $crate::net::sock::stream_io!(@impl &$name);
    };
    (@impl $t:ty) => {
        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.sock.recv(buf)
            }
        }

        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.sock.write(buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.sock.write_vectored(bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use stream_io;

/// `socket.recv-fds`, declared by hand for the reason `recv_into` is.
mod recv_fds {
    use std::io;
    use std::mem::MaybeUninit;

    use crate::bindings::capsock::sockets::sockets::Socket;
    #[cfg(target_arch = "wasm32")]
    use crate::bindings::capsock::sockets::types::ErrorCode;
    use crate::bindings::capsock::sockets::types::{MessageFlags, RecvFlags};
    use crate::error::to_io;
    use crate::handle::OwnedHandle;

    #[cfg(target_arch = "wasm32")]
    #[link(wasm_import_module = "capsock:sockets/sockets@0.1.0")]
    extern "C" {
        /// The canonical ABI's lowering of `recv-fds: func(buffer:
        /// list<u8>, max-fds: u32, flags: recv-flags) ->
        /// result<fds-message, error-code>`.
        #[link_name = "[method]socket.recv-fds"]
        fn import(handle: i32, ptr: *mut u8, len: usize, max_fds: i32, flags: i32, ret: *mut Ret);
    }

    /// `result<fds-message, error-code>` in memory: the case at 0, the
    /// payload at 8; in `fds-message` (24 bytes, 8-aligned) `len: u64` at
    /// 0, `fds: list<descriptor>` (pointer, count) at 8 and 12, the five
    /// `message-flags` in one byte at 16.
    #[repr(C, align(8))]
    struct Ret([u8; 32]);

    /// What the return area holds at `at`, four bytes.
    #[cfg(target_arch = "wasm32")]
    fn u32_at(ret: &Ret, at: usize) -> u32 {
        u32::from_le_bytes(ret.0[at..at + 4].try_into().expect("4 bytes"))
    }

    /// Receives into `buf`: the count, the descriptors and the flags.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn recv_fds(
        sock: &Socket,
        buf: &mut [MaybeUninit<u8>],
        max_fds: u32,
    ) -> io::Result<(usize, Vec<OwnedHandle>, MessageFlags)> {
        let mut ret = Ret([0; 32]);
        // SAFETY: `buf` is writable for its length and outlives the call;
        // `ret` is the result area the canonical ABI wants (32 bytes, 8
        // aligned). The host writes at most `buf.len()` bytes into `buf`.
        #[allow(unsafe_code)]
        unsafe {
            import(
                sock.handle() as i32,
                buf.as_mut_ptr().cast(),
                buf.len(),
                max_fds as i32,
                RecvFlags::empty().bits() as i32,
                &mut ret,
            );
        }
        if ret.0[0] != 0 {
            // SAFETY: the host lowered an `error-code` case.
            #[allow(unsafe_code)]
            return Err(to_io(unsafe { ErrorCode::_lift(ret.0[8]) }));
        }
        let len = u64::from_le_bytes(ret.0[8..16].try_into().expect("8 bytes"));
        let (base, count) = (u32_at(&ret, 16) as usize, u32_at(&ret, 20) as usize);
        // SAFETY: the host lowered a `list<descriptor>` of `count` owned
        // handles at `base`, allocated with this module's allocator
        // (`cabi_realloc`, four-byte aligned), which is ours to free, as
        // wit-bindgen's lifting does.
        #[allow(unsafe_code)]
        let fds = unsafe {
            let handles = std::slice::from_raw_parts(base as *const u32, count);
            let fds = handles
                .iter()
                .map(|&h| {
                    OwnedHandle::from_wit(
                        crate::bindings::capsock::sockets::descriptors::Descriptor::from_handle(h),
                    )
                })
                .collect();
            if count != 0 {
                std::alloc::dealloc(
                    base as *mut u8,
                    std::alloc::Layout::from_size_align_unchecked(count * 4, 4),
                );
            }
            fds
        };
        let flags = MessageFlags::from_bits_retain(ret.0[24]);
        // Never trust a count beyond the buffer.
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(buf.len());
        Ok((len, fds, flags))
    }

    /// Off wasm32 (documentation, host-side unit tests): through `recv-msg`.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn recv_fds(
        sock: &Socket,
        buf: &mut [MaybeUninit<u8>],
        max_fds: u32,
    ) -> io::Result<(usize, Vec<OwnedHandle>, MessageFlags)> {
        use crate::bindings::capsock::sockets::sockets::AncillaryIn;
        let _ = Ret([0; 32]);
        let space = super::cmsg_len((max_fds as usize).saturating_mul(super::FD_SIZE));
        let m = sock
            .recv_msg(buf.len() as u64, space as u64, RecvFlags::empty())
            .map_err(to_io)?;
        let n = m.data.len().min(buf.len());
        for (to, from) in buf.iter_mut().zip(&m.data[..n]) {
            to.write(*from);
        }
        let mut fds = Vec::new();
        for item in m.ancillary {
            if let AncillaryIn::Rights(ds) = item {
                fds.extend(ds.into_iter().map(OwnedHandle::from_wit));
            }
        }
        Ok((n, fds, m.flags))
    }
}

/// `socket.recv-into`, declared by hand: the host writes the received bytes
/// straight into the caller's buffer (one copy, kernel to guest), which
/// the generated binding would take as a `&[u8]` it may assume unchanged.
mod recv_into {
    use std::io;

    use crate::bindings::capsock::sockets::sockets::Socket;
    #[cfg(target_arch = "wasm32")]
    use crate::bindings::capsock::sockets::types::ErrorCode;
    use crate::bindings::capsock::sockets::types::RecvFlags;
    use crate::error::to_io;

    #[cfg(target_arch = "wasm32")]
    #[link(wasm_import_module = "capsock:sockets/sockets@0.1.0")]
    extern "C" {
        /// The canonical ABI's lowering of `recv-into: func(buffer:
        /// list<u8>, flags: recv-flags) -> result<u64, error-code>`: the
        /// handle, the buffer as pointer and length, the flags, and where
        /// the result goes.
        #[link_name = "[method]socket.recv-into"]
        fn import(handle: i32, ptr: *mut u8, len: usize, flags: i32, ret: *mut Ret);
    }

    /// `result<u64, error-code>` in memory: the case at 0, the payload at 8.
    #[repr(C, align(8))]
    struct Ret([u8; 16]);

    /// Receives into `buf`; the count.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn recv_into(sock: &Socket, buf: &mut [u8], flags: RecvFlags) -> io::Result<usize> {
        let mut ret = Ret([0; 16]);
        // SAFETY: `buf` is writable for its length and outlives the call;
        // `ret` is the result area the canonical ABI wants (16 bytes, 8
        // aligned). The host writes at most `buf.len()` bytes into `buf`.
        #[allow(unsafe_code)]
        unsafe {
            import(
                sock.handle() as i32,
                buf.as_mut_ptr(),
                buf.len(),
                flags.bits() as i32,
                &mut ret,
            );
        }
        match ret.0[0] {
            0 => {
                let n = u64::from_le_bytes(ret.0[8..16].try_into().expect("8 bytes"));
                Ok(usize::try_from(n).unwrap_or(usize::MAX).min(buf.len()))
            }
            // SAFETY: the host lowered an `error-code` case.
            #[allow(unsafe_code)]
            _ => Err(to_io(unsafe { ErrorCode::_lift(ret.0[8]) })),
        }
    }

    /// Off wasm32 (documentation, host-side unit tests): through `recv`.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn recv_into(sock: &Socket, buf: &mut [u8], flags: RecvFlags) -> io::Result<usize> {
        let _ = Ret([0; 16]);
        let data = sock.recv(buf.len() as u64, flags).map_err(to_io)?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }
}
