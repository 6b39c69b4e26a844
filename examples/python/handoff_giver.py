"""The giver of the hand-off (examples/guests/src/bin/handoff_giver.rs) in
Python: makes a socket pair, hands one end to the guest at "peer" and
talks to it over that private channel only.

    capsock pair python-guests.wasm handoff_taker.wasm -- handoff_giver
"""

from capsock import socket

peer = socket.preopened("peer")
mine, theirs = socket.socketpair()
socket.send_fds(peer, [b"a private channel"], [theirs.fileno()])
theirs.close()
mine.sendall(b"ping over the handed-off socket\n")
reply = b""
while True:
    chunk = mine.recv(1024)
    if not chunk:
        break
    reply += chunk
print("giver got: " + reply.decode(), end="")
