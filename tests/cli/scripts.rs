//! Python guests through the `capsock` binary: the seed's client and
//! server (Python's sendmsg documentation) with only their import line
//! changed, each against the other run natively by CPython; and a Python
//! guest handing a socket to a Rust guest, and back, under `capsock pair`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, guests};
use crate::CAPSOCK;

fn examples_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python")
}

/// The native version of an example script: its one `from capsock import
/// ...  # natively: ...` line replaced by what follows `natively:`. Fails
/// unless exactly that one line differs.
fn natively(script: &str) -> String {
    let text = std::fs::read_to_string(examples_python().join(script)).unwrap();
    let mut changed = 0;
    let native: Vec<String> = text
        .lines()
        .map(|line| match line.split_once("  # natively: ") {
            Some((guest, native)) if guest.starts_with("from capsock import ") => {
                changed += 1;
                native.to_string()
            }
            _ => line.to_string(),
        })
        .collect();
    assert_eq!(
        changed, 1,
        "{script}: one import line, and only it, differs"
    );
    assert!(
        !native
            .iter()
            .any(|l| l.contains("import capsock") || l.contains("from capsock")),
        "{script}"
    );
    native.join("\n") + "\n"
}

/// A directory with the seed's two temperature logs.
fn seed_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, temps) in [
        ("temperature_log1.txt", "00.00 23\n01.00 22\n"),
        ("temperature_log2.txt", "00.00 19\n"),
    ] {
        std::fs::write(
            dir.path().join(name),
            format!("time temp(in degree Celsius)\n{temps}"),
        )
        .unwrap();
    }
    dir
}

/// Waits until `path` exists (a server's socket).
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The seed server's lines for the two logs of [`seed_dir`].
const SERVER_SAW: &str = "Message received at server...
Non-ancillary message:Temperature data
Contents of the file descriptor:
File 1 contents:
time temp(in degree Celsius)
00.00 23
01.00 22

File 2 contents:
time temp(in degree Celsius)
00.00 19

Done with this client
";

/// The seed client's lines: it sent, and the server handed file 1 back.
const CLIENT_SAW: &str = "Message sent to the server
Reply from the server: thanks, returning file 1
Returned file starts: time temp
";

/// The server (native or guest, already started in `dir`), until it has
/// served one client: its output.
fn served(mut server: std::process::Child) -> String {
    let mut out = String::new();
    let mut lines = BufReader::new(server.stdout.take().unwrap());
    while !out.ends_with("Done with this client\n") {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap() == 0 {
            break;
        }
        out += &line;
    }
    // It serves forever, as the seed's does.
    server.kill().unwrap();
    server.wait().unwrap();
    out
}

/// The seed's client and server saw what each prints natively: the client
/// exited 0 with its lines, the server printed its greeting and one client.
fn assert_seed_exchange(client: &std::process::Output, server_out: &str) {
    assert!(client.status.success(), "{}", support::stderr_of(client));
    assert_eq!(support::stdout_of(client), CLIENT_SAW);
    assert_eq!(
        server_out,
        format!("Unix domain socket listening...\n{SERVER_SAW}")
    );
}

#[test]
fn the_seeds_client_runs_as_a_guest_against_the_seeds_server_run_by_cpython() {
    let _fds = support::shared();
    let wasm = support::script_guest("python");
    let dir = seed_dir();
    std::fs::write(dir.path().join("server.py"), natively("seed_server.py")).unwrap();
    let server = Command::new("python3")
        .arg("server.py")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&dir.path().join("uds_socket"));
    // The guest's `/` (its working directory) is the directory: the seed's
    // "./uds_socket" and "./temperature_log1.txt" are found there.
    let root = format!("{}::/", dir.path().display());
    let client = Command::new(CAPSOCK)
        .args([
            "run",
            "--dir",
            &root,
            "--unix-dir",
            &root,
            &wasm,
            "seed_client",
        ])
        .output()
        .unwrap();
    assert_seed_exchange(&client, &served(server));
}

#[test]
fn the_seeds_server_runs_as_a_guest_for_the_seeds_client_run_by_cpython() {
    let _fds = support::shared();
    let wasm = support::script_guest("python");
    let dir = seed_dir();
    std::fs::write(dir.path().join("client.py"), natively("seed_client.py")).unwrap();
    let root = format!("{}::/", dir.path().display());
    let server = Command::new(CAPSOCK)
        .args(["run", "--unix-dir", &root, &wasm, "seed_server"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&dir.path().join("uds_socket"));
    let client = Command::new("python3")
        .arg("client.py")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_seed_exchange(&client, &served(server));
}

/// `capsock pair` of a Python and a Rust guest, each way round: the giver
/// hands the taker one end of a private socket pair and they talk over it;
/// both exit 0 and capsock's fd count is back where it was.
#[test]
fn python_and_rust_guests_hand_off_a_socket_under_capsock_pair() {
    let _fds = support::shared();
    let python = support::script_guest("python");
    let dir = Path::new(guests::examples::HANDOFF_GIVER).parent().unwrap();
    let rust = |name: &str| dir.join(format!("{name}.wasm")).display().to_string();
    for (a, b, script) in [
        (rust("handoff_giver"), python.clone(), "handoff_taker"),
        (python.clone(), rust("handoff_taker"), "handoff_giver"),
    ] {
        let out = Command::new(CAPSOCK)
            .args(["pair", &a, &b, "--", script])
            .output()
            .unwrap();
        let stdout = support::stdout_of(&out);
        assert!(
            out.status.success(),
            "{script}: {}\n{stdout}",
            support::stderr_of(&out)
        );
        for line in [
            "taker got \"a private channel\" and a socket\n",
            "giver got: pong for \"ping over the handed-off socket\"\n",
            &format!("{a}: exit status 0\n"),
            &format!("{b}: exit status 0\n"),
        ] {
            assert!(
                stdout.contains(line),
                "{script}: {line:?} missing from\n{stdout}"
            );
        }
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("host open fds:") && l.ends_with("(equal)")),
            "{script}: {stdout}"
        );
    }
}

/// A Python guest's `sys.argv` and `os.environ` are its run's (not the
/// build's, when componentize-py initialized the interpreter), and an
/// uncaught exception ends it as `python3` would: a traceback on stderr,
/// status 1.
#[test]
fn a_python_guest_sees_its_arguments_and_environment_and_fails_like_python() {
    let _fds = support::shared();
    let wasm = support::python_test_guest();
    let out = Command::new(CAPSOCK)
        .args(["run", "--env", "GREETING=hello", &wasm, "fails", "a b", "c"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        support::stdout_of(&out),
        "argv=['fails', 'a b', 'c']\nGREETING=hello\n"
    );
    let err = support::stderr_of(&out);
    assert!(
        err.starts_with("Traceback (most recent call last):\n")
            && err.contains("in deep\n")
            && err.ends_with("RuntimeError: boom\n"),
        "{err}"
    );
}
