//! A sandbox no guest can crash, starve or escape: memory safety against
//! what the kernel returns, resource limits, descriptor accounting, the
//! bind race and the smaller holes, each tried the way a hostile guest
//! would.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use capsock_host::Limits;
use support::{guests, open_fds, run_guest, run_guest_with, serial, Options};

/// A zero-length out-of-band receive: Linux returns 1 for it though it
/// copied nothing. Through the raw WIT (`recv`, `recv-msg`, with and without
/// `peek`) and through the safe SDK, each call returns normally: nothing
/// written, the truncation reported, the in-band stream intact.
#[test]
fn zero_length_out_of_band_receives_return_normally() {
    let run = support::misuse("oob_zero_length", Vec::new(), Options::default());
    assert_eq!(run.get("recv_peek"), "ok:0");
    assert_eq!(
        run.get("recv_msg_peek"),
        "ok:(0, MessageFlags(TRUNCATED | OUT_OF_BAND))"
    );
    assert_eq!(run.get("recv"), "ok:0");
    assert_eq!(
        run.get("after_recv"),
        "invalid-argument",
        "the zero-length receive consumed the byte"
    );
    assert_eq!(
        run.get("recv_msg"),
        "ok:(0, MessageFlags(TRUNCATED | OUT_OF_BAND))"
    );
    assert_eq!(run.get("after_recv_msg"), "invalid-argument");
    assert_eq!(run.get("in_band"), "ok:\"in-band\"");

    let _serial = serial(&[guests::HARDENING]);
    let baseline = open_fds();
    let run = run_guest(guests::HARDENING, &["oob_zero_length"], Vec::new()).unwrap();
    assert_eq!(open_fds(), baseline);
    run.assert_ok();
    assert_eq!(
        run.get("peek"),
        "ok:(0, MessageFlags(TRUNCATED | OUT_OF_BAND))"
    );
    assert_eq!(
        run.get("peek_then"),
        "ok:(1, '!')",
        "a peek leaves the byte"
    );
    assert_eq!(
        run.get("consume"),
        "ok:(0, MessageFlags(TRUNCATED | OUT_OF_BAND))"
    );
    assert_eq!(run.get("consume_then"), "err:InvalidInput:invalid-argument");
    assert_eq!(run.get("in_band"), "still in band");
}

/// Under an embedder's message limit (here 1000 bytes), a stream send and
/// every receive or descriptor I/O above it are short, as `sendmsg(2)` and
/// `read(2)` may be; a datagram above it is refused; and the SDK's
/// `write_all` / `read_exact` of more still work.
#[test]
fn message_limit_makes_stream_io_short_and_refuses_big_datagrams() {
    let _serial = serial(&[guests::HARDENING]);
    let (r, w) = std::io::pipe().unwrap();
    let baseline = open_fds();
    let opts = Options {
        limits: Some(Limits {
            max_message_bytes: 1000,
            ..Limits::default()
        }),
        ..Options::default()
    };
    let grants = vec![("pipe_r", r.into()), ("pipe_w", w.into())];
    let run = run_guest_with(guests::HARDENING, &["limits_io"], grants, opts).unwrap();
    assert_eq!(open_fds(), baseline - 2);
    run.assert_ok();
    assert_eq!(run.get("stream_send"), "ok:1000");
    assert_eq!(run.get("stream_send_msg"), "ok:1000");
    assert_eq!(run.get("stream_recv"), "ok:1000");
    assert_eq!(run.get("stream_recv_msg"), "ok:(1000, true)");
    assert_eq!(run.get("write_all_read_exact"), "true");
    assert_eq!(run.get("datagram_send"), "err:InvalidInput:message-size");
    assert_eq!(run.get("datagram_send_limit"), "ok:1000");
    assert_eq!(run.get("pipe_write"), "ok:1000");
    assert_eq!(run.get("pipe_read"), "ok:1000");
}

/// `write_all` and `read_exact` of 20 MiB through the SDK, with the default
/// 8 MiB message limit, against a native peer that echoes them.
#[test]
fn write_all_and_read_exact_move_more_than_the_message_limit() {
    const LEN: usize = 20 << 20;
    let _serial = serial(&[guests::HARDENING]);
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let echo = std::thread::spawn(move || {
        let mut buf = vec![0u8; LEN];
        ours.read_exact(&mut buf).unwrap();
        ours.write_all(&buf).unwrap();
    });
    let len = LEN.to_string();
    let run = run_guest(
        guests::HARDENING,
        &["big_io", &len],
        vec![("peer", theirs.into())],
    )
    .unwrap();
    echo.join().unwrap();
    run.assert_ok();
    assert_eq!(run.get("echoed_intact"), "true");
}

/// A guest holding pollables on sockets it dropped, all waiting at once,
/// makes the host hold no more fds than its handle limit allows (each
/// pollable used to pin the socket's fd outside the limit and to register
/// a private dup of it on every wait).
#[test]
fn the_handle_limit_bounds_the_fds_a_guest_can_pin_with_pollables() {
    const LIMIT: usize = 64;
    let _serial = serial(&[guests::HARDENING]);
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let baseline = open_fds();
    let counted = std::thread::scope(|s| {
        let guest = s.spawn(|| {
            let opts = Options {
                limits: Some(Limits {
                    max_handles: LIMIT,
                    ..Limits::default()
                }),
                ..Options::default()
            };
            run_guest_with(
                guests::HARDENING,
                &["pin_fds"],
                vec![("peer", theirs.into())],
                opts,
            )
        });
        let mut byte = [0u8; 1];
        ours.read_exact(&mut byte).unwrap();
        // The guest is about to wait on every pollable: let it get there.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let during = open_fds();
        ours.write_all(b"go").unwrap();
        let run = guest.join().unwrap().unwrap();
        run.assert_ok();
        assert_eq!(run.get("error"), "limit-reached");
        (during, run)
    });
    let (during, run) = counted;
    eprintln!(
        "fds: baseline {baseline}, during the wait {during}; guest: {}",
        run.stdout
    );
    assert!(
        during <= baseline + LIMIT,
        "{during} fds while the guest waited, baseline {baseline}, handle limit {LIMIT}: {run:?}"
    );
    assert_eq!(
        open_fds(),
        baseline - 1,
        "the granted socket closed with the guest"
    );
}
