//! The typed half of the control-message codec: WIT records ⇄
//! `(cmsg_level, cmsg_type, payload bytes)`.
//!
//! [`crate::cmsg`] lays items out in the control buffer; this module gives
//! their payloads meaning. It is pure (no syscalls, no `unsafe`) and reads
//! every payload as bytes at whatever alignment it has, with each field's
//! offset and width taken from libc's struct definitions or, where libc
//! lacks one, from the kernel's UAPI headers (named at each constant). A
//! payload of the wrong size for its type is never guessed at: it arrives
//! as `raw`. The guest only ever sees numbers and addresses, never a host
//! struct's bytes.

use std::mem::{offset_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::bindings::sockets::{
    AncillaryIn, AncillaryOut, ErrorOrigin, ExtendedError, HandleRef, Ipv4PacketInfo,
    Ipv6PacketInfo, RawControl, ReceiveOption, Timestamp, Timestamping, TimestampingFlags,
};
use crate::bindings::types::{
    Address, AddressFamily, ErrorCode, Ipv4SocketAddress, Ipv6SocketAddress, SocketType,
};
use crate::cmsg::{Ucred, SCM_SECURITY, UCRED_LEN};
use crate::policy::Policy;
use crate::sys::sockaddr::{self, SockName};

// Linux UAPI values libc does not export for every target. These are the
// asm-generic numbers (x86_64, aarch64, riscv64, ...).
/// `SO_PASSSEC` (asm-generic/socket.h).
pub const SO_PASSSEC: i32 = 34;
/// `SO_PASSPIDFD` (asm-generic/socket.h, Linux 6.5).
pub const SO_PASSPIDFD: i32 = 76;
/// `SO_RXQ_OVFL` (asm-generic/socket.h).
pub const SO_RXQ_OVFL: i32 = 40;
/// `SO_TIMESTAMP_OLD`: `struct timeval`.
pub const SO_TIMESTAMP_OLD: i32 = 29;
/// `SO_TIMESTAMPNS_OLD`: `struct timespec`.
pub const SO_TIMESTAMPNS_OLD: i32 = 35;
/// `SO_TIMESTAMPING_OLD`: `struct scm_timestamping`.
pub const SO_TIMESTAMPING_OLD: i32 = 37;
/// `SO_TIMESTAMP_NEW`: `struct __kernel_sock_timeval` (64-bit fields).
pub const SO_TIMESTAMP_NEW: i32 = 63;
/// `SO_TIMESTAMPNS_NEW`: `struct __kernel_timespec`.
pub const SO_TIMESTAMPNS_NEW: i32 = 64;
/// `SO_TIMESTAMPING_NEW`: `struct scm_timestamping64`.
pub const SO_TIMESTAMPING_NEW: i32 = 65;
/// `UDP_SEGMENT` (linux/udp.h): GSO segment size, a `u16`.
pub const UDP_SEGMENT: i32 = 103;
/// `UDP_GRO` (linux/udp.h): on receive, the GRO segment size as an `int`.
pub const UDP_GRO: i32 = 104;
/// `IPV6_RECVORIGDSTADDR` / `IPV6_ORIGDSTADDR` (linux/in6.h).
pub const IPV6_ORIGDSTADDR: i32 = 74;

const INT: usize = size_of::<libc::c_int>();
/// `struct in6_pktinfo` (RFC 3542): `in6_addr ipi6_addr; int ipi6_ifindex`.
const IN6_PKTINFO_LEN: usize = 20;
const IN6_PKTINFO_IFINDEX: usize = 16;
const EE_LEN: usize = size_of::<libc::sock_extended_err>();

fn bytes<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at + N)?.try_into().ok()
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    bytes(data, at).map(u32::from_ne_bytes)
}

/// A signed integer of `width` (4 or 8) bytes at `at`.
fn int_at(data: &[u8], at: usize, width: usize) -> Option<i64> {
    match width {
        4 => bytes(data, at).map(|b| i64::from(i32::from_ne_bytes(b))),
        8 => bytes(data, at).map(i64::from_ne_bytes),
        _ => None,
    }
}

/// A payload that is exactly one `int`.
fn exact_int(data: &[u8]) -> Option<i32> {
    <[u8; INT]>::try_from(data).ok().map(i32::from_ne_bytes)
}

/// An `int` payload holding a byte-sized value (TTL, hop limit, class).
fn int_u8(data: &[u8]) -> Option<u8> {
    exact_int(data).and_then(|v| u8::try_from(v).ok())
}

pub(crate) fn ipv4_to_wit(ip: Ipv4Addr) -> (u8, u8, u8, u8) {
    let [a, b, c, d] = ip.octets();
    (a, b, c, d)
}

pub(crate) fn ipv6_to_wit(ip: Ipv6Addr) -> (u16, u16, u16, u16, u16, u16, u16, u16) {
    let [a, b, c, d, e, f, g, h] = ip.segments();
    (a, b, c, d, e, f, g, h)
}

fn ipv4_from_wit((a, b, c, d): (u8, u8, u8, u8)) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

fn ipv6_from_wit((a, b, c, d, e, f, g, h): (u16, u16, u16, u16, u16, u16, u16, u16)) -> Ipv6Addr {
    Ipv6Addr::new(a, b, c, d, e, f, g, h)
}

/// An IP socket address as the guest sees it.
pub(crate) fn ip_to_wit(addr: SocketAddr) -> Address {
    match addr {
        SocketAddr::V4(a) => Address::Ipv4(Ipv4SocketAddress {
            address: ipv4_to_wit(*a.ip()),
            port: a.port(),
        }),
        SocketAddr::V6(a) => Address::Ipv6(Ipv6SocketAddress {
            address: ipv6_to_wit(*a.ip()),
            port: a.port(),
            flow_info: a.flowinfo(),
            scope_id: a.scope_id(),
        }),
    }
}

/// The IP socket address in a guest's address, if it is one.
pub(crate) fn ip_from_wit(addr: &Address) -> Option<SocketAddr> {
    match addr {
        Address::Ipv4(a) => Some(SocketAddrV4::new(ipv4_from_wit(a.address), a.port).into()),
        Address::Ipv6(a) => Some(
            SocketAddrV6::new(ipv6_from_wit(a.address), a.port, a.flow_info, a.scope_id).into(),
        ),
        _ => None,
    }
}

fn ip_address(data: &[u8]) -> Option<Address> {
    match sockaddr::decode(data)? {
        SockName::Ip(a) => Some(ip_to_wit(a)),
        SockName::Unix(_) => None,
    }
}

/// A time from seconds and a sub-second part in `unit` nanoseconds.
fn timestamp(seconds: i64, sub: i64, unit: i64) -> Option<Timestamp> {
    let nanoseconds = sub.checked_mul(unit)?;
    (0..1_000_000_000)
        .contains(&nanoseconds)
        .then_some(Timestamp {
            seconds,
            nanoseconds: nanoseconds as u32,
        })
}

/// `struct timeval` of this host (`_OLD`) or `__kernel_sock_timeval` (`_NEW`).
fn decode_timeval(data: &[u8], new: bool) -> Option<Timestamp> {
    let (sec_w, usec_at, usec_w, len) = if new {
        (8, 8, 8, 16)
    } else {
        (
            size_of::<libc::time_t>(),
            offset_of!(libc::timeval, tv_usec),
            size_of::<libc::suseconds_t>(),
            size_of::<libc::timeval>(),
        )
    };
    if data.len() != len {
        return None;
    }
    timestamp(
        int_at(data, 0, sec_w)?,
        int_at(data, usec_at, usec_w)?,
        1000,
    )
}

/// The layout of one `struct timespec` (`_OLD`) or `__kernel_timespec`.
fn timespec_layout(new: bool) -> (usize, usize, usize, usize) {
    if new {
        (8, 8, 8, 16)
    } else {
        (
            size_of::<libc::time_t>(),
            offset_of!(libc::timespec, tv_nsec),
            size_of::<libc::c_long>(),
            size_of::<libc::timespec>(),
        )
    }
}

fn timespec_at(data: &[u8], at: usize, new: bool) -> Option<Timestamp> {
    let (sec_w, nsec_at, nsec_w, _) = timespec_layout(new);
    timestamp(
        int_at(data, at, sec_w)?,
        int_at(data, at + nsec_at, nsec_w)?,
        1,
    )
}

fn decode_timespec(data: &[u8], new: bool) -> Option<Timestamp> {
    (data.len() == timespec_layout(new).3).then(|| timespec_at(data, 0, new))?
}

/// `struct scm_timestamping{,64}`: three timespecs; zero means "not taken".
fn decode_timestamping(data: &[u8], new: bool) -> Option<Timestamping> {
    let one = timespec_layout(new).3;
    if data.len() != 3 * one {
        return None;
    }
    let stamp = |i: usize| -> Option<Option<Timestamp>> {
        let t = timespec_at(data, i * one, new)?;
        Some((t.seconds != 0 || t.nanoseconds != 0).then_some(t))
    };
    Some(Timestamping {
        software: stamp(0)?,
        hardware: stamp(2)?,
    })
}

fn decode_extended_error(data: &[u8]) -> Option<ExtendedError> {
    if data.len() < EE_LEN {
        return None;
    }
    let errno = u32_at(data, offset_of!(libc::sock_extended_err, ee_errno))?;
    let byte = |at: usize| data[at];
    let origin = match byte(offset_of!(libc::sock_extended_err, ee_origin)) {
        libc::SO_EE_ORIGIN_NONE => ErrorOrigin::None,
        libc::SO_EE_ORIGIN_LOCAL => ErrorOrigin::Local,
        libc::SO_EE_ORIGIN_ICMP => ErrorOrigin::Icmp,
        libc::SO_EE_ORIGIN_ICMP6 => ErrorOrigin::Icmp6,
        libc::SO_EE_ORIGIN_TXSTATUS => ErrorOrigin::Timestamping,
        5 => ErrorOrigin::Zerocopy, // SO_EE_ORIGIN_ZEROCOPY
        6 => ErrorOrigin::Txtime,   // SO_EE_ORIGIN_TXTIME
        _ => ErrorOrigin::Other,
    };
    Some(ExtendedError {
        error: crate::error::from_errno(errno as i32),
        errno,
        origin,
        type_: byte(offset_of!(libc::sock_extended_err, ee_type)),
        code: byte(offset_of!(libc::sock_extended_err, ee_code)),
        info: u32_at(data, offset_of!(libc::sock_extended_err, ee_info))?,
        data: u32_at(data, offset_of!(libc::sock_extended_err, ee_data))?,
        // SO_EE_OFFENDER: the address right after the struct
        // (AF_UNSPEC, i.e. none, for local errors and timestamps).
        offender: ip_address(&data[EE_LEN..]),
    })
}

fn decode_in_pktinfo(data: &[u8]) -> Option<Ipv4PacketInfo> {
    if data.len() != size_of::<libc::in_pktinfo>() {
        return None;
    }
    let addr = |at: usize| bytes::<4>(data, at).map(Ipv4Addr::from).map(ipv4_to_wit);
    Some(Ipv4PacketInfo {
        interface_index: u32_at(data, offset_of!(libc::in_pktinfo, ipi_ifindex))?,
        local_address: addr(offset_of!(libc::in_pktinfo, ipi_spec_dst))?,
        destination_address: addr(offset_of!(libc::in_pktinfo, ipi_addr))?,
    })
}

fn decode_in6_pktinfo(data: &[u8]) -> Option<Ipv6PacketInfo> {
    if data.len() != IN6_PKTINFO_LEN {
        return None;
    }
    Some(Ipv6PacketInfo {
        address: ipv6_to_wit(Ipv6Addr::from(bytes::<16>(data, 0)?)),
        interface_index: u32_at(data, IN6_PKTINFO_IFINDEX)?,
    })
}

/// The `(level, type)` pairs [`decode`] types (given a payload of the
/// right size); everything else arrives `raw`.
pub(crate) const TYPED_PAIRS: &[(i32, i32)] = &[
    (libc::SOL_SOCKET, libc::SCM_CREDENTIALS),
    (libc::SOL_SOCKET, SCM_SECURITY),
    (libc::SOL_SOCKET, SO_TIMESTAMP_OLD),
    (libc::SOL_SOCKET, SO_TIMESTAMP_NEW),
    (libc::SOL_SOCKET, SO_TIMESTAMPNS_OLD),
    (libc::SOL_SOCKET, SO_TIMESTAMPNS_NEW),
    (libc::SOL_SOCKET, SO_TIMESTAMPING_OLD),
    (libc::SOL_SOCKET, SO_TIMESTAMPING_NEW),
    (libc::SOL_SOCKET, SO_RXQ_OVFL),
    (libc::IPPROTO_IP, libc::IP_TTL),
    (libc::IPPROTO_IP, libc::IP_TOS),
    (libc::IPPROTO_IP, libc::IP_PKTINFO),
    (libc::IPPROTO_IP, libc::IP_ORIGDSTADDR),
    (libc::IPPROTO_IP, libc::IP_RECVERR),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVERR),
    (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT),
    (libc::IPPROTO_IPV6, libc::IPV6_TCLASS),
    (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO),
    (libc::IPPROTO_IPV6, IPV6_ORIGDSTADDR),
    (libc::SOL_UDP, UDP_GRO),
];

/// Gives a received item its type. Items that carry file descriptors
/// (`SCM_RIGHTS`, `SCM_PIDFD`) never reach here: [`crate::sys::recvmsg`]
/// owns them first. Anything unknown, or of a size its type does not have,
/// is `raw`.
pub(crate) fn decode(level: i32, ty: i32, data: Vec<u8>) -> AncillaryIn {
    let typed = match (level, ty) {
        (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if data.len() == UCRED_LEN => {
            Ucred::from_bytes(&data).map(|c| AncillaryIn::Credentials(c.into()))
        }
        (libc::SOL_SOCKET, SCM_SECURITY) => {
            // A NUL-terminated string; the NUL is not part of the label.
            let label = data.strip_suffix(&[0]).unwrap_or(&data).to_vec();
            Some(AncillaryIn::SecurityLabel(label))
        }
        (libc::SOL_SOCKET, SO_TIMESTAMP_OLD) => {
            decode_timeval(&data, false).map(AncillaryIn::Timestamp)
        }
        (libc::SOL_SOCKET, SO_TIMESTAMP_NEW) => {
            decode_timeval(&data, true).map(AncillaryIn::Timestamp)
        }
        (libc::SOL_SOCKET, SO_TIMESTAMPNS_OLD) => {
            decode_timespec(&data, false).map(AncillaryIn::TimestampNs)
        }
        (libc::SOL_SOCKET, SO_TIMESTAMPNS_NEW) => {
            decode_timespec(&data, true).map(AncillaryIn::TimestampNs)
        }
        (libc::SOL_SOCKET, SO_TIMESTAMPING_OLD) => {
            decode_timestamping(&data, false).map(AncillaryIn::Timestamping)
        }
        (libc::SOL_SOCKET, SO_TIMESTAMPING_NEW) => {
            decode_timestamping(&data, true).map(AncillaryIn::Timestamping)
        }
        (libc::SOL_SOCKET, SO_RXQ_OVFL) => <[u8; 4]>::try_from(&data[..])
            .ok()
            .map(|b| AncillaryIn::Dropped(u32::from_ne_bytes(b))),
        (libc::IPPROTO_IP, libc::IP_TTL) => int_u8(&data).map(AncillaryIn::Ttl),
        // IP_TOS arrives as one byte (ip_cmsg_recv_tos).
        (libc::IPPROTO_IP, libc::IP_TOS) => match data[..] {
            [tos] => Some(AncillaryIn::Tos(tos)),
            _ => int_u8(&data).map(AncillaryIn::Tos),
        },
        (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
            decode_in_pktinfo(&data).map(AncillaryIn::Ipv4PacketInfo)
        }
        (libc::IPPROTO_IP, libc::IP_ORIGDSTADDR) => {
            ip_address(&data).map(AncillaryIn::OriginalDestination)
        }
        (libc::IPPROTO_IP, libc::IP_RECVERR) | (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) => {
            decode_extended_error(&data).map(AncillaryIn::ExtendedError)
        }
        (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => int_u8(&data).map(AncillaryIn::HopLimit),
        (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => int_u8(&data).map(AncillaryIn::TrafficClass),
        (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
            decode_in6_pktinfo(&data).map(AncillaryIn::Ipv6PacketInfo)
        }
        (libc::IPPROTO_IPV6, IPV6_ORIGDSTADDR) => {
            ip_address(&data).map(AncillaryIn::OriginalDestination)
        }
        (libc::SOL_UDP, UDP_GRO) => exact_int(&data)
            .and_then(|v| u16::try_from(v).ok())
            .map(AncillaryIn::GroSegmentSize),
        _ => None,
    };
    typed.unwrap_or(AncillaryIn::Raw(RawControl {
        level,
        kind: ty,
        data,
    }))
}

/// What a socket is, as far as the codec cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SocketKind {
    pub family: AddressFamily,
    pub ty: SocketType,
}

/// A payload of at most this many bytes is built in place.
const INLINE: usize = 20;

/// An item checked against the policy and the socket, ready to encode.
pub(crate) enum Prepared<'a> {
    /// `SCM_RIGHTS`: the handles are resolved to fds when encoding.
    Rights(&'a [HandleRef]),
    /// Any other item.
    Item {
        level: i32,
        ty: i32,
        payload: Payload<'a>,
    },
}

/// An item's payload.
pub(crate) enum Payload<'a> {
    /// Built from typed fields.
    Inline([u8; INLINE], usize),
    /// The guest's own bytes (`raw`).
    Guest(&'a [u8]),
}

impl Payload<'_> {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Payload::Inline(b, n) => &b[..*n],
            Payload::Guest(b) => b,
        }
    }

    fn int(v: i32) -> Self {
        Payload::bytes(&v.to_ne_bytes())
    }

    fn bytes(b: &[u8]) -> Self {
        let mut out = [0u8; INLINE];
        out[..b.len()].copy_from_slice(b);
        Payload::Inline(out, b.len())
    }
}

fn item(level: i32, ty: i32, payload: Payload<'_>) -> Prepared<'_> {
    Prepared::Item { level, ty, payload }
}

/// The `SOF_TIMESTAMPING_*` bits of `flags`.
pub(crate) fn timestamping_bits(flags: TimestampingFlags) -> u32 {
    use TimestampingFlags as F;
    [
        (F::TX_HARDWARE, libc::SOF_TIMESTAMPING_TX_HARDWARE),
        (F::TX_SOFTWARE, libc::SOF_TIMESTAMPING_TX_SOFTWARE),
        (F::RX_HARDWARE, libc::SOF_TIMESTAMPING_RX_HARDWARE),
        (F::RX_SOFTWARE, libc::SOF_TIMESTAMPING_RX_SOFTWARE),
        (F::SOFTWARE, libc::SOF_TIMESTAMPING_SOFTWARE),
        (F::RAW_HARDWARE, libc::SOF_TIMESTAMPING_RAW_HARDWARE),
        (F::OPT_ID, libc::SOF_TIMESTAMPING_OPT_ID),
        (F::TX_SCHEDULED, libc::SOF_TIMESTAMPING_TX_SCHED),
        (F::TX_ACK, libc::SOF_TIMESTAMPING_TX_ACK),
        (F::OPT_CMSG, libc::SOF_TIMESTAMPING_OPT_CMSG),
        (F::OPT_TSONLY, libc::SOF_TIMESTAMPING_OPT_TSONLY),
    ]
    .into_iter()
    .filter(|(f, _)| flags.contains(*f))
    .fold(0, |acc, (_, bit)| acc | bit)
}

fn interface(index: u32) -> Result<i32, ErrorCode> {
    i32::try_from(index).map_err(|_| ErrorCode::InvalidArgument)
}

/// Checks one item to send against the socket it goes out on and the
/// policy, and builds its payload. Items of another family than the
/// socket's are `not-supported` (Linux would drop some silently, e.g.
/// `SCM_RIGHTS` on UDP); sources outside the network policy and raw pairs
/// off the allowlist are `access-denied`.
pub(crate) fn prepare<'a>(
    out: &'a AncillaryOut,
    sock: SocketKind,
    policy: &Policy,
) -> Result<Prepared<'a>, ErrorCode> {
    use AddressFamily as F;
    let need = |family: F| {
        if sock.family == family {
            Ok(())
        } else {
            Err(ErrorCode::NotSupported)
        }
    };
    Ok(match out {
        AncillaryOut::Rights(handles) => {
            need(F::Unix)?;
            Prepared::Rights(handles)
        }
        AncillaryOut::Credentials(c) => {
            need(F::Unix)?;
            policy
                .check_credentials((*c).into())
                .map_err(|_| ErrorCode::AccessDenied)?;
            item(
                libc::SOL_SOCKET,
                libc::SCM_CREDENTIALS,
                Payload::bytes(&Ucred::from(*c).to_bytes()),
            )
        }
        AncillaryOut::Ipv4PacketInfo(p) => {
            need(F::Ipv4)?;
            let source = ipv4_from_wit(p.source_address);
            if !policy.net.allows_source(IpAddr::V4(source)) {
                return Err(ErrorCode::AccessDenied);
            }
            let mut b = [0u8; size_of::<libc::in_pktinfo>()];
            let at = offset_of!(libc::in_pktinfo, ipi_ifindex);
            b[at..at + INT].copy_from_slice(&interface(p.interface_index)?.to_ne_bytes());
            let at = offset_of!(libc::in_pktinfo, ipi_spec_dst);
            b[at..at + 4].copy_from_slice(&source.octets());
            item(libc::IPPROTO_IP, libc::IP_PKTINFO, Payload::bytes(&b))
        }
        AncillaryOut::Ipv6PacketInfo(p) => {
            need(F::Ipv6)?;
            let source = ipv6_from_wit(p.address);
            if !policy.net.allows_source(IpAddr::V6(source)) {
                return Err(ErrorCode::AccessDenied);
            }
            let mut b = [0u8; IN6_PKTINFO_LEN];
            b[..16].copy_from_slice(&source.octets());
            b[IN6_PKTINFO_IFINDEX..].copy_from_slice(&interface(p.interface_index)?.to_ne_bytes());
            item(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, Payload::bytes(&b))
        }
        AncillaryOut::Ttl(v) => {
            need(F::Ipv4)?;
            item(libc::IPPROTO_IP, libc::IP_TTL, Payload::int(i32::from(*v)))
        }
        AncillaryOut::Tos(v) => {
            need(F::Ipv4)?;
            item(libc::IPPROTO_IP, libc::IP_TOS, Payload::int(i32::from(*v)))
        }
        AncillaryOut::HopLimit(v) => {
            need(F::Ipv6)?;
            item(
                libc::IPPROTO_IPV6,
                libc::IPV6_HOPLIMIT,
                Payload::int(i32::from(*v)),
            )
        }
        AncillaryOut::TrafficClass(v) => {
            need(F::Ipv6)?;
            item(
                libc::IPPROTO_IPV6,
                libc::IPV6_TCLASS,
                Payload::int(i32::from(*v)),
            )
        }
        AncillaryOut::SegmentSize(size) => {
            if sock.family == F::Unix || sock.ty != SocketType::Datagram {
                return Err(ErrorCode::NotSupported);
            }
            item(
                libc::SOL_UDP,
                UDP_SEGMENT,
                Payload::bytes(&size.to_ne_bytes()),
            )
        }
        AncillaryOut::Timestamping(flags) => item(
            libc::SOL_SOCKET,
            SO_TIMESTAMPING_OLD,
            Payload::bytes(&timestamping_bits(*flags).to_ne_bytes()),
        ),
        AncillaryOut::Raw(r) => {
            policy
                .check_raw(r.level, r.kind)
                .map_err(|_| ErrorCode::AccessDenied)?;
            item(r.level, r.kind, Payload::Guest(&r.data))
        }
    })
}

/// The socket option (`level`, `name`) that switches `option` on for a
/// socket of this kind; `not-supported` where the socket's family or
/// protocol has no such item.
pub(crate) fn receive_option(
    option: ReceiveOption,
    sock: SocketKind,
) -> Result<(i32, i32), ErrorCode> {
    use AddressFamily as F;
    use ReceiveOption as O;
    let by_family = |v4: (i32, i32), v6: (i32, i32)| match sock.family {
        F::Ipv4 => Ok(v4),
        F::Ipv6 => Ok(v6),
        F::Unix => Err(ErrorCode::NotSupported),
    };
    let unix_only = |opt: i32| match sock.family {
        F::Unix => Ok((libc::SOL_SOCKET, opt)),
        _ => Err(ErrorCode::NotSupported),
    };
    const IP: i32 = libc::IPPROTO_IP;
    const IP6: i32 = libc::IPPROTO_IPV6;
    match option {
        O::Credentials => unix_only(libc::SO_PASSCRED),
        O::Pidfd => unix_only(SO_PASSPIDFD),
        O::SecurityLabel => unix_only(SO_PASSSEC),
        O::Timestamp => Ok((libc::SOL_SOCKET, SO_TIMESTAMP_OLD)),
        O::TimestampNs => Ok((libc::SOL_SOCKET, SO_TIMESTAMPNS_OLD)),
        O::DroppedCount => Ok((libc::SOL_SOCKET, SO_RXQ_OVFL)),
        O::PacketInfo => by_family((IP, libc::IP_PKTINFO), (IP6, libc::IPV6_RECVPKTINFO)),
        O::HopLimit => by_family((IP, libc::IP_RECVTTL), (IP6, libc::IPV6_RECVHOPLIMIT)),
        O::TrafficClass => by_family((IP, libc::IP_RECVTOS), (IP6, libc::IPV6_RECVTCLASS)),
        O::OriginalDestination => by_family(
            (IP, libc::IP_RECVORIGDSTADDR),
            (IP6, libc::IPV6_RECVORIGDSTADDR),
        ),
        O::Errors => by_family((IP, libc::IP_RECVERR), (IP6, libc::IPV6_RECVERR)),
        O::Gro => match (sock.family, sock.ty) {
            (F::Ipv4 | F::Ipv6, SocketType::Datagram) => Ok((libc::SOL_UDP, UDP_GRO)),
            _ => Err(ErrorCode::NotSupported),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ne<const N: usize>(parts: &[&[u8]]) -> Vec<u8> {
        let v: Vec<u8> = parts.concat();
        assert_eq!(v.len(), N);
        v
    }

    #[test]
    fn decodes_fixed_layout_items() {
        let d = |level, ty, data: Vec<u8>| decode(level, ty, data);
        assert!(matches!(
            d(libc::IPPROTO_IP, libc::IP_TTL, 64i32.to_ne_bytes().to_vec()),
            AncillaryIn::Ttl(64)
        ));
        assert!(matches!(
            d(libc::IPPROTO_IP, libc::IP_TOS, vec![0xb8]),
            AncillaryIn::Tos(0xb8)
        ));
        assert!(matches!(
            d(
                libc::IPPROTO_IPV6,
                libc::IPV6_TCLASS,
                40i32.to_ne_bytes().to_vec()
            ),
            AncillaryIn::TrafficClass(40)
        ));
        assert!(matches!(
            d(libc::SOL_UDP, UDP_GRO, 1200i32.to_ne_bytes().to_vec()),
            AncillaryIn::GroSegmentSize(1200)
        ));
        assert!(matches!(
            d(libc::SOL_SOCKET, SO_RXQ_OVFL, 7u32.to_ne_bytes().to_vec()),
            AncillaryIn::Dropped(7)
        ));
        let ts = ne::<16>(&[&5i64.to_ne_bytes(), &250i64.to_ne_bytes()]);
        match d(libc::SOL_SOCKET, SO_TIMESTAMP_OLD, ts.clone()) {
            AncillaryIn::Timestamp(t) => assert_eq!((t.seconds, t.nanoseconds), (5, 250_000)),
            other => panic!("{other:?}"),
        }
        match d(libc::SOL_SOCKET, SO_TIMESTAMPNS_NEW, ts) {
            AncillaryIn::TimestampNs(t) => assert_eq!((t.seconds, t.nanoseconds), (5, 250)),
            other => panic!("{other:?}"),
        }
        match d(
            libc::SOL_SOCKET,
            SCM_SECURITY,
            b"system_u:object_r:x\0".to_vec(),
        ) {
            AncillaryIn::SecurityLabel(l) => assert_eq!(l, b"system_u:object_r:x"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_sizes_and_values_stay_raw() {
        for (level, ty, data) in [
            (libc::IPPROTO_IP, libc::IP_TTL, vec![1, 2, 3]),
            (
                libc::IPPROTO_IP,
                libc::IP_TTL,
                300i32.to_ne_bytes().to_vec(),
            ),
            (
                libc::IPPROTO_IPV6,
                libc::IPV6_HOPLIMIT,
                (-1i32).to_ne_bytes().to_vec(),
            ),
            (libc::SOL_SOCKET, SO_TIMESTAMPNS_OLD, vec![0; 15]),
            // nanoseconds out of range
            (
                libc::SOL_SOCKET,
                SO_TIMESTAMPNS_NEW,
                ne::<16>(&[&1i64.to_ne_bytes(), &1_000_000_000i64.to_ne_bytes()]),
            ),
            (libc::IPPROTO_IP, libc::IP_RECVERR, vec![0; EE_LEN - 1]),
            (libc::IPPROTO_IP, libc::IP_PKTINFO, vec![0; 11]),
            (libc::SOL_SOCKET, libc::SCM_CREDENTIALS, vec![0; 8]),
            (libc::SOL_SOCKET, 1000, vec![1]),
        ] {
            match decode(level, ty, data.clone()) {
                AncillaryIn::Raw(r) => assert_eq!((r.level, r.kind, r.data), (level, ty, data)),
                other => panic!("({level}, {ty}) typed as {other:?}"),
            }
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Every (level, type) the decoder types, and a few it does not.
        fn pairs() -> Vec<(i32, i32)> {
            let mut all = TYPED_PAIRS.to_vec();
            all.extend([(libc::SOL_SOCKET, 999), (7, 7)]);
            all
        }

        proptest! {
            /// Whatever bytes the kernel (or a bug) puts in an item, decoding
            /// never panics, and an item that stays raw keeps its bytes.
            #[test]
            fn decode_never_panics(
                pair in proptest::sample::select(pairs()),
                data in proptest::collection::vec(any::<u8>(), 0..80),
            ) {
                if let AncillaryIn::Raw(r) = decode(pair.0, pair.1, data.clone()) {
                    prop_assert_eq!((r.level, r.kind, r.data), (pair.0, pair.1, data));
                }
            }
        }
    }

    #[test]
    fn decodes_extended_error_with_offender() {
        let mut ee = vec![0u8; EE_LEN];
        ee[..4].copy_from_slice(&(libc::ECONNREFUSED as u32).to_ne_bytes());
        ee[offset_of!(libc::sock_extended_err, ee_origin)] = libc::SO_EE_ORIGIN_ICMP;
        ee[offset_of!(libc::sock_extended_err, ee_type)] = 3;
        ee[offset_of!(libc::sock_extended_err, ee_code)] = 3;
        let mut sa = [0u8; sockaddr::STORAGE_LEN];
        let n = sockaddr::encode(&SockName::Ip("127.0.0.1:0".parse().unwrap()), &mut sa).unwrap();
        ee.extend_from_slice(&sa[..n]);
        match decode(libc::IPPROTO_IP, libc::IP_RECVERR, ee) {
            AncillaryIn::ExtendedError(e) => {
                assert_eq!(e.error, ErrorCode::ConnectionRefused);
                assert_eq!(e.origin, ErrorOrigin::Icmp);
                assert_eq!((e.type_, e.code), (3, 3));
                assert!(matches!(
                    e.offender,
                    Some(Address::Ipv4(Ipv4SocketAddress {
                        address: (127, 0, 0, 1),
                        port: 0
                    }))
                ));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn items_of_another_family_are_refused() {
        let policy = Policy::default();
        let udp4 = SocketKind {
            family: AddressFamily::Ipv4,
            ty: SocketType::Datagram,
        };
        let unix = SocketKind {
            family: AddressFamily::Unix,
            ty: SocketType::Datagram,
        };
        let refused = |item: AncillaryOut, sock| {
            matches!(prepare(&item, sock, &policy), Err(ErrorCode::NotSupported))
        };
        assert!(refused(AncillaryOut::Rights(Vec::new()), udp4));
        assert!(refused(AncillaryOut::HopLimit(3), udp4));
        assert!(refused(AncillaryOut::Ttl(3), unix));
        assert!(refused(AncillaryOut::SegmentSize(100), unix));
        match prepare(&AncillaryOut::Ttl(7), udp4, &policy).unwrap() {
            Prepared::Item { level, ty, payload } => {
                assert_eq!((level, ty), (libc::IPPROTO_IP, libc::IP_TTL));
                assert_eq!(payload.as_bytes(), 7i32.to_ne_bytes());
            }
            Prepared::Rights(_) => panic!(),
        }
        // A chosen source outside the (empty) network policy.
        let src = AncillaryOut::Ipv4PacketInfo(crate::bindings::sockets::Ipv4PacketSource {
            interface_index: 0,
            source_address: (127, 0, 0, 1),
        });
        assert!(matches!(
            prepare(&src, udp4, &policy),
            Err(ErrorCode::AccessDenied)
        ));
    }
}
