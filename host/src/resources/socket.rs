//! [`Socket`]: a socket a guest holds through a `socket` handle, what kind
//! it is, and how its calls wait.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use super::SharedFd;
use crate::bindings::types::{AddressFamily, ErrorCode, SocketType};
use crate::cmsg::layout::Control;
use crate::convert::{sock_type_from_libc, sock_type_to_libc};
use crate::error::CapsockResult;
use crate::interrupt::Interrupt;
use crate::sys::{self, MsgFlags};

/// What a socket is, as far as the policy and the codec care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SocketKind {
    pub family: AddressFamily,
    pub ty: SocketType,
}

/// The family and type of `fd` if it is a socket capsock handles: a Unix
/// domain socket of any type, or UDP or TCP over IPv4 or IPv6.
/// `not-socket` for anything else, `not-supported` for other families,
/// types or protocols (raw sockets, SCTP, ...).
pub(crate) fn socket_kind(fd: BorrowedFd<'_>) -> Result<SocketKind, ErrorCode> {
    let ty = match sys::socket_type(fd) {
        Ok(ty) => sock_type_from_libc(ty).ok_or(ErrorCode::NotSupported)?,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => return Err(ErrorCode::NotSocket),
        Err(e) => return Err(e.into()),
    };
    let family = match sys::socket_domain(fd)? {
        libc::AF_UNIX => {
            return Ok(SocketKind {
                family: AddressFamily::Unix,
                ty,
            })
        }
        libc::AF_INET => AddressFamily::Ipv4,
        libc::AF_INET6 => AddressFamily::Ipv6,
        _ => return Err(ErrorCode::NotSupported),
    };
    let protocol = sys::socket_protocol(fd)?;
    match (ty, protocol) {
        (SocketType::Stream, libc::IPPROTO_TCP) | (SocketType::Datagram, libc::IPPROTO_UDP) => {
            Ok(SocketKind { family, ty })
        }
        _ => Err(ErrorCode::NotSupported),
    }
}

/// A socket held by a guest through a `socket` handle.
pub struct Socket {
    /// Shared so a call can hold the fd while it borrows guest memory
    /// instead of the resource table (see [`Sender`]), and so a pollable
    /// can outlive the handle.
    fd: Arc<SharedFd>,
    kind: SocketKind,
    /// What the guest set, to tell a timeout from `would-block`: Linux
    /// reports both as `EAGAIN`.
    pub(crate) modes: Modes,
    /// The guest path a socket was bound to through `/proc/self/fd`, which
    /// is what `local-address` shows instead of the kernel's name for it.
    pub(crate) bound_as: Option<Vec<u8>>,
}

/// The blocking behaviour a guest chose for a socket.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Modes {
    pub nonblocking: bool,
    pub recv_timeout: bool,
    pub send_timeout: bool,
}

/// How a call on a socket was allowed to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// It was asked not to (`MSG_DONTWAIT`).
    Never,
    /// It could wait, under the send timeout.
    Send,
    /// It could wait, under the receive timeout (receives, `accept`).
    Receive,
}

impl Wait {
    /// `Never` if `dont_wait`, else `otherwise`.
    pub(crate) fn unless(dont_wait: bool, otherwise: Wait) -> Wait {
        if dont_wait {
            Wait::Never
        } else {
            otherwise
        }
    }
}

impl Modes {
    /// Records whether the guest set a timeout for `wait`.
    pub fn set_timeout(&mut self, wait: Wait, on: bool) {
        match wait {
            Wait::Send => self.send_timeout = on,
            Wait::Receive => self.recv_timeout = on,
            Wait::Never => {}
        }
    }

    /// The error for a failed call: Linux reports a timeout as `EAGAIN`,
    /// which on a blocking socket with a timeout, asked to wait, is
    /// `timed-out`.
    pub fn error(self, e: io::Error, wait: Wait) -> ErrorCode {
        let timeout = match wait {
            Wait::Never => false,
            Wait::Send => self.send_timeout,
            Wait::Receive => self.recv_timeout,
        };
        if e.raw_os_error() == Some(libc::EAGAIN) && timeout && !self.nonblocking {
            ErrorCode::TimedOut
        } else {
            e.into()
        }
    }
}

impl Socket {
    /// Wraps a socket, giving `fd` back with the reason if it is not one
    /// capsock handles (`not-socket`, `not-supported`).
    pub fn new(fd: OwnedFd) -> Result<Socket, (ErrorCode, OwnedFd)> {
        match socket_kind(fd.as_fd()) {
            Ok(kind) => Ok(Socket::from_parts(fd, kind)),
            Err(code) => Err((code, fd)),
        }
    }

    pub(crate) fn from_parts(fd: OwnedFd, kind: SocketKind) -> Socket {
        Socket::from_shared(SharedFd::new(fd), kind)
    }

    pub(crate) fn from_shared(fd: Arc<SharedFd>, kind: SocketKind) -> Socket {
        Socket {
            fd,
            kind,
            modes: Modes::default(),
            bound_as: None,
        }
    }

    /// A connected pair (`socketpair(2)`).
    pub fn pair(ty: SocketType) -> io::Result<(Socket, Socket)> {
        let (a, b) = sys::socketpair(sock_type_to_libc(ty))?;
        let kind = SocketKind {
            family: AddressFamily::Unix,
            ty,
        };
        Ok((Socket::from_parts(a, kind), Socket::from_parts(b, kind)))
    }

    /// A new UDP or TCP socket of `kind` (an IP family; not seqpacket). An
    /// IPv6 socket is `IPV6_V6ONLY`: IPv4 goes through IPv4 sockets, where
    /// the policy sees it.
    pub(crate) fn create_ip(kind: SocketKind) -> io::Result<Socket> {
        let (domain, protocol) = match (kind.family, kind.ty) {
            (AddressFamily::Ipv4, SocketType::Stream) => (libc::AF_INET, libc::IPPROTO_TCP),
            (AddressFamily::Ipv4, _) => (libc::AF_INET, libc::IPPROTO_UDP),
            (_, SocketType::Stream) => (libc::AF_INET6, libc::IPPROTO_TCP),
            _ => (libc::AF_INET6, libc::IPPROTO_UDP),
        };
        let fd = sys::socket(domain, sock_type_to_libc(kind.ty), protocol)?;
        if domain == libc::AF_INET6 {
            sys::set_v6_only(fd.as_fd(), true)?;
        }
        Ok(Socket::from_parts(fd, kind))
    }

    /// The next connection of a listening socket, of the same type.
    pub(crate) fn accept(&self) -> io::Result<Socket> {
        Ok(Socket::from_parts(sys::accept(self.fd.as_fd())?, self.kind))
    }

    /// `SO_TYPE`.
    pub fn socket_type(&self) -> SocketType {
        self.kind.ty
    }

    /// `SO_DOMAIN`.
    pub fn family(&self) -> AddressFamily {
        self.kind.family
    }

    pub(crate) fn kind(&self) -> SocketKind {
        self.kind
    }

    /// The fd, given up by the socket (shared with any pollable).
    pub(crate) fn into_shared_fd(self) -> Arc<SharedFd> {
        self.fd
    }

    /// Another reference to the fd, which stays open while it lives.
    pub(crate) fn shared_fd(&self) -> Arc<SharedFd> {
        Arc::clone(&self.fd)
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What a plain send needs of a socket, taken out of the resource table so
/// that guest memory can be borrowed for the data meanwhile (the fd is
/// shared, an `Arc`). Both `socket.send` paths go through
/// [`Sender::send`].
pub(crate) struct Sender {
    fd: Arc<SharedFd>,
    ty: SocketType,
    modes: Modes,
}

impl Socket {
    /// A [`Sender`] for this socket.
    pub(crate) fn sender(&self) -> Sender {
        Sender {
            fd: self.shared_fd(),
            ty: self.kind.ty,
            modes: self.modes,
        }
    }
}

impl Sender {
    /// The socket's type.
    pub(crate) fn socket_type(&self) -> SocketType {
        self.ty
    }

    /// `send(2)` of `data`, which the caller has bounded.
    pub(crate) fn send(
        &self,
        interrupt: &Interrupt,
        data: &[u8],
        flags: MsgFlags,
    ) -> CapsockResult<u64> {
        let iov = [IoSlice::new(data)];
        let wait = Wait::unless(flags.contains(MsgFlags::DONTWAIT), Wait::Send);
        let sent = interrupt
            .blocking(|| sys::sendmsg(self.fd.as_fd(), &iov, Control::EMPTY, None, flags))?
            .map_err(|e| self.modes.error(e, wait))?;
        Ok(sent as u64)
    }
}
