//! Guests for the IP socket and control-message tests.
//! `inet <scenario> ...`; prints `key=value` lines, one per fact (see this
//! crate's lib.rs).

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use capsock::{
    error_code, AddressFamily, AsHandle, ReceiveOption, RecvAncillary, RecvFlags, RecvMsg,
    SendAncillary, SendFlags, SocketExt, TcpListener, TcpStream, Timestamp, TimestampingFlags,
    UdpSocket, UnixDatagram,
};
use capsock_test_programs::{show, Report};

#[path = "../raw.rs"]
mod raw;

/// The one refusal the SDK's types cannot express (a Unix socket takes a
/// `UnixSocketAddr`, never an IP address), through raw bindings.
mod unix_ip {
    use crate::raw::capsock::sockets::sockets::Socket;
    use crate::raw::capsock::sockets::types::{
        AddressParam, Ipv4SocketAddress, SendFlags, SocketType,
    };

    /// A datagram to `to` from a Unix datagram socket: the host's error
    /// code, or `sent:N`.
    pub fn send_ip_on_unix_socket(to: std::net::SocketAddr) -> String {
        let std::net::SocketAddr::V4(to) = to else {
            panic!("an IPv4 address")
        };
        let [a, b, c, d] = to.ip().octets();
        let to = AddressParam::Ipv4(Ipv4SocketAddress {
            address: (a, b, c, d),
            port: to.port(),
        });
        let (sock, _peer) = Socket::pair(SocketType::Datagram).unwrap();
        match sock.send_msg(&[b"x"], &[], SendFlags::empty(), Some(to)) {
            Ok(n) => format!("sent:{n}"),
            Err(e) => e.name().to_string(),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args[i].as_str();
    match arg(1) {
        "items" => items(arg(2).parse().unwrap()),
        "pktinfo_source" => pktinfo_source(),
        "recverr" => recverr(arg(2).parse().unwrap()),
        "gso_gro" => gso_gro(),
        "rxq_ovfl" => rxq_ovfl(),
        "tx_timestamp" => tx_timestamp(),
        "unix_items" => unix_items(),
        "tcp" => tcp(arg(2).parse().unwrap()),
        "refusals" => refusals(arg(2).parse().unwrap(), arg(3).parse().unwrap()),
        "no_policy" => no_policy(),
        "std_net" => std_net(
            arg(2).parse().unwrap(),
            arg(3).parse().unwrap(),
            arg(4).parse().unwrap(),
        ),
        "python" => python(arg(2).parse().unwrap(), arg(3).parse().unwrap()),
        other => panic!("unknown scenario {other}"),
    }
}

/// The error-code name behind an error (or its kind).
fn code(e: &std::io::Error) -> String {
    match error_code(e) {
        Some(c) => c.name().to_string(),
        None => format!("{:?}", e.kind()),
    }
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
}

fn ns(t: &Timestamp) -> i128 {
    t.seconds as i128 * 1_000_000_000 + t.nanoseconds as i128
}

fn recv(sock: &UdpSocket, flags: RecvFlags) -> (Vec<u8>, RecvMsg<SocketAddr>) {
    let mut buf = vec![0u8; 65536];
    let m = sock
        .recv_msg(&mut [IoSliceMut::new(&mut buf)], 4096, flags)
        .unwrap();
    buf.truncate(m.bytes);
    (buf, m)
}

/// Prints each received item as `prefix_item=value`.
fn print_items<A>(prefix: &str, m: &RecvMsg<A>) {
    let mut kinds = Vec::new();
    for item in &m.ancillary {
        let (kind, value) = match item {
            RecvAncillary::Ttl(v) => ("ttl", v.to_string()),
            RecvAncillary::HopLimit(v) => ("hop_limit", v.to_string()),
            RecvAncillary::Tos(v) => ("tos", v.to_string()),
            RecvAncillary::TrafficClass(v) => ("traffic_class", v.to_string()),
            RecvAncillary::Ipv4PacketInfo {
                interface,
                local,
                destination,
            } => ("pktinfo", format!("{interface}/{local}/{destination}")),
            RecvAncillary::Ipv6PacketInfo { interface, address } => {
                ("pktinfo", format!("{interface}/{address}"))
            }
            RecvAncillary::OriginalDestination(a) => ("origdst", a.report()),
            RecvAncillary::Timestamp(t) => ("timestamp_ns", ns(t).to_string()),
            RecvAncillary::TimestampNs(t) => ("timestampns_ns", ns(t).to_string()),
            RecvAncillary::Timestamping(t) => (
                "timestamping_ns",
                format!(
                    "{}/{}",
                    t.software.map(|t| ns(&t)).unwrap_or(0),
                    t.hardware.map(|t| ns(&t)).unwrap_or(0)
                ),
            ),
            RecvAncillary::ExtendedError(e) => (
                "exterr",
                format!(
                    "{}/{}/{}/{}/{}/{}/{}/{}",
                    e.error.name(),
                    e.errno,
                    e.origin.report(),
                    e.kind,
                    e.code,
                    e.info,
                    e.data,
                    e.offender.report()
                ),
            ),
            RecvAncillary::GroSegmentSize(n) => ("gro", n.to_string()),
            RecvAncillary::Dropped(n) => ("dropped", n.to_string()),
            RecvAncillary::Credentials(c) => ("credentials", format!("{}", c.pid)),
            RecvAncillary::Pidfd(h) => ("pidfd", h.kind().report()),
            RecvAncillary::SecurityLabel(l) => ("security", String::from_utf8_lossy(l).into()),
            RecvAncillary::Rights(hs) => ("rights", hs.len().to_string()),
            RecvAncillary::Raw { level, kind, data } => {
                ("raw", format!("{level}/{kind}/{}", data.report()))
            }
        };
        kinds.push(kind);
        println!("{prefix}_{kind}={value}");
    }
    println!("{prefix}_items={}", kinds.join(","));
    println!("{prefix}_flags={}", m.flags.report());
}

/// Every receive-side IP item, on one datagram sent with per-packet TTL /
/// hop limit and TOS / traffic class, then a second for monotonic stamps.
fn items(v6: bool) {
    let lo: IpAddr = if v6 {
        Ipv6Addr::LOCALHOST.into()
    } else {
        Ipv4Addr::LOCALHOST.into()
    };
    let r = UdpSocket::bind(SocketAddr::new(lo, 0)).unwrap();
    for opt in [
        ReceiveOption::PacketInfo,
        ReceiveOption::HopLimit,
        ReceiveOption::TrafficClass,
        ReceiveOption::OriginalDestination,
        ReceiveOption::Timestamp,
    ] {
        r.set_receive_option(opt, true).unwrap();
    }
    r.set_timestamping(TimestampingFlags::RX_SOFTWARE | TimestampingFlags::SOFTWARE)
        .unwrap();
    let s = UdpSocket::bind(SocketAddr::new(lo, 0)).unwrap();
    let to = r.local_addr().unwrap();
    let items: Vec<SendAncillary<'_>> = if v6 {
        vec![
            SendAncillary::HopLimit(7),
            SendAncillary::TrafficClass(0x20),
        ]
    } else {
        vec![SendAncillary::Ttl(42), SendAncillary::Tos(0x28)]
    };
    let before = now_ns();
    s.send_msg(
        &[IoSlice::new(b"one")],
        &items,
        SendFlags::empty(),
        Some(&to),
    )
    .unwrap();
    let (data, m) = recv(&r, RecvFlags::empty());
    let after = now_ns();
    println!("data={}", String::from_utf8_lossy(&data));
    println!("port={}", to.port());
    println!("before_ns={before}");
    println!("after_ns={after}");
    print_items("first", &m);
    println!("from={}", m.addr.report());
    // Microseconds for the first datagram, nanoseconds for the second.
    r.set_receive_option(ReceiveOption::Timestamp, false)
        .unwrap();
    r.set_receive_option(ReceiveOption::TimestampNs, true)
        .unwrap();
    s.send_to(b"two", to).unwrap();
    let (_, m2) = recv(&r, RecvFlags::empty());
    print_items("second", &m2);
}

/// A source address chosen with IP_PKTINFO: an allowed one is used, one
/// outside the policy is refused and nothing is sent.
fn pktinfo_source() {
    let r = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = r.local_addr().unwrap();
    let s = UdpSocket::unbound(AddressFamily::Ipv4).unwrap();
    let chosen = [SendAncillary::Ipv4PacketInfo {
        interface: 0,
        source: Ipv4Addr::new(127, 0, 0, 2),
    }];
    s.send_msg(
        &[IoSlice::new(b"a")],
        &chosen,
        SendFlags::empty(),
        Some(&to),
    )
    .unwrap();
    let (_, m) = recv(&r, RecvFlags::empty());
    println!("from={}", m.addr.report());
    let outside = [SendAncillary::Ipv4PacketInfo {
        interface: 0,
        source: Ipv4Addr::new(10, 9, 9, 9),
    }];
    let e = s
        .send_msg(
            &[IoSlice::new(b"b")],
            &outside,
            SendFlags::empty(),
            Some(&to),
        )
        .unwrap_err();
    println!("outside={}", code(&e));
    // A raw IP_PKTINFO would bypass that check: never allowed as raw.
    let raw = [SendAncillary::Raw {
        level: 0,
        kind: 8,
        data: &[0; 12],
    }];
    let e = s
        .send_msg(&[IoSlice::new(b"c")], &raw, SendFlags::empty(), Some(&to))
        .unwrap_err();
    println!("raw_pktinfo={}", code(&e));
    r.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 8];
    show("then", r.recv(&mut buf));

    // IPV6_PKTINFO: the same, on IPv6.
    let r6 = UdpSocket::bind("[::1]:0").unwrap();
    let to6 = r6.local_addr().unwrap();
    let s6 = UdpSocket::unbound(AddressFamily::Ipv6).unwrap();
    let chosen = [SendAncillary::Ipv6PacketInfo {
        interface: 0,
        source: Ipv6Addr::LOCALHOST,
    }];
    s6.send_msg(
        &[IoSlice::new(b"a")],
        &chosen,
        SendFlags::empty(),
        Some(&to6),
    )
    .unwrap();
    let (_, m) = recv(&r6, RecvFlags::empty());
    println!("from6={}", m.addr.report());
    let outside = [SendAncillary::Ipv6PacketInfo {
        interface: 0,
        source: "2001:db8::1".parse().unwrap(),
    }];
    let e = s6
        .send_msg(
            &[IoSlice::new(b"b")],
            &outside,
            SendFlags::empty(),
            Some(&to6),
        )
        .unwrap_err();
    println!("outside6={}", code(&e));
    r6.set_nonblocking(true).unwrap();
    show("then6", r6.recv(&mut buf));
}

/// IP_RECVERR: a datagram to a closed port comes back as an ICMP error on
/// the error queue, with the offender's address.
fn recverr(port: u16) {
    let v6 = std::env::args().nth(3).as_deref() == Some("v6");
    let lo: IpAddr = if v6 {
        Ipv6Addr::LOCALHOST.into()
    } else {
        Ipv4Addr::LOCALHOST.into()
    };
    let s = UdpSocket::bind(SocketAddr::new(lo, 0)).unwrap();
    s.set_receive_option(ReceiveOption::Errors, true).unwrap();
    s.connect(SocketAddr::new(lo, port)).unwrap();
    s.send(b"anyone?").unwrap();
    capsock::wait(&[&s.readable().unwrap()], Some(Duration::from_secs(5))).unwrap();
    let (data, m) = recv(&s, RecvFlags::ERROR_QUEUE);
    println!("echoed={}", String::from_utf8_lossy(&data));
    print_items("err", &m);
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 8];
    show("then", s.recv(&mut buf));
}

/// UDP_SEGMENT on send, UDP_GRO on receive: one 3000-byte send in
/// 1000-byte segments arrives whole with GRO on, as three datagrams without.
fn gso_gro() {
    let gro = UdpSocket::bind("127.0.0.1:0").unwrap();
    gro.set_receive_option(ReceiveOption::Gro, true).unwrap();
    let plain = UdpSocket::bind("127.0.0.1:0").unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    for to in [gro.local_addr().unwrap(), plain.local_addr().unwrap()] {
        let n = s
            .send_msg(
                &[IoSlice::new(&payload)],
                &[SendAncillary::SegmentSize(1000)],
                SendFlags::empty(),
                Some(&to),
            )
            .unwrap();
        println!("sent={n}");
    }
    let (data, m) = recv(&gro, RecvFlags::empty());
    println!("gro_len={}", data.len());
    println!("gro_intact={}", data == payload);
    print_items("gro", &m);
    plain.set_nonblocking(true).unwrap();
    let mut sizes = Vec::new();
    let mut joined = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok(n) = plain.recv(&mut buf) {
        sizes.push(n);
        joined.extend_from_slice(&buf[..n]);
    }
    println!("plain_sizes={}", sizes.report());
    println!("plain_intact={}", joined == payload);
    // GSO on a Unix socket is refused.
    let (a, _b) = UnixDatagram::pair().unwrap();
    let e = a
        .send_msg(
            &[IoSlice::new(b"x")],
            &[SendAncillary::SegmentSize(1)],
            SendFlags::empty(),
            None,
        )
        .unwrap_err();
    println!("unix_gso={}", code(&e));
}

/// SO_RXQ_OVFL: overflow a small receive buffer, then read the drop count.
fn rxq_ovfl() {
    let r = UdpSocket::bind("127.0.0.1:0").unwrap();
    r.set_recv_buffer_size(4096).unwrap();
    println!("rcvbuf={}", r.recv_buffer_size().unwrap());
    r.set_receive_option(ReceiveOption::DroppedCount, true)
        .unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = r.local_addr().unwrap();
    for _ in 0..200 {
        s.send_to(&[7u8; 512], to).unwrap();
    }
    r.set_nonblocking(true).unwrap();
    let mut received = 0;
    let mut dropped = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(m) = r.recv_msg(&mut [IoSliceMut::new(&mut buf)], 256, RecvFlags::empty()) {
        received += 1;
        for item in &m.ancillary {
            if let RecvAncillary::Dropped(n) = item {
                dropped.push(*n);
            }
        }
    }
    println!("received={received}");
    // A datagram carries the count of drops before it was queued: the ones
    // queued before the buffer filled say nothing, the next one tells.
    s.send_to(b"after", to).unwrap();
    capsock::wait(&[&r.readable().unwrap()], Some(Duration::from_secs(5))).unwrap();
    let m = r
        .recv_msg(&mut [IoSliceMut::new(&mut buf)], 256, RecvFlags::empty())
        .unwrap();
    for item in &m.ancillary {
        if let RecvAncillary::Dropped(n) = item {
            dropped.push(*n);
        }
    }
    println!("dropped={}", dropped.report());
}

/// SO_TIMESTAMPING transmit stamps, per socket and per message, read from
/// the error queue.
fn tx_timestamp() {
    let r = UdpSocket::bind("127.0.0.1:0").unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_timestamping(
        TimestampingFlags::TX_SOFTWARE
            | TimestampingFlags::SOFTWARE
            | TimestampingFlags::OPT_TSONLY
            | TimestampingFlags::OPT_ID,
    )
    .unwrap();
    let before = now_ns();
    s.send_to(b"stamp me", r.local_addr().unwrap()).unwrap();
    capsock::wait(&[&s.readable().unwrap()], Some(Duration::from_secs(5))).unwrap();
    let (data, m) = recv(&s, RecvFlags::ERROR_QUEUE);
    let after = now_ns();
    println!("before_ns={before}");
    println!("after_ns={after}");
    println!("report_len={}", data.len());
    print_items("tx", &m);
    // Per message: only SOFTWARE|OPT_TSONLY on the socket, TX_SOFTWARE on
    // the one message that asks.
    let s2 = UdpSocket::bind("127.0.0.1:0").unwrap();
    s2.set_timestamping(TimestampingFlags::SOFTWARE | TimestampingFlags::OPT_TSONLY)
        .unwrap();
    s2.send_to(b"no stamp", r.local_addr().unwrap()).unwrap();
    s2.send_msg(
        &[IoSlice::new(b"stamp")],
        &[SendAncillary::Timestamping(TimestampingFlags::TX_SOFTWARE)],
        SendFlags::empty(),
        Some(&r.local_addr().unwrap()),
    )
    .unwrap();
    capsock::wait(&[&s2.readable().unwrap()], Some(Duration::from_secs(5))).unwrap();
    let (_, m) = recv(&s2, RecvFlags::ERROR_QUEUE);
    print_items("permsg", &m);
    s2.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let more = s2.recv_msg(
        &mut [IoSliceMut::new(&mut buf)],
        512,
        RecvFlags::ERROR_QUEUE,
    );
    show("permsg_more", more.map(|m| m.bytes));
}

/// Unix items: SCM_PIDFD as an owned handle (sent on to "out" for the host
/// to check), credentials, nanosecond timestamps, and SO_PASSSEC.
fn unix_items() {
    let out = UnixDatagram::preopened("out").unwrap();
    let (a, b) = UnixDatagram::pair().unwrap();
    b.set_receive_option(ReceiveOption::Pidfd, true).unwrap();
    b.set_receive_option(ReceiveOption::Credentials, true)
        .unwrap();
    b.set_receive_option(ReceiveOption::TimestampNs, true)
        .unwrap();
    let passsec = b.set_receive_option(ReceiveOption::SecurityLabel, true);
    show("passsec", passsec);
    a.send(b"who am i").unwrap();
    let mut buf = [0u8; 64];
    let mut m = b
        .recv_msg(&mut [IoSliceMut::new(&mut buf)], 1024, RecvFlags::empty())
        .unwrap();
    print_items("unix", &m);
    let pidfd = m.ancillary.iter_mut().find_map(|a| match a {
        RecvAncillary::Pidfd(h) => h.try_clone().ok(),
        _ => None,
    });
    let pidfd = pidfd.expect("an SCM_PIDFD item");
    out.send_fds(b"pidfd", &[pidfd.as_handle()]).unwrap();
    // IP options on a Unix socket are refused.
    let e = b
        .set_receive_option(ReceiveOption::PacketInfo, true)
        .unwrap_err();
    println!("unix_pktinfo={}", code(&e));
    // Unix options on a UDP socket are refused.
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let e = u
        .set_receive_option(ReceiveOption::Pidfd, true)
        .unwrap_err();
    println!("udp_pidfd={}", code(&e));
}

/// TCP: connect to the host's listener and echo; listen and accept inside.
fn tcp(port: u16) {
    let mut c = TcpStream::connect(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)).unwrap();
    c.write_all(b"hello").unwrap();
    let mut reply = [0u8; 5];
    c.read_exact(&mut reply).unwrap();
    println!("reply={}", String::from_utf8_lossy(&reply));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mut out = TcpStream::connect(addr).unwrap();
    let (mut inn, peer) = l.accept().unwrap();
    println!("peer_is_out={}", peer == out.local_addr().unwrap());
    out.write_all(b"inside").unwrap();
    let mut got = [0u8; 6];
    inn.read_exact(&mut got).unwrap();
    println!("inside={}", String::from_utf8_lossy(&got));
    // SCM_RIGHTS on TCP is refused, not dropped.
    let (ua, _ub) = UnixDatagram::pair().unwrap();
    let lent = [ua.as_handle()];
    let e = out
        .send_msg(
            &[IoSlice::new(b"fd?")],
            &[SendAncillary::Rights(&lent)],
            SendFlags::empty(),
            None,
        )
        .unwrap_err();
    println!("tcp_rights={}", code(&e));
}

/// Every way past the network policy. The host listens on `denied` (UDP
/// and TCP) and expects nothing there; `allowed` is the one port the
/// policy allows, where one datagram proves the path works.
fn refusals(denied: u16, allowed: u16) {
    let lo = Ipv4Addr::LOCALHOST;
    let to_denied = SocketAddr::new(lo.into(), denied);
    let code = |r: std::io::Result<usize>| match r {
        Ok(n) => format!("sent:{n}"),
        Err(e) => code(&e),
    };
    let s = UdpSocket::unbound(AddressFamily::Ipv4).unwrap();
    println!("send_to={}", code(s.send_to(b"x", to_denied)));
    println!(
        "send_to_any={}",
        code(s.send_to(b"x", SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), denied)))
    );
    println!("connect_udp={}", code(s.connect(to_denied).map(|()| 0)));
    println!(
        "connect_tcp={}",
        code(TcpStream::connect(to_denied).map(|_| 0))
    );
    println!(
        "bind_denied={}",
        code(UdpSocket::bind(SocketAddr::new(lo.into(), denied)).map(|_| 0))
    );
    println!(
        "bind_any={}",
        code(UdpSocket::bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), allowed)).map(|_| 0))
    );
    println!(
        "bind_port0={}",
        code(UdpSocket::bind(SocketAddr::new(lo.into(), 0)).map(|_| 0))
    );
    println!(
        "create_v6={}",
        code(UdpSocket::unbound(AddressFamily::Ipv6).map(|_| 0))
    );
    let (ua, _ub) = UnixDatagram::pair().unwrap();
    let lent = [ua.as_handle()];
    let to_allowed = SocketAddr::new(lo.into(), allowed);
    let with = |items: &[SendAncillary<'_>]| {
        code(s.send_msg(
            &[IoSlice::new(b"x")],
            items,
            SendFlags::empty(),
            Some(&to_allowed),
        ))
    };
    println!("udp_rights={}", with(&[SendAncillary::Rights(&lent)]));
    println!(
        "udp_credentials={}",
        with(&[SendAncillary::Credentials(capsock::Credentials {
            pid: 1,
            uid: 0,
            gid: 0
        })])
    );
    println!("udp4_hop_limit={}", with(&[SendAncillary::HopLimit(1)]));
    println!(
        "udp_raw_pktinfo={}",
        with(&[SendAncillary::Raw {
            level: 0,
            kind: 8,
            data: &[0; 12]
        }])
    );
    println!(
        "udp_bad_source={}",
        with(&[SendAncillary::Ipv4PacketInfo {
            interface: 0,
            source: Ipv4Addr::new(127, 0, 0, 9)
        }])
    );
    // An IP address on a Unix socket.
    println!("unix_ip={}", unix_ip::send_ip_on_unix_socket(to_allowed));
    // And the one allowed send.
    println!("allowed={}", with(&[SendAncillary::Ttl(5)]));
}

/// Without any --allow-ip, no IP socket can even be created.
fn no_policy() {
    for (key, family) in [("ipv4", AddressFamily::Ipv4), ("ipv6", AddressFamily::Ipv6)] {
        let e = UdpSocket::unbound(family).unwrap_err();
        println!("{key}={}", code(&e));
    }
    let e = TcpStream::connect("127.0.0.1:9").unwrap_err();
    println!("tcp={}", code(&e));
}

/// Plain `std::net` (WASI's own sockets, not capsock's): a TCP exchange
/// with the host on `tcp`, a datagram to `udp`, and connects, sends and a
/// listen the policy refuses (`denied`, port 0). Each line is `ok:...` or
/// `err:KIND`.
fn std_net(tcp: u16, udp: u16, denied: u16) {
    let at = |port| SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    let out = |r: std::io::Result<String>| match r {
        Ok(v) => format!("ok:{v}"),
        Err(e) => format!("err:{:?}", e.kind()),
    };
    let exchange = || {
        let mut c = std::net::TcpStream::connect(at(tcp))?;
        c.write_all(b"ping")?;
        let mut reply = [0u8; 4];
        c.read_exact(&mut reply)?;
        Ok(String::from_utf8_lossy(&reply).into_owned())
    };
    println!("tcp={}", out(exchange()));
    let refused = std::net::TcpStream::connect(at(denied)).map(|_| String::new());
    println!("tcp_denied={}", out(refused));
    match std::net::UdpSocket::bind("0.0.0.0:0") {
        Ok(u) => {
            let sent = u.send_to(b"dgram", at(udp)).map(|n| n.to_string());
            println!("udp={}", out(sent));
            let sent = u.send_to(b"dgram", at(denied)).map(|n| n.to_string());
            println!("udp_denied={}", out(sent));
        }
        Err(e) => {
            println!("udp=err:{:?}", e.kind());
            println!("udp_denied=err:{:?}", e.kind());
        }
    }
    // The wildcard with port 0 passes the bind check (it is what an
    // implicit bind looks like); the listen on it is refused.
    let listen = std::net::TcpListener::bind("0.0.0.0:0").map(|_| String::new());
    println!("listen={}", out(listen));
}

/// Against a CPython peer: send TTL/TOS and hop limit/traffic class to it,
/// then receive its reply's items.
fn python(port4: u16, port6: u16) {
    let s4 = UdpSocket::bind("127.0.0.1:0").unwrap();
    s4.set_receive_option(ReceiveOption::HopLimit, true)
        .unwrap();
    s4.set_receive_option(ReceiveOption::TrafficClass, true)
        .unwrap();
    s4.send_msg(
        &[IoSlice::new(b"v4")],
        &[SendAncillary::Ttl(33), SendAncillary::Tos(0x10)],
        SendFlags::empty(),
        Some(&SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port4)),
    )
    .unwrap();
    let (_, m) = recv(&s4, RecvFlags::empty());
    print_items("v4", &m);
    let s6 = UdpSocket::bind("[::1]:0").unwrap();
    s6.set_receive_option(ReceiveOption::HopLimit, true)
        .unwrap();
    s6.set_receive_option(ReceiveOption::TrafficClass, true)
        .unwrap();
    s6.send_msg(
        &[IoSlice::new(b"v6")],
        &[
            SendAncillary::HopLimit(9),
            SendAncillary::TrafficClass(0x48),
        ],
        SendFlags::empty(),
        Some(&SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port6)),
    )
    .unwrap();
    let (_, m) = recv(&s6, RecvFlags::empty());
    print_items("v6", &m);
}
