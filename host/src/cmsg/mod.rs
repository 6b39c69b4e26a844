//! The ancillary-data (control message) codec, in two layers:
//!
//! - [`layout`]: `struct cmsghdr` framing — the aligned buffer, the
//!   encoder and the bounded walker `sys::recvmsg` uses to own every
//!   received fd;
//! - [`items`]: what the payloads mean — typed items to send
//!   ([`SendItem`], encoded by the one entry point [`encode`]) and received
//!   ([`RecvItem`], from [`decode`]).
//!
//! Every platform number the codec needs beyond `libc` is in [`uapi`]. The
//! codec knows nothing of the WIT, the policy or the resource table.

pub(crate) mod items;
pub(crate) mod layout;
pub(crate) mod uapi;

pub(crate) use items::{decode, encode, encoded_len, RecvItem, SendItem};
pub(crate) use layout::{ControlBuf, Ucred};
