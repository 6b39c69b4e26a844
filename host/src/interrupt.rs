//! Stopping a sandbox from outside: its deadline passed, or the embedder
//! asked. An [`Interrupt`] is shared by the sandbox's host calls and whoever
//! may stop it.
//!
//! A guest can be in one of three places when it must stop, and each needs
//! its own way out:
//! - running wasm code: the engine's epoch is incremented and the store's
//!   epoch callback sees the stop reason (see [`crate::limits`]);
//! - waiting in a `wasi:io/poll` pollable (`capsock::wait`, a clock): the
//!   pollables capsock makes finish early, and [`crate::Runtime`] drops the
//!   run's future, which cancels every WASI wait;
//! - blocked in a system call inside a capsock host call (`recv`, `accept`,
//!   a pipe `read`, ...): the thread is registered while it is in the call,
//!   and [`Interrupt::stop`] sends it a signal
//!   ([`crate::sys::WAKE_SIGNAL`]) until it has left the
//!   call. The system call returns `EINTR`, and the host call traps with
//!   the reason instead of retrying.
//!
//! Why a signal, and not a `poll(2)` on the socket plus a wake-up
//! descriptor: `accept(2)`, `connect(2)` and reads of FIFOs have no
//! per-call non-blocking flag, so waiting for readiness first races with
//! anyone else who shares the open file description (a prefork sibling, the
//! peer that sent a pipe) and may still block; and setting `O_NONBLOCK`
//! would change the file for everyone who shares it. A signal interrupts
//! exactly the one blocked call, with the kernel's blocking semantics
//! (timeouts, short sends, `SO_RCVTIMEO`) untouched.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sys;

/// A sandbox's stop switch. Cloning shares it.
#[derive(Clone)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// 0 while running, else a [`StopReason`] code.
    reason: AtomicU8,
    /// The thread inside a blocking host call of this sandbox (its
    /// `pthread_t`), or 0.
    blocked: AtomicU64,
    /// Set while [`Interrupt::stop`] may be signalling `blocked`: a thread
    /// leaving its call waits for it to clear, so it is never signalled
    /// after it left (by then it might have exited). Dekker-style, with
    /// sequentially consistent accesses on both sides.
    waking: AtomicBool,
    /// Wakes pollables waiting on the tokio reactor.
    notify: tokio::sync::Notify,
}

/// How long [`Interrupt::stop`] keeps signalling a blocked thread before it
/// gives up (a thread in an uninterruptible sleep, e.g. on a hung NFS
/// server, cannot be woken).
const WAKE_PATIENCE: Duration = Duration::from_secs(2);

impl Default for Interrupt {
    fn default() -> Interrupt {
        Interrupt::new()
    }
}

impl Interrupt {
    /// A new switch, not stopped.
    pub fn new() -> Interrupt {
        sys::install_wake_handler();
        Interrupt {
            inner: Arc::default(),
        }
    }

    /// Stops the sandbox for `reason` (the first reason given wins): a
    /// host call blocked in a system call returns at once and traps, and so
    /// does every later blocking call. Wasm code stops at its next epoch
    /// check once the engine's epoch is incremented, which
    /// [`crate::limits::stop_on`] (used by [`crate::limits::Deadline`] and
    /// [`crate::StopHandle`]) does.
    pub fn stop(&self, reason: StopReason) {
        self.mark(reason);
        self.wake();
    }

    /// Records `reason` (the first one wins) without waking anyone: a
    /// stopper that also moves the engine's epoch on does that in between,
    /// so that a guest woken from a wait meets its epoch check already
    /// failing.
    pub(crate) fn mark(&self, reason: StopReason) {
        let _ = self
            .inner
            .reason
            .compare_exchange(0, reason.code(), SeqCst, SeqCst);
    }

    /// Wakes the stopped sandbox's waits and its blocked host call.
    pub(crate) fn wake(&self) {
        self.inner.notify.notify_waiters();
        // Signal the blocked thread until it has left its host call. A
        // signal may land just before the thread enters the system call
        // (and be lost); the next one then interrupts it.
        let start = Instant::now();
        loop {
            self.inner.waking.store(true, SeqCst);
            let thread = self.inner.blocked.load(SeqCst);
            if thread != 0 {
                sys::wake_thread(thread as libc::pthread_t);
            }
            self.inner.waking.store(false, SeqCst);
            if thread == 0 {
                return;
            }
            if start.elapsed() > WAKE_PATIENCE {
                tracing::warn!("a blocked host call did not return after being interrupted");
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Why the sandbox was stopped, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        StopReason::from_code(self.inner.reason.load(SeqCst))
    }

    /// `Err` once the sandbox is stopped.
    pub(crate) fn check(&self) -> Result<(), Stopped> {
        match self.reason() {
            Some(reason) => Err(Stopped(reason)),
            None => Ok(()),
        }
    }

    /// Runs `f`, a system call that may block (retrying `EINTR` like
    /// [`sys`] does), so that [`Interrupt::stop`] can end it: then, or if
    /// the sandbox was stopped already, the result is `Err(Stopped)`.
    pub(crate) fn blocking<T>(
        &self,
        mut f: impl FnMut() -> io::Result<T>,
    ) -> Result<io::Result<T>, Stopped> {
        self.inner
            .blocked
            .store(sys::current_thread() as u64, SeqCst);
        sys::take_woken();
        // Checked after registering: a stop from now on signals this thread.
        let result = loop {
            if let Err(e) = self.check() {
                break Err(e);
            }
            match f() {
                // The wake-up signal, or someone else's: stop or go on.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break Ok(other),
            }
        };
        self.inner.blocked.store(0, SeqCst);
        while self.inner.waking.load(SeqCst) {
            std::hint::spin_loop();
        }
        self.check()?;
        result
    }

    /// Completes when the sandbox is stopped.
    pub(crate) async fn stopped(&self) {
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a stop in between is not missed.
            notified.as_mut().enable();
            if self.reason().is_some() {
                return;
            }
            notified.await;
        }
    }
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupt")
            .field("reason", &self.reason())
            .finish()
    }
}

/// Why a sandbox was stopped before it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// Its wall-clock time limit passed.
    Timeout,
    /// It used up its fuel.
    Fuel,
    /// A memory or table grow was refused with `trap_on_grow_failure`.
    Memory,
    /// Its host stopped it ([`Interrupt::stop`]).
    Interrupted,
}

impl StopReason {
    pub(crate) fn code(self) -> u8 {
        match self {
            StopReason::Timeout => 1,
            StopReason::Fuel => 2,
            StopReason::Memory => 3,
            StopReason::Interrupted => 4,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<StopReason> {
        Some(match code {
            1 => StopReason::Timeout,
            2 => StopReason::Fuel,
            3 => StopReason::Memory,
            4 => StopReason::Interrupted,
            _ => return None,
        })
    }
}

/// The trap a host call, the epoch callback or the limiter raises to stop
/// a guest; [`crate::Runtime`] turns it into a [`crate::GuestStopped`] error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped(pub StopReason);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the sandbox was stopped ({:?})", self.0)
    }
}

impl std::error::Error for Stopped {}
