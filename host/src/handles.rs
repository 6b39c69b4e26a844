//! The host side of the guest's handles: [`Socket`] and [`Descriptor`] own
//! real file descriptors; the resource table maps guest handles to them.

use std::cell::OnceCell;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::sync::Arc;

use crate::bindings::types::{AddressFamily, DescriptorKind, ErrorCode, SocketType};
use crate::control::SocketKind;
use crate::readiness::SharedFd;
use crate::sys;

/// Maps a socket type to its `SOCK_*` constant.
pub(crate) fn sock_type_to_libc(ty: SocketType) -> libc::c_int {
    match ty {
        SocketType::Stream => libc::SOCK_STREAM,
        SocketType::Datagram => libc::SOCK_DGRAM,
        SocketType::Seqpacket => libc::SOCK_SEQPACKET,
    }
}

fn sock_type_from_libc(ty: libc::c_int) -> Option<SocketType> {
    match ty {
        libc::SOCK_STREAM => Some(SocketType::Stream),
        libc::SOCK_DGRAM => Some(SocketType::Datagram),
        libc::SOCK_SEQPACKET => Some(SocketType::Seqpacket),
        _ => None,
    }
}

/// An open file descriptor held by a guest through a `descriptor` handle.
///
/// The kind is read with `fstat(2)` the first time it is asked for, not
/// when the descriptor arrives: receiving many fds costs no extra syscalls.
/// The fd is closed when the handle (and any pollable made from it) is
/// dropped, or moves out when the guest turns the descriptor into a socket.
pub struct Descriptor {
    fd: Option<DescriptorFd>,
    kind: OnceCell<(DescriptorKind, Option<SocketType>)>,
    /// Non-blocking mode and timeouts the guest set.
    pub(crate) modes: crate::descriptors::DescriptorModes,
}

/// A descriptor's fd: owned outright until a pollable needs to share it
/// (receiving an fd costs no allocation), then shared.
enum DescriptorFd {
    Owned(OwnedFd),
    Shared(Arc<SharedFd>),
}

impl DescriptorFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DescriptorFd::Owned(fd) => fd.as_fd(),
            DescriptorFd::Shared(fd) => fd.as_fd(),
        }
    }

    fn into_shared(self) -> Arc<SharedFd> {
        match self {
            DescriptorFd::Owned(fd) => SharedFd::new(fd),
            DescriptorFd::Shared(fd) => fd,
        }
    }
}

impl Descriptor {
    /// Wraps `fd`.
    pub fn new(fd: OwnedFd) -> Descriptor {
        Descriptor {
            fd: Some(DescriptorFd::Owned(fd)),
            kind: OnceCell::new(),
            modes: Default::default(),
        }
    }

    /// Wraps an fd a socket handle gave up.
    pub(crate) fn from_shared(fd: Arc<SharedFd>) -> Descriptor {
        Descriptor {
            fd: Some(DescriptorFd::Shared(fd)),
            kind: OnceCell::new(),
            modes: Default::default(),
        }
    }

    fn classify(&self) -> (DescriptorKind, Option<SocketType>) {
        *self.kind.get_or_init(|| {
            let Some(fd) = &self.fd else {
                return (DescriptorKind::Unknown, None);
            };
            let kind = sys::with_file(fd.as_fd(), |f| f.metadata())
                .map(|m| kind_of(m.file_type()))
                .unwrap_or(DescriptorKind::Unknown);
            let socket_type = match kind {
                DescriptorKind::Socket => sys::socket_type(fd.as_fd())
                    .ok()
                    .and_then(sock_type_from_libc),
                _ => None,
            };
            (kind, socket_type)
        })
    }

    /// What the descriptor refers to.
    pub fn kind(&self) -> DescriptorKind {
        self.classify().0
    }

    /// The socket type, when it is a socket of a type capsock knows.
    pub fn socket_type(&self) -> Option<SocketType> {
        self.classify().1
    }

    /// The fd, or `bad-descriptor` once it has moved out.
    pub fn fd(&self) -> Result<BorrowedFd<'_>, ErrorCode> {
        self.fd
            .as_ref()
            .map(DescriptorFd::as_fd)
            .ok_or(ErrorCode::BadDescriptor)
    }

    /// Runs `f` with the fd as a [`File`] (which it cannot close).
    pub(crate) fn with_file<R>(&self, f: impl FnOnce(&File) -> R) -> Result<R, ErrorCode> {
        Ok(sys::with_file(self.fd()?, f))
    }

    /// Another reference to the fd, for a pollable (sharing it from now on).
    pub(crate) fn shared_fd(&mut self) -> Result<Arc<SharedFd>, ErrorCode> {
        let shared = self
            .fd
            .take()
            .ok_or(ErrorCode::BadDescriptor)?
            .into_shared();
        self.fd = Some(DescriptorFd::Shared(Arc::clone(&shared)));
        Ok(shared)
    }

    /// Moves the fd out; the descriptor answers `bad-descriptor` from then
    /// on (its kind is kept, as read before the move).
    pub(crate) fn take(&mut self) -> Option<Arc<SharedFd>> {
        self.classify();
        self.fd.take().map(DescriptorFd::into_shared)
    }
}

pub(crate) fn kind_of(ft: std::fs::FileType) -> DescriptorKind {
    if ft.is_file() {
        DescriptorKind::RegularFile
    } else if ft.is_dir() {
        DescriptorKind::Directory
    } else if ft.is_fifo() {
        DescriptorKind::Fifo
    } else if ft.is_socket() {
        DescriptorKind::Socket
    } else if ft.is_char_device() {
        DescriptorKind::CharacterDevice
    } else if ft.is_block_device() {
        DescriptorKind::BlockDevice
    } else if ft.is_symlink() {
        DescriptorKind::SymbolicLink
    } else {
        DescriptorKind::Unknown
    }
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
    let protocol = sys::int_option(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL)?;
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
    /// instead of the resource table (see `sockets::add_fast_send`), and so
    /// a pollable can outlive the handle.
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

impl Modes {
    /// The error for a failed call: `EAGAIN` on a blocking socket with a
    /// timeout, asked to wait, is `timed-out`.
    pub fn wait_error(self, e: io::Error, send: bool, dont_wait: bool) -> ErrorCode {
        let timeout = if send {
            self.send_timeout
        } else {
            self.recv_timeout
        };
        if e.raw_os_error() == Some(libc::EAGAIN) && timeout && !self.nonblocking && !dont_wait {
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
