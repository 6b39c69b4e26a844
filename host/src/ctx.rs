//! Per-guest state and the embedding API: [`CapsockCtx`] (grants, policy,
//! limits), the [`CapsockView`] an embedder implements on its store data,
//! and the handle accounting every handle goes through.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::DynPollable;

use crate::cmsg::uapi::SCM_MAX_FD;
use crate::cmsg::ControlBuf;
use crate::error::{CapsockError, CapsockResult, ErrorCode};
use crate::interrupt::Interrupt;
use crate::policy::{Limits, Policy};
use crate::resources::readiness::Readiness;
use crate::resources::Slot;
use crate::resources::{Descriptor, SharedFd, Socket};

/// capsock's state for one guest: what it was granted, what it may do, and
/// how many handles it holds.
pub struct CapsockCtx {
    pub(crate) grants: Vec<(String, OwnedFd)>,
    pub(crate) policy: Policy,
    pub(crate) limits: Limits,
    /// Handles the guest holds: sockets, descriptors and pollables. Shared,
    /// because a pollable gives its unit back when wasmtime-wasi drops it.
    pub(crate) handles: Arc<AtomicUsize>,
    /// Descriptors lent to WASI (`descriptor.into-filesystem`): each keeps
    /// its unit of the count until wasmtime-wasi drops the last reference
    /// to the file, which capsock cannot hook, so it is looked for when
    /// the count is read.
    pub(crate) lent: Mutex<Vec<(Weak<std::fs::File>, Slot)>>,
    /// How many entries `lent` has, so that reading the count takes no
    /// lock while nothing is lent (the usual case, on every receive).
    pub(crate) lent_len: AtomicUsize,
    /// Control buffer reused by every send and receive of this guest.
    pub(crate) control: ControlBuf,
    /// Stops the guest's blocking calls when the sandbox must stop.
    pub(crate) interrupt: Interrupt,
}

impl CapsockCtx {
    /// A builder with nothing granted, the default policy and limits.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use capsock_host::{CapsockCtx, Limits, Policy};
    ///
    /// let (_ours, theirs) = UnixStream::pair()?;
    /// let mut policy = Policy::new();
    /// policy.allow_abstract_names(false);
    /// let mut ctx = CapsockCtx::builder()
    ///     .grant("peer", theirs) // the guest takes it with preopens.take("peer")
    ///     .policy(policy)
    ///     .limits(Limits::default().max_handles(64))
    ///     .build();
    /// assert_eq!(ctx.limits().max_handles, 64);
    /// assert_eq!(ctx.handles_held(), 0);
    /// // Grants can also come after build(), while the guest runs.
    /// let (_ours2, theirs2) = UnixStream::pair()?;
    /// ctx.grant("later", theirs2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> CapsockCtxBuilder {
        CapsockCtxBuilder::default()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Handles the guest holds now: sockets, descriptors and pollables,
    /// and files and directories it turned into WASI descriptors.
    pub fn handles_held(&self) -> usize {
        self.release_lent();
        self.handles.load(Ordering::Relaxed)
    }

    /// Gives back the units of lent descriptors WASI has closed.
    fn release_lent(&self) {
        if self.lent_len.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut lent = self.lent.lock().unwrap_or_else(PoisonError::into_inner);
        lent.retain(|(file, _)| file.strong_count() > 0);
        self.lent_len.store(lent.len(), Ordering::Release);
    }

    /// Counts `file`, lent to WASI, with `slot` until WASI closes it.
    pub(crate) fn lend(&self, file: &Arc<std::fs::File>, slot: Slot) {
        let mut lent = self.lent.lock().unwrap_or_else(PoisonError::into_inner);
        lent.push((Arc::downgrade(file), slot));
        self.lent_len.store(lent.len(), Ordering::Release);
    }

    /// Grants `fd` under `name` after the context was built (a grant
    /// made while the guest runs is seen by its next `preopens.take`), as
    /// [`CapsockCtxBuilder::grant`] does.
    pub fn grant(&mut self, name: impl Into<String>, fd: impl Into<OwnedFd>) {
        replace_grant(&mut self.grants, name.into(), fd.into());
    }

    /// The guest's stop switch: [`Interrupt::stop`] ends a host call
    /// blocked in a system call (see [`crate::limits`] for wasm code).
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }
}

/// Adds a grant, replacing (and closing) one of the same name.
fn replace_grant(grants: &mut Vec<(String, OwnedFd)>, name: String, fd: OwnedFd) {
    grants.retain(|(n, _)| *n != name);
    grants.push((name, fd));
}

/// Builds a [`CapsockCtx`].
#[derive(Default)]
pub struct CapsockCtxBuilder {
    grants: Vec<(String, OwnedFd)>,
    policy: Policy,
    limits: Limits,
}

impl CapsockCtxBuilder {
    /// Grants `fd` to the guest under `name`; the guest takes it with
    /// `preopens.take(name)`. A second grant of the same name replaces (and
    /// closes) the first.
    pub fn grant(&mut self, name: impl Into<String>, fd: impl Into<OwnedFd>) -> &mut Self {
        replace_grant(&mut self.grants, name.into(), fd.into());
        self
    }

    /// Sets the policy.
    pub fn policy(&mut self, policy: Policy) -> &mut Self {
        self.policy = policy;
        self
    }

    /// Sets the limits. `max_fds_per_message` is capped at `SCM_MAX_FD`.
    pub fn limits(&mut self, mut limits: Limits) -> &mut Self {
        limits.max_fds_per_message = limits.max_fds_per_message.min(SCM_MAX_FD);
        self.limits = limits;
        self
    }

    /// Builds the context, moving the grants into it.
    pub fn build(&mut self) -> CapsockCtx {
        let b = std::mem::take(self);
        CapsockCtx {
            grants: b.grants,
            policy: b.policy,
            limits: b.limits,
            handles: Arc::default(),
            lent: Mutex::default(),
            lent_len: AtomicUsize::new(0),
            control: ControlBuf::new(),
            interrupt: Interrupt::new(),
        }
    }
}

/// What capsock's host functions borrow from the store data.
pub struct CapsockCtxView<'a> {
    /// capsock's state.
    pub ctx: &'a mut CapsockCtx,
    /// The resource table, shared with WASI.
    pub table: &'a mut ResourceTable,
}

/// Implemented by the embedder's store data to give capsock its state.
pub trait CapsockView: Send {
    /// Borrows capsock's state and the resource table.
    fn capsock(&mut self) -> CapsockCtxView<'_>;
}

/// Marker for [`crate::add_to_linker_sync`]'s `HasData`.
pub struct HasCapsock;

impl HasData for HasCapsock {
    type Data<'a> = CapsockCtxView<'a>;
}

impl CapsockCtxView<'_> {
    /// Puts `socket` in the guest's table, counted against its handle limit
    /// until the guest drops it (or the host takes it back with
    /// [`take_socket`](Self::take_socket)): the accounted way for an
    /// embedder to hand a guest a socket, e.g. as the argument of its own
    /// export. `limit-reached` when the guest holds
    /// [`Limits::max_handles`] already.
    pub fn push_socket(&mut self, mut socket: Socket) -> CapsockResult<Resource<Socket>> {
        socket.slot = Some(self.slot()?);
        Ok(self.table.push(socket)?)
    }

    /// Puts `descriptor` in the guest's table, counted like
    /// [`push_socket`](Self::push_socket).
    pub fn push_descriptor(
        &mut self,
        mut descriptor: Descriptor,
    ) -> CapsockResult<Resource<Descriptor>> {
        descriptor.slot = Some(self.slot()?);
        Ok(self.table.push(descriptor)?)
    }

    /// Takes a socket the guest handed the host (an owned handle: the
    /// result of an export, the argument of the embedder's own import) out
    /// of the table: its fd, or a duplicate while a pollable of the guest
    /// still shares it. The guest's handle count goes down by one.
    pub fn take_socket(&mut self, socket: Resource<Socket>) -> wasmtime::Result<OwnedFd> {
        Ok(self.table.delete(socket)?.into_fd()?)
    }

    /// Takes a descriptor the guest handed the host, like
    /// [`take_socket`](Self::take_socket).
    pub fn take_descriptor(
        &mut self,
        descriptor: Resource<Descriptor>,
    ) -> wasmtime::Result<OwnedFd> {
        Ok(self.table.delete(descriptor)?.into_fd()?)
    }

    /// Handles the guest holds now: sockets, descriptors and pollables.
    pub fn handles_held(&self) -> usize {
        self.ctx.handles_held()
    }

    /// A unit of the handle count, if the limit allows one more (after
    /// lent descriptors WASI has closed give theirs back).
    fn slot(&self) -> Result<Slot, ErrorCode> {
        let take = || Slot::take(&self.ctx.handles, self.ctx.limits.max_handles);
        take()
            .or_else(|| {
                self.ctx.release_lent();
                take()
            })
            .ok_or(ErrorCode::LimitReached)
    }

    /// Handles the guest may still take before reaching its limit.
    pub(crate) fn handles_left(&self) -> usize {
        self.ctx
            .limits
            .max_handles
            .saturating_sub(self.ctx.handles_held())
    }

    /// A pollable for `fd`'s readiness (to write, if `writable`), counted
    /// against the handle limit while it lives.
    pub(crate) fn subscribe_to(
        &mut self,
        fd: Arc<SharedFd>,
        writable: bool,
    ) -> Result<Resource<DynPollable>, CapsockError> {
        let slot = self.slot()?;
        let interrupt = self.ctx.interrupt.clone();
        let readiness = self
            .table
            .push(Readiness::new(fd, writable, interrupt, slot))?;
        wasmtime_wasi::p2::subscribe(self.table, readiness).map_err(CapsockError::trap)
    }

    /// Checks that `n` more handles fit, before doing work that creates them.
    pub(crate) fn check_room(&self, n: usize) -> Result<(), ErrorCode> {
        match self.ctx.handles_held().checked_add(n) {
            Some(total) if total <= self.ctx.limits.max_handles => Ok(()),
            _ => Err(ErrorCode::LimitReached),
        }
    }

    /// Deletes a handle the guest dropped; its fd closes here, and its unit
    /// of the handle count (if it holds one) goes back.
    pub(crate) fn delete<T: 'static>(&mut self, r: Resource<T>) -> wasmtime::Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}
