//! Embedding capsock in a real wasmtime host: guests whose calls wait on
//! the tokio reactor (current-thread and multi-thread runtimes, many guests
//! waiting at once, a cancelled call), an embedder's own world that hands
//! sockets to a guest's export and takes sockets back, with exact handle
//! accounting, and the engine options (fuel, pooling) a `Runtime` takes.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use capsock_host::{
    CapsockCtx, CapsockError, CapsockView, ErrorCode, HostCalls, Limits, Runtime, SandboxPre,
    SandboxState, Socket,
};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::support::{self, guests, open_fds};

/// The hardening guest on the async runtime. Made before entering a tokio
/// runtime: the shared runtime's first use blocks on wasmtime-wasi's.
fn hardening_pre() -> SandboxPre {
    let runtime = support::runtime_for(HostCalls::Async);
    let component = support::component(guests::HARDENING);
    runtime.prepare(&component).unwrap()
}

/// A hardening guest scenario as an async sandbox of the async runtime,
/// with "peer" granted; its stdout.
async fn blocked_guest(
    pre: &SandboxPre,
    scenario: &str,
    peer: UnixStream,
) -> (capsock_host::Sandbox, MemoryOutputPipe) {
    let runtime = support::runtime_for(HostCalls::Async);
    let stdout = MemoryOutputPipe::new(1 << 12);
    let wasi = WasiCtxBuilder::new()
        .stdout(stdout.clone())
        .args(&["hardening", scenario])
        .build();
    let mut ctx = CapsockCtx::builder();
    ctx.grant("peer", peer);
    let sandbox = pre
        .instantiate_async(wasi, ctx.build(), runtime.limits().clone())
        .await
        .unwrap();
    (sandbox, stdout)
}

fn printed(stdout: &MemoryOutputPipe, line: &str) -> bool {
    String::from_utf8_lossy(&stdout.contents())
        .lines()
        .any(|l| l == line)
}

/// Writes "hello" to `peer` after `after` unless told not to first: it
/// unblocks a guest that a regression left blocking the runtime's thread,
/// so the test fails instead of hanging. `true` if it had to.
fn watchdog(
    peer: &UnixStream,
    after: Duration,
) -> (mpsc::Sender<()>, std::thread::JoinHandle<bool>) {
    let mut peer = peer.try_clone().unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let dog = std::thread::spawn(move || match rx.recv_timeout(after) {
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = peer.write_all(b"hello");
            true
        }
        _ => false,
    });
    (tx, dog)
}

/// The first case: on a current-thread runtime, a guest blocked in
/// `recv` leaves the one thread free (timers fire, other tasks run), and a
/// task that sends to it wakes it.
#[test]
fn a_guest_blocked_in_recv_leaves_a_current_thread_runtime_free() {
    let _fds = support::shared();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let (cancel, dog) = watchdog(&ours, Duration::from_secs(60));
    let pre = hardening_pre();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, stdout, ticks) = rt.block_on(async {
        let (sandbox, stdout) = blocked_guest(&pre, "block_recv", theirs).await;
        let guest = tokio::spawn(sandbox.run_async());
        let mut ticks = 0;
        while !printed(&stdout, "receiving") || ticks < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            ticks += 1;
        }
        assert!(!guest.is_finished(), "the guest is still waiting");
        ours.set_nonblocking(true).unwrap();
        let mut ours = tokio::net::UnixStream::from_std(ours).unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut ours, b"hello")
            .await
            .unwrap();
        (guest.await.unwrap().unwrap(), stdout, ticks)
    });
    let _ = cancel.send(());
    assert!(
        !dog.join().unwrap(),
        "the guest blocked the runtime's thread"
    );
    assert_eq!(status, 0);
    assert!(printed(&stdout, "returned=ok:5"), "{stdout:?}");
    assert!(ticks >= 20);
}

/// 64 guests blocked in `recv` at once on a runtime with two worker
/// threads: all of them get to wait (with blocking calls, two would hold
/// both threads and the other 62 would never start), then each wakes when
/// its peer writes.
#[test]
fn sixty_four_guests_wait_at_once_on_two_worker_threads() {
    let _fds = support::shared();
    const N: usize = 64;
    let pre = hardening_pre();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (peers, theirs): (Vec<_>, Vec<_>) = (0..N).map(|_| UnixStream::pair().unwrap()).unzip();
    let guests: Vec<_> = rt.block_on(async {
        let mut guests = Vec::new();
        for peer in theirs {
            let (sandbox, stdout) = blocked_guest(&pre, "block_recv", peer).await;
            guests.push((rt.spawn(sandbox.run_async()), stdout));
        }
        guests
    });
    // From outside the runtime: wait until every guest waits, then wake all.
    let deadline = Instant::now() + Duration::from_secs(60);
    let all_waiting = loop {
        let waiting = guests
            .iter()
            .filter(|(_, out)| printed(out, "receiving"))
            .count();
        if waiting == N {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    for mut peer in &peers {
        peer.write_all(b"hello").unwrap();
    }
    for (guest, stdout) in guests {
        assert_eq!(rt.block_on(guest).unwrap().unwrap(), 0);
        assert!(printed(&stdout, "returned=ok:5"), "{stdout:?}");
    }
    assert!(all_waiting, "not all {N} guests were waiting at once");
}

/// Dropping a guest's run (here by `tokio::time::timeout`) abandons its
/// wait at once and closes what it held: the peer sees end-of-file.
#[test]
fn a_timeout_around_an_async_run_cancels_the_wait_and_closes_the_guests_fds() {
    let _fds = support::shared();
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let (cancel, dog) = watchdog(&ours, Duration::from_secs(60));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pre = hardening_pre();
    let started = Instant::now();
    let ended = rt.block_on(async {
        let (sandbox, _stdout) = blocked_guest(&pre, "block_recv", theirs).await;
        tokio::time::timeout(Duration::from_millis(200), sandbox.run_async()).await
    });
    let _ = cancel.send(());
    assert!(
        !dog.join().unwrap(),
        "the guest blocked the runtime's thread"
    );
    assert!(ended.is_err(), "the timeout fired: {ended:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
    ours.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(ours.read(&mut buf).unwrap(), 0, "the guest's end is closed");
}

mod plugin {
    wasmtime::component::bindgen!({
        path: ["../wit", "../examples/guests/wit"],
        world: "capsock-example:plugin/plugin",
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::sync::io,
            "wasi:filesystem": wasmtime_wasi::p2::bindings::sync::filesystem,
            "capsock:sockets": capsock_host::bindings::capsock::sockets,
        },
    });
}

/// The plugin guest in the embedder's own world, on its own engine.
/// (`SandboxState` is the store data; an embedder's own struct implementing
/// `WasiView` and `CapsockView` works the same, see examples/embed.rs.)
fn plugin(limits: Limits) -> (Store<SandboxState>, plugin::Plugin) {
    let engine = Engine::default();
    let component = Component::from_file(&engine, guests::examples::PLUGIN).unwrap();
    let mut linker = Linker::<SandboxState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    capsock_host::add_to_linker_sync(&mut linker).unwrap();
    let mut capsock = CapsockCtx::builder();
    capsock.limits(limits);
    let state = SandboxState::new(WasiCtx::builder().build(), capsock.build());
    let mut store = Store::new(&engine, state);
    let plugin = plugin::Plugin::instantiate(&mut store, &component, &linker).unwrap();
    (store, plugin)
}

/// The second case: an embedder's export takes a socket 10,000
/// times; each is counted while the guest holds it and given back when the
/// guest drops it, and no fd outlives its use.
#[test]
fn an_embedders_export_takes_sockets_10_000_times_with_exact_accounting() {
    let _fds = support::exclusive(&[]);
    let (mut store, plugin) = plugin(Limits::default());
    let baseline = open_fds();
    for i in 0..10_000 {
        let (mut ours, theirs) = UnixStream::pair().unwrap();
        let conn = store
            .data_mut()
            .capsock()
            .push_socket(Socket::new(theirs.into()).unwrap())
            .unwrap();
        assert_eq!(store.data_mut().capsock().handles_held(), 1);
        let sent = plugin.call_on_connection(&mut store, conn).unwrap();
        assert_eq!(sent, Ok(5), "call {i}");
        assert_eq!(store.data_mut().capsock().handles_held(), 0, "call {i}");
        let mut got = Vec::new();
        ours.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hello", "call {i}: the guest's end closed after");
    }
    assert_eq!(open_fds(), baseline);
}

/// A socket pushed past the handle limit is refused with `limit-reached`
/// (and closed with the error); one an embedder puts in the table by
/// itself is not counted, and its drop by the guest does not underflow the
/// count.
#[test]
fn pushes_respect_the_handle_limit_and_uncounted_handles_do_not_underflow() {
    let _fds = support::shared();
    let (mut store, plugin) = plugin(Limits::default().max_handles(1));
    let (_a, a) = UnixStream::pair().unwrap();
    let (_b, b) = UnixStream::pair().unwrap();
    let mut view = store.data_mut().capsock();
    let first = view.push_socket(Socket::new(a.into()).unwrap()).unwrap();
    match view.push_socket(Socket::new(b.into()).unwrap()) {
        Err(CapsockError::Code(ErrorCode::LimitReached)) => {}
        other => panic!("a second push over the limit: {other:?}"),
    }
    assert_eq!(plugin.call_on_connection(&mut store, first).unwrap(), Ok(5));
    let (_c, c) = UnixStream::pair().unwrap();
    let view = store.data_mut().capsock();
    let uncounted = view.table.push(Socket::new(c.into()).unwrap()).unwrap();
    assert_eq!(
        plugin.call_on_connection(&mut store, uncounted).unwrap(),
        Ok(5)
    );
    assert_eq!(store.data_mut().capsock().handles_held(), 0);
    // And the count still admits one handle, not zero (an underflow would
    // have wrapped it to the maximum).
    let (_d, d) = UnixStream::pair().unwrap();
    let mut view = store.data_mut().capsock();
    assert!(view.push_socket(Socket::new(d.into()).unwrap()).is_ok());
}

/// A socket the guest hands back through an export is taken out of its
/// table as an `OwnedFd`, and the count goes down with it.
#[test]
fn a_socket_the_guest_returns_is_taken_back_as_an_owned_fd() {
    let _fds = support::shared();
    let (mut store, plugin) = plugin(Limits::default());
    let channel = plugin.call_open_channel(&mut store).unwrap().unwrap();
    assert_eq!(store.data_mut().capsock().handles_held(), 1);
    let fd = store.data_mut().capsock().take_socket(channel).unwrap();
    assert_eq!(store.data_mut().capsock().handles_held(), 0);
    let mut got = Vec::new();
    UnixStream::from(fd).read_to_end(&mut got).unwrap();
    assert_eq!(got, b"from the guest");
}

/// A grant made after the context was built is there for the guest.
#[test]
fn a_grant_made_after_build_is_seen_by_the_guest() {
    let _fds = support::shared();
    let mut ctx = CapsockCtx::builder().build();
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    ctx.grant("peer", theirs);
    let runtime = support::runtime();
    let stdout = MemoryOutputPipe::new(1 << 12);
    let wasi = WasiCtxBuilder::new()
        .stdout(stdout.clone())
        .args(&["hardening", "block_recv"])
        .build();
    ours.write_all(b"hello").unwrap();
    let component = support::component(guests::HARDENING);
    assert_eq!(runtime.run(&component, wasi, ctx).unwrap(), 0);
    assert!(printed(&stdout, "returned=ok:5"), "{stdout:?}");
}

/// A runtime on an embedder's engine that consumes fuel and has epoch
/// interruption runs guests (it used to trap at instantiation, with no
/// fuel in the store), and one with the pooling allocator does too.
#[test]
fn runtimes_on_fuel_and_pooling_engines_run_guests() {
    let _fds = support::shared();
    let mut config = Runtime::config();
    config.consume_fuel(true).epoch_interruption(true);
    let fuel = Runtime::with_engine(Engine::new(&config).unwrap()).unwrap();
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(4)
        .total_core_instances(16)
        .total_memories(16)
        .total_tables(16)
        .max_memory_size(64 << 20);
    let pooled = Runtime::builder()
        .pooling_allocator(pool)
        .host_calls(HostCalls::Async)
        .build()
        .unwrap();
    for runtime in [&fuel, &pooled] {
        let component = runtime
            .load_file(std::path::Path::new(guests::HARDENING))
            .unwrap();
        let stdout = MemoryOutputPipe::new(1 << 12);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .args(&["hardening", "recurse", "100"])
            .build();
        let status = runtime.run(&component, wasi, CapsockCtx::builder().build());
        assert_eq!(status.unwrap(), 0);
        assert!(printed(&stdout, "depth=100"), "{stdout:?}");
    }
}

/// What `RUST_LOG=capsock_host=trace` shows, captured in-process: a span
/// for each call of the bindings, and each refusal at `debug` with what
/// was refused and why (the missing grant by name, the path no granted
/// directory holds).
#[test]
fn calls_are_traced_and_refusals_say_why() {
    let _fds = support::shared();
    // The subscriber is the process's: other tests' threads must not race
    // with it over tracing's global interest cache.
    if !support::in_own_process(&format!(
        "{}::calls_are_traced_and_refusals_say_why",
        module_path!()
    )) {
        return;
    }
    #[derive(Clone, Default)]
    struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Log {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    {
        // No grant named "peer"; then a bind outside any granted directory.
        let missing = support::run_guest(guests::HARDENING, &["block_recv"], Vec::new());
        assert!(missing.is_err(), "the guest fails without its grant");
        let (_ours, theirs) = UnixStream::pair().unwrap();
        let grants = vec![("peer", theirs.into())];
        let denied = support::run_guest(guests::SERVERS, &["accept", "/run/t/l.sock"], grants);
        assert!(denied.is_err(), "the guest fails without the directory");
    }
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    for want in [
        "wit-bindgen import{module=\"preopens\" function=\"take\"}",
        "the guest took a grant it was not given",
        "grant=\"peer\"",
        "no granted directory holds this path",
        "path=/run/t/l.sock",
        "address refused",
    ] {
        assert!(text.contains(want), "no {want:?} in the log:\n{text}");
    }
}

/// Polls `f` to completion on this thread, with no tokio runtime around it
/// (as another executor would).
fn block_on_without_tokio<F: std::future::Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => return v,
            std::task::Poll::Pending => std::thread::park(),
        }
    }
}

/// The async bindings driven by an executor that is not tokio: a wait has
/// no reactor to register with, and happens in the thread instead (no
/// panic, no busy loop), until the peer writes.
#[test]
fn async_bindings_outside_a_tokio_runtime_wait_in_the_thread() {
    let _fds = support::shared();
    let engine = support::runtime().engine().clone();
    let mut linker = Linker::<SandboxState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    capsock_host::add_to_linker_async(&mut linker).unwrap();
    let component = support::component(guests::HARDENING);
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let stdout = MemoryOutputPipe::new(1 << 12);
    let wasi = WasiCtxBuilder::new()
        .stdout(stdout.clone())
        .args(&["hardening", "block_recv"])
        .build();
    let mut capsock = CapsockCtx::builder();
    capsock.grant("peer", theirs);
    let mut store = Store::new(&engine, SandboxState::new(wasi, capsock.build()));
    store.set_epoch_deadline(u64::MAX);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        ours.write_all(b"hello").unwrap();
        ours
    });
    let ran = block_on_without_tokio(async {
        let command = wasmtime_wasi::p2::bindings::Command::instantiate_async(
            &mut store, &component, &linker,
        )
        .await?;
        command.wasi_cli_run().call_run(&mut store).await
    });
    let _ours = writer.join().unwrap();
    assert!(matches!(ran, Ok(Ok(()))), "{ran:?}");
    assert!(printed(&stdout, "returned=ok:5"), "{stdout:?}");
}
