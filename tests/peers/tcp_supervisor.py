"""A supervisor that hands a guest a listening TCP socket, as inetd or
systemd would, over a Unix socket, then connects to it as a client.

Usage: tcp_supervisor.py UNIX_PATH [unix]

With `unix`, the socket handed over is a Unix listening socket bound to
UNIX_PATH + ".listener" instead (the prefork pattern: a sandboxed acceptor).

Listens on UNIX_PATH and prints "ready". For the one connection that comes
(the capsock host's, granted to the guest), it binds and listens on
127.0.0.1:0, sends the listening socket with socket.send_fds, closes its
own copy, connects to it, sends one line and reads the answer. Prints
JSON: the listener's getsockname(), the client's, the answer.
"""

import json
import socket
import sys


def main():
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sys.argv[1])
    server.listen(1)
    print("ready", flush=True)
    conn, _ = server.accept()
    unix = sys.argv[2:] == ["unix"]
    if unix:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(sys.argv[1] + ".listener")
    else:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    address = listener.getsockname()
    socket.send_fds(conn, [b"listener"], [listener.fileno()])
    # The guest holds the only copy now: only its accept can answer.
    listener.close()
    if unix:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(20)
        client.connect(address)
    else:
        client = socket.create_connection(address, timeout=20)
    client.sendall(b"hello capsock\n")
    answer = client.makefile("rb").readline()
    print(
        json.dumps(
            {
                "listener": address if unix else "%s:%d" % address,
                "client": "" if unix else "%s:%d" % client.getsockname(),
                "answer": answer.decode(),
            }
        ),
        flush=True,
    )


main()
