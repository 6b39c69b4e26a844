//! A sandbox no guest can crash, starve or escape: memory safety against
//! what the kernel returns, resource limits, descriptor accounting, the
//! bind race and the smaller holes, each tried the way a hostile guest
//! would.

mod support;

use support::{guests, open_fds, run_guest, serial, Options};

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
    assert_eq!(run.get("consume_then"), "err:InvalidInput");
    assert_eq!(run.get("in_band"), "still in band");
}
