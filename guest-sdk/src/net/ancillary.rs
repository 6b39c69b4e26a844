//! Ancillary data (control messages): the items a message carries besides
//! its bytes, what `recv_msg` and `recv_fds` return, and the control-space
//! sizes (`CMSG_SPACE` / `CMSG_LEN`) of the host.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use super::addr::{ipv4, ipv6};
use super::sock::Address;
use super::UnixSocketAddr;
use crate::bindings::capsock::sockets::sockets::{
    self as wit, AncillaryIn, AncillaryOut, HandleRef, Ipv4PacketSource, Ipv6PacketInfo,
    RawControlParam,
};
pub use crate::bindings::capsock::sockets::sockets::{
    ErrorOrigin, ReceiveOption, Timestamp, Timestamping, TimestampingFlags,
};
pub use crate::bindings::capsock::sockets::types::{MessageFlags, RecvFlags, SendFlags};
use crate::handle::{BorrowedHandle, OwnedHandle};

/// Bytes of one file descriptor in an `SCM_RIGHTS` payload (`sizeof(int)`):
/// the control space for `n` descriptors is `cmsg_space(n * FD_SIZE)`.
pub const FD_SIZE: usize = 4;

/// The host's control-message layout, asked once: `CMSG_LEN` and
/// `CMSG_SPACE` are fixed by the host's ABI, so two host calls give them
/// for every length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    /// `CMSG_ALIGN(sizeof(struct cmsghdr))`, i.e. `CMSG_LEN(0)`.
    header: usize,
    /// The unit `CMSG_ALIGN` rounds up to (`sizeof(size_t)` on Linux).
    align: usize,
}

impl Layout {
    fn host() -> Layout {
        static LAYOUT: OnceLock<Layout> = OnceLock::new();
        *LAYOUT.get_or_init(|| {
            let header = wit::cmsg_len(0) as usize;
            let align = (wit::cmsg_space(1) as usize).saturating_sub(header);
            Layout {
                header,
                align: align.max(1),
            }
        })
    }

    /// `CMSG_SPACE(len)`, saturating at `usize::MAX` (the host saturates
    /// at `u64::MAX`; either is refused by `recv-msg`).
    fn space(self, len: usize) -> usize {
        len.div_ceil(self.align)
            .checked_mul(self.align)
            .and_then(|n| n.checked_add(self.header))
            .unwrap_or(usize::MAX)
    }

    /// `CMSG_LEN(len)`, saturating as [`Layout::space`] does.
    fn len(self, len: usize) -> usize {
        len.saturating_add(self.header)
    }
}

/// `CMSG_SPACE(len)` as the host computes it: the control space one item
/// with `len` bytes of payload takes, padding included (as Python's
/// `socket.CMSG_SPACE`). For `n` descriptors, `len` is `n * FD_SIZE`.
///
/// The guest's own `size_of::<usize>()` differs from the host's, so always
/// size `control_space` with this. The host is asked once; later calls
/// cost no host call.
pub fn cmsg_space(len: usize) -> usize {
    Layout::host().space(len)
}

/// `CMSG_LEN(len)` as the host computes it: the header and `len` bytes,
/// without trailing padding (as Python's `socket.CMSG_LEN`).
pub fn cmsg_len(len: usize) -> usize {
    Layout::host().len(len)
}

/// Process credentials (`struct ucred`), like std's unstable
/// `std::os::unix::net::UCred`: carried by `SCM_CREDENTIALS` and returned
/// by `peer_cred` (`SO_PEERCRED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// Process id (in the host's pid namespace).
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Credentials {
    /// The host process's own pid, uid and gid: the credentials a
    /// [`SendAncillary::Credentials`] item may carry. The host refuses any
    /// other ids (`PermissionDenied`) unless its embedder allows them
    /// (`Policy::allow_foreign_credentials`), so that a guest cannot make a
    /// privileged host vouch for another process. They are the ids the
    /// kernel attaches anyway when a message carries no credentials and
    /// the receiver has credential passing on.
    ///
    /// ```no_run
    /// use capsock::{Credentials, SendAncillary, SendFlags, SocketExt, UnixStream};
    ///
    /// let sock = UnixStream::preopened("peer")?;
    /// let me = Credentials::own();
    /// sock.send_msg(
    ///     &[std::io::IoSlice::new(b"it's me")],
    ///     &[SendAncillary::Credentials(me)],
    ///     SendFlags::empty(),
    ///     None,
    /// )?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn own() -> Credentials {
        crate::bindings::capsock::sockets::sockets::own_credentials().into()
    }
}

impl From<crate::bindings::capsock::sockets::types::Credentials> for Credentials {
    fn from(c: crate::bindings::capsock::sockets::types::Credentials) -> Credentials {
        Credentials {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
        }
    }
}

impl From<Credentials> for crate::bindings::capsock::sockets::types::Credentials {
    fn from(c: Credentials) -> Self {
        Self {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
        }
    }
}

/// An ancillary item to send (one control message), for
/// [`send_msg`](crate::SocketExt::send_msg): Twisted's `(level, type, data)`
/// triple, with file descriptors, credentials and the common IP items
/// typed. The host refuses an item of another family than the socket's
/// (`Unsupported`). std's unstable `SocketAncillary::add_fds` /
/// `add_creds` cover the first two.
#[derive(Clone, Copy, Debug)]
pub enum SendAncillary<'a> {
    /// `SCM_RIGHTS` (Unix): the peer receives copies of these handles.
    Rights(&'a [BorrowedHandle<'a>]),
    /// `SCM_CREDENTIALS` (Unix): the host accepts only its own pid/uid/gid
    /// unless its policy says otherwise.
    Credentials(Credentials),
    /// `IP_PKTINFO` (UDP over IPv4): send from `source` (which the network
    /// policy must allow; `0.0.0.0` lets the kernel choose) through
    /// interface `interface` (0 for any).
    Ipv4PacketInfo {
        /// `ipi_ifindex`.
        interface: u32,
        /// `ipi_spec_dst`.
        source: Ipv4Addr,
    },
    /// `IPV6_PKTINFO` (UDP over IPv6), as for `Ipv4PacketInfo`.
    Ipv6PacketInfo {
        /// `ipi6_ifindex`.
        interface: u32,
        /// `ipi6_addr`.
        source: Ipv6Addr,
    },
    /// `IP_TTL`: this datagram's time to live.
    Ttl(u8),
    /// `IPV6_HOPLIMIT`: this datagram's hop limit.
    HopLimit(u8),
    /// `IP_TOS`: this datagram's type-of-service byte.
    Tos(u8),
    /// `IPV6_TCLASS`: this datagram's traffic class.
    TrafficClass(u8),
    /// `UDP_SEGMENT`: send the data as datagrams of this size (GSO).
    SegmentSize(u16),
    /// `SO_TIMESTAMPING`: transmit timestamps for this message only.
    Timestamping(TimestampingFlags),
    /// Any other control message the host allows (Linux level and type numbers).
    Raw {
        /// `cmsg_level`.
        level: i32,
        /// `cmsg_type`.
        kind: i32,
        /// Payload.
        data: &'a [u8],
    },
}

/// The handle lists of the `Rights` items, borrowed as the host takes
/// them: they must outlive the items [`to_wit_items`] makes of them.
pub(crate) fn rights_lists<'a>(items: &[SendAncillary<'a>]) -> Vec<Vec<HandleRef<'a>>> {
    items
        .iter()
        .filter_map(|a| match a {
            SendAncillary::Rights(hs) => Some(hs.iter().map(|h| h.to_wit()).collect()),
            _ => None,
        })
        .collect()
}

/// The items as the host takes them; `rights` is [`rights_lists`] of them.
pub(crate) fn to_wit_items<'a>(
    items: &[SendAncillary<'a>],
    rights: &'a [Vec<HandleRef<'a>>],
) -> Vec<AncillaryOut<'a>> {
    let mut rights = rights.iter();
    items
        .iter()
        .map(|a| match *a {
            SendAncillary::Rights(_) => {
                AncillaryOut::Rights(rights.next().expect("one list per item"))
            }
            SendAncillary::Credentials(c) => AncillaryOut::Credentials(c.into()),
            SendAncillary::Ipv4PacketInfo { interface, source } => {
                let [a, b, c, d] = source.octets();
                AncillaryOut::Ipv4PacketInfo(Ipv4PacketSource {
                    interface_index: interface,
                    source_address: (a, b, c, d),
                })
            }
            SendAncillary::Ipv6PacketInfo { interface, source } => {
                let [a, b, c, d, e, f, g, h] = source.segments();
                AncillaryOut::Ipv6PacketInfo(Ipv6PacketInfo {
                    address: (a, b, c, d, e, f, g, h),
                    interface_index: interface,
                })
            }
            SendAncillary::Ttl(v) => AncillaryOut::Ttl(v),
            SendAncillary::HopLimit(v) => AncillaryOut::HopLimit(v),
            SendAncillary::Tos(v) => AncillaryOut::Tos(v),
            SendAncillary::TrafficClass(v) => AncillaryOut::TrafficClass(v),
            SendAncillary::SegmentSize(v) => AncillaryOut::SegmentSize(v),
            SendAncillary::Timestamping(f) => AncillaryOut::Timestamping(f),
            SendAncillary::Raw { level, kind, data } => {
                AncillaryOut::Raw(RawControlParam { level, kind, data })
            }
        })
        .collect()
}

/// `IP_RECVERR` / `IPV6_RECVERR`: an error (or transmit timestamp report)
/// from the socket's error queue.
#[derive(Clone, Debug)]
pub struct ExtendedError {
    /// `ee_errno` as an error code.
    pub error: crate::ErrorCode,
    /// `ee_errno` as the host's errno number.
    pub errno: u32,
    /// `ee_origin`.
    pub origin: ErrorOrigin,
    /// `ee_type` (the ICMP type for ICMP errors).
    pub kind: u8,
    /// `ee_code` (the ICMP code).
    pub code: u8,
    /// `ee_info`.
    pub info: u32,
    /// `ee_data`.
    pub data: u32,
    /// Who sent the error (`SO_EE_OFFENDER`).
    pub offender: Option<SocketAddr>,
}

/// An ancillary item received (one control message), in
/// [`RecvMsg::ancillary`]. std's unstable `AncillaryData` covers the first
/// two.
#[derive(Debug)]
pub enum RecvAncillary {
    /// `SCM_RIGHTS`: the received descriptors, owned, in order.
    Rights(Vec<OwnedHandle>),
    /// `SCM_CREDENTIALS` (when
    /// [`set_passcred`](crate::SocketExt::set_passcred) is on).
    Credentials(Credentials),
    /// `SCM_PIDFD`: a pidfd for the sender ([`ReceiveOption::Pidfd`]).
    Pidfd(OwnedHandle),
    /// `SCM_SECURITY`: the sender's security label.
    SecurityLabel(Vec<u8>),
    /// `SCM_TIMESTAMP` (microseconds).
    Timestamp(Timestamp),
    /// `SCM_TIMESTAMPNS`.
    TimestampNs(Timestamp),
    /// `SCM_TIMESTAMPING`.
    Timestamping(Timestamping),
    /// `IP_PKTINFO`.
    Ipv4PacketInfo {
        /// `ipi_ifindex`: the arrival interface.
        interface: u32,
        /// `ipi_spec_dst`: the local address to reply from.
        local: Ipv4Addr,
        /// `ipi_addr`: the header's destination address.
        destination: Ipv4Addr,
    },
    /// `IPV6_PKTINFO`.
    Ipv6PacketInfo {
        /// `ipi6_ifindex`: the arrival interface.
        interface: u32,
        /// `ipi6_addr`: the destination address.
        address: Ipv6Addr,
    },
    /// `IP_TTL`.
    Ttl(u8),
    /// `IPV6_HOPLIMIT`.
    HopLimit(u8),
    /// `IP_TOS`.
    Tos(u8),
    /// `IPV6_TCLASS`.
    TrafficClass(u8),
    /// `IP_ORIGDSTADDR` / `IPV6_ORIGDSTADDR`: where the datagram was sent.
    OriginalDestination(SocketAddr),
    /// `IP_RECVERR` / `IPV6_RECVERR`.
    ExtendedError(ExtendedError),
    /// `UDP_GRO`: the datagram holds coalesced segments of this size.
    GroSegmentSize(u16),
    /// `SO_RXQ_OVFL`: packets the socket has dropped so far.
    Dropped(u32),
    /// Any control message capsock does not type.
    Raw {
        /// `cmsg_level`.
        level: i32,
        /// `cmsg_type`.
        kind: i32,
        /// Payload.
        data: Vec<u8>,
    },
}

impl RecvAncillary {
    pub(crate) fn from_wit(a: AncillaryIn) -> RecvAncillary {
        use RecvAncillary as R;
        match a {
            AncillaryIn::Rights(ds) => {
                R::Rights(ds.into_iter().map(OwnedHandle::from_wit).collect())
            }
            AncillaryIn::Credentials(c) => R::Credentials(c.into()),
            AncillaryIn::Pidfd(d) => R::Pidfd(OwnedHandle::from_wit(d)),
            AncillaryIn::SecurityLabel(l) => R::SecurityLabel(l),
            AncillaryIn::Timestamp(t) => R::Timestamp(t),
            AncillaryIn::TimestampNs(t) => R::TimestampNs(t),
            AncillaryIn::Timestamping(t) => R::Timestamping(t),
            AncillaryIn::Ipv4PacketInfo(p) => R::Ipv4PacketInfo {
                interface: p.interface_index,
                local: ipv4(p.local_address),
                destination: ipv4(p.destination_address),
            },
            AncillaryIn::Ipv6PacketInfo(p) => R::Ipv6PacketInfo {
                interface: p.interface_index,
                address: ipv6(p.address),
            },
            AncillaryIn::Ttl(v) => R::Ttl(v),
            AncillaryIn::HopLimit(v) => R::HopLimit(v),
            AncillaryIn::Tos(v) => R::Tos(v),
            AncillaryIn::TrafficClass(v) => R::TrafficClass(v),
            // Always an IP address: the host decodes it from a
            // `sockaddr_in` / `sockaddr_in6`.
            AncillaryIn::OriginalDestination(a) => R::OriginalDestination(
                SocketAddr::from_wit(a).unwrap_or_else(|| ([0, 0, 0, 0], 0).into()),
            ),
            AncillaryIn::ExtendedError(e) => R::ExtendedError(ExtendedError {
                error: e.error,
                errno: e.errno,
                origin: e.origin,
                kind: e.type_,
                code: e.code,
                info: e.info,
                data: e.data,
                offender: e.offender.and_then(SocketAddr::from_wit),
            }),
            AncillaryIn::GroSegmentSize(n) => R::GroSegmentSize(n),
            AncillaryIn::Dropped(n) => R::Dropped(n),
            AncillaryIn::Raw(r) => R::Raw {
                level: r.level,
                kind: r.kind,
                data: r.data,
            },
        }
    }
}

/// What [`recv_msg`](crate::SocketExt::recv_msg) returns besides the data
/// it scattered into the caller's buffers: the rest of a `struct msghdr`
/// after `recvmsg(2)`.
///
/// `A` is the socket's address type: [`UnixSocketAddr`] for Unix sockets,
/// [`std::net::SocketAddr`] for UDP and TCP.
#[derive(Debug)]
pub struct RecvMsg<A = UnixSocketAddr> {
    /// Bytes written into the buffers.
    pub bytes: usize,
    /// Ancillary items, in the order received.
    pub ancillary: Vec<RecvAncillary>,
    /// `msg_flags`: [`MessageFlags::TRUNCATED`],
    /// [`MessageFlags::CONTROL_TRUNCATED`], ...
    pub flags: MessageFlags,
    /// The sender's address (`msg_name`), where the socket type reports
    /// one (datagram sockets).
    pub addr: Option<A>,
}

impl<A> RecvMsg<A> {
    /// Takes every received handle out of the `Rights` items, in order.
    pub fn take_handles(&mut self) -> Vec<OwnedHandle> {
        let mut out = Vec::new();
        for item in &mut self.ancillary {
            if let RecvAncillary::Rights(handles) = item {
                out.append(handles);
            }
        }
        out
    }

    /// The credentials item, if one arrived.
    pub fn credentials(&self) -> Option<Credentials> {
        self.ancillary.iter().find_map(|a| match a {
            RecvAncillary::Credentials(c) => Some(*c),
            _ => None,
        })
    }
}

/// What [`recv_fds`](crate::SocketExt::recv_fds) returns: the four values
/// of Python's `socket.recv_fds`, `(data, fds, msg_flags, address)`, by
/// name.
///
/// `A` is the socket's address type, as for [`RecvMsg`].
#[derive(Debug)]
pub struct RecvFds<A = UnixSocketAddr> {
    /// The bytes received (at most `bufsize`), in the vector the host
    /// filled: no second copy.
    pub data: Vec<u8>,
    /// The descriptors received with `SCM_RIGHTS`, as owned handles, in
    /// order (at most `maxfds`; more are closed and
    /// [`MessageFlags::CONTROL_TRUNCATED`] is set).
    pub fds: Vec<OwnedHandle>,
    /// `msg_flags`, e.g. [`MessageFlags::TRUNCATED`] for a datagram longer
    /// than `bufsize`.
    pub flags: MessageFlags,
    /// The sender's address on datagram sockets; `None` on stream and
    /// seqpacket sockets, whose peer is
    /// [`peer_addr`](crate::UnixStream::peer_addr) (CPython's `recv_fds`
    /// reports it there too; one `recv-fds` call does not).
    pub addr: Option<A>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_gives_linux_cmsg_sizes() {
        // x86_64 and aarch64 Linux: a 16-byte header, 8-byte alignment.
        let l = Layout {
            header: 16,
            align: 8,
        };
        assert_eq!(l.len(0), 16);
        assert_eq!(l.len(FD_SIZE), 20);
        assert_eq!(l.space(0), 16);
        assert_eq!(l.space(1), 24);
        assert_eq!(l.space(FD_SIZE), 24);
        assert_eq!(l.space(2 * FD_SIZE), 24);
        assert_eq!(l.space(3 * FD_SIZE), 32);
        assert_eq!(l.space(12), 32);
        assert_eq!(l.space(usize::MAX), usize::MAX);
        assert_eq!(l.len(usize::MAX), usize::MAX);
        assert_eq!(l.space(usize::MAX - 15), usize::MAX);
        assert_eq!(l.space(usize::MAX - 23), usize::MAX - 7);
    }
}
