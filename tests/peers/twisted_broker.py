"""A broker written against Twisted's reactor, as a Twisted user would
write one: it listens on a Unix socket and, for the one connection, passes
two open files with `transport.sendFileDescriptor` (Twisted sends each with
one byte of the data written next: "o" and "k"), then writes a line; it
collects what the client sends back, and the fds with it, until the client
hangs up.

Usage: twisted_broker.py PATH
Prints "ready" once listening, then one JSON object: the reply and how many
fds came with it.
"""

import json
import os
import socket
import sys
import tempfile

from twisted.internet import protocol, reactor
from twisted.internet.interfaces import IFileDescriptorReceiver
from zope.interface import implementer

FILES = [b"time temp\n00.00 23\n01.00 22\n", b"time temp\n00.00 12\n"]
result = {"reply": "", "fds": 0}


@implementer(IFileDescriptorReceiver)
class Broker(protocol.Protocol):
    def connectionMade(self):
        self.files = []
        for text in FILES:
            f = tempfile.TemporaryFile()
            f.write(text)
            f.seek(0)
            self.files.append(f)
            self.transport.sendFileDescriptor(f.fileno())
        self.transport.write(b"ok")
        self.transport.write(b"Temperature data")

    def fileDescriptorReceived(self, fd):
        result["fds"] += 1
        os.close(fd)

    def dataReceived(self, data):
        result["reply"] += data.decode()

    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def main():
    reactor.listenUNIX(sys.argv[1], protocol.Factory.forProtocol(Broker))
    print("ready", flush=True)
    reactor.callLater(60, reactor.stop)
    reactor.run()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
