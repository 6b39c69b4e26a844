//! The only module with `unsafe`: thin, safe wrappers over the socket
//! syscalls capsock needs, on `libc`.
//!
//! Ownership rule: every file descriptor the kernel hands us becomes an
//! [`OwnedFd`] inside the function that received it, before anything else can
//! fail, so it is closed exactly once on every path.

#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::cmsg::Ucred;
mod msg;
pub mod sockaddr;

use msg::clamp_count;
pub use msg::{recv_into, recvmsg, recvmsg_into, sendmsg, MsgFlags, Received};

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

/// `socketpair(AF_UNIX, ty | SOCK_CLOEXEC)`.
pub fn socketpair(ty: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    check(unsafe {
        libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
    })?;
    // SAFETY: on success the kernel installed two new fds that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `socket(AF_UNIX, ty | SOCK_CLOEXEC, 0)`.
pub fn unix_socket(ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = check(unsafe { libc::socket(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `socket(domain, ty | SOCK_CLOEXEC, protocol)`.
pub fn socket(domain: libc::c_int, ty: libc::c_int, protocol: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = check(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) })?;
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `connect(2)`.
pub fn connect(fd: BorrowedFd<'_>, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: `addr` holds a valid socket address of `addr.len` bytes.
    retry(|| check(unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr(), addr.len) }).map(drop))
}

/// `bind(2)`.
pub fn bind(fd: BorrowedFd<'_>, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: `addr` holds a valid socket address of `addr.len` bytes.
    check(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr(), addr.len) }).map(drop)
}

/// `openat2(2)`: opens `path` (no NUL bytes) relative to `dir` with
/// `flags | O_CLOEXEC` and the `RESOLVE_*` bits in `resolve`.
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &[u8],
    flags: libc::c_int,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let path =
        std::ffi::CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: an all-zero open_how is valid; fields are set below.
    let mut how: libc::open_how = unsafe { zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = resolve;
    let fd = retry(|| {
        // SAFETY: `path` is NUL-terminated, `how` is a valid open_how of the
        // size passed; the kernel only reads both.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                size_of::<libc::open_how>(),
            )
        };
        check(r as libc::c_int)
    })?;
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `listen(2)`.
pub fn listen(fd: BorrowedFd<'_>, backlog: u32) -> io::Result<()> {
    let backlog = backlog.min(libc::c_int::MAX as u32) as libc::c_int;
    // SAFETY: plain syscall with integer arguments.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// `accept4(2)` with `SOCK_CLOEXEC`: the new connection, blocking.
pub fn accept(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: null address pointers are allowed: the peer address is not wanted.
    let new = retry(|| {
        check(unsafe {
            libc::accept4(
                fd.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        })
    })?;
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// `ioctl(FIONBIO)`: sets or clears `O_NONBLOCK`.
pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let mut value = libc::c_int::from(on);
    // SAFETY: FIONBIO reads one int.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONBIO, &mut value) }).map(drop)
}

/// `SO_RCVTIMEO` (`send == false`) or `SO_SNDTIMEO`; `None` or zero clears
/// it. The kernel counts microseconds: a non-zero timeout below one is
/// rounded up to one, not down to zero, which would mean "wait for ever".
pub fn set_timeout(
    fd: BorrowedFd<'_>,
    send: bool,
    timeout: Option<std::time::Duration>,
) -> io::Result<()> {
    let t = timeout.unwrap_or_default();
    let mut tv = libc::timeval {
        tv_sec: t.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    if !t.is_zero() && tv.tv_sec == 0 && tv.tv_usec == 0 {
        tv.tv_usec = 1;
    }
    let name = if send {
        libc::SO_SNDTIMEO
    } else {
        libc::SO_RCVTIMEO
    };
    setsockopt(fd, libc::SOL_SOCKET, name, tv)
}

/// `poll(2)` with a zero timeout: whether `fd` is ready now to read (or end
/// of file, or an error) or, with `writable`, to write.
pub fn ready_now(fd: BorrowedFd<'_>, writable: bool) -> bool {
    matches!(
        wait_ready(fd, writable, Some(std::time::Duration::ZERO)),
        Ok(true)
    )
}

/// `poll(2)`: waits up to `timeout` (for ever if `None`) for `fd` to be
/// ready to read (or end of file, or an error) or, with `writable`, to
/// write. `Ok(false)` when the time ran out. `EINTR` is retried (with the
/// time left) unless it is capsock's wake-up signal.
pub fn wait_ready(
    fd: BorrowedFd<'_>,
    writable: bool,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    let events = if writable {
        libc::POLLOUT
    } else {
        libc::POLLIN | libc::POLLRDHUP
    };
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    retry(|| {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                // Round up, so a wait never ends before its time.
                let left = d.saturating_duration_since(std::time::Instant::now());
                left.as_nanos()
                    .div_ceil(1_000_000)
                    .min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = check(unsafe { libc::poll(&mut p, 1, ms) })?;
        Ok(n > 0 && p.revents != 0)
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

    /// The reactor registration, made on first use (inside the tokio
    /// runtime that drives the pollables), for reading and writing. `None`
    /// if the fd cannot be registered: regular files and directories
    /// (epoll refuses them; they are always ready), or a failed reactor.
    pub fn registration(&self) -> Option<&Registration> {
        self.registration
            .get_or_init(|| {
                let interest = tokio::io::Interest::READABLE | tokio::io::Interest::WRITABLE;
                // SAFETY: the fd stays open while it is registered: the
                // registration is dropped before `self.fd` (field order),
                // and `try_unwrap` drops it before it gives the fd away.
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

/// `setsockopt(2)` of an `int` option.
pub fn set_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    setsockopt(fd, level, name, value)
}

/// `getsockopt(2)` of an `int` option.
pub fn int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    getsockopt(fd, level, name, 0 as libc::c_int)
}

/// `SO_TYPE`: `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_SEQPACKET`, ...
/// Fails with `ENOTSOCK` for anything that is not a socket.
pub fn socket_type(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, 0 as libc::c_int)
}

/// `SO_DOMAIN`: `AF_UNIX`, `AF_INET`, ...
pub fn socket_domain(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    getsockopt(fd, libc::SOL_SOCKET, libc::SO_DOMAIN, 0 as libc::c_int)
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
    setsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_PASSCRED,
        libc::c_int::from(on),
    )
}

/// `shutdown(2)`.
pub fn shutdown(fd: BorrowedFd<'_>, how: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall with integer arguments.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), how) }).map(drop)
}

/// A socket address with its length, as the kernel reads and writes it:
/// `struct sockaddr_storage` bytes, 8-byte aligned, encoded and decoded by
/// [`sockaddr`](crate::sys::sockaddr) without `unsafe`.
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
    let iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let offset = offset.map_or(-1, |o| o.min(i64::MAX as u64) as libc::off_t);
    let flags = if nowait { libc::RWF_NOWAIT } else { 0 };
    // SAFETY: plain signal-mask calls on valid sigsets; the iovec covers
    // `data`, which the kernel only reads.
    unsafe {
        let mut pipe: libc::sigset_t = zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        let mut old: libc::sigset_t = zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old);
        let mut pending: libc::sigset_t = zeroed();
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let r = retry(|| check_size(libc::pwritev2(fd.as_raw_fd(), &iov, 1, offset, flags)));
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
        // SAFETY: `lim` is a valid rlimit.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok(lim.rlim_cur)
}

/// The host process's own pid, real and effective uids and gids.
pub fn process_ids() -> (i32, [u32; 2], [u32; 2]) {
    // SAFETY: these calls cannot fail and have no preconditions.
    unsafe {
        (
            libc::getpid(),
            [libc::getuid(), libc::geteuid()],
            [libc::getgid(), libc::getegid()],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
