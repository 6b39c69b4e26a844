"""CPython's socket shapes for Python guests of capsock.

A Python program built with componentize-py for the world
``capsock:sockets/sandbox`` reaches capsock through generated bindings
(``wit_world.imports.sockets`` and friends), whose shapes are the WIT's:
resources, variants, ``Err(ErrorCode)``. This package puts CPython's shapes
on top of them, so code written for ``socket.sendmsg``/``recvmsg``,
``socket.send_fds``/``recv_fds`` and ``os.read`` runs with its import line
changed and nothing else::

    from capsock import os, socket      # natively: import os, socket

- ``capsock.socket``: ``socket.socket`` objects (``AF_UNIX`` stream, datagram
  and seqpacket; ``AF_INET``/``AF_INET6`` under the host's ``--allow-ip``)
  with ``sendmsg``/``recvmsg`` taking and returning ``(level, type, data)``
  triples, ``send_fds``/``recv_fds``, ``socketpair``, ``CMSG_LEN`` /
  ``CMSG_SPACE`` (the host's), the ``SOL_*``/``SCM_*``/``MSG_*`` constants
  with Linux's values, and the grants of ``capsock run --unix-connect`` etc.
  (``socket.preopened(name)``).
- ``capsock.os``: the real ``os`` module, except that ``open`` gives a
  descriptor that can be sent with ``SCM_RIGHTS``, and ``read``, ``write``,
  ``lseek``, ``pread``, ``pwrite``, ``fstat``, ``dup``, ``close``,
  ``fdopen`` also work on the descriptors received that way.
- ``capsock.sendmsg``: Twisted's ``twisted.python.sendmsg`` (``sendmsg``,
  ``recvmsg``, ``getSocketFamily``).

Descriptor numbers. A guest never sees a host fd number: it holds handles.
This package numbers each handle it holds from 65536 up (so they never
collide with the guest's own WASI descriptors), and those numbers are what
``fileno()``, ``recv_fds`` and ``SCM_RIGHTS`` data carry, exactly where
CPython would put fd numbers. Sending a number puts the handle it names in
the message; receiving gives new numbers for the new handles.

This file is plain Python, shipped with the examples; it needs only the
bindings componentize-py generates from capsock's ``wit/``.
"""
