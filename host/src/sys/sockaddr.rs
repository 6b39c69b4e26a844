//! Socket addresses as bytes: `struct sockaddr_un`, `sockaddr_in` and
//! `sockaddr_in6`, encoded and decoded without `unsafe`.
//!
//! The same decoder reads the kernel's `msg_name`, `getsockname` results and
//! the addresses inside control messages (`IP_ORIGDSTADDR`, the offender of
//! `IP_RECVERR`), which arrive as bytes at any alignment. Every offset comes
//! from libc's struct definitions; the tests check the layouts against
//! std's conversions.

use std::io;
use std::mem::{offset_of, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// `sizeof(struct sockaddr_storage)`: room for any address.
pub const STORAGE_LEN: usize = size_of::<libc::sockaddr_storage>();

const FAMILY_LEN: usize = size_of::<libc::sa_family_t>();
const SUN_PATH_OFFSET: usize = offset_of!(libc::sockaddr_un, sun_path);
const SUN_PATH_LEN: usize = size_of::<libc::sockaddr_un>() - SUN_PATH_OFFSET;
const SIN_LEN: usize = size_of::<libc::sockaddr_in>();
const SIN6_LEN: usize = size_of::<libc::sockaddr_in6>();

/// What a Unix socket address names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnixName {
    /// No name (`addrlen == sizeof(sa_family_t)`).
    Unnamed,
    /// A path name, without the trailing NUL.
    Pathname(Vec<u8>),
    /// An abstract name, without the leading NUL.
    Abstract(Vec<u8>),
}

/// A decoded socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockName {
    /// `AF_UNIX`.
    Unix(UnixName),
    /// `AF_INET` or `AF_INET6`.
    Ip(SocketAddr),
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

fn get<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

/// Encodes `name` into `out` and returns the address length to pass to the
/// kernel. `ENAMETOOLONG` if a Unix name does not fit in `sun_path`;
/// `EINVAL` for an empty path name or one with a NUL byte.
pub fn encode(name: &SockName, out: &mut [u8; STORAGE_LEN]) -> io::Result<usize> {
    out.fill(0);
    match name {
        SockName::Unix(unix) => {
            put(out, 0, &(libc::AF_UNIX as libc::sa_family_t).to_ne_bytes());
            let (bytes, start, nul) = match unix {
                UnixName::Unnamed => return Ok(FAMILY_LEN),
                UnixName::Pathname(p) if p.is_empty() || p.contains(&0) => return Err(einval()),
                UnixName::Pathname(p) => (&p[..], 0, 1),
                UnixName::Abstract(n) => (&n[..], 1, 0),
            };
            // A path name keeps room for its NUL; an abstract name uses
            // every byte after the leading NUL.
            if start + bytes.len() + nul > SUN_PATH_LEN {
                return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
            }
            put(out, SUN_PATH_OFFSET + start, bytes);
            Ok(SUN_PATH_OFFSET + start + bytes.len() + nul)
        }
        SockName::Ip(SocketAddr::V4(a)) => {
            put(out, 0, &(libc::AF_INET as libc::sa_family_t).to_ne_bytes());
            put(
                out,
                offset_of!(libc::sockaddr_in, sin_port),
                &a.port().to_be_bytes(),
            );
            put(
                out,
                offset_of!(libc::sockaddr_in, sin_addr),
                &a.ip().octets(),
            );
            Ok(SIN_LEN)
        }
        SockName::Ip(SocketAddr::V6(a)) => {
            put(out, 0, &(libc::AF_INET6 as libc::sa_family_t).to_ne_bytes());
            put(
                out,
                offset_of!(libc::sockaddr_in6, sin6_port),
                &a.port().to_be_bytes(),
            );
            // std and the kernel both keep sin6_flowinfo as the raw field.
            put(
                out,
                offset_of!(libc::sockaddr_in6, sin6_flowinfo),
                &a.flowinfo().to_ne_bytes(),
            );
            put(
                out,
                offset_of!(libc::sockaddr_in6, sin6_addr),
                &a.ip().octets(),
            );
            put(
                out,
                offset_of!(libc::sockaddr_in6, sin6_scope_id),
                &a.scope_id().to_ne_bytes(),
            );
            Ok(SIN6_LEN)
        }
    }
}

/// Decodes the first `bytes.len()` bytes of an address as the kernel
/// returned them. `None` for a family capsock does not know (including
/// `AF_UNSPEC`, "no address") or an address too short for its family.
pub fn decode(bytes: &[u8]) -> Option<SockName> {
    let family = libc::sa_family_t::from_ne_bytes(get(bytes, 0)?) as libc::c_int;
    match family {
        libc::AF_UNIX => {
            let path = bytes.get(SUN_PATH_OFFSET..).unwrap_or(&[]);
            let path = &path[..path.len().min(SUN_PATH_LEN)];
            Some(SockName::Unix(match path.first() {
                None => UnixName::Unnamed,
                Some(0) => UnixName::Abstract(path[1..].to_vec()),
                Some(_) => {
                    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                    UnixName::Pathname(path[..end].to_vec())
                }
            }))
        }
        libc::AF_INET if bytes.len() >= SIN_LEN => {
            let port = u16::from_be_bytes(get(bytes, offset_of!(libc::sockaddr_in, sin_port))?);
            let ip: [u8; 4] = get(bytes, offset_of!(libc::sockaddr_in, sin_addr))?;
            Some(SockName::Ip(
                SocketAddrV4::new(Ipv4Addr::from(ip), port).into(),
            ))
        }
        libc::AF_INET6 if bytes.len() >= SIN6_LEN => {
            let port = u16::from_be_bytes(get(bytes, offset_of!(libc::sockaddr_in6, sin6_port))?);
            let flow =
                u32::from_ne_bytes(get(bytes, offset_of!(libc::sockaddr_in6, sin6_flowinfo))?);
            let ip: [u8; 16] = get(bytes, offset_of!(libc::sockaddr_in6, sin6_addr))?;
            let scope =
                u32::from_ne_bytes(get(bytes, offset_of!(libc::sockaddr_in6, sin6_scope_id))?);
            Some(SockName::Ip(
                SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope).into(),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(name: SockName) -> usize {
        let mut buf = [0u8; STORAGE_LEN];
        let len = encode(&name, &mut buf).unwrap();
        assert_eq!(decode(&buf[..len]), Some(name));
        len
    }

    #[test]
    fn unix_names_round_trip_with_kernel_lengths() {
        assert_eq!(round_trip(SockName::Unix(UnixName::Unnamed)), 2);
        assert_eq!(
            round_trip(SockName::Unix(UnixName::Pathname(b"/tmp/a.sock".to_vec()))),
            2 + 11 + 1
        );
        assert_eq!(
            round_trip(SockName::Unix(UnixName::Abstract(b"bus".to_vec()))),
            2 + 1 + 3
        );
        let mut buf = [0u8; STORAGE_LEN];
        let long = SockName::Unix(UnixName::Pathname(vec![b'a'; 108]));
        assert_eq!(
            encode(&long, &mut buf).unwrap_err().raw_os_error(),
            Some(libc::ENAMETOOLONG)
        );
        round_trip(SockName::Unix(UnixName::Pathname(vec![b'a'; 107])));
        round_trip(SockName::Unix(UnixName::Abstract(vec![b'a'; 107])));
        let empty = SockName::Unix(UnixName::Pathname(Vec::new()));
        assert!(encode(&empty, &mut buf).is_err());
    }

    #[test]
    fn ip_layouts_match_std_and_kernel() {
        // Byte layout the kernel expects, written out by hand.
        let mut buf = [0u8; STORAGE_LEN];
        let v4: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(encode(&SockName::Ip(v4), &mut buf).unwrap(), 16);
        let family = (libc::AF_INET as u16).to_ne_bytes();
        assert_eq!(&buf[..8], &[family[0], family[1], 0x1f, 0x90, 127, 0, 0, 1]);
        round_trip(SockName::Ip(v4));
        let v6 = SocketAddr::V6(SocketAddrV6::new(
            "fe80::1:2".parse().unwrap(),
            443,
            0x12345,
            7,
        ));
        assert_eq!(round_trip(SockName::Ip(v6)), 28);
        // Short or unknown addresses decode to nothing.
        assert_eq!(decode(&buf[..15]), None);
        assert_eq!(decode(&[0, 0, 1, 2]), None);
        assert_eq!(decode(&[]), None);
    }
}
