//! The error model: an [`ErrorCode`] the guest can handle, or a trap for host
//! bugs the guest cannot recover from (wasmtime-wasi's `TrappableError`).

use std::io;

pub use crate::bindings::types::ErrorCode;

/// The error type of every capsock host function: an [`ErrorCode`] returned
/// to the guest, or a trap.
#[derive(Debug)]
pub enum CapsockError {
    /// An error the guest sees as `error-code`.
    Code(ErrorCode),
    /// A host bug or unrecoverable condition: the guest traps.
    Trap(wasmtime::Error),
}

impl CapsockError {
    /// A trap.
    pub fn trap(e: impl Into<wasmtime::Error>) -> CapsockError {
        CapsockError::Trap(e.into())
    }

    /// The code for the guest, or the trap.
    pub fn into_code(self) -> wasmtime::Result<ErrorCode> {
        match self {
            CapsockError::Code(c) => Ok(c),
            CapsockError::Trap(e) => Err(e),
        }
    }
}

impl std::fmt::Display for CapsockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CapsockError::Code(c) => write!(f, "{}: {}", c.name(), c.message()),
            CapsockError::Trap(e) => write!(f, "trap: {e:#}"),
        }
    }
}

impl std::error::Error for CapsockError {}

impl From<ErrorCode> for CapsockError {
    fn from(c: ErrorCode) -> CapsockError {
        CapsockError::Code(c)
    }
}

/// Result of a capsock host function.
pub type CapsockResult<T> = Result<T, CapsockError>;

impl From<io::Error> for ErrorCode {
    fn from(e: io::Error) -> ErrorCode {
        let Some(errno) = e.raw_os_error() else {
            tracing::debug!(error = %e, "io error without errno");
            return ErrorCode::Unknown;
        };
        from_errno(errno)
    }
}

/// Maps an `errno` to its [`ErrorCode`]; unknown ones become `unknown`
/// (logged at debug level).
pub fn from_errno(errno: i32) -> ErrorCode {
    use ErrorCode as E;
    match errno {
        libc::EACCES | libc::EPERM => E::AccessDenied,
        libc::EAGAIN => E::WouldBlock,
        libc::EBADF => E::BadDescriptor,
        libc::EINVAL => E::InvalidArgument,
        libc::EMSGSIZE => E::MessageSize,
        libc::ENOTCONN => E::NotConnected,
        libc::EISCONN => E::IsConnected,
        libc::EDESTADDRREQ => E::DestinationAddressRequired,
        libc::EMFILE | libc::ENFILE | libc::ETOOMANYREFS => E::LimitReached,
        libc::ENOBUFS | libc::ENOMEM => E::NoBufferSpace,
        libc::ENOTSOCK => E::NotSocket,
        libc::EPROTOTYPE => E::WrongType,
        libc::EOPNOTSUPP | libc::ESOCKTNOSUPPORT | libc::EPROTONOSUPPORT => E::NotSupported,
        libc::EAFNOSUPPORT => E::AddressFamilyNotSupported,
        libc::EADDRINUSE => E::AddressInUse,
        libc::EADDRNOTAVAIL => E::AddressNotAvailable,
        libc::ECONNREFUSED => E::ConnectionRefused,
        libc::ECONNRESET => E::ConnectionReset,
        libc::ECONNABORTED => E::ConnectionAborted,
        libc::EPIPE => E::BrokenPipe,
        libc::ETIMEDOUT => E::TimedOut,
        libc::ENOENT => E::NoEntry,
        libc::ENAMETOOLONG => E::NameTooLong,
        libc::ESPIPE => E::InvalidSeek,
        libc::EISDIR => E::IsDirectory,
        libc::EIO => E::Io,
        libc::ENETUNREACH => E::NetworkUnreachable,
        libc::EHOSTUNREACH => E::HostUnreachable,
        libc::ENOPROTOOPT => E::OptionNotAvailable,
        other => {
            tracing::debug!(errno = other, "errno without an error-code case");
            E::Unknown
        }
    }
}

impl From<crate::interrupt::Stopped> for CapsockError {
    fn from(s: crate::interrupt::Stopped) -> CapsockError {
        CapsockError::trap(s)
    }
}

impl From<io::Error> for CapsockError {
    fn from(e: io::Error) -> CapsockError {
        ErrorCode::from(e).into()
    }
}

impl From<wasmtime::component::ResourceTableError> for CapsockError {
    fn from(e: wasmtime::component::ResourceTableError) -> CapsockError {
        // The component model only lets a guest name handles of the right
        // type that it holds, so a failed lookup is a host bug: trap.
        CapsockError::trap(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_posix_named_codes() {
        assert_eq!(
            ErrorCode::from(io::Error::from_raw_os_error(libc::EAGAIN)),
            ErrorCode::WouldBlock
        );
        assert_eq!(
            ErrorCode::from(io::Error::from_raw_os_error(libc::EPIPE)),
            ErrorCode::BrokenPipe
        );
        assert_eq!(
            ErrorCode::from(io::Error::from_raw_os_error(libc::EMSGSIZE)),
            ErrorCode::MessageSize
        );
        assert_eq!(
            ErrorCode::from(io::Error::from_raw_os_error(libc::EXDEV)),
            ErrorCode::Unknown
        );
        assert_eq!(
            ErrorCode::from(io::Error::other("no errno")),
            ErrorCode::Unknown
        );
    }
}
