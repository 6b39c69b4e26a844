"""Test guest: files opened below a read-only preopen, as capsock.os
gives them: readable, never writable through the handle."""

import errno

from capsock import os

ro = os.open("/readings.txt", os.O_RDONLY)
print("read=%s" % os.read(ro, 5).decode())
attempts = {
    "ro_write": lambda: os.write(ro, b"no"),
    "rdwr": lambda: os.open("/readings.txt", os.O_RDWR),
    "create": lambda: os.open("/new.txt", os.O_WRONLY | os.O_CREAT),
}
for name, attempt in attempts.items():
    try:
        attempt()
        print("%s=ok" % name)
    except OSError as e:
        print("%s=%s" % (name, errno.errorcode.get(e.errno, e.errno)))
os.close(ro)
