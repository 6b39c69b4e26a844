//! [`Socket`]: a socket a guest holds through a `socket` handle, what kind
//! it is, and how its calls wait.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use super::{SharedFd, Slot};
use crate::bindings::types::{AddressFamily, ErrorCode, SocketType};
use crate::cmsg::layout::Control;
use crate::convert::{sock_type_from_libc, sock_type_to_libc};
use crate::error::{CapsockError, CapsockResult};
use crate::interrupt::Interrupt;
use crate::sys::{self, MsgFlags, SockAddr};
use crate::wait::{self, Ready, Waiting};

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
    /// The unit of the guest's handle count this socket holds while it is
    /// in a guest's table, if it was put there through capsock (a socket an
    /// embedder pushes with `ResourceTable::push` is not counted, and so
    /// gives nothing back when the guest drops it).
    pub(crate) slot: Option<Slot>,
}

/// The blocking behaviour a guest chose for a socket.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Modes {
    pub nonblocking: bool,
    /// `SO_RCVTIMEO` as the guest set it (the kernel keeps it too, for
    /// calls that block their thread).
    pub recv_timeout: Option<Duration>,
    /// `SO_SNDTIMEO`, likewise.
    pub send_timeout: Option<Duration>,
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
    /// Records the timeout the guest set for `wait`.
    pub fn set_timeout(&mut self, wait: Wait, timeout: Option<Duration>) {
        match wait {
            Wait::Send => self.send_timeout = timeout,
            Wait::Receive => self.recv_timeout = timeout,
            Wait::Never => {}
        }
    }

    /// The timeout of a call that waits as `wait`.
    pub fn timeout(self, wait: Wait) -> Option<Duration> {
        match wait {
            Wait::Never => None,
            Wait::Send => self.send_timeout,
            Wait::Receive => self.recv_timeout,
        }
    }

    /// The error for a failed call: Linux reports a timeout as `EAGAIN`,
    /// which on a blocking socket with a timeout, asked to wait, is
    /// `timed-out`.
    pub fn error(self, e: io::Error, wait: Wait) -> ErrorCode {
        let timeout = self.timeout(wait).is_some();
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
            slot: None,
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

    /// The fd, given up by the socket (shared with any pollable), and the
    /// unit of the handle count it held.
    pub(crate) fn into_parts(self) -> (Arc<SharedFd>, Option<Slot>) {
        (self.fd, self.slot)
    }

    /// The socket's fd, for the host: the socket's own if no pollable
    /// shares it, else a duplicate (`F_DUPFD_CLOEXEC`).
    pub fn into_fd(self) -> io::Result<OwnedFd> {
        SharedFd::into_owned(self.fd)
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

/// What a call that may wait needs of a socket, taken out of the resource
/// table (the fd is shared, an `Arc`): the table, or for `socket.send` the
/// guest's memory, can then be borrowed meanwhile, and the call can go on
/// on another thread ([`wait::hop`]).
pub(crate) struct SocketIo {
    fd: Arc<SharedFd>,
    kind: SocketKind,
    modes: Modes,
}

impl Socket {
    /// A [`SocketIo`] for this socket.
    pub(crate) fn io(&self) -> SocketIo {
        SocketIo {
            fd: self.shared_fd(),
            kind: self.kind,
            modes: self.modes,
        }
    }
}

impl SocketIo {
    pub(crate) fn kind(&self) -> SocketKind {
        self.kind
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Makes `op`, a send or receive given the flags to add to the guest's,
    /// waiting (`wait`) in the thread or on the reactor (`how`, see
    /// [`crate::wait`]).
    pub(crate) async fn call<T>(
        &self,
        interrupt: &Interrupt,
        wait: Wait,
        how: Waiting,
        mut op: impl FnMut(MsgFlags) -> io::Result<T>,
    ) -> CapsockResult<T> {
        let r = match how {
            Waiting::Thread => interrupt.blocking(|| op(MsgFlags::empty()))?,
            // Asked not to wait (the flags have `MSG_DONTWAIT` already), or
            // non-blocking: one call, which the kernel does not make wait.
            _ if wait == Wait::Never || self.modes.nonblocking => {
                interrupt.check()?;
                op(MsgFlags::empty())
            }
            Waiting::Reactor => {
                let deadline = wait::deadline(self.modes.timeout(wait));
                wait::retry(
                    &self.fd,
                    wait == Wait::Send,
                    interrupt,
                    deadline,
                    // What the kernel reports when `SO_RCVTIMEO` passes.
                    || io::Error::from_raw_os_error(libc::EAGAIN),
                    || op(MsgFlags::DONTWAIT),
                )
                .await?
            }
        };
        r.map_err(|e| self.modes.error(e, wait).into())
    }

    /// `sendmsg(2)` of the buffers `data` with `control` (to `to`, on a socket that is
    /// not connected). A blocking send on a stream socket sends it all, as
    /// Linux does when the call blocks its thread: on the reactor the data
    /// goes in as many calls as the socket buffer takes, the control
    /// messages with the first; an error or timeout after some data went
    /// reports what went.
    pub(crate) async fn send(
        &self,
        interrupt: &Interrupt,
        data: &[&[u8]],
        control: Control<'_, '_>,
        to: Option<&SockAddr>,
        flags: MsgFlags,
        how: Waiting,
    ) -> CapsockResult<u64> {
        let wait = Wait::unless(flags.contains(MsgFlags::DONTWAIT), Wait::Send);
        let whole = how == Waiting::Reactor
            && self.kind.ty == SocketType::Stream
            && wait != Wait::Never
            && !self.modes.nonblocking;
        let total = data.iter().map(|b| b.len()).sum::<usize>();
        let (mut sent, mut control) = (0, control);
        loop {
            // One buffer (every `send`) needs no allocation.
            let (one, many): ([IoSlice<'_>; 1], Vec<IoSlice<'_>>);
            let iov: &[IoSlice<'_>] = match data {
                [only] => {
                    one = [IoSlice::new(&only[sent.min(only.len())..])];
                    &one
                }
                _ => {
                    many = advance(data, sent).map(IoSlice::new).collect();
                    &many
                }
            };
            let r = self
                .call(interrupt, wait, how, |more| {
                    sys::sendmsg(self.fd.as_fd(), iov, control, to, flags | more)
                })
                .await;
            control = Control::EMPTY;
            match r {
                Ok(0) => break,
                Ok(n) => sent += n,
                Err(e) if sent == 0 => return Err(e),
                Err(e @ CapsockError::Trap(_)) => return Err(e),
                // What went, went: report it, as the kernel does.
                Err(_) => break,
            }
            if !whole || sent >= total {
                break;
            }
        }
        Ok(sent as u64)
    }

    /// The next connection of a listening socket, of the same type.
    pub(crate) async fn accept(
        &self,
        interrupt: &Interrupt,
        how: Waiting,
    ) -> CapsockResult<Socket> {
        let r = match how {
            Waiting::Thread => interrupt.blocking(|| sys::accept(self.fd.as_fd()))?,
            _ if self.modes.nonblocking => {
                interrupt.check()?;
                sys::accept(self.fd.as_fd())
            }
            Waiting::Reactor => {
                // `accept(2)` has no per-call non-blocking flag: wait for a
                // connection here, then take it off the reactor's thread.
                let deadline = wait::deadline(self.modes.recv_timeout);
                loop {
                    if wait::ready(&self.fd, false, interrupt, deadline).await? == Ready::TimedOut {
                        break Err(io::Error::from_raw_os_error(libc::EAGAIN));
                    }
                    let fd = Arc::clone(&self.fd);
                    match wait::hop(interrupt, move || sys::accept(fd.as_fd())).await? {
                        // Someone sharing the listener took it first, and
                        // the listener is non-blocking: wait again.
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        other => break other,
                    }
                }
            }
        };
        let fd = r.map_err(|e| self.modes.error(e, Wait::Receive))?;
        Ok(Socket::from_parts(fd, self.kind))
    }

    /// `connect(2)` to `addr`.
    pub(crate) async fn connect(
        &self,
        interrupt: &Interrupt,
        addr: &SockAddr,
        how: Waiting,
    ) -> CapsockResult<()> {
        let r = match how {
            Waiting::Thread => interrupt.blocking(|| sys::connect(self.fd.as_fd(), addr))?,
            _ if self.modes.nonblocking => {
                interrupt.check()?;
                sys::connect(self.fd.as_fd(), addr)
            }
            // No per-call non-blocking flag, and nothing to wait for
            // before: the whole call goes off the reactor's thread.
            Waiting::Reactor => {
                let (fd, addr) = (Arc::clone(&self.fd), *addr);
                wait::hop(interrupt, move || sys::connect(fd.as_fd(), &addr)).await?
            }
        };
        Ok(r?)
    }
}

/// The buffers `data` without their first `n` bytes.
fn advance<'d, 'a>(data: &'d [&'a [u8]], mut n: usize) -> impl Iterator<Item = &'a [u8]> + 'd {
    data.iter().filter_map(move |b| {
        let skip = n.min(b.len());
        n -= skip;
        (skip < b.len()).then(|| &b[skip..])
    })
}
