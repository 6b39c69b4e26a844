//! The host side of the guest's handles: [`Socket`] and [`Descriptor`] own
//! real file descriptors; the resource table maps guest handles to them.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;

use crate::bindings::types::{DescriptorKind, ErrorCode, SocketType};
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
/// The kind is read once, when the descriptor enters the guest; the fd is
/// closed when the handle is dropped, or moves out when the guest turns the
/// descriptor into a socket.
pub struct Descriptor {
    file: Option<File>,
    kind: DescriptorKind,
    socket_type: Option<SocketType>,
}

impl Descriptor {
    /// Wraps `fd`, reading its kind with `fstat(2)` (and `SO_TYPE` for sockets).
    pub fn new(fd: OwnedFd) -> Descriptor {
        let file = File::from(fd);
        let kind = match file.metadata() {
            Ok(m) => kind_of(m.file_type()),
            Err(_) => DescriptorKind::Unknown,
        };
        let socket_type = match kind {
            DescriptorKind::Socket => sys::socket_type(file.as_fd())
                .ok()
                .and_then(sock_type_from_libc),
            _ => None,
        };
        Descriptor {
            file: Some(file),
            kind,
            socket_type,
        }
    }

    /// What the descriptor refers to.
    pub fn kind(&self) -> DescriptorKind {
        self.kind
    }

    /// The socket type, when it is a socket of a type capsock knows.
    pub fn socket_type(&self) -> Option<SocketType> {
        self.socket_type
    }

    /// The open file, or `bad-descriptor` once the fd has moved out.
    pub fn file(&self) -> Result<&File, ErrorCode> {
        self.file.as_ref().ok_or(ErrorCode::BadDescriptor)
    }

    /// The fd, or `bad-descriptor` once it has moved out.
    pub fn fd(&self) -> Result<BorrowedFd<'_>, ErrorCode> {
        self.file().map(|f| f.as_fd())
    }

    /// Moves the fd out; the descriptor answers `bad-descriptor` from then on.
    pub(crate) fn take(&mut self) -> Option<OwnedFd> {
        self.file.take().map(OwnedFd::from)
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

/// The type of `fd` if it is a Unix domain socket capsock handles:
/// `not-socket` for anything else, `not-supported` for other families or
/// socket types.
pub(crate) fn unix_socket_type(fd: BorrowedFd<'_>) -> Result<SocketType, ErrorCode> {
    let ty = match sys::socket_type(fd) {
        Ok(ty) => sock_type_from_libc(ty).ok_or(ErrorCode::NotSupported)?,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => return Err(ErrorCode::NotSocket),
        Err(e) => return Err(e.into()),
    };
    if sys::socket_domain(fd)? != libc::AF_UNIX {
        return Err(ErrorCode::NotSupported);
    }
    Ok(ty)
}

/// A Unix domain socket held by a guest through a `socket` handle.
pub struct Socket {
    fd: OwnedFd,
    ty: SocketType,
}

impl Socket {
    /// Wraps a Unix domain socket, giving `fd` back with the reason if it is
    /// not one capsock handles (`not-socket`, `not-supported`).
    pub fn new(fd: OwnedFd) -> Result<Socket, (ErrorCode, OwnedFd)> {
        match unix_socket_type(fd.as_fd()) {
            Ok(ty) => Ok(Socket { fd, ty }),
            Err(code) => Err((code, fd)),
        }
    }

    /// A connected pair (`socketpair(2)`).
    pub fn pair(ty: SocketType) -> io::Result<(Socket, Socket)> {
        let (a, b) = sys::socketpair(sock_type_to_libc(ty))?;
        Ok((Socket { fd: a, ty }, Socket { fd: b, ty }))
    }

    /// `SO_TYPE`.
    pub fn socket_type(&self) -> SocketType {
        self.ty
    }

    /// Gives the fd back.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
