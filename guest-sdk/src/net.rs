//! Unix domain sockets with `sendmsg` / `recvmsg`, shaped like
//! `std::os::unix::net` and Python's `socket`; UDP and TCP sockets (in
//! [`ip`]) under the host's network policy, shaped like `std::net`.

pub(crate) mod ip;

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::path::Path;
use std::time::Duration;

use crate::bindings::capsock::sockets::sockets::{
    self as wit, AncillaryIn, AncillaryOut, HandleRef, Ipv4PacketSource, Ipv6PacketInfo,
    RawControlParam, Socket,
};
pub use crate::bindings::capsock::sockets::sockets::{
    ErrorOrigin, ReceiveOption, Timestamp, Timestamping, TimestampingFlags,
};
pub use crate::bindings::capsock::sockets::types::AddressFamily;
use crate::bindings::capsock::sockets::types::{
    AddressParam, AddressResult, Ipv4SocketAddress, Ipv6SocketAddress, ShutdownHow,
};
pub use crate::bindings::capsock::sockets::types::{MessageFlags, RecvFlags, SendFlags};
use crate::error::to_io;
use crate::handle::{BorrowedHandle, OwnedHandle, SocketType};
use crate::poll::Ready;
use crate::MAX_WRITE;
use std::net::{Ipv4Addr, Ipv6Addr};

/// `CMSG_SPACE(len)` as the host computes it: the control space one item
/// with `len` bytes of payload takes. For `n` fds, `len` is `4 * n`.
///
/// The guest's own `size_of::<usize>()` differs from the host's, so always
/// size `control_space` with this (as Python's `socket.CMSG_SPACE`).
pub fn cmsg_space(len: usize) -> usize {
    wit::cmsg_space(u32::try_from(len).unwrap_or(u32::MAX)) as usize
}

/// `CMSG_LEN(len)` as the host computes it (as Python's `socket.CMSG_LEN`).
pub fn cmsg_len(len: usize) -> usize {
    wit::cmsg_len(u32::try_from(len).unwrap_or(u32::MAX)) as usize
}

/// Bytes of one file descriptor in an `SCM_RIGHTS` payload (`sizeof(int)`).
pub const FD_SIZE: usize = 4;

/// A Unix socket address. Names are bytes, as the kernel keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SocketAddr {
    /// No name: a socket-pair end or an unbound socket.
    Unnamed,
    /// A filesystem path name (without the trailing NUL).
    Pathname(Vec<u8>),
    /// A Linux abstract-namespace name (without the leading NUL).
    Abstract(Vec<u8>),
    /// An IP socket address (on a Unix socket, an
    /// `address-family-not-supported` error).
    Inet(std::net::SocketAddr),
}

impl SocketAddr {
    /// A path-name address.
    pub fn from_pathname(path: impl AsRef<Path>) -> SocketAddr {
        SocketAddr::Pathname(path.as_ref().as_os_str().as_encoded_bytes().to_vec())
    }

    /// The path name, if it is one and is UTF-8 (as WASI paths are).
    pub fn as_pathname(&self) -> Option<&Path> {
        match self {
            SocketAddr::Pathname(p) => std::str::from_utf8(p).ok().map(Path::new),
            _ => None,
        }
    }

    /// Whether the address is unnamed.
    pub fn is_unnamed(&self) -> bool {
        matches!(self, SocketAddr::Unnamed)
    }

    fn from_wit(a: AddressResult) -> SocketAddr {
        match a {
            AddressResult::Unnamed => SocketAddr::Unnamed,
            AddressResult::Pathname(p) => SocketAddr::Pathname(p),
            AddressResult::Abstract(n) => SocketAddr::Abstract(n),
            AddressResult::Ipv4(a) => {
                let (b0, b1, b2, b3) = a.address;
                SocketAddr::Inet((std::net::Ipv4Addr::new(b0, b1, b2, b3), a.port).into())
            }
            AddressResult::Ipv6(a) => {
                let (g0, g1, g2, g3, g4, g5, g6, g7) = a.address;
                let ip = std::net::Ipv6Addr::new(g0, g1, g2, g3, g4, g5, g6, g7);
                SocketAddr::Inet(
                    std::net::SocketAddrV6::new(ip, a.port, a.flow_info, a.scope_id).into(),
                )
            }
        }
    }

    fn to_wit(&self) -> AddressParam<'_> {
        match self {
            SocketAddr::Unnamed => AddressParam::Unnamed,
            SocketAddr::Pathname(p) => AddressParam::Pathname(p),
            SocketAddr::Abstract(n) => AddressParam::Abstract(n),
            SocketAddr::Inet(std::net::SocketAddr::V4(a)) => {
                let [b0, b1, b2, b3] = a.ip().octets();
                AddressParam::Ipv4(Ipv4SocketAddress {
                    address: (b0, b1, b2, b3),
                    port: a.port(),
                })
            }
            SocketAddr::Inet(std::net::SocketAddr::V6(a)) => {
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
}

/// Process credentials (`struct ucred`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// Process id (in the host's pid namespace).
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
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

/// An ancillary item to send: Twisted's `(level, type, data)` triple, with
/// file descriptors, credentials and the common IP items typed. The host
/// refuses an item of another family than the socket's (`Unsupported`).
#[derive(Clone, Copy, Debug)]
pub enum Ancillary<'a> {
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
    pub offender: Option<std::net::SocketAddr>,
}

/// An ancillary item received.
#[derive(Debug)]
pub enum AncillaryData {
    /// `SCM_RIGHTS`: the received descriptors, owned, in order.
    Rights(Vec<OwnedHandle>),
    /// `SCM_CREDENTIALS` (when [`set_pass_cred`](UnixStream::set_pass_cred) is on).
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
    /// `IP_ORIGDSTADDR` / `IPV6_ORIGDSTADDR` (always [`SocketAddr::Inet`]).
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

fn ipv4((a, b, c, d): (u8, u8, u8, u8)) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

fn ipv6((a, b, c, d, e, f, g, h): (u16, u16, u16, u16, u16, u16, u16, u16)) -> Ipv6Addr {
    Ipv6Addr::new(a, b, c, d, e, f, g, h)
}

fn inet(a: AddressResult) -> Option<std::net::SocketAddr> {
    match SocketAddr::from_wit(a) {
        SocketAddr::Inet(ip) => Some(ip),
        _ => None,
    }
}

impl AncillaryData {
    fn from_wit(a: AncillaryIn) -> AncillaryData {
        use AncillaryData as D;
        match a {
            AncillaryIn::Rights(ds) => {
                D::Rights(ds.into_iter().map(OwnedHandle::from_wit).collect())
            }
            AncillaryIn::Credentials(c) => D::Credentials(c.into()),
            AncillaryIn::Pidfd(d) => D::Pidfd(OwnedHandle::from_wit(d)),
            AncillaryIn::SecurityLabel(l) => D::SecurityLabel(l),
            AncillaryIn::Timestamp(t) => D::Timestamp(t),
            AncillaryIn::TimestampNs(t) => D::TimestampNs(t),
            AncillaryIn::Timestamping(t) => D::Timestamping(t),
            AncillaryIn::Ipv4PacketInfo(p) => D::Ipv4PacketInfo {
                interface: p.interface_index,
                local: ipv4(p.local_address),
                destination: ipv4(p.destination_address),
            },
            AncillaryIn::Ipv6PacketInfo(p) => D::Ipv6PacketInfo {
                interface: p.interface_index,
                address: ipv6(p.address),
            },
            AncillaryIn::Ttl(v) => D::Ttl(v),
            AncillaryIn::HopLimit(v) => D::HopLimit(v),
            AncillaryIn::Tos(v) => D::Tos(v),
            AncillaryIn::TrafficClass(v) => D::TrafficClass(v),
            AncillaryIn::OriginalDestination(a) => D::OriginalDestination(SocketAddr::from_wit(a)),
            AncillaryIn::ExtendedError(e) => D::ExtendedError(ExtendedError {
                error: e.error,
                errno: e.errno,
                origin: e.origin,
                kind: e.type_,
                code: e.code,
                info: e.info,
                data: e.data,
                offender: e.offender.and_then(inet),
            }),
            AncillaryIn::GroSegmentSize(n) => D::GroSegmentSize(n),
            AncillaryIn::Dropped(n) => D::Dropped(n),
            AncillaryIn::Raw(r) => D::Raw {
                level: r.level,
                kind: r.kind,
                data: r.data,
            },
        }
    }
}

/// What [`recv_msg`](UnixStream::recv_msg) returns besides the data.
#[derive(Debug)]
pub struct RecvMsg {
    /// Bytes written into the buffers.
    pub bytes: usize,
    /// Ancillary items, in the order received.
    pub ancillary: Vec<AncillaryData>,
    /// `msg_flags`: [`MessageFlags::TRUNCATED`], [`MessageFlags::CONTROL_TRUNCATED`], ...
    pub flags: MessageFlags,
    /// The sender's address, where the socket type reports one.
    pub addr: Option<SocketAddr>,
}

impl RecvMsg {
    /// Takes every received handle out of the `Rights` items, in order.
    pub fn take_handles(&mut self) -> Vec<OwnedHandle> {
        let mut out = Vec::new();
        for item in &mut self.ancillary {
            if let AncillaryData::Rights(handles) = item {
                out.append(handles);
            }
        }
        out
    }

    /// The credentials item, if one arrived.
    pub fn credentials(&self) -> Option<Credentials> {
        self.ancillary.iter().find_map(|a| match a {
            AncillaryData::Credentials(c) => Some(*c),
            _ => None,
        })
    }
}

/// The socket operations shared by all three socket types.
struct Sock {
    inner: Socket,
}

impl Sock {
    fn pair(ty: SocketType) -> io::Result<(Sock, Sock)> {
        let (a, b) = Socket::pair(ty).map_err(to_io)?;
        Ok((Sock { inner: a }, Sock { inner: b }))
    }

    fn readable(&self) -> io::Result<Ready> {
        self.inner
            .subscribe()
            .map(|pollable| Ready { pollable })
            .map_err(to_io)
    }

    fn writable(&self) -> io::Result<Ready> {
        self.inner
            .subscribe_writable()
            .map(|pollable| Ready { pollable })
            .map_err(to_io)
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.inner.set_nonblocking(on).map_err(to_io)
    }

    fn set_timeout(&self, send: bool, t: Option<Duration>) -> io::Result<()> {
        let ns = crate::handle::timeout_ns(t)?;
        if send {
            self.inner.set_send_timeout(ns).map_err(to_io)
        } else {
            self.inner.set_receive_timeout(ns).map_err(to_io)
        }
    }

    fn listen(&self, backlog: u32) -> io::Result<()> {
        self.inner.listen(backlog).map_err(to_io)
    }

    fn accept(&self) -> io::Result<Sock> {
        self.inner
            .accept()
            .map(|inner| Sock { inner })
            .map_err(to_io)
    }

    fn create(ty: SocketType) -> io::Result<Sock> {
        Socket::create(ty)
            .map(|inner| Sock { inner })
            .map_err(to_io)
    }

    fn bind(&self, addr: &SocketAddr) -> io::Result<()> {
        self.inner.bind(addr.to_wit()).map_err(to_io)
    }

    fn connect(&self, addr: &SocketAddr) -> io::Result<()> {
        self.inner.connect(addr.to_wit()).map_err(to_io)
    }

    fn send_msg(
        &self,
        bufs: &[IoSlice<'_>],
        ancillary: &[Ancillary<'_>],
        flags: SendFlags,
        to: Option<&SocketAddr>,
    ) -> io::Result<usize> {
        let data: Vec<&[u8]> = bufs.iter().map(|b| &**b).collect();
        // Two passes: the handle lists must outlive the items that borrow them.
        let rights: Vec<Vec<HandleRef<'_>>> = ancillary
            .iter()
            .filter_map(|a| match a {
                Ancillary::Rights(hs) => Some(hs.iter().map(|h| h.to_wit()).collect()),
                _ => None,
            })
            .collect();
        let mut rights_iter = rights.iter();
        let items: Vec<AncillaryOut<'_>> = ancillary
            .iter()
            .map(|a| match *a {
                Ancillary::Rights(_) => {
                    AncillaryOut::Rights(rights_iter.next().expect("one list per item"))
                }
                Ancillary::Credentials(c) => AncillaryOut::Credentials(c.into()),
                Ancillary::Ipv4PacketInfo { interface, source } => {
                    let [a, b, c, d] = source.octets();
                    AncillaryOut::Ipv4PacketInfo(Ipv4PacketSource {
                        interface_index: interface,
                        source_address: (a, b, c, d),
                    })
                }
                Ancillary::Ipv6PacketInfo { interface, source } => {
                    let [a, b, c, d, e, f, g, h] = source.segments();
                    AncillaryOut::Ipv6PacketInfo(Ipv6PacketInfo {
                        address: (a, b, c, d, e, f, g, h),
                        interface_index: interface,
                    })
                }
                Ancillary::Ttl(v) => AncillaryOut::Ttl(v),
                Ancillary::HopLimit(v) => AncillaryOut::HopLimit(v),
                Ancillary::Tos(v) => AncillaryOut::Tos(v),
                Ancillary::TrafficClass(v) => AncillaryOut::TrafficClass(v),
                Ancillary::SegmentSize(v) => AncillaryOut::SegmentSize(v),
                Ancillary::Timestamping(f) => AncillaryOut::Timestamping(f),
                Ancillary::Raw { level, kind, data } => {
                    AncillaryOut::Raw(RawControlParam { level, kind, data })
                }
            })
            .collect();
        let to = to.map(SocketAddr::to_wit);
        self.inner
            .send_msg(&data, &items, flags, to)
            .map(|n| n as usize)
            .map_err(to_io)
    }

    fn recv_msg(
        &self,
        bufs: &mut [IoSliceMut<'_>],
        control_space: usize,
        flags: RecvFlags,
    ) -> io::Result<RecvMsg> {
        let max: usize = bufs.iter().map(|b| b.len()).sum();
        let m = self
            .inner
            .recv_msg(max as u64, control_space as u64, flags)
            .map_err(to_io)?;
        let mut rest = &m.data[..];
        for buf in bufs.iter_mut() {
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        let ancillary = m
            .ancillary
            .into_iter()
            .map(AncillaryData::from_wit)
            .collect();
        Ok(RecvMsg {
            bytes: m.data.len(),
            ancillary,
            flags: m.flags,
            addr: m.address.map(SocketAddr::from_wit),
        })
    }

    fn send_fds(
        &self,
        data: &[u8],
        fds: &[BorrowedHandle<'_>],
        to: Option<&SocketAddr>,
    ) -> io::Result<usize> {
        let anc = [Ancillary::Rights(fds)];
        let anc = if fds.is_empty() { &anc[..0] } else { &anc[..] };
        self.send_msg(&[IoSlice::new(data)], anc, SendFlags::empty(), to)
    }

    fn recv_fds(&self, bufsize: usize, maxfds: usize) -> io::Result<RecvFds> {
        let mut data = vec![0; bufsize];
        // Python sizes the control space with CMSG_LEN, not CMSG_SPACE.
        let space = cmsg_len(maxfds.saturating_mul(FD_SIZE));
        let mut m = self.recv_msg(&mut [IoSliceMut::new(&mut data)], space, RecvFlags::empty())?;
        data.truncate(m.bytes);
        let handles = m.take_handles();
        Ok((data, handles, m.flags, m.addr))
    }

    /// `Write::write` for a stream: one `send` of at most [`MAX_WRITE`]
    /// bytes (a short write).
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.send(&buf[..buf.len().min(MAX_WRITE)])
    }

    /// `Write::write_vectored` for a stream: one `send-msg` of at most
    /// [`MAX_WRITE`] bytes (a short write).
    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut left = MAX_WRITE;
        let mut clipped = Vec::with_capacity(bufs.len());
        for b in bufs {
            if left == 0 {
                break;
            }
            let n = b.len().min(left);
            clipped.push(IoSlice::new(&b[..n]));
            left -= n;
        }
        self.send_msg(&clipped, &[], SendFlags::empty(), None)
    }

    /// One `send` host call: no gather list, no ancillary items.
    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .send(buf, SendFlags::empty())
            .map(|n| n as usize)
            .map_err(to_io)
    }

    /// One `recv` host call: data only, in the vector the host filled.
    fn recv_vec(&self, max: usize) -> io::Result<Vec<u8>> {
        self.inner
            .recv(max as u64, RecvFlags::empty())
            .map_err(to_io)
    }

    /// One `recv` host call: data only.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let data = self
            .inner
            .recv(buf.len() as u64, RecvFlags::empty())
            .map_err(to_io)?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    fn recv_into(
        &self,
        buf: &mut [u8],
        flags: RecvFlags,
    ) -> io::Result<(usize, Option<SocketAddr>)> {
        let m = self.recv_msg(&mut [IoSliceMut::new(buf)], 0, flags)?;
        Ok((m.bytes, m.addr))
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let how = match how {
            Shutdown::Read => ShutdownHow::Receive,
            Shutdown::Write => ShutdownHow::Send,
            Shutdown::Both => ShutdownHow::Both,
        };
        self.inner.shutdown(how).map_err(to_io)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner
            .local_address()
            .map(SocketAddr::from_wit)
            .map_err(to_io)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner
            .remote_address()
            .map(SocketAddr::from_wit)
            .map_err(to_io)
    }

    fn peer_cred(&self) -> io::Result<Credentials> {
        self.inner
            .peer_credentials()
            .map(Credentials::from)
            .map_err(to_io)
    }

    fn set_pass_cred(&self, on: bool) -> io::Result<()> {
        self.inner.set_pass_credentials(on).map_err(to_io)
    }

    fn set_receive_option(&self, which: ReceiveOption, on: bool) -> io::Result<()> {
        self.inner.set_receive_option(which, on).map_err(to_io)
    }

    fn set_timestamping(&self, flags: TimestampingFlags) -> io::Result<()> {
        self.inner.set_timestamping(flags).map_err(to_io)
    }

    fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.inner
            .set_receive_buffer_size(bytes as u64)
            .map_err(to_io)
    }

    fn recv_buffer_size(&self) -> io::Result<usize> {
        self.inner
            .receive_buffer_size()
            .map(|n| n as usize)
            .map_err(to_io)
    }

    fn from_handle(h: OwnedHandle, ty: SocketType) -> Result<Sock, IntoSocketError> {
        let error = match h.socket_type() {
            Some(t) if t == ty => match Socket::from_descriptor(h.wit()) {
                Ok(inner) => return Ok(Sock { inner }),
                Err(code) => to_io(code),
            },
            Some(t) => io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a {} socket, not a {} socket", type_name(t), type_name(ty)),
            ),
            None => io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a {:?}, not a socket", h.kind()),
            ),
        };
        Err(IntoSocketError { error, handle: h })
    }
}

fn type_name(ty: SocketType) -> &'static str {
    match ty {
        SocketType::Stream => "stream",
        SocketType::Datagram => "datagram",
        SocketType::Seqpacket => "seqpacket",
    }
}

/// `(data, handles, flags, address)`, the tuple Python's
/// `socket.recv_fds` returns.
pub type RecvFds = (Vec<u8>, Vec<OwnedHandle>, MessageFlags, Option<SocketAddr>);

/// A handle could not become a socket of the requested type; the handle is
/// given back untouched.
#[derive(Debug)]
pub struct IntoSocketError {
    error: io::Error,
    handle: OwnedHandle,
}

impl IntoSocketError {
    /// Why the conversion failed.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The handle, unchanged.
    pub fn into_handle(self) -> OwnedHandle {
        self.handle
    }
}

impl fmt::Display for IntoSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a socket of the requested type: {}", self.error)
    }
}

impl std::error::Error for IntoSocketError {}

impl From<IntoSocketError> for io::Error {
    fn from(e: IntoSocketError) -> io::Error {
        e.error
    }
}

/// `AsHandle` (so the socket can be sent with `SCM_RIGHTS`) and an opaque
/// `Debug` for a socket type whose `sock` field is a [`Sock`].
macro_rules! socket_handle {
    ($name:ident) => {
        impl $crate::AsHandle for $name {
            fn as_handle(&self) -> $crate::BorrowedHandle<'_> {
                $crate::BorrowedHandle {
                    inner: $crate::handle::Borrowed::Socket(&self.sock.inner),
                }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use socket_handle;

/// The readiness, blocking-mode and receive-option methods every socket
/// type has (Unix and IP); expanded inside each type's `impl`.
macro_rules! sock_options {
    () => {
        /// Readiness to receive (data, end-of-file or an error), for
        /// [`wait`](crate::wait).
        pub fn readable(&self) -> std::io::Result<$crate::Ready> {
            self.sock.readable()
        }

        /// Readiness to send, for [`wait`](crate::wait).
        pub fn writable(&self) -> std::io::Result<$crate::Ready> {
            self.sock.writable()
        }

        /// `O_NONBLOCK`: calls that would wait fail with `WouldBlock`.
        pub fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
            self.sock.set_nonblocking(on)
        }

        /// `SO_RCVTIMEO`: receives that wait longer fail with
        /// `TimedOut`; `None` waits for ever; zero is refused.
        pub fn set_read_timeout(
            &self,
            timeout: Option<std::time::Duration>,
        ) -> std::io::Result<()> {
            self.sock.set_timeout(false, timeout)
        }

        /// `SO_SNDTIMEO`: sends that wait longer fail with `TimedOut`.
        pub fn set_write_timeout(
            &self,
            timeout: Option<std::time::Duration>,
        ) -> std::io::Result<()> {
            self.sock.set_timeout(true, timeout)
        }

        /// Switches a received control message on or off, with the
        /// option of this socket's family ([`ReceiveOption::Pidfd`](crate::ReceiveOption::Pidfd) for
        /// `SCM_PIDFD`, `IP_PKTINFO` or `IPV6_RECVPKTINFO` for
        /// [`ReceiveOption::PacketInfo`](crate::ReceiveOption::PacketInfo), ...).
        pub fn set_receive_option(
            &self,
            which: $crate::ReceiveOption,
            on: bool,
        ) -> std::io::Result<()> {
            self.sock.set_receive_option(which, on)
        }

        /// `SO_TIMESTAMPING`: which timestamps to take and report.
        pub fn set_timestamping(&self, flags: $crate::TimestampingFlags) -> std::io::Result<()> {
            self.sock.set_timestamping(flags)
        }

        /// `SO_RCVBUF`: ask for a receive buffer of `bytes`.
        pub fn set_recv_buffer_size(&self, bytes: usize) -> std::io::Result<()> {
            self.sock.set_recv_buffer_size(bytes)
        }

        /// `SO_RCVBUF` as the kernel reports it.
        pub fn recv_buffer_size(&self) -> std::io::Result<usize> {
            self.sock.recv_buffer_size()
        }
    };
}
pub(crate) use sock_options;

/// Methods every socket type shares; generated once per type so each type
/// documents them under its own name.
macro_rules! socket_common {
    ($name:ident, $ty:expr, $what:literal) => {
        impl $name {
            #[doc = concat!("Two connected ", $what, " sockets (`socketpair(2)`); needs no authority.")]
            pub fn pair() -> io::Result<($name, $name)> {
                let (a, b) = Sock::pair($ty)?;
                Ok(($name { sock: a }, $name { sock: b }))
            }

            #[doc = concat!("Takes the ", $what, " socket the host granted as `name`. Each grant can be")]
            /// taken once; a grant of another kind is an `InvalidInput` error
            /// (and is closed).
            pub fn preopened(name: &str) -> io::Result<$name> {
                Ok($name::try_from(crate::preopened(name)?)?)
            }

            /// `bind(2)`: names the socket. Path names must lie below a
            /// directory the host granted (`capsock run --unix-dir`);
            /// abstract names need the host's permission;
            /// [`SocketAddr::Unnamed`] asks the kernel for an abstract name
            /// (autobind).
            pub fn bind_addr(&self, addr: &SocketAddr) -> io::Result<()> {
                self.sock.bind(addr)
            }

            /// `connect(2)` to `addr`, under the same authority as
            /// [`bind_addr`](Self::bind_addr).
            pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
                self.sock.connect(addr)
            }

            /// `sendmsg(2)`: gathers `bufs` into one message with `ancillary`
            /// items, to `to` if given. Returns the bytes sent.
            ///
            /// ```no_run
            /// use std::io::IoSlice;
            /// use capsock::{Ancillary, AsHandle, SendFlags};
            #[doc = concat!("use capsock::", stringify!($name), ";")]
            ///
            #[doc = concat!("let (a, b) = ", stringify!($name), "::pair()?;")]
            /// let lent = [b.as_handle()];
            /// let n = a.send_msg(
            ///     &[IoSlice::new(b"Hel"), IoSlice::new(b"lo")],
            ///     &[Ancillary::Rights(&lent)],
            ///     SendFlags::empty(),
            ///     None,
            /// )?;
            /// assert_eq!(n, 5);
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn send_msg(
                &self,
                bufs: &[IoSlice<'_>],
                ancillary: &[Ancillary<'_>],
                flags: SendFlags,
                to: Option<&SocketAddr>,
            ) -> io::Result<usize> {
                self.sock.send_msg(bufs, ancillary, flags, to)
            }

            /// `recvmsg(2)`: scatters the data into `bufs` and receives up to
            /// `control_space` bytes of ancillary data, sized with
            /// [`cmsg_space`] / [`cmsg_len`] exactly as for Python's
            /// `recvmsg(bufsize, ancbufsize)`. Items that do not fit are
            /// dropped (their fds closed) and `CONTROL_TRUNCATED` is set.
            ///
            /// ```no_run
            /// use std::io::IoSliceMut;
            /// use capsock::{cmsg_space, RecvFlags, FD_SIZE};
            #[doc = concat!("use capsock::", stringify!($name), ";")]
            ///
            #[doc = concat!("let sock = ", stringify!($name), "::preopened(\"peer\")?;")]
            /// let (mut head, mut body) = ([0u8; 4], [0u8; 64]);
            /// let mut bufs = [IoSliceMut::new(&mut head), IoSliceMut::new(&mut body)];
            /// let mut msg = sock.recv_msg(&mut bufs, cmsg_space(4 * FD_SIZE), RecvFlags::empty())?;
            /// let handles = msg.take_handles();
            /// println!("{} bytes, {} handles, {:?}", msg.bytes, handles.len(), msg.flags);
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn recv_msg(
                &self,
                bufs: &mut [IoSliceMut<'_>],
                control_space: usize,
                flags: RecvFlags,
            ) -> io::Result<RecvMsg> {
                self.sock.recv_msg(bufs, control_space, flags)
            }

            /// Python's `socket.send_fds`: sends `data` with copies of `fds`
            /// in one `SCM_RIGHTS` item.
            ///
            /// ```no_run
            /// use capsock::{AsHandle, OwnedHandle};
            #[doc = concat!("use capsock::", stringify!($name), ";")]
            ///
            #[doc = concat!("let sock = ", stringify!($name), "::preopened(\"peer\")?;")]
            /// let file: OwnedHandle = capsock::preopened("log")?;
            /// sock.send_fds(b"here", &[file.as_handle()])?;
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn send_fds(&self, data: &[u8], fds: &[BorrowedHandle<'_>]) -> io::Result<usize> {
                self.sock.send_fds(data, fds, None)
            }

            /// Python's `socket.recv_fds`: up to `bufsize` bytes and up to
            /// `maxfds` descriptors (control space `CMSG_LEN(maxfds * 4)`).
            /// Returns `(data, handles, flags, address)`.
            pub fn recv_fds(&self, bufsize: usize, maxfds: usize) -> io::Result<RecvFds> {
                self.sock.recv_fds(bufsize, maxfds)
            }

            /// `recv(2)` of up to `max` bytes into a new vector: the bytes
            /// land in guest memory once, where `recv(&mut buf)` or `read`
            /// copy them once more into the caller's buffer. File
            /// descriptors that arrive are closed, as with `recv(2)`.
            pub fn recv_vec(&self, max: usize) -> io::Result<Vec<u8>> {
                self.sock.recv_vec(max)
            }

            /// `shutdown(2)`.
            pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
                self.sock.shutdown(how)
            }

            /// `getsockname(2)`.
            pub fn local_addr(&self) -> io::Result<SocketAddr> {
                self.sock.local_addr()
            }

            /// `getpeername(2)`.
            pub fn peer_addr(&self) -> io::Result<SocketAddr> {
                self.sock.peer_addr()
            }

            /// `SO_PEERCRED`: the peer's credentials when it connected.
            pub fn peer_cred(&self) -> io::Result<Credentials> {
                self.sock.peer_cred()
            }

            /// `SO_PASSCRED`: attach the sender's credentials to every
            /// message received.
            pub fn set_pass_cred(&self, on: bool) -> io::Result<()> {
                self.sock.set_pass_cred(on)
            }

            sock_options!();
        }

        impl TryFrom<OwnedHandle> for $name {
            type Error = IntoSocketError;

            #[doc = concat!("Turns a received handle into a ", $what, " socket; fails, giving the")]
            /// handle back, if it is anything else.
            fn try_from(h: OwnedHandle) -> Result<$name, IntoSocketError> {
                Sock::from_handle(h, $ty).map(|sock| $name { sock })
            }
        }

        $crate::net::socket_handle!($name);
    };
}

/// A connected Unix stream socket (`SOCK_STREAM`), like
/// `std::os::unix::net::UnixStream`. Reads and writes with [`Read`](std::io::Read) and
/// [`Write`](std::io::Write); passes handles with [`send_fds`](Self::send_fds) /
/// [`recv_fds`](Self::recv_fds).
///
/// ```no_run
/// use std::io::{Read, Write};
/// use capsock::UnixStream;
///
/// let (mut a, mut b) = UnixStream::pair()?;
/// a.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    sock: Sock,
}

socket_common!(UnixStream, SocketType::Stream, "stream");

impl UnixStream {
    /// Connects to the stream socket at `path` (below a directory the host
    /// granted), like `std::os::unix::net::UnixStream::connect`.
    ///
    /// ```no_run
    /// // capsock run --unix-dir /run/app::/run/app guest.wasm
    /// let stream = capsock::UnixStream::connect("/run/app/server.sock")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let sock = Sock::create(SocketType::Stream)?;
        sock.connect(&SocketAddr::from_pathname(path))?;
        Ok(UnixStream { sock })
    }
}

/// `Read` and `Write` for a stream socket type (and references to it),
/// one host call each.
macro_rules! stream_io {
    ($name:ident) => {
        impl std::io::Read for &$name {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.sock.recv(buf)
            }
        }

        impl std::io::Write for &$name {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.sock.write(buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.sock.write_vectored(bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $name {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }
        }

        impl std::io::Write for $name {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use stream_io;

stream_io!(UnixStream);

/// A Unix datagram socket (`SOCK_DGRAM`), like
/// `std::os::unix::net::UnixDatagram`.
pub struct UnixDatagram {
    sock: Sock,
}

socket_common!(UnixDatagram, SocketType::Datagram, "datagram");

impl UnixDatagram {
    /// A datagram socket bound to `path` (below a directory the host granted).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let sock = Sock::create(SocketType::Datagram)?;
        sock.bind(&SocketAddr::from_pathname(path))?;
        Ok(UnixDatagram { sock })
    }

    /// A datagram socket with no name.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            sock: Sock::create(SocketType::Datagram)?,
        })
    }

    /// Sets the default destination (and the only source accepted) to the
    /// socket at `path`.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.sock.connect(&SocketAddr::from_pathname(path))
    }

    /// Sends one datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send(buf)
    }

    /// Sends one datagram to `addr` (needs the host's authority for it).
    pub fn send_to(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.sock
            .send_msg(&[IoSlice::new(buf)], &[], SendFlags::empty(), Some(addr))
    }

    /// Receives one datagram; the rest of a longer one is discarded.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.recv(buf)
    }

    /// Receives one datagram and the sender's address.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, addr) = self.sock.recv_into(buf, RecvFlags::empty())?;
        Ok((n, addr.unwrap_or(SocketAddr::Unnamed)))
    }
}

/// A connected Unix sequenced-packet socket (`SOCK_SEQPACKET`): reliable,
/// ordered, message boundaries kept.
pub struct UnixSeqpacket {
    sock: Sock,
}

socket_common!(UnixSeqpacket, SocketType::Seqpacket, "seqpacket");

impl UnixSeqpacket {
    /// Connects to the seqpacket socket at `path` (below a directory the
    /// host granted).
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixSeqpacket> {
        let sock = Sock::create(SocketType::Seqpacket)?;
        sock.connect(&SocketAddr::from_pathname(path))?;
        Ok(UnixSeqpacket { sock })
    }

    /// Sends one packet.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send(buf)
    }

    /// Receives one packet; the rest of a longer one is discarded.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.recv(buf)
    }
}

/// Listener types: `bind` + `listen`, `accept`, readiness.
macro_rules! listener {
    ($name:ident, $conn:ident, $ty:expr, $what:literal) => {
        #[doc = concat!("A listening ", $what, " socket, like `std::os::unix::net::UnixListener`.")]
        ///
        /// Connections it accepts are ordinary sockets: they can be passed
        /// to another guest with [`send_fds`](UnixStream::send_fds).
        pub struct $name {
            sock: Sock,
        }

        impl $name {
            /// Binds `path` (below a directory the host granted) and listens.
            pub fn bind(path: impl AsRef<Path>) -> io::Result<$name> {
                let sock = Sock::create($ty)?;
                sock.bind(&SocketAddr::from_pathname(path))?;
                sock.listen(128)?;
                Ok($name { sock })
            }

            /// Takes the listening socket the host granted as `name`
            /// (`capsock run --unix-listen`, socket activation).
            pub fn preopened(name: &str) -> io::Result<$name> {
                let sock = Sock::from_handle(crate::preopened(name)?, $ty)?;
                Ok($name { sock })
            }

            /// `accept(2)`: the next connection.
            pub fn accept(&self) -> io::Result<$conn> {
                Ok($conn {
                    sock: self.sock.accept()?,
                })
            }

            /// An endless iterator of accepted connections (or errors).
            pub fn incoming(&self) -> impl Iterator<Item = io::Result<$conn>> + '_ {
                std::iter::repeat_with(move || self.accept())
            }

            /// Readiness to accept, for [`wait`](crate::wait).
            pub fn readable(&self) -> io::Result<Ready> {
                self.sock.readable()
            }

            /// `O_NONBLOCK`: `accept` fails with `WouldBlock` when nothing is pending.
            pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
                self.sock.set_nonblocking(on)
            }

            /// `SO_RCVTIMEO`: `accept` that waits longer fails with `TimedOut`.
            pub fn set_accept_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                self.sock.set_timeout(false, timeout)
            }

            /// `getsockname(2)`.
            pub fn local_addr(&self) -> io::Result<SocketAddr> {
                self.sock.local_addr()
            }
        }

        $crate::net::socket_handle!($name);
    };
}

listener!(UnixListener, UnixStream, SocketType::Stream, "stream");
listener!(
    UnixSeqpacketListener,
    UnixSeqpacket,
    SocketType::Seqpacket,
    "seqpacket"
);
