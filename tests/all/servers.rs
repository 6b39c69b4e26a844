//! Servers and many guests: readiness through wasi:io/poll, non-blocking
//! mode and timeouts, listen/accept with accepted sockets passed on,
//! several sandboxes at once from one engine.

use std::io::{BufRead, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use capsock_host::{native, CapsockCtx, Limits, Policy};

use crate::support::{self, guests, open_fds, run_guest, run_guest_with, Options};

#[test]
fn wait_reports_timeout_then_data_then_end_of_file() {
    let _fds = support::exclusive(&[guests::SERVERS]);
    let baseline = open_fds();
    let (mut a, a_guest) = UnixStream::pair().unwrap();
    let (mut b, b_guest) = UnixStream::pair().unwrap();
    let guest = std::thread::spawn(move || {
        run_guest(
            guests::SERVERS,
            &["wait"],
            vec![("a", a_guest.into()), ("b", b_guest.into())],
        )
        .unwrap()
    });
    let mut word = [0u8; 2];
    a.read_exact(&mut word).unwrap();
    assert_eq!(&word, b"go");
    b.write_all(b"x").unwrap();
    let mut word = [0u8; 5];
    a.read_exact(&mut word).unwrap();
    assert_eq!(&word, b"close");
    drop(b);
    let run = guest.join().unwrap();
    run.assert_ok();
    assert_eq!(
        run.get("first"),
        "[]",
        "nothing ready: the timeout ends the wait"
    );
    let waited: u64 = run.get("waited_ms").parse().unwrap();
    assert!(waited >= 100, "a 200 ms timeout returned after {waited} ms");
    assert_eq!(run.get("second"), "[1]", "data on b");
    assert_eq!(run.get("third"), "[1]", "end-of-file on b is readiness too");
    assert_eq!(run.get("eof"), "ok:0");
    assert_eq!(run.get("writable"), "[0]");
    drop(a);
    assert_eq!(open_fds(), baseline, "pollables and sockets all closed");
}

#[test]
fn nonblocking_mode_and_timeouts() {
    let _fds = support::shared();
    for host_calls in support::HOST_CALLS {
        let (a, a_guest) = UnixStream::pair().unwrap();
        let opts = Options {
            host_calls,
            ..Options::default()
        };
        let grants = vec![("a", a_guest.into())];
        let run = run_guest_with(guests::SERVERS, &["modes"], grants, opts).unwrap();
        run.assert_ok();
        assert_eq!(run.get("nonblocking_read"), "err:WouldBlock:would-block");
        assert_eq!(
            run.get("timed_read"),
            "err:TimedOut:timed-out",
            "EAGAIN after SO_RCVTIMEO is timed-out, not would-block"
        );
        assert!(run.get("timed_read_ms").parse::<u64>().unwrap() >= 80);
        assert_eq!(run.get("zero_timeout"), "err:InvalidInput");
        assert_eq!(run.get("timed_write"), "err:TimedOut:timed-out");
        drop(a);
    }
}

/// The SDK's std-shaped API end to end over abstract names: listeners and
/// streams from `bind_addr`/`connect_addr`, `accept` with the peer's
/// address, `incoming`, `try_clone`, `take_error`, sockets turned into
/// handles and back (a wrong conversion gives the handle back), seqpacket
/// and datagram sockets on abstract names, `send_to_addr`.
#[test]
fn the_sdks_std_shaped_api_over_abstract_names() {
    let _fds = support::shared();
    let mut policy = Policy::new();
    policy.allow_abstract_names(true);
    let name = format!("capsock-std-shape-{}", std::process::id());
    let opts = Options {
        policy: Some(policy),
        ..Options::default()
    };
    let run = run_guest_with(guests::SERVERS, &["std_shape", &name], Vec::new(), opts).unwrap();
    run.assert_ok();
    for (key, want) in [
        ("listener_local", "true"),
        ("accept_peer", "unnamed"),
        ("client_peer", "true"),
        ("clone_wrote", "via clone"),
        ("take_error", "ok:true"),
        ("incoming", "2"),
        ("handle_kind", "socket"),
        ("as_datagram", "err:InvalidInput"),
        ("after_round_trip", "still"),
        ("seqpacket", "packet"),
        ("dgram_data", "to abstract"),
        ("dgram_from", "true"),
        ("as_udp", "err:InvalidInput"),
        ("back_as_datagram", "true"),
        ("cmsg_space_stable", "true"),
    ] {
        assert_eq!(run.get(key), want, "{key}: {run:?}");
    }
}

/// A guest listens below a granted directory, accepts a native client and
/// passes the accepted socket on with SCM_RIGHTS, as any other handle.
#[test]
fn accepted_sockets_are_ordinary_handles() {
    let _fds = support::exclusive(&[guests::SERVERS]);
    for host_calls in support::HOST_CALLS {
        let dir = tempfile::tempdir().unwrap();
        let mut policy = Policy::new();
        policy.allow_unix_dir(dir.path(), "/run/t").unwrap();
        let (mut peer, peer_guest) = UnixStream::pair().unwrap();
        let baseline = open_fds();
        let opts = Options {
            policy: Some(policy.clone()),
            host_calls,
            ..Options::default()
        };
        let guest = std::thread::spawn(move || {
            run_guest_with(
                guests::SERVERS,
                &["accept", "/run/t/l.sock"],
                vec![("peer", peer_guest.into())],
                opts,
            )
            .unwrap()
        });
        let mut word = [0u8; 9];
        peer.read_exact(&mut word).unwrap();
        assert_eq!(&word, b"listening");
        let mut client = UnixStream::connect(dir.path().join("l.sock")).unwrap();
        client.write_all(b"hi").unwrap();
        let (data, mut fds, _) = native::recv_fds(peer.as_fd(), 16, 1).unwrap();
        assert_eq!(data, b"conn");
        let mut accepted = UnixStream::from(fds.pop().expect("the accepted socket"));
        let mut hi = [0u8; 2];
        accepted.read_exact(&mut hi).unwrap();
        assert_eq!(&hi, b"hi");
        accepted.write_all(b"yo").unwrap();
        client.read_exact(&mut hi).unwrap();
        assert_eq!(&hi, b"yo");
        let run = guest.join().unwrap();
        run.assert_ok();
        assert_eq!(run.get("nonblocking_accept"), "err:WouldBlock:would-block");
        assert_eq!(run.get("timed_accept"), "err:TimedOut:timed-out");
        assert_eq!(run.get("local"), "/run/t/l.sock");
        drop((accepted, client, peer));
        assert_eq!(
            open_fds(),
            baseline - 2,
            "both ends of the peer pair are closed, nothing else left open"
        );
    }
}

/// Eight sandboxes from one engine at once, each with its own limits.
#[test]
fn many_sandboxes_from_one_engine_each_with_its_own_limits() {
    let _fds = support::exclusive(&[guests::SERVERS]);
    let rt = support::runtime();
    let pre = rt.prepare(&support::component(guests::SERVERS)).unwrap();
    let baseline = open_fds();
    let barrier = std::sync::Barrier::new(8);
    let counts: Vec<String> = std::thread::scope(|s| {
        let threads: Vec<_> = (1..=8usize)
            .map(|k| {
                let (pre, barrier) = (&pre, &barrier);
                s.spawn(move || {
                    let out = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(4096);
                    let mut wasi = wasmtime_wasi::WasiCtxBuilder::new();
                    wasi.stdout(out.clone()).args(&["servers", "count_pairs"]);
                    let mut ctx = CapsockCtx::builder();
                    ctx.limits(Limits::default().max_handles(2 * k));
                    let sandbox = pre.instantiate(wasi.build(), ctx.build()).unwrap();
                    barrier.wait(); // all eight instantiated before any runs
                    assert_eq!(sandbox.run().unwrap(), 0);
                    String::from_utf8_lossy(&out.contents()).trim().to_string()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for (k, line) in (1..=8).zip(counts) {
        assert_eq!(
            line,
            format!("pairs={k}"),
            "sandbox {k} has max_handles {}",
            2 * k
        );
    }
    assert_eq!(open_fds(), baseline);
}

/// Socket activation over SCM_RIGHTS: a CPython supervisor binds and
/// listens on 127.0.0.1:0 and hands the listening socket over; the guest,
/// with no network policy at all, takes it as a `TcpListener` (after the
/// wrong types refuse it and give it back), reports the supervisor's
/// `getsockname()`, accepts the supervisor's client and serves it. A
/// connect of its own is still refused.
#[test]
fn a_tcp_listener_handed_over_by_a_python_supervisor_accepts_and_serves() {
    let _fds = support::exclusive(&[guests::SERVERS]);
    let (run, report) = supervised("tcp_received", &[]);
    assert_eq!(run.get("message"), "listener");
    assert_eq!(run.get("handles"), "1");
    assert_eq!(run.get("as_udp"), "err:InvalidInput");
    assert_eq!(run.get("as_unix"), "err:InvalidInput");
    assert_eq!(run.get("local_addr"), report["listener"].as_str().unwrap());
    assert_eq!(run.get("conn_local"), report["listener"].as_str().unwrap());
    assert_eq!(run.get("peer"), report["client"].as_str().unwrap());
    assert_eq!(run.get("request"), "hello capsock");
    assert_eq!(report["answer"], "HELLO CAPSOCK\n");
    assert_eq!(run.get("connect_out"), "err:PermissionDenied:access-denied");
}

/// Runs the servers guest's `scenario` with `tests/peers/tcp_supervisor.py
/// PATH ARGS...` granted as "supervisor": the guest's run (which must
/// succeed and leave no fd open) and the supervisor's report.
fn supervised(scenario: &str, args: &[&str]) -> (support::GuestRun, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("supervisor.sock");
    let mut peer = std::process::Command::new("python3")
        .arg(support::peers_dir().join("tcp_supervisor.py"))
        .arg(&path)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 must be installed");
    let mut out = std::io::BufReader::new(peer.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let baseline = open_fds();
    let supervisor = UnixStream::connect(&path).unwrap();
    let run = run_guest_with(
        guests::SERVERS,
        &[scenario],
        vec![("supervisor", supervisor.into())],
        Options::default(),
    )
    .unwrap();
    run.assert_ok();
    let mut report = String::new();
    out.read_to_string(&mut report).unwrap();
    assert!(peer.wait().unwrap().success());
    assert_eq!(open_fds(), baseline, "fds left open: {run:#?}");
    (run, serde_json::from_str(report.trim()).unwrap())
}

/// The same with a listening Unix socket (the prefork pattern, the
/// acceptor sandboxed): a `UnixListener` made from the received handle
/// reports the supervisor's path, accepts its client and serves it.
#[test]
fn a_unix_listener_handed_over_by_a_python_supervisor_accepts_and_serves() {
    let _fds = support::exclusive(&[guests::SERVERS]);
    let (run, report) = supervised("unix_received", &["unix"]);
    assert_eq!(run.get("as_tcp"), "err:InvalidInput");
    assert_eq!(run.get("local_addr"), report["listener"].as_str().unwrap());
    assert_eq!(run.get("request"), "hello capsock");
    assert_eq!(report["answer"], "HELLO CAPSOCK\n");
}
