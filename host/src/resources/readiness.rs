//! Readiness: `wasi:io/poll` pollables for the fds guests hold, so a guest
//! waits on several sockets and descriptors together with WASI streams and
//! clocks.
//!
//! Each fd is registered with the tokio reactor at most once, on the first
//! wait, in a [`SharedFd`] that the handle and all its pollables share
//! (tokio's `AsyncFd` takes any number of waiters). A pollable therefore
//! holds no fd of its own: what a guest can make the host hold is bounded by
//! its handle limit, pollables included.

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use wasmtime_wasi::p2::Pollable;

use super::SharedFd;
use crate::interrupt::Interrupt;
use crate::sys::Registration;

/// What a pollable waits for: one direction of one fd. It shares the fd,
/// so it stays valid if the guest drops the socket first.
pub(crate) struct Readiness {
    fd: Arc<SharedFd>,
    writable: bool,
    interrupt: Interrupt,
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
    pub fn new(fd: Arc<SharedFd>, writable: bool, interrupt: Interrupt, slot: Slot) -> Readiness {
        Readiness {
            fd,
            writable,
            interrupt,
            _slot: slot,
        }
    }

    /// Waits for the reactor to report the fd ready; clears a report the
    /// fd no longer bears out (another reader took the data).
    async fn wait(&self, reg: &Registration) -> io::Result<()> {
        let mut guard = if self.writable {
            reg.writable().await?
        } else {
            reg.readable().await?
        };
        if !crate::sys::ready_now(self.fd.as_fd(), self.writable) {
            guard.clear_ready();
        }
        Ok(())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Readiness {
    async fn ready(&mut self) {
        loop {
            // Ask the kernel first: an fd that is ready now is reported on
            // the first poll, even next to a zero-length timeout. Readable
            // also covers end-of-file and errors, so a closed peer wakes
            // the guest.
            if crate::sys::ready_now(self.fd.as_fd(), self.writable) {
                return;
            }
            // Unregistrable (or a reactor error): report ready; the guest's
            // next call then answers for itself.
            let Some(reg) = self.fd.registration() else {
                return;
            };
            tokio::select! {
                r = self.wait(reg) => if r.is_err() { return },
                // A stopped sandbox must not stay parked here.
                () = self.interrupt.stopped() => return,
            }
        }
    }
}
