//! How much a guest may hold or move at once. Exceeding a limit is an
//! `error-code` (`limit-reached` or `message-size`), never a trap.

use crate::bindings::types::SocketType;
use crate::cmsg::uapi::SCM_MAX_FD;
use crate::error::ErrorCode;

/// Per-guest limits. Exceeding one is an `error-code` (`limit-reached` or
/// `message-size`), never a trap.
///
/// ```
/// let limits = capsock_host::Limits::default().max_handles(64).max_message_bytes(1 << 20);
/// assert_eq!(limits.max_handles, 64);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Socket and descriptor handles the guest may hold at once (default 1024).
    /// File descriptors received beyond it are closed and the receive reports
    /// `control-truncated`, as Linux does when a process hits `RLIMIT_NOFILE`.
    pub max_handles: usize,
    /// File descriptors per sent message, at most `SCM_MAX_FD` (253, the
    /// default).
    pub max_fds_per_message: usize,
    /// Data bytes per `send-msg`, and the largest `max-data` of `recv-msg`
    /// and `len` of `read` (default 8 MiB).
    pub max_message_bytes: usize,
    /// Control-buffer bytes per message, sent or received (default 64 KiB).
    pub max_control_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_handles: 1024,
            max_fds_per_message: SCM_MAX_FD,
            max_message_bytes: 8 << 20,
            max_control_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_handles`].
    pub fn max_handles(mut self, n: usize) -> Limits {
        self.max_handles = n;
        self
    }

    /// Sets [`Limits::max_fds_per_message`] (capped at `SCM_MAX_FD`).
    pub fn max_fds_per_message(mut self, n: usize) -> Limits {
        self.max_fds_per_message = n.min(SCM_MAX_FD);
        self
    }

    /// Sets [`Limits::max_message_bytes`].
    pub fn max_message_bytes(mut self, n: usize) -> Limits {
        self.max_message_bytes = n;
        self
    }

    /// Sets [`Limits::max_control_bytes`].
    pub fn max_control_bytes(mut self, n: usize) -> Limits {
        self.max_control_bytes = n;
        self
    }

    /// How many of `len` bytes one send may pass on: all of them up to the
    /// message limit; above it, the limit on a stream socket (a short send,
    /// as `sendmsg(2)` may make), `message-size` on a socket that keeps
    /// message boundaries.
    pub(crate) fn send_size(&self, ty: SocketType, len: usize) -> Result<usize, ErrorCode> {
        match ty {
            _ if len <= self.max_message_bytes => Ok(len),
            SocketType::Stream => Ok(self.max_message_bytes),
            SocketType::Datagram | SocketType::Seqpacket => Err(ErrorCode::MessageSize),
        }
    }

    /// A receive's `max-data` or a read's `len`, at most the message limit:
    /// asking for more is a short read, as a smaller buffer would be.
    pub(crate) fn receive_size(&self, len: u64) -> usize {
        usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(self.max_message_bytes)
    }

    /// A receive's control space, refused with `limit-reached` above the
    /// control limit.
    pub(crate) fn control_space(&self, len: u64) -> Result<usize, ErrorCode> {
        usize::try_from(len)
            .ok()
            .filter(|&n| n <= self.max_control_bytes)
            .ok_or(ErrorCode::LimitReached)
    }
}
