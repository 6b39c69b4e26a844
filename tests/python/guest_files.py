"""Test guest: files a Python guest opens itself (capsock.os.open, through
its WASI preopen "/") and sends with SCM_RIGHTS, at the access mode it
opened them with; what may not become a descriptor. Prints key=value
lines; the peer (tests/peers/peer.py guest_files) reports what arrived."""

import errno

from capsock import os, socket


def code(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


peer = socket.preopened("peer")
ro = os.open("readings.txt", os.O_RDONLY)
rw = os.open("/notes.txt", os.O_RDWR)
print("ro_write=%s" % code(lambda: os.write(ro, b"no")))
print("rw_write=%s" % code(lambda: os.write(rw, b"guest wrote this; ")))
print("directory=%s" % code(lambda: os.open("/", os.O_RDONLY | os.O_DIRECTORY)))
print("missing=%s" % code(lambda: os.open("/missing.txt", os.O_RDONLY)))
print("outside=%s" % code(lambda: os.open("/../etc/passwd", os.O_RDONLY)))
# A symbolic link in the preopen that points out of it (the test made it).
print("symlink_out=%s" % code(lambda: os.open("/escape/passwd", os.O_RDONLY)))
created = os.open("/created.txt", os.O_RDONLY | os.O_CREAT)
print("created_write=%s" % code(lambda: os.write(created, b"no")))
log = os.open("/log.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
print("append_write=%s" % code(lambda: os.write(log, b"appended")))
print("append_send=%s" % code(lambda: socket.send_fds(peer, [b"x"], [log])))
os.close(log)
print("not_ours=%s" % code(lambda: socket.send_fds(peer, [b"x"], [ro + 1000])))
st = os.fstat(ro)
print("ro_size=%d" % st.st_size)
print("ro_is_file=%s" % (st.st_mode & 0o170000 == 0o100000))
print("sent=%d" % socket.send_fds(peer, [b"three files"], [ro, rw, created]))
os.close(ro)
os.close(rw)
os.close(created)
print("closed_read=%s" % code(lambda: os.read(ro, 1)))
print("reply=%s" % peer.recv(16).decode())
peer.sendall(b"done")
peer.close()
