"""The taker of the hand-off (examples/guests/src/bin/handoff_taker.rs) in
Python: receives a socket over "peer" and answers what arrives on it.

    capsock pair handoff_giver.wasm python-guests.wasm -- handoff_taker
"""

from capsock import socket

peer = socket.preopened("peer")
note, fds, _, _ = socket.recv_fds(peer, 64, 1)
channel = socket.socket(fileno=fds[0])
print('taker got "%s" and a socket' % note.decode())
line = b""
while not line.endswith(b"\n"):
    chunk = channel.recv(1024)
    if not chunk:
        break
    line += chunk
channel.sendall(('pong for "%s"\n' % line.decode().rstrip("\n")).encode())
channel.shutdown(socket.SHUT_WR)
