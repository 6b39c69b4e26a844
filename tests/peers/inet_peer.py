"""A CPython UDP peer for capsock's IP control-message tests.

Binds one IPv4 and one IPv6 UDP socket on loopback with the RFC 3542 /
Linux receive options on, prints "PORT4 PORT6", receives one datagram on
each, replies to each with TTL/TOS (IPv4) or hop limit/traffic class
(IPv6, RFC 3542 sendmsg items), and prints what it received as JSON.
"""

import json
import socket
import struct
import sys

IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_RECVTOS = getattr(socket, "IP_RECVTOS", 13)


def items(ancdata):
    out = {}
    for level, kind, data in ancdata:
        if (level, kind) == (socket.IPPROTO_IP, socket.IP_TTL):
            out["ttl"] = struct.unpack("i", data)[0]
        elif (level, kind) == (socket.IPPROTO_IP, socket.IP_TOS):
            out["tos"] = data[0]
        elif (level, kind) == (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT):
            out["hop_limit"] = struct.unpack("i", data)[0]
        elif (level, kind) == (socket.IPPROTO_IPV6, socket.IPV6_TCLASS):
            out["traffic_class"] = struct.unpack("i", data)[0]
        else:
            out["%d/%d" % (level, kind)] = data.hex()
    return out


def main():
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s4.bind(("127.0.0.1", 0))
    s4.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    s4.setsockopt(socket.IPPROTO_IP, IP_RECVTOS, 1)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.bind(("::1", 0))
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
    print(s4.getsockname()[1], s6.getsockname()[1], flush=True)
    report = {}
    for name, sock, reply in [
        (
            "v4",
            s4,
            [
                (socket.IPPROTO_IP, socket.IP_TTL, struct.pack("i", 21)),
                (socket.IPPROTO_IP, socket.IP_TOS, struct.pack("i", 0x20)),
            ],
        ),
        (
            "v6",
            s6,
            [
                (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT, struct.pack("i", 17)),
                (socket.IPPROTO_IPV6, socket.IPV6_TCLASS, struct.pack("i", 0x30)),
            ],
        ),
    ]:
        sock.settimeout(60)
        data, anc, _flags, addr = sock.recvmsg(256, socket.CMSG_SPACE(4) * 4)
        report[name] = {"data": data.decode(), **items(anc)}
        sock.sendmsg([b"reply"], reply, 0, addr)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    sys.exit(main())
