//! Every conversion between the WIT's types and the host's (std, libc and
//! the codec's own), in one place: addresses, credentials, flags (each a
//! table), socket types, ancillary items, receive options.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::bindings::sockets::{
    AncillaryIn, AncillaryOut, ErrorOrigin, ExtendedError, Ipv4PacketInfo, Ipv6PacketInfo,
    RawControl, ReceiveOption, Timestamp, Timestamping, TimestampingFlags,
};
use crate::bindings::types::{
    Address, AddressFamily, Credentials, ErrorCode, Ipv4SocketAddress, Ipv6SocketAddress,
    MessageFlags, RecvFlags, SendFlags, SocketType,
};
use crate::cmsg::{self, uapi, RecvItem, SendItem, Ucred};
use crate::sys::sockaddr::{SockName, UnixName};
use crate::sys::MsgFlags;

// ---- flags ----------------------------------------------------------------

const SEND_FLAGS: &[(SendFlags, MsgFlags)] = &[
    (SendFlags::DONT_WAIT, MsgFlags::DONTWAIT),
    (SendFlags::END_OF_RECORD, MsgFlags::EOR),
    (SendFlags::OUT_OF_BAND, MsgFlags::OOB),
];

const RECV_FLAGS: &[(RecvFlags, MsgFlags)] = &[
    (RecvFlags::PEEK, MsgFlags::PEEK),
    (RecvFlags::DONT_WAIT, MsgFlags::DONTWAIT),
    (RecvFlags::WAIT_ALL, MsgFlags::WAITALL),
    (RecvFlags::OUT_OF_BAND, MsgFlags::OOB),
    (RecvFlags::ERROR_QUEUE, MsgFlags::ERRQUEUE),
];

const MESSAGE_FLAGS: &[(MessageFlags, MsgFlags)] = &[
    (MessageFlags::TRUNCATED, MsgFlags::TRUNC),
    (MessageFlags::CONTROL_TRUNCATED, MsgFlags::CTRUNC),
    (MessageFlags::END_OF_RECORD, MsgFlags::EOR),
    (MessageFlags::OUT_OF_BAND, MsgFlags::OOB),
    (MessageFlags::ERROR_QUEUE, MsgFlags::ERRQUEUE),
];

const TIMESTAMPING_FLAGS: &[(TimestampingFlags, u32)] = &[
    (
        TimestampingFlags::TX_HARDWARE,
        libc::SOF_TIMESTAMPING_TX_HARDWARE,
    ),
    (
        TimestampingFlags::TX_SOFTWARE,
        libc::SOF_TIMESTAMPING_TX_SOFTWARE,
    ),
    (
        TimestampingFlags::RX_HARDWARE,
        libc::SOF_TIMESTAMPING_RX_HARDWARE,
    ),
    (
        TimestampingFlags::RX_SOFTWARE,
        libc::SOF_TIMESTAMPING_RX_SOFTWARE,
    ),
    (TimestampingFlags::SOFTWARE, libc::SOF_TIMESTAMPING_SOFTWARE),
    (
        TimestampingFlags::RAW_HARDWARE,
        libc::SOF_TIMESTAMPING_RAW_HARDWARE,
    ),
    (TimestampingFlags::OPT_ID, libc::SOF_TIMESTAMPING_OPT_ID),
    (
        TimestampingFlags::TX_SCHEDULED,
        libc::SOF_TIMESTAMPING_TX_SCHED,
    ),
    (TimestampingFlags::TX_ACK, libc::SOF_TIMESTAMPING_TX_ACK),
    (TimestampingFlags::OPT_CMSG, libc::SOF_TIMESTAMPING_OPT_CMSG),
    (
        TimestampingFlags::OPT_TSONLY,
        libc::SOF_TIMESTAMPING_OPT_TSONLY,
    ),
];

/// A send's flags; `MSG_NOSIGNAL` always (a guest never raises `SIGPIPE`).
pub(crate) fn send_flags(f: SendFlags) -> MsgFlags {
    SEND_FLAGS
        .iter()
        .filter(|(w, _)| f.contains(*w))
        .fold(MsgFlags::NOSIGNAL, |acc, (_, h)| acc | *h)
}

/// A receive's flags.
pub(crate) fn recv_flags(f: RecvFlags) -> MsgFlags {
    RECV_FLAGS
        .iter()
        .filter(|(w, _)| f.contains(*w))
        .fold(MsgFlags::empty(), |acc, (_, h)| acc | *h)
}

/// `msg_flags` as the guest sees them.
pub(crate) fn message_flags(f: MsgFlags) -> MessageFlags {
    MESSAGE_FLAGS
        .iter()
        .filter(|(_, h)| f.contains(*h))
        .fold(MessageFlags::empty(), |acc, (w, _)| acc | *w)
}

/// The `SOF_TIMESTAMPING_*` bits of `flags`.
pub(crate) fn timestamping_bits(flags: TimestampingFlags) -> u32 {
    TIMESTAMPING_FLAGS
        .iter()
        .filter(|(w, _)| flags.contains(*w))
        .fold(0, |acc, (_, bit)| acc | bit)
}

// ---- socket types -----------------------------------------------------------

/// A socket type's `SOCK_*` constant.
pub(crate) fn sock_type_to_libc(ty: SocketType) -> libc::c_int {
    match ty {
        SocketType::Stream => libc::SOCK_STREAM,
        SocketType::Datagram => libc::SOCK_DGRAM,
        SocketType::Seqpacket => libc::SOCK_SEQPACKET,
    }
}

/// The socket type of a `SOCK_*` constant capsock knows.
pub(crate) fn sock_type_from_libc(ty: libc::c_int) -> Option<SocketType> {
    match ty {
        libc::SOCK_STREAM => Some(SocketType::Stream),
        libc::SOCK_DGRAM => Some(SocketType::Datagram),
        libc::SOCK_SEQPACKET => Some(SocketType::Seqpacket),
        _ => None,
    }
}

// ---- addresses ------------------------------------------------------------

fn ipv4_to_wit(ip: Ipv4Addr) -> (u8, u8, u8, u8) {
    let [a, b, c, d] = ip.octets();
    (a, b, c, d)
}

fn ipv6_to_wit(ip: Ipv6Addr) -> (u16, u16, u16, u16, u16, u16, u16, u16) {
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

/// A guest's address as a name the policy checks.
pub(crate) fn sock_name(addr: &Address) -> SockName {
    match addr {
        Address::Unnamed => SockName::Unix(UnixName::Unnamed),
        Address::Pathname(p) => SockName::Unix(UnixName::Pathname(p.clone())),
        Address::Abstract(a) => SockName::Unix(UnixName::Abstract(a.clone())),
        Address::Ipv4(a) => {
            SockName::Ip(SocketAddrV4::new(ipv4_from_wit(a.address), a.port).into())
        }
        Address::Ipv6(a) => SockName::Ip(
            SocketAddrV6::new(ipv6_from_wit(a.address), a.port, a.flow_info, a.scope_id).into(),
        ),
    }
}

/// A name as the guest sees it.
pub(crate) fn address(name: SockName) -> Address {
    match name {
        SockName::Unix(UnixName::Unnamed) => Address::Unnamed,
        SockName::Unix(UnixName::Pathname(p)) => Address::Pathname(p),
        SockName::Unix(UnixName::Abstract(a)) => Address::Abstract(a),
        SockName::Ip(ip) => ip_to_wit(ip),
    }
}

// ---- credentials ------------------------------------------------------------

impl From<Ucred> for Credentials {
    fn from(c: Ucred) -> Credentials {
        Credentials {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
        }
    }
}

impl From<Credentials> for Ucred {
    fn from(c: Credentials) -> Ucred {
        Ucred {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
        }
    }
}

// ---- ancillary items ----------------------------------------------------

/// An item to send, except `rights` (whose handles only the resource table
/// can resolve: see `wit::sockets`). `invalid-argument` for an interface
/// index beyond what the kernel takes.
pub(crate) fn send_item(item: &AncillaryOut) -> Result<SendItem<'_, 'static>, ErrorCode> {
    let interface = |i: u32| i32::try_from(i).map_err(|_| ErrorCode::InvalidArgument);
    Ok(match item {
        AncillaryOut::Rights(_) => unreachable!("rights are resolved against the table"),
        AncillaryOut::Credentials(c) => SendItem::Credentials((*c).into()),
        AncillaryOut::Ipv4PacketInfo(p) => SendItem::Ipv4PacketInfo {
            source: ipv4_from_wit(p.source_address),
            interface: interface(p.interface_index)?,
        },
        AncillaryOut::Ipv6PacketInfo(p) => SendItem::Ipv6PacketInfo {
            source: ipv6_from_wit(p.address),
            interface: interface(p.interface_index)?,
        },
        AncillaryOut::Ttl(v) => SendItem::Ttl(*v),
        AncillaryOut::Tos(v) => SendItem::Tos(*v),
        AncillaryOut::HopLimit(v) => SendItem::HopLimit(*v),
        AncillaryOut::TrafficClass(v) => SendItem::TrafficClass(*v),
        AncillaryOut::SegmentSize(v) => SendItem::SegmentSize(*v),
        AncillaryOut::Timestamping(f) => SendItem::Timestamping(timestamping_bits(*f)),
        AncillaryOut::Raw(r) => SendItem::Raw {
            level: r.level,
            ty: r.kind,
            data: &r.data,
        },
    })
}

fn timestamp(t: cmsg::items::Timestamp) -> Timestamp {
    Timestamp {
        seconds: t.seconds,
        nanoseconds: t.nanoseconds,
    }
}

fn error_origin(origin: u8) -> ErrorOrigin {
    match origin {
        libc::SO_EE_ORIGIN_NONE => ErrorOrigin::None,
        libc::SO_EE_ORIGIN_LOCAL => ErrorOrigin::Local,
        libc::SO_EE_ORIGIN_ICMP => ErrorOrigin::Icmp,
        libc::SO_EE_ORIGIN_ICMP6 => ErrorOrigin::Icmp6,
        libc::SO_EE_ORIGIN_TXSTATUS => ErrorOrigin::Timestamping,
        uapi::SO_EE_ORIGIN_ZEROCOPY => ErrorOrigin::Zerocopy,
        uapi::SO_EE_ORIGIN_TXTIME => ErrorOrigin::Txtime,
        _ => ErrorOrigin::Other,
    }
}

/// A received item, without fds, as the guest sees it.
pub(crate) fn recv_item(item: RecvItem) -> AncillaryIn {
    match item {
        RecvItem::Credentials(c) => AncillaryIn::Credentials(c.into()),
        RecvItem::SecurityLabel(l) => AncillaryIn::SecurityLabel(l),
        RecvItem::Timestamp(t) => AncillaryIn::Timestamp(timestamp(t)),
        RecvItem::TimestampNs(t) => AncillaryIn::TimestampNs(timestamp(t)),
        RecvItem::Timestamping { software, hardware } => AncillaryIn::Timestamping(Timestamping {
            software: software.map(timestamp),
            hardware: hardware.map(timestamp),
        }),
        RecvItem::Dropped(n) => AncillaryIn::Dropped(n),
        RecvItem::Ttl(v) => AncillaryIn::Ttl(v),
        RecvItem::Tos(v) => AncillaryIn::Tos(v),
        RecvItem::HopLimit(v) => AncillaryIn::HopLimit(v),
        RecvItem::TrafficClass(v) => AncillaryIn::TrafficClass(v),
        RecvItem::Ipv4PacketInfo {
            interface,
            local,
            destination,
        } => AncillaryIn::Ipv4PacketInfo(Ipv4PacketInfo {
            interface_index: interface,
            local_address: ipv4_to_wit(local),
            destination_address: ipv4_to_wit(destination),
        }),
        RecvItem::Ipv6PacketInfo { address, interface } => {
            AncillaryIn::Ipv6PacketInfo(Ipv6PacketInfo {
                address: ipv6_to_wit(address),
                interface_index: interface,
            })
        }
        RecvItem::OriginalDestination(a) => AncillaryIn::OriginalDestination(ip_to_wit(a)),
        RecvItem::ExtendedError(e) => AncillaryIn::ExtendedError(ExtendedError {
            error: crate::error::from_errno(e.errno as i32),
            errno: e.errno,
            origin: error_origin(e.origin),
            type_: e.type_,
            code: e.code,
            info: e.info,
            data: e.data,
            offender: e.offender.map(ip_to_wit),
        }),
        RecvItem::GroSegmentSize(n) => AncillaryIn::GroSegmentSize(n),
        RecvItem::Raw { level, ty, data } => AncillaryIn::Raw(RawControl {
            level,
            kind: ty,
            data,
        }),
    }
}

// ---- receive options ------------------------------------------------------

/// The socket option (`level`, `name`) that switches `option` on for a
/// socket of this kind; `not-supported` where the socket's family or
/// protocol has no such item.
pub(crate) fn receive_option(
    option: ReceiveOption,
    family: AddressFamily,
    ty: SocketType,
) -> Result<(i32, i32), ErrorCode> {
    use AddressFamily as F;
    use ReceiveOption as O;
    let by_family = |v4: (i32, i32), v6: (i32, i32)| match family {
        F::Ipv4 => Ok(v4),
        F::Ipv6 => Ok(v6),
        F::Unix => Err(ErrorCode::NotSupported),
    };
    let unix_only = |opt: i32| match family {
        F::Unix => Ok((libc::SOL_SOCKET, opt)),
        _ => Err(ErrorCode::NotSupported),
    };
    const IP: i32 = libc::IPPROTO_IP;
    const IP6: i32 = libc::IPPROTO_IPV6;
    match option {
        O::Credentials => unix_only(libc::SO_PASSCRED),
        O::Pidfd => unix_only(uapi::SO_PASSPIDFD),
        O::SecurityLabel => unix_only(uapi::SO_PASSSEC),
        O::Timestamp => Ok((libc::SOL_SOCKET, uapi::SO_TIMESTAMP_OLD)),
        O::TimestampNs => Ok((libc::SOL_SOCKET, uapi::SO_TIMESTAMPNS_OLD)),
        O::DroppedCount => Ok((libc::SOL_SOCKET, uapi::SO_RXQ_OVFL)),
        O::PacketInfo => by_family((IP, libc::IP_PKTINFO), (IP6, libc::IPV6_RECVPKTINFO)),
        O::HopLimit => by_family((IP, libc::IP_RECVTTL), (IP6, libc::IPV6_RECVHOPLIMIT)),
        O::TrafficClass => by_family((IP, libc::IP_RECVTOS), (IP6, libc::IPV6_RECVTCLASS)),
        O::OriginalDestination => by_family(
            (IP, libc::IP_RECVORIGDSTADDR),
            (IP6, libc::IPV6_RECVORIGDSTADDR),
        ),
        O::Errors => by_family((IP, libc::IP_RECVERR), (IP6, libc::IPV6_RECVERR)),
        O::Gro => match (family, ty) {
            (F::Ipv4 | F::Ipv6, SocketType::Datagram) => Ok((libc::SOL_UDP, uapi::UDP_GRO)),
            _ => Err(ErrorCode::NotSupported),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_tables_map_every_wit_flag_one_to_one() {
        assert_eq!(
            send_flags(SendFlags::all()),
            MsgFlags::DONTWAIT | MsgFlags::EOR | MsgFlags::OOB | MsgFlags::NOSIGNAL
        );
        assert_eq!(send_flags(SendFlags::empty()), MsgFlags::NOSIGNAL);
        assert_eq!(
            recv_flags(RecvFlags::all()),
            MsgFlags::PEEK
                | MsgFlags::DONTWAIT
                | MsgFlags::WAITALL
                | MsgFlags::OOB
                | MsgFlags::ERRQUEUE
        );
        assert_eq!(message_flags(MsgFlags::all()), MessageFlags::all());
        assert_eq!(message_flags(MsgFlags::PEEK), MessageFlags::empty());
        let every_bit = TIMESTAMPING_FLAGS.iter().fold(0, |a, (_, b)| a | b);
        assert_eq!(timestamping_bits(TimestampingFlags::all()), every_bit);
        assert_eq!(every_bit.count_ones() as usize, TIMESTAMPING_FLAGS.len());
    }

    #[test]
    fn addresses_round_trip() {
        for a in ["127.0.0.1:80", "[fe80::1%3]:53"] {
            let ip: SocketAddr = a.parse().unwrap();
            assert_eq!(sock_name(&ip_to_wit(ip)), SockName::Ip(ip));
        }
        for name in [
            UnixName::Unnamed,
            UnixName::Pathname(b"/x".to_vec()),
            UnixName::Abstract(b"y".to_vec()),
        ] {
            let n = SockName::Unix(name);
            assert_eq!(sock_name(&address(n.clone())), n);
        }
    }
}
