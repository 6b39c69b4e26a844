//! `capsock:sockets/sockets`: `sendmsg` / `recvmsg` and friends.

use std::os::fd::AsFd;
use std::time::Duration;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::DynPollable;

use crate::bindings::sockets::{
    AncillaryIn, AncillaryOut, FdsMessage, HandleRef, Host, HostSocket, Message, ReceiveOption,
    TimestampingFlags,
};
use crate::bindings::types::{
    Address, AddressFamily, Credentials, ErrorCode, MessageFlags, RecvFlags, SendFlags,
    ShutdownHow, SocketType,
};
use crate::cmsg::{self, uapi, SendItem};
use crate::convert;
use crate::ctx::{CapsockCtx, CapsockCtxView};
use crate::error::CapsockResult;
use crate::policy::AddressUse;
use crate::resources::{socket_kind, Descriptor, Socket, SocketKind, Wait};
use crate::sys::{self, MsgFlags, Received, SockAddr};
use crate::wait::Waiting;

use super::sync;

/// The ancillary items of one send, as the codec takes them: `rights`
/// handles resolved to the fds they hold, borrowed from the table.
fn send_items<'a, 't>(
    table: &'t ResourceTable,
    items: &'a [AncillaryOut],
) -> CapsockResult<Vec<SendItem<'a, 't>>> {
    let fd = |h: &HandleRef| -> CapsockResult<_> {
        Ok(match h {
            HandleRef::Socket(s) => table.get(s)?.as_fd(),
            HandleRef::Descriptor(d) => table.get(d)?.fd()?,
        })
    };
    items
        .iter()
        .map(|item| match item {
            AncillaryOut::Rights(handles) => Ok(SendItem::Rights(
                handles.iter().map(fd).collect::<CapsockResult<_>>()?,
            )),
            other => Ok(convert::send_item(other)?),
        })
        .collect()
}

/// The first `len` bytes of the buffers.
fn gather(data: &[Vec<u8>], mut len: usize) -> Vec<&[u8]> {
    let mut bufs = Vec::with_capacity(data.len());
    for d in data {
        if len == 0 {
            break;
        }
        let n = d.len().min(len);
        bufs.push(&d[..n]);
        len -= n;
    }
    bufs
}

impl CapsockCtxView<'_> {
    fn socket(&self, s: &Resource<Socket>) -> CapsockResult<&Socket> {
        Ok(self.table.get(s)?)
    }

    /// An `int` socket option.
    fn set_option(&self, s: &Resource<Socket>, level: i32, name: i32, v: i32) -> CapsockResult<()> {
        Ok(sys::set_int_option(
            self.socket(s)?.as_fd(),
            level,
            name,
            v,
        )?)
    }

    fn set_timeout(
        &mut self,
        s: &Resource<Socket>,
        wait: Wait,
        ns: Option<u64>,
    ) -> CapsockResult<()> {
        if ns == Some(0) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let sock = self.table.get_mut(s)?;
        let send = wait == Wait::Send;
        let timeout = ns.map(Duration::from_nanos);
        sys::set_timeout(sock.as_fd(), send, timeout)?;
        sock.modes.set_timeout(wait, timeout);
        Ok(())
    }

    /// The guest's view of an address the kernel reported.
    fn guest_address(&self, addr: &SockAddr) -> Address {
        // AF_UNSPEC (e.g. a UDP socket never connected) reads as no name.
        addr.name().map_or(Address::Unnamed, |n| {
            convert::address(self.ctx.policy.to_guest(n))
        })
    }

    /// Received control messages as the guest sees them: fds become
    /// descriptor handles while the handle limit allows; past it they are
    /// closed and the message reports `control-truncated`, as Linux does at
    /// `RLIMIT_NOFILE`.
    fn adopt(
        &mut self,
        items: Vec<Received>,
        flags: &mut MessageFlags,
    ) -> CapsockResult<Vec<AncillaryIn>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Received::Rights(fds) => {
                    let mut handles = Vec::with_capacity(fds.len());
                    self.adopt_rights(fds, &mut handles, flags)?;
                    if !handles.is_empty() {
                        out.push(AncillaryIn::Rights(handles));
                    }
                }
                Received::Pidfd(fd) => match self.handles_left() {
                    0 => *flags |= MessageFlags::CONTROL_TRUNCATED,
                    _ => out.push(AncillaryIn::Pidfd(
                        self.push_descriptor(Descriptor::new(fd))?,
                    )),
                },
                Received::Other { level, ty, data } => {
                    out.push(convert::recv_item(cmsg::decode(level, ty, data)))
                }
            }
        }
        Ok(out)
    }
}

impl CapsockCtxView<'_> {
    /// The fds of one `SCM_RIGHTS` item as descriptor handles, appended to
    /// `handles` while the handle limit allows (see [`Self::adopt`]).
    fn adopt_rights(
        &mut self,
        fds: Vec<std::os::fd::OwnedFd>,
        handles: &mut Vec<Resource<Descriptor>>,
        flags: &mut MessageFlags,
    ) -> CapsockResult<()> {
        for fd in fds {
            match self.handles_left() {
                0 => *flags |= MessageFlags::CONTROL_TRUNCATED,
                _ => handles.push(self.push_descriptor(Descriptor::new(fd))?),
            }
        }
        Ok(())
    }
}

/// The calls that may wait, written once for both bindings (see
/// [`crate::wait`]): the sync trait methods below run them with
/// [`Waiting::Thread`], `wit::reactor` with [`Waiting::Reactor`].
impl CapsockCtxView<'_> {
    pub(super) async fn connect_with(
        &mut self,
        s: &Resource<Socket>,
        address: Address,
        how: Waiting,
    ) -> CapsockResult<()> {
        let sock = self.socket(s)?;
        let name = convert::sock_name(&address);
        let allowed = self
            .ctx
            .policy
            .check_address(sock.kind(), &name, AddressUse::Connect)?;
        let io = sock.io();
        io.connect(&self.ctx.interrupt, &allowed.addr, how).await
    }

    pub(super) async fn send_msg_with(
        &mut self,
        s: &Resource<Socket>,
        data: &[Vec<u8>],
        ancillary: &[AncillaryOut],
        flags: SendFlags,
        to: Option<Address>,
        how: Waiting,
    ) -> CapsockResult<u64> {
        let CapsockCtxView { ctx, table } = self;
        let io = table.get(s)?.io();
        let kind = io.kind();
        let total = data
            .iter()
            .map(Vec::len)
            .fold(0usize, usize::saturating_add);
        let len = ctx.limits.send_size(kind.ty, total)?;
        let items = send_items(table, ancillary)?;
        ctx.policy.check_items(kind, &items, &ctx.limits)?;
        let to = (to.as_ref().map(convert::sock_name))
            .map(|name| ctx.policy.check_address(kind, &name, AddressUse::SendTo))
            .transpose()?;
        let control =
            cmsg::encode(&mut ctx.control, &items).map_err(|_| ErrorCode::LimitReached)?;
        let bufs = gather(data, len);
        let to = to.as_ref().map(|t| &t.addr);
        io.send(
            &ctx.interrupt,
            &bufs,
            control,
            to,
            convert::send_flags(flags),
            how,
        )
        .await
    }

    pub(super) async fn recv_msg_with(
        &mut self,
        s: &Resource<Socket>,
        max_data: u64,
        control_space: u64,
        flags: RecvFlags,
        how: Waiting,
    ) -> CapsockResult<Message> {
        let (data, r) = self
            .recvmsg_with(s, max_data, control_space, flags, how)
            .await?;
        // From here on every received fd is owned by `r`: an early return
        // closes the ones not yet in the table.
        let mut msg_flags = convert::message_flags(r.flags);
        let ancillary = self.adopt(r.control, &mut msg_flags)?;
        Ok(Message {
            data,
            ancillary,
            flags: msg_flags,
            address: r.addr.map(|a| self.guest_address(&a)),
        })
    }

    /// `recv-fds`: the data, for the caller to put into the guest's
    /// buffer, and the message.
    pub(super) async fn recv_fds_with(
        &mut self,
        s: &Resource<Socket>,
        max_data: u64,
        max_fds: u32,
        flags: RecvFlags,
        how: Waiting,
    ) -> CapsockResult<(Vec<u8>, FdsMessage)> {
        // CMSG_LEN(max_fds * sizeof(int)), as CPython's recv_fds asks; no
        // message carries more than SCM_MAX_FD (253), so more room is
        // never needed.
        let max_fds = max_fds.min(253);
        let space = u64::from(max_fds) * cmsg::layout::FD_LEN as u64 + cmsg::layout::len(0) as u64;
        let (data, r) = self.recvmsg_with(s, max_data, space, flags, how).await?;
        let mut msg_flags = convert::message_flags(r.flags);
        let count = r
            .control
            .iter()
            .map(|item| match item {
                Received::Rights(fds) => fds.len(),
                _ => 0,
            })
            .sum();
        let mut fds = Vec::with_capacity(count);
        // Only the rights are kept; a pidfd or any other item is closed or
        // dropped here, as CPython ignores them.
        for item in r.control {
            if let Received::Rights(rights) = item {
                self.adopt_rights(rights, &mut fds, &mut msg_flags)?;
            }
        }
        let len = data.len() as u64;
        Ok((
            data,
            FdsMessage {
                len,
                fds,
                flags: msg_flags,
            },
        ))
    }

    /// One `recvmsg(2)` of at most `max_data` bytes (and the message
    /// limit) and `control_space` bytes of control data (refused above the
    /// control limit), waiting as `how` says.
    async fn recvmsg_with(
        &mut self,
        s: &Resource<Socket>,
        max_data: u64,
        control_space: u64,
        flags: RecvFlags,
        how: Waiting,
    ) -> CapsockResult<(Vec<u8>, sys::RecvResult)> {
        let CapsockCtx {
            limits,
            control,
            interrupt,
            ..
        } = &mut *self.ctx;
        let (max_data, space) = (
            limits.receive_size(max_data),
            limits.control_space(control_space)?,
        );
        let io = self.table.get(s)?.io();
        let flags = convert::recv_flags(flags);
        let wait = Wait::unless(flags.contains(MsgFlags::DONTWAIT), Wait::Receive);
        let mut data = Vec::new();
        let r = io
            .call(interrupt, wait, how, |more| {
                let control = control.zeroed(space);
                sys::recvmsg_into(io.as_fd(), &mut data, max_data, control, flags | more)
            })
            .await?;
        Ok((data, r))
    }

    pub(super) async fn recv_with(
        &mut self,
        s: &Resource<Socket>,
        max_data: u64,
        flags: RecvFlags,
        how: Waiting,
    ) -> CapsockResult<Vec<u8>> {
        let max_data = self.ctx.limits.receive_size(max_data);
        let io = self.socket(s)?.io();
        let flags = convert::recv_flags(flags);
        let wait = Wait::unless(flags.contains(MsgFlags::DONTWAIT), Wait::Receive);
        let mut data = Vec::new();
        io.call(&self.ctx.interrupt, wait, how, |more| {
            sys::recv_into(io.as_fd(), &mut data, max_data, flags | more)
        })
        .await?;
        Ok(data)
    }

    pub(super) async fn accept_with(
        &mut self,
        s: &Resource<Socket>,
        how: Waiting,
    ) -> CapsockResult<Resource<Socket>> {
        // Refuse before accepting, so the connection stays queued.
        self.check_room(1)?;
        let io = self.socket(s)?.io();
        let conn = io.accept(&self.ctx.interrupt, how).await?;
        self.push_socket(conn)
    }
}

impl HostSocket for CapsockCtxView<'_> {
    fn pair(&mut self, ty: SocketType) -> CapsockResult<(Resource<Socket>, Resource<Socket>)> {
        self.check_room(2)?;
        let (a, b) = Socket::pair(ty)?;
        Ok((self.push_socket(a)?, self.push_socket(b)?))
    }

    fn create(&mut self, ty: SocketType) -> CapsockResult<Resource<Socket>> {
        self.check_room(1)?;
        let fd = sys::unix_socket(convert::sock_type_to_libc(ty))?;
        let kind = SocketKind {
            family: AddressFamily::Unix,
            ty,
        };
        self.push_socket(Socket::from_parts(fd, kind))
    }

    fn create_ip(
        &mut self,
        family: AddressFamily,
        ty: SocketType,
    ) -> CapsockResult<Resource<Socket>> {
        let kind = SocketKind { family, ty };
        if family == AddressFamily::Unix {
            return Err(ErrorCode::InvalidArgument.into());
        }
        if ty == SocketType::Seqpacket {
            return Err(ErrorCode::NotSupported.into());
        }
        self.ctx.policy.check_family(family)?;
        self.check_room(1)?;
        self.push_socket(Socket::create_ip(kind)?)
    }

    fn bind(&mut self, s: Resource<Socket>, address: Address) -> CapsockResult<()> {
        let CapsockCtxView { ctx, table } = self;
        let sock = table.get_mut(&s)?;
        let name = convert::sock_name(&address);
        let allowed = ctx
            .policy
            .check_address(sock.kind(), &name, AddressUse::Bind)?;
        sys::bind(sock.as_fd(), &allowed.addr)?;
        sock.bound_as = allowed.bound_as;
        Ok(())
    }

    fn connect(&mut self, s: Resource<Socket>, address: Address) -> CapsockResult<()> {
        sync(self.connect_with(&s, address, Waiting::Thread))
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
        // The socket's handle goes and a descriptor's comes: its unit of
        // the count goes along.
        let (fd, slot) = self.table.delete(s)?.into_parts();
        let mut desc = Descriptor::from_shared(fd);
        desc.slot = slot;
        Ok(self.table.push(desc)?)
    }

    fn duplicate(&mut self, s: Resource<Socket>) -> CapsockResult<Resource<Socket>> {
        self.check_room(1)?;
        let sock = self.socket(&s)?;
        let copy = Socket::from_parts(sock.as_fd().try_clone_to_owned()?, sock.kind());
        self.push_socket(copy)
    }

    fn take_error(&mut self, s: Resource<Socket>) -> CapsockResult<Option<ErrorCode>> {
        let pending = sys::take_socket_error(self.socket(&s)?.as_fd())?;
        Ok(pending.map(ErrorCode::from))
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
        sync(self.send_msg_with(&s, &data, &ancillary, flags, to, Waiting::Thread))
    }

    fn recv_msg(
        &mut self,
        s: Resource<Socket>,
        max_data: u64,
        control_space: u64,
        flags: RecvFlags,
    ) -> CapsockResult<Message> {
        sync(self.recv_msg_with(&s, max_data, control_space, flags, Waiting::Thread))
    }

    // Replaced by `wit::fast`, which reads the data in guest memory.
    fn send(&mut self, _: Resource<Socket>, _: Vec<u8>, _: SendFlags) -> CapsockResult<u64> {
        Err(super::fast::not_linked(super::fast::SEND))
    }

    fn recv(
        &mut self,
        s: Resource<Socket>,
        max_data: u64,
        flags: RecvFlags,
    ) -> CapsockResult<Vec<u8>> {
        sync(self.recv_with(&s, max_data, flags, Waiting::Thread))
    }

    // Replaced by `wit::fast`, which receives into guest memory.
    fn recv_into(&mut self, _: Resource<Socket>, _: Vec<u8>, _: RecvFlags) -> CapsockResult<u64> {
        Err(super::fast::not_linked(super::fast::RECV_INTO))
    }

    // Replaced by `wit::fast`, which copies the data into guest memory.
    fn recv_fds(
        &mut self,
        _: Resource<Socket>,
        _: Vec<u8>,
        _: u32,
        _: RecvFlags,
    ) -> CapsockResult<FdsMessage> {
        Err(super::fast::not_linked(super::fast::RECV_FDS))
    }

    fn listen(&mut self, s: Resource<Socket>, backlog: u32) -> CapsockResult<()> {
        Ok(sys::listen(self.socket(&s)?.as_fd(), backlog)?)
    }

    fn accept(&mut self, s: Resource<Socket>) -> CapsockResult<Resource<Socket>> {
        sync(self.accept_with(&s, Waiting::Thread))
    }

    fn subscribe(&mut self, s: Resource<Socket>) -> CapsockResult<Resource<DynPollable>> {
        let fd = self.socket(&s)?.shared_fd();
        self.subscribe_to(fd, false)
    }

    fn subscribe_writable(&mut self, s: Resource<Socket>) -> CapsockResult<Resource<DynPollable>> {
        let fd = self.socket(&s)?.shared_fd();
        self.subscribe_to(fd, true)
    }

    fn set_nonblocking(&mut self, s: Resource<Socket>, enable: bool) -> CapsockResult<()> {
        let sock = self.table.get_mut(&s)?;
        sys::set_nonblocking(sock.as_fd(), enable)?;
        sock.modes.nonblocking = enable;
        Ok(())
    }

    fn set_receive_timeout(&mut self, s: Resource<Socket>, ns: Option<u64>) -> CapsockResult<()> {
        self.set_timeout(&s, Wait::Receive, ns)
    }

    fn set_send_timeout(&mut self, s: Resource<Socket>, ns: Option<u64>) -> CapsockResult<()> {
        self.set_timeout(&s, Wait::Send, ns)
    }

    fn shutdown(&mut self, s: Resource<Socket>, how: ShutdownHow) -> CapsockResult<()> {
        let how = match how {
            ShutdownHow::Receive => libc::SHUT_RD,
            ShutdownHow::Send => libc::SHUT_WR,
            ShutdownHow::Both => libc::SHUT_RDWR,
        };
        Ok(sys::shutdown(self.socket(&s)?.as_fd(), how)?)
    }

    fn local_address(&mut self, s: Resource<Socket>) -> CapsockResult<Address> {
        let sock = self.socket(&s)?;
        if let Some(path) = &sock.bound_as {
            return Ok(Address::Pathname(path.clone()));
        }
        let addr = sys::local_address(sock.as_fd())?;
        Ok(self.guest_address(&addr))
    }

    fn remote_address(&mut self, s: Resource<Socket>) -> CapsockResult<Address> {
        let addr = sys::peer_address(self.socket(&s)?.as_fd())?;
        Ok(self.guest_address(&addr))
    }

    fn peer_credentials(&mut self, s: Resource<Socket>) -> CapsockResult<Credentials> {
        Ok(sys::peer_credentials(self.socket(&s)?.as_fd())?.into())
    }

    fn set_pass_credentials(&mut self, s: Resource<Socket>, enable: bool) -> CapsockResult<()> {
        Ok(sys::set_pass_credentials(self.socket(&s)?.as_fd(), enable)?)
    }

    fn set_receive_option(
        &mut self,
        s: Resource<Socket>,
        option: ReceiveOption,
        enable: bool,
    ) -> CapsockResult<()> {
        let kind = self.socket(&s)?.kind();
        let (level, name) = convert::receive_option(option, kind.family, kind.ty)?;
        self.set_option(&s, level, name, i32::from(enable))
    }

    fn set_timestamping(
        &mut self,
        s: Resource<Socket>,
        flags: TimestampingFlags,
    ) -> CapsockResult<()> {
        let bits = convert::timestamping_bits(flags) as i32;
        self.set_option(&s, libc::SOL_SOCKET, uapi::SO_TIMESTAMPING_OLD, bits)
    }

    fn set_receive_buffer_size(&mut self, s: Resource<Socket>, bytes: u64) -> CapsockResult<()> {
        let bytes = i32::try_from(bytes).map_err(|_| ErrorCode::InvalidArgument)?;
        Ok(sys::set_buffer_size(
            self.socket(&s)?.as_fd(),
            false,
            bytes as usize,
        )?)
    }

    fn receive_buffer_size(&mut self, s: Resource<Socket>) -> CapsockResult<u64> {
        Ok(sys::buffer_size(self.socket(&s)?.as_fd(), false)? as u64)
    }

    fn set_send_buffer_size(&mut self, s: Resource<Socket>, bytes: u64) -> CapsockResult<()> {
        let bytes = i32::try_from(bytes).map_err(|_| ErrorCode::InvalidArgument)?;
        Ok(sys::set_buffer_size(
            self.socket(&s)?.as_fd(),
            true,
            bytes as usize,
        )?)
    }

    fn send_buffer_size(&mut self, s: Resource<Socket>) -> CapsockResult<u64> {
        Ok(sys::buffer_size(self.socket(&s)?.as_fd(), true)? as u64)
    }

    fn set_reuse_address(&mut self, s: Resource<Socket>, enable: bool) -> CapsockResult<()> {
        let sock = self.socket(&s)?;
        if sock.family() == AddressFamily::Unix {
            return Err(ErrorCode::NotSupported.into());
        }
        Ok(sys::set_reuse_address(sock.as_fd(), enable)?)
    }

    fn drop(&mut self, s: Resource<Socket>) -> wasmtime::Result<()> {
        self.delete(s)
    }
}

impl Host for CapsockCtxView<'_> {
    fn own_credentials(&mut self) -> wasmtime::Result<Credentials> {
        let (pid, [uid, _], [gid, _]) = sys::process_ids();
        Ok(Credentials { pid, uid, gid })
    }

    fn cmsg_space(&mut self, data_len: u64) -> wasmtime::Result<u64> {
        Ok(usize::try_from(data_len)
            .ok()
            .and_then(cmsg::layout::checked_space)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(u64::MAX))
    }

    fn cmsg_len(&mut self, data_len: u64) -> wasmtime::Result<u64> {
        Ok(usize::try_from(data_len)
            .ok()
            .and_then(|n| n.checked_add(cmsg::layout::len(0)))
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(u64::MAX))
    }
}
