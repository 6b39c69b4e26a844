//! The sandbox limits through the command line: `-W` flags stop a guest
//! with one line and the documented exit status; a bind under a full fd
//! table leaves nothing behind. (The same limits in-process are in
//! tests/all/hardening.rs.)

use std::os::unix::net::UnixListener;

use crate::support::{self, guests, stdout_of};
use crate::{capsock, capsock_under_ulimit, one_line_error};

/// The same through the command line: `-W timeout=1s` stops a spinning
/// guest and one blocked in `recv`, with a one-line message and exit
/// status 124.
#[test]
fn capsock_run_timeout_stops_spinning_and_blocked_guests_with_status_124() {
    let _fds = support::shared();
    let out = capsock(&["run", "-W", "timeout=1s", guests::HARDENING, "spin"]);
    assert_eq!(one_line_error(&out, "time limit (timeout=1s)"), 124);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peer.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let connect = format!("peer={}", path.display());
    let out = capsock(&[
        "run",
        "--wasm",
        "timeout=1s",
        "--unix-connect",
        &connect,
        guests::HARDENING,
        "block_recv",
    ]);
    assert_eq!(one_line_error(&out, "time limit (timeout=1s)"), 124);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "receiving\n");
    drop(listener);
}

/// `-W fuel` stops a spinning guest with status 152.
#[test]
fn capsock_run_fuel_stops_a_spinning_guest_with_status_152() {
    let _fds = support::shared();
    let out = capsock(&["run", "-W", "fuel=10_000_000", guests::HARDENING, "spin"]);
    assert_eq!(one_line_error(&out, "ran out of fuel (fuel=10000000)"), 152);
}

/// Memory: `-W max-memory-size=67108864` makes a 3 GiB `memory.grow`
/// fail; so does the default 1 GiB budget; lifting the size lifts the
/// budget; with `trap-on-grow-failure` the refusal stops the guest (153);
/// an allocator that aborts after a refusal is a trap (134) that names
/// the limit.
#[test]
fn memory_limits_refuse_grows_and_name_themselves() {
    let _fds = support::shared();
    const THREE_GIB: &str = "3221225472";
    let grow = |flags: &[&str], bytes: &str| {
        let mut args = vec!["run"];
        for f in flags {
            args.extend(["-W", f]);
        }
        args.extend([guests::HARDENING, "grow", bytes]);
        capsock(&args)
    };
    // What `memory.grow` returned: the old size in pages, or -1 if refused.
    let grown = |out: &std::process::Output| -> i64 {
        assert!(out.status.success(), "{}", support::stderr_of(out));
        let value = support::kv(&stdout_of(out)).remove("grow");
        value.expect("grow=").parse().expect("a number of pages")
    };

    let out = grow(&["max-memory-size=67108864"], THREE_GIB);
    assert_eq!(grown(&out), -1);
    let out = grow(&[], THREE_GIB);
    assert_eq!(grown(&out), -1, "the default budget");
    let out = grow(&[], "536870912");
    assert!(grown(&out) > 0, "512 MiB fit the default budget");
    let out = grow(&["max-memory-size=4294967296"], THREE_GIB);
    assert!(grown(&out) > 0, "a larger max-memory-size lifts the budget");
    let out = grow(
        &["max-memory-total=67108864,max-memory-size=4294967296"],
        THREE_GIB,
    );
    assert_eq!(grown(&out), -1, "unless the budget is given");

    let out = grow(
        &["trap-on-grow-failure,max-memory-size=67108864"],
        THREE_GIB,
    );
    assert_eq!(
        one_line_error(
            &out,
            "memory limit: growing a memory to 3222339584 bytes (max-memory-size=67108864)"
        ),
        153
    );

    let out = capsock(&["run", guests::HARDENING, "alloc", "1610612736"]);
    assert_eq!(out.status.code(), Some(134));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the guest trapped after a sandbox limit refused growing a memory")
            && err.contains("(max-memory-total=1073741824)"),
        "{err}"
    );
}

/// With the host's fd table full, a bind that needs an fd (in a
/// subdirectory) fails with `limit-reached` and leaves the socket unbound
/// and no file behind; a bind directly in the granted directory needs none.
#[test]
fn a_bind_that_fails_leaves_the_socket_unbound_and_nothing_behind() {
    let _fds = support::shared();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let grant = format!("{}::/run/t", dir.path().display());
    let out = capsock_under_ulimit(
        "-n 256",
        &[
            "run",
            "--unix-dir",
            &grant,
            guests::HARDENING,
            "bind_when_full",
            "/run/t",
        ],
    );
    let text = stdout_of(&out);
    assert!(out.status.success(), "{text}{}", support::stderr_of(&out));
    let kv = support::kv(&text);
    let get = |key: &str| kv.get(key).map(String::as_str);
    assert_eq!(get("bind_sub"), Some("err:Other:limit-reached"), "{text}");
    assert_eq!(get("local_after"), Some("ok:unnamed"), "{text}");
    assert!(!dir.path().join("sub/full.sock").exists());
    assert_eq!(get("bind_top"), Some("ok"), "{text}");
    assert_eq!(get("local_top"), Some("ok:/run/t/top.sock"), "{text}");
    assert!(dir.path().join("top.sock").exists());
}

/// Each of `wasmtime run`'s limit flags takes effect in `capsock run`, with
/// one line saying what was refused.
#[test]
fn every_wasmtime_limit_flag_takes_effect() {
    let _fds = support::shared();
    let run = |flag: &str, args: &[&str]| {
        let mut all = vec!["run", "-W", flag, guests::HARDENING];
        all.extend_from_slice(args);
        capsock(&all)
    };
    for (flag, needle) in [
        ("max-instances=1", "instance count too high"),
        ("max-memories=0", "memory count too high"),
        ("max-tables=0", "table count too high"),
        ("max-table-elements=1", "(max-table-elements=1)"),
        ("max-memory-size=65536", "(max-memory-size=65536)"),
    ] {
        let out = run(flag, &["recurse", "1"]);
        assert_eq!(one_line_error(&out, needle), 125, "{flag}");
    }
    let out = run("max-wasm-stack=1048576", &["recurse", "2000"]);
    assert_eq!(
        stdout_of(&out),
        "depth=2000\n",
        "{}",
        support::stderr_of(&out)
    );
    let out = run("max-wasm-stack=16384", &["recurse", "2000"]);
    assert_eq!(out.status.code(), Some(134));
    assert!(
        support::stderr_of(&out).contains("call stack exhausted"),
        "{}",
        support::stderr_of(&out)
    );
}
