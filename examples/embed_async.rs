//! Async embedding: 100 sandboxes of the `temperature_server` example on a
//! tokio runtime with a single thread. Each waits in a receive for its
//! broker's message (an open file, passed with `SCM_RIGHTS`); with async
//! host calls a waiting guest holds no thread, so all 100 wait at once and
//! this one thread serves them.
//!
//! Run it: `cargo run --example embed_async` (or pass another component
//! that takes a stream socket granted as "client").

use std::io::{Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use capsock_host::{native, CapsockCtx, HostCalls, Limits, Runtime};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtxBuilder;

const GUESTS: usize = 100;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| capsock_test_artifacts::examples::TEMPERATURE_SERVER.to_string());
    // `HostCalls::Async` links `capsock_host::add_to_linker_async`: with
    // your own store and linker, call that next to
    // `wasmtime_wasi::p2::add_to_linker_async`.
    let runtime = Runtime::builder().host_calls(HostCalls::Async).build()?;
    let pre = runtime.prepare(&runtime.load_file(path.as_ref())?)?;

    let mut guests = Vec::new();
    let mut brokers = Vec::new();
    for _ in 0..GUESTS {
        let (broker, guest_end) = UnixStream::pair()?;
        let capsock = CapsockCtx::builder()
            .grant("client", guest_end)
            .limits(Limits::default().max_handles(16))
            .build();
        let stdout = MemoryOutputPipe::new(1 << 12);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .arg("temperature_server")
            .build();
        let sandbox = pre
            .instantiate_async(wasi, capsock, runtime.limits().clone())
            .await?;
        guests.push((tokio::spawn(sandbox.run_async()), stdout));
        brokers.push(broker);
    }
    // Send each its file (a guest that is not in its receive yet finds the
    // message queued).
    for (i, broker) in brokers.iter().enumerate() {
        let mut file = tempfile::tempfile()?;
        writeln!(file, "time temp\n00.00 {}", 20 + i % 5)?;
        file.rewind()?;
        native::send_fds(broker.as_fd(), b"Temperature data", &[file.as_fd()])?;
    }
    let mut ok = 0;
    for (guest, stdout) in guests {
        if guest.await?? == 0 {
            ok += 1;
        }
        if ok == 1 {
            print!(
                "the first guest printed:\n{}",
                String::from_utf8_lossy(&stdout.contents())
            );
        }
    }
    println!("{ok} of {GUESTS} guests succeeded, on one thread");
    Ok(())
}
