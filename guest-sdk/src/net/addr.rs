//! The address of a Unix socket ([`UnixSocketAddr`]), and how addresses of
//! both families cross to the host.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::Path;

use super::sock::{Address, Sock};
use crate::bindings::capsock::sockets::types::{
    AddressFamily, AddressParam, AddressResult, Ipv4SocketAddress, Ipv6SocketAddress,
};
use crate::handle::SocketType;

/// The longest abstract name a `struct sockaddr_un` holds: `sun_path` less
/// its leading NUL.
const MAX_ABSTRACT_NAME: usize = 107;

/// The address of a Unix socket, like `std::os::unix::net::SocketAddr`
/// (with `std::os::linux::net::SocketAddrExt` for abstract names). IP
/// sockets use [`std::net::SocketAddr`].
///
/// Names are bytes, as the kernel keeps them. Path names are the guest's
/// view: a path below a directory the host granted (`capsock run
/// --unix-dir HOST::GUEST`) is given and shown as `GUEST/...`.
///
/// ```no_run
/// use capsock::{UnixListener, UnixSocketAddr, UnixStream};
///
/// // Linux abstract namespace (the host must allow abstract names).
/// let addr = UnixSocketAddr::from_abstract_name(b"broker")?;
/// let listener = UnixListener::bind_addr(&addr)?;
/// let client = UnixStream::connect_addr(&addr)?;
/// let (_conn, peer) = listener.accept()?;
/// assert!(peer.is_unnamed());
/// assert_eq!(client.peer_addr()?.as_abstract_name(), Some(&b"broker"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum UnixSocketAddr {
    /// No name: an end of a socket pair, or a socket never bound.
    Unnamed,
    /// A filesystem path name, without the trailing NUL.
    Pathname(Vec<u8>),
    /// A Linux abstract-namespace name, without the leading NUL.
    Abstract(Vec<u8>),
}

impl UnixSocketAddr {
    /// A path-name address, like std's `SocketAddr::from_pathname`.
    ///
    /// # Errors
    /// `InvalidInput` if the path contains a NUL byte. How long a path
    /// may be is the host's to say (`name-too-long` when it is used): the
    /// guest's path is not the host's.
    pub fn from_pathname(path: impl AsRef<Path>) -> io::Result<UnixSocketAddr> {
        let bytes = path.as_ref().as_os_str().as_encoded_bytes();
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "paths must not contain interior null bytes",
            ));
        }
        Ok(UnixSocketAddr::Pathname(bytes.to_vec()))
    }

    /// An abstract-namespace address, like std's
    /// `SocketAddrExt::from_abstract_name`. Binding or connecting to one
    /// needs the host's permission.
    ///
    /// # Errors
    /// `InvalidInput` if the name is longer than 107 bytes.
    pub fn from_abstract_name(name: impl AsRef<[u8]>) -> io::Result<UnixSocketAddr> {
        let name = name.as_ref();
        if name.len() > MAX_ABSTRACT_NAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "abstract socket name must be shorter than SUN_LEN",
            ));
        }
        Ok(UnixSocketAddr::Abstract(name.to_vec()))
    }

    /// Whether the address is unnamed, like std's `SocketAddr::is_unnamed`.
    pub fn is_unnamed(&self) -> bool {
        matches!(self, UnixSocketAddr::Unnamed)
    }

    /// The path name, if it is one and is UTF-8 (as WASI paths are), like
    /// std's `SocketAddr::as_pathname`.
    pub fn as_pathname(&self) -> Option<&Path> {
        match self {
            UnixSocketAddr::Pathname(p) => std::str::from_utf8(p).ok().map(Path::new),
            _ => None,
        }
    }

    /// The abstract name, if it is one, like std's
    /// `SocketAddrExt::as_abstract_name`.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match self {
            UnixSocketAddr::Abstract(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Debug for UnixSocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixSocketAddr::Unnamed => f.write_str("Unnamed"),
            UnixSocketAddr::Pathname(p) => write!(f, "Pathname(\"{}\")", p.escape_ascii()),
            UnixSocketAddr::Abstract(n) => write!(f, "Abstract(\"{}\")", n.escape_ascii()),
        }
    }
}

impl Address for UnixSocketAddr {
    fn socket(&self, ty: SocketType) -> io::Result<Sock> {
        Sock::create(ty)
    }

    fn to_wit(&self) -> AddressParam<'_> {
        match self {
            UnixSocketAddr::Unnamed => AddressParam::Unnamed,
            UnixSocketAddr::Pathname(p) => AddressParam::Pathname(p),
            UnixSocketAddr::Abstract(n) => AddressParam::Abstract(n),
        }
    }

    fn from_wit(a: AddressResult) -> Option<UnixSocketAddr> {
        match a {
            AddressResult::Unnamed => Some(UnixSocketAddr::Unnamed),
            AddressResult::Pathname(p) => Some(UnixSocketAddr::Pathname(p)),
            AddressResult::Abstract(n) => Some(UnixSocketAddr::Abstract(n)),
            AddressResult::Ipv4(_) | AddressResult::Ipv6(_) => None,
        }
    }
}

impl Address for SocketAddr {
    fn socket(&self, ty: SocketType) -> io::Result<Sock> {
        let family = match self {
            SocketAddr::V4(_) => AddressFamily::Ipv4,
            SocketAddr::V6(_) => AddressFamily::Ipv6,
        };
        Sock::create_ip(family, ty)
    }

    fn to_wit(&self) -> AddressParam<'_> {
        match self {
            SocketAddr::V4(a) => {
                let [b0, b1, b2, b3] = a.ip().octets();
                AddressParam::Ipv4(Ipv4SocketAddress {
                    address: (b0, b1, b2, b3),
                    port: a.port(),
                })
            }
            SocketAddr::V6(a) => {
                let [g0, g1, g2, g3, g4, g5, g6, g7] = a.ip().segments();
                AddressParam::Ipv6(Ipv6SocketAddress {
                    address: (g0, g1, g2, g3, g4, g5, g6, g7),
                    port: a.port(),
                    flow_info: a.flowinfo(),
                    scope_id: a.scope_id(),
                })
            }
        }
    }

    fn from_wit(a: AddressResult) -> Option<SocketAddr> {
        match a {
            AddressResult::Ipv4(a) => Some((ipv4(a.address), a.port).into()),
            AddressResult::Ipv6(a) => {
                let ip = ipv6(a.address);
                Some(SocketAddrV6::new(ip, a.port, a.flow_info, a.scope_id).into())
            }
            AddressResult::Unnamed | AddressResult::Pathname(_) | AddressResult::Abstract(_) => {
                None
            }
        }
    }
}

/// An IPv4 address as the WIT spells it.
pub(crate) fn ipv4((a, b, c, d): (u8, u8, u8, u8)) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

/// An IPv6 address as the WIT spells it.
pub(crate) fn ipv6((a, b, c, d, e, f, g, h): (u16, u16, u16, u16, u16, u16, u16, u16)) -> Ipv6Addr {
    Ipv6Addr::new(a, b, c, d, e, f, g, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_check_what_std_checks() {
        let p = UnixSocketAddr::from_pathname("/run/t/x.sock").unwrap();
        assert_eq!(p.as_pathname(), Some(Path::new("/run/t/x.sock")));
        assert_eq!(
            UnixSocketAddr::from_pathname("/a\0b").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let a = UnixSocketAddr::from_abstract_name([7u8; 107]).unwrap();
        assert_eq!(a.as_abstract_name(), Some(&[7u8; 107][..]));
        assert!(UnixSocketAddr::from_abstract_name([7u8; 108]).is_err());
        assert!(UnixSocketAddr::Unnamed.is_unnamed());
        assert_eq!(format!("{:?}", UnixSocketAddr::Unnamed), "Unnamed");
        assert_eq!(format!("{a:?}").len(), "Abstract(\"\")".len() + 4 * 107);
        assert_eq!(format!("{p:?}"), "Pathname(\"/run/t/x.sock\")");
    }

    #[test]
    fn ip_addresses_cross_unchanged() {
        for a in ["127.0.0.1:80", "[::1]:443", "[fe80::1%3]:9"] {
            let a: SocketAddr = a.parse().unwrap();
            let back = match a.to_wit() {
                AddressParam::Ipv4(v4) => AddressResult::Ipv4(v4),
                AddressParam::Ipv6(v6) => AddressResult::Ipv6(v6),
                _ => unreachable!(),
            };
            assert_eq!(SocketAddr::from_wit(back), Some(a));
        }
        assert_eq!(SocketAddr::from_wit(AddressResult::Unnamed), None);
        assert_eq!(
            UnixSocketAddr::from_wit(AddressResult::Abstract(b"x".to_vec())),
            Some(UnixSocketAddr::Abstract(b"x".to_vec()))
        );
    }
}
