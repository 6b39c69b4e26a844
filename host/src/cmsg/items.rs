//! The typed half of the control-message codec: items with meaning ⇄
//! `(cmsg_level, cmsg_type, payload bytes)`.
//!
//! [`super::layout`] lays items out in the control buffer; this module gives
//! their payloads meaning, in its own plain types ([`SendItem`],
//! [`RecvItem`]); `wit::convert` maps them to and from the WIT records. It
//! is pure (no syscalls, no `unsafe`, no policy) and reads every payload as
//! bytes at whatever alignment it has, with each field's offset and width
//! taken from libc's struct definitions or, where libc lacks one, from the
//! kernel's UAPI headers ([`super::uapi`]). A payload of the wrong size for
//! its type is never guessed at: it arrives as [`RecvItem::Raw`]. The guest
//! only ever sees numbers and addresses, never a host struct's bytes.

use std::mem::{offset_of, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::BorrowedFd;

use super::layout::{self, BufferFull, Control, ControlBuf, Encoder, Ucred, FD_LEN, UCRED_LEN};
use super::uapi::*;
use crate::sys::sockaddr::{self, SockName};

const INT: usize = size_of::<libc::c_int>();
const EE_LEN: usize = size_of::<libc::sock_extended_err>();

/// A point in time (`struct timeval` / `timespec` and their 64-bit forms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timestamp {
    /// Whole seconds.
    pub seconds: i64,
    /// Nanoseconds, below 1,000,000,000.
    pub nanoseconds: u32,
}

/// `struct sock_extended_err` and the offender address after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExtendedError {
    pub errno: u32,
    /// `ee_origin` (`SO_EE_ORIGIN_*`).
    pub origin: u8,
    pub type_: u8,
    pub code: u8,
    pub info: u32,
    pub data: u32,
    /// `SO_EE_OFFENDER`, when it is an IP address.
    pub offender: Option<SocketAddr>,
}

/// A received control message, typed where its `(level, type)` and size
/// say what it is. Items carrying fds are not here: `sys::recvmsg` owns
/// those (`sys::Received`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RecvItem {
    Credentials(Ucred),
    SecurityLabel(Vec<u8>),
    Timestamp(Timestamp),
    TimestampNs(Timestamp),
    Timestamping {
        software: Option<Timestamp>,
        hardware: Option<Timestamp>,
    },
    Dropped(u32),
    Ttl(u8),
    Tos(u8),
    HopLimit(u8),
    TrafficClass(u8),
    Ipv4PacketInfo {
        interface: u32,
        local: Ipv4Addr,
        destination: Ipv4Addr,
    },
    Ipv6PacketInfo {
        address: Ipv6Addr,
        interface: u32,
    },
    OriginalDestination(SocketAddr),
    ExtendedError(ExtendedError),
    GroSegmentSize(u16),
    Raw {
        level: i32,
        ty: i32,
        data: Vec<u8>,
    },
}

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

fn ip_address(data: &[u8]) -> Option<SocketAddr> {
    match sockaddr::decode(data)? {
        SockName::Ip(a) => Some(a),
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
fn decode_timestamping(data: &[u8], new: bool) -> Option<RecvItem> {
    let one = timespec_layout(new).3;
    if data.len() != 3 * one {
        return None;
    }
    let stamp = |i: usize| -> Option<Option<Timestamp>> {
        let t = timespec_at(data, i * one, new)?;
        Some((t.seconds != 0 || t.nanoseconds != 0).then_some(t))
    };
    Some(RecvItem::Timestamping {
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
    Some(ExtendedError {
        errno,
        origin: byte(offset_of!(libc::sock_extended_err, ee_origin)),
        type_: byte(offset_of!(libc::sock_extended_err, ee_type)),
        code: byte(offset_of!(libc::sock_extended_err, ee_code)),
        info: u32_at(data, offset_of!(libc::sock_extended_err, ee_info))?,
        data: u32_at(data, offset_of!(libc::sock_extended_err, ee_data))?,
        // SO_EE_OFFENDER: the address right after the struct
        // (AF_UNSPEC, i.e. none, for local errors and timestamps).
        offender: ip_address(&data[EE_LEN..]),
    })
}

fn decode_in_pktinfo(data: &[u8]) -> Option<RecvItem> {
    if data.len() != size_of::<libc::in_pktinfo>() {
        return None;
    }
    let addr = |at: usize| bytes::<4>(data, at).map(Ipv4Addr::from);
    Some(RecvItem::Ipv4PacketInfo {
        interface: u32_at(data, offset_of!(libc::in_pktinfo, ipi_ifindex))?,
        local: addr(offset_of!(libc::in_pktinfo, ipi_spec_dst))?,
        destination: addr(offset_of!(libc::in_pktinfo, ipi_addr))?,
    })
}

fn decode_in6_pktinfo(data: &[u8]) -> Option<RecvItem> {
    if data.len() != IN6_PKTINFO_LEN {
        return None;
    }
    Some(RecvItem::Ipv6PacketInfo {
        address: Ipv6Addr::from(bytes::<16>(data, 0)?),
        interface: u32_at(data, IN6_PKTINFO_IFINDEX)?,
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
pub(crate) fn decode(level: i32, ty: i32, data: Vec<u8>) -> RecvItem {
    let typed = match (level, ty) {
        (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if data.len() == UCRED_LEN => {
            Ucred::from_bytes(&data).map(RecvItem::Credentials)
        }
        (libc::SOL_SOCKET, SCM_SECURITY) => {
            // A NUL-terminated string; the NUL is not part of the label.
            let label = data.strip_suffix(&[0]).unwrap_or(&data).to_vec();
            Some(RecvItem::SecurityLabel(label))
        }
        (libc::SOL_SOCKET, SO_TIMESTAMP_OLD) => {
            decode_timeval(&data, false).map(RecvItem::Timestamp)
        }
        (libc::SOL_SOCKET, SO_TIMESTAMP_NEW) => {
            decode_timeval(&data, true).map(RecvItem::Timestamp)
        }
        (libc::SOL_SOCKET, SO_TIMESTAMPNS_OLD) => {
            decode_timespec(&data, false).map(RecvItem::TimestampNs)
        }
        (libc::SOL_SOCKET, SO_TIMESTAMPNS_NEW) => {
            decode_timespec(&data, true).map(RecvItem::TimestampNs)
        }
        (libc::SOL_SOCKET, SO_TIMESTAMPING_OLD) => decode_timestamping(&data, false),
        (libc::SOL_SOCKET, SO_TIMESTAMPING_NEW) => decode_timestamping(&data, true),
        (libc::SOL_SOCKET, SO_RXQ_OVFL) => <[u8; 4]>::try_from(&data[..])
            .ok()
            .map(|b| RecvItem::Dropped(u32::from_ne_bytes(b))),
        (libc::IPPROTO_IP, libc::IP_TTL) => int_u8(&data).map(RecvItem::Ttl),
        // IP_TOS arrives as one byte (ip_cmsg_recv_tos).
        (libc::IPPROTO_IP, libc::IP_TOS) => match data[..] {
            [tos] => Some(RecvItem::Tos(tos)),
            _ => int_u8(&data).map(RecvItem::Tos),
        },
        (libc::IPPROTO_IP, libc::IP_PKTINFO) => decode_in_pktinfo(&data),
        (libc::IPPROTO_IP, libc::IP_ORIGDSTADDR) => {
            ip_address(&data).map(RecvItem::OriginalDestination)
        }
        (libc::IPPROTO_IP, libc::IP_RECVERR) | (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) => {
            decode_extended_error(&data).map(RecvItem::ExtendedError)
        }
        (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => int_u8(&data).map(RecvItem::HopLimit),
        (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => int_u8(&data).map(RecvItem::TrafficClass),
        (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => decode_in6_pktinfo(&data),
        (libc::IPPROTO_IPV6, IPV6_ORIGDSTADDR) => {
            ip_address(&data).map(RecvItem::OriginalDestination)
        }
        (libc::SOL_UDP, UDP_GRO) => exact_int(&data)
            .and_then(|v| u16::try_from(v).ok())
            .map(RecvItem::GroSegmentSize),
        _ => None,
    };
    typed.unwrap_or(RecvItem::Raw { level, ty, data })
}

/// A control message to send. File descriptors are borrowed for `'fd`,
/// guest bytes for `'a`; nothing is copied until [`encode`].
#[derive(Debug)]
pub(crate) enum SendItem<'a, 'fd> {
    /// `SCM_RIGHTS`.
    Rights(Vec<BorrowedFd<'fd>>),
    /// `SCM_CREDENTIALS`.
    Credentials(Ucred),
    /// `IP_PKTINFO`: the source address and outgoing interface.
    Ipv4PacketInfo { source: Ipv4Addr, interface: i32 },
    /// `IPV6_PKTINFO`.
    Ipv6PacketInfo { source: Ipv6Addr, interface: i32 },
    /// `IP_TTL`.
    Ttl(u8),
    /// `IP_TOS`.
    Tos(u8),
    /// `IPV6_HOPLIMIT`.
    HopLimit(u8),
    /// `IPV6_TCLASS`.
    TrafficClass(u8),
    /// `UDP_SEGMENT`.
    SegmentSize(u16),
    /// `SO_TIMESTAMPING`: `SOF_TIMESTAMPING_*` bits for this message.
    Timestamping(u32),
    /// Any `(level, type, payload)`.
    Raw { level: i32, ty: i32, data: &'a [u8] },
}

/// A payload of at most this many bytes is built in place.
const INLINE: usize = 20;

/// An item's payload: built in place from typed fields, or the guest's
/// own bytes.
enum Payload<'a> {
    Inline([u8; INLINE], usize),
    Borrowed(&'a [u8]),
}

impl Payload<'_> {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Payload::Inline(b, n) => &b[..*n],
            Payload::Borrowed(b) => b,
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

impl<'fd> SendItem<'_, 'fd> {
    /// The payload length: what the item adds to the control buffer is
    /// `CMSG_SPACE` of it.
    fn payload_len(&self) -> usize {
        match self {
            SendItem::Rights(fds) => fds.len() * FD_LEN,
            SendItem::Raw { data, .. } => data.len(),
            other => other.fields().2.as_bytes().len(),
        }
    }

    /// `(level, type, payload)` of every item but `Rights`.
    fn fields(&self) -> (i32, i32, Payload<'_>) {
        const IP: i32 = libc::IPPROTO_IP;
        const IP6: i32 = libc::IPPROTO_IPV6;
        match self {
            SendItem::Rights(_) => unreachable!("rights are encoded from their fds"),
            SendItem::Credentials(c) => (
                libc::SOL_SOCKET,
                libc::SCM_CREDENTIALS,
                Payload::bytes(&c.to_bytes()),
            ),
            SendItem::Ipv4PacketInfo { source, interface } => {
                let mut b = [0u8; size_of::<libc::in_pktinfo>()];
                let at = offset_of!(libc::in_pktinfo, ipi_ifindex);
                b[at..at + INT].copy_from_slice(&interface.to_ne_bytes());
                let at = offset_of!(libc::in_pktinfo, ipi_spec_dst);
                b[at..at + 4].copy_from_slice(&source.octets());
                (IP, libc::IP_PKTINFO, Payload::bytes(&b))
            }
            SendItem::Ipv6PacketInfo { source, interface } => {
                let mut b = [0u8; IN6_PKTINFO_LEN];
                b[..16].copy_from_slice(&source.octets());
                b[IN6_PKTINFO_IFINDEX..].copy_from_slice(&interface.to_ne_bytes());
                (IP6, libc::IPV6_PKTINFO, Payload::bytes(&b))
            }
            SendItem::Ttl(v) => (IP, libc::IP_TTL, Payload::int(i32::from(*v))),
            SendItem::Tos(v) => (IP, libc::IP_TOS, Payload::int(i32::from(*v))),
            SendItem::HopLimit(v) => (IP6, libc::IPV6_HOPLIMIT, Payload::int(i32::from(*v))),
            SendItem::TrafficClass(v) => (IP6, libc::IPV6_TCLASS, Payload::int(i32::from(*v))),
            SendItem::SegmentSize(size) => (
                libc::SOL_UDP,
                UDP_SEGMENT,
                Payload::bytes(&size.to_ne_bytes()),
            ),
            SendItem::Timestamping(bits) => (
                libc::SOL_SOCKET,
                SO_TIMESTAMPING_OLD,
                Payload::bytes(&bits.to_ne_bytes()),
            ),
            SendItem::Raw { level, ty, data } => (*level, *ty, Payload::Borrowed(data)),
        }
    }
}

/// Whether an item is written at all: an empty `SCM_RIGHTS` is not (Linux
/// would take it, but it says nothing).
fn written(item: &SendItem<'_, '_>) -> bool {
    !matches!(item, SendItem::Rights(fds) if fds.is_empty())
}

/// The control-buffer bytes `items` take, or `None` if that overflows.
pub(crate) fn encoded_len(items: &[SendItem<'_, '_>]) -> Option<usize> {
    items
        .iter()
        .filter(|i| written(i))
        .try_fold(0usize, |acc, i| {
            layout::checked_space(i.payload_len()).and_then(|n| acc.checked_add(n))
        })
}

/// Encodes `items` into `buf`, sized to fit them exactly: the one way
/// capsock builds outgoing control messages. `BufferFull` only if their
/// size overflows (callers check [`encoded_len`] against their limit first).
pub(crate) fn encode<'b, 'fd>(
    buf: &'b mut ControlBuf,
    items: &[SendItem<'_, 'fd>],
) -> Result<Control<'b, 'fd>, BufferFull> {
    let len = encoded_len(items).ok_or(BufferFull)?;
    let mut enc = Encoder::new(buf.zeroed(len));
    for item in items.iter().filter(|i| written(i)) {
        match item {
            SendItem::Rights(fds) => enc.push_rights(fds)?,
            other => {
                let (level, ty, payload) = other.fields();
                enc.push(level, ty, payload.as_bytes())?;
            }
        }
    }
    Ok(enc.finish())
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
            RecvItem::Ttl(64)
        ));
        assert!(matches!(
            d(libc::IPPROTO_IP, libc::IP_TOS, vec![0xb8]),
            RecvItem::Tos(0xb8)
        ));
        assert!(matches!(
            d(
                libc::IPPROTO_IPV6,
                libc::IPV6_TCLASS,
                40i32.to_ne_bytes().to_vec()
            ),
            RecvItem::TrafficClass(40)
        ));
        assert!(matches!(
            d(libc::SOL_UDP, UDP_GRO, 1200i32.to_ne_bytes().to_vec()),
            RecvItem::GroSegmentSize(1200)
        ));
        assert!(matches!(
            d(libc::SOL_SOCKET, SO_RXQ_OVFL, 7u32.to_ne_bytes().to_vec()),
            RecvItem::Dropped(7)
        ));
        let ts = ne::<16>(&[&5i64.to_ne_bytes(), &250i64.to_ne_bytes()]);
        match d(libc::SOL_SOCKET, SO_TIMESTAMP_OLD, ts.clone()) {
            RecvItem::Timestamp(t) => assert_eq!((t.seconds, t.nanoseconds), (5, 250_000)),
            other => panic!("{other:?}"),
        }
        match d(libc::SOL_SOCKET, SO_TIMESTAMPNS_NEW, ts) {
            RecvItem::TimestampNs(t) => assert_eq!((t.seconds, t.nanoseconds), (5, 250)),
            other => panic!("{other:?}"),
        }
        match d(
            libc::SOL_SOCKET,
            SCM_SECURITY,
            b"system_u:object_r:x\0".to_vec(),
        ) {
            RecvItem::SecurityLabel(l) => assert_eq!(l, b"system_u:object_r:x"),
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
                RecvItem::Raw {
                    level: l,
                    ty: t,
                    data: d,
                } => assert_eq!((l, t, d), (level, ty, data)),
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
                if let RecvItem::Raw { level, ty, data: back } = decode(pair.0, pair.1, data.clone()) {
                    prop_assert_eq!((level, ty, back), (pair.0, pair.1, data));
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
            RecvItem::ExtendedError(e) => {
                assert_eq!(e.errno, libc::ECONNREFUSED as u32);
                assert_eq!(e.origin, libc::SO_EE_ORIGIN_ICMP);
                assert_eq!((e.type_, e.code), (3, 3));
                assert_eq!(e.offender, Some("127.0.0.1:0".parse().unwrap()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn encodes_typed_items_as_the_kernel_lays_them_out() {
        let mut buf = ControlBuf::new();
        let stdin = std::io::stdin();
        let items = [
            SendItem::Ttl(7),
            SendItem::Rights(Vec::new()),
            SendItem::Rights(vec![std::os::fd::AsFd::as_fd(&stdin)]),
            SendItem::Ipv4PacketInfo {
                source: Ipv4Addr::new(127, 0, 0, 2),
                interface: 3,
            },
            SendItem::Raw {
                level: 9,
                ty: 8,
                data: &[1, 2, 3],
            },
        ];
        let control = encode(&mut buf, &items).unwrap();
        assert_eq!(Some(control.as_bytes().len()), encoded_len(&items));
        let got: Vec<_> = layout::walk(control.as_bytes())
            .map(|i| (i.level, i.ty, i.data.to_vec()))
            .collect();
        let mut pktinfo = vec![0u8; size_of::<libc::in_pktinfo>()];
        pktinfo[offset_of!(libc::in_pktinfo, ipi_ifindex)..][..4]
            .copy_from_slice(&3i32.to_ne_bytes());
        pktinfo[offset_of!(libc::in_pktinfo, ipi_spec_dst)..][..4].copy_from_slice(&[127, 0, 0, 2]);
        assert_eq!(
            got,
            [
                (libc::IPPROTO_IP, libc::IP_TTL, 7i32.to_ne_bytes().to_vec()),
                (
                    libc::SOL_SOCKET,
                    libc::SCM_RIGHTS,
                    0i32.to_ne_bytes().to_vec()
                ),
                (libc::IPPROTO_IP, libc::IP_PKTINFO, pktinfo),
                (9, 8, vec![1, 2, 3]),
            ]
        );
    }
}
