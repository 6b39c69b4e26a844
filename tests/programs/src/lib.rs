//! How the test guests report what they saw: one `key=value` line per fact
//! on standard output, read by the host tests (`GuestRun::get` in
//! tests/all/support.rs). A value is written on purpose by [`Report`],
//! never by `Debug`, so that a test compares what the guest observed and
//! not how a type happens to print itself:
//!
//! | value | written as |
//! |---|---|
//! | a call's result | `ok:VALUE`, `ok` alone when it returns nothing; `err:KIND:CODE`, the `std::io::ErrorKind` and the host's `error-code` name (`err:KIND` for an error the host did not raise) |
//! | number, boolean | decimal; `true` / `false` |
//! | text, bytes | as is, escaped as [`u8::escape_ascii`] escapes (`\n`, `\x00`, `\\`, ...) |
//! | WIT flags | the names of the flags set, in WIT order, joined by `\|` (empty for none) |
//! | WIT enum | the case's WIT name (`regular-file`, `icmp6`) |
//! | socket address | `127.0.0.1:80`, `[::1]:80`, a path, `@NAME` (abstract), `unnamed` |
//! | optional value | the value, or `none` |
//! | list, map | `[a,b]`, `[key:value,...]` |
//! | several fields of one fact | the fields joined by `/` |

use std::collections::BTreeMap;

use capsock::{DescriptorKind, ErrorOrigin, MessageFlags, UnixSocketAddr};

/// A value written as the table of the crate docs says.
pub trait Report {
    /// The value as the host test reads it.
    fn report(&self) -> String;
}

macro_rules! decimal {
    ($($t:ty),*) => {$(
        impl Report for $t {
            fn report(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
decimal!(u8, u16, u32, u64, usize, i32, i64, bool, char);

impl Report for () {
    fn report(&self) -> String {
        String::new()
    }
}

impl Report for str {
    fn report(&self) -> String {
        self.as_bytes().escape_ascii().to_string()
    }
}

impl Report for String {
    fn report(&self) -> String {
        self.as_str().report()
    }
}

/// Bytes that are text to the test (file contents, received data).
pub struct Text<'a>(pub &'a [u8]);

impl Report for Text<'_> {
    fn report(&self) -> String {
        self.0.escape_ascii().to_string()
    }
}

impl<T: Report + ?Sized> Report for &T {
    fn report(&self) -> String {
        (**self).report()
    }
}

impl<T: Report> Report for Option<T> {
    fn report(&self) -> String {
        self.as_ref().map_or_else(|| "none".to_string(), T::report)
    }
}

impl<T: Report> Report for [T] {
    fn report(&self) -> String {
        let items: Vec<String> = self.iter().map(T::report).collect();
        format!("[{}]", items.join(","))
    }
}

impl<T: Report> Report for Vec<T> {
    fn report(&self) -> String {
        self.as_slice().report()
    }
}

impl<K: Report, V: Report> Report for BTreeMap<K, V> {
    fn report(&self) -> String {
        let items: Vec<String> = self
            .iter()
            .map(|(k, v)| format!("{}:{}", k.report(), v.report()))
            .collect();
        format!("[{}]", items.join(","))
    }
}

impl<A: Report, B: Report> Report for (A, B) {
    fn report(&self) -> String {
        format!("{}/{}", self.0.report(), self.1.report())
    }
}

impl Report for MessageFlags {
    fn report(&self) -> String {
        let names = [
            (MessageFlags::TRUNCATED, "truncated"),
            (MessageFlags::CONTROL_TRUNCATED, "control-truncated"),
            (MessageFlags::END_OF_RECORD, "end-of-record"),
            (MessageFlags::OUT_OF_BAND, "out-of-band"),
            (MessageFlags::ERROR_QUEUE, "error-queue"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name)
            .collect();
        set.join("|")
    }
}

/// The cases of WIT's `descriptor-kind`, in WIT order: wit-bindgen numbers
/// an enum's cases so (their canonical ABI discriminants), in the SDK's
/// bindings and in a guest's own raw ones alike.
pub const DESCRIPTOR_KINDS: [&str; 8] = [
    "regular-file",
    "directory",
    "fifo",
    "socket",
    "character-device",
    "block-device",
    "symbolic-link",
    "unknown",
];

impl Report for DescriptorKind {
    fn report(&self) -> String {
        DESCRIPTOR_KINDS[*self as usize].to_string()
    }
}

impl Report for ErrorOrigin {
    fn report(&self) -> String {
        let name = match self {
            ErrorOrigin::None => "none",
            ErrorOrigin::Local => "local",
            ErrorOrigin::Icmp => "icmp",
            ErrorOrigin::Icmp6 => "icmp6",
            ErrorOrigin::Timestamping => "timestamping",
            ErrorOrigin::Zerocopy => "zerocopy",
            ErrorOrigin::Txtime => "txtime",
            ErrorOrigin::Other => "other",
        };
        name.to_string()
    }
}

impl Report for std::net::SocketAddr {
    fn report(&self) -> String {
        self.to_string()
    }
}

impl Report for UnixSocketAddr {
    fn report(&self) -> String {
        match self {
            UnixSocketAddr::Unnamed => "unnamed".to_string(),
            UnixSocketAddr::Pathname(p) => Text(p).report(),
            UnixSocketAddr::Abstract(name) => format!("@{}", Text(name).report()),
        }
    }
}

/// An error: `err:KIND:CODE`, or `err:KIND` when no host error code is
/// behind it.
pub fn error(e: &std::io::Error) -> String {
    match capsock::error_code(e) {
        Some(code) => format!("err:{:?}:{}", e.kind(), code.name()),
        None => format!("err:{:?}", e.kind()),
    }
}

/// A call's result: `ok:VALUE` (`ok` for no value) or [`error`].
pub fn result<T: Report>(r: std::io::Result<T>) -> String {
    match r {
        Ok(v) => ok(&v),
        Err(e) => error(&e),
    }
}

/// A successful call's value: `ok:VALUE`, or `ok` when it has none.
pub fn ok(v: &impl Report) -> String {
    match v.report() {
        v if v.is_empty() => "ok".to_string(),
        v => format!("ok:{v}"),
    }
}

/// Prints `key=` and the [`result`] of a call.
pub fn show<T: Report>(key: &str, r: std::io::Result<T>) {
    println!("{key}={}", result(r));
}
