//! `socket.subscribe`: `wasi:io/poll` pollables for capsock sockets, so a
//! guest waits on several sockets together with WASI streams and clocks.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::Interest;
use wasmtime_wasi::p2::Pollable;

/// What a pollable waits for: one direction of one socket. It shares the
/// socket's fd, so it stays valid if the guest drops the socket first.
pub(crate) struct Readiness {
    fd: Arc<OwnedFd>,
    writable: bool,
    /// Counts against the guest's handle limit until dropped.
    _slot: Slot,
}

/// One unit of a shared counter, given back on drop.
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// Takes a unit of `counter` if it stays within `max`.
    pub fn take(counter: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(counter)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Readiness {
    pub fn new(fd: Arc<OwnedFd>, writable: bool, slot: Slot) -> Readiness {
        Readiness {
            fd,
            writable,
            _slot: slot,
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Readiness {
    async fn ready(&mut self) {
        // Ask the kernel first: a socket that is ready now must be reported
        // on the first poll, even next to a zero-length timeout.
        if crate::sys::ready_now(std::os::fd::AsFd::as_fd(&*self.fd), self.writable) {
            return;
        }
        let interest = if self.writable {
            Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        // tokio's reactor takes one registration per fd number: a private
        // duplicate lets several pollables (and both directions) wait on
        // the same socket at once. If either step fails, report ready: the
        // guest's next call then sees the error.
        let Ok(dup) = self.fd.try_clone() else { return };
        if let Ok(registered) = crate::sys::register_async(dup, interest) {
            // Readable also covers end-of-file and errors (tokio's
            // READ_CLOSED and ERROR), so a closed peer wakes the guest.
            let _ = registered.ready(interest).await;
        }
    }
}
