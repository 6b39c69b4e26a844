//! Errors: every host `error-code` becomes an [`io::Error`] whose kind fits,
//! and whose inner error is the [`ErrorCode`] itself.

use std::io;

pub use crate::bindings::capsock::sockets::types::ErrorCode;

/// Converts a host error code into an `io::Error` carrying the code.
pub(crate) fn to_io(code: ErrorCode) -> io::Error {
    io::Error::new(kind_of(code), code)
}

fn kind_of(code: ErrorCode) -> io::ErrorKind {
    use io::ErrorKind as K;
    use ErrorCode as E;
    match code {
        E::AccessDenied => K::PermissionDenied,
        E::WouldBlock => K::WouldBlock,
        E::NotConnected => K::NotConnected,
        E::ConnectionRefused => K::ConnectionRefused,
        E::ConnectionReset => K::ConnectionReset,
        E::ConnectionAborted => K::ConnectionAborted,
        E::BrokenPipe => K::BrokenPipe,
        E::TimedOut => K::TimedOut,
        E::NoEntry => K::NotFound,
        E::AddressInUse => K::AddrInUse,
        E::AddressNotAvailable => K::AddrNotAvailable,
        E::IsDirectory => K::IsADirectory,
        E::NoBufferSpace => K::OutOfMemory,
        E::InvalidArgument
        | E::DestinationAddressRequired
        | E::WrongType
        | E::AddressFamilyNotSupported
        | E::NameTooLong
        | E::MessageSize => K::InvalidInput,
        E::NotSocket | E::NotSupported | E::InvalidSeek | E::OptionNotAvailable => K::Unsupported,
        E::NetworkUnreachable => K::NetworkUnreachable,
        E::HostUnreachable => K::HostUnreachable,
        E::IsConnected => K::AlreadyExists,
        E::BadDescriptor | E::LimitReached | E::Io | E::Unknown => K::Other,
    }
}

/// The capsock [`ErrorCode`] behind an `io::Error` returned by this crate,
/// for callers that need the exact POSIX-named case.
///
/// ```no_run
/// use capsock::{error_code, ErrorCode, UnixStream};
///
/// let err = UnixStream::preopened("no-such-grant").unwrap_err();
/// assert_eq!(error_code(&err), Some(ErrorCode::NoEntry));
/// ```
pub fn error_code(e: &io::Error) -> Option<ErrorCode> {
    e.get_ref()?.downcast_ref::<ErrorCode>().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_carry_their_code_and_a_fitting_kind() {
        let e = to_io(ErrorCode::WouldBlock);
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(error_code(&e), Some(ErrorCode::WouldBlock));
        let e = to_io(ErrorCode::AccessDenied);
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(error_code(&io::Error::other("x")), None);
    }
}
