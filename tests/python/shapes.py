"""Test guest: the capsock package's CPython shapes, printed so that the
same script run natively by CPython (with its import line changed back)
prints exactly the same. No fd numbers are printed: they differ."""

import array
import sys

from capsock import os, socket  # natively: import os, socket


def show(*args):
    print(*args, flush=True)


def error_of(f):
    try:
        f()
        return "no error"
    except OSError as e:
        return type(e).__name__


show("CMSG", socket.CMSG_LEN(0), socket.CMSG_LEN(4), socket.CMSG_SPACE(4), socket.CMSG_SPACE(8))
show("args", sys.argv[1:])

a, b = socket.socketpair()
r, w = socket.socketpair()
show("family/type", a.family == socket.AF_UNIX, a.type == socket.SOCK_STREAM, repr(a.getsockname()))
two = array.array("i", [r.fileno(), w.fileno()])

# Gather, and control space for one fd of two: MSG_CTRUNC, one fd kept.
sent = a.sendmsg([b"hello", b" world"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, two)])
data, anc, flags, addr = b.recvmsg(100, socket.CMSG_LEN(4))
show("truncated", sent, data, bool(flags & socket.MSG_CTRUNC), [(lv, t, len(d)) for lv, t, d in anc], addr)
for _, _, d in anc:
    for fd in array.array("i", d):
        os.close(fd)

# Room for both: both arrive, and the copy of `w` writes into `r`'s pair.
a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, two)])
data, anc, flags, addr = b.recvmsg(100, socket.CMSG_SPACE(8))
fds = array.array("i", anc[0][2])
show("both", data, flags, [(lv, t, len(d)) for lv, t, d in anc])
show("write through the copy", os.write(fds[1], b"through the copy"), r.recv(100))
st = os.fstat(fds[0])
show("received is a socket", (st.st_mode & 0o170000) == 0o140000)
copy = socket.fromfd(fds[0], socket.AF_UNIX, socket.SOCK_STREAM)
show("fromfd keeps the original", (os.fstat(fds[0]).st_mode & 0o170000) == 0o140000, copy.type == socket.SOCK_STREAM)
copy.close()
for fd in fds:
    os.close(fd)
show("closed", error_of(lambda: os.read(fds[0], 1)))

# send_fds / recv_fds, as CPython's.
show("send_fds", socket.send_fds(a, [b"fds"], [r.fileno()]))
msg, got, flags, addr = socket.recv_fds(b, 10, 1)
show("recv_fds", msg, len(got), flags, addr)
sock = socket.socket(fileno=got[0])
show("socket(fileno=)", sock.family == socket.AF_UNIX, sock.type == socket.SOCK_STREAM, sock.fileno() == got[0])
sock.sendall(b"via the received socket")
show("peer got", w.recv(100))
sock.close()

# os.pipe: a pipe whose write end travels with SCM_RIGHTS; the read end
# reads what went into the copy, then end-of-file once every copy closed.
pr, pw = os.pipe()
a.sendmsg([b"p"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [pw]))])
os.close(pw)
data, anc, flags, addr = b.recvmsg(10, socket.CMSG_SPACE(4))
(far_w,) = array.array("i", anc[0][2])
show("pipe", data, (os.fstat(pr).st_mode & 0o170000) == 0o010000, os.write(far_w, b"piped"))
os.close(far_w)
show("pipe read", os.read(pr, 100), os.read(pr, 100))
os.close(pr)

# Peek, non-blocking, timeouts, shutdown.
a.sendall(b"peek")
show("peek", b.recv(10, socket.MSG_PEEK), b.recv(10))
b.setblocking(False)
show("non-blocking", b.getblocking(), error_of(lambda: b.recv(1)), b.gettimeout())
b.settimeout(0.05)
show("timeout", b.gettimeout(), error_of(lambda: b.recv(1)))
b.settimeout(None)
a.shutdown(socket.SHUT_WR)
show("eof", b.recv(10))

# A socket object nobody holds is closed: its peer reads end-of-file.
def only_one_end():
    mine, dropped = socket.socketpair()
    return mine


show("collected", only_one_end().recv(10))
x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
show("SOCK_NONBLOCK pair", error_of(lambda: x.recv(1)), x.gettimeout())
y.sendall(b"kept")
try:
    x.recv_into(bytearray(2), 5)
except ValueError as e:
    show("recv_into", type(e).__name__, x.recv(10))
x.close()
y.close()

# Datagrams keep boundaries; MSG_TRUNC reports a cut one.
d1, d2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
d1.send(b"first datagram")
d1.send(b"second")
data, anc, flags, addr = d2.recvmsg(5)
show("datagram", data, bool(flags & socket.MSG_TRUNC), d2.recv(100))
for s in (a, b, r, w, d1, d2):
    s.close()
show("closed socket", a.fileno(), error_of(lambda: a.send(b"x")))
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
