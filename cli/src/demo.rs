//! `capsock demo`: a native broker writes two temperature logs, opens them,
//! and hands the open files to a sandboxed plugin over a socket pair. The
//! plugin has no filesystem: it reads the files only through the handles it
//! received, and sends back a report.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use anyhow::{ensure, Context};
use capsock_host::{native, CapsockCtx, Runtime};
use wasmtime_wasi::WasiCtxBuilder;

/// Two logs in the seed's format: "time temp(in degree Celsius)" then one
/// "hh.mm temp" line per hour.
const LOGS: [(&str, &[u32]); 2] = [
    ("day1.log", &[23, 22, 22, 19, 17, 18, 19, 19, 23]),
    ("day2.log", &[12, 11, 11, 10, 9, 10, 13, 16, 19]),
];

fn log_text(temps: &[u32]) -> String {
    let mut text = String::from("time temp(in degree Celsius)\n");
    for (hour, t) in temps.iter().enumerate() {
        text += &format!("{hour:02}.00 {t}\n");
    }
    text
}

pub fn demo() -> anyhow::Result<i32> {
    let plugin = crate::guests::temperature_plugin()?;
    crate::fds::settle();
    let fds_before = crate::fds::count()?;
    let (status, report) = broker_and_plugin(plugin)?;
    let fds_after = crate::fds::count()?;

    println!("plugin exited with status {status}; its report:");
    for line in report.lines() {
        println!("  | {line}");
    }
    println!(
        "host open fds: {fds_before} before, {fds_after} after ({})",
        if fds_before == fds_after {
            "equal"
        } else {
            "LEAK"
        }
    );
    ensure!(
        fds_before == fds_after,
        "file descriptors leaked: {fds_before} before, {fds_after} after"
    );
    ensure!(status == 0, "the plugin failed with status {status}");
    Ok(0)
}

/// Everything that opens fds, so they are all closed when it returns.
fn broker_and_plugin(plugin_wasm: &[u8]) -> anyhow::Result<(i32, String)> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let mut files = Vec::new();
    for (name, temps) in LOGS {
        let path = dir.path().join(name);
        std::fs::write(&path, log_text(temps))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("broker wrote {} ({} readings)", path.display(), temps.len());
        files.push(File::open(&path)?);
    }

    let (broker, plugin_end) = UnixStream::pair()?;
    let fds: Vec<_> = files.iter().map(|f| f.as_fd()).collect();
    let sent = native::send_fds(broker.as_fd(), b"Temperature data", &fds)?;
    println!(
        "broker sent {:?} ({sent} bytes) + {} fds over a socket pair",
        "Temperature data",
        fds.len()
    );
    // The plugin now holds the only references: the kernel copied them.
    drop(files);

    let runtime = Runtime::new()?;
    let plugin = runtime
        .load_bytes(plugin_wasm)
        .context("cannot load the demo plugin")?;
    let mut capsock = CapsockCtx::builder();
    capsock.grant("broker", plugin_end);
    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stdout()
        .inherit_stderr()
        .arg("temperature_plugin");
    println!("running the plugin (no preopened directories, one granted socket: \"broker\")");
    let status = runtime.run(&plugin, wasi.build(), capsock.build())?;

    let mut report = String::new();
    (&broker).read_to_string(&mut report)?;
    Ok((status, report))
}
