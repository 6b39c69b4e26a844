//! Guest side of the CONFORMANCE.md scenarios, through the SDK only.
//! `conformance <scenario>`; the socket to the peer is granted as "peer".
//! Results are printed as `key=value` lines for the test to check; any
//! failure panics, so the guest exits non-zero.

use std::io::{IoSlice, IoSliceMut, Read, Write};

use capsock::{AsHandle, RecvFlags, SendFlags, UnixDatagram, UnixStream};

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
        other => panic!("unknown scenario {other}"),
    }
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
    let (data, handles, flags, _) = peer().recv_fds(1024, 8).unwrap();
    println!("data={}", String::from_utf8_lossy(&data));
    println!("handles={}", handles.len());
    println!("flags={}", flags.bits());
    for (i, mut h) in handles.into_iter().enumerate() {
        let mut text = String::new();
        h.read_to_string(&mut text).unwrap();
        println!("kind{i}={:?}", h.kind());
        println!("file{i}={text:?}");
    }
}

fn c03_copy_descriptor() {
    let peer = peer();
    // The peer made a pipe and lent us its read end.
    let (_, mut handles, _, _) = peer.recv_fds(16, 1).unwrap();
    let mut reader = handles.pop().expect("the pipe's read end");
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
    let (_, mut handles, _, _) = peer().recv_fds(16, 1).unwrap();
    let stream = handles.pop().expect("a stream socket handle");
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
    println!("a={:?}", String::from_utf8_lossy(&a));
    println!("b={:?}", String::from_utf8_lossy(&b));
    println!("c={:?}", String::from_utf8_lossy(&c));
    println!("flags={}", m.flags.bits());
}

fn c20_receive_many_drop_half() {
    let peer = peer();
    let mut kept = Vec::new();
    for i in 0..100 {
        let (data, mut handles, _, _) = peer.recv_fds(16, 1).unwrap();
        assert_eq!(data, format!("{i}").as_bytes());
        let h = handles.pop().expect("one handle per message");
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
    let (data, handles, flags, _) = peer().recv_fds(1024, 8).unwrap();
    println!("data={}", String::from_utf8_lossy(&data));
    println!("handles={}", handles.len());
    println!("flags={flags:?}");
}
