//! Embedding capsock in your own wasmtime host: your store data, your
//! linker, capsock added next to WASI. A broker in this process hands an
//! open file to the `temperature_server` example guest.
//!
//! Run it: `cargo run --example embed` (or pass another component that
//! takes a stream socket granted as "client").

use std::io::{Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use anyhow::Context;
use capsock_host::{native, CapsockCtx, CapsockCtxView, CapsockView, Limits};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// The embedder's store data: WASI, capsock, one shared resource table,
/// and whatever else the embedder keeps.
struct Host {
    wasi: WasiCtx,
    capsock: CapsockCtx,
    table: ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl CapsockView for Host {
    fn capsock(&mut self) -> CapsockCtxView<'_> {
        CapsockCtxView {
            ctx: &mut self.capsock,
            table: &mut self.table,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| capsock_test_artifacts::examples::TEMPERATURE_SERVER.to_string());

    let engine = Engine::default();
    let mut linker: Linker<Host> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    capsock_host::add_to_linker_sync(&mut linker)?;
    let component = Component::from_file(&engine, &path)
        .map_err(anyhow::Error::from)
        .context("load component")?;

    // The broker side: a socket pair, one end for the guest, and an open
    // file sent over it before the guest even starts.
    let (broker, guest_end) = UnixStream::pair()?;
    let mut file = tempfile::tempfile()?;
    writeln!(file, "time temp\n00.00 21\n01.00 20")?;
    // The guest's copy shares this file offset: rewind it for the reader.
    file.rewind()?;
    native::send_fds(broker.as_fd(), b"Temperature data", &[file.as_fd()])?;
    drop(file);

    let capsock = CapsockCtx::builder()
        .grant("client", guest_end)
        .limits(Limits::default().max_handles(16))
        .build();
    let wasi = WasiCtxBuilder::new()
        .inherit_stdio()
        .arg("temperature_server")
        .build();
    let mut store = Store::new(
        &engine,
        Host {
            wasi,
            capsock,
            table: ResourceTable::new(),
        },
    );
    let command = Command::instantiate(&mut store, &component, &linker)?;
    let ok = command.wasi_cli_run().call_run(&mut store)?;
    println!(
        "guest finished: {}",
        if ok.is_ok() { "success" } else { "failure" }
    );
    println!(
        "handles it still held at exit: {}",
        store.data().capsock.handles_held()
    );
    Ok(())
}
