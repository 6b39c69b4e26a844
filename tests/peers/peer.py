"""Python peer for capsock's conformance tests: an independent sendmsg /
recvmsg implementation (CPython's stdlib socket module) on the other end of
a Unix socket from a guest.

Usage: peer.py SCENARIO SOCKET_PATH [TYPE [ARGS...]]

Binds SOCKET_PATH, prints "ready", accepts one connection (for a datagram
TYPE, uses the bound socket itself), plays SCENARIO with ARGS, prints one
JSON object with what it observed, and exits 0. Scenarios may print progress
lines ("sent") and wait for lines on stdin ("go"). Any failure raises
(non-zero exit, traceback on stderr).
"""

import array
import json
import os
import select
import socket
import sys
import tempfile

TIMEOUT = 30.0


def fds_of(ancdata):
    fds = array.array("i")
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    return list(fds)


def describe(ancdata):
    return [[level, kind, data.hex()] for level, kind, data in ancdata]


def recv_all(conn):
    """Everything until EOF, with every ancillary item seen (fds closed)."""
    chunks, items = [], []
    while True:
        data, anc, flags, _ = conn.recvmsg(65536, socket.CMSG_SPACE(253 * 4))
        for fd in fds_of(anc):
            os.close(fd)
        items += describe(anc)
        if not data and not anc:
            return b"".join(chunks), items
        chunks.append(data)


def guest_files(conn):
    """Files a guest opened itself and sent (capsock's
    descriptor.from-filesystem): each one's access mode, contents, and
    whether this side can write it; "ok" back to the guest."""
    import fcntl

    msg, fds, flags, _ = socket.recv_fds(conn, 1024, 8)
    files = []
    for fd in fds:
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        text = os.pread(fd, 1024, 0).decode()
        try:
            os.write(fd, b"!")
            writable = True
        except OSError:
            writable = False
        files.append({
            "mode": {os.O_RDONLY: "r", os.O_WRONLY: "w", os.O_RDWR: "rw"}[mode],
            "text": text,
            "writable": writable,
        })
        os.close(fd)
    conn.sendall(b"ok")
    rest, items = recv_all(conn)
    return {"data": msg.decode(), "files": files, "after": rest.decode(), "after_ancillary": items}


def c01(conn):
    data, anc, flags, _ = conn.recvmsg(1024, 1024)
    return {"data": data.decode(), "ancillary": describe(anc), "flags": flags}


def c02(conn):
    files = []
    for i, text in enumerate([b"time temp\n00.00 23\n01.00 22\n", b"time temp\n00.00 12\n"]):
        f = tempfile.TemporaryFile()
        f.write(text)
        f.seek(0)
        files.append(f)
    sent = socket.send_fds(conn, [b"Temperature data"], [f.fileno() for f in files])
    for f in files:
        f.close()  # the guest holds the only copies now
    rest, items = recv_all(conn)
    return {"sent": sent, "after": rest.decode(), "after_ancillary": items}


def c03(conn):
    r, w = os.pipe()
    socket.send_fds(conn, [b"pipe"], [r])
    os.close(r)
    data, fds, flags, _ = socket.recv_fds(conn, 1024, 4)
    assert len(fds) == 1, fds
    os.write(w, b"Hello, world")
    half = os.read(fds[0], 6)
    conn.sendall(b"go")
    rest, items = recv_all(conn)
    os.close(fds[0])
    os.close(w)
    return {"data": data.hex(), "fds": len(fds), "flags": flags, "peer_read": half.decode()}


def c11_wrong_socket_type(conn):
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    socket.send_fds(conn, [b"s"], [theirs.fileno()])
    theirs.close()
    mine.settimeout(TIMEOUT)
    got = b""
    while len(got) < len(b"still usable"):
        chunk = mine.recv(64)
        if not chunk:
            break
        got += chunk
    recv_all(conn)
    return {"via_sent_socket": got.decode()}


def c12(conn):
    data, anc, flags, _ = conn.recvmsg(1024, 1024)
    rest, items = recv_all(conn)
    return {"data": (data + rest).decode(), "ancillary": describe(anc) + items, "flags": flags}


def c13(conn):
    sent = conn.sendmsg([b"Mary had a little lamb"])
    recv_all(conn)
    return {"sent": sent}


def c20(conn):
    pairs = []
    for i in range(100):
        mine, theirs = socket.socketpair()
        socket.send_fds(conn, [str(i).encode()], [theirs.fileno()])
        theirs.close()  # the guest's copy is now the only one
        pairs.append(mine)
    got = b""
    while got != b"dropped":
        chunk = conn.recv(7 - len(got))
        assert chunk, "guest closed before saying it dropped"
        got += chunk
    # While the guest still runs: the dropped (even) ends show EOF, the kept
    # (odd) ones do not.
    eof_while_running = []
    for i, s in enumerate(pairs):
        readable, _, _ = select.select([s], [], [], 0.0 if i % 2 else TIMEOUT)
        eof_while_running.append(bool(readable) and s.recv(1) == b"")
    conn.sendall(b"checked")
    recv_all(conn)  # until the guest has exited
    # After the exit the host must have closed the kept ones too.
    eof_after_exit = []
    for s in pairs:
        readable, _, _ = select.select([s], [], [], TIMEOUT)
        eof_after_exit.append(bool(readable) and s.recv(1) == b"")
        s.close()
    return {"eof_while_running": eof_while_running, "eof_after_exit": eof_after_exit}


def misuse(conn):
    data, items = recv_all(conn)
    return {"data": data.decode(), "ancillary": items}


def progress(line):
    print(line, flush=True)


def wait_for(conn, word):
    got = b""
    while got != word:
        chunk = conn.recv(len(word) - len(got))
        assert chunk, f"the guest closed before saying {word!r}"
        got += chunk


def eof(s, timeout):
    """Whether `s` reads end-of-file within `timeout` seconds."""
    readable, _, _ = select.select([s], [], [], timeout)
    try:
        return bool(readable) and s.recv(1) == b""
    except ConnectionResetError:
        # Closed with our index byte still unread in it: closed all the same.
        return True


def lend(conn, data, groups):
    """Sends `data` with one SCM_RIGHTS item per entry of `groups`, item i
    carrying groups[i] fresh socket-pair ends. Before lending, writes its
    index to each end's partner, so the receiver can tell the order. Returns
    the partners, which see EOF once every copy of their lent end is closed."""
    mine, theirs, items = [], [], []
    for n in groups:
        fds = array.array("i")
        for _ in range(n):
            a, b = socket.socketpair()
            a.sendall(str(len(mine)).encode())
            mine.append(a)
            theirs.append(b)
            fds.append(b.fileno())
        items.append((socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes()))
    conn.sendmsg([data], items)
    for b in theirs:
        b.close()
    return mine


def lend_and_watch(conn, *groups):
    """C4-C8: lend fds, let the guest receive ("received"), record which
    lent ends are closed while it runs, then after it exits."""
    mine = lend(conn, b"data", [int(g) for g in groups])
    wait_for(conn, b"received")
    # A dropped fd is closed at once; a held one must not show EOF.
    while_running = [eof(s, 0.5) for s in mine]
    conn.sendall(b"checked")
    recv_all(conn)
    after_exit = [eof(s, TIMEOUT) for s in mine]
    return {"eof_while_running": while_running, "eof_after_exit": after_exit}


def c09(conn):
    conn.sendall(b"aaa")
    mine = lend(conn, b"bbb", [1])
    conn.sendall(b"ccc")
    progress("sent")
    recv_all(conn)
    return {"eof_after_exit": [eof(s, TIMEOUT) for s in mine]}


def c10(conn):
    dgram_mine, dgram_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    seq_mine, seq_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    socket.send_fds(conn, [b"sockets"], [dgram_theirs.fileno(), seq_theirs.fileno()])
    dgram_theirs.close()
    seq_theirs.close()
    out = {}
    for name, s in [("datagram", dgram_mine), ("seqpacket", seq_mine)]:
        s.settimeout(TIMEOUT)
        data, fds, flags, _ = socket.recv_fds(s, 1024, 4)
        out[name] = {"data": data.hex(), "fds": len(fds), "flags": flags}
        for fd in fds:
            os.close(fd)
    # Zero bytes + an fd on the stream: Linux sends nothing at all.
    data, items = recv_all(conn)
    out["stream"] = {"data": data.hex(), "ancillary": items}
    return out


def c14(conn):
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    mine.send(b"0123456789")
    socket.send_fds(conn, [b"dgram"], [theirs.fileno()])
    theirs.close()
    recv_all(conn)
    return {"sent": 10}


def c15(sock):
    """The peer is a bound datagram socket; the guest sends to its path."""
    data, addr = sock.recvfrom(1024)
    sock.sendto(b"reply", addr)
    return {"data": data.decode(), "from": addr}


def c16(conn):
    conn.sendall(b"hello world, peek")
    progress("sent")
    recv_all(conn)
    return {"sent": 17}


def c17(conn):
    # Read nothing until the test says the guest is done sending.
    assert sys.stdin.readline().strip() == "go"
    data, items = recv_all(conn)
    return {"received": len(data), "ancillary": items}


def c18(conn):
    conn.close()
    return {"closed": True}


def c19(conn):
    wait_for(conn, b"ready")
    conn.sendall(b"x")
    recv_all(conn)
    return {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid()}


PARITY_SPACES = {
    "0": lambda: 0,
    "1": lambda: 1,
    "2int": lambda: 2 * SIZEOF_INT,
    "len0-1": lambda: socket.CMSG_LEN(0) - 1,
    "len0": lambda: socket.CMSG_LEN(0),
    "len0+1": lambda: socket.CMSG_LEN(0) + 1,
    "lenint": lambda: socket.CMSG_LEN(SIZEOF_INT),
    "len2int-1": lambda: socket.CMSG_LEN(2 * SIZEOF_INT) - 1,
    "space2int": lambda: socket.CMSG_SPACE(2 * SIZEOF_INT),
}
SIZEOF_INT = array.array("i").itemsize


def parity(conn, *cases):
    """CPython's own recvmsg on the same kernel, for each control space: the
    guest's results must match these. Also lends the guest the same message
    once per case, when it asks."""
    python = {}
    for case in cases:
        space = PARITY_SPACES[case]()
        a, b = socket.socketpair()
        f1, f2 = socket.socketpair(), socket.socketpair()
        a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f1[1].fileno(), f2[1].fileno()]))])
        data, anc, flags, _ = b.recvmsg(1, space)
        fds = fds_of(anc)
        for fd in fds:
            os.close(fd)
        python[case] = {
            "space": space,
            "items": [[level, kind, len(d)] for level, kind, d in anc],
            "fds": len(fds),
            "ctrunc": bool(flags & socket.MSG_CTRUNC),
        }
        for s in [a, b, *f1, *f2]:
            s.close()
    watched = []
    for case in cases:
        wait_for(conn, b"next")
        watched += lend(conn, b"x", [2])
    recv_all(conn)
    return {"python": python, "eof_after_exit": [eof(s, TIMEOUT) for s in watched]}


def pipe_report(conn):
    """Writes a line into the pipe end the guest lends, then closes it."""
    data, fds, _, _ = socket.recv_fds(conn, 64, 4)
    for fd in fds:
        os.write(fd, b"written by python " + str(os.getpid()).encode())
        os.close(fd)
    recv_all(conn)
    return {"data": data.decode(), "fds": len(fds), "pid": os.getpid()}


def own_credentials(conn):
    """With credential passing on, what the guest's one message carried."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    conn.sendall(b"r")
    creds = []
    while True:
        data, anc, _, _ = conn.recvmsg(64, socket.CMSG_SPACE(12))
        if not data:
            return {"credentials": creds}
        for level, kind, payload in anc:
            if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                creds.append(list(array.array("i", payload[:12])))


RECV_FDS_CASES = {
    # name: (data, fds in each SCM_RIGHTS item)
    "none": (b"ab", []),
    "one": (b"abcd", [1]),
    "max": (b"abcd", [2]),
    "over": (b"abcd", [3]),
    "two_items": (b"abcd", [1, 1]),
    "long": (b"0123456789", [1]),
}


def recv_fds_parity(conn, *cases):
    """CPython's socket.recv_fds(sock, 8, 2) on the same kernel, for each
    case's message on a stream socket pair: the guest's results must match
    these. Then lends the guest the same message once per case, when it
    asks. "long" leaves two bytes in the stream, which the guest reads
    next: it comes last."""
    python = {}
    for case in cases:
        data, groups = RECV_FDS_CASES[case]
        a, b = socket.socketpair()
        watched = lend(a, data, groups)
        got, fds, flags, _ = socket.recv_fds(b, 8, 2)
        for fd in fds:
            os.close(fd)
        python[case] = {
            "data": got.decode(),
            "fds": len(fds),
            "truncated": bool(flags & socket.MSG_TRUNC),
            "ctrunc": bool(flags & socket.MSG_CTRUNC),
        }
        for s in [a, b, *watched]:
            s.close()
    watched = []
    for case in cases:
        wait_for(conn, b"next")
        data, groups = RECV_FDS_CASES[case]
        watched += lend(conn, data, groups)
    recv_all(conn)
    return {"python": python, "eof_after_exit": [eof(s, TIMEOUT) for s in watched]}


def twisted_c01(conn):
    from twisted.python.sendmsg import recvmsg

    msg = recvmsg(conn, 1024)
    return {"data": msg.data.decode(), "ancillary": describe(msg.ancillary), "flags": msg.flags}


def twisted_c03(conn):
    """Twisted's copy_descriptor.py with the guest as the sender: unpack the
    fd from the ancillary data as the listing does, read half through it."""
    import struct

    from twisted.python.sendmsg import recvmsg, sendmsg

    r, w = os.pipe()
    sendmsg(conn, b"pipe", [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", r))])
    os.close(r)
    msg = recvmsg(conn, 1024)
    duplicate = struct.unpack("i", msg.ancillary[0][2])[0]
    os.write(w, b"Hello, world")
    half = os.read(duplicate, 6)
    conn.sendall(b"go")
    recv_all(conn)
    os.close(duplicate)
    os.close(w)
    return {"data": msg.data.hex(), "ancillary": len(msg.ancillary), "peer_read": half.decode()}


def hostile(conn, seed="1"):
    """A peer that does whatever it likes until the guest hangs up: random
    bursts of bytes, out-of-band bytes, messages with up to 253 fds (pipes,
    files, sockets), credentials; it reads (and closes) whatever the guest
    sends, and never blocks on the guest."""
    import random

    rng = random.Random(int(seed))
    conn.setblocking(False)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    stats = {"messages": 0, "fds": 0, "oob": 0, "received": 0, "fds_received": 0}
    scratch = tempfile.TemporaryFile()

    def some_fds(n):
        fds = []
        for _ in range(n):
            kind = rng.randrange(3)
            if kind == 0:
                r, w = os.pipe()
                os.close(w)
                fds.append(r)
            elif kind == 1:
                fds.append(os.dup(scratch.fileno()))
            else:
                a, b = socket.socketpair()
                fds.append(a.detach())
                b.close()
        return fds

    while True:
        readable, _, _ = select.select([conn], [], [], 0.0005)
        if readable:
            try:
                data, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(253 * 4))
            except BlockingIOError:
                data, anc = None, []
            except ConnectionResetError:
                break
            if data is not None:
                for fd in fds_of(anc):
                    os.close(fd)
                    stats["fds_received"] += 1
                if not data and not anc:
                    break
                stats["received"] += len(data)
        action = rng.randrange(10)
        try:
            if action < 5:
                n = rng.choice([0, 1, 2, 5, 253]) if rng.random() < 0.4 else 0
                fds = some_fds(n)
                anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
                if rng.random() < 0.1:
                    creds = array.array("i", [os.getpid(), os.getuid(), os.getgid()])
                    anc.append((socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds))
                size = rng.choice([0, 1, 100, 4096, 65536]) if anc else rng.choice([1, 100, 4096, 65536])
                try:
                    conn.sendmsg([os.urandom(size)], anc, socket.MSG_DONTWAIT)
                    stats["messages"] += 1
                    stats["fds"] += len(fds)
                finally:
                    for fd in fds:
                        os.close(fd)
            elif action == 5:
                conn.send(b"!", socket.MSG_OOB | socket.MSG_DONTWAIT)
                stats["oob"] += 1
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            pass
    return stats


SCENARIOS = {
    f.__name__: f
    for f in [
        c01, c02, c03, c09, c10, c11_wrong_socket_type, c12, c13, c14, c15, c16, c17, c18, c19, c20,
        lend_and_watch, misuse, parity, recv_fds_parity, twisted_c01, twisted_c03, hostile,
        guest_files, pipe_report, own_credentials,
    ]
}


def main():
    scenario, path = sys.argv[1], sys.argv[2]
    type_name = sys.argv[3] if len(sys.argv) > 3 else "stream"
    args = sys.argv[4:]
    kind = {"stream": socket.SOCK_STREAM, "seqpacket": socket.SOCK_SEQPACKET, "datagram": socket.SOCK_DGRAM}[type_name]
    with socket.socket(socket.AF_UNIX, kind) as listener:
        listener.bind(path)
        listener.settimeout(TIMEOUT)
        if kind == socket.SOCK_DGRAM:
            progress("ready")
            result = SCENARIOS[scenario](listener, *args)
        else:
            listener.listen(1)
            progress("ready")
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                result = SCENARIOS[scenario](conn, *args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
