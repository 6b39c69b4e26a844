//! The host objects behind the guest's handles: a [`Socket`] or a
//! [`Descriptor`] owns a real file descriptor (shared, through
//! `sys::SharedFd`, with the pollables made from it, so that each fd is
//! registered with the reactor at most once), and knows how its calls wait
//! (non-blocking mode, timeouts). `readiness` turns them into
//! `wasi:io/poll` pollables. The resource table maps guest handles to them.

mod descriptor;
pub(crate) mod readiness;
mod socket;

pub use descriptor::Descriptor;
pub(crate) use descriptor::{kind_of, DescriptorIo};
pub use socket::Socket;
pub(crate) use socket::{socket_kind, SocketIo, SocketKind, Wait};

pub(crate) use crate::sys::SharedFd;
pub(crate) use readiness::Slot;
