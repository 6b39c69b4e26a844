//! The plugin of `capsock demo`: a sandboxed program with no filesystem
//! access that receives two open temperature logs from a broker, reads them
//! through the handles it was given, and sends back a report.
//!
//! Run it: `cargo run --release -- demo`.

use std::io::{Read, Write};
use std::net::Shutdown;

use capsock::{RecvFds, SocketExt, UnixStream};

fn main() -> std::io::Result<()> {
    // The sandbox has no preopened directories: this must fail.
    let fs_probe = match std::fs::read_dir("/") {
        Ok(_) => "UNEXPECTED: the filesystem is visible".to_string(),
        Err(e) => format!("no filesystem access ({e})"),
    };

    let mut broker = UnixStream::preopened("broker")?;
    let RecvFds {
        data, fds, flags, ..
    } = broker.recv_fds(1024, 8)?;
    let mut report = format!(
        "plugin received {:?} with {} handle(s){}; {fs_probe}\n",
        String::from_utf8_lossy(&data),
        fds.len(),
        if flags.is_empty() {
            String::new()
        } else {
            format!(" (flags {flags:?})")
        },
    );
    for (i, mut handle) in fds.into_iter().enumerate() {
        let mut text = String::new();
        handle.read_to_string(&mut text)?;
        report += &format!("file {}: {}\n", i + 1, summarize(&text));
    }
    broker.write_all(report.as_bytes())?;
    broker.shutdown(Shutdown::Write)
}

/// "time temp" lines in, "n readings, min, max, mean" out.
fn summarize(text: &str) -> String {
    let temps: Vec<f64> = text
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
        .collect();
    if temps.is_empty() {
        return "no readings".to_string();
    }
    let min = temps.iter().copied().fold(f64::INFINITY, f64::min);
    let max = temps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = temps.iter().sum::<f64>() / temps.len() as f64;
    format!(
        "{} readings, min {min} °C, max {max} °C, mean {mean:.2} °C",
        temps.len()
    )
}
