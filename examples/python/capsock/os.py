"""The ``os`` module for capsock guests: ``from capsock import os`` where a
program says ``import os``.

Everything is the real ``os`` (WASI's), except these, which also take the
numbers of descriptors this package holds (received with ``SCM_RIGHTS``,
``fileno()`` of a socket, or opened here):

- ``open(path, flags, mode=0o777)``: opens through the guest's WASI
  preopened directories (``capsock run --dir``), like ``os.open``, but gives
  a descriptor capsock can send with ``SCM_RIGHTS`` (capsock's
  ``descriptor.from-filesystem``). Its access mode is the one asked for
  (``O_RDONLY | O_CREAT`` too); a read-only preopen gives read-only files.
  WASI has no file modes: ``mode`` is ignored, and a new file gets the
  host's default (0666 less the host's umask). WASI has no append mode
  either: ``O_APPEND`` opens go to the real ``os.open``, whose descriptors
  work here but cannot be sent.
- ``pipe()``: a pipe whose ends are capsock descriptors (WASI has no
  pipes), so either can be sent with ``SCM_RIGHTS``.
- ``read``, ``write``, ``pread``, ``pwrite``, ``lseek``, ``fstat``, ``dup``,
  ``close``, ``set_blocking``, ``fdopen``.

Any other number goes to the real ``os`` function.
"""

import io as _io
import os as _real
import stat as _stat

from . import _wit
from ._wit import call as _call

_d = _wit.descriptors
_KIND_BITS = {
    "REGULAR_FILE": _stat.S_IFREG,
    "DIRECTORY": _stat.S_IFDIR,
    "FIFO": _stat.S_IFIFO,
    "SOCKET": _stat.S_IFSOCK,
    "CHARACTER_DEVICE": _stat.S_IFCHR,
    "BLOCK_DEVICE": _stat.S_IFBLK,
    "SYMBOLIC_LINK": _stat.S_IFLNK,
    "UNKNOWN": 0,
}


def __getattr__(name):
    return getattr(_real, name)


def __dir__():
    return sorted(set(dir(_real)) | set(globals()))


def _ours(fd):
    """The descriptor handle behind `fd` if it is one of ours, else None."""
    obj = _wit.lookup(fd)
    if obj is None:
        return None
    if isinstance(obj, _wit.Handle):
        return obj.live()
    return None


def _socket(fd):
    obj = _wit.lookup(fd)
    return obj if obj is not None and not isinstance(obj, _wit.Handle) else None


def open(path, flags, mode=0o777, *, dir_fd=None):
    """``os.open``, giving a descriptor that can travel with ``SCM_RIGHTS``."""
    fs = _wit.fs_types
    if fs is None or dir_fd is not None or flags & _real.O_APPEND:
        return _real.open(path, flags, mode, dir_fd=dir_fd)
    path = _real.fsdecode(path)
    if not path.startswith("/"):
        path = _real.path.join(_real.getcwd(), path)
    path = _real.path.normpath(path)
    access = flags & _real.O_ACCMODE
    want = fs.DescriptorFlags(0)
    if access in (_real.O_RDONLY, _real.O_RDWR):
        want |= fs.DescriptorFlags.READ
    if access in (_real.O_WRONLY, _real.O_RDWR):
        want |= fs.DescriptorFlags.WRITE
    how = fs.OpenFlags(0)
    if flags & _real.O_CREAT:
        how |= fs.OpenFlags.CREATE
    if flags & _real.O_EXCL:
        how |= fs.OpenFlags.EXCLUSIVE
    if flags & _real.O_TRUNC:
        how |= fs.OpenFlags.TRUNCATE
    if flags & _real.O_DIRECTORY:
        how |= fs.OpenFlags.DIRECTORY
    # The preopen with the longest guest path above `path`.
    best = None
    dirs = _wit.fs_preopens.get_directories()
    for handle, guest in dirs:
        root = guest.rstrip("/") if guest not in ("/", ".") else ""
        if guest == "." or path == root or path.startswith(root + "/"):
            if best is None or len(root) > len(best[1]):
                best = (handle, root)
    try:
        if best is None:
            raise OSError(_wit._errno.ENOENT, "no preopened directory holds %r" % path)
        rest = path[len(best[1]):].lstrip("/") or "."
        follow = fs.PathFlags(0) if flags & _real.O_NOFOLLOW else fs.PathFlags.SYMLINK_FOLLOW
        if access == _real.O_RDONLY and how & (fs.OpenFlags.CREATE | fs.OpenFlags.TRUNCATE):
            # WASI opens a file it creates or truncates for writing too;
            # do that, then open it again for reading only, as asked.
            with _call("open %r" % path):
                _wit.release(best[0].open_at(follow, rest, how, want))
            how &= ~(fs.OpenFlags.CREATE | fs.OpenFlags.EXCLUSIVE | fs.OpenFlags.TRUNCATE)
        with _call("open %r" % path):
            f = best[0].open_at(follow, rest, how, want)
        try:
            with _call("open %r" % path):
                d = _d.Descriptor.from_filesystem(f)
        finally:
            _wit.release(f)
    finally:
        for handle, _ in dirs:
            _wit.release(handle)
    return _wit.adopt(d)


def read(fd, n):
    d = _ours(fd)
    if d is None:
        s = _socket(fd)
        return s.recv(n) if s is not None else _real.read(fd, n)
    with _call("read"):
        return bytes(d.read(n))


def write(fd, data):
    d = _ours(fd)
    if d is None:
        s = _socket(fd)
        return s.send(data) if s is not None else _real.write(fd, data)
    with _call("write"):
        return d.write(bytes(data))


def pread(fd, n, offset):
    d = _ours(fd)
    if d is None:
        return _real.pread(fd, n, offset)
    with _call("pread"):
        return bytes(d.read_at(n, offset))


def pwrite(fd, data, offset):
    d = _ours(fd)
    if d is None:
        return _real.pwrite(fd, data, offset)
    with _call("pwrite"):
        return d.write_at(bytes(data), offset)


def lseek(fd, pos, how):
    d = _ours(fd)
    if d is None:
        return _real.lseek(fd, pos, how)
    whence = {
        _real.SEEK_SET: _d.SeekFrom_Start,
        _real.SEEK_CUR: _d.SeekFrom_Current,
        _real.SEEK_END: _d.SeekFrom_End,
    }
    if how not in whence or (how == _real.SEEK_SET and pos < 0):
        raise OSError(_wit._errno.EINVAL, "Invalid argument")
    with _call("lseek"):
        return d.seek(whence[how](pos))


def fstat(fd):
    d = _ours(fd)
    if d is None:
        return _real.fstat(fd)
    with _call("fstat"):
        st = d.stat()
    mode = _KIND_BITS[st.kind.name] | st.mode
    # st_mode, st_ino, st_dev, st_nlink, st_uid, st_gid, st_size, times:
    # capsock reports no owner or times.
    return _real.stat_result((mode, st.inode, st.device, st.link_count, 0, 0, st.size, 0, 0, 0))


def pipe():
    """``os.pipe``: a new pipe's read and write ends, as descriptors that
    can travel with ``SCM_RIGHTS`` (capsock's ``descriptor.pipe``)."""
    with _call("pipe"):
        read, write = _d.Descriptor.pipe()
    return _wit.adopt(read), _wit.adopt(write)


def dup(fd):
    d = _ours(fd)
    if d is None:
        s = _socket(fd)
        return s.dup().fileno() if s is not None else _real.dup(fd)
    with _call("dup"):
        return _wit.adopt(d.duplicate())


def close(fd):
    obj = _wit.lookup(fd)
    if obj is None:
        return _real.close(fd)
    obj.close()


def set_blocking(fd, blocking):
    d = _ours(fd)
    if d is None:
        s = _socket(fd)
        return s.setblocking(blocking) if s is not None else _real.set_blocking(fd, blocking)
    with _call("set_blocking"):
        d.set_nonblocking(not blocking)


class _Raw(_io.RawIOBase):
    """One of our descriptors as a raw file, for `fdopen`."""

    def __init__(self, fd, mode, closefd):
        self._fd, self._mode, self._closefd = fd, mode, closefd

    def fileno(self):
        return self._fd

    def readable(self):
        return "r" in self._mode or "+" in self._mode

    def writable(self):
        return any(c in self._mode for c in "wax+")

    def seekable(self):
        try:
            lseek(self._fd, 0, _real.SEEK_CUR)
            return True
        except OSError:
            return False

    def readinto(self, b):
        data = read(self._fd, len(b))
        b[: len(data)] = data
        return len(data)

    def write(self, b):
        return write(self._fd, b)

    def seek(self, pos, whence=0):
        return lseek(self._fd, pos, whence)

    def close(self):
        if not self.closed and self._closefd:
            close(self._fd)
        super().close()


def fdopen(fd, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True):
    """``os.fdopen``: a file object on descriptor number ``fd``."""
    if _wit.lookup(fd) is None:
        return _real.fdopen(fd, mode, buffering, encoding, errors, newline, closefd)
    raw = _Raw(fd, mode, closefd)
    if buffering == 0:
        return raw
    size = _io.DEFAULT_BUFFER_SIZE if buffering in (-1, 1) else buffering
    if raw.readable() and raw.writable():
        f = _io.BufferedRandom(raw, size)
    elif raw.writable():
        f = _io.BufferedWriter(raw, size)
    else:
        f = _io.BufferedReader(raw, size)
    if "b" in mode:
        return f
    return _io.TextIOWrapper(f, encoding, errors, newline, line_buffering=buffering == 1)
