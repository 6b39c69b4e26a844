//! CONFORMANCE.md scenarios: a real guest under the real host, a Python 3
//! peer in a separate process, and the host's fd count checked after each.

mod support;

use serde_json::json;
use support::{conformance, misuse, Options};

#[test]
fn c01_send_hello_world_on_a_stream_socket() {
    let (run, peer) = conformance("c01", "c01");
    assert_eq!(run.get("sent"), "12");
    assert_eq!(
        peer,
        json!({"data": "Hello, world", "ancillary": [], "flags": 0})
    );
}

#[test]
fn c02_receive_two_temperature_files_and_read_them_through_handles() {
    let (run, peer) = conformance("c02", "c02");
    assert_eq!(peer["sent"], 16);
    assert_eq!(run.get("data"), "Temperature data");
    assert_eq!(run.get("handles"), "2");
    assert_eq!(run.get("flags"), "0");
    assert_eq!(run.get("kind0"), "DescriptorKind::RegularFile");
    assert_eq!(run.get("file0"), r#""time temp\n00.00 23\n01.00 22\n""#);
    assert_eq!(run.get("file1"), r#""time temp\n00.00 12\n""#);
}

#[test]
fn c03_copy_descriptor_reads_split_between_original_and_copy() {
    let (run, peer) = conformance("c03", "c03");
    assert_eq!(run.get("sent"), "1");
    assert_eq!(peer["data"], "00");
    assert_eq!(peer["fds"], 1);
    assert_eq!(peer["flags"], 0);
    assert_eq!(peer["peer_read"], "Hello,");
    assert_eq!(run.get("guest_read"), " world");
}

#[test]
fn c11_wrong_socket_type_is_an_error_and_gives_the_handle_back() {
    let (run, peer) = conformance("c11_wrong_socket_type", "c11_wrong_socket_type");
    assert_eq!(run.get("datagram_error_kind"), "InvalidInput");
    assert_eq!(run.get("converted"), "stream");
    assert_eq!(peer["via_sent_socket"], "still usable");
}

/// C11 through the raw WIT: a handle whose fd moved away is
/// `bad-descriptor`, nothing is sent, and the next call works.
#[test]
fn c11_moved_descriptor_is_bad_descriptor_and_nothing_is_sent() {
    let run = misuse("moved_descriptor", Vec::new(), Options::default());
    assert_eq!(run.get("send_moved"), "bad-descriptor");
    assert_eq!(run.get("read_moved"), "bad-descriptor");
    assert_eq!(run.get("convert_again"), "bad-descriptor");
}

/// C11 through the raw WIT: a pipe where a socket is required is
/// `not-socket`, and the pipe handle stays usable.
#[test]
fn c11_pipe_where_a_socket_is_required_is_not_socket() {
    let (reader, writer) = std::io::pipe().unwrap();
    let run = misuse(
        "not_a_socket",
        vec![("pipe", reader.into())],
        Options::default(),
    );
    assert_eq!(run.get("from_pipe"), "not-socket");
    assert_eq!(run.get("pipe_kind"), "DescriptorKind::Fifo");
    assert_eq!(run.get("take_again"), "no-entry");
    assert_eq!(run.get("take_unknown"), "no-entry");
    drop(writer);
}

#[test]
fn c12_gathered_buffers_arrive_joined() {
    let (run, peer) = conformance("c12", "c12");
    assert_eq!(run.get("sent"), "9");
    assert_eq!(
        peer,
        json!({"data": "Message!\n", "ancillary": [], "flags": 0})
    );
}

#[test]
fn c13_data_scatters_over_three_buffers() {
    let (run, peer) = conformance("c13", "c13");
    assert_eq!(peer["sent"], 22);
    assert_eq!(run.get("bytes"), "22");
    assert_eq!(run.get("a"), r#""Mary""#);
    assert_eq!(run.get("b"), r#"" had a ""#);
    assert_eq!(run.get("c"), r#""little lamb\0\0\0""#);
    assert_eq!(run.get("flags"), "0");
}

#[test]
fn c20_hundred_fds_dropped_half_all_closed_at_exit() {
    let (run, peer) = conformance("c20", "c20");
    assert_eq!(run.get("kept"), "50");
    let while_running: Vec<bool> =
        serde_json::from_value(peer["eof_while_running"].clone()).unwrap();
    let after_exit: Vec<bool> = serde_json::from_value(peer["eof_after_exit"].clone()).unwrap();
    assert_eq!(while_running.len(), 100);
    for (i, eof) in while_running.iter().enumerate() {
        assert_eq!(
            *eof,
            i % 2 == 0,
            "fd {i}: dropped ones (even) show EOF, kept ones (odd) do not"
        );
    }
    assert!(
        after_exit.iter().all(|&eof| eof),
        "every end shows EOF once the guest exited: {after_exit:?}"
    );
}
