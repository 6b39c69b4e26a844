//! The sandbox's rules from the first day: what a guest may not send, the
//! limits, and that a refused call sends nothing, leaks nothing and leaves
//! the host serving the next call.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use capsock_host::{native, Limits};
use serde_json::json;

use crate::support::{self, guests, open_fds, run_guest, run_guest_with, Options, PythonPeer};

fn misuse(case: &str, opts: Options) -> support::GuestRun {
    support::misuse(case, Vec::new(), opts)
}

#[test]
fn raw_items_carrying_fds_or_identities_are_refused() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let run = misuse("raw_rights", Options::default());
    assert_eq!(run.get("raw_scm_rights"), "access-denied");
    assert_eq!(run.get("raw_scm_pidfd"), "access-denied");
    assert_eq!(run.get("raw_scm_credentials"), "access-denied");
    assert_eq!(run.get("raw_so_mark"), "access-denied");
    assert_eq!(
        run.get("raw_ip_ttl"),
        "ok:2",
        "an allowlisted raw item is sent"
    );
}

#[test]
fn only_the_hosts_own_credentials_may_be_sent() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let run = misuse("credentials", Options::default());
    assert_eq!(run.get("forged"), "access-denied");
    assert_eq!(run.get("own"), "ok:1");
    assert_eq!(
        run.get("own_matches"),
        "true",
        "the receiver sees exactly the credentials sent"
    );
}

#[test]
fn more_than_253_fds_per_message_is_limit_reached() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let run = misuse("too_many_fds", Options::default());
    assert_eq!(run.get("fds_254"), "limit-reached");
    assert_eq!(run.get("fds_2x127"), "limit-reached");
    assert_eq!(run.get("fds_253"), "ok:2");
}

/// Above the 8 MiB message limit a datagram is refused, a stream send is
/// short, a receive is short; control space above 64 KiB is refused.
#[test]
fn oversize_messages_are_refused_or_short_and_control_space_is_bounded() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let run = misuse("oversize", Options::default());
    assert_eq!(run.get("send_oversize"), "message-size");
    assert_eq!(
        run.get("fast_send_oversize"),
        "message-size",
        "the hand-written send checks the limit too"
    );
    assert_eq!(run.get("stream_send_oversize"), "ok:true");
    assert_eq!(run.get("fast_stream_send_oversize"), "ok:true");
    assert_eq!(run.get("fast_recv_oversize"), "would-block");
    assert_eq!(run.get("recv_oversize"), "would-block");
    assert_eq!(run.get("control_oversize"), "limit-reached");
    assert_eq!(
        run.get("recv_empty"),
        "would-block",
        "a valid call after the refusals reaches the kernel"
    );
}

/// `cmsg-space` is the host's `CMSG_SPACE` (here computed with libc's),
/// takes and returns `recv-msg`'s `control-space` type (`u64`), and where
/// the true size no longer fits in a `u64` it saturates at `u64::MAX`
/// rather than wrapping to a small size (libc's `CMSG_SPACE` wraps); a
/// guest that sizes a buffer by it never asks for less than it needs.
#[test]
fn cmsg_space_is_the_hosts_and_saturates_at_the_top_of_u64() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let run = misuse("cmsg_sizes", Options::default());
    let mut saturated = 0;
    for len in [
        0u64,
        1,
        4,
        12,
        4 * 253,
        u32::MAX.into(),
        u64::MAX - 23,
        u64::MAX - 22,
        u64::MAX,
    ] {
        // SAFETY (test): CMSG_SPACE only computes a size. It takes a u32,
        // so lengths past that are computed by its definition instead.
        let expected = match u32::try_from(len) {
            Ok(small) if small < u32::MAX - 64 => unsafe { libc::CMSG_SPACE(small) }.into(),
            _ => {
                let header = u64::from(unsafe { libc::CMSG_LEN(0) });
                let word = std::mem::size_of::<usize>() as u64;
                match len
                    .checked_next_multiple_of(word)
                    .and_then(|n| n.checked_add(header))
                {
                    Some(n) => n,
                    None => {
                        saturated += 1;
                        u64::MAX
                    }
                }
            }
        };
        assert_eq!(
            run.get(&format!("cmsg_space_{len}")),
            expected.to_string(),
            "cmsg-space({len})"
        );
    }
    assert_eq!(saturated, 2, "the last two lengths are past what fits");
}

#[test]
fn handle_limit_defaults_to_1024_and_frees_on_drop() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let run = misuse("handle_limit", Options::default());
    // "peer" holds one handle and its moved-out descriptor another.
    assert_eq!(run.get("pairs_before_limit"), "511");
    assert_eq!(run.get("limit_error"), "limit-reached");
    assert_eq!(run.get("pair_after_drop"), "ok");
}

#[test]
fn configured_limits_apply() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let limits = Limits::default().max_handles(12).max_fds_per_message(10);
    let run = misuse(
        "handle_limit",
        Options {
            limits: Some(limits),
            ..Options::default()
        },
    );
    assert_eq!(run.get("pairs_before_limit"), "5");
}

/// A native peer sends more fds than the guest may still hold: the ones
/// over the limit are closed by the host, the receive reports
/// control-truncated, the data arrives intact. Through `recv-fds` and
/// `recv-msg`, with both host-call styles.
#[test]
fn fds_over_the_handle_limit_are_closed_and_reported() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    for scenario in ["recv_fds", "recv_msg_fds"] {
        for host_calls in support::HOST_CALLS {
            let (ours, theirs) = UnixStream::pair().unwrap();
            let pairs: Vec<(UnixStream, UnixStream)> =
                (0..4).map(|_| UnixStream::pair().unwrap()).collect();
            let lent: Vec<_> = pairs.iter().map(|(_, lent)| lent.as_fd()).collect();
            native::send_fds(ours.as_fd(), b"four fds", &lent).unwrap();
            let kept: Vec<UnixStream> = pairs.into_iter().map(|(kept, _lent)| kept).collect();
            let baseline = open_fds();
            // "peer" takes one handle: room for 2 of the 4 fds.
            let opts = Options {
                limits: Some(Limits::default().max_handles(3)),
                host_calls,
                ..Options::default()
            };
            let run = run_guest_with(
                guests::CONFORMANCE,
                &[scenario],
                vec![("peer", theirs.into())],
                opts,
            )
            .unwrap();
            let case = format!("{scenario}, {host_calls:?}");
            assert_eq!(
                open_fds(),
                baseline - 1,
                "{case}: the guest's socket and every received fd are closed"
            );
            run.assert_ok();
            assert_eq!(run.get("data"), "four fds", "{case}");
            assert_eq!(run.get("handles"), "2", "{case}");
            assert_eq!(run.get("flags"), "control-truncated", "{case}");
            // Every lent end is closed: each kept end reads end-of-file.
            for mut k in kept {
                let mut buf = [0u8; 1];
                assert_eq!(std::io::Read::read(&mut k, &mut buf).unwrap(), 0, "{case}");
            }
        }
    }
}

/// A guest that forges a handle index it dropped traps in the component
/// model's handle check before the host sees the call; the host survives,
/// closes everything the guest held, and nothing was sent.
#[test]
fn forged_handle_index_traps_without_leaking() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let peer = PythonPeer::start("misuse", "stream");
    let baseline = open_fds();
    let err = run_guest(
        guests::MISUSE,
        &["forged_handle"],
        vec![("peer", peer.connect())],
    )
    .unwrap_err();
    assert_eq!(open_fds(), baseline);
    assert!(
        err.downcast_ref::<capsock_host::GuestTrapped>().is_some(),
        "{err:#}"
    );
    assert!(format!("{err:#}").contains("handle index"), "{err:#}");
    assert_eq!(
        peer.finish(),
        json!({"data": "", "ancillary": []}),
        "nothing was sent"
    );
}

/// The `misuse` guest's `case` against a Python peer: it must trap, leak
/// no fd, and never reach the line after the call.
fn misuse_traps(case: &str) {
    let peer = PythonPeer::start("misuse", "stream");
    let baseline = open_fds();
    let err = run_guest(guests::MISUSE, &[case], vec![("peer", peer.connect())]).unwrap_err();
    assert_eq!(open_fds(), baseline, "{case}");
    assert!(
        err.downcast_ref::<capsock_host::GuestTrapped>().is_some(),
        "{case}: {err:#}"
    );
    assert!(
        !format!("{err:#}").contains("unreachable="),
        "{case}: {err:#}"
    );
    drop(peer);
}

/// `recv-into` and `recv-fds` with a buffer past the end of the guest's
/// memory trap before anything is received, and leak nothing.
#[test]
fn a_receive_buffer_outside_memory_traps_without_leaking() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    misuse_traps("recv_into_outside");
    misuse_traps("recv_fds_outside");
}

#[test]
fn addresses_of_the_wrong_family_are_refused() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let run = misuse("wrong_family", Options::default());
    assert_eq!(run.get("send_ipv4"), "address-family-not-supported");
    assert_eq!(run.get("connect_ipv6"), "address-family-not-supported");
    assert_eq!(run.get("bind_ipv4"), "address-family-not-supported");
    assert_eq!(run.get("connect_unnamed"), "invalid-argument");
}

/// Every escape from a granted directory is `access-denied`, nothing is
/// created outside, and paths inside work.
#[test]
fn unix_paths_cannot_escape_the_granted_directory() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let root = tempfile::tempdir().unwrap();
    let t = root.path().join("t");
    let outside = root.path().join("outside");
    std::fs::create_dir(&t).unwrap();
    std::fs::create_dir(&outside).unwrap();
    // Listening sockets where each escape would land, so a wrong resolution
    // would connect instead of failing.
    let _listeners = [
        std::os::unix::net::UnixListener::bind(t.join("real.sock")).unwrap(),
        std::os::unix::net::UnixListener::bind(outside.join("outside.sock")).unwrap(),
        std::os::unix::net::UnixListener::bind(root.path().join("outside.sock")).unwrap(),
    ];
    std::os::unix::fs::symlink(outside.join("outside.sock"), t.join("link.sock")).unwrap();
    std::os::unix::fs::symlink(&outside, t.join("subdir")).unwrap();
    let mut policy = capsock_host::Policy::new();
    policy.allow_unix_dir(&t, "/run/t").unwrap();
    // A clone keeps the directory fd open across the run, for the fd count.
    let run = misuse(
        "paths",
        Options {
            policy: Some(policy.clone()),
            ..Options::default()
        },
    );
    for key in [
        "dotdot",
        "absolute_outside",
        "relative",
        "symlink_file",
        "symlink_dir",
        "the_dir_itself",
        "abstract",
    ] {
        assert_eq!(
            run.get(&format!("connect_{key}")),
            "access-denied",
            "connect {key}"
        );
    }
    assert_eq!(run.get("connect_missing"), "no-entry");
    assert_eq!(run.get("connect_overlong"), "name-too-long");
    for key in ["dotdot", "symlink_dir", "outside"] {
        assert_eq!(
            run.get(&format!("bind_{key}")),
            "access-denied",
            "bind {key}"
        );
        assert_eq!(
            run.get(&format!("sendto_{key}")),
            "access-denied",
            "send to {key}"
        );
    }
    assert_eq!(run.get("connect_inside"), "ok");
    assert_eq!(run.get("bind_inside"), "ok");
    assert_eq!(run.get("bind_again"), "address-in-use");
    assert!(t.join("bound.sock").exists());
    assert!(
        !root.path().join("evil.sock").exists() && !outside.join("evil.sock").exists(),
        "nothing created outside"
    );
    drop(policy);
}
