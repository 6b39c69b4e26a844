"""Twisted's ``twisted.python.sendmsg`` for capsock guests:
``from capsock.sendmsg import sendmsg, recvmsg`` where a program says
``from twisted.python.sendmsg import sendmsg, recvmsg``.

Same signatures and results as Twisted's (a thin layer over
``socket.sendmsg``/``recvmsg``); file descriptor numbers are
``capsock``'s numbers for the guest's handles.
"""

from collections import namedtuple

from . import socket as _socket

SCM_RIGHTS = _socket.SCM_RIGHTS

ReceivedMessage = namedtuple("ReceivedMessage", ["data", "ancillary", "flags"])


def sendmsg(socket, data, ancillary=[], flags=0):
    """Send a message on a socket: ``data`` (bytes) with ``ancillary``, a
    list of ``(level, type, data)``. Returns the number of bytes sent."""
    return socket.sendmsg([data], ancillary, flags)


def recvmsg(socket, maxSize=8192, cmsgSize=4096, flags=0):
    """Receive a message on a socket: a ``ReceivedMessage(data, ancillary,
    flags)``. ``cmsgSize`` is the payload room for ancillary data, sized
    with ``CMSG_SPACE`` as Twisted does."""
    cmsgSize = _socket.CMSG_SPACE(cmsgSize)
    data, ancillary, flags, address = socket.recvmsg(maxSize, cmsgSize, flags)
    return ReceivedMessage(data=data, ancillary=ancillary, flags=flags)


def getSocketFamily(socket):
    """The address family of ``socket``."""
    return socket.family
