//! `capsock:sockets/sockets`: `sendmsg` / `recvmsg` and friends.

use std::io::IoSlice;
use std::os::fd::{AsFd, BorrowedFd};

use wasmtime::component::{Linker, Resource, ResourceTable, WasmList};
use wasmtime::StoreContextMut;

use crate::authority::Resolved;
use crate::bindings::sockets::{
    AncillaryIn, AncillaryOut, HandleRef, Host, HostSocket, Message, ReceiveOption,
    TimestampingFlags,
};
use crate::bindings::types::{
    Address, AddressFamily, Credentials, ErrorCode, MessageFlags, RecvFlags, SendFlags,
    ShutdownHow, SocketType,
};
use crate::cmsg::{self, Encoder, Ucred};
use crate::control::{self, Prepared, SocketKind};
use crate::ctx::{CapsockCtx, CapsockCtxView, CapsockView};
use crate::error::{CapsockError, CapsockResult};
use crate::handles::{sock_type_to_libc, socket_kind, Descriptor, Socket};
use crate::sys::sockaddr::SockName;
use crate::sys::{self, Received, SockAddr};
use wasmtime_wasi::p2::DynPollable;

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

fn send_flags(f: SendFlags) -> libc::c_int {
    let mut out = libc::MSG_NOSIGNAL;
    if f.contains(SendFlags::DONT_WAIT) {
        out |= libc::MSG_DONTWAIT;
    }
    if f.contains(SendFlags::END_OF_RECORD) {
        out |= libc::MSG_EOR;
    }
    if f.contains(SendFlags::OUT_OF_BAND) {
        out |= libc::MSG_OOB;
    }
    out
}

fn recv_flags(f: RecvFlags) -> libc::c_int {
    let mut out = 0;
    if f.contains(RecvFlags::PEEK) {
        out |= libc::MSG_PEEK;
    }
    if f.contains(RecvFlags::DONT_WAIT) {
        out |= libc::MSG_DONTWAIT;
    }
    if f.contains(RecvFlags::WAIT_ALL) {
        out |= libc::MSG_WAITALL;
    }
    if f.contains(RecvFlags::OUT_OF_BAND) {
        out |= libc::MSG_OOB;
    }
    if f.contains(RecvFlags::ERROR_QUEUE) {
        out |= libc::MSG_ERRQUEUE;
    }
    out
}

fn message_flags(f: libc::c_int) -> MessageFlags {
    let mut out = MessageFlags::empty();
    for (bit, flag) in [
        (libc::MSG_TRUNC, MessageFlags::TRUNCATED),
        (libc::MSG_CTRUNC, MessageFlags::CONTROL_TRUNCATED),
        (libc::MSG_EOR, MessageFlags::END_OF_RECORD),
        (libc::MSG_OOB, MessageFlags::OUT_OF_BAND),
        (libc::MSG_ERRQUEUE, MessageFlags::ERROR_QUEUE),
    ] {
        if f & bit != 0 {
            out |= flag;
        }
    }
    out
}

/// A guest-supplied length, refused with `limit-reached` above `max`.
fn bounded(len: u64, max: usize) -> Result<usize, ErrorCode> {
    usize::try_from(len)
        .ok()
        .filter(|&n| n <= max)
        .ok_or(ErrorCode::LimitReached)
}

/// A receive's `max-data`, at most the message limit: asking for more is a
/// short read, as a smaller buffer would be.
fn receive_size(len: u64, max: usize) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX).min(max)
}

/// How many of `len` bytes one send may pass on: all of them up to the
/// message limit; above it, the limit on a stream socket (a short send, as
/// `sendmsg(2)` may make), `message-size` on a socket that keeps message
/// boundaries.
fn send_size(ty: SocketType, len: usize, max: usize) -> Result<usize, ErrorCode> {
    match ty {
        _ if len <= max => Ok(len),
        SocketType::Stream => Ok(max),
        SocketType::Datagram | SocketType::Seqpacket => Err(ErrorCode::MessageSize),
    }
}

/// The first `len` bytes of the buffers, as iovecs.
fn gather(data: &[Vec<u8>], mut len: usize) -> Vec<IoSlice<'_>> {
    let mut iov = Vec::with_capacity(data.len());
    for d in data {
        if len == 0 {
            break;
        }
        let n = d.len().min(len);
        iov.push(IoSlice::new(&d[..n]));
        len -= n;
    }
    iov
}

impl CapsockCtxView<'_> {
    /// Checks every ancillary item against the socket, the policy and the
    /// limits, and returns them ready to encode with the control-buffer
    /// bytes they need. Nothing is encoded yet.
    fn prepare_ancillary<'a>(
        &self,
        items: &'a [AncillaryOut],
        sock: SocketKind,
    ) -> Result<(Vec<Prepared<'a>>, usize), ErrorCode> {
        let (policy, limits) = (&self.ctx.policy, &self.ctx.limits);
        let mut prepared = Vec::with_capacity(items.len());
        let mut bytes = 0usize;
        let mut fds = 0usize;
        for item in items {
            let p = control::prepare(item, sock, policy)?;
            let payload = match &p {
                Prepared::Rights([]) => continue,
                Prepared::Rights(handles) => {
                    fds += handles.len();
                    handles.len() * cmsg::FD_LEN
                }
                Prepared::Item { payload, .. } => payload.as_bytes().len(),
            };
            bytes = cmsg::checked_space(payload)
                .and_then(|s| bytes.checked_add(s))
                .ok_or(ErrorCode::LimitReached)?;
            prepared.push(p);
        }
        if fds > limits.max_fds_per_message || bytes > limits.max_control_bytes {
            return Err(ErrorCode::LimitReached);
        }
        Ok((prepared, bytes))
    }

    /// Where `connect` or `send-msg` may go: a Unix address under the
    /// guest's Unix authority, or an IP address of the socket's family
    /// that the network policy allows.
    fn destination(&self, sock: SocketKind, address: &Address) -> Result<Resolved, ErrorCode> {
        if sock.family == AddressFamily::Unix {
            return self.ctx.policy.unix.resolve_peer(address);
        }
        let ip = ip_of_family(sock.family, address)?;
        if !self.ctx.policy.net.allows_destination(ip) {
            return Err(ErrorCode::AccessDenied);
        }
        Ok(Resolved::plain(SockAddr::new(&SockName::Ip(ip))?))
    }

    /// `SO_RCVBUF` / `SO_SNDBUF` (`name`) set to `bytes`.
    fn set_buffer_size(
        &mut self,
        s: &Resource<Socket>,
        name: i32,
        bytes: u64,
    ) -> CapsockResult<()> {
        let bytes = i32::try_from(bytes).map_err(|_| ErrorCode::InvalidArgument)?;
        self.set_option(s, libc::SOL_SOCKET, name, bytes)
    }

    /// `SO_RCVBUF` / `SO_SNDBUF` (`name`) as the kernel reports it.
    fn buffer_size(&mut self, s: &Resource<Socket>, name: i32) -> CapsockResult<u64> {
        let n = sys::int_option(self.table.get(s)?.as_fd(), libc::SOL_SOCKET, name)?;
        Ok(n.max(0) as u64)
    }

    /// A socket option of a socket, as `int`.
    fn set_option(
        &mut self,
        s: &Resource<Socket>,
        level: i32,
        name: i32,
        value: i32,
    ) -> CapsockResult<()> {
        Ok(sys::set_int_option(
            self.table.get(s)?.as_fd(),
            level,
            name,
            value,
        )?)
    }

    fn set_timeout(
        &mut self,
        s: Resource<Socket>,
        send: bool,
        ns: Option<u64>,
    ) -> CapsockResult<()> {
        if ns == Some(0) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let sock = self.table.get_mut(&s)?;
        sys::set_timeout(sock.as_fd(), send, ns.map(std::time::Duration::from_nanos))?;
        if send {
            sock.modes.send_timeout = ns.is_some();
        } else {
            sock.modes.recv_timeout = ns.is_some();
        }
        Ok(())
    }

    /// The guest's view of a host address.
    fn guest_address(&self, addr: &SockAddr) -> Address {
        match addr.name() {
            Some(SockName::Unix(name)) => self.ctx.policy.unix.to_guest(name),
            Some(SockName::Ip(ip)) => control::ip_to_wit(ip),
            // AF_UNSPEC (e.g. a UDP socket never connected) reads as no name.
            None => Address::Unnamed,
        }
    }
}

/// The IP address in `address` if it is of `family`.
fn ip_of_family(
    family: AddressFamily,
    address: &Address,
) -> Result<std::net::SocketAddr, ErrorCode> {
    match (family, control::ip_from_wit(address)) {
        (AddressFamily::Ipv4, Some(ip @ std::net::SocketAddr::V4(_)))
        | (AddressFamily::Ipv6, Some(ip @ std::net::SocketAddr::V6(_))) => Ok(ip),
        _ => Err(ErrorCode::AddressFamilyNotSupported),
    }
}

/// The fd behind a handle lent for `SCM_RIGHTS`.
fn handle_fd<'t>(table: &'t ResourceTable, h: &HandleRef) -> CapsockResult<BorrowedFd<'t>> {
    Ok(match h {
        HandleRef::Socket(s) => table.get(s)?.as_fd(),
        HandleRef::Descriptor(d) => table.get(d)?.fd()?,
    })
}

impl HostSocket for CapsockCtxView<'_> {
    fn pair(&mut self, ty: SocketType) -> CapsockResult<(Resource<Socket>, Resource<Socket>)> {
        self.check_room(2)?;
        let (a, b) = Socket::pair(ty)?;
        Ok((self.push_socket(a)?, self.push_socket(b)?))
    }

    fn create(&mut self, ty: SocketType) -> CapsockResult<Resource<Socket>> {
        self.check_room(1)?;
        let fd = sys::unix_socket(sock_type_to_libc(ty))?;
        match Socket::new(fd) {
            Ok(s) => self.push_socket(s),
            Err((code, _)) => Err(code.into()),
        }
    }

    fn create_ip(
        &mut self,
        family: AddressFamily,
        ty: SocketType,
    ) -> CapsockResult<Resource<Socket>> {
        let (domain, ipv6) = match family {
            AddressFamily::Ipv4 => (libc::AF_INET, false),
            AddressFamily::Ipv6 => (libc::AF_INET6, true),
            AddressFamily::Unix => return Err(ErrorCode::InvalidArgument.into()),
        };
        let protocol = match ty {
            SocketType::Stream => libc::IPPROTO_TCP,
            SocketType::Datagram => libc::IPPROTO_UDP,
            SocketType::Seqpacket => return Err(ErrorCode::NotSupported.into()),
        };
        if !self.ctx.policy.net.allows_family(ipv6) {
            return Err(ErrorCode::AccessDenied.into());
        }
        self.check_room(1)?;
        let fd = sys::socket(domain, sock_type_to_libc(ty), protocol)?;
        if ipv6 {
            // IPv4 goes through IPv4 sockets, where the policy sees it.
            sys::set_int_option(fd.as_fd(), libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
        }
        self.push_socket(Socket::from_parts(fd, SocketKind { family, ty }))
    }

    fn bind(&mut self, s: Resource<Socket>, address: Address) -> CapsockResult<()> {
        let CapsockCtxView { ctx, table } = self;
        let sock = table.get_mut(&s)?;
        let kind = sock.kind();
        if kind.family != AddressFamily::Unix {
            let ip = ip_of_family(kind.family, &address)?;
            if !ctx.policy.net.allows_local(ip) {
                return Err(ErrorCode::AccessDenied.into());
            }
            return Ok(sys::bind(sock.as_fd(), &SockAddr::new(&SockName::Ip(ip))?)?);
        }
        sock.bound_as = ctx.policy.unix.bind(sock.as_fd(), &address)?;
        Ok(())
    }

    fn connect(&mut self, s: Resource<Socket>, address: Address) -> CapsockResult<()> {
        let kind = self.table.get(&s)?.kind();
        let target = self.destination(kind, &address)?;
        let fd = self.table.get(&s)?.as_fd();
        Ok(self
            .ctx
            .interrupt
            .blocking(|| sys::connect(fd, &target.addr))??)
    }

    fn from_descriptor(&mut self, d: Resource<Descriptor>) -> CapsockResult<Resource<Socket>> {
        self.check_room(1)?;
        let desc = self.table.get_mut(&d)?;
        // Check before moving, so a refusal leaves the descriptor as it was.
        let kind = socket_kind(desc.fd()?)?;
        let fd = desc.take().ok_or(ErrorCode::BadDescriptor)?;
        self.push_socket(Socket::from_shared(fd, kind))
    }

    fn into_descriptor(&mut self, s: Resource<Socket>) -> wasmtime::Result<Resource<Descriptor>> {
        // The socket's handle goes and a descriptor's comes: the count stays.
        let sock = self.table.delete(s)?;
        Ok(self
            .table
            .push(Descriptor::from_shared(sock.into_shared_fd()))?)
    }

    fn duplicate(&mut self, s: Resource<Socket>) -> CapsockResult<Resource<Socket>> {
        self.check_room(1)?;
        let sock = self.table.get(&s)?;
        let copy = sock.as_fd().try_clone_to_owned()?;
        let kind = sock.kind();
        self.push_socket(Socket::from_parts(copy, kind))
    }

    fn take_error(&mut self, s: Resource<Socket>) -> CapsockResult<Option<ErrorCode>> {
        let errno = sys::int_option(
            self.table.get(&s)?.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
        )?;
        Ok((errno != 0).then(|| crate::error::from_errno(errno)))
    }

    fn get_type(&mut self, s: Resource<Socket>) -> wasmtime::Result<SocketType> {
        Ok(self.table.get(&s)?.socket_type())
    }

    fn family(&mut self, s: Resource<Socket>) -> wasmtime::Result<AddressFamily> {
        Ok(self.table.get(&s)?.family())
    }

    fn send_msg(
        &mut self,
        s: Resource<Socket>,
        data: Vec<Vec<u8>>,
        ancillary: Vec<AncillaryOut>,
        flags: SendFlags,
        to: Option<Address>,
    ) -> CapsockResult<u64> {
        let kind = self.table.get(&s)?.kind();
        let total = data
            .iter()
            .try_fold(0usize, |acc, d| acc.checked_add(d.len()))
            .unwrap_or(usize::MAX);
        let len = send_size(kind.ty, total, self.ctx.limits.max_message_bytes)?;
        let (prepared, control_len) = self.prepare_ancillary(&ancillary, kind)?;
        let to = to.map(|a| self.destination(kind, &a)).transpose()?;

        // Split the view: the control buffer is written while the table is
        // borrowed for the handles' fds. Resolving a handle can fail; that
        // returns before anything is sent.
        let CapsockCtxView { ctx, table } = self;
        let buf = ctx.control.zeroed(control_len);
        let mut enc = Encoder::new(buf);
        let mut fds = Vec::new();
        for item in &prepared {
            let pushed = match item {
                Prepared::Rights([]) => continue,
                Prepared::Rights(handles) => {
                    fds.clear();
                    for h in *handles {
                        fds.push(handle_fd(table, h)?);
                    }
                    enc.push_rights(&fds)
                }
                Prepared::Item { level, ty, payload } => enc.push(*level, *ty, payload.as_bytes()),
            };
            // The buffer was sized from these same items by prepare_ancillary.
            pushed.map_err(|_| {
                CapsockError::trap(wasmtime::Error::msg("control buffer sized too small"))
            })?;
        }
        let control_len = enc.len();
        let control = &buf[..control_len];

        let sock = table.get(&s)?;
        let iov = gather(&data, len);
        let to = to.as_ref().map(|t| &t.addr);
        let sent = ctx
            .interrupt
            .blocking(|| sys::sendmsg(sock.as_fd(), &iov, control, to, send_flags(flags)))?
            .map_err(|e| {
                sock.modes
                    .wait_error(e, true, flags.contains(SendFlags::DONT_WAIT))
            })?;
        Ok(sent as u64)
    }

    fn recv_msg(
        &mut self,
        s: Resource<Socket>,
        max_data: u64,
        control_space: u64,
        flags: RecvFlags,
    ) -> CapsockResult<Message> {
        let max_data = receive_size(max_data, self.ctx.limits.max_message_bytes);
        let control_space = bounded(control_space, self.ctx.limits.max_control_bytes)?;
        let mut data = Vec::new();
        let sock = self.table.get(&s)?;
        let CapsockCtx {
            control, interrupt, ..
        } = &mut *self.ctx;
        let control = control.zeroed(control_space);
        let r = interrupt
            .blocking(|| {
                let flags = recv_flags(flags);
                sys::recvmsg_into(sock.as_fd(), &mut data, max_data, control, flags)
            })?
            .map_err(|e| {
                sock.modes
                    .wait_error(e, false, flags.contains(RecvFlags::DONT_WAIT))
            })?;
        // From here on every received fd is owned by `r`: an early return
        // closes the ones not yet in the table.
        let mut msg_flags = message_flags(r.flags);
        let mut ancillary = Vec::with_capacity(r.control.len());
        for item in r.control {
            match item {
                Received::Rights(fds) => {
                    let mut handles = Vec::with_capacity(fds.len());
                    for fd in fds {
                        if self.handles_left() == 0 {
                            // Over the guest's handle limit: close it and
                            // report truncation, as Linux does at RLIMIT_NOFILE.
                            drop(fd);
                            msg_flags |= MessageFlags::CONTROL_TRUNCATED;
                            continue;
                        }
                        handles.push(self.push_descriptor(Descriptor::new(fd))?);
                    }
                    if !handles.is_empty() {
                        ancillary.push(AncillaryIn::Rights(handles));
                    }
                }
                Received::Pidfd(fd) => {
                    if self.handles_left() == 0 {
                        drop(fd);
                        msg_flags |= MessageFlags::CONTROL_TRUNCATED;
                        continue;
                    }
                    let handle = self.push_descriptor(Descriptor::new(fd))?;
                    ancillary.push(AncillaryIn::Pidfd(handle));
                }
                Received::Other { level, ty, data } => {
                    ancillary.push(control::decode(level, ty, data));
                }
            }
        }
        Ok(Message {
            data,
            ancillary,
            flags: msg_flags,
            address: r.addr.map(|a| self.guest_address(&a)),
        })
    }

    fn send(&mut self, s: Resource<Socket>, data: Vec<u8>, flags: SendFlags) -> CapsockResult<u64> {
        let sock = self.table.get(&s)?;
        let len = send_size(
            sock.kind().ty,
            data.len(),
            self.ctx.limits.max_message_bytes,
        )?;
        let iov = [IoSlice::new(&data[..len])];
        let sent = self
            .ctx
            .interrupt
            .blocking(|| sys::sendmsg(sock.as_fd(), &iov, &[], None, send_flags(flags)))?
            .map_err(|e| {
                sock.modes
                    .wait_error(e, true, flags.contains(SendFlags::DONT_WAIT))
            })?;
        Ok(sent as u64)
    }

    fn recv(
        &mut self,
        s: Resource<Socket>,
        max_data: u64,
        flags: RecvFlags,
    ) -> CapsockResult<Vec<u8>> {
        let max_data = receive_size(max_data, self.ctx.limits.max_message_bytes);
        let mut data = Vec::new();
        let sock = self.table.get(&s)?;
        self.ctx
            .interrupt
            .blocking(|| sys::recv_into(sock.as_fd(), &mut data, max_data, recv_flags(flags)))?
            .map_err(|e| {
                sock.modes
                    .wait_error(e, false, flags.contains(RecvFlags::DONT_WAIT))
            })?;
        Ok(data)
    }

    fn listen(&mut self, s: Resource<Socket>, backlog: u32) -> CapsockResult<()> {
        Ok(sys::listen(self.table.get(&s)?.as_fd(), backlog)?)
    }

    fn accept(&mut self, s: Resource<Socket>) -> CapsockResult<Resource<Socket>> {
        // Refuse before accepting, so the connection stays queued.
        self.check_room(1)?;
        let listener = self.table.get(&s)?;
        let conn = self
            .ctx
            .interrupt
            .blocking(|| listener.accept())?
            .map_err(|e| listener.modes.wait_error(e, false, false))?;
        self.push_socket(conn)
    }

    fn subscribe(&mut self, s: Resource<Socket>) -> CapsockResult<Resource<DynPollable>> {
        let fd = self.table.get(&s)?.shared_fd();
        self.subscribe_to(fd, false)
    }

    fn subscribe_writable(&mut self, s: Resource<Socket>) -> CapsockResult<Resource<DynPollable>> {
        let fd = self.table.get(&s)?.shared_fd();
        self.subscribe_to(fd, true)
    }

    fn set_nonblocking(&mut self, s: Resource<Socket>, enable: bool) -> CapsockResult<()> {
        let sock = self.table.get_mut(&s)?;
        sys::set_nonblocking(sock.as_fd(), enable)?;
        sock.modes.nonblocking = enable;
        Ok(())
    }

    fn set_receive_timeout(&mut self, s: Resource<Socket>, ns: Option<u64>) -> CapsockResult<()> {
        self.set_timeout(s, false, ns)
    }

    fn set_send_timeout(&mut self, s: Resource<Socket>, ns: Option<u64>) -> CapsockResult<()> {
        self.set_timeout(s, true, ns)
    }

    fn shutdown(&mut self, s: Resource<Socket>, how: ShutdownHow) -> CapsockResult<()> {
        let how = match how {
            ShutdownHow::Receive => libc::SHUT_RD,
            ShutdownHow::Send => libc::SHUT_WR,
            ShutdownHow::Both => libc::SHUT_RDWR,
        };
        Ok(sys::shutdown(self.table.get(&s)?.as_fd(), how)?)
    }

    fn local_address(&mut self, s: Resource<Socket>) -> CapsockResult<Address> {
        let sock = self.table.get(&s)?;
        if let Some(path) = &sock.bound_as {
            return Ok(Address::Pathname(path.clone()));
        }
        let addr = sys::local_address(sock.as_fd())?;
        Ok(self.guest_address(&addr))
    }

    fn remote_address(&mut self, s: Resource<Socket>) -> CapsockResult<Address> {
        let addr = sys::peer_address(self.table.get(&s)?.as_fd())?;
        Ok(self.guest_address(&addr))
    }

    fn peer_credentials(&mut self, s: Resource<Socket>) -> CapsockResult<Credentials> {
        Ok(sys::peer_credentials(self.table.get(&s)?.as_fd())?.into())
    }

    fn set_pass_credentials(&mut self, s: Resource<Socket>, enable: bool) -> CapsockResult<()> {
        Ok(sys::set_pass_credentials(
            self.table.get(&s)?.as_fd(),
            enable,
        )?)
    }

    fn set_receive_option(
        &mut self,
        s: Resource<Socket>,
        option: ReceiveOption,
        enable: bool,
    ) -> CapsockResult<()> {
        let (level, name) = control::receive_option(option, self.table.get(&s)?.kind())?;
        self.set_option(&s, level, name, i32::from(enable))
    }

    fn set_timestamping(
        &mut self,
        s: Resource<Socket>,
        flags: TimestampingFlags,
    ) -> CapsockResult<()> {
        let bits = control::timestamping_bits(flags) as i32;
        self.set_option(&s, libc::SOL_SOCKET, control::SO_TIMESTAMPING_OLD, bits)
    }

    fn set_receive_buffer_size(&mut self, s: Resource<Socket>, bytes: u64) -> CapsockResult<()> {
        self.set_buffer_size(&s, libc::SO_RCVBUF, bytes)
    }

    fn receive_buffer_size(&mut self, s: Resource<Socket>) -> CapsockResult<u64> {
        self.buffer_size(&s, libc::SO_RCVBUF)
    }

    fn set_send_buffer_size(&mut self, s: Resource<Socket>, bytes: u64) -> CapsockResult<()> {
        self.set_buffer_size(&s, libc::SO_SNDBUF, bytes)
    }

    fn send_buffer_size(&mut self, s: Resource<Socket>) -> CapsockResult<u64> {
        self.buffer_size(&s, libc::SO_SNDBUF)
    }

    fn set_reuse_address(&mut self, s: Resource<Socket>, enable: bool) -> CapsockResult<()> {
        if self.table.get(&s)?.family() == AddressFamily::Unix {
            return Err(ErrorCode::NotSupported.into());
        }
        self.set_option(&s, libc::SOL_SOCKET, libc::SO_REUSEADDR, i32::from(enable))
    }

    fn drop(&mut self, s: Resource<Socket>) -> wasmtime::Result<()> {
        self.delete(s)
    }
}

impl Host for CapsockCtxView<'_> {
    fn cmsg_space(&mut self, data_len: u32) -> wasmtime::Result<u32> {
        Ok(cmsg::checked_space(data_len as usize)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(u32::MAX))
    }

    fn cmsg_len(&mut self, data_len: u32) -> wasmtime::Result<u32> {
        Ok(u32::try_from(cmsg::len(data_len as usize)).unwrap_or(u32::MAX))
    }
}

/// Replaces the generated `[method]socket.send` with one that takes the
/// data as a [`WasmList`] and hands the guest's own bytes to `sendmsg(2)`:
/// the generated binding would first copy them into a `Vec`. The socket's
/// fd is cloned out of the table (an `Arc`) so that the store can then be
/// borrowed for guest memory.
pub(crate) fn add_fast_send<T: CapsockView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    let mut inst = linker.instance("capsock:sockets/sockets@0.1.0")?;
    inst.func_wrap(
        "[method]socket.send",
        |mut caller: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, SendFlags)|
         -> wasmtime::Result<(Result<u64, ErrorCode>,)> {
            let (fd, modes, len, interrupt) = {
                let view = caller.data_mut().capsock();
                let sock = view.table.get(&s)?;
                let max = view.ctx.limits.max_message_bytes;
                let len = match send_size(sock.kind().ty, data.len(), max) {
                    Ok(len) => len,
                    Err(code) => return Ok((Err(code),)),
                };
                (
                    sock.shared_fd(),
                    sock.modes,
                    len,
                    view.ctx.interrupt.clone(),
                )
            };
            let iov = [IoSlice::new(&data.as_le_slice(&caller)[..len])];
            let sent = interrupt
                .blocking(|| sys::sendmsg(fd.as_fd(), &iov, &[], None, send_flags(flags)))?;
            let dont_wait = flags.contains(SendFlags::DONT_WAIT);
            Ok((sent
                .map(|n| n as u64)
                .map_err(|e| modes.wait_error(e, true, dont_wait)),))
        },
    )
}
