//! How a host call waits for a socket or descriptor: by blocking its thread
//! in the system call ([`Waiting::Thread`], what `add_to_linker_sync`
//! links), or by awaiting the fd's readiness on the tokio reactor
//! ([`Waiting::Reactor`], what `add_to_linker_async` links), so that a
//! guest blocked in `recv` holds no thread and a current-thread runtime
//! keeps running its other tasks.
//!
//! Each call that may wait is written once, as an `async fn` taking a
//! [`Waiting`]. With `Thread` it never awaits anything, so the sync glue
//! runs it to completion with a single poll ([`now`]).
//!
//! Under the reactor a call is made without waiting (`MSG_DONTWAIT`,
//! `RWF_NOWAIT`, or an fd the guest made non-blocking) and, on `EAGAIN`,
//! waits for readiness and tries again, until the guest's timeout (kept by
//! the host, since the kernel's `SO_RCVTIMEO` does not apply to a call that
//! does not block) or the sandbox's stop. Calls with no per-call
//! non-blocking flag (`accept(2)`, `connect(2)`, reads and writes of FIFOs
//! opened by name and terminals) must not be made on the reactor's thread
//! with the fd blocking: setting `O_NONBLOCK` would change the open file
//! description for everyone who shares it (see [`crate::interrupt`]).
//! They wait for readiness on the reactor, then make the call on tokio's
//! blocking pool ([`hop`]), where it usually returns at once; a `connect`
//! waits there for its handshake.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::interrupt::{Interrupt, StopReason, Stopped};
use crate::sys::SharedFd;

/// Where a host call waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// In the system call, blocking the calling thread (the sync bindings).
    Thread,
    /// On the tokio reactor (the async bindings).
    Reactor,
}

/// The result of `f`, a call made with [`Waiting::Thread`], which completes
/// on its first poll. `None` if it did not: a bug, which the glue turns
/// into a trap.
pub(crate) fn now<F: Future>(f: F) -> Option<F::Output> {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// How a wait for readiness ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    /// The fd is (probably) ready: try the call.
    Yes,
    /// The guest's timeout passed first.
    TimedOut,
}

/// Waits on the reactor for `fd` to be ready to read (or, with `writable`,
/// to write), until `deadline`. A reactor error counts as ready, so that
/// the caller's next call answers for itself. Without a reactor to wait on
/// (no tokio runtime around the call, or an fd epoll refuses, such as a
/// regular file, which is always ready) it waits in the thread with
/// `poll(2)`, as the sync bindings would.
pub(crate) async fn ready(
    fd: &SharedFd,
    writable: bool,
    interrupt: &Interrupt,
    deadline: Option<Instant>,
) -> Result<Ready, Stopped> {
    interrupt.check()?;
    let Some(reg) = fd.registration() else {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let fd = std::os::fd::AsFd::as_fd(fd);
        return match interrupt.blocking(|| crate::sys::wait_ready(fd, writable, left))? {
            Ok(false) => Ok(Ready::TimedOut),
            Ok(true) | Err(_) => Ok(Ready::Yes),
        };
    };
    let wait = async {
        let guard = if writable {
            reg.writable().await
        } else {
            reg.readable().await
        };
        if let Ok(mut guard) = guard {
            // Edge-triggered: forget a readiness the fd no longer bears out
            // (someone else took the data), or the next wait returns at once.
            if !crate::sys::ready_now(std::os::fd::AsFd::as_fd(fd), writable) {
                guard.clear_ready();
            }
        }
    };
    let timer = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = wait => Ok(Ready::Yes),
        () = timer => Ok(Ready::TimedOut),
        () = interrupt.stopped() => Err(Stopped(interrupt.reason().unwrap_or(StopReason::Interrupted))),
    }
}

/// The deadline of a wait of `timeout` starting now.
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Makes `op`, which must not block (it passes `MSG_DONTWAIT` or the like),
/// until it returns anything but `EAGAIN`, waiting on the reactor for `fd`
/// in between. `timed_out` is the error once `deadline` passed.
pub(crate) async fn retry<T>(
    fd: &SharedFd,
    writable: bool,
    interrupt: &Interrupt,
    deadline: Option<Instant>,
    timed_out: impl Fn() -> io::Error,
    mut op: impl FnMut() -> io::Result<T>,
) -> Result<io::Result<T>, Stopped> {
    loop {
        interrupt.check()?;
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return Ok(other),
        }
        if ready(fd, writable, interrupt, deadline).await? == Ready::TimedOut {
            return Ok(Err(timed_out()));
        }
    }
}

/// Makes `op`, a call that may block, on tokio's blocking pool, under
/// `interrupt` (which a stop of the sandbox signals). If the caller's
/// future is dropped first (the embedder cancelled the guest's call), the
/// sandbox is stopped, which ends `op`: the store cannot go on with a call
/// abandoned half-way anyway.
pub(crate) async fn hop<T: Send + 'static>(
    interrupt: &Interrupt,
    mut op: impl FnMut() -> io::Result<T> + Send + 'static,
) -> Result<io::Result<T>, Stopped> {
    struct StopOnDrop<'a>(Option<&'a Interrupt>);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            if let Some(i) = self.0 {
                i.stop(StopReason::Interrupted);
            }
        }
    }
    let mut guard = StopOnDrop(Some(interrupt));
    let inner = interrupt.clone();
    let r = tokio::task::spawn_blocking(move || inner.blocking(&mut op)).await;
    guard.0 = None;
    match r {
        Ok(r) => r,
        // The pool is shutting down (or `op` panicked): the call did not
        // complete.
        Err(_) => Ok(Err(io::Error::from_raw_os_error(libc::EINTR))),
    }
}
