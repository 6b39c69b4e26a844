//! The examples a new user starts from: each runs as examples/README.md
//! says (examples/run.py, with the binary and guests of this build), and
//! prints what its original (Twisted's listings, the seed) prints.

use std::path::Path;
use std::process::Command;

use crate::support::{self, guests};
use crate::CAPSOCK;

fn run_example(name: &str) -> String {
    let wasm_dir = Path::new(guests::examples::SEND_REPLACEMENT)
        .parent()
        .unwrap();
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/run.py"))
        .args([name, "--capsock", CAPSOCK, "--wasm-dir"])
        .arg(wasm_dir)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn send_replacement_sends_and_receives_twelve_bytes() {
    let _fds = support::shared();
    let out = run_example("send_replacement");
    assert!(out.contains("Sent 12 bytes"), "{out}");
    assert!(out.contains("Received \"Hello, world\""), "{out}");
    assert!(
        out.contains("Extra stuff, fyi [] MessageFlags(0x0)"),
        "{out}"
    );
}

#[test]
fn copy_descriptor_reads_half_through_each_descriptor() {
    let _fds = support::shared();
    let out = run_example("copy_descriptor");
    assert!(out.contains("Wrote 12 bytes"), "{out}");
    assert!(out.contains("Read \"Hello,\" from original"), "{out}");
    assert!(out.contains("Read \" world\" from duplicate"), "{out}");
}

#[test]
fn temperature_client_hands_two_files_to_the_server() {
    let _fds = support::shared();
    let out = run_example("temperature");
    assert!(out.contains("Message sent to the server"), "{out}");
    assert!(
        out.contains("Non-ancillary message:Temperature data"),
        "{out}"
    );
    let contents = "contents: time temp(in degree Celsius) 00.00 23 01.00 22 02.00 22 03.00 19 04.00 17 05.00 18 06.00 19 07.00 19 08.00 23";
    assert!(out.contains(&format!("File 1 {contents}")), "{out}");
    assert!(out.contains(&format!("File 2 {contents}")), "{out}");
}

#[test]
fn prefork_acceptor_hands_connections_to_two_workers() {
    let _fds = support::shared();
    let out = run_example("prefork");
    for i in 0..6 {
        let worker = if i % 2 == 0 { 1 } else { 2 };
        let line = format!("client {i} got: worker {worker} answers: HELLO FROM CLIENT {i}");
        assert!(out.contains(&line), "{line:?} missing from\n{out}");
    }
    assert!(
        out.contains("acceptor: handed 6 connections to 2 workers"),
        "{out}"
    );
    assert!(
        out.contains("worker 1: served 3 connections")
            && out.contains("worker 2: served 3 connections"),
        "{out}"
    );
}

/// `examples/run.py python`: the Python plugin fed by the native broker,
/// Twisted's send_replacement, and the seed's server and client as two
/// Python guests.
#[test]
fn python_examples_run_as_examples_readme_says() {
    let _fds = support::shared();
    let out = run_example("python");
    let summary = "file 1: 9 readings, min 17 °C, max 23 °C, mean 20.22 °C\nfile 2: 9 readings, min 17 °C, max 23 °C, mean 20.22 °C\n";
    assert!(
        out.contains(&format!("broker got the report:\nplugin received \"Temperature data\" with 2 handle(s); no filesystem access (No such file or directory)\n{summary}")),
        "{out}"
    );
    assert!(
        out.contains("Sent 12 bytes\nReceived b'Hello, world'\n"),
        "{out}"
    );
    assert!(
        out.contains("Non-ancillary message:Temperature data"),
        "{out}"
    );
    assert!(out.contains("Returned file starts: time temp"), "{out}");
}

/// `examples/run.py js`: the JavaScript plugin fed by the native broker.
#[test]
fn javascript_plugin_runs_as_examples_readme_says() {
    let _fds = support::shared();
    let out = run_example("js");
    assert!(
        out.contains("broker got the report:\nplugin received \"Temperature data\" with 2 handle(s)\nfile 1: 9 readings, min 17 °C, max 23 °C, mean 20.22 °C\n"),
        "{out}"
    );
}
