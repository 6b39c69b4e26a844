//! Guests written in Python (componentize-py) and JavaScript
//! (ComponentizeJS) from capsock's WIT alone: the examples of
//! examples/python and examples/js, built as `examples/run.py` builds them,
//! run in this process against CPython peers, with the host's fd count
//! checked after each run.

use std::os::fd::OwnedFd;
use std::path::Path;

use capsock_host::HostCalls;
use wasmtime_wasi::FsPerms;

use crate::support::{self, Options, PythonPeer, HOST_CALLS};

/// Runs `wasm` with `args`, the grants `grants` makes (after the fd
/// baseline: the guest closes them) and `opts`, and checks that it
/// succeeded and left no host fd open. The caller holds the exclusive lock.
fn run_counted<'a>(
    wasm: &str,
    args: &[&str],
    grants: impl FnOnce() -> Vec<(&'a str, OwnedFd)>,
    opts: Options,
) -> support::GuestRun {
    let baseline = support::open_fds();
    let run = support::run_guest_with(wasm, args, grants(), opts).expect("guest run");
    assert_eq!(support::open_fds(), baseline, "host fds leaked: {run:#?}");
    run.assert_ok();
    run
}

/// The plugin at `wasm` (args `args`) fed by the CPython broker `c02`
/// (two temporary files with "Temperature data"), under `host_calls`:
/// what the broker got back, after checking the guest's status and that
/// no host fd is left over. The caller holds the exclusive lock.
fn plugin_against_cpython(wasm: &str, args: &[&str], host_calls: HostCalls) -> String {
    let peer = PythonPeer::start("c02", "stream");
    let opts = Options {
        host_calls,
        ..Options::default()
    };
    let run = run_counted(wasm, args, || vec![("broker", peer.connect())], opts);
    let report = peer.finish();
    assert_eq!(report["sent"], 16, "{report}");
    assert_eq!(report["after_ancillary"], serde_json::json!([]));
    let after = report["after"].as_str().expect("the report").to_string();
    assert!(
        run.stdout.contains(&after),
        "the guest printed its report too: {run:#?}"
    );
    after
}

/// The two files of `c02` summarized as the Rust plugin summarizes them.
const SUMMARY: [&str; 2] = [
    "file 1: 2 readings, min 22 °C, max 23 °C, mean 22.50 °C\n",
    "file 2: 1 readings, min 12 °C, max 12 °C, mean 12.00 °C\n",
];

#[test]
fn python_temperature_plugin_reads_the_files_a_cpython_broker_sends() {
    let (_fds, wasm) = support::exclusive_after(|| support::script_guest("python"));
    for host_calls in HOST_CALLS {
        let report = plugin_against_cpython(&wasm, &["temperature_plugin"], host_calls);
        assert_eq!(
            report,
            format!(
                "plugin received \"Temperature data\" with 2 handle(s); no filesystem access (No such file or directory)\n{}{}",
                SUMMARY[0], SUMMARY[1]
            ),
            "{host_calls:?}"
        );
    }
}

#[test]
fn javascript_temperature_plugin_reads_the_files_a_cpython_broker_sends() {
    let (_fds, wasm) = support::exclusive_after(|| support::script_guest("js"));
    for host_calls in HOST_CALLS {
        let report = plugin_against_cpython(&wasm, &[], host_calls);
        assert_eq!(
            report,
            format!(
                "plugin received \"Temperature data\" with 2 handle(s)\n{}{}",
                SUMMARY[0], SUMMARY[1]
            ),
            "{host_calls:?}"
        );
    }
}

/// Twisted's send_replacement.py with its two import lines changed prints
/// what the original prints (`Sent 12 bytes`, the bytes, no flags, no
/// ancillary data).
#[test]
fn python_send_replacement_prints_what_twisteds_listing_prints() {
    let _fds = support::shared();
    let wasm = support::script_guest("python");
    let run = support::run_guest(&wasm, &["send_replacement"], vec![]).expect("guest run");
    run.assert_ok();
    assert_eq!(
        run.stdout,
        "Sent 12 bytes\nReceived b'Hello, world'\nExtra stuff, boring in this case 0 []\n"
    );
}

/// A file a Python guest opens below its WASI preopen becomes a handle it
/// can send (`descriptor.from-filesystem`): the peer gets exactly the
/// access mode the guest opened it with, a directory and a path outside
/// are refused, and nothing is left open in the host.
#[test]
fn python_guest_sends_files_it_opened_at_their_access_mode() {
    let (_fds, wasm) = support::exclusive_after(support::python_test_guest);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readings.txt"), "00.00 23\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "notes\n").unwrap();
    let peer = PythonPeer::start("guest_files", "stream");
    std::os::unix::fs::symlink("/etc", dir.path().join("escape")).unwrap();
    let opts = Options {
        dir: Some((dir.path().to_path_buf(), FsPerms::ReadWrite)),
        ..Options::default()
    };
    let run = run_counted(
        &wasm,
        &["guest_files"],
        || vec![("peer", peer.connect())],
        opts,
    );
    for (key, value) in [
        ("ro_write", "EBADF"),
        ("rw_write", "ok"),
        ("directory", "EISDIR"),
        ("missing", "ENOENT"),
        ("outside", "ENOENT"),
        ("symlink_out", "EPERM"),
        ("created_write", "EBADF"),
        ("append_write", "ok"),
        ("append_send", "EBADF"),
        ("not_ours", "EBADF"),
        ("ro_size", "9"),
        ("ro_is_file", "True"),
        ("sent", "11"),
        ("closed_read", "EBADF"),
        ("reply", "ok"),
    ] {
        assert_eq!(run.get(key), value, "{key}: {run:#?}");
    }
    let seen = peer.finish();
    assert_eq!(
        seen,
        serde_json::json!({
            "data": "three files",
            "files": [
                {"mode": "r", "text": "00.00 23\n", "writable": false},
                {"mode": "rw", "text": "guest wrote this; ", "writable": true},
                {"mode": "r", "text": "", "writable": false},
            ],
            "after": "done",
            "after_ancillary": [],
        })
    );
}

/// tests/python/shapes.py prints what CPython's socket and os give on
/// socket pairs (gather, `MSG_CTRUNC` with room for one fd of two, fds
/// received and used, `send_fds`/`recv_fds`, `socket(fileno=)`, peek,
/// non-blocking, timeouts, datagram truncation, exit status): run as a
/// guest it prints exactly what it prints run natively by CPython, with
/// the import line changed back.
#[test]
fn python_guest_sees_cpythons_socket_shapes() {
    let (_fds, wasm) = support::exclusive_after(support::python_test_guest);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/shapes.py");
    let text = std::fs::read_to_string(&script).unwrap();
    let native_text = text.replace(
        "from capsock import os, socket  # natively: import os, socket",
        "import os, socket",
    );
    assert_ne!(text, native_text, "the import line is there to change");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shapes.py"), native_text).unwrap();
    let native = std::process::Command::new("python3")
        .arg(dir.path().join("shapes.py"))
        .arg("7")
        .output()
        .unwrap();
    let baseline = support::open_fds();
    let guest = support::run_guest(&wasm, &["shapes", "7"], vec![]).expect("guest run");
    assert_eq!(support::open_fds(), baseline, "host fds leaked: {guest:#?}");
    assert_eq!(native.status.code(), Some(7), "{native:?}");
    assert_eq!(guest.status, 7, "{guest:#?}");
    assert_eq!(guest.stdout, support::stdout_of(&native));
}

/// Below a read-only preopen, `capsock.os.open` gives read-only handles:
/// reading works, writing through the handle does not, and opening for
/// writing is refused, so nothing writable can be passed on.
#[test]
fn python_guest_files_below_a_read_only_preopen_stay_read_only() {
    let (_fds, wasm) = support::exclusive_after(support::python_test_guest);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readings.txt"), "00.00 23\n").unwrap();
    let opts = Options {
        dir: Some((dir.path().to_path_buf(), FsPerms::ReadOnly)),
        ..Options::default()
    };
    let run = run_counted(&wasm, &["readonly_files"], Vec::new, opts);
    for (key, value) in [
        ("read", "00.00"),
        ("ro_write", "EBADF"),
        ("rdwr", "EPERM"),
        ("create", "EPERM"),
    ] {
        assert_eq!(run.get(key), value, "{key}: {run:#?}");
    }
    assert!(!dir.path().join("new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("readings.txt")).unwrap(),
        "00.00 23\n"
    );
}
