"""The generated bindings, whatever the world calls them, and the
translations every module of this package shares: errors, the handle
table, addresses.

componentize-py names an imported interface by its bare name (``types``,
``preopens``) unless two imported interfaces share it; then both get their
package's prefix. World ``capsock:sockets/sandbox`` imports WASI's
``types``/``preopens`` too, so there they are ``capsock_sockets_types`` and
``capsock_sockets_preopens``; a world with only capsock's interfaces has
plain ``types`` and ``preopens``. Both are accepted here.
"""

import errno as _errno
import os as _os
import weakref as _weakref

from componentize_py_types import Err
from wit_world.imports import descriptors, sockets

try:
    from wit_world.imports import capsock_sockets_types as types
except ImportError:  # a world without WASI's filesystem
    from wit_world.imports import types
try:
    from wit_world.imports import capsock_sockets_preopens as grants
except ImportError:
    from wit_world.imports import preopens as grants
try:
    from wit_world.imports import wasi_filesystem_preopens as fs_preopens
    from wit_world.imports import wasi_filesystem_types as fs_types
except ImportError:  # no WASI filesystem in this world: no os.open
    fs_preopens = fs_types = None

__all__ = ["Err", "descriptors", "sockets", "types", "grants", "fs_preopens", "fs_types"]

# --- errors -----------------------------------------------------------------

# capsock's error codes as the guest's errno values (the guest's `errno`
# module has wasi-libc's numbers, which `OSError` turns into the right
# subclass: ConnectionRefusedError, BlockingIOError, TimeoutError, ...).
_ERRNO = {
    "ACCESS_DENIED": _errno.EACCES,
    "WOULD_BLOCK": _errno.EAGAIN,
    "BAD_DESCRIPTOR": _errno.EBADF,
    "INVALID_ARGUMENT": _errno.EINVAL,
    "MESSAGE_SIZE": _errno.EMSGSIZE,
    "NOT_CONNECTED": _errno.ENOTCONN,
    "IS_CONNECTED": _errno.EISCONN,
    "DESTINATION_ADDRESS_REQUIRED": _errno.EDESTADDRREQ,
    "LIMIT_REACHED": _errno.EMFILE,
    "NO_BUFFER_SPACE": _errno.ENOBUFS,
    "NOT_SOCKET": _errno.ENOTSOCK,
    "WRONG_TYPE": _errno.EPROTOTYPE,
    "NOT_SUPPORTED": _errno.EOPNOTSUPP,
    "ADDRESS_FAMILY_NOT_SUPPORTED": _errno.EAFNOSUPPORT,
    "ADDRESS_IN_USE": _errno.EADDRINUSE,
    "ADDRESS_NOT_AVAILABLE": _errno.EADDRNOTAVAIL,
    "CONNECTION_REFUSED": _errno.ECONNREFUSED,
    "CONNECTION_RESET": _errno.ECONNRESET,
    "CONNECTION_ABORTED": _errno.ECONNABORTED,
    "BROKEN_PIPE": _errno.EPIPE,
    "TIMED_OUT": _errno.ETIMEDOUT,
    "NO_ENTRY": _errno.ENOENT,
    "NAME_TOO_LONG": _errno.ENAMETOOLONG,
    "INVALID_SEEK": _errno.ESPIPE,
    "IS_DIRECTORY": _errno.EISDIR,
    "IO": _errno.EIO,
    "NETWORK_UNREACHABLE": _errno.ENETUNREACH,
    "HOST_UNREACHABLE": _errno.EHOSTUNREACH,
    "OPTION_NOT_AVAILABLE": _errno.ENOPROTOOPT,
    # WASI filesystem codes that differ from capsock's names.
    "ACCESS": _errno.EACCES,
    "NOT_PERMITTED": _errno.EPERM,
    "EXIST": _errno.EEXIST,
    "NOT_DIRECTORY": _errno.ENOTDIR,
    "INVALID": _errno.EINVAL,
    "READ_ONLY": _errno.EROFS,
    "NO_SPACE": _errno.ENOSPC,
    "LOOP": _errno.ELOOP,
}


def os_error(err, what=""):
    """An `OSError` (of the subclass CPython would raise) for an `Err` of
    capsock's or WASI's `error-code`."""
    code = getattr(err, "value", err)
    name = getattr(code, "name", str(code))
    number = _ERRNO.get(name, _errno.EIO)
    text = "%s (capsock: %s)" % (_os.strerror(number), name.lower().replace("_", "-"))
    if what:
        text += ": " + what
    return OSError(number, text)


class call:
    """`with call("connect"):` turns an `Err` raised inside into `OSError`."""

    def __init__(self, what=""):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None and issubclass(kind, Err):
            raise os_error(value, self.what) from None
        return False


def release(resource):
    """Drops a WIT resource now (closes its host fd)."""
    resource.__exit__(None, None, None)


# --- the handle table -------------------------------------------------------

# Numbers start far above the guest's own WASI descriptors (wasi-libc hands
# those out from 3 up), so a number here is never also a real `os` fd.
FIRST = 65536
_table = {}


def register(obj, number=None, weak=False):
    """Numbers `obj` (a `socket.socket` or a `Handle`) with `number` if it is
    free, else the lowest free number, as `open(2)` numbers fds. A `weak`
    entry (a socket object) does not keep `obj` alive: CPython closes a
    socket object nobody holds, and so does this package."""
    n = number if number is not None and lookup(number) is None else FIRST
    while lookup(n) is not None:
        n += 1
    _table[n] = _weakref.ref(obj) if weak else obj
    return n


def lookup(n):
    """What number `n` names, or `None` when it is not one of ours."""
    obj = _table.get(n)
    if isinstance(obj, _weakref.ref):
        obj = obj()
    return obj


def forget(n):
    _table.pop(n, None)


def handle_ref(n):
    """The `handle-ref` that `SCM_RIGHTS` data naming `n` stands for."""
    obj = lookup(n)
    if obj is None:
        raise OSError(_errno.EBADF, "%d is not a descriptor this guest holds" % n)
    return obj._handle_ref()


class Handle:
    """A received or opened descriptor, the object behind one number."""

    def __init__(self, descriptor):
        self.descriptor = descriptor
        self.number = register(self)

    def _handle_ref(self):
        return sockets.HandleRef_Descriptor(self.descriptor)

    def close(self):
        if self.descriptor is not None:
            forget(self.number)
            release(self.descriptor)
            self.descriptor = None

    def live(self):
        if self.descriptor is None:
            raise OSError(_errno.EBADF, "descriptor %d is closed" % self.number)
        return self.descriptor


def adopt(descriptor):
    """Numbers a descriptor handle that just arrived."""
    return Handle(descriptor).number
