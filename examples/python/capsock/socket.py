"""CPython's ``socket`` module, as far as capsock reaches, on capsock's
bindings: ``from capsock import socket`` where a program says
``import socket``.

What differs from CPython, all of it because a guest holds handles, not fds:

- Descriptor numbers (``fileno()``, ``SCM_RIGHTS`` data, ``recv_fds``) are
  this package's numbers for the guest's handles (see ``capsock``'s
  docstring); ``capsock.os`` reads, writes and closes them.
- Addresses are numeric: ``AF_INET`` hosts are dotted quads (``''`` and
  ``'localhost'`` also work); there is no name lookup.
- A relative Unix socket path is taken relative to the guest's working
  directory (``os.getcwd()``), since capsock's host resolves guest paths
  from ``/``; the host still allows only paths below ``--unix-dir``.
- Control messages are typed on the way through the host. On send,
  ``SCM_RIGHTS`` and ``SCM_CREDENTIALS`` become capsock's typed items and
  every other ``(level, type, data)`` is sent as a raw item (the host's
  policy decides which pass). On receive, every item comes back as the
  ``(level, type, data)`` triple Linux would give, with the same bytes.
- ``socket.preopened(name)`` (not in CPython) takes a socket the host granted
  (``capsock run --unix-connect NAME=PATH`` and friends).
"""

import array as _array
import ipaddress as _ipaddress
import os as _os
import struct as _struct

from . import _wit
from ._wit import call as _call

# --- Linux's values, which capsock passes through -----------------------------

AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6 = 0, 1, 2, 10
AF_LOCAL = AF_UNIX
SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET = 1, 2, 5
SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, 0o2000000
SOL_SOCKET, SOL_IP, SOL_TCP, SOL_UDP = 1, 0, 6, 17
IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPV6 = 0, 6, 17, 41
SCM_RIGHTS, SCM_CREDENTIALS, SCM_SECURITY, SCM_PIDFD = 1, 2, 3, 4
SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_SNDBUF, SO_RCVBUF = 2, 3, 4, 7, 8
SO_PASSCRED, SO_PEERCRED, SO_TIMESTAMP, SO_PASSSEC = 16, 17, 29, 34
SO_TIMESTAMPNS, SO_TIMESTAMPING, SO_RXQ_OVFL, SO_PASSPIDFD = 35, 37, 40, 76
IP_TOS, IP_TTL, IP_PKTINFO, IP_RECVERR, IP_RECVORIGDSTADDR = 1, 2, 8, 11, 20
IPV6_RECVERR, IPV6_RECVPKTINFO, IPV6_PKTINFO = 25, 49, 50
IPV6_RECVHOPLIMIT, IPV6_HOPLIMIT, IPV6_RECVTCLASS, IPV6_TCLASS = 51, 52, 66, 67
IPV6_RECVORIGDSTADDR, UDP_GRO = 74, 104
MSG_OOB, MSG_PEEK, MSG_CTRUNC, MSG_TRUNC, MSG_DONTWAIT = 0x1, 0x2, 0x8, 0x20, 0x40
MSG_EOR, MSG_WAITALL, MSG_ERRQUEUE, MSG_NOSIGNAL = 0x80, 0x100, 0x2000, 0x4000
MSG_CMSG_CLOEXEC = 0x40000000
SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2
SOMAXCONN = 4096

error = OSError
timeout = TimeoutError
herror = gaierror = OSError

_types = _wit.types
_sockets = _wit.sockets

_TYPES = {
    SOCK_STREAM: _types.SocketType.STREAM,
    SOCK_DGRAM: _types.SocketType.DATAGRAM,
    SOCK_SEQPACKET: _types.SocketType.SEQPACKET,
}
_TYPE_NUMBERS = {v: k for k, v in _TYPES.items()}
_FAMILY_NUMBERS = {
    _types.AddressFamily.UNIX: AF_UNIX,
    _types.AddressFamily.IPV4: AF_INET,
    _types.AddressFamily.IPV6: AF_INET6,
}
_FAMILIES = {v: k for k, v in _FAMILY_NUMBERS.items()}


def CMSG_LEN(length):
    """The host's ``CMSG_LEN(length)`` (a guest is 32-bit; the host is not,
    so these are asked of the host, not computed here)."""
    if length < 0:
        raise OverflowError("CMSG_LEN() argument out of range")
    return _sockets.cmsg_len(length)


def CMSG_SPACE(length):
    """The host's ``CMSG_SPACE(length)``."""
    if length < 0:
        raise OverflowError("CMSG_SPACE() argument out of range")
    return _sockets.cmsg_space(length)


# --- flags --------------------------------------------------------------------

# Flags the host applies anyway: it never raises SIGPIPE and every fd it
# receives is close-on-exec.
_IGNORED = MSG_NOSIGNAL | MSG_CMSG_CLOEXEC


def _flags(flags, table, what):
    out = table[0]
    for bit, flag in table[1]:
        if flags & bit:
            out |= flag
            flags &= ~bit
    if flags & ~_IGNORED:
        raise OSError(_wit._errno.EINVAL, "%s: unsupported flags 0x%x" % (what, flags))
    return out


_SEND = (
    _types.SendFlags(0),
    [(MSG_DONTWAIT, _types.SendFlags.DONT_WAIT), (MSG_EOR, _types.SendFlags.END_OF_RECORD),
     (MSG_OOB, _types.SendFlags.OUT_OF_BAND)],
)
_RECV = (
    _types.RecvFlags(0),
    [(MSG_PEEK, _types.RecvFlags.PEEK), (MSG_DONTWAIT, _types.RecvFlags.DONT_WAIT),
     (MSG_WAITALL, _types.RecvFlags.WAIT_ALL), (MSG_OOB, _types.RecvFlags.OUT_OF_BAND),
     (MSG_ERRQUEUE, _types.RecvFlags.ERROR_QUEUE)],
)
_MESSAGE = [
    (_types.MessageFlags.TRUNCATED, MSG_TRUNC),
    (_types.MessageFlags.CONTROL_TRUNCATED, MSG_CTRUNC),
    (_types.MessageFlags.END_OF_RECORD, MSG_EOR),
    (_types.MessageFlags.OUT_OF_BAND, MSG_OOB),
    (_types.MessageFlags.ERROR_QUEUE, MSG_ERRQUEUE),
]


def _msg_flags(flags):
    return sum(bit for flag, bit in _MESSAGE if flag in flags)


# --- addresses ----------------------------------------------------------------


def _encode_address(family, address):
    if family == AF_UNIX:
        if isinstance(address, str):
            address = _os.fsencode(address)
        address = bytes(address)
        if address.startswith(b"\0"):
            return _types.Address_Abstract(address[1:])
        if not address.startswith(b"/"):
            address = _os.fsencode(_os.getcwd()).rstrip(b"/") + b"/" + address
        return _types.Address_Pathname(address)
    host, port = address[0], address[1]
    if family == AF_INET:
        if host in ("", "0.0.0.0"):
            host = "0.0.0.0"
        elif host == "localhost":
            host = "127.0.0.1"
        ip = _ipaddress.IPv4Address(host)
        return _types.Address_Ipv4(_types.Ipv4SocketAddress(tuple(ip.packed), port))
    if family == AF_INET6:
        host = {"": "::", "localhost": "::1"}.get(host, host)
        ip = _ipaddress.IPv6Address(host)
        words = _struct.unpack("!8H", ip.packed)
        flow = address[2] if len(address) > 2 else 0
        scope = address[3] if len(address) > 3 else 0
        return _types.Address_Ipv6(_types.Ipv6SocketAddress(words, port, flow, scope))
    raise OSError(_wit._errno.EAFNOSUPPORT, "address family %r" % family)


def _decode_address(address):
    if address is None:
        return None
    if isinstance(address, _types.Address_Unnamed):
        return ""
    if isinstance(address, _types.Address_Pathname):
        return _os.fsdecode(address.value)
    if isinstance(address, _types.Address_Abstract):
        return b"\0" + bytes(address.value)
    if isinstance(address, _types.Address_Ipv4):
        a = address.value
        return (".".join(map(str, a.address)), a.port)
    a = address.value
    host = str(_ipaddress.IPv6Address(_struct.pack("!8H", *a.address)))
    return (host, a.port, a.flow_info, a.scope_id)


# --- control messages ---------------------------------------------------------


def _ancillary_out(ancdata):
    items = []
    for level, kind, data in ancdata:
        data = bytes(data)
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            numbers = _array.array("i")
            numbers.frombytes(data[: len(data) - len(data) % numbers.itemsize])
            items.append(_sockets.AncillaryOut_Rights([_wit.handle_ref(n) for n in numbers]))
        elif level == SOL_SOCKET and kind == SCM_CREDENTIALS:
            pid, uid, gid = _struct.unpack("iII", data)
            items.append(_sockets.AncillaryOut_Credentials(_types.Credentials(pid, uid, gid)))
        else:
            items.append(_sockets.AncillaryOut_Raw(_sockets.RawControl(level, kind, data)))
    return items


def _timespec(t):
    return _struct.pack("qq", t.seconds, t.nanoseconds) if t else b"\0" * 16


def _sockaddr(address):
    """`struct sockaddr_in` / `sockaddr_in6` bytes, for the items that carry one."""
    if isinstance(address, _types.Address_Ipv4):
        a = address.value
        return _struct.pack("=H", AF_INET) + _struct.pack("!H4s8x", a.port, bytes(a.address))
    if isinstance(address, _types.Address_Ipv6):
        a = address.value
        return (_struct.pack("=H", AF_INET6) + _struct.pack("!HI", a.port, a.flow_info)
                + _struct.pack("!8H", *a.address) + _struct.pack("=I", a.scope_id))
    return b""


def _ancillary_in(items, family):
    """capsock's typed items as Linux's ``(level, type, data)`` triples; new
    descriptors are numbered, in the order they arrived."""
    ip6 = family == AF_INET6
    out = []
    for item in items:
        s, v = _sockets, item.value
        if isinstance(item, s.AncillaryIn_Rights):
            numbers = _array.array("i", [_wit.adopt(d) for d in v])
            out.append((SOL_SOCKET, SCM_RIGHTS, numbers.tobytes()))
        elif isinstance(item, s.AncillaryIn_Credentials):
            out.append((SOL_SOCKET, SCM_CREDENTIALS, _struct.pack("iII", v.pid, v.uid, v.gid)))
        elif isinstance(item, s.AncillaryIn_Pidfd):
            out.append((SOL_SOCKET, SCM_PIDFD, _struct.pack("i", _wit.adopt(v))))
        elif isinstance(item, s.AncillaryIn_SecurityLabel):
            out.append((SOL_SOCKET, SCM_SECURITY, bytes(v)))
        elif isinstance(item, s.AncillaryIn_Timestamp):
            out.append((SOL_SOCKET, SO_TIMESTAMP, _struct.pack("qq", v.seconds, v.nanoseconds // 1000)))
        elif isinstance(item, s.AncillaryIn_TimestampNs):
            out.append((SOL_SOCKET, SO_TIMESTAMPNS, _timespec(v)))
        elif isinstance(item, s.AncillaryIn_Timestamping):
            out.append((SOL_SOCKET, SO_TIMESTAMPING,
                        _timespec(v.software) + _timespec(None) + _timespec(v.hardware)))
        elif isinstance(item, s.AncillaryIn_Ipv4PacketInfo):
            out.append((IPPROTO_IP, IP_PKTINFO, _struct.pack(
                "i4s4s", v.interface_index, bytes(v.local_address), bytes(v.destination_address))))
        elif isinstance(item, s.AncillaryIn_Ipv6PacketInfo):
            out.append((IPPROTO_IPV6, IPV6_PKTINFO,
                        _struct.pack("!8H", *v.address) + _struct.pack("=I", v.interface_index)))
        elif isinstance(item, s.AncillaryIn_Ttl):
            out.append((IPPROTO_IP, IP_TTL, _struct.pack("i", v)))
        elif isinstance(item, s.AncillaryIn_HopLimit):
            out.append((IPPROTO_IPV6, IPV6_HOPLIMIT, _struct.pack("i", v)))
        elif isinstance(item, s.AncillaryIn_Tos):
            out.append((IPPROTO_IP, IP_TOS, _struct.pack("B", v)))
        elif isinstance(item, s.AncillaryIn_TrafficClass):
            out.append((IPPROTO_IPV6, IPV6_TCLASS, _struct.pack("i", v)))
        elif isinstance(item, s.AncillaryIn_OriginalDestination):
            kind = (IPPROTO_IPV6, IPV6_RECVORIGDSTADDR) if ip6 else (IPPROTO_IP, IP_RECVORIGDSTADDR)
            out.append(kind + (_sockaddr(v),))
        elif isinstance(item, s.AncillaryIn_ExtendedError):
            kind = (IPPROTO_IPV6, IPV6_RECVERR) if ip6 else (IPPROTO_IP, IP_RECVERR)
            data = _struct.pack("IBBBxII", v.errno, v.origin.value, v.type, v.code, v.info, v.data)
            out.append(kind + (data + _sockaddr(v.offender),))
        elif isinstance(item, s.AncillaryIn_GroSegmentSize):
            out.append((SOL_UDP, UDP_GRO, _struct.pack("i", v)))
        elif isinstance(item, s.AncillaryIn_Dropped):
            out.append((SOL_SOCKET, SO_RXQ_OVFL, _struct.pack("I", v)))
        elif isinstance(item, s.AncillaryIn_Raw):
            out.append((v.level, v.kind, bytes(v.data)))
    return out


# --- sockets ------------------------------------------------------------------

# setsockopt(level, name, on/off) that map to a receive option.
_RECEIVE_OPTIONS = {
    (SOL_SOCKET, SO_PASSPIDFD): "PIDFD",
    (SOL_SOCKET, SO_PASSSEC): "SECURITY_LABEL",
    (SOL_SOCKET, SO_TIMESTAMP): "TIMESTAMP",
    (SOL_SOCKET, SO_TIMESTAMPNS): "TIMESTAMP_NS",
    (SOL_SOCKET, SO_RXQ_OVFL): "DROPPED_COUNT",
    (IPPROTO_IP, IP_PKTINFO): "PACKET_INFO",
    (IPPROTO_IPV6, IPV6_RECVPKTINFO): "PACKET_INFO",
    (IPPROTO_IPV6, IPV6_RECVHOPLIMIT): "HOP_LIMIT",
    (IPPROTO_IPV6, IPV6_RECVTCLASS): "TRAFFIC_CLASS",
    (IPPROTO_IP, IP_RECVORIGDSTADDR): "ORIGINAL_DESTINATION",
    (IPPROTO_IPV6, IPV6_RECVORIGDSTADDR): "ORIGINAL_DESTINATION",
    (IPPROTO_IP, IP_RECVERR): "ERRORS",
    (IPPROTO_IPV6, IPV6_RECVERR): "ERRORS",
    (SOL_UDP, UDP_GRO): "GRO",
}


class socket:
    """``socket.socket``: a capsock socket handle with CPython's methods."""

    def __init__(self, family=AF_INET, type=SOCK_STREAM, proto=0, fileno=None, *, _handle=None):
        self._timeout = None
        self._handle = None
        if _handle is None and fileno is not None:
            _handle = _take_number(fileno)
        if _handle is None:
            kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)
            if kind not in _TYPES:
                raise OSError(_wit._errno.EPROTONOSUPPORT, "socket type %r" % type)
            with _call("socket"):
                if family == AF_UNIX:
                    _handle = _sockets.Socket.create(_TYPES[kind])
                elif family in _FAMILIES:
                    _handle = _sockets.Socket.create_ip(_FAMILIES[family], _TYPES[kind])
                else:
                    raise OSError(_wit._errno.EAFNOSUPPORT, "address family %r" % family)
            if type & SOCK_NONBLOCK:
                self._timeout = 0.0
        self._handle = _handle
        self.family = _FAMILY_NUMBERS[_handle.family()]
        self.type = _TYPE_NUMBERS[_handle.get_type()]
        self.proto = proto
        self._number = _wit.register(self, fileno, weak=True)
        if self._timeout == 0.0:
            self.setblocking(False)

    def __del__(self):
        # As CPython's: a socket object nobody holds is closed.
        self.close()

    # -- the handle table --

    def _handle_ref(self):
        return _sockets.HandleRef_Socket(self._live())

    def _live(self):
        if self._handle is None:
            raise OSError(_wit._errno.EBADF, "Bad file descriptor")
        return self._handle

    def fileno(self):
        return self._number if self._handle is not None else -1

    def close(self):
        if self._handle is not None:
            if hasattr(self, "_number"):
                _wit.forget(self._number)
            _wit.release(self._handle)
            self._handle = None

    def detach(self):
        """Gives up the handle without closing it; returns its number, which
        ``capsock.os`` and ``socket(fileno=...)`` still accept."""
        if self._handle is None:
            return -1
        handle, self._handle = self._handle, None
        _wit.forget(self._number)
        return _wit.adopt(_sockets.Socket.into_descriptor(handle))

    def dup(self):
        with _call("dup"):
            return socket(_handle=self._live().duplicate())

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def __repr__(self):
        return "<capsock.socket.socket fd=%d, family=%d, type=%d, proto=%d>" % (
            self.fileno(), self.family, self.type, self.proto)

    # -- connections --

    def bind(self, address):
        with _call("bind %r" % (address,)):
            self._live().bind(_encode_address(self.family, address))

    def connect(self, address):
        with _call("connect %r" % (address,)):
            self._live().connect(_encode_address(self.family, address))

    def connect_ex(self, address):
        try:
            self.connect(address)
            return 0
        except OSError as e:
            return e.errno

    def listen(self, backlog=SOMAXCONN):
        with _call("listen"):
            self._live().listen(min(backlog, SOMAXCONN))

    def accept(self):
        with _call("accept"):
            conn = socket(_handle=self._live().accept())
        try:
            address = conn.getpeername()
        except OSError:
            address = ""
        return conn, address

    def shutdown(self, how):
        hows = {SHUT_RD: _types.ShutdownHow.RECEIVE, SHUT_WR: _types.ShutdownHow.SEND,
                SHUT_RDWR: _types.ShutdownHow.BOTH}
        with _call("shutdown"):
            self._live().shutdown(hows[how])

    def getsockname(self):
        with _call("getsockname"):
            return _decode_address(self._live().local_address())

    def getpeername(self):
        with _call("getpeername"):
            return _decode_address(self._live().remote_address())

    # -- data --

    def send(self, data, flags=0):
        with _call("send"):
            return self._live().send(bytes(data), _flags(flags, _SEND, "send"))

    def sendall(self, data, flags=0):
        data = memoryview(bytes(data))
        while data:
            data = data[self.send(data, flags):]

    def sendto(self, data, flags_or_address, address=None):
        flags = 0 if address is None else flags_or_address
        address = flags_or_address if address is None else address
        return self.sendmsg([data], (), flags, address)

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        to = None if address is None else _encode_address(self.family, address)
        items = _ancillary_out(ancdata)
        with _call("sendmsg"):
            return self._live().send_msg(
                [bytes(b) for b in buffers], items, _flags(flags, _SEND, "sendmsg"), to)

    def recv(self, bufsize, flags=0):
        with _call("recv"):
            return bytes(self._live().recv(bufsize, _flags(flags, _RECV, "recv")))

    def recv_into(self, buffer, nbytes=0, flags=0):
        view = memoryview(buffer).cast("B")
        if nbytes < 0 or nbytes > len(view):
            raise ValueError("buffer too small for requested bytes")
        data = self.recv(nbytes or len(view), flags)
        view[: len(data)] = data
        return len(data)

    def recvfrom(self, bufsize, flags=0):
        data, _, _, address = self.recvmsg(bufsize, 0, flags)
        return data, address

    def recvmsg(self, bufsize, ancbufsize=0, flags=0):
        """``(data, ancdata, msg_flags, address)``, as CPython's: ``ancdata``
        is a list of ``(level, type, data)``; ``SCM_RIGHTS`` data holds the
        numbers of the new handles as native ``int``s."""
        if bufsize < 0 or ancbufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        with _call("recvmsg"):
            m = self._live().recv_msg(bufsize, ancbufsize, _flags(flags, _RECV, "recvmsg"))
        ancdata = _ancillary_in(m.ancillary, self.family)
        return bytes(m.data), ancdata, _msg_flags(m.flags), _decode_address(m.address)

    # -- modes and options --

    def setblocking(self, flag):
        self.settimeout(None if flag else 0.0)

    def getblocking(self):
        return self._timeout != 0.0

    def settimeout(self, value):
        if value is not None and value < 0:
            raise ValueError("Timeout value out of range")
        s = self._live()
        with _call("settimeout"):
            s.set_nonblocking(value == 0.0)
            ns = None if not value else max(1, int(value * 1e9))
            s.set_receive_timeout(ns)
            s.set_send_timeout(ns)
        self._timeout = None if value is None else float(value)

    def gettimeout(self):
        return self._timeout

    def setsockopt(self, level, optname, value, optlen=None):
        on = bool(value if isinstance(value, int) else _struct.unpack("i", bytes(value)[:4])[0])
        s = self._live()
        with _call("setsockopt"):
            if (level, optname) == (SOL_SOCKET, SO_PASSCRED):
                s.set_pass_credentials(on)
            elif (level, optname) == (SOL_SOCKET, SO_REUSEADDR):
                s.set_reuse_address(on)
            elif (level, optname) == (SOL_SOCKET, SO_RCVBUF):
                s.set_receive_buffer_size(value)
            elif (level, optname) == (SOL_SOCKET, SO_SNDBUF):
                s.set_send_buffer_size(value)
            elif (level, optname) in _RECEIVE_OPTIONS:
                which = getattr(_sockets.ReceiveOption, _RECEIVE_OPTIONS[(level, optname)])
                s.set_receive_option(which, on)
            else:
                raise OSError(_wit._errno.ENOPROTOOPT, "option (%d, %d)" % (level, optname))

    def getsockopt(self, level, optname, buflen=None):
        s = self._live()
        with _call("getsockopt"):
            if (level, optname) == (SOL_SOCKET, SO_TYPE):
                value = self.type
            elif (level, optname) == (SOL_SOCKET, SO_ERROR):
                err = s.take_error()
                value = 0 if err is None else _wit.os_error(err).errno
            elif (level, optname) == (SOL_SOCKET, SO_RCVBUF):
                value = s.receive_buffer_size()
            elif (level, optname) == (SOL_SOCKET, SO_SNDBUF):
                value = s.send_buffer_size()
            elif (level, optname) == (SOL_SOCKET, SO_PEERCRED):
                c = s.peer_credentials()
                return _struct.pack("iII", c.pid, c.uid, c.gid)[: buflen or 12]
            else:
                raise OSError(_wit._errno.ENOPROTOOPT, "option (%d, %d)" % (level, optname))
        return value if buflen is None else _struct.pack("i", value)[:buflen]


SocketType = socket


def _take_number(number):
    """The socket handle behind a number this guest holds (a received
    descriptor becomes a socket; the number is given up)."""
    obj = _wit.lookup(number)
    if isinstance(obj, socket):
        raise OSError(_wit._errno.EBADF, "%d is already a socket object" % number)
    if obj is None:
        raise OSError(_wit._errno.EBADF, "%d is not a descriptor this guest holds" % number)
    with _call("socket(fileno=%d)" % number):
        handle = _sockets.Socket.from_descriptor(obj.live())
    obj.close()
    return handle


def fromfd(fd, family, type, proto=0):
    """A new socket object on a copy of descriptor number ``fd``."""
    obj = _wit.lookup(fd)
    if obj is None:
        raise OSError(_wit._errno.EBADF, "%d is not a descriptor this guest holds" % fd)
    if isinstance(obj, socket):
        return obj.dup()
    # A copy, as CPython's `dup`: `from-descriptor` moves the fd out of the
    # descriptor it is given, and the original number must stay usable.
    with _call("fromfd"):
        copy = obj.live().duplicate()
    try:
        with _call("fromfd"):
            return socket(_handle=_sockets.Socket.from_descriptor(copy))
    finally:
        _wit.release(copy)


def socketpair(family=AF_UNIX, type=SOCK_STREAM, proto=0):
    if family != AF_UNIX:
        raise OSError(_wit._errno.EAFNOSUPPORT, "socketpair is AF_UNIX only")
    kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)
    if kind not in _TYPES:
        raise OSError(_wit._errno.EPROTONOSUPPORT, "socket type %r" % type)
    with _call("socketpair"):
        a, b = _sockets.Socket.pair(_TYPES[kind])
    pair = socket(_handle=a), socket(_handle=b)
    if type & SOCK_NONBLOCK:
        for s in pair:
            s.setblocking(False)
    return pair


def preopened(name):
    """The socket the host granted as ``name`` (``capsock run
    --unix-connect NAME=PATH``, ``--unix-listen``, ``--fd``)."""
    with _call("preopened %r" % name):
        d = _wit.grants.take(name)
    try:
        with _call("preopened %r" % name):
            return socket(_handle=_sockets.Socket.from_descriptor(d))
    finally:
        _wit.release(d)


def create_connection(address, timeout=None, source_address=None):
    family = AF_UNIX if isinstance(address, (str, bytes)) else AF_INET
    s = socket(family, SOCK_STREAM)
    if timeout is not None:
        s.settimeout(timeout)
    if source_address:
        s.bind(source_address)
    s.connect(address)
    return s


# CPython's own (Lib/socket.py), on the methods above.
def send_fds(sock, buffers, fds, flags=0, address=None):
    """send_fds(sock, buffers, fds[, flags[, address]]) -> integer

    Send the list of file descriptors fds over an AF_UNIX socket.
    """
    return sock.sendmsg(buffers, [(SOL_SOCKET, SCM_RIGHTS, _array.array("i", fds))], flags, address)


def recv_fds(sock, bufsize, maxfds, flags=0):
    """recv_fds(sock, bufsize, maxfds[, flags]) -> (data, list of file
    descriptors, msg_flags, address)

    Receive up to maxfds file descriptors returning the message
    data and a list containing the descriptors.
    """
    fds = _array.array("i")
    msg, ancdata, flags, addr = sock.recvmsg(bufsize, CMSG_LEN(maxfds * fds.itemsize), flags)
    for cmsg_level, cmsg_type, cmsg_data in ancdata:
        if cmsg_level == SOL_SOCKET and cmsg_type == SCM_RIGHTS:
            fds.frombytes(cmsg_data[: len(cmsg_data) - (len(cmsg_data) % fds.itemsize)])
    return msg, list(fds), flags, addr
