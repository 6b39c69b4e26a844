//! A guest that misuses the capsock WIT on purpose, through raw bindings:
//! each case expects a specific `error-code`, and afterwards the host must
//! still serve a normal call. `misuse <case>`; a stream socket to the peer
//! is granted as "peer". Prints `key=value` lines (see this crate's lib.rs;
//! an error here is the bare `error-code` name, the raw WIT having no
//! `std::io` error).

#[path = "../raw.rs"]
mod raw;

use capsock_test_programs::{ok, Report, DESCRIPTOR_KINDS};
use raw::capsock::sockets::descriptors::Descriptor;
use raw::capsock::sockets::preopens;
use raw::capsock::sockets::sockets::{self, AncillaryOut, HandleRef, RawControlParam, Socket};
use raw::capsock::sockets::types::{
    AddressParam, Credentials, DescriptorKind, ErrorCode, Ipv4SocketAddress, Ipv6SocketAddress,
    MessageFlags, RecvFlags, SendFlags, SocketType,
};

fn main() {
    let case = std::env::args().nth(1).expect("usage: misuse <case>");
    let peer_d = preopens::take("peer").expect("grant \"peer\"");
    let peer = Socket::from_descriptor(&peer_d).expect("peer is a socket");
    match case.as_str() {
        "moved_descriptor" => moved_descriptor(&peer, peer_d),
        "not_a_socket" => not_a_socket(),
        "raw_rights" => raw_rights(&peer),
        "credentials" => credentials(&peer),
        "too_many_fds" => too_many_fds(&peer),
        "oversize" => oversize(&peer),
        "handle_limit" => handle_limit(),
        "forged_handle" => forged_handle(&peer),
        "wrong_family" => wrong_family(&peer),
        "paths" => paths(),
        "oob_zero_length" => oob_zero_length(),
        "cmsg_sizes" => cmsg_sizes(),
        "huge" => huge(),
        "recv_into_outside" => recv_into_outside(&peer),
        "recv_fds_outside" => recv_fds_outside(&peer),
        other => panic!("unknown case {other}"),
    }
    // The host still serves the next call.
    let n = send(&peer, b"done", &[]).expect("a normal send after the bad ones");
    println!("done_sent={n}");
}

fn send(s: &Socket, data: &[u8], anc: &[AncillaryOut<'_>]) -> Result<u64, ErrorCode> {
    s.send_msg(&[data], anc, SendFlags::empty(), None)
}

fn report(key: &str, r: Result<impl Report, ErrorCode>) {
    match r {
        Ok(v) => println!("{key}={}", ok(&v)),
        Err(e) => println!("{key}={}", e.name()),
    }
}

/// These raw bindings' flags, as the SDK's (the same WIT flags, so the
/// same bits).
impl Report for MessageFlags {
    fn report(&self) -> String {
        ::capsock::MessageFlags::from_bits_retain(self.bits()).report()
    }
}

impl Report for DescriptorKind {
    fn report(&self) -> String {
        DESCRIPTOR_KINDS[*self as usize].to_string()
    }
}

/// `peer_d`'s fd moved into `peer`: the descriptor handle is still valid in
/// the component model but closed on the host (the guest "dropped" it).
fn moved_descriptor(peer: &Socket, peer_d: Descriptor) {
    report(
        "send_moved",
        send(
            peer,
            b"bad",
            &[AncillaryOut::Rights(&[HandleRef::Descriptor(&peer_d)])],
        ),
    );
    report("read_moved", peer_d.read(1));
    report(
        "convert_again",
        Socket::from_descriptor(&peer_d).map(|_| ()),
    );
}

fn not_a_socket() {
    let pipe = preopens::take("pipe").expect("grant \"pipe\"");
    report("from_pipe", Socket::from_descriptor(&pipe).map(|_| ()));
    println!("pipe_kind={}", pipe.get_kind().report());
    report("take_again", preopens::take("pipe").map(|_| ()));
    report("take_unknown", preopens::take("no-such-grant").map(|_| ()));
}

fn raw_rights(peer: &Socket) {
    let (a, _b) = Socket::pair(SocketType::Stream).unwrap();
    // fd number 0 as SCM_RIGHTS payload: must never reach the kernel.
    let scm_rights = RawControlParam {
        level: 1,
        kind: 1,
        data: &[0, 0, 0, 0],
    };
    report(
        "raw_scm_rights",
        send(peer, b"bad", &[AncillaryOut::Raw(scm_rights)]),
    );
    let scm_pidfd = RawControlParam {
        level: 1,
        kind: 4,
        data: &[0, 0, 0, 0],
    };
    report(
        "raw_scm_pidfd",
        send(peer, b"bad", &[AncillaryOut::Raw(scm_pidfd)]),
    );
    let so_mark = RawControlParam {
        level: 1,
        kind: 36,
        data: &[1, 0, 0, 0],
    };
    report(
        "raw_so_mark",
        send(peer, b"bad", &[AncillaryOut::Raw(so_mark)]),
    );
    let scm_creds = RawControlParam {
        level: 1,
        kind: 2,
        data: &[0; 12],
    };
    report(
        "raw_scm_credentials",
        send(peer, b"bad", &[AncillaryOut::Raw(scm_creds)]),
    );
    // A harmless allowlisted item passes (and Linux ignores it on Unix sockets).
    let ip_ttl = RawControlParam {
        level: 0,
        kind: 2,
        data: &[64, 0, 0, 0],
    };
    report("raw_ip_ttl", send(&a, b"ok", &[AncillaryOut::Raw(ip_ttl)]));
}

fn credentials(peer: &Socket) {
    let (a, b) = Socket::pair(SocketType::Stream).unwrap();
    // SO_PEERCRED of a socket pair is the host process itself.
    let own = a.peer_credentials().unwrap();
    let forged = Credentials {
        pid: 1,
        uid: 0,
        gid: 0,
    };
    report(
        "forged",
        send(peer, b"bad", &[AncillaryOut::Credentials(forged)]),
    );
    b.set_pass_credentials(true).unwrap();
    report("own", send(&a, b"x", &[AncillaryOut::Credentials(own)]));
    let m = b.recv_msg(16, 64, RecvFlags::empty()).unwrap();
    let got = m.ancillary.iter().find_map(|a| match a {
        sockets::AncillaryIn::Credentials(c) => Some((c.pid, c.uid, c.gid)),
        _ => None,
    });
    println!("own_matches={}", got == Some((own.pid, own.uid, own.gid)));
}

fn too_many_fds(peer: &Socket) {
    let (a, _b) = Socket::pair(SocketType::Stream).unwrap();
    let refs: Vec<HandleRef<'_>> = (0..254).map(|_| HandleRef::Socket(&a)).collect();
    report(
        "fds_254",
        send(peer, b"bad", &[AncillaryOut::Rights(&refs)]),
    );
    // Split over two items, the total still counts.
    report(
        "fds_2x127",
        send(
            peer,
            b"bad",
            &[
                AncillaryOut::Rights(&refs[..127]),
                AncillaryOut::Rights(&refs[..127]),
            ],
        ),
    );
    report(
        "fds_253",
        send(&a, b"ok", &[AncillaryOut::Rights(&refs[..253])]),
    );
}

fn oversize(peer: &Socket) {
    let big = vec![0u8; (8 << 20) + 1];
    // A datagram cannot be split: `message-size`, through both sends.
    let (da, _db) = Socket::pair(SocketType::Datagram).unwrap();
    report("send_oversize", send(&da, &big, &[]));
    report("fast_send_oversize", da.send(&big, SendFlags::empty()));
    // A stream takes a short send: what fits in the socket buffer now
    // (never more than the limit).
    let short = |r: Result<u64, ErrorCode>| r.map(|n| n > 0 && n < (8 << 20));
    let (sa, _sb) = Socket::pair(SocketType::Stream).unwrap();
    report(
        "stream_send_oversize",
        short(sa.send_msg(&[&big], &[], SendFlags::DONT_WAIT, None)),
    );
    let (sa, _sb) = Socket::pair(SocketType::Stream).unwrap();
    report(
        "fast_stream_send_oversize",
        short(sa.send(&big, SendFlags::DONT_WAIT)),
    );
    // A receive larger than the limit is a short read (nothing is queued).
    report(
        "fast_recv_oversize",
        peer.recv((8 << 20) + 1, RecvFlags::DONT_WAIT).map(|_| ()),
    );
    report(
        "recv_oversize",
        peer.recv_msg(u64::MAX, 0, RecvFlags::DONT_WAIT).map(|_| ()),
    );
    report(
        "control_oversize",
        peer.recv_msg(16, (64 << 10) + 1, RecvFlags::DONT_WAIT)
            .map(|_| ()),
    );
    report(
        "recv_empty",
        peer.recv_msg(16, 0, RecvFlags::DONT_WAIT).map(|_| ()),
    );
}

fn handle_limit() {
    let mut held = Vec::new();
    let err = loop {
        match Socket::pair(SocketType::Datagram) {
            Ok(p) => held.push(p),
            Err(e) => break e,
        }
        assert!(held.len() <= 100_000, "no handle limit");
    };
    // Plus "peer" and its moved-out descriptor.
    println!("pairs_before_limit={}", held.len());
    println!("limit_error={}", err.name());
    drop(held);
    report(
        "pair_after_drop",
        Socket::pair(SocketType::Datagram).map(|_| ()),
    );
}

/// Uses a handle index after dropping it: the component model refuses it
/// before the host sees the call, and the guest traps.
fn forged_handle(peer: &Socket) {
    let (a, _b) = Socket::pair(SocketType::Stream).unwrap();
    let index = a.handle();
    drop(a);
    println!("forging={index}");
    // SAFETY: deliberately unsound — this is the misuse under test.
    let forged = unsafe { Socket::from_handle(index) };
    let r = send(
        peer,
        b"bad",
        &[AncillaryOut::Rights(&[HandleRef::Socket(&forged)])],
    );
    report("unreachable", r);
}

fn wrong_family(peer: &Socket) {
    let v4 = AddressParam::Ipv4(Ipv4SocketAddress {
        address: (127, 0, 0, 1),
        port: 9,
    });
    let v6 = AddressParam::Ipv6(Ipv6SocketAddress {
        address: (0, 0, 0, 0, 0, 0, 0, 1),
        port: 9,
        flow_info: 0,
        scope_id: 0,
    });
    report(
        "send_ipv4",
        peer.send_msg(&[b"bad"], &[], SendFlags::empty(), Some(v4.clone())),
    );
    let s = Socket::create(SocketType::Datagram).unwrap();
    report("connect_ipv6", s.connect(v6));
    report("bind_ipv4", s.bind(v4));
    report("connect_unnamed", s.connect(AddressParam::Unnamed));
}

/// Every way out of the granted directory "/run/t" (the test prepares
/// `link.sock`, a symlink to a socket outside, and `subdir`, a symlink to a
/// directory outside; `real.sock` is a listening socket inside).
fn paths() {
    let path = |p: &'static str| AddressParam::Pathname(p.as_bytes());
    for (key, p) in [
        ("dotdot", "/run/t/../outside.sock"),
        ("absolute_outside", "/tmp/outside.sock"),
        ("relative", "run/t/real.sock"),
        ("symlink_file", "/run/t/link.sock"),
        ("symlink_dir", "/run/t/subdir/outside.sock"),
        ("the_dir_itself", "/run/t"),
        ("missing", "/run/t/missing.sock"),
        ("overlong", "/run/t/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        ("abstract", "@not-allowed"),
    ] {
        let s = Socket::create(SocketType::Stream).unwrap();
        let addr = if let Some(name) = p.strip_prefix('@') {
            AddressParam::Abstract(name.as_bytes())
        } else {
            path(p)
        };
        report(&format!("connect_{key}"), s.connect(addr));
    }
    for (key, p) in [
        ("dotdot", "/run/t/../evil.sock"),
        ("symlink_dir", "/run/t/subdir/evil.sock"),
        ("outside", "/tmp/evil.sock"),
    ] {
        let s = Socket::create(SocketType::Datagram).unwrap();
        report(&format!("bind_{key}"), s.bind(path(p)));
        report(
            &format!("sendto_{key}"),
            s.send_msg(&[b"x"], &[], SendFlags::empty(), Some(path(p))),
        );
    }
    let s = Socket::create(SocketType::Stream).unwrap();
    report("connect_inside", s.connect(path("/run/t/real.sock")));
    let d = Socket::create(SocketType::Datagram).unwrap();
    report("bind_inside", d.bind(path("/run/t/bound.sock")));
    report(
        "bind_again",
        Socket::create(SocketType::Datagram)
            .unwrap()
            .bind(path("/run/t/bound.sock")),
    );
}

/// Zero-length out-of-band receives on a Unix stream pair: Linux answers 1
/// (the out-of-band byte, consumed unless peeking) though it copied nothing,
/// and the host must not trust that count. Each call must return normally.
fn oob_zero_length() {
    let (a, b) = Socket::pair(SocketType::Stream).unwrap();
    let oob = RecvFlags::OUT_OF_BAND;
    let msg = |m: sockets::Message| (m.data.len(), m.flags);

    a.send(b"!", SendFlags::OUT_OF_BAND).unwrap();
    report(
        "recv_peek",
        b.recv(0, oob | RecvFlags::PEEK).map(|d| d.len()),
    );
    report(
        "recv_msg_peek",
        b.recv_msg(0, 0, oob | RecvFlags::PEEK).map(msg),
    );
    report("recv", b.recv(0, oob).map(|d| d.len()));
    report(
        "after_recv",
        b.recv(1, oob | RecvFlags::DONT_WAIT).map(|d| d.len()),
    );

    a.send(b"?", SendFlags::OUT_OF_BAND).unwrap();
    report("recv_msg", b.recv_msg(0, 0, oob).map(msg));
    report(
        "after_recv_msg",
        b.recv(1, oob | RecvFlags::DONT_WAIT).map(|d| d.len()),
    );

    // The in-band stream is untouched: out-of-band bytes are not in it.
    a.send(b"in-band", SendFlags::empty()).unwrap();
    report(
        "in_band",
        b.recv(64, RecvFlags::DONT_WAIT)
            .map(|d| String::from_utf8_lossy(&d).into_owned()),
    );
}

/// The host's `cmsg-space` at small lengths, past `u32` and at the top of
/// `u64`, where the true `CMSG_SPACE` no longer fits:
/// `cmsg_space_LEN=SPACE`.
const CMSG_SIZES: [u64; 9] = [
    0,
    1,
    4,
    12,
    4 * 253,
    u32::MAX as u64,
    u64::MAX - 23,
    u64::MAX - 22,
    u64::MAX,
];

fn cmsg_sizes() {
    for len in CMSG_SIZES {
        println!("cmsg_space_{len}={}", sockets::cmsg_space(len));
    }
}

/// 100 MiB handed to the host in one `socket.send` and one
/// `descriptor.write` (the SDK never passes more than 16 MiB): a short send
/// and a short write of at most the message limit.
fn huge() {
    let data = vec![7u8; 100 << 20];
    let (a, _b) = Socket::pair(SocketType::Stream).unwrap();
    let short = |n: u64| n > 0 && n <= 8 << 20;
    report("send", a.send(&data, SendFlags::DONT_WAIT).map(short));
    let file = preopens::take("file").expect("grant \"file\"");
    report("write", file.write(&data));
}

/// `socket.recv-into` with a buffer that lies past the end of linear
/// memory, through the raw import (no binding lets safe code say that):
/// the host must trap, never write.
fn recv_into_outside(peer: &Socket) {
    #[link(wasm_import_module = "capsock:sockets/sockets@0.1.0")]
    extern "C" {
        #[link_name = "[method]socket.recv-into"]
        fn recv_into(handle: i32, ptr: *mut u8, len: usize, flags: i32, ret: *mut u64);
    }
    let mut ret = [0u64; 2];
    let past_the_end = (core::arch::wasm32::memory_size(0) * 65536) as *mut u8;
    println!("calling=1");
    // SAFETY: deliberately unsound — this is the misuse under test.
    unsafe {
        recv_into(
            peer.handle() as i32,
            past_the_end,
            4096,
            0,
            ret.as_mut_ptr(),
        )
    };
    println!("unreachable={}", ret[1]);
}

/// `socket.recv-fds` likewise (with `dont-wait`, so that a host that did
/// not trap would answer at once).
fn recv_fds_outside(peer: &Socket) {
    #[link(wasm_import_module = "capsock:sockets/sockets@0.1.0")]
    extern "C" {
        #[link_name = "[method]socket.recv-fds"]
        fn recv_fds(handle: i32, ptr: *mut u8, len: usize, max_fds: i32, flags: i32, ret: *mut u64);
    }
    let mut ret = [0u64; 4];
    let past_the_end = (core::arch::wasm32::memory_size(0) * 65536) as *mut u8;
    println!("calling=1");
    let dont_wait = RecvFlags::DONT_WAIT.bits() as i32;
    // SAFETY: deliberately unsound — this is the misuse under test.
    unsafe {
        recv_fds(
            peer.handle() as i32,
            past_the_end,
            4096,
            8,
            dont_wait,
            ret.as_mut_ptr(),
        )
    };
    println!("unreachable={}", ret[0]);
}
