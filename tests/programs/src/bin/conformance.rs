//! Guest side of the conformance scenarios (docs/conformance.md), through
//! the SDK only.
//! `conformance <scenario>`; the socket to the peer is granted as "peer".
//! Results are printed as `key=value` lines for the test to check (see this
//! crate's lib.rs); any failure panics, so the guest exits non-zero.

use std::io::{IoSlice, IoSliceMut, Read, Write};

use capsock::{
    cmsg_len, cmsg_space, error_code, AsHandle, MessageFlags, RecvAncillary, RecvFds, RecvFlags,
    SendAncillary, SendFlags, SocketExt, UnixDatagram, UnixSeqpacket, UnixSocketAddr, UnixStream,
    FD_SIZE,
};
use capsock_test_programs::{Report, Text};

fn main() {
    let scenario = std::env::args()
        .nth(1)
        .expect("usage: conformance <scenario>");
    match scenario.as_str() {
        "c01" => c01_send_hello(),
        "c02" => c02_receive_two_files(),
        "c03" => c03_copy_descriptor(),
        "c11_wrong_socket_type" => c11_wrong_socket_type(),
        "c12" => c12_gather(),
        "c13" => c13_scatter(),
        "c20" => c20_receive_many_drop_half(),
        "recv_fds" => recv_fds(),
        "recv_msg_fds" => recv_msg_fds(),
        "recv_watch" => recv_watch(&arg(2)),
        "c09" => c09_stream_boundaries_at_fds(),
        "c10" => c10_zero_bytes_with_an_fd(),
        "c14" => c14_datagram_truncated(),
        "c15" => c15_unconnected_datagram(&arg(2), &arg(3)),
        "c16" => c16_peek(),
        "c17" => c17_dont_wait_until_full(),
        "c18" => c18_peer_closed(),
        "c19" => c19_credentials(),
        "parity" => parity(&std::env::args().skip(2).collect::<Vec<_>>()),
        "recv_fds_parity" => recv_fds_parity(&std::env::args().skip(2).collect::<Vec<_>>()),
        "pipe_report" => pipe_report(),
        "own_credentials" => own_credentials(),
        other => panic!("unknown scenario {other}"),
    }
}

fn arg(i: usize) -> String {
    std::env::args()
        .nth(i)
        .unwrap_or_else(|| panic!("argument {i} missing"))
}

/// Control space from a name: CPython's SCMRightsTest cases, or
/// `space:N` / `len:N` (CMSG_SPACE / CMSG_LEN of N fds), or `raw:N` bytes.
/// Sizes come from the host's helpers, as a guest must compute them.
fn control_space(spec: &str) -> usize {
    let int = FD_SIZE;
    match spec {
        "0" => 0,
        "1" => 1,
        "2int" => 2 * int,
        "len0-1" => cmsg_len(0) - 1,
        "len0" => cmsg_len(0),
        "len0+1" => cmsg_len(0) + 1,
        "lenint" => cmsg_len(int),
        "len2int-1" => cmsg_len(2 * int) - 1,
        "space2int" => cmsg_space(2 * int),
        _ => {
            let (kind, n) = spec.split_once(':').expect("a control-space spec");
            let n: usize = n.parse().expect("a number");
            match kind {
                "space" => cmsg_space(n * int),
                "len" => cmsg_len(n * int),
                "raw" => n,
                _ => panic!("unknown control-space spec {spec}"),
            }
        }
    }
}

/// One handle count per `rights` item, e.g. "2" or "1,1"; "" for none.
fn rights_shape(msg: &capsock::RecvMsg) -> String {
    let counts: Vec<String> = msg
        .ancillary
        .iter()
        .filter_map(|a| match a {
            RecvAncillary::Rights(h) => Some(h.len().to_string()),
            _ => None,
        })
        .collect();
    counts.join(",")
}

/// Reads the one-byte index the peer wrote through each received socket.
fn read_order(handles: &mut [capsock::OwnedHandle]) -> String {
    let mut order = String::new();
    for h in handles {
        let mut b = [0u8; 1];
        h.read_exact(&mut b).unwrap();
        order.push(b[0] as char);
    }
    order
}

fn peer() -> UnixStream {
    UnixStream::preopened("peer").expect("grant \"peer\"")
}

fn c01_send_hello() {
    let n = peer()
        .send_msg(
            &[IoSlice::new(b"Hello, world")],
            &[],
            SendFlags::empty(),
            None,
        )
        .unwrap();
    println!("sent={n}");
}

fn c02_receive_two_files() {
    let RecvFds {
        data, fds, flags, ..
    } = peer().recv_fds(1024, 8).unwrap();
    println!("data={}", String::from_utf8_lossy(&data));
    println!("handles={}", fds.len());
    println!("flags={}", flags.bits());
    for (i, mut h) in fds.into_iter().enumerate() {
        let mut text = String::new();
        h.read_to_string(&mut text).unwrap();
        println!("kind{i}={}", h.kind().report());
        println!("file{i}={}", text.report());
    }
}

fn c03_copy_descriptor() {
    let peer = peer();
    // The peer made a pipe and lent us its read end.
    let mut reader = peer
        .recv_fds(16, 1)
        .unwrap()
        .fds
        .pop()
        .expect("the pipe's read end");
    // Twisted's copy_descriptor: one byte of data carries the copy.
    let sent = peer.send_fds(b"\x00", &[reader.as_handle()]).unwrap();
    println!("sent={sent}");
    // Wait until the peer wrote "Hello, world" and read its 6 bytes.
    let mut go = [0u8; 2];
    (&peer).read_exact(&mut go).unwrap();
    assert_eq!(&go, b"go");
    let mut half = [0u8; 6];
    reader.read_exact(&mut half).unwrap();
    println!("guest_read={}", String::from_utf8_lossy(&half));
}

fn c11_wrong_socket_type() {
    let stream = peer()
        .recv_fds(16, 1)
        .unwrap()
        .fds
        .pop()
        .expect("a stream socket handle");
    // A stream socket where a datagram socket is required: an error, and
    // the handle comes back untouched.
    let err = UnixDatagram::try_from(stream).unwrap_err();
    println!("datagram_error_kind={:?}", err.error().kind());
    let stream = UnixStream::try_from(err.into_handle()).expect("still a usable stream socket");
    (&stream).write_all(b"still usable").unwrap();
    println!("converted=stream");
}

const MSG: &[u8] = b"Message!\n";

fn c12_gather() {
    let n = peer()
        .send_msg(
            &[IoSlice::new(&MSG[..3]), IoSlice::new(&MSG[3..])],
            &[],
            SendFlags::empty(),
            None,
        )
        .unwrap();
    println!("sent={n}");
}

fn c13_scatter() {
    let (mut a, mut b, mut c) = ([0u8; 4], [0u8; 7], [0u8; 14]);
    let m = peer()
        .recv_msg(
            &mut [
                IoSliceMut::new(&mut a),
                IoSliceMut::new(&mut b),
                IoSliceMut::new(&mut c),
            ],
            0,
            RecvFlags::empty(),
        )
        .unwrap();
    println!("bytes={}", m.bytes);
    println!("a={}", Text(&a).report());
    println!("b={}", Text(&b).report());
    println!("c={}", Text(&c).report());
    println!("flags={}", m.flags.bits());
}

fn c20_receive_many_drop_half() {
    let peer = peer();
    let mut kept = Vec::new();
    for i in 0..100 {
        let mut got = peer.recv_fds(16, 1).unwrap();
        assert_eq!(got.data, format!("{i}").as_bytes());
        let h = got.fds.pop().expect("one handle per message");
        if i % 2 == 1 {
            kept.push(h);
        } // even ones are dropped right here
    }
    println!("kept={}", kept.len());
    (&peer).write_all(b"dropped").unwrap();
    let mut checked = [0u8; 7];
    (&peer).read_exact(&mut checked).unwrap();
    assert_eq!(&checked, b"checked");
    // Exit without dropping the kept handles: the host must close them.
    std::mem::forget(kept);
}

/// Receives one message with up to 8 fds and reports it, dropping the handles.
fn recv_fds() {
    let RecvFds {
        data, fds, flags, ..
    } = peer().recv_fds(1024, 8).unwrap();
    println!("data={}", String::from_utf8_lossy(&data));
    println!("handles={}", fds.len());
    println!("flags={}", flags.report());
}

/// `recv_fds` through the general `recv_msg`: one message with room for
/// 8 fds, reported the same way.
fn recv_msg_fds() {
    let mut buf = [0u8; 1024];
    let mut msg = peer()
        .recv_msg(
            &mut [IoSliceMut::new(&mut buf)],
            cmsg_space(8 * FD_SIZE),
            RecvFlags::empty(),
        )
        .unwrap();
    println!("data={}", String::from_utf8_lossy(&buf[..msg.bytes]));
    println!("handles={}", msg.take_handles().len());
    println!("flags={}", msg.flags.report());
}

/// C4-C8: one receive with the given control space; reports what arrived,
/// tells the peer, and holds the handles until the peer has looked.
fn recv_watch(spec: &str) {
    let peer = peer();
    let space = control_space(spec);
    let mut buf = [0u8; 1024];
    let mut msg = peer
        .recv_msg(&mut [IoSliceMut::new(&mut buf)], space, RecvFlags::empty())
        .unwrap();
    println!("space={space}");
    println!("data={}", String::from_utf8_lossy(&buf[..msg.bytes]));
    println!("rights={}", rights_shape(&msg));
    println!(
        "ctrunc={}",
        msg.flags.contains(MessageFlags::CONTROL_TRUNCATED)
    );
    let mut handles = msg.take_handles();
    println!("order={}", read_order(&mut handles));
    (&peer).write_all(b"received").unwrap();
    let mut checked = [0u8; 7];
    (&peer).read_exact(&mut checked).unwrap();
    drop(handles);
}

fn c09_stream_boundaries_at_fds() {
    let peer = peer();
    for i in 1..=2 {
        let mut buf = [0u8; 1024];
        let mut msg = peer
            .recv_msg(
                &mut [IoSliceMut::new(&mut buf)],
                cmsg_space(FD_SIZE),
                RecvFlags::empty(),
            )
            .unwrap();
        println!("data{i}={}", String::from_utf8_lossy(&buf[..msg.bytes]));
        println!("rights{i}={}", rights_shape(&msg));
        println!("order{i}={}", read_order(&mut msg.take_handles()));
    }
}

fn c10_zero_bytes_with_an_fd() {
    let peer = peer();
    let (lent, _keep) = UnixStream::pair().unwrap();
    let rights = [lent.as_handle()];
    let anc = [SendAncillary::Rights(&rights)];
    let n = peer
        .send_msg(&[IoSlice::new(b"")], &anc, SendFlags::empty(), None)
        .unwrap();
    println!("stream_sent={n}");
    let mut handles = peer.recv_fds(16, 2).unwrap().fds;
    let seq = UnixSeqpacket::try_from(handles.pop().unwrap()).unwrap();
    let dgram = UnixDatagram::try_from(handles.pop().unwrap()).unwrap();
    let n = dgram
        .send_msg(&[IoSlice::new(b"")], &anc, SendFlags::empty(), None)
        .unwrap();
    println!("datagram_sent={n}");
    let n = seq
        .send_msg(&[IoSlice::new(b"")], &anc, SendFlags::empty(), None)
        .unwrap();
    println!("seqpacket_sent={n}");
}

fn c14_datagram_truncated() {
    let handle = peer().recv_fds(16, 1).unwrap().fds.pop().unwrap();
    let dgram = UnixDatagram::try_from(handle).unwrap();
    let mut buf = [0u8; 4];
    let msg = dgram
        .recv_msg(&mut [IoSliceMut::new(&mut buf)], 0, RecvFlags::empty())
        .unwrap();
    println!("data={}", String::from_utf8_lossy(&buf[..msg.bytes]));
    println!("truncated={}", msg.flags.contains(MessageFlags::TRUNCATED));
}

fn code(e: std::io::Error) -> String {
    error_code(&e)
        .map(|c| c.name().to_string())
        .unwrap_or_else(|| e.to_string())
}

fn c15_unconnected_datagram(peer_path: &str, own_path: &str) {
    let sock = UnixDatagram::unbound().unwrap();
    println!("no_address={}", code(sock.send(b"lost").unwrap_err()));
    println!(
        "outside={}",
        code(sock.send_to(b"x", "/tmp/elsewhere.sock").unwrap_err())
    );
    sock.bind_to_addr(&UnixSocketAddr::from_pathname(own_path).unwrap())
        .unwrap();
    println!(
        "local={}",
        sock.local_addr().unwrap().as_pathname().unwrap().display()
    );
    let n = sock.send_to(b"hello", peer_path).unwrap();
    println!("sent={n}");
    let mut buf = [0u8; 64];
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    println!("reply={}", String::from_utf8_lossy(&buf[..n]));
    println!("reply_from={}", from.as_pathname().unwrap().display());
}

fn c16_peek() {
    let peer = peer();
    let len = "hello world, peek".len();
    for (name, max, flags) in [
        ("peek_short", len - 3, RecvFlags::PEEK),
        ("peek_all", len, RecvFlags::PEEK),
        ("read", len, RecvFlags::empty()),
    ] {
        let mut buf = vec![0u8; max];
        let msg = peer
            .recv_msg(&mut [IoSliceMut::new(&mut buf)], 0, flags)
            .unwrap();
        println!("{name}={}", String::from_utf8_lossy(&buf[..msg.bytes]));
    }
    let mut buf = [0u8; 8];
    let err = peer
        .recv_msg(&mut [IoSliceMut::new(&mut buf)], 0, RecvFlags::DONT_WAIT)
        .unwrap_err();
    println!("then={}", code(err));
}

fn c17_dont_wait_until_full() {
    let peer = peer();
    let chunk = vec![7u8; 65536];
    let (mut total, mut short) = (0usize, 0usize);
    let err = loop {
        match peer.send_msg(&[IoSlice::new(&chunk)], &[], SendFlags::DONT_WAIT, None) {
            Ok(n) => {
                total += n;
                if n < chunk.len() {
                    short += 1;
                }
            }
            Err(e) => break e,
        }
    };
    println!("error={}", code(err));
    println!("total={total}");
    println!("short_sends={short}");
    peer.shutdown(std::net::Shutdown::Write).unwrap();
}

fn c18_peer_closed() {
    let mut buf = [0u8; 64];
    let msg = peer()
        .recv_msg(&mut [IoSliceMut::new(&mut buf)], 64, RecvFlags::empty())
        .unwrap();
    println!("bytes={}", msg.bytes);
    println!("ancillary={}", msg.ancillary.len());
    println!("flags={}", msg.flags.bits());
}

fn c19_credentials() {
    let peer = peer();
    peer.set_passcred(true).unwrap();
    (&peer).write_all(b"ready").unwrap();
    let mut buf = [0u8; 1];
    let msg = peer
        .recv_msg(
            &mut [IoSliceMut::new(&mut buf)],
            cmsg_space(12),
            RecvFlags::empty(),
        )
        .unwrap();
    let c = msg.credentials().expect("a credentials item");
    println!("pid={}", c.pid);
    println!("uid={}", c.uid);
    println!("gid={}", c.gid);
    println!("items={}", msg.ancillary.len());
}

/// CPython parity: for each case, ask the peer for a message with 2 fds and
/// receive it with that control space.
fn parity(cases: &[String]) {
    let peer = peer();
    for case in cases {
        let space = control_space(case);
        (&peer).write_all(b"next").unwrap();
        let mut buf = [0u8; 1];
        let msg = peer
            .recv_msg(&mut [IoSliceMut::new(&mut buf)], space, RecvFlags::empty())
            .unwrap();
        let fds: usize = msg
            .ancillary
            .iter()
            .map(|a| match a {
                RecvAncillary::Rights(h) => h.len(),
                _ => 0,
            })
            .sum();
        println!(
            "{case}={space},{},{fds},{}",
            msg.ancillary.len(),
            msg.flags.contains(MessageFlags::CONTROL_TRUNCATED)
        );
    }
}

/// `recv_fds(8, 2)` once per case, each message lent when asked for:
/// `case=data,fds,truncated,control-truncated`; after "long", the bytes
/// left over as `long_rest`.
fn recv_fds_parity(cases: &[String]) {
    let peer = peer();
    for case in cases {
        (&peer).write_all(b"next").unwrap();
        let got = peer.recv_fds(8, 2).unwrap();
        println!(
            "{case}={},{},{},{}",
            String::from_utf8_lossy(&got.data),
            got.fds.len(),
            got.flags.contains(MessageFlags::TRUNCATED),
            got.flags.contains(MessageFlags::CONTROL_TRUNCATED)
        );
        if case == "long" {
            // What did not fit stays in the stream.
            let rest = peer.recv_vec(64).unwrap();
            println!("long_rest={}", String::from_utf8_lossy(&rest));
        }
    }
}

/// Twisted's `sendSubProcessFD` pattern: make a pipe, lend the peer its
/// write end, read what the peer writes until it closes its copy. Before
/// that, a read with a timeout on the empty pipe times out.
fn pipe_report() {
    let peer = peer();
    let (mut reader, writer) = capsock::pipe().unwrap();
    println!("kinds={:?},{:?}", reader.kind(), writer.kind());
    reader
        .set_read_timeout(Some(std::time::Duration::from_millis(20)))
        .unwrap();
    let err = reader.read(&mut [0u8; 8]).unwrap_err();
    println!("empty_read={:?}", err.kind());
    reader.set_read_timeout(None).unwrap();
    peer.send_fds(b"report", &[writer.as_handle()]).unwrap();
    drop(writer);
    let mut report = String::new();
    reader.read_to_string(&mut report).unwrap();
    println!("report={report}");
}

/// `Credentials::own()`, sent; then foreign ids, refused.
fn own_credentials() {
    let peer = peer();
    // The peer turned credential passing on.
    (&peer).read_exact(&mut [0u8; 1]).unwrap();
    let me = capsock::Credentials::own();
    println!("own={},{},{}", me.pid, me.uid, me.gid);
    let send = |c| {
        peer.send_msg(
            &[IoSlice::new(b"c")],
            &[SendAncillary::Credentials(c)],
            SendFlags::empty(),
            None,
        )
    };
    println!("sent_own={}", send(me).unwrap());
    let forged = capsock::Credentials {
        pid: me.pid + 1,
        ..me
    };
    println!("sent_forged={:?}", send(forged).unwrap_err().kind());
}
