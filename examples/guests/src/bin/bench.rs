//! The guest half of `capsock bench`: each workload runs a timed loop
//! inside the sandbox (so instantiation is not counted) and prints
//! `ns=<elapsed>`. The native half and the comparison live in the host
//! (`capsock bench`).
//!
//! `bench bridge SIZE N`   N send+recv pairs of SIZE bytes on a seqpacket pair
//! `bench bridge_copy SIZE N` the same, receiving with `recv(&mut buf)`
//! `bench pingpong N`      N 64-byte round trips with the peer ("peer", seqpacket)
//! `bench fdrecv N K`      receive N messages of K fds each from "peer"
//!                         (`recv_fds`), drop them
//! `bench fdrecv_msg N K`  the same through `recv_msg`
//! `bench bulk_send TOTAL` send TOTAL bytes in 64 KiB writes to "peer" (stream)
//! `bench bulk_recv TOTAL` receive TOTAL bytes from "peer" (stream)
//!
//! Receives use `recv_vec`, which leaves the bytes where the host put them;
//! `recv(&mut buf)` and `read` would add one copy inside the guest.
//! `bench idle`            say "up" to "peer", then wait until it closes
//! `bench idle_dgram`      say "up" on "peer" (a connected datagram
//!                         socket), then echo each datagram until one is "q"
//! `bench noop`            nothing

use std::io::{IoSliceMut, Read, Write};
use std::time::Instant;

use capsock::{cmsg_space, RecvFlags, SocketExt, UnixDatagram, UnixSeqpacket, UnixStream, FD_SIZE};

fn arg(i: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("numeric argument {i}"))
}

fn main() {
    let what = std::env::args().nth(1).expect("usage: bench WORKLOAD ...");
    let start = Instant::now();
    match what.as_str() {
        "bridge" => bridge(arg(2), arg(3)),
        "bridge_copy" => bridge_copy(arg(2), arg(3)),
        "pingpong" => pingpong(arg(2)),
        "fdrecv" => fdrecv(arg(2), arg(3)),
        "fdrecv_msg" => fdrecv_msg(arg(2), arg(3)),
        "bulk_send" => bulk_send(arg(2)),
        "bulk_recv" => bulk_recv(arg(2)),
        "idle" => idle(),
        "idle_dgram" => idle_dgram(),
        "noop" => {}
        other => panic!("unknown workload {other}"),
    }
    let elapsed = start.elapsed();
    println!("ns={}", elapsed.as_nanos());
}

fn bridge(size: usize, n: usize) {
    let (a, b) = UnixSeqpacket::pair().unwrap();
    let out = vec![1u8; size];
    for _ in 0..n {
        a.send(&out).unwrap();
        assert_eq!(b.recv_vec(size).unwrap().len(), size);
    }
}

/// `bridge`, receiving into a caller's buffer (one more copy in the guest).
fn bridge_copy(size: usize, n: usize) {
    let (a, b) = UnixSeqpacket::pair().unwrap();
    let out = vec![1u8; size];
    let mut back = vec![0u8; size];
    for _ in 0..n {
        a.send(&out).unwrap();
        assert_eq!(b.recv(&mut back).unwrap(), size);
    }
}

fn pingpong(n: usize) {
    let peer = UnixSeqpacket::preopened("peer").unwrap();
    let ping = [7u8; 64];
    let mut pong = [0u8; 64];
    for _ in 0..n {
        peer.send(&ping).unwrap();
        assert_eq!(peer.recv(&mut pong).unwrap(), 64);
    }
}

fn fdrecv(n: usize, k: usize) {
    let peer = UnixSeqpacket::preopened("peer").unwrap();
    for _ in 0..n {
        assert_eq!(peer.recv_fds(16, k).unwrap().fds.len(), k);
    }
}

/// `fdrecv` through the general `recv_msg`, typed ancillary items and all.
fn fdrecv_msg(n: usize, k: usize) {
    let peer = UnixSeqpacket::preopened("peer").unwrap();
    let space = cmsg_space(k * FD_SIZE);
    let mut buf = [0u8; 16];
    for _ in 0..n {
        let mut msg = peer
            .recv_msg(&mut [IoSliceMut::new(&mut buf)], space, RecvFlags::empty())
            .unwrap();
        assert_eq!(msg.take_handles().len(), k);
    }
}

fn bulk_send(total: usize) {
    let mut peer = UnixStream::preopened("peer").unwrap();
    let chunk = vec![3u8; 65536];
    let mut sent = 0;
    while sent < total {
        let n = (total - sent).min(chunk.len());
        peer.write_all(&chunk[..n]).unwrap();
        sent += n;
    }
}

fn bulk_recv(total: usize) {
    let peer = UnixStream::preopened("peer").unwrap();
    let mut got = 0;
    while got < total {
        let n = peer.recv_vec(65536).unwrap().len();
        assert!(n > 0, "early end of stream");
        got += n;
    }
}

fn idle() {
    let mut peer = UnixStream::preopened("peer").unwrap();
    peer.write_all(b"up").unwrap();
    let mut buf = [0u8; 1];
    let _ = peer.read(&mut buf);
}

/// One datagram socket per guest (the host's 10,000-sandbox figure: one fd
/// each): waits in a receive, answers what arrives, ends on "q".
fn idle_dgram() {
    let peer = UnixDatagram::preopened("peer").unwrap();
    peer.send(b"up").unwrap();
    let mut buf = [0u8; 16];
    while let Ok(n) = peer.recv(&mut buf) {
        if &buf[..n] == b"q" || peer.send(&buf[..n]).is_err() {
            break;
        }
    }
}
