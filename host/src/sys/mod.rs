//! The unsafe fence: the only place in the library with `unsafe`, thin
//! safe wrappers over the system calls capsock needs (`sendmsg`/`recvmsg`
//! in [`msg`], the rest here), and the sockaddr codec ([`sockaddr`], which
//! has no `unsafe` of its own).
//!
//! Ownership rule: every file descriptor the kernel hands us becomes an
//! [`OwnedFd`] inside the function that received it, before anything else can
//! fail, so it is closed exactly once on every path.
//!
//! # rustix or libc
//!
//! The plain calls go through [`rustix`], whose `Errno` becomes an
//! [`io::Error`] (`From`): socket, socketpair, bind, connect, listen,
//! accept4, shutdown, the socket options it has a typed function for
//! (`SO_TYPE`, `SO_DOMAIN`, `SO_PROTOCOL`, `SO_ERROR`, `SO_PASSCRED`,
//! `SO_RCVBUF`/`SO_SNDBUF`, `SO_REUSEADDR`, `IPV6_V6ONLY`,
//! `SO_RCVTIMEO`/`SO_SNDTIMEO`),
//! openat2, poll, `FIONBIO`, pwritev2, setrlimit and the process ids.
//! rustix never retries `EINTR`: the calls that block still go through
//! [`retry`], so that capsock's wake-up signal ends them. bind and connect
//! take capsock's own [`SockAddr`] (which implements rustix's
//! `SocketAddrArg`), so every name the [`sockaddr`] codec produces reaches
//! the kernel as encoded.
//!
//! Hand-written on `libc`, and why:
//! - `sendmsg`/`recvmsg`: the receive side walks the control buffer and
//!   makes every fd the kernel installed (`SCM_RIGHTS`, `SCM_PIDFD`) an
//!   [`OwnedFd`] before it returns, and hands every other item, raw, to
//!   capsock's own decoder. rustix's receive buffer yields only
//!   `SCM_RIGHTS` and `SCM_CREDENTIALS` and skips the rest (a pidfd it
//!   skipped would stay open), and its `UCred` cannot hold the pid 0 the
//!   kernel reports for a sender in another pid namespace. The receives
//!   also fill uninitialised spare capacity and clamp the kernel's byte
//!   count (see [`clamp_count`]), as does [`read_into`]'s `preadv2`
//!   (rustix's takes initialised buffers).
//! - [`adopt_inherited`]: taking ownership of an fd number the parent
//!   passed is the one place a raw number becomes an [`OwnedFd`] on the
//!   caller's word; [`is_open`] asks about a number that may not be open,
//!   which no [`BorrowedFd`] may name.
//! - The wake-up signal ([`install_wake_handler`], [`wake_thread`]): a
//!   `sigaction` handler chained to any previous one, and `pthread_kill`;
//!   likewise the `SIGPIPE` mask around [`write_nosignal`].
//! - [`SharedFd`]'s tokio registration, the generic `int` socket option
//!   ([`set_int_option`], for the receive options rustix has no function
//!   for: it has one function per option, no generic one), `SO_PEERCRED` (rustix's `UCred` again),
//!   getsockname/getpeername (rustix's address type gives its bytes only
//!   through a raw pointer, panics on a name shorter than a family, and
//!   turns an empty peer name into `None`), and getrlimit (rustix's
//!   cannot report an error: a seccomp filter that refuses `prlimit64`
//!   would leave it reading an uninitialised value).

#![allow(unsafe_code)]

use std::io::{self, IoSlice};
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::cmsg::Ucred;
pub mod msg;
pub mod sockaddr;

use msg::clamp_count;
pub use msg::{
    recv_into, recv_to_slice, recvmsg, recvmsg_into, sendmsg, MsgFlags, Received, RecvResult,
};

use sockaddr::{SockName, UnixName};

/// Retries `f` while it fails with `EINTR`, like std's I/O helpers, unless
/// the sandbox this thread is serving was stopped (see
/// [`Interrupt`](crate::interrupt::Interrupt)): then the `EINTR` is what
/// ends the blocked call.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted && !take_woken() => continue,
            other => return other,
        }
    }
}

thread_local! {
    /// Set by the [`WAKE_SIGNAL`] handler on the thread it interrupts.
    /// Const-initialised and without a destructor, so the handler's access
    /// is a plain thread-local load and store (async-signal-safe).
    static WOKEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether [`WAKE_SIGNAL`] reached this thread since the last call; clears
/// it. An `EINTR` caused by it is handed to the caller instead of retried.
pub fn take_woken() -> bool {
    WOKEN.with(|w| w.replace(false))
}

/// The signal that interrupts a host call blocked in a system call:
/// `SIGURG`, which is ignored by default and which nothing in capsock or
/// wasmtime uses otherwise (Go's runtime picked it for the same job).
pub const WAKE_SIGNAL: libc::c_int = libc::SIGURG;

/// Installs a handler that does nothing for [`WAKE_SIGNAL`], without
/// `SA_RESTART`, so that a thread it is sent to returns from a blocking
/// system call with `EINTR`. Idempotent. A handler someone else installed
/// is kept and still called.
pub fn install_wake_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: an all-zero sigaction is a valid "default" value; the
        // handler is async-signal-safe (it only reads an atomic and calls
        // a previously installed handler).
        unsafe {
            let mut old: libc::sigaction = zeroed();
            libc::sigaction(WAKE_SIGNAL, std::ptr::null(), &mut old);
            if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
                PREVIOUS.store(old.sa_sigaction, std::sync::atomic::Ordering::Relaxed);
            }
            let mut action: libc::sigaction = zeroed();
            action.sa_sigaction = on_wake as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_ONSTACK | libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(WAKE_SIGNAL, &action, std::ptr::null_mut()) != 0 {
                tracing::warn!(
                    error = %io::Error::last_os_error(),
                    "cannot install the wake-up signal handler; blocked calls cannot be interrupted"
                );
            }
        }
    });
}

/// A handler installed for [`WAKE_SIGNAL`] before capsock's, if any.
static PREVIOUS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn on_wake(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    WOKEN.with(|w| w.set(true));
    let previous = PREVIOUS.load(std::sync::atomic::Ordering::Relaxed);
    if previous != 0 {
        // SAFETY: `previous` is a handler some other code installed for
        // this signal, called as the kernel would have called it.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(previous);
            f(sig, info, ctx);
        }
    }
}

/// The calling thread, for [`wake_thread`].
pub fn current_thread() -> libc::pthread_t {
    // SAFETY: no preconditions.
    unsafe { libc::pthread_self() }
}

/// Sends [`WAKE_SIGNAL`] to `thread`, interrupting a blocking system call.
///
/// The caller must know that `thread` is still running (capsock only wakes
/// a thread registered as inside a host call, which waits for the waker
/// before it leaves the call: see `interrupt.rs`).
pub fn wake_thread(thread: libc::pthread_t) {
    // SAFETY: `thread` is a live thread of this process (see above).
    unsafe { libc::pthread_kill(thread, WAKE_SIGNAL) };
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// An address family for rustix from a `domain` argument. rustix carries it
/// as the `sa_family_t` it is; a number that does not fit is one the kernel
/// refuses with `EAFNOSUPPORT` (it knows fewer than `AF_MAX` families).
fn family(domain: libc::c_int) -> io::Result<rustix::net::AddressFamily> {
    u16::try_from(domain)
        .map(rustix::net::AddressFamily::from_raw)
        .map_err(|_| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))
}

/// `socketpair(AF_UNIX, ty | SOCK_CLOEXEC)`.
pub fn socketpair(ty: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::from_raw(ty as u32),
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?)
}

/// `socket(AF_UNIX, ty | SOCK_CLOEXEC, 0)`.
pub fn unix_socket(ty: libc::c_int) -> io::Result<OwnedFd> {
    socket(libc::AF_UNIX, ty, 0)
}

/// `socket(domain, ty | SOCK_CLOEXEC, protocol)`.
pub fn socket(domain: libc::c_int, ty: libc::c_int, protocol: libc::c_int) -> io::Result<OwnedFd> {
    Ok(rustix::net::socket_with(
        family(domain)?,
        rustix::net::SocketType::from_raw(ty as u32),
        rustix::net::SocketFlags::CLOEXEC,
        // The kernel reads the register as an int: the same bits.
        rustix::net::RawProtocol::new(protocol as u32).map(rustix::net::Protocol::from_raw),
    )?)
}

/// `connect(2)`.
pub fn connect(fd: BorrowedFd<'_>, addr: &SockAddr) -> io::Result<()> {
    retry(|| Ok(rustix::net::connect(fd, addr)?))
}

/// `bind(2)`.
pub fn bind(fd: BorrowedFd<'_>, addr: &SockAddr) -> io::Result<()> {
    Ok(rustix::net::bind(fd, addr)?)
}

/// `openat2(2)`: opens `path` (no NUL bytes, else `EINVAL`) relative to
/// `dir` with `flags | O_CLOEXEC` and the `RESOLVE_*` bits in `resolve`.
/// (rustix also sets `O_LARGEFILE` unless `O_PATH`, as the kernel's
/// `openat2` does itself on 64-bit.)
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &[u8],
    flags: libc::c_int,
    resolve: u64,
) -> io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let flags = OFlags::from_bits_retain(flags as u32) | OFlags::CLOEXEC;
    let resolve = ResolveFlags::from_bits_retain(resolve);
    retry(|| {
        Ok(rustix::fs::openat2(
            dir,
            path,
            flags,
            Mode::empty(),
            resolve,
        )?)
    })
}

/// Whether `fd` lies on a filesystem of kernel interfaces (procfs, sysfs,
/// debugfs, tracefs, securityfs, bpffs, cgroup v1 or v2), where paths
/// resolved by this process describe this process or the kernel's state.
pub fn is_kernel_interface_fs(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let st = rustix::fs::fstatfs(fd)?;
    // `f_type` is a signed or unsigned word by architecture; compare as u32
    // (every magic number fits).
    let ty = st.f_type as u32;
    Ok([
        libc::PROC_SUPER_MAGIC,
        libc::SYSFS_MAGIC,
        libc::DEBUGFS_MAGIC,
        libc::TRACEFS_MAGIC,
        libc::SECURITYFS_MAGIC,
        libc::BPF_FS_MAGIC,
        libc::CGROUP_SUPER_MAGIC,
        libc::CGROUP2_SUPER_MAGIC,
    ]
    .iter()
    .any(|&magic| magic as u32 == ty))
}

/// `listen(2)`.
pub fn listen(fd: BorrowedFd<'_>, backlog: u32) -> io::Result<()> {
    let backlog = backlog.min(libc::c_int::MAX as u32) as libc::c_int;
    Ok(rustix::net::listen(fd, backlog)?)
}

/// `accept4(2)` with `SOCK_CLOEXEC`: the new connection, blocking.
pub fn accept(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    retry(|| {
        Ok(rustix::net::accept_with(
            fd,
            rustix::net::SocketFlags::CLOEXEC,
        )?)
    })
}

/// `ioctl(FIONBIO)`: sets or clears `O_NONBLOCK`.
pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    Ok(rustix::io::ioctl_fionbio(fd, on)?)
}

/// `SO_RCVTIMEO` (`send == false`) or `SO_SNDTIMEO`; `None` or zero clears
/// it. The kernel counts microseconds: a timeout is cut down to whole ones,
/// except that a non-zero one below one is rounded up to one, not down to
/// zero, which would mean "wait for ever".
pub fn set_timeout(
    fd: BorrowedFd<'_>,
    send: bool,
    timeout: Option<std::time::Duration>,
) -> io::Result<()> {
    let id = if send {
        rustix::net::sockopt::Timeout::Send
    } else {
        rustix::net::sockopt::Timeout::Recv
    };
    Ok(rustix::net::sockopt::set_socket_timeout(
        fd,
        id,
        whole_micros(timeout),
    )?)
}

/// [`set_timeout`]'s argument for rustix, which refuses `Some(ZERO)`
/// (`EINVAL`) and rounds fractions of a microsecond up: whole microseconds
/// (cut down), at least one, or `None` for none or zero.
fn whole_micros(timeout: Option<std::time::Duration>) -> Option<std::time::Duration> {
    use std::time::Duration;
    timeout
        .filter(|t| !t.is_zero())
        .map(|t| Duration::new(t.as_secs(), t.subsec_micros() * 1000).max(Duration::from_micros(1)))
}

/// `poll(2)` with a zero timeout: whether `fd` is ready now to read (or end
/// of file, or an error) or, with `writable`, to write.
pub fn ready_now(fd: BorrowedFd<'_>, writable: bool) -> bool {
    matches!(
        wait_ready(fd, writable, Some(std::time::Duration::ZERO)),
        Ok(true)
    )
}

/// `poll(2)` (rustix's `ppoll` without a signal mask, the same call):
/// waits up to `timeout` (for ever if `None`) for `fd` to be ready to read
/// (or end of file, or an error) or, with `writable`, to write.
/// `Ok(false)` when the time ran out. The time is counted in whole
/// milliseconds, rounded up, and at most `c_int::MAX` of them per call, as
/// `poll` takes it. `EINTR` is retried (with the time left) unless it is
/// capsock's wake-up signal.
pub fn wait_ready(
    fd: BorrowedFd<'_>,
    writable: bool,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let events = if writable {
        PollFlags::OUT
    } else {
        PollFlags::IN | PollFlags::RDHUP
    };
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    retry(|| {
        let timeout = deadline.map(|d| {
            // Round up, so a wait never ends before its time.
            let left = d.saturating_duration_since(std::time::Instant::now());
            let ms = left
                .as_nanos()
                .div_ceil(1_000_000)
                .min(libc::c_int::MAX as u128) as i64;
            Timespec {
                tv_sec: ms / 1000,
                tv_nsec: (ms % 1000 * 1_000_000) as _,
            }
        });
        let mut p = [PollFd::from_borrowed_fd(fd, events)];
        let n = rustix::event::poll(&mut p, timeout.as_ref())?;
        Ok(n > 0 && !p[0].revents().is_empty())
    })
}

/// An fd shared by a handle and its pollables, registered with the tokio
/// reactor on first use (at most once: tokio takes one registration per fd
/// number, with any number of waiters). It closes when the last of its
/// owners is dropped.
pub struct SharedFd {
    /// Declared before `fd`, so it is dropped (deregistered) first, while
    /// the number it registered still names this fd.
    registration: std::sync::OnceLock<Option<Registration>>,
    fd: OwnedFd,
}

/// A reactor registration of a [`SharedFd`]'s fd.
pub type Registration = tokio::io::unix::AsyncFd<FdNumber>;

/// The number of the fd of the [`SharedFd`] that holds the registration.
pub struct FdNumber(RawFd);

impl AsRawFd for FdNumber {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

impl SharedFd {
    /// Shares `fd`.
    pub fn new(fd: OwnedFd) -> std::sync::Arc<SharedFd> {
        std::sync::Arc::new(SharedFd {
            registration: std::sync::OnceLock::new(),
            fd,
        })
    }

    /// The fd itself if `shared` is its last owner (deregistered first),
    /// else a duplicate.
    pub fn into_owned(shared: std::sync::Arc<SharedFd>) -> io::Result<OwnedFd> {
        match std::sync::Arc::try_unwrap(shared) {
            Ok(SharedFd { registration, fd }) => {
                drop(registration);
                Ok(fd)
            }
            Err(shared) => Ok(shared.fd.try_clone()?),
        }
    }

    /// The reactor registration, made on first use (inside the tokio
    /// runtime that drives the pollables), for reading and writing. `None`
    /// if the fd cannot be registered: regular files and directories
    /// (epoll refuses them; they are always ready), a failed reactor, or no
    /// tokio runtime around the caller.
    pub fn registration(&self) -> Option<&Registration> {
        // Outside a tokio runtime there is no reactor to register with (and
        // tokio would panic): no registration, and none remembered.
        if self.registration.get().is_none() && tokio::runtime::Handle::try_current().is_err() {
            return None;
        }
        self.registration
            .get_or_init(|| {
                let interest = tokio::io::Interest::READABLE | tokio::io::Interest::WRITABLE;
                // SAFETY: the fd stays open while it is registered: the
                // registration is dropped before `self.fd` (field order),
                // and `into_owned` drops it before it gives the fd away.
                let r = unsafe {
                    tokio::io::unix::AsyncFd::register_with_interest(
                        FdNumber(self.fd.as_raw_fd()),
                        interest,
                    )
                };
                r.map_err(|e| tracing::debug!(error = %e.into_parts().1, "fd not registered for readiness"))
                    .ok()
            })
            .as_ref()
    }
}

impl std::os::fd::AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.fd)
    }
}

// The generic `int` option and `SO_PEERCRED` stay on libc: rustix has one
// typed function per option and no generic getsockopt/setsockopt, while
// capsock's callers name options by (level, name) (some rustix has no
// function for, such as `SO_TIMESTAMPING_OLD`); and rustix's `UCred` keeps
// the pid as a `NonZero`, which the kernel's pid 0 (a peer in another pid
// namespace, or none) would break.

fn getsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    init: T,
) -> io::Result<T> {
    let mut value = init;
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a valid out-buffer of `len` bytes; `T` is plain data.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    })?;
    if len as usize != size_of::<T>() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(value)
}

fn setsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> io::Result<()> {
    // SAFETY: `value` is a valid buffer of size_of::<T>() bytes.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `setsockopt(2)` of an `int` option, for the receive options rustix has
/// no function for (`SO_TIMESTAMPING`, `SO_PASSPIDFD`, `IP_RECVERR`, ...).
pub fn set_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    setsockopt(fd, level, name, value)
}

/// `getsockopt(2)` of an `int` option (see [`set_int_option`]).
#[cfg(test)]
pub fn int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    getsockopt(fd, level, name, 0 as libc::c_int)
}

/// `SO_PROTOCOL` (0 where the kernel reports none).
pub fn socket_protocol(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    let p = rustix::net::sockopt::socket_protocol(fd)?;
    Ok(p.map_or(0, |p| p.as_raw().get() as libc::c_int))
}

/// `SO_ERROR`: the socket's pending error, which reading clears.
pub fn take_socket_error(fd: BorrowedFd<'_>) -> io::Result<Option<io::Error>> {
    Ok(rustix::net::sockopt::socket_error(fd)?
        .err()
        .map(io::Error::from))
}

/// `SO_SNDBUF` (`send`) or `SO_RCVBUF`, as the kernel reports it (twice
/// what was set, for its bookkeeping).
pub fn buffer_size(fd: BorrowedFd<'_>, send: bool) -> io::Result<usize> {
    use rustix::net::sockopt::{socket_recv_buffer_size, socket_send_buffer_size};
    Ok(if send {
        socket_send_buffer_size(fd)?
    } else {
        socket_recv_buffer_size(fd)?
    })
}

/// Sets `SO_SNDBUF` (`send`) or `SO_RCVBUF`.
pub fn set_buffer_size(fd: BorrowedFd<'_>, send: bool, bytes: usize) -> io::Result<()> {
    use rustix::net::sockopt::{set_socket_recv_buffer_size, set_socket_send_buffer_size};
    let set = if send {
        set_socket_send_buffer_size
    } else {
        set_socket_recv_buffer_size
    };
    Ok(set(fd, bytes)?)
}

/// `IPV6_V6ONLY`.
pub fn set_v6_only(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_ipv6_v6only(fd, on)?)
}

/// `SO_REUSEADDR`.
pub fn set_reuse_address(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_socket_reuseaddr(fd, on)?)
}

/// `SO_TYPE`: `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_SEQPACKET`, ...
/// Fails with `ENOTSOCK` for anything that is not a socket.
pub fn socket_type(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    Ok(rustix::net::sockopt::socket_type(fd)?.as_raw() as libc::c_int)
}

/// `SO_DOMAIN`: `AF_UNIX`, `AF_INET`, ...
pub fn socket_domain(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    Ok(rustix::net::sockopt::socket_domain(fd)?.as_raw().into())
}

/// `SO_PEERCRED`.
pub fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<Ucred> {
    let init = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let c = getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, init)?;
    Ok(Ucred {
        pid: c.pid,
        uid: c.uid,
        gid: c.gid,
    })
}

/// `SO_PASSCRED`.
pub fn set_pass_credentials(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_socket_passcred(fd, on)?)
}

/// `shutdown(2)`: `how` is `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`; anything
/// else is refused with `EINVAL` before the call (rustix's `Shutdown` has
/// only these three).
pub fn shutdown(fd: BorrowedFd<'_>, how: libc::c_int) -> io::Result<()> {
    use rustix::net::Shutdown;
    let how = match how {
        libc::SHUT_RD => Shutdown::Read,
        libc::SHUT_WR => Shutdown::Write,
        libc::SHUT_RDWR => Shutdown::Both,
        _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    };
    Ok(rustix::net::shutdown(fd, how)?)
}

/// A socket address with its length, as the kernel reads and writes it:
/// `struct sockaddr_storage` bytes, 8-byte aligned, encoded and decoded by
/// [`sockaddr`] without `unsafe`.
#[derive(Clone, Copy)]
pub struct SockAddr {
    storage: [u64; sockaddr::STORAGE_LEN / 8],
    len: libc::socklen_t,
}

// sockaddr_storage needs no more alignment than u64.
const _: () = assert!(std::mem::align_of::<libc::sockaddr_storage>() <= 8);

impl SockAddr {
    fn empty() -> SockAddr {
        SockAddr {
            storage: [0; sockaddr::STORAGE_LEN / 8],
            len: sockaddr::STORAGE_LEN as libc::socklen_t,
        }
    }

    /// Builds an address; see [`sockaddr::encode`] for the errors.
    pub fn new(name: &SockName) -> io::Result<SockAddr> {
        let mut a = SockAddr::empty();
        let len = sockaddr::encode(name, bytemuck::cast_mut(&mut a.storage))?;
        a.len = len as libc::socklen_t;
        Ok(a)
    }

    /// A Unix address.
    pub fn unix(name: &UnixName) -> io::Result<SockAddr> {
        SockAddr::new(&SockName::Unix(name.clone()))
    }

    /// What this address names; `None` for a family capsock does not know.
    pub fn name(&self) -> Option<SockName> {
        let bytes: &[u8; sockaddr::STORAGE_LEN] = bytemuck::cast_ref(&self.storage);
        sockaddr::decode(&bytes[..(self.len as usize).min(sockaddr::STORAGE_LEN)])
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        self.storage.as_ptr().cast()
    }

    fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        self.storage.as_mut_ptr().cast()
    }
}

// SAFETY: `f` gets a pointer to `self.storage`, which lives for the call,
// and a length never past its end: every `SockAddr` has its length from
// the encoder or from the kernel, which never reports a name longer than
// `sockaddr_storage`; the `min` holds the bound whatever happens. The bytes
// are a socket address as `sockaddr::encode` or the kernel wrote it.
unsafe impl rustix::net::addr::SocketAddrArg for SockAddr {
    unsafe fn with_sockaddr<R>(
        &self,
        f: impl FnOnce(
            *const rustix::net::addr::SocketAddrOpaque,
            rustix::net::addr::SocketAddrLen,
        ) -> R,
    ) -> R {
        f(
            self.storage.as_ptr().cast(),
            self.len.min(sockaddr::STORAGE_LEN as libc::socklen_t),
        )
    }
}

fn get_name(
    fd: BorrowedFd<'_>,
    f: unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int,
) -> io::Result<SockAddr> {
    let mut a = SockAddr::empty();
    // SAFETY: `a.storage` is a writable sockaddr_storage of `a.len` bytes;
    // `f` is getsockname or getpeername.
    check(unsafe { f(fd.as_raw_fd(), a.as_mut_ptr(), &mut a.len) })?;
    Ok(a)
}

/// `getsockname(2)`.
pub fn local_address(fd: BorrowedFd<'_>) -> io::Result<SockAddr> {
    get_name(fd, libc::getsockname)
}

/// `getpeername(2)`.
pub fn peer_address(fd: BorrowedFd<'_>) -> io::Result<SockAddr> {
    get_name(fd, libc::getpeername)
}

/// `read(2)` (or `pread(2)` at `offset`) into the spare capacity of `data`,
/// up to `max` bytes; with `nowait`, `preadv2(RWF_NOWAIT)`, which fails
/// with `EAGAIN` instead of waiting (and `EOPNOTSUPP` for files that cannot
/// do that, such as FIFOs opened by name).
pub fn read_into(
    fd: BorrowedFd<'_>,
    data: &mut Vec<u8>,
    max: usize,
    offset: Option<u64>,
    nowait: bool,
) -> io::Result<usize> {
    data.reserve(max);
    let spare = data.spare_capacity_mut();
    let len = max.min(spare.len());
    let iov = libc::iovec {
        iov_base: spare.as_mut_ptr().cast(),
        iov_len: len,
    };
    let offset = offset.map_or(-1, |o| o.min(i64::MAX as u64) as libc::off_t);
    let flags = if nowait { libc::RWF_NOWAIT } else { 0 };
    let n = retry(|| {
        // SAFETY: the iovec covers `len` bytes of spare capacity of `data`.
        check_size(unsafe { libc::preadv2(fd.as_raw_fd(), &iov, 1, offset, flags) })
    })?;
    let n = clamp_count(n, len).0;
    // SAFETY: the kernel initialised the first `n` bytes, and `n ≤ len`.
    unsafe { data.set_len(data.len() + n) };
    Ok(n)
}

/// `write(2)` (or `pwrite(2)` at `offset`; with `nowait`, `RWF_NOWAIT` as
/// for [`read_into`]) that never raises `SIGPIPE`: the signal is blocked in
/// this thread for the call, and one the call raised is taken back, so a
/// write to a pipe nobody reads is only `EPIPE`, whatever the embedding
/// process does with `SIGPIPE`. (Sockets use `MSG_NOSIGNAL` instead.)
pub fn write_nosignal(
    fd: BorrowedFd<'_>,
    data: &[u8],
    offset: Option<u64>,
    nowait: bool,
) -> io::Result<usize> {
    // rustix's "current position" is `u64::MAX`: the -1 the kernel takes.
    let offset = offset.map_or(u64::MAX, |o| o.min(i64::MAX as u64));
    let flags = if nowait {
        rustix::io::ReadWriteFlags::NOWAIT
    } else {
        rustix::io::ReadWriteFlags::empty()
    };
    // SAFETY: plain signal-mask calls on valid sigsets.
    unsafe {
        let mut pipe: libc::sigset_t = zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        let mut old: libc::sigset_t = zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old);
        let mut pending: libc::sigset_t = zeroed();
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let r = retry(|| {
            Ok(rustix::io::pwritev2(
                fd,
                &[IoSlice::new(data)],
                offset,
                flags,
            )?)
        });
        if matches!(&r, Err(e) if e.raw_os_error() == Some(libc::EPIPE)) && !was_pending {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            while libc::sigtimedwait(&pipe, std::ptr::null_mut(), &zero) < 0
                && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        r.map(|n| n.min(data.len()))
    }
}

/// Runs `f` with `fd` seen as a [`std::fs::File`], which cannot close it.
pub fn with_file<R>(fd: BorrowedFd<'_>, f: impl FnOnce(&std::fs::File) -> R) -> R {
    // SAFETY: the `File` is never dropped (so it never closes `fd`), and it
    // lives only within this call, while `fd` is borrowed.
    let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd.as_raw_fd()) });
    f(&file)
}

/// Whether `fd` is an open file descriptor of this process (`F_GETFD`).
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor flags of `fd`, if open.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Takes ownership of file descriptor `fd`, inherited from the parent
/// process, and marks it close-on-exec. Fails with `EBADF` if it is not
/// open, `EINVAL` for stdin, stdout and stderr.
///
/// # Safety
/// Nothing else in this process may own `fd`: call it at start-up, before
/// anything opens files, for fds the parent said it passed.
pub unsafe fn adopt_inherited(fd: RawFd) -> io::Result<OwnedFd> {
    if (0..=2).contains(&fd) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    if !is_open(fd) {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: guaranteed by the caller.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: plain fcntl on a descriptor we now own.
    check(unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    Ok(owned)
}

/// `getrlimit(RLIMIT_NOFILE)`, on libc: rustix's `getrlimit` treats the
/// call as infallible, so an error (a seccomp filter refusing `prlimit64`)
/// would leave it reading a limit the kernel never wrote.
fn nofile() -> io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-parameter.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    Ok(lim)
}

/// The soft `RLIMIT_NOFILE`.
pub fn fd_limit() -> io::Result<u64> {
    Ok(nofile()?.rlim_cur)
}

/// Sets the soft `RLIMIT_NOFILE` to the hard one; returns it.
pub fn raise_fd_limit() -> io::Result<u64> {
    let mut lim = nofile()?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // rustix's `None` is `RLIM_INFINITY`, which `Some(u64::MAX)` is
        // too: the same bits either way.
        let both = Some(lim.rlim_max);
        rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: both,
                maximum: both,
            },
        )?;
    }
    Ok(lim.rlim_cur)
}

/// The host process's own pid, real and effective uids and gids.
pub fn process_ids() -> (i32, [u32; 2], [u32; 2]) {
    use rustix::process::{getegid, geteuid, getgid, getpid, getuid};
    (
        getpid().as_raw_pid(),
        [getuid().as_raw(), geteuid().as_raw()],
        [getgid().as_raw(), getegid().as_raw()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmsg::layout::{Control, ControlBuf};
    use std::os::fd::AsFd;

    fn cloexec(fd: BorrowedFd<'_>) -> bool {
        rustix::io::fcntl_getfd(fd)
            .unwrap()
            .contains(rustix::io::FdFlags::CLOEXEC)
    }

    #[test]
    fn every_new_fd_is_close_on_exec() {
        let (a, b) = socketpair(libc::SOCK_STREAM).unwrap();
        assert!(cloexec(a.as_fd()) && cloexec(b.as_fd()));
        let s = socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_TCP).unwrap();
        assert!(cloexec(s.as_fd()));
        let listener = unix_socket(libc::SOCK_STREAM).unwrap();
        assert!(cloexec(listener.as_fd()));
        bind(
            listener.as_fd(),
            &SockAddr::unix(&UnixName::Unnamed).unwrap(),
        )
        .unwrap();
        listen(listener.as_fd(), u32::MAX).unwrap();
        let client = unix_socket(libc::SOCK_STREAM).unwrap();
        connect(client.as_fd(), &local_address(listener.as_fd()).unwrap()).unwrap();
        assert!(cloexec(accept(listener.as_fd()).unwrap().as_fd()));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        let d = std::fs::File::open(dir.path()).unwrap();
        let f = openat2(d.as_fd(), b"f", libc::O_RDONLY, 0).unwrap();
        assert!(cloexec(f.as_fd()));
    }

    /// Names rustix's own Unix address type cannot express reach the
    /// kernel as capsock encodes them: an unnamed one (autobind) and an
    /// abstract one of the longest length, with NUL bytes in it.
    #[test]
    fn bind_takes_every_name_the_codec_makes() {
        let s = unix_socket(libc::SOCK_DGRAM).unwrap();
        bind(s.as_fd(), &SockAddr::unix(&UnixName::Unnamed).unwrap()).unwrap();
        let Some(SockName::Unix(UnixName::Abstract(name))) =
            local_address(s.as_fd()).unwrap().name()
        else {
            panic!("autobind gives an abstract name")
        };
        assert_eq!(name.len(), 5);

        let mut long = format!("capsock-sys-{}", std::process::id()).into_bytes();
        long.resize(106, 0);
        long.push(b'z');
        let name = UnixName::Abstract(long);
        let s = unix_socket(libc::SOCK_DGRAM).unwrap();
        bind(s.as_fd(), &SockAddr::unix(&name).unwrap()).unwrap();
        assert_eq!(
            local_address(s.as_fd()).unwrap().name(),
            Some(SockName::Unix(name.clone()))
        );
        let c = unix_socket(libc::SOCK_DGRAM).unwrap();
        connect(c.as_fd(), &SockAddr::unix(&name).unwrap()).unwrap();
        assert_eq!(
            peer_address(c.as_fd()).unwrap().name(),
            Some(SockName::Unix(name))
        );
    }

    /// What rustix is given: whole microseconds (cut down), a non-zero
    /// timeout below one microsecond as one, zero and `None` as none; and
    /// the kernel keeps what it would keep for the same `timeval` set by
    /// hand.
    #[test]
    fn timeouts_are_whole_microseconds_and_never_zero_by_accident() {
        use std::time::Duration;
        let us = Duration::from_micros;
        let cases = [
            (Some(Duration::from_nanos(1)), Some(us(1))),
            (Some(Duration::from_nanos(999)), Some(us(1))),
            (Some(Duration::from_nanos(1_999)), Some(us(1))),
            (Some(Duration::new(2, 999_999_999)), Some(us(2_999_999))),
            (
                Some(Duration::new(u64::MAX, 1_500)),
                Some(Duration::new(u64::MAX, 1_000)),
            ),
            (Some(Duration::from_secs(7)), Some(us(7_000_000))),
            (None, None),
            (Some(Duration::ZERO), None),
        ];
        let (a, b) = socketpair(libc::SOCK_STREAM).unwrap();
        for (timeout, want) in cases {
            assert_eq!(whole_micros(timeout), want, "{timeout:?}");
            for (send, name) in [(false, libc::SO_RCVTIMEO), (true, libc::SO_SNDTIMEO)] {
                set_timeout(a.as_fd(), send, timeout).unwrap();
                // The `timeval` the libc version passed, set on `b`.
                let t = timeout.unwrap_or_default();
                let mut tv = libc::timeval {
                    tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
                    tv_usec: t.subsec_micros() as libc::suseconds_t,
                };
                if !t.is_zero() && tv.tv_sec == 0 && tv.tv_usec == 0 {
                    tv.tv_usec = 1;
                }
                setsockopt(b.as_fd(), libc::SOL_SOCKET, name, tv).unwrap();
                let init = libc::timeval {
                    tv_sec: -1,
                    tv_usec: -1,
                };
                let got = |fd| {
                    let tv: libc::timeval = getsockopt(fd, libc::SOL_SOCKET, name, init).unwrap();
                    (tv.tv_sec, tv.tv_usec)
                };
                assert_eq!(got(a.as_fd()), got(b.as_fd()), "{timeout:?}");
                // (The kernel reads one too long to count as "for ever",
                // (0, 0) too.)
                if timeout.is_none_or(|t| t.as_secs() < 1 << 32) {
                    assert_eq!(got(a.as_fd()) == (0, 0), want.is_none(), "{timeout:?}");
                }
            }
        }
    }

    #[test]
    fn wait_ready_waits_its_time_then_sees_data() {
        use std::time::{Duration, Instant};
        let (a, b) = socketpair(libc::SOCK_STREAM).unwrap();
        assert!(!ready_now(b.as_fd(), false));
        assert!(ready_now(b.as_fd(), true));
        let start = Instant::now();
        assert!(!wait_ready(b.as_fd(), false, Some(Duration::from_micros(1500))).unwrap());
        assert!(start.elapsed() >= Duration::from_micros(1500));
        sendmsg(
            a.as_fd(),
            &[IoSlice::new(b"x")],
            Control::EMPTY,
            None,
            MsgFlags::empty(),
        )
        .unwrap();
        assert!(wait_ready(b.as_fd(), false, None).unwrap());
        drop(a);
        // End of file, and the peer gone, count as ready to read.
        let mut buf = Vec::new();
        recv_into(b.as_fd(), &mut buf, 1, MsgFlags::empty()).unwrap();
        assert!(ready_now(b.as_fd(), false));
    }

    #[test]
    fn socket_options_and_errors_are_the_kernels() {
        let (a, b) = socketpair(libc::SOCK_SEQPACKET).unwrap();
        assert_eq!(socket_type(a.as_fd()).unwrap(), libc::SOCK_SEQPACKET);
        assert_eq!(socket_domain(a.as_fd()).unwrap(), libc::AF_UNIX);
        let (pid, uids, gids) = process_ids();
        assert_eq!(pid, std::process::id() as i32);
        let c = peer_credentials(a.as_fd()).unwrap();
        assert_eq!((c.pid, c.uid, c.gid), (pid, uids[1], gids[1]));
        // No peer: pid 0, which a `NonZero` pid could not hold.
        let lone = unix_socket(libc::SOCK_STREAM).unwrap();
        assert_eq!(peer_credentials(lone.as_fd()).unwrap().pid, 0);
        set_pass_credentials(b.as_fd(), true).unwrap();
        assert_eq!(
            int_option(b.as_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED).unwrap(),
            1
        );
        set_nonblocking(a.as_fd(), true).unwrap();
        let fl = rustix::fs::fcntl_getfl(a.as_fd()).unwrap();
        assert!(fl.contains(rustix::fs::OFlags::NONBLOCK));
        set_nonblocking(a.as_fd(), false).unwrap();
        let fl = rustix::fs::fcntl_getfl(a.as_fd()).unwrap();
        assert!(!fl.contains(rustix::fs::OFlags::NONBLOCK));

        let file = tempfile::tempfile().unwrap();
        let errno = |r: io::Result<libc::c_int>| r.unwrap_err().raw_os_error();
        assert_eq!(errno(socket_type(file.as_fd())), Some(libc::ENOTSOCK));
        assert_eq!(errno(socket_domain(file.as_fd())), Some(libc::ENOTSOCK));
        let errno = |r: io::Result<()>| r.unwrap_err().raw_os_error();
        assert_eq!(errno(shutdown(a.as_fd(), 3)), Some(libc::EINVAL));
        assert_eq!(
            errno(shutdown(file.as_fd(), libc::SHUT_RD)),
            Some(libc::ENOTSOCK)
        );
        shutdown(a.as_fd(), libc::SHUT_WR).unwrap();
        let mut none = ControlBuf::new();
        let r = recvmsg(
            b.as_fd(),
            &mut [std::io::IoSliceMut::new(&mut [0u8; 1])],
            none.zeroed(0),
            MsgFlags::empty(),
        )
        .unwrap();
        assert_eq!(r.bytes, 0, "end of file after SHUT_WR");

        let errno = |r: io::Result<OwnedFd>| r.unwrap_err().raw_os_error();
        for domain in [-1, 65536 + libc::AF_UNIX, 255] {
            assert_eq!(
                errno(socket(domain, libc::SOCK_STREAM, 0)),
                Some(libc::EAFNOSUPPORT),
                "{domain}"
            );
        }
        let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
        assert_eq!(
            errno(openat2(dir.as_fd(), b"a\0b", libc::O_RDONLY, 0)),
            Some(libc::EINVAL)
        );
        let beneath = libc::RESOLVE_BENEATH;
        assert_eq!(
            errno(openat2(dir.as_fd(), b"..", libc::O_RDONLY, beneath)),
            Some(libc::EXDEV)
        );
    }

    #[test]
    fn write_nosignal_writes_at_offsets_and_never_raises_sigpipe() {
        let file = tempfile::tempfile().unwrap();
        assert_eq!(
            write_nosignal(file.as_fd(), b"hello", None, false).unwrap(),
            5
        );
        assert_eq!(
            write_nosignal(file.as_fd(), b"J", Some(0), false).unwrap(),
            1
        );
        let mut buf = Vec::new();
        read_into(file.as_fd(), &mut buf, 16, Some(0), false).unwrap();
        assert_eq!(buf, b"Jello");
        let (r, w) = std::io::pipe().unwrap();
        drop(r);
        let err = write_nosignal(w.as_fd(), b"x", None, false).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
    }

    #[test]
    fn fd_limit_raises_to_the_hard_one() {
        let soft = fd_limit().unwrap();
        let raised = raise_fd_limit().unwrap();
        assert!(raised >= soft);
        assert_eq!(fd_limit().unwrap(), raised);
    }

    #[test]
    fn unix_names_round_trip_through_sockaddr() {
        for name in [
            UnixName::Unnamed,
            UnixName::Pathname(b"/tmp/x.sock".to_vec()),
            UnixName::Abstract(b"capsock-test".to_vec()),
            UnixName::Abstract(vec![0, 1, 2]),
        ] {
            assert_eq!(
                SockAddr::unix(&name).unwrap().name(),
                Some(SockName::Unix(name))
            );
        }
    }

    #[test]
    fn overlong_and_invalid_paths_are_refused() {
        let err = SockAddr::unix(&UnixName::Pathname(vec![b'a'; 108]))
            .err()
            .unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::ENAMETOOLONG));
        assert!(SockAddr::unix(&UnixName::Pathname(vec![b'a'; 107])).is_ok());
        assert!(SockAddr::unix(&UnixName::Abstract(vec![b'a'; 107])).is_ok());
        assert!(SockAddr::unix(&UnixName::Abstract(vec![b'a'; 108])).is_err());
        let err = SockAddr::unix(&UnixName::Pathname(b"a\0b".to_vec()))
            .err()
            .unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
