"""A native broker that starts `capsock run` with one end of a socket pair
inherited as a grant (`--fd peer=N`), the way a supervisor hands a
capability to a sandboxed plugin, then sends it two open files.

Usage: broker.py CAPSOCK GUEST.wasm GUEST-ARGS...
Prints one JSON object: the guest's exit status and stdout.
"""

import json
import socket
import subprocess
import sys
import tempfile


def main():
    capsock, wasm, guest_args = sys.argv[1], sys.argv[2], sys.argv[3:]
    mine, theirs = socket.socketpair()
    files = []
    for text in [b"time temp\n00.00 23\n01.00 22\n", b"time temp\n00.00 12\n"]:
        f = tempfile.TemporaryFile()
        f.write(text)
        f.seek(0)
        files.append(f)
    fd = theirs.fileno()
    child = subprocess.Popen(
        [capsock, "run", "--fd", f"peer={fd}", wasm, *guest_args],
        pass_fds=(fd,),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    theirs.close()
    socket.send_fds(mine, [b"Temperature data"], [f.fileno() for f in files])
    for f in files:
        f.close()
    out, err = child.communicate(timeout=60)
    # The guest has exited: its end (and every fd it held) is closed.
    mine.settimeout(5)
    eof = mine.recv(1) == b""
    print(json.dumps({"status": child.returncode, "stdout": out.decode(), "stderr": err.decode(), "eof": eof}))


if __name__ == "__main__":
    main()
