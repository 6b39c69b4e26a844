"""The demo's temperature plugin (examples/guests/src/bin/temperature_plugin.rs)
as a Python guest: no filesystem, two open logs received from a broker over
the socket granted as "broker", a min/max/mean report sent back.

    capsock run --unix-connect broker=PATH python-guests.wasm temperature_plugin
"""

from capsock import os, socket

# The sandbox has no preopened directories: this must fail.
try:
    os.listdir("/")
    fs_probe = "UNEXPECTED: the filesystem is visible"
except OSError as e:
    fs_probe = "no filesystem access (%s)" % e.strerror


def summarize(text):
    """"time temp" lines in, "n readings, min, max, mean" out."""
    temps = []
    for line in text.splitlines():
        fields = line.split()
        try:
            temps.append(float(fields[1]))
        except (IndexError, ValueError):
            pass
    if not temps:
        return "no readings"
    return "%d readings, min %g °C, max %g °C, mean %.2f °C" % (
        len(temps), min(temps), max(temps), sum(temps) / len(temps))


def read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


broker = socket.preopened("broker")
data, fds, flags, _ = socket.recv_fds(broker, 1024, 8)
report = 'plugin received "%s" with %d handle(s); %s\n' % (data.decode(), len(fds), fs_probe)
for i, fd in enumerate(fds):
    report += "file %d: %s\n" % (i + 1, summarize(read_all(fd).decode()))
    os.close(fd)
print(report, end="")
broker.sendall(report.encode())
broker.shutdown(socket.SHUT_WR)
broker.close()
