//! `capsock bench`'s many-sandboxes figures: thousands of idle sandboxes in
//! this one process, each blocked in a receive on its own socket, their
//! calls waiting on the tokio reactor (`HostCalls::Async`) of a runtime
//! with a handful of worker threads. Measured: the time to start them all,
//! host memory per sandbox, the OS threads in use, and how long one chosen
//! sandbox among them takes to answer.
//!
//! Each guest holds one fd: a datagram socket bound to an abstract name and
//! connected to one host socket, which wakes a chosen guest by sending to
//! its name. (A socket pair per guest would take two fds each, and 10,000
//! sandboxes would not fit a 20,000-fd limit.)

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use anyhow::Context;
use capsock_host::{CapsockCtx, HostCalls, Runtime, SandboxLimits};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use wasmtime_wasi::WasiCtxBuilder;

/// What `count` idle sandboxes cost.
pub struct Many {
    pub count: usize,
    pub pooling: bool,
    pub workers: usize,
    /// From the first instantiation until every guest waits, seconds.
    pub start_s: f64,
    /// Growth of the process's RSS per sandbox, KiB.
    pub rss_kib: f64,
    /// Linear memory and tables each guest has (its resident part is at
    /// most this), KiB.
    pub linear_kib: f64,
    /// OS threads of the process while all of them wait.
    pub threads: usize,
    /// Wake-up of one chosen sandbox: a datagram to it until its answer
    /// is back, µs (median and 99th percentile).
    pub wake_median_us: f64,
    pub wake_p99_us: f64,
}

/// Each linear memory's address-space reservation: small, so that
/// thousands of memories (and a pool of them) fit the address space and
/// the kernel's map count; bounds are then checked explicitly.
const RESERVATION: u64 = 64 << 20;

fn engine(count: usize, pooling: bool) -> anyhow::Result<Engine> {
    let mut config = Runtime::config();
    SandboxLimits::default().configure_engine(&mut config);
    config.memory_reservation(RESERVATION);
    config.memory_guard_size(0);
    config.memory_reservation_for_growth(0);
    if pooling {
        let n = count as u32 + 1;
        let mut pool = PoolingAllocationConfig::default();
        // A Rust command component: a few core instances and tables, one
        // memory.
        pool.total_component_instances(n)
            .total_core_instances(8 * n)
            .total_memories(2 * n)
            .total_tables(4 * n)
            .total_stacks(n)
            .max_memory_size(RESERVATION as usize);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).map_err(anyhow::Error::from)
}

fn abstract_addr(name: &str) -> anyhow::Result<SocketAddr> {
    Ok(SocketAddr::from_abstract_name(name.as_bytes())?)
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// Starts `count` idle sandboxes of the bench guest on a runtime with
/// `workers` worker threads, measures them, and ends them.
pub fn many(
    bench_wasm: &[u8],
    count: usize,
    pooling: bool,
    workers: usize,
) -> anyhow::Result<Many> {
    let engine = engine(count, pooling)?;
    let runtime = Runtime::with_engine_and(engine, SandboxLimits::default(), HostCalls::Async)?;
    let pre = runtime.prepare(&runtime.load_bytes(bench_wasm)?)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    let tag = format!("capsock-bench-{}", std::process::id());
    let host = UnixDatagram::bind_addr(&abstract_addr(&format!("{tag}-host"))?)?;
    let host_addr = host.local_addr()?;

    let run_one = |i: usize| -> anyhow::Result<_> {
        let guest = UnixDatagram::bind_addr(&abstract_addr(&format!("{tag}-{i}"))?)?;
        guest.connect_addr(&host_addr)?;
        let wasi = WasiCtxBuilder::new().args(&["bench", "idle_dgram"]).build();
        let ctx = CapsockCtx::builder().grant("peer", guest).build();
        Ok((wasi, ctx))
    };
    // One sandbox first, so one-time costs are not counted per sandbox.
    let (wasi, ctx) = run_one(count)?;
    let first = rt.block_on(pre.instantiate_async(wasi, ctx, runtime.limits().clone()))?;
    let first = rt.spawn(first.run_async());
    host.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut buf = [0u8; 16];
    host.recv(&mut buf)
        .context("the first sandbox never said it was up")?;
    let rss_before = crate::bench::rss_kib()?;

    // Count the guests' "up" while they start.
    let counter = host.try_clone()?;
    let ups = std::thread::spawn(move || -> anyhow::Result<Instant> {
        let mut buf = [0u8; 16];
        for _ in 0..count {
            counter
                .recv(&mut buf)
                .context("a sandbox never said it was up")?;
        }
        Ok(Instant::now())
    });
    let started = Instant::now();
    let mut runs = Vec::with_capacity(count);
    let mut linear = 0usize;
    for i in 0..count {
        let (wasi, ctx) = run_one(i)?;
        let sandbox = rt.block_on(pre.instantiate_async(wasi, ctx, runtime.limits().clone()))?;
        linear += sandbox.store().data().limiter().used();
        runs.push(rt.spawn(sandbox.run_async()));
    }
    let all_up = ups
        .join()
        .map_err(|_| anyhow::anyhow!("the counting thread panicked"))??;
    let start_s = all_up.duration_since(started).as_secs_f64();
    // Let the last ones settle into their receive.
    std::thread::sleep(Duration::from_millis(200));
    let rss_kib = (crate::bench::rss_kib()? - rss_before) / count as f64;
    let threads = threads();

    // Wake chosen sandboxes, one at a time, spread over all of them.
    let mut wakes = Vec::new();
    for k in 0..200usize {
        let i = (k * 7919) % count;
        let t = Instant::now();
        host.send_to_addr(b"x", &abstract_addr(&format!("{tag}-{i}"))?)?;
        let n = host
            .recv(&mut buf)
            .context("a woken sandbox did not answer")?;
        wakes.push(t.elapsed().as_secs_f64() * 1e6);
        anyhow::ensure!(
            &buf[..n] == b"x",
            "a woken sandbox answered {:?}",
            &buf[..n]
        );
    }
    wakes.sort_by(f64::total_cmp);

    for i in (0..count).chain([count]) {
        host.send_to_addr(b"q", &abstract_addr(&format!("{tag}-{i}"))?)?;
    }
    for run in runs.into_iter().chain([first]) {
        let status = rt.block_on(run)??;
        anyhow::ensure!(status == 0, "an idle sandbox exited with {status}");
    }
    Ok(Many {
        count,
        pooling,
        workers,
        start_s,
        rss_kib,
        linear_kib: linear as f64 / count as f64 / 1024.0,
        threads,
        wake_median_us: wakes[wakes.len() / 2],
        wake_p99_us: wakes[wakes.len() * 99 / 100],
    })
}
