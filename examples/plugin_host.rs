//! An embedder's own world (`examples/guests/wit/plugin.wit`), as a plugin
//! host would define it: the guest exports `on-connection: func(conn:
//! socket)`, the shape of a wasi:http handler handed its connection. This
//! host accepts native clients on a Unix socket and hands each connection
//! to the plugin, accounted against the plugin's handle limit; then it
//! takes a socket the plugin made back as an ordinary fd.
//!
//! Run it: `cargo run --example plugin_host` (or pass another component of
//! that world).

use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};

use anyhow::{anyhow, Context};
use capsock_host::{CapsockCtx, CapsockView, Limits, Policy, SandboxState, Socket};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtx;

/// The world's bindings. capsock's interfaces and types are capsock's own
/// (`with`), so a `Resource<Socket>` here is the one capsock's functions
/// take.
mod bindings {
    wasmtime::component::bindgen!({
        path: ["wit", "../examples/guests/wit"],
        world: "capsock-example:plugin/plugin",
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::sync::io,
            "wasi:filesystem": wasmtime_wasi::p2::bindings::sync::filesystem,
            "capsock:sockets": capsock_host::bindings::capsock::sockets,
        },
    });
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| capsock_test_artifacts::examples::PLUGIN.to_string());
    let engine = Engine::default();
    let mut linker = Linker::<SandboxState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    capsock_host::add_to_linker_sync(&mut linker)?;
    let component = Component::from_file(&engine, &path)
        .map_err(anyhow::Error::from)
        .context("load component")?;

    // The plugin may hold 8 handles at once, and the default policy grants
    // no Unix directory and no IP network: it talks only over what it is
    // handed. (`SandboxState` is capsock's own store data; a struct of
    // yours implementing `WasiView` and `CapsockView` works the same, see
    // examples/embed.rs.)
    let capsock = CapsockCtx::builder()
        .limits(Limits::default().max_handles(8))
        .policy(Policy::new())
        .build();
    let state = SandboxState::new(WasiCtx::builder().inherit_stdio().build(), capsock);
    let mut store = Store::new(&engine, state);
    let plugin = bindings::Plugin::instantiate(&mut store, &component, &linker)?;

    let dir = tempfile::tempdir()?;
    let address = dir.path().join("plugin.sock");
    let listener = UnixListener::bind(&address)?;
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let address = address.clone();
            std::thread::spawn(move || -> std::io::Result<String> {
                let mut text = String::new();
                UnixStream::connect(address)?.read_to_string(&mut text)?;
                Ok(text)
            })
        })
        .collect();
    for _ in &clients {
        let (conn, _) = listener.accept()?;
        let socket = Socket::new(conn.into()).map_err(|(code, _)| anyhow!("{code}"))?;
        let conn = store.data_mut().capsock().push_socket(socket)?;
        let sent = plugin.call_on_connection(&mut store, conn)??;
        println!(
            "on-connection sent {sent} bytes; the plugin holds {} handles",
            store.data_mut().capsock().handles_held()
        );
    }
    for client in clients {
        let text = client.join().map_err(|_| anyhow!("a client panicked"))??;
        println!("a client read {text:?}");
    }

    let channel = plugin.call_open_channel(&mut store)??;
    let fd = store.data_mut().capsock().take_socket(channel)?;
    let mut text = String::new();
    UnixStream::from(fd).read_to_string(&mut text)?;
    println!("from the plugin's channel: {text:?}");
    println!(
        "handles the plugin still holds: {}",
        store.data_mut().capsock().handles_held()
    );
    Ok(())
}
