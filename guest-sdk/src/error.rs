//! Errors: every host `error-code` becomes an [`io::Error`] whose kind fits,
//! and whose inner error is the [`ErrorCode`] itself.

use std::io;

pub use crate::bindings::capsock::sockets::types::ErrorCode;

/// Converts a host error code into an `io::Error` carrying the code.
pub(crate) fn to_io(code: ErrorCode) -> io::Error {
    io::Error::new(kind_of(code), HostError(code))
}

/// The inner error of every `io::Error` made from an [`ErrorCode`]: the
/// code with a short `Display` and `Debug` (the generated ones print the
/// WIT's whole doc comment, line breaks and indentation included, in every
/// `unwrap` panic).
struct HostError(ErrorCode);

impl HostError {
    /// The code's meaning on one line: the first sentence of its
    /// description, white space collapsed.
    fn meaning(&self) -> String {
        let text = self.0.message().split_whitespace().collect::<Vec<_>>();
        first_sentence(&text.join(" "))
    }
}

/// `text` up to its first full stop outside parentheses that a new
/// sentence follows (so "e.g. this" does not end it), or all of it.
fn first_sentence(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut depth = 0i32;
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            '.' if depth <= 0
                && chars.get(i + 1) == Some(&' ')
                && chars
                    .get(i + 2)
                    .is_some_and(|n| n.is_uppercase() || *n == '`') =>
            {
                return chars[..=i].iter().collect();
            }
            _ => {}
        }
    }
    text.to_string()
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.name(), self.meaning())
    }
}

impl std::fmt::Debug for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ErrorCode({}: {})", self.0.name(), self.meaning())
    }
}

impl std::error::Error for HostError {}

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
    e.get_ref()?.downcast_ref::<HostError>().map(|h| h.0)
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

    /// `{}` and `{:?}` of an error are one short line each: the code's name
    /// and the first sentence of its meaning, never the whole doc comment.
    #[test]
    fn errors_print_on_one_short_line() {
        let e = to_io(ErrorCode::BrokenPipe);
        let shown = e.to_string();
        assert!(shown.starts_with("broken-pipe: `EPIPE`"), "{shown}");
        let debug = format!("{e:?}");
        assert!(debug.contains("ErrorCode(broken-pipe: `EPIPE`"), "{debug}");
        for text in [&shown, &debug] {
            assert!(!text.contains('\n') && !text.contains("  "), "{text:?}");
            assert!(text.len() < 200, "{text}");
        }
        // Every code: one line, its name first, parentheses closed (no
        // sentence cut inside one, as at an "e.g.").
        let mut seen = 0;
        for n in 0..=u8::MAX {
            if !cfg!(debug_assertions) {
                break;
            }
            // SAFETY: in debug builds `_lift` checks the value, panicking
            // on one past the last code (caught here); release builds do
            // not get here.
            #[allow(unsafe_code)]
            let Ok(code) = std::panic::catch_unwind(|| unsafe { ErrorCode::_lift(n) }) else {
                break;
            };
            seen += 1;
            let shown = to_io(code).to_string();
            assert!(shown.starts_with(&format!("{}: ", code.name())), "{shown}");
            assert!(!shown.contains('\n') && !shown.contains("  "), "{shown:?}");
            let (open, close) = (shown.matches('(').count(), shown.matches(')').count());
            assert_eq!(open, close, "{shown}");
        }
        // As many as the WIT's `enum error-code` has cases.
        let wit = include_str!("../wit/types.wit");
        let cases = wit
            .split("enum error-code {")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .expect("enum error-code in types.wit")
            .lines()
            .map(str::trim)
            .filter(|l| l.ends_with(',') && !l.starts_with("//"))
            .count();
        if cfg!(debug_assertions) {
            assert_eq!(seen, cases);
        }
        assert_eq!(first_sentence("A (e.g. b). Then c."), "A (e.g. b).");
        assert_eq!(first_sentence("`X`: y. `Z` w"), "`X`: y.");
        assert_eq!(first_sentence("no stop. at all"), "no stop. at all");
    }
}
