//! The `capsock` binary: `run` with every grant flag, exit statuses, and
//! one-line errors; `demo`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{self, guests, peers_dir, PythonPeer};
use crate::{capsock, capsock_under_ulimit, CAPSOCK};

fn stdout(o: &Output) -> String {
    support::stdout_of(o)
}

fn stderr(o: &Output) -> String {
    support::stderr_of(o)
}

/// The value of `key` in a guest's `key=value` output (a panic showing
/// the output if there is none).
fn value(o: &Output, key: &str) -> String {
    let text = stdout(o);
    support::kv(&text)
        .remove(key)
        .unwrap_or_else(|| panic!("no {key}= in {text:?}; stderr: {}", stderr(o)))
}

/// The issue's acceptance check: a guest written only against the SDK
/// receives fds from a Python process through `capsock run --unix-connect`.
#[test]
fn unix_connect_guest_receives_files_from_a_python_server() {
    let _fds = support::shared();
    let peer = PythonPeer::start("c02", "stream");
    let socket = peer.socket_path().to_str().unwrap().to_string();
    let out = capsock(&[
        "run",
        "--unix-connect",
        &format!("client={socket}"),
        guests::examples::TEMPERATURE_SERVER,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Non-ancillary message:Temperature data"),
        "{text}"
    );
    assert!(
        text.contains("File 1 contents: time temp 00.00 23 01.00 22"),
        "{text}"
    );
    assert!(
        text.contains("File 2 contents: time temp 00.00 12"),
        "{text}"
    );
    assert_eq!(peer.finish()["sent"], 16);
}

#[test]
fn unix_connect_picks_the_socket_type() {
    let _fds = support::shared();
    let peer = PythonPeer::start("misuse", "seqpacket");
    let socket = peer.socket_path().to_str().unwrap().to_string();
    let out = capsock(&[
        "run",
        "--unix-connect",
        &format!("client:seqpacket={socket}"),
        guests::examples::TEMPERATURE_SERVER,
    ]);
    // The server guest wants a stream socket: a clear refusal, not a hang.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a seqpacket socket, not a stream socket"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        peer.finish(),
        serde_json::json!({"data": "", "ancillary": []})
    );
}

#[test]
fn fd_grant_from_a_spawning_broker() {
    let _fds = support::shared();
    let out = Command::new("python3")
        .arg(peers_dir().join("broker.py"))
        .args([CAPSOCK, guests::CONFORMANCE, "c02"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], 0, "{json}");
    let guest = support::kv(json["stdout"].as_str().unwrap());
    let get = |key: &str| guest.get(key).map(String::as_str);
    assert_eq!(get("handles"), Some("2"), "{json}");
    assert_eq!(get("file1"), Some(r"time temp\n00.00 12\n"), "{json}");
    assert_eq!(json["eof"], true, "the broker sees EOF once capsock exited");
}

#[test]
fn args_env_dir_and_exit_status_reach_the_guest() {
    let _fds = support::shared();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "first line\nsecond\n").unwrap();
    let mapping = format!("{}::/data", dir.path().display());
    let out = capsock(&[
        "run",
        "--env",
        "CAPSOCK_PROBE=yes",
        "--dir",
        &mapping,
        guests::CLI_PROBE,
        "--",
        "--read",
        "/data/hello.txt",
        "--exit",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(value(&out, "args"), "[--read,/data/hello.txt,--exit,3]");
    assert_eq!(value(&out, "env"), "yes");
    assert_eq!(value(&out, "read"), "first line");
    assert_eq!(value(&out, "grants"), "[]");
}

/// Asserts a failed run: status 125 and exactly one line on stderr,
/// starting with `capsock: ` and containing `needle`.
fn assert_one_line_error(out: &Output, needle: &str) {
    assert_eq!(crate::one_line_error(out, needle), 125, "{}", stderr(out));
}

#[test]
fn missing_component_file_is_one_line() {
    let _fds = support::shared();
    assert_one_line_error(
        &capsock(&["run", "/no/such/file.wasm"]),
        "cannot read /no/such/file.wasm: No such file or directory",
    );
}

/// A bad command line is one line that names what is wrong: a missing
/// argument by its name, an unknown flag by itself.
#[test]
fn command_line_errors_name_what_is_missing() {
    let _fds = support::shared();
    let out = capsock(&["run"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.starts_with("capsock: the following required arguments were not provided: <COMPONENT>"),
        "{err:?}"
    );
    let out = capsock(&["run", "--bogus", guests::CLI_PROBE]);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.contains("unexpected argument '--bogus' found"),
        "{err:?}"
    );
    // clap's tips come along, on the same line.
    let out = capsock(&["run", "--allow-abstrac", guests::CLI_PROBE]);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.contains("(tip: a similar argument exists: '--allow-abstract'"),
        "{err:?}"
    );
    // `capsock` alone: the help, on stderr, status 2.
    let out = capsock(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Usage: capsock <COMMAND>"), "{err}");
}

/// A trap is one line of capsock's (cause first); the guest's wasm
/// backtrace follows only with `RUST_BACKTRACE` set, as Rust's own does.
#[test]
fn a_trap_is_one_line_and_its_backtrace_comes_with_rust_backtrace() {
    let _fds = support::shared();
    let run = |backtrace: Option<&str>| {
        let mut cmd = std::process::Command::new(crate::CAPSOCK);
        cmd.args(["run", guests::CLI_PROBE, "--read", "/no/such/file"]);
        match backtrace {
            Some(v) => cmd.env("RUST_BACKTRACE", v),
            None => cmd.env_remove("RUST_BACKTRACE"),
        };
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(134), "{}", stderr(&out));
        // The guest's own panic message comes first, on its stderr.
        let err = stderr(&out);
        let ours: Vec<&str> = err
            .lines()
            .skip_while(|l| !l.starts_with("capsock: "))
            .collect();
        assert!(
            ours[0].starts_with("capsock: the guest trapped: ") && ours[0].contains("unreachable"),
            "{err}"
        );
        assert!(!ours[0].contains("backtrace"), "{err}");
        ours.len()
    };
    assert_eq!(run(None), 1);
    assert_eq!(run(Some("0")), 1);
    assert!(run(Some("1")) > 3, "the wasm backtrace follows");
}

#[test]
fn core_module_and_junk_are_not_components() {
    let _fds = support::shared();
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("module.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    assert_one_line_error(
        &capsock(&["run", module.to_str().unwrap()]),
        "a core WebAssembly module, not a component",
    );
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"#!/bin/sh\necho hi\n").unwrap();
    assert_one_line_error(
        &capsock(&["run", junk.to_str().unwrap()]),
        "not a WebAssembly component",
    );
}

#[test]
fn refused_and_missing_sockets_are_one_line() {
    let _fds = support::shared();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nobody.sock");
    let arg = format!("peer={}", missing.display());
    assert_one_line_error(
        &capsock(&["run", "--unix-connect", &arg, guests::CLI_PROBE]),
        "No such file or directory",
    );
    // A socket file nobody listens on any more: ECONNREFUSED.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let arg = format!("peer={}", stale.display());
    assert_one_line_error(
        &capsock(&["run", "--unix-connect", &arg, guests::CLI_PROBE]),
        "Connection refused",
    );
}

#[test]
fn bad_flag_values_are_one_line() {
    let _fds = support::shared();
    for (args, needle) in [
        (
            vec!["run", "--unix-connect", "nopath", guests::CLI_PROBE],
            "expected NAME[:TYPE]=PATH",
        ),
        (
            vec!["run", "--unix-connect", "x:pipe=/tmp/x", guests::CLI_PROBE],
            "unknown socket type \"pipe\"",
        ),
        (
            vec!["run", "--fd", "x=seven", guests::CLI_PROBE],
            "not a file descriptor number",
        ),
        (vec!["run", "--fd", "x=1", guests::CLI_PROBE], "stdio"),
        (
            vec!["run", "--env", "novalue", guests::CLI_PROBE],
            "expected K=V",
        ),
        (
            vec!["run", "--allow-ip", "10.0.0.0/33", guests::CLI_PROBE],
            "prefix longer than the address",
        ),
        (
            vec!["run", "--allow-ip", "example.com:80", guests::CLI_PROBE],
            "not an IP address",
        ),
    ] {
        let out = capsock(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err:?}");
        assert!(
            err.starts_with("capsock: ") && err.contains(needle),
            "{args:?}: {err:?}"
        );
    }
    // A well-formed but closed fd is caught when it is adopted.
    assert_one_line_error(
        &capsock(&["run", "--fd", "x=999", guests::CLI_PROBE]),
        "--fd x=999: fd 999 is not an open file descriptor",
    );
}

/// `--allow-ip` grants exactly its rule: one port is reachable, another
/// on the same address is refused.
#[test]
fn allow_ip_grants_exactly_its_rule() {
    let _fds = support::shared();
    let denied = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let allowed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (d, a) = (
        denied.local_addr().unwrap().port().to_string(),
        allowed.local_addr().unwrap().port().to_string(),
    );
    let rule = format!("127.0.0.1:{a}");
    let out = capsock(&["run", "--allow-ip", &rule, guests::INET, "refusals", &d, &a]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value(&out, "send_to"), "access-denied");
    assert_eq!(value(&out, "allowed"), "sent:1");
    let mut buf = [0u8; 8];
    allowed.set_nonblocking(true).unwrap();
    assert_eq!(allowed.recv(&mut buf).unwrap(), 1);
    denied.set_nonblocking(true).unwrap();
    assert_eq!(
        denied.recv(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "nothing reached the denied port"
    );
}

/// `capsock run --allow-ip` applies to the guest's own `std::net` too: a
/// TCP exchange on the allowed port, a refusal on another; without the
/// flag, no TCP at all.
#[test]
fn allow_ip_applies_to_the_guests_std_net() {
    let _fds = support::shared();
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let denied = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let ports = [
        &server.local_addr(),
        &udp.local_addr(),
        &denied.local_addr(),
    ]
    .map(|a| a.as_ref().unwrap().port().to_string());
    let serving = std::thread::spawn(move || {
        let (mut c, _) = server.accept().unwrap();
        let mut word = [0u8; 4];
        std::io::Read::read_exact(&mut c, &mut word).unwrap();
        c.write_all(&word.to_ascii_uppercase()).unwrap();
    });
    let rule = format!("127.0.0.1:{}", ports[0]);
    let run = |flags: &[&str]| {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend([guests::INET, "std_net", &ports[0], &ports[1], &ports[2]]);
        capsock(&args)
    };
    let out = run(&["--allow-ip", &rule]);
    assert!(out.status.success(), "{}", stderr(&out));
    serving.join().unwrap();
    assert_eq!(value(&out, "tcp"), "ok:PING");
    assert_eq!(value(&out, "tcp_denied"), "err:PermissionDenied");
    assert_eq!(value(&out, "udp"), "err:PermissionDenied");
    let out = run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value(&out, "tcp"), "err:PermissionDenied");
}

#[test]
fn demo_prints_the_report_and_equal_fd_counts() {
    let _fds = support::shared();
    let out = capsock(&["demo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            r#"plugin received "Temperature data" with 2 handle(s); no filesystem access"#
        ),
        "{text}"
    );
    assert!(
        text.contains("file 1: 9 readings, min 17 °C, max 23 °C, mean 20.22 °C"),
        "{text}"
    );
    assert!(
        text.contains("file 2: 9 readings, min 9 °C, max 19 °C, mean 12.33 °C"),
        "{text}"
    );
    let counts = text
        .lines()
        .find(|l| l.starts_with("host open fds:"))
        .expect("fd count line");
    assert!(counts.ends_with("(equal)"), "{counts}");
}

#[test]
fn unix_dir_lets_the_guest_reach_paths_below_it() {
    let _fds = support::shared();
    let peer = PythonPeer::start("c15", "datagram");
    let grant = format!("{}::/run/t", peer.dir().display());
    let out = capsock(&[
        "run",
        "--unix-dir",
        &grant,
        guests::CONFORMANCE,
        "c15",
        "/run/t/peer.sock",
        "/run/t/guest.sock",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value(&out, "outside"), "access-denied");
    assert_eq!(value(&out, "reply"), "reply");
    assert_eq!(value(&out, "reply_from"), "/run/t/peer.sock");
    assert_eq!(peer.finish()["data"], "hello");
    let out = capsock(&["run", "--unix-dir", "/no/such/dir", guests::CLI_PROBE]);
    assert_one_line_error(&out, "--unix-dir /no/such/dir");
}

/// `capsock bench` runs every workload on both sides and reports every
/// figure (tiny iteration counts: this checks that it works, not speed).
#[test]
fn bench_reports_every_workload() {
    let _fds = support::shared();
    let out = capsock(&[
        "bench",
        "--rounds",
        "3",
        "--scale",
        "0.01",
        "--sandboxes",
        "3",
        "--async-sandboxes",
        "20",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let workloads = json["workloads"].as_array().unwrap();
    assert_eq!(
        workloads.len(),
        11,
        "9 workloads and 2 again with async calls"
    );
    let numbers = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    for w in workloads {
        let name = &w["workload"];
        for key in [
            "native_median",
            "guest_median",
            "ratio",
            "ratio_min",
            "ratio_max",
        ] {
            let v = w[key].as_f64().unwrap_or(f64::NAN);
            assert!(v.is_finite() && v > 0.0, "{key} of {name}: {v}");
        }
        // The figures agree: the ratio is that of the two medians shown,
        // and every round's own ratio is kept, inside the spread.
        let (native, guest) = (numbers(&w["native"]), numbers(&w["guest"]));
        assert_eq!((native.len(), guest.len()), (3, 3), "{name}");
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[1]
        };
        // (serde_json reads floats back to within one unit in the last
        // place, hence the tolerance.)
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
        assert!(
            same(w["native_median"].as_f64().unwrap(), median(&native)),
            "{name}"
        );
        assert!(
            same(w["guest_median"].as_f64().unwrap(), median(&guest)),
            "{name}"
        );
        let ratio = w["ratio"].as_f64().unwrap();
        assert!(
            same(ratio, median(&guest) / median(&native)),
            "{name}: ratio {ratio}"
        );
        let rounds = numbers(&w["round_ratios"]);
        assert_eq!(rounds.len(), 3, "{name}");
        let (lo, hi) = (
            w["ratio_min"].as_f64().unwrap(),
            w["ratio_max"].as_f64().unwrap(),
        );
        for (i, r) in rounds.iter().enumerate() {
            assert!(same(*r, guest[i] / native[i]), "{name}");
            assert!(lo <= *r && *r <= hi, "{name}: {r} outside {lo}..{hi}");
        }
        assert!(rounds.iter().any(|r| same(*r, lo)), "{name}");
        assert!(rounds.iter().any(|r| same(*r, hi)), "{name}");
    }
    for key in [
        "compile_ms",
        "cache_load_ms",
        "instantiate_us",
        "run_warm_ms",
    ] {
        assert!(json["startup"][key].as_f64().unwrap() > 0.0, "{key}");
    }
    assert!(json["density"]["rss_mib_per_sandbox"].as_f64().is_some());
    // The many-sandboxes figures, pooling off and on.
    let many = json["many"].as_array().unwrap();
    assert_eq!(many.len(), 2);
    for (m, pooling) in many.iter().zip([false, true]) {
        assert_eq!(m["pooling"], pooling);
        assert_eq!(m["sandboxes"], 20);
        for key in [
            "start_s",
            "rss_kib_per_sandbox",
            "wake_median_us",
            "wake_p99_us",
        ] {
            let v = m[key].as_f64().unwrap_or(f64::NAN);
            assert!(v.is_finite() && v >= 0.0, "{key}: {v}");
        }
        assert!(m["threads"].as_u64().unwrap() >= 1);
    }
}

/// Socket activation with the real tool: `systemd-socket-activate` listens,
/// starts `capsock run` on the first connection with `LISTEN_FDS`,
/// `LISTEN_PID` and `LISTEN_FDNAMES`, and the guest finds the socket by its
/// name.
#[test]
fn socket_activation_by_systemd_socket_activate() {
    let _fds = support::shared();
    let tool = socket_activate_tool();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.sock");
    let child = Command::new(tool)
        .arg("-l")
        .arg(&path)
        .args(["--fdname=web", CAPSOCK, "run", guests::SERVERS, "activated"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut conn = connect_when_listening(&path);
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut greeting = String::new();
    std::io::Read::read_to_string(&mut conn, &mut greeting).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        greeting,
        "hello from an activated guest\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// TCP socket activation with the real tool, as a web service would be
/// started: `systemd-socket-activate -l 127.0.0.1:PORT` listens, starts
/// `capsock run` (no `--allow-ip`) on the first connection, and the guest
/// takes the socket as a `TcpListener`, accepts that connection and serves
/// it.
#[test]
fn tcp_socket_activation_by_systemd_socket_activate() {
    let _fds = support::shared();
    let tool = socket_activate_tool();
    // A port free a moment ago; the tool fails loudly if it was taken since.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(tool)
        .arg("-l")
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "--fdname=http",
            CAPSOCK,
            "run",
            guests::SERVERS,
            "tcp_activated",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut conn = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => break c,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("nothing listened on port {port}: {e}"),
        }
    };
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    conn.write_all(b"get /\n").unwrap();
    let mut answer = String::new();
    std::io::BufReader::new(&conn)
        .read_line(&mut answer)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(answer, "GET /\n", "{}", stderr(&out));
    assert_eq!(value(&out, "local_addr"), format!("127.0.0.1:{port}"));
    assert_eq!(value(&out, "peer"), conn.local_addr().unwrap().to_string());
    assert_eq!(
        value(&out, "connect_out"),
        "err:PermissionDenied:access-denied"
    );
}

/// The installed `systemd-socket-activate`.
fn socket_activate_tool() -> &'static str {
    [
        "/usr/bin/systemd-socket-activate",
        "/bin/systemd-socket-activate",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("systemd-socket-activate (Debian package systemd) must be installed")
}

/// `LISTEN_*` variables meant for another process are ignored.
#[test]
fn socket_activation_for_another_pid_is_ignored() {
    let _fds = support::shared();
    let out = Command::new(CAPSOCK)
        .args(["run", guests::CLI_PROBE])
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1")
        .env("LISTEN_FDNAMES", "web")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value(&out, "grants"), "[]");
}

#[test]
fn unix_listen_grants_a_listening_socket_and_removes_it_after() {
    let _fds = support::shared();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svc.sock");
    let arg = format!("web={}", path.display());
    let mut child = Command::new(CAPSOCK)
        .args(["run", "--unix-listen", &arg, guests::SERVERS, "activated"])
        .spawn()
        .unwrap();
    let mut conn = connect_when_listening(&path);
    let mut greeting = String::new();
    std::io::Read::read_to_string(&mut conn, &mut greeting).unwrap();
    assert_eq!(greeting, "hello from an activated guest\n");
    assert!(child.wait().unwrap().success());
    assert!(
        !path.exists(),
        "the socket file capsock created is removed at exit"
    );
}

#[test]
fn pair_runs_a_capability_handoff_and_reports_fd_accounting() {
    let _fds = support::shared();
    let dir = Path::new(guests::examples::SEND_REPLACEMENT)
        .parent()
        .unwrap();
    let (giver, taker) = (
        dir.join("handoff_giver.wasm"),
        dir.join("handoff_taker.wasm"),
    );
    let out = capsock(&["pair", giver.to_str().unwrap(), taker.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.contains("taker got \"a private channel\" and a socket"),
        "{text}"
    );
    assert!(
        text.contains("giver got: pong for \"ping over the handed-off socket\""),
        "{text}"
    );
    assert!(
        text.contains("handoff_giver.wasm: exit status 0")
            && text.contains("handoff_taker.wasm: exit status 0"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("host open fds:") && l.ends_with("(equal)")),
        "{text}"
    );
    // On datagram sockets the guests' stream handles are refused: the
    // failure comes back as the exit status.
    let out = capsock(&[
        "pair",
        "--type",
        "datagram",
        giver.to_str().unwrap(),
        taker.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("exit status 1"), "{}", stdout(&out));
}

/// A guest that traps leaves nothing open either: `capsock pair` counts
/// the host's fds after the trap's error (which keeps the guest's code and
/// its memory image alive) is gone, and reports them equal.
#[test]
fn pair_reports_no_leak_after_a_guest_traps() {
    let _fds = support::shared();
    let out = capsock(&[
        "pair",
        guests::HARDENING,
        guests::CLI_PROBE,
        "--",
        "recurse",
        "100000000",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(134), "{text}{}", stderr(&out));
    assert!(text.contains("hardening.wasm: the guest trapped"), "{text}");
    assert!(text.contains("cli_probe.wasm: exit status 0"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("host open fds:") && l.ends_with("(equal)")),
        "{text}"
    );
}

/// Connects to `path` once something listens there (20 s at most).
fn connect_when_listening(path: &Path) -> std::os::unix::net::UnixStream {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(c) => return c,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("nothing listened at {}: {e}", path.display()),
        }
    }
}

/// A guest that fills the host's whole fd table (here 512, soft and hard)
/// only ever sees `limit-reached`: the host does not panic, and still
/// serves standard output, readiness and new sockets once some are closed.
#[test]
fn a_guest_exhausting_the_hosts_fds_only_sees_limit_reached() {
    let _fds = support::shared();
    let out = capsock_under_ulimit("-n 512", &["run", guests::HARDENING, "fill_fds"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let pairs: usize = value(&out, "pairs").parse().unwrap();
    assert!(
        pairs > 100 && pairs < 256,
        "the fd table, not the handle limit, stopped it: {}",
        stdout(&out)
    );
    assert_eq!(value(&out, "error"), "limit-reached");
    assert_eq!(value(&out, "wait"), "ok:1", "one pollable ready");
    assert_eq!(value(&out, "pair_after_drop"), "true");
}

/// capsock raises its soft fd limit to the hard one at start-up, as
/// servers do: with a soft limit of 256 the guest still reaches its own
/// handle limit (1024 handles: 512 pairs).
#[test]
fn the_soft_fd_limit_is_raised_to_the_hard_one() {
    let _fds = support::shared();
    let hard = String::from_utf8(
        Command::new("sh")
            .args(["-c", "ulimit -Hn"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let hard: u64 = hard.trim().parse().unwrap_or(u64::MAX); // "unlimited"
    assert!(
        hard >= 2048,
        "this test needs a hard fd limit of at least 2048, not {hard}"
    );
    let out = capsock_under_ulimit("-Sn 256", &["run", guests::HARDENING, "fill_fds"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value(&out, "pairs"), "512");
}

/// What `capsock run` loads: a regular file of at most 512 MiB. A device
/// such as /dev/zero (endless) or a FIFO (opening it waits for a writer)
/// is refused at once, without reading.
#[test]
fn only_regular_files_of_bounded_size_are_loaded() {
    let _fds = support::shared();
    let out = capsock(&["run", "/dev/zero"]);
    assert_one_line_error(
        &out,
        "cannot read /dev/zero: not a regular file (a character device)",
    );
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("c.wasm");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY (test): a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // `timeout` turns a hang into a failure (status 124).
    let out = Command::new("timeout")
        .args(["20", CAPSOCK, "run", fifo.to_str().unwrap()])
        .output()
        .unwrap();
    assert_one_line_error(&out, "not a regular file (a FIFO)");
    let big = dir.path().join("big.wasm");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(600 << 20)
        .unwrap();
    assert_one_line_error(
        &capsock(&["run", big.to_str().unwrap()]),
        "larger than 512 MiB",
    );
}

/// Socket activation's `LISTEN_FDS` is checked before anything is sized by
/// it: a huge count is an error, not an allocation that aborts; a count
/// naming fds that are not open is an error too.
#[test]
fn listen_fds_is_checked_before_use() {
    let _fds = support::shared();
    let activated = |count: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "LISTEN_PID=$$ LISTEN_FDS={count} exec \"$0\" run \"$1\" 3</dev/null"
            ))
            .args([CAPSOCK, guests::CLI_PROBE])
            .output()
            .unwrap()
    };
    assert_one_line_error(
        &activated("2000000000"),
        "LISTEN_FDS=2000000000, but this process can have at most",
    );
    assert_one_line_error(&activated("-1"), "LISTEN_FDS is not a number");
    assert_one_line_error(
        &activated("2"),
        "LISTEN_FDS (listen-fd-1): fd 4 is not an open file descriptor",
    );
}

/// `--unix-listen` leaves no socket file behind when capsock fails: not
/// for a datagram type (which cannot listen; refused before anything is
/// created) and not when a later grant fails.
#[test]
fn a_failed_unix_listen_leaves_no_socket_file() {
    let _fds = support::shared();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sock");
    let flag = format!("l:datagram={}", path.display());
    let out = capsock(&["run", "--unix-listen", &flag, guests::CLI_PROBE]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("a datagram socket cannot listen"));
    assert!(!path.exists());
    let flag = format!("l={}", path.display());
    let out = capsock(&[
        "run",
        "--unix-listen",
        &flag,
        "--unix-connect",
        "c=/nonexistent/c.sock",
        guests::CLI_PROBE,
    ]);
    assert_one_line_error(
        &out,
        "--unix-connect c: cannot connect to /nonexistent/c.sock",
    );
    assert!(!path.exists(), "the listening socket's file was removed");
}

/// `capsock bench` refuses nonsense arguments instead of printing NaN.
#[test]
fn bench_refuses_nonsense_arguments() {
    let _fds = support::shared();
    for args in [
        &["--rounds", "0"][..],
        &["--scale", "nan"],
        &["--scale", "0"],
        &["--sandboxes", "0"],
        &["--only", "no-such-workload"],
    ] {
        let mut all = vec!["bench"];
        all.extend_from_slice(args);
        let out = capsock(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).lines().count(),
            1,
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
}

/// `capsock run` with a compile cache: the first run stores the compiled
/// component and a pointer for its file; the next run of the unchanged file
/// loads that entry (the same file, not compiled and written again); the
/// file rewritten in place with another component, its modification time
/// put back, runs the new component.
#[test]
fn the_compile_cache_serves_an_unchanged_file_and_never_a_stale_one() {
    let _fds = support::shared();
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let wasm = dir.path().join("guest.wasm");
    std::fs::copy(guests::examples::SEND_REPLACEMENT, &wasm).unwrap();
    // A file changed in the last two seconds gets no pointer.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let run = || {
        let out = Command::new(CAPSOCK)
            .env("CAPSOCK_CACHE_DIR", &cache)
            .args(["run", wasm.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let entries = |ext: &str| -> Vec<(PathBuf, u64)> {
        let mut v: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .map(|p| {
                let ino = std::fs::metadata(&p).unwrap().ino();
                (p, ino)
            })
            .collect();
        v.sort();
        v
    };
    assert!(run().contains("Sent 12 bytes"));
    let first = entries("cwasm");
    assert_eq!(first.len(), 1, "one compiled entry");
    assert_eq!(entries("path").len(), 1, "and a pointer for the file");
    assert!(run().contains("Sent 12 bytes"));
    assert_eq!(
        entries("cwasm"),
        first,
        "a hit: the entry was not rewritten"
    );
    let mtime = std::fs::metadata(&wasm).unwrap().modified().unwrap();
    std::fs::write(&wasm, std::fs::read(guests::CLI_PROBE).unwrap()).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&wasm)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert!(run().contains("args=[]"), "the new component ran");
    assert_eq!(entries("cwasm").len(), 2, "compiled afresh");
}

/// The compile cache holds native code that is run: capsock creates its
/// directory private (0700) and will not use one that others can write to
/// (it says so, and compiles afresh).
#[test]
fn the_compile_cache_directory_is_private_or_unused() {
    let _fds = support::shared();
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("new/cache");
    let out = Command::new(CAPSOCK)
        .env("CAPSOCK_CACHE_DIR", &fresh)
        .args(["run", guests::CLI_PROBE])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);

    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(CAPSOCK)
        .env("CAPSOCK_CACHE_DIR", &open)
        .args(["run", guests::CLI_PROBE])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not using the compile cache")
            && stderr(&out).contains("others may write to it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_dir(&open).unwrap().count(),
        0,
        "nothing was cached there"
    );
}

/// `RUST_LOG=capsock_host=debug` shows each refusal and why, on stderr
/// only (stdout is the guest's), without colour codes when not a terminal:
/// here the grant the guest asked for and the ones it has.
#[test]
fn rust_log_shows_refusals_on_stderr() {
    let _fds = support::shared();
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("other={}", dir.path().join("l.sock").display());
    let out = Command::new(CAPSOCK)
        .env("RUST_LOG", "capsock_host=trace")
        .args([
            "run",
            "--unix-listen",
            &listen,
            guests::HARDENING,
            "block_recv",
        ])
        .output()
        .expect("run capsock");
    let (stdout, stderr) = (support::stdout_of(&out), support::stderr_of(&out));
    assert!(
        stderr.contains("the guest took a grant it was not given")
            && stderr.contains("grant=\"peer\"")
            && stderr.contains("granted=[\"other\"]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("wit-bindgen import"),
        "a span per call at trace: {stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "no colour codes: {stderr}");
    assert!(
        !stdout.contains("wit-bindgen"),
        "logs stay off stdout: {stdout}"
    );
}
