//! The conformance scenarios C1-C20 (docs/conformance.md): a real guest
//! under the real host, a peer in a separate process (CPython's socket
//! module; Twisted's sendmsg module for C1 and C3 again), and the host's fd
//! count checked after each. Expected results are what Linux and CPython
//! do.

use serde_json::{json, Value};

use crate::support::{
    self, conformance, conformance_with, guest_against, guests, misuse, twisted_python, Options,
    PythonPeer,
};

fn bools(v: &Value) -> Vec<bool> {
    serde_json::from_value(v.clone()).expect("a list of booleans")
}

/// Lends `groups` fds to the guest, which receives them with control space
/// `spec` (`recv_watch`); returns the guest's report and the peer's EOF
/// observations.
fn lend_and_receive(groups: &[&str], spec: &str) -> (support::GuestRun, Vec<bool>, Vec<bool>) {
    let (run, peer) = conformance_with(&["recv_watch", spec], "lend_and_watch", groups);
    assert_eq!(run.get("data"), "data", "the data always arrives intact");
    (
        run,
        bools(&peer["eof_while_running"]),
        bools(&peer["eof_after_exit"]),
    )
}

#[test]
fn c01_send_hello_world_on_a_stream_socket() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("c01", "c01");
    assert_eq!(run.get("sent"), "12");
    assert_eq!(
        peer,
        json!({"data": "Hello, world", "ancillary": [], "flags": 0})
    );
}

#[test]
fn c01_twisted_recvmsg_receives_hello_world() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let python = twisted_python();
    let mut peer = PythonPeer::start_with(&python, "twisted_c01", "stream", &[]);
    let run = guest_against(&mut peer, &["c01"], Options::default(), None);
    assert_eq!(run.get("sent"), "12");
    assert_eq!(
        peer.finish(),
        json!({"data": "Hello, world", "ancillary": [], "flags": 0})
    );
}

#[test]
fn c02_receive_two_temperature_files_and_read_them_through_handles() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("c02", "c02");
    assert_eq!(peer["sent"], 16);
    assert_eq!(run.get("data"), "Temperature data");
    assert_eq!(run.get("handles"), "2");
    assert_eq!(run.get("flags"), "0");
    assert_eq!(run.get("kind0"), "regular-file");
    assert_eq!(run.get("file0"), r"time temp\n00.00 23\n01.00 22\n");
    assert_eq!(run.get("file1"), r"time temp\n00.00 12\n");
}

#[test]
fn c03_copy_descriptor_reads_split_between_original_and_copy() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("c03", "c03");
    assert_eq!(run.get("sent"), "1");
    assert_eq!(peer["data"], "00");
    assert_eq!(peer["fds"], 1);
    assert_eq!(peer["flags"], 0);
    assert_eq!(peer["peer_read"], "Hello,");
    assert_eq!(run.get("guest_read"), " world");
}

#[test]
fn c03_twisted_copy_descriptor_with_the_guest_as_sender() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let python = twisted_python();
    let mut peer = PythonPeer::start_with(&python, "twisted_c03", "stream", &[]);
    let run = guest_against(&mut peer, &["c03"], Options::default(), None);
    assert_eq!(run.get("sent"), "1");
    assert_eq!(run.get("guest_read"), " world");
    assert_eq!(
        peer.finish(),
        json!({"data": "00", "ancillary": 1, "peer_read": "Hello,"})
    );
}

#[test]
fn c04_four_fds_fit_exactly_in_cmsg_space_of_four_ints() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, while_running, after_exit) = lend_and_receive(&["4"], "space:4");
    assert_eq!(run.get("rights"), "4");
    assert_eq!(run.get("ctrunc"), "false");
    assert_eq!(run.get("order"), "0123");
    assert_eq!(while_running, [false; 4], "held handles stay open");
    assert_eq!(after_exit, [true; 4], "and are closed when the guest exits");
}

#[test]
fn c05_two_rights_items_arrive_in_order() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, while_running, after_exit) = lend_and_receive(&["1", "1"], "space:2");
    // Linux merges the items: one item with both fds.
    assert!(
        ["2", "1,1"].contains(&run.get("rights").as_str()),
        "{run:?}"
    );
    assert_eq!(run.get("order"), "01");
    assert_eq!(run.get("ctrunc"), "false");
    assert_eq!(while_running, [false, false]);
    assert_eq!(after_exit, [true, true]);
}

#[test]
fn c06_no_control_space_truncates_and_closes_the_fd() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, while_running, _) = lend_and_receive(&["1"], "raw:0");
    assert_eq!(run.get("rights"), "");
    assert_eq!(run.get("ctrunc"), "true");
    assert_eq!(
        while_running,
        [true],
        "the fd that did not fit is closed at once"
    );
}

#[test]
fn c07_room_for_one_of_two_fds_keeps_the_first_and_closes_the_other() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, while_running, after_exit) = lend_and_receive(&["2"], "len:1");
    assert_eq!(run.get("rights"), "1");
    assert_eq!(run.get("order"), "0");
    assert_eq!(run.get("ctrunc"), "true");
    assert_eq!(while_running, [false, true]);
    assert_eq!(after_exit, [true, true]);
}

#[test]
fn c08_control_space_too_small_for_a_header_delivers_nothing() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    for spec in ["raw:1", "raw:8", "len0-1"] {
        let (run, while_running, _) = lend_and_receive(&["1"], spec);
        assert_eq!(run.get("rights"), "", "{spec}");
        assert_eq!(run.get("ctrunc"), "true", "{spec}");
        assert_eq!(while_running, [true], "{spec}: leak-free");
    }
}

#[test]
fn c09_stream_reads_stop_after_the_message_carrying_fds() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let mut peer = PythonPeer::start("c09", "stream");
    let run = guest_against(&mut peer, &["c09"], Options::default(), Some("sent"));
    assert_eq!(run.get("data1"), "aaabbb");
    assert_eq!(run.get("rights1"), "1");
    assert_eq!(run.get("order1"), "0");
    assert_eq!(run.get("data2"), "ccc");
    assert_eq!(run.get("rights2"), "");
    assert_eq!(bools(&peer.finish()["eof_after_exit"]), [true]);
}

#[test]
fn c10_zero_bytes_with_an_fd_stream_sends_nothing_datagram_and_seqpacket_deliver() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("c10", "c10");
    assert_eq!(run.get("stream_sent"), "0");
    assert_eq!(run.get("datagram_sent"), "0");
    assert_eq!(run.get("seqpacket_sent"), "0");
    assert_eq!(
        peer["stream"],
        json!({"data": "", "ancillary": []}),
        "Linux drops fds with a 0-byte stream send"
    );
    assert_eq!(peer["datagram"], json!({"data": "", "fds": 1, "flags": 0}));
    assert_eq!(peer["seqpacket"], json!({"data": "", "fds": 1, "flags": 0}));
}

#[test]
fn c11_wrong_socket_type_is_an_error_and_gives_the_handle_back() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("c11_wrong_socket_type", "c11_wrong_socket_type");
    assert_eq!(run.get("datagram_error_kind"), "InvalidInput");
    assert_eq!(run.get("converted"), "stream");
    assert_eq!(peer["via_sent_socket"], "still usable");
}

/// C11 through the raw WIT: a handle whose fd moved away is
/// `bad-descriptor`, nothing is sent, and the next call works.
#[test]
fn c11_moved_descriptor_is_bad_descriptor_and_nothing_is_sent() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let run = misuse("moved_descriptor", Vec::new(), Options::default());
    assert_eq!(run.get("send_moved"), "bad-descriptor");
    assert_eq!(run.get("read_moved"), "bad-descriptor");
    assert_eq!(run.get("convert_again"), "bad-descriptor");
}

/// C11 through the raw WIT: a pipe where a socket is required is
/// `not-socket`, and the pipe handle stays usable.
#[test]
fn c11_pipe_where_a_socket_is_required_is_not_socket() {
    let _fds = support::exclusive(&[guests::MISUSE]);
    let (reader, writer) = std::io::pipe().unwrap();
    let run = misuse(
        "not_a_socket",
        vec![("pipe", reader.into())],
        Options::default(),
    );
    assert_eq!(run.get("from_pipe"), "not-socket");
    assert_eq!(run.get("pipe_kind"), "fifo");
    assert_eq!(run.get("take_again"), "no-entry");
    assert_eq!(run.get("take_unknown"), "no-entry");
    drop(writer);
}

#[test]
fn c12_gathered_buffers_arrive_joined() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("c12", "c12");
    assert_eq!(run.get("sent"), "9");
    assert_eq!(
        peer,
        json!({"data": "Message!\n", "ancillary": [], "flags": 0})
    );
}

#[test]
fn c13_data_scatters_over_three_buffers() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("c13", "c13");
    assert_eq!(peer["sent"], 22);
    assert_eq!(run.get("bytes"), "22");
    assert_eq!(run.get("a"), "Mary");
    assert_eq!(run.get("b"), " had a ");
    assert_eq!(run.get("c"), r"little lamb\x00\x00\x00");
    assert_eq!(run.get("flags"), "0");
}

#[test]
fn c14_long_datagram_is_truncated() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, _) = conformance("c14", "c14");
    assert_eq!(run.get("data"), "0123");
    assert_eq!(run.get("truncated"), "true");
}

#[test]
fn c15_unconnected_datagram_needs_an_address_then_reaches_the_peer_path() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let peer = PythonPeer::start("c15", "datagram");
    let mut policy = capsock_host::Policy::new();
    policy.allow_unix_dir(peer.dir(), "/run/t").unwrap();
    let baseline = support::open_fds();
    let args = ["c15", "/run/t/peer.sock", "/run/t/guest.sock"];
    let opts = Options {
        policy: Some(policy),
        ..Options::default()
    };
    let run = support::run_guest_with(guests::CONFORMANCE, &args, Vec::new(), opts).unwrap();
    // The policy's directory fd went with the guest's context.
    assert_eq!(support::open_fds(), baseline - 1);
    run.assert_ok();
    // Linux answers ENOTCONN for an unconnected Unix datagram socket
    // (EDESTADDRREQ is what UDP says); capsock reports what Linux does.
    assert_eq!(run.get("no_address"), "not-connected");
    assert_eq!(run.get("outside"), "access-denied");
    assert_eq!(
        run.get("local"),
        "/run/t/guest.sock",
        "the guest sees its address in its own namespace"
    );
    assert_eq!(run.get("sent"), "5");
    assert_eq!(run.get("reply"), "reply");
    assert_eq!(run.get("reply_from"), "/run/t/peer.sock");
    assert!(
        peer.dir().join("guest.sock").exists(),
        "the socket file is in the granted directory"
    );
    let json = peer.finish();
    assert_eq!(json["data"], "hello");
    // The guest's socket is named through the granted directory's fd
    // (race-free; see docs/semantics.md), a name the peer could reply to:
    // the reply above reached the guest.
    let from = json["from"].as_str().unwrap();
    let prefix = format!("/proc/{}/fd/", std::process::id());
    assert!(
        from.starts_with(&prefix) && from.ends_with("/guest.sock"),
        "the peer sees the guest's source address: {from}"
    );
}

#[test]
fn c16_peek_consumes_nothing_until_the_plain_receive() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let mut peer = PythonPeer::start("c16", "stream");
    let run = guest_against(&mut peer, &["c16"], Options::default(), Some("sent"));
    assert_eq!(run.get("peek_short"), "hello world, p");
    assert_eq!(run.get("peek_all"), "hello world, peek");
    assert_eq!(run.get("read"), "hello world, peek");
    assert_eq!(run.get("then"), "would-block");
    peer.finish();
}

#[test]
fn c17_dont_wait_fills_the_socket_then_would_block_and_every_byte_counts() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let mut peer = PythonPeer::start("c17", "stream");
    let run = guest_against(&mut peer, &["c17"], Options::default(), None);
    peer.signal("go");
    let json = peer.finish();
    assert_eq!(run.get("error"), "would-block");
    let total: u64 = run.get("total").parse().unwrap();
    assert!(total > 0);
    assert_eq!(
        json["received"], total,
        "the peer receives exactly what the sends reported"
    );
}

#[test]
fn c18_peer_closed_reads_empty_without_error() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, _) = conformance("c18", "c18");
    assert_eq!(run.get("bytes"), "0");
    assert_eq!(run.get("ancillary"), "0");
    assert_eq!(run.get("flags"), "0");
}

#[test]
fn c19_credential_passing_reports_the_peers_real_ids() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("c19", "c19");
    assert_eq!(run.get("items"), "1");
    assert_eq!(run.get("pid"), peer["pid"].to_string());
    assert_eq!(run.get("uid"), peer["uid"].to_string());
    assert_eq!(run.get("gid"), peer["gid"].to_string());
}

#[test]
fn c20_hundred_fds_dropped_half_all_closed_at_exit() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("c20", "c20");
    assert_eq!(run.get("kept"), "50");
    let while_running = bools(&peer["eof_while_running"]);
    assert_eq!(while_running.len(), 100);
    for (i, eof) in while_running.iter().enumerate() {
        assert_eq!(
            *eof,
            i % 2 == 0,
            "fd {i}: dropped ones (even) show EOF, kept ones (odd) do not"
        );
    }
    assert_eq!(
        bools(&peer["eof_after_exit"]),
        [true; 100],
        "every end shows EOF once the guest exited"
    );
}

/// The truncation cases of CPython's SCMRightsTest: for each control space
/// (computed by the guest with the host's CMSG helpers), the guest sees the
/// same items, fds and MSG_CTRUNC as CPython's recvmsg on this kernel.
#[test]
fn cpython_parity_for_truncated_rights() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let cases = [
        "0",
        "1",
        "2int",
        "len0-1",
        "len0",
        "len0+1",
        "lenint",
        "len2int-1",
        "space2int",
    ];
    let mut guest_args = vec!["parity"];
    guest_args.extend(cases);
    let (run, peer) = conformance_with(&guest_args, "parity", &cases);
    for case in cases {
        let py = &peer["python"][case];
        let ours: Vec<String> = run.get(case).split(',').map(str::to_string).collect();
        let python = [
            py["space"].to_string(),
            py["items"].as_array().unwrap().len().to_string(),
            py["fds"].to_string(),
            py["ctrunc"].to_string(),
        ];
        assert_eq!(
            ours, python,
            "{case}: guest (space, items, fds, ctrunc) vs CPython"
        );
    }
    assert_eq!(
        bools(&peer["eof_after_exit"]),
        vec![true; 2 * cases.len()],
        "every fd (two per case), delivered or not, is closed"
    );
}

/// The SDK's `recv_fds` (one `recv-fds` host call on a stream socket)
/// against CPython's `socket.recv_fds(sock, 8, 2)` on the same kernel, for
/// no fds, one, exactly `maxfds`, one more than `maxfds`, two items (the
/// kernel joins them), and more data than `bufsize` (the rest stays in the
/// stream): the same data, fd count and flags; every fd,
/// delivered or closed for want of room, is closed when the guest exits.
/// Both host-call styles run it (`conformance_with`).
#[test]
fn recv_fds_matches_cpythons_recv_fds() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let cases = ["none", "one", "max", "over", "two_items", "long"];
    let mut guest_args = vec!["recv_fds_parity"];
    guest_args.extend(cases);
    let (run, peer) = conformance_with(&guest_args, "recv_fds_parity", &cases);
    for case in cases {
        let py = &peer["python"][case];
        let python = format!(
            "{},{},{},{}",
            py["data"].as_str().unwrap(),
            py["fds"],
            py["truncated"],
            py["ctrunc"]
        );
        assert_eq!(run.get(case), python, "{case}: guest vs CPython");
    }
    assert_eq!(
        run.get("over"),
        "abcd,2,false,true",
        "the third fd has no room"
    );
    assert_eq!(run.get("long_rest"), "89", "the rest stays in the stream");
    assert_eq!(
        bools(&peer["eof_after_exit"]),
        vec![true; 9],
        "every lent fd is closed"
    );
}

/// The README's first example is `examples/guests/src/bin/readme.rs`
/// verbatim, and run against a broker written with Twisted's reactor
/// (which sends each fd with one byte) it reads both files, receives the
/// rest, and answers with the bytes that carried them.
#[test]
fn readme_first_example_reads_both_files_from_a_twisted_reactor() {
    let _fds = support::exclusive(&[capsock_test_artifacts::examples::README]);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let start = readme.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let snippet = &readme[start..start + readme[start..].find("```").unwrap()];
    let program =
        std::fs::read_to_string(format!("{root}/examples/guests/src/bin/readme.rs")).unwrap();
    let code: String = program
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(snippet, code, "README's first example and readme.rs differ");

    let python = support::twisted_python();
    let broker = PythonPeer::start_script(&python, "twisted_broker.py", &[""], 0);
    let run = support::run_guest(
        capsock_test_artifacts::examples::README,
        &[],
        vec![("broker", broker.connect())],
    )
    .expect("the README example runs");
    assert_eq!(
        run.stdout, "time temp\n00.00 23\n01.00 22\ntime temp\n00.00 12\n",
        "both files, in order"
    );
    let peer = broker.finish();
    assert_eq!(peer["reply"], "back: ok", "{peer}");
}

/// A pipe made by the guest: a timed read on it times out, its write end
/// goes to a Python peer with `SCM_RIGHTS`, and the guest reads what the
/// peer wrote into it, to end-of-file once the peer closed its copy (the
/// guest dropped its own).
#[test]
fn a_pipe_made_in_the_guest_carries_a_python_peers_report() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("pipe_report", "pipe_report");
    assert_eq!(
        run.get("kinds"),
        "DescriptorKind::Fifo,DescriptorKind::Fifo"
    );
    assert_eq!(run.get("empty_read"), "TimedOut");
    assert_eq!(peer["data"], "report");
    assert_eq!(peer["fds"], 1);
    assert_eq!(
        run.get("report"),
        format!("written by python {}", peer["pid"])
    );
}

/// `Credentials::own()` is this process's pid, uid and gid; a message
/// carrying them reaches the peer with them; foreign ids are refused and
/// nothing is sent.
#[test]
fn own_credentials_are_the_hosts_and_the_only_ones_accepted() {
    let _fds = support::exclusive(&[guests::CONFORMANCE]);
    let (run, peer) = conformance("own_credentials", "own_credentials");
    let (pid, uid, gid) = (
        std::process::id(),
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    assert_eq!(run.get("own"), format!("{pid},{uid},{gid}"));
    assert_eq!(run.get("sent_own"), "1");
    assert_eq!(run.get("sent_forged"), "PermissionDenied");
    assert_eq!(
        peer["credentials"],
        json!([[pid, uid, gid]]),
        "one message, ours"
    );
}
