//! UDP and TCP sockets under the network policy, and every typed control
//! message, round-tripped over loopback against the kernel (and, for the
//! RFC 3542 items and IP_TOS, against a CPython peer).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};

use capsock_host::{native, Policy};

use crate::support::{self, guests, open_fds, run_guest_with, GuestRun, Options};

fn policy(rules: &[&str]) -> Policy {
    let mut p = Policy::new();
    for r in rules {
        p.allow_ip(r.parse().unwrap());
    }
    p
}

/// Runs `inet ARGS` under `rules` and checks that it succeeded and that
/// the host's fd count is back where it was. The caller holds
/// `support::exclusive(&[guests::INET])`.
fn inet(args: &[&str], rules: &[&str]) -> GuestRun {
    inet_with(args, rules, Vec::new(), || ())
}

/// [`inet`] with grants, and `after` run before the fd count is compared.
fn inet_with(
    args: &[&str],
    rules: &[&str],
    grants: Vec<(&str, std::os::fd::OwnedFd)>,
    after: impl FnOnce(),
) -> GuestRun {
    let baseline = open_fds();
    let run = run_guest_with(
        guests::INET,
        args,
        grants,
        Options {
            policy: Some(policy(rules)),
            ..Options::default()
        },
    )
    .unwrap();
    run.assert_ok();
    after();
    assert_eq!(open_fds(), baseline, "fds left open: {run:#?}");
    run
}

/// The IP address of the socket address at `key` (a received message's
/// source).
fn source_ip(run: &GuestRun, key: &str) -> String {
    let value = run.get(key);
    let addr: std::net::SocketAddr = value
        .parse()
        .unwrap_or_else(|_| panic!("{key}={value} is not an IP socket address: {run:#?}"));
    addr.ip().to_string()
}

fn ns(run: &GuestRun, key: &str) -> i128 {
    run.get(key).parse().unwrap()
}

fn loopback_index() -> String {
    std::fs::read_to_string("/sys/class/net/lo/ifindex")
        .unwrap()
        .trim()
        .to_string()
}

/// A UDP port nobody listens on (bound, then released).
fn closed_udp_port(ip: &str) -> u16 {
    UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn check_items(run: &GuestRun, v6: bool) {
    let lo = loopback_index();
    assert_eq!(run.get("data"), "one");
    let port = run.get("port");
    if v6 {
        assert_eq!(run.get("first_hop_limit"), "7");
        assert_eq!(run.get("first_traffic_class"), "32");
        assert_eq!(run.get("first_pktinfo"), format!("{lo}/::1"));
        assert_eq!(run.get("first_origdst"), format!("[::1]:{port}"));
        // The kernel's defaults when the sender sets nothing.
        assert_eq!(run.get("second_hop_limit"), "64");
        assert_eq!(run.get("second_traffic_class"), "0");
    } else {
        assert_eq!(run.get("first_ttl"), "42");
        assert_eq!(run.get("first_tos"), "40");
        assert_eq!(
            run.get("first_pktinfo"),
            format!("{lo}/127.0.0.1/127.0.0.1")
        );
        assert_eq!(run.get("first_origdst"), format!("127.0.0.1:{port}"));
        assert_eq!(run.get("second_ttl"), "64");
        assert_eq!(run.get("second_tos"), "0");
    }
    // Timestamps: plausible (between the guest's wall-clock readings around
    // the receive; SO_TIMESTAMP has microseconds, so it may read up to 1 µs
    // early) and monotonic across the two datagrams.
    let (before, after) = (ns(run, "before_ns"), ns(run, "after_ns"));
    let usec = ns(run, "first_timestamp_ns");
    assert_eq!(usec % 1000, 0, "SO_TIMESTAMP is whole microseconds");
    assert!(
        before - 1000 <= usec && usec <= after,
        "{before} {usec} {after}"
    );
    let (sw, hw) = run
        .get("first_timestamping_ns")
        .split_once('/')
        .map(|(a, b)| (a.parse::<i128>().unwrap(), b.to_string()))
        .unwrap();
    assert!(before <= sw && sw <= after, "{before} {sw} {after}");
    assert_eq!(hw, "0", "no hardware stamp on loopback");
    assert_eq!(usec / 1000, sw / 1000, "both stamps are the same arrival");
    let second = ns(run, "second_timestampns_ns");
    assert!(second >= sw, "stamps are monotonic: {sw} then {second}");
    assert!(
        !run.get("first_items").contains("timestampns")
            && !run.get("second_items").contains("timestamp_ns"),
        "SO_TIMESTAMP then SO_TIMESTAMPNS, one at a time: {run:#?}"
    );
}

#[test]
fn ipv4_items_round_trip_over_loopback() {
    let _fds = support::exclusive(&[guests::INET]);
    let run = inet(&["items", "false"], &["127.0.0.0/8"]);
    check_items(&run, false);
    assert_eq!(source_ip(&run, "from"), "127.0.0.1");
}

#[test]
fn ipv6_items_round_trip_over_loopback() {
    let _fds = support::exclusive(&[guests::INET]);
    let run = inet(&["items", "true"], &["::1"]);
    check_items(&run, true);
    assert_eq!(source_ip(&run, "from"), "::1");
}

#[test]
fn pktinfo_source_is_used_when_allowed_and_refused_outside_the_policy() {
    let _fds = support::exclusive(&[guests::INET]);
    let run = inet(&["pktinfo_source"], &["127.0.0.0/8", "::1"]);
    assert_eq!(
        source_ip(&run, "from"),
        "127.0.0.2",
        "the chosen source address"
    );
    assert_eq!(run.get("outside"), "access-denied");
    assert_eq!(run.get("raw_pktinfo"), "access-denied");
    assert_eq!(
        run.get("then"),
        "err:WouldBlock:would-block",
        "nothing else arrived"
    );
    assert_eq!(source_ip(&run, "from6"), "::1");
    assert_eq!(run.get("outside6"), "access-denied");
    assert_eq!(run.get("then6"), "err:WouldBlock:would-block");
}

#[test]
fn ip_recverr_reports_icmp_port_unreachable_with_its_offender() {
    let _fds = support::exclusive(&[guests::INET]);
    let port = closed_udp_port("127.0.0.1").to_string();
    let run = inet(&["recverr", &port, "v4"], &["127.0.0.1"]);
    let errno = libc::ECONNREFUSED;
    assert_eq!(
        run.get("err_exterr"),
        format!("connection-refused/{errno}/icmp/3/3/0/0/127.0.0.1:0")
    );
    assert_eq!(run.get("err_flags"), "error-queue");
    assert_eq!(
        run.get("echoed"),
        "anyone?",
        "the offending datagram comes back"
    );
    assert_eq!(run.get("then"), "err:WouldBlock:would-block");

    let port = closed_udp_port("::1").to_string();
    let run = inet(&["recverr", &port, "v6"], &["::1"]);
    assert_eq!(
        run.get("err_exterr"),
        format!("connection-refused/{errno}/icmp6/1/4/0/0/[::1]:0")
    );
}

#[test]
fn udp_segmentation_and_gro_on_loopback() {
    let _fds = support::exclusive(&[guests::INET]);
    let run = inet(&["gso_gro"], &["127.0.0.1"]);
    assert_eq!(run.get("sent"), "3000");
    assert_eq!(run.get("gro_len"), "3000", "coalesced: one receive");
    assert_eq!(run.get("gro_intact"), "true");
    assert_eq!(run.get("gro_gro"), "1000");
    assert_eq!(run.get("plain_sizes"), "[1000,1000,1000]");
    assert_eq!(run.get("plain_intact"), "true");
    assert_eq!(run.get("unix_gso"), "not-supported");
}

#[test]
fn rxq_ovfl_counts_drops_of_an_overflowing_buffer() {
    let _fds = support::exclusive(&[guests::INET]);
    let run = inet(&["rxq_ovfl"], &["127.0.0.1"]);
    let received: u32 = run.get("received").parse().unwrap();
    assert!(received > 0 && received < 200, "{run:#?}");
    assert_eq!(run.get("dropped"), format!("[{}]", 200 - received));
}

#[test]
fn transmit_timestamps_arrive_on_the_error_queue() {
    let _fds = support::exclusive(&[guests::INET]);
    let run = inet(&["tx_timestamp"], &["127.0.0.1"]);
    let (before, after) = (ns(&run, "before_ns"), ns(&run, "after_ns"));
    let sw: i128 = run
        .get("tx_timestamping_ns")
        .split_once('/')
        .unwrap()
        .0
        .parse()
        .unwrap();
    assert!(before <= sw && sw <= after, "{before} {sw} {after}");
    // ENOMSG, SO_EE_ORIGIN_TIMESTAMPING, SCM_TSTAMP_SND (0), OPT_ID 0.
    assert_eq!(
        run.get("tx_exterr"),
        format!("unknown/{}/timestamping/0/0/0/0/none", libc::ENOMSG)
    );
    assert_eq!(run.get("report_len"), "0", "OPT_TSONLY: no packet copy");
    assert_eq!(run.get("tx_flags"), "error-queue");
    // Per message: exactly one report, for the message that asked.
    assert!(run.get("permsg_items").contains("timestamping_ns"));
    assert_eq!(run.get("permsg_more"), "err:WouldBlock:would-block");
}

#[test]
fn unix_items_pidfd_credentials_and_security_label() {
    let _fds = support::exclusive(&[guests::INET]);
    let (ours, theirs) = UnixDatagram::pair().unwrap();
    // The pidfd is there once the guest has exited, or the test fails.
    ours.set_nonblocking(true).unwrap();
    let mut passed = None;
    let run = inet_with(
        &["unix_items"],
        &["127.0.0.1"],
        vec![("out", theirs.into())],
        || passed = Some(native::recv_fds(ours.as_fd(), 16, 4).unwrap()),
    );
    let own_pid = std::process::id().to_string();
    assert_eq!(run.get("unix_credentials"), own_pid);
    assert!(run.get("unix_items").contains("pidfd"), "{run:#?}");
    assert!(run.get("unix_items").contains("timestampns_ns"));
    // The pidfd the guest received and passed on is a pidfd for us.
    let (data, fds, _) = passed.unwrap();
    assert_eq!(data, b"pidfd");
    assert_eq!(fds.len(), 1);
    let info =
        std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fds[0].as_raw_fd())).unwrap();
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .expect("a pidfd's fdinfo has Pid:");
    assert_eq!(pid.trim(), own_pid);
    drop(fds);
    // SO_PASSSEC is accepted; SCM_SECURITY arrives only where an LSM labels
    // sockets (SELinux, Smack, AppArmor), and then as a typed label.
    assert_eq!(run.get("passsec"), "ok");
    let lsm = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    let labelling = ["selinux", "smack", "apparmor"]
        .iter()
        .any(|m| lsm.split(',').any(|l| l.trim() == *m));
    assert_eq!(
        run.get("unix_items").contains("security"),
        labelling,
        "LSMs: {lsm:?}"
    );
    assert!(!run.get("unix_items").contains("raw"), "{run:#?}");
    assert_eq!(run.get("unix_pktinfo"), "not-supported");
    assert_eq!(run.get("udp_pidfd"), "not-supported");
}

#[test]
fn tcp_connect_listen_accept_and_rights_refused() {
    let _fds = support::exclusive(&[guests::INET]);
    // Shared, so the listener's fd outlives the thread and the count.
    let listener = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let port = listener.local_addr().unwrap().port();
    let server_listener = listener.clone();
    let server = std::thread::spawn(move || {
        let listener = server_listener;
        let (mut c, _) = listener.accept().unwrap();
        let mut word = [0u8; 5];
        c.read_exact(&mut word).unwrap();
        c.write_all(&word.to_ascii_uppercase()).unwrap();
    });
    let run = inet_with(
        &["tcp", &port.to_string()],
        &["127.0.0.1"],
        Vec::new(),
        || server.join().unwrap(),
    );
    assert_eq!(run.get("reply"), "HELLO");
    assert_eq!(run.get("peer_is_out"), "true");
    assert_eq!(run.get("inside"), "inside");
    assert_eq!(run.get("tcp_rights"), "not-supported");
}

#[test]
fn every_refused_destination_and_source_sends_nothing() {
    let _fds = support::exclusive(&[guests::INET]);
    // The denied port has a UDP socket and a TCP listener on it; the one
    // allowed port a UDP socket.
    let denied_udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let denied = denied_udp.local_addr().unwrap().port();
    let denied_tcp = TcpListener::bind(("127.0.0.1", denied)).unwrap();
    let allowed_udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let allowed = allowed_udp.local_addr().unwrap().port();
    let rule = format!("127.0.0.1:{allowed}");
    let run = inet(
        &["refusals", &denied.to_string(), &allowed.to_string()],
        &[&rule],
    );
    let expect: HashMap<&str, &str> = [
        ("send_to", "access-denied"),
        ("send_to_any", "access-denied"),
        ("connect_udp", "access-denied"),
        ("connect_tcp", "access-denied"),
        ("bind_denied", "access-denied"),
        ("bind_any", "access-denied"),
        ("bind_port0", "access-denied"),
        ("create_v6", "access-denied"),
        ("udp_rights", "not-supported"),
        ("udp_credentials", "not-supported"),
        ("udp4_hop_limit", "not-supported"),
        ("udp_raw_pktinfo", "access-denied"),
        ("udp_bad_source", "access-denied"),
        ("unix_ip", "address-family-not-supported"),
        ("allowed", "sent:1"),
    ]
    .into();
    for (key, value) in &expect {
        assert_eq!(run.get(key), *value, "{key}");
    }
    // Nothing reached the denied port, by UDP or TCP.
    denied_udp.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        denied_udp.recv_from(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    denied_tcp.set_nonblocking(true).unwrap();
    assert_eq!(
        denied_tcp.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    // Exactly one datagram reached the allowed port: the allowed send.
    allowed_udp.set_nonblocking(true).unwrap();
    assert_eq!(allowed_udp.recv(&mut buf).unwrap(), 1);
    assert_eq!(
        allowed_udp.recv(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}

#[test]
fn without_a_network_policy_no_ip_socket_exists() {
    let _fds = support::exclusive(&[guests::INET]);
    let run = inet(&["no_policy"], &[]);
    assert_eq!(run.get("ipv4"), "access-denied");
    assert_eq!(run.get("ipv6"), "access-denied");
    assert_eq!(run.get("tcp"), "access-denied");
}

/// Plain `std::net` in the guest (`wasi:sockets`) is allowed exactly what
/// the same rules allow capsock's sockets, through
/// `Policy::apply_to_wasi`: a TCP exchange and a datagram on the allowed
/// ports, nothing on the denied one (checked at the host's sockets there),
/// no listening on a port the rules do not cover; and without rules no
/// TCP or UDP at all.
#[test]
fn std_net_in_the_guest_follows_the_same_rules() {
    let _fds = support::exclusive(&[guests::INET]);
    // Shared, so the listener's fd outlives the thread and the count.
    let server = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let tcp = server.local_addr().unwrap().port();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let denied_udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let denied = denied_udp.local_addr().unwrap().port();
    let denied_tcp = TcpListener::bind(("127.0.0.1", denied)).unwrap();
    let ports = [tcp, udp_port, denied].map(|p| p.to_string());
    let args = ["std_net", &ports[0], &ports[1], &ports[2]];

    let serving = server.clone();
    let serve = std::thread::spawn(move || {
        let (mut c, _) = serving.accept().unwrap();
        let mut word = [0u8; 4];
        c.read_exact(&mut word).unwrap();
        c.write_all(&word.to_ascii_uppercase()).unwrap();
    });
    let rules = [format!("127.0.0.1:{tcp}"), format!("127.0.0.1:{udp_port}")];
    let run = inet_with(&args, &[&rules[0], &rules[1]], Vec::new(), || {
        serve.join().unwrap()
    });
    assert_eq!(run.get("tcp"), "ok:PING");
    assert_eq!(run.get("tcp_denied"), "err:PermissionDenied");
    assert_eq!(run.get("udp"), "ok:5");
    assert_eq!(run.get("udp_denied"), "err:PermissionDenied");
    assert_eq!(run.get("listen"), "err:PermissionDenied");
    let mut buf = [0u8; 16];
    udp.set_nonblocking(true).unwrap();
    assert_eq!(udp.recv(&mut buf).unwrap(), 5);
    denied_udp.set_nonblocking(true).unwrap();
    assert!(denied_udp.recv(&mut buf).is_err(), "a datagram got through");
    denied_tcp.set_nonblocking(true).unwrap();
    assert!(denied_tcp.accept().is_err(), "a connection got through");

    // No rules: no socket of WASI's either.
    let run = inet(&args, &[]);
    for key in ["tcp", "tcp_denied", "udp", "udp_denied", "listen"] {
        assert_eq!(run.get(key), "err:PermissionDenied", "{key}");
    }
    server.set_nonblocking(true).unwrap();
    assert!(server.accept().is_err(), "a connection got through");
}

#[test]
fn rfc3542_hop_limit_traffic_class_and_ip_tos_against_cpython() {
    let _fds = support::exclusive(&[guests::INET]);
    let mut peer = Command::new("python3")
        .arg(support::peers_dir().join("inet_peer.py"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 must be installed");
    let mut out = BufReader::new(peer.stdout.take().unwrap());
    let mut ports = String::new();
    out.read_line(&mut ports).unwrap();
    let (p4, p6) = ports.trim().split_once(' ').unwrap();
    let run = inet(&["python", p4, p6], &["127.0.0.1", "::1"]);
    let mut report = String::new();
    out.read_to_string(&mut report).unwrap();
    assert!(peer.wait().unwrap().success());
    let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    // What CPython received from the guest's typed items.
    assert_eq!(report["v4"]["data"], "v4");
    assert_eq!(report["v4"]["ttl"], 33);
    assert_eq!(report["v4"]["tos"], 0x10);
    assert_eq!(report["v6"]["data"], "v6");
    assert_eq!(report["v6"]["hop_limit"], 9);
    assert_eq!(report["v6"]["traffic_class"], 0x48);
    // What the guest received from CPython's sendmsg items.
    assert_eq!(run.get("v4_ttl"), "21");
    assert_eq!(run.get("v4_tos"), "32");
    assert_eq!(run.get("v6_hop_limit"), "17");
    assert_eq!(run.get("v6_traffic_class"), "48");
}
