# Copyright (c) Twisted Matrix Laboratories.
# See LICENSE for details.

"""
Demonstration of sending bytes over a TCP connection using sendmsg.

Twisted's listing (docs/core/howto/listings/sendmsg/send_replacement.py) as
a capsock guest: only the two import lines differ.
"""


from capsock.socket import socketpair  # natively: from socket import socketpair

from capsock.sendmsg import recvmsg, sendmsg  # natively: from twisted.python.sendmsg import recvmsg, sendmsg


def main():
    foo, bar = socketpair()
    sent = sendmsg(foo, b"Hello, world")
    print("Sent", sent, "bytes")
    (received, ancillary, flags) = recvmsg(bar, 1024)
    print("Received", repr(received))
    print("Extra stuff, boring in this case", flags, ancillary)


if __name__ == "__main__":
    main()
