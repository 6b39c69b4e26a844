"""Test guest: files opened below a read-only preopen, as capsock.os
gives them: readable, never writable through the handle."""

import errno

from capsock import os


def code(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


ro = os.open("/readings.txt", os.O_RDONLY)
print("read=%s" % os.read(ro, 5).decode())
print("ro_write=%s" % code(lambda: os.write(ro, b"no")))
print("rdwr=%s" % code(lambda: os.open("/readings.txt", os.O_RDWR)))
print("create=%s" % code(lambda: os.open("/new.txt", os.O_WRONLY | os.O_CREAT)))
os.close(ro)
