"""Python peer for capsock's conformance tests: an independent sendmsg /
recvmsg implementation (CPython's stdlib socket module) on the other end of
a Unix socket from a guest.

Usage: peer.py SCENARIO SOCKET_PATH [TYPE]

Binds SOCKET_PATH, prints "ready", accepts one connection, plays SCENARIO,
prints one JSON object with what it observed, and exits 0. Any failure
raises (non-zero exit, traceback on stderr).
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


SCENARIOS = {f.__name__: f for f in [c01, c02, c03, c11_wrong_socket_type, c12, c13, c20, misuse]}


def main():
    scenario, path = sys.argv[1], sys.argv[2]
    kind = {"stream": socket.SOCK_STREAM, "seqpacket": socket.SOCK_SEQPACKET}[
        sys.argv[3] if len(sys.argv) > 3 else "stream"
    ]
    with socket.socket(socket.AF_UNIX, kind) as listener:
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(TIMEOUT)
        print("ready", flush=True)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            result = SCENARIOS[scenario](conn)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
