//! `capsock bench`: what the sandbox costs. Each workload runs natively and
//! through a guest in the same process, interleaved, for several rounds; the
//! table shows medians and the guest/native ratio. Timing happens inside
//! each loop (the guest times itself with the WASI monotonic clock), so
//! instantiation is not counted except in the startup figures.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use capsock_host::native::{self, Messenger};
use capsock_host::{CapsockCtx, HostCalls, Runtime, SandboxPre, SocketType};
use clap::Args;
use serde_json::json;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtxBuilder;

#[derive(Args)]
pub struct BenchArgs {
    /// Rounds of every workload (the table shows medians).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Multiply every iteration count (e.g. 0.1 for a quick look).
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    scale: f64,
    /// Sandboxes alive at once for the density figure.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    sandboxes: u32,
    /// Idle sandboxes alive at once for the many-sandboxes figures (async
    /// host calls, one process), with the pooling allocator off and on.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    async_sandboxes: u32,
    /// Worker threads of the tokio runtime the many sandboxes run on.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    workers: u32,
    /// Run only the many-sandboxes figures.
    #[arg(long, conflicts_with = "only")]
    many_only: bool,
    /// Run only the workloads whose name contains this (no startup or
    /// density figures): for profiling one of them.
    #[arg(long)]
    only: Option<String>,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
}

/// A scale is a finite number above zero, at most 1000.
fn parse_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 1000.0 => Ok(x),
        _ => Err(format!(
            "{s:?} is not a scale (a number above 0, at most 1000)"
        )),
    }
}

/// One workload's figures: per-round values, native and guest.
struct Row {
    name: &'static str,
    unit: &'static str,
    /// For throughput units the ratio is guest/native and higher is better;
    /// for times it is guest/native and lower is better.
    higher_is_better: bool,
    target: &'static str,
    native: Vec<f64>,
    guest: Vec<f64>,
}

impl Row {
    /// Guest over native, of each side's median over the rounds: the
    /// figure the table's two columns give, so the three always agree.
    fn ratio(&self) -> f64 {
        median(&self.guest) / median(&self.native)
    }

    /// Each round's guest/native ratio (each round runs both sides back to
    /// back, so these show how much the machine moved between rounds).
    fn round_ratios(&self) -> Vec<f64> {
        self.guest
            .iter()
            .zip(&self.native)
            .map(|(g, n)| g / n)
            .collect()
    }

    /// The lowest and highest per-round ratio.
    fn spread(&self) -> (f64, f64) {
        self.round_ratios()
            .into_iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
                (lo.min(r), hi.max(r))
            })
    }
}

fn row(
    name: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    target: &'static str,
) -> Row {
    Row {
        name,
        unit,
        higher_is_better,
        target,
        native: Vec::new(),
        guest: Vec::new(),
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs the bench guest with `args` and `grants`; returns the nanoseconds
/// it measured around its loop.
fn guest(pre: &SandboxPre, args: &[String], grants: Vec<(&str, OwnedFd)>) -> anyhow::Result<f64> {
    let stdout = MemoryOutputPipe::new(4096);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone())
        .inherit_stderr()
        .arg("bench")
        .args(args);
    let mut ctx = CapsockCtx::builder();
    for (name, fd) in grants {
        ctx.grant(name, fd);
    }
    let status = pre.instantiate(wasi.build(), ctx.build())?.run()?;
    if status != 0 {
        bail!("bench guest {args:?} exited with {status}");
    }
    let out = String::from_utf8_lossy(&stdout.contents()).into_owned();
    out.lines()
        .find_map(|l| l.strip_prefix("ns=")?.parse().ok())
        .with_context(|| format!("bench guest {args:?} printed no time: {out:?}"))
}

fn args(words: &[&dyn ToString]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn pair(ty: SocketType) -> anyhow::Result<(OwnedFd, OwnedFd)> {
    Ok(native::socket_pair(ty)?)
}

/// Echoes 64-byte messages until the other end closes.
fn echo(sock: OwnedFd) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut m = Messenger::new();
        let mut buf = [0u8; 64];
        while let Ok((n, _, _)) = m.recv(sock.as_fd(), &mut buf, 0) {
            if n == 0 || m.send(sock.as_fd(), &buf[..n], &[]).is_err() {
                break;
            }
        }
    })
}

/// Sends `n` messages of `k` copies of one pipe end each.
fn fd_sender(sock: OwnedFd, n: usize, k: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let (r, _w) = std::io::pipe().expect("pipe");
        let fds = vec![r.as_fd(); k];
        let mut m = Messenger::new();
        for _ in 0..n {
            if m.send(sock.as_fd(), b"x", &fds).is_err() {
                break;
            }
        }
    })
}

fn drain(sock: OwnedFd) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut s = UnixStream::from(sock);
        let mut buf = vec![0u8; 65536];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    })
}

fn fill(sock: OwnedFd, total: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut m = Messenger::new();
        let chunk = vec![5u8; 65536];
        let mut sent = 0;
        while sent < total {
            match m.send(sock.as_fd(), &chunk[..(total - sent).min(chunk.len())], &[]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
    })
}

fn nanos(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// The interleaved workloads: each returns (native, guest) for one round.
struct Workloads<'a> {
    pre: &'a SandboxPre,
    /// The same component on a runtime with async host calls.
    pre_async: &'a SandboxPre,
    scale: f64,
}

impl Workloads<'_> {
    fn n(&self, base: usize) -> usize {
        ((base as f64 * self.scale) as usize).max(1)
    }

    /// The guest's runtime: with async host calls or blocking ones.
    fn pre(&self, calls: HostCalls) -> &SandboxPre {
        match calls {
            HostCalls::Async => self.pre_async,
            _ => self.pre,
        }
    }

    /// ns per send+recv pair on one seqpacket pair, one thread; the guest
    /// runs `workload` (`bridge`: `recv_vec`, `bridge_copy`: `recv(&mut buf)`).
    fn bridge(
        &self,
        workload: &str,
        size: usize,
        base: usize,
        calls: HostCalls,
    ) -> anyhow::Result<(f64, f64)> {
        let n = self.n(base);
        let (a, b) = pair(SocketType::Seqpacket)?;
        let (mut ma, mut mb) = (Messenger::new(), Messenger::new());
        let out = vec![1u8; size];
        let mut back = vec![0u8; size];
        let t = Instant::now();
        for _ in 0..n {
            ma.send(a.as_fd(), &out, &[])?;
            mb.recv(b.as_fd(), &mut back, 0)?;
        }
        let native = nanos(t.elapsed()) / n as f64;
        let guest = guest(self.pre(calls), &args(&[&workload, &size, &n]), vec![])? / n as f64;
        Ok((native, guest))
    }

    /// µs per 64-byte round trip with a native echo thread.
    fn pingpong(&self, calls: HostCalls) -> anyhow::Result<(f64, f64)> {
        let n = self.n(2000);
        let (a, b) = pair(SocketType::Seqpacket)?;
        let echoer = echo(b);
        let mut m = Messenger::new();
        let mut buf = [0u8; 64];
        let t = Instant::now();
        for _ in 0..n {
            m.send(a.as_fd(), &[7u8; 64], &[])?;
            m.recv(a.as_fd(), &mut buf, 0)?;
        }
        let native = nanos(t.elapsed()) / n as f64 / 1e3;
        drop(a);
        echoer.join().ok();
        let (a, b) = pair(SocketType::Seqpacket)?;
        let echoer = echo(b);
        let guest = guest(
            self.pre(calls),
            &args(&[&"pingpong", &n]),
            vec![("peer", a)],
        )?;
        let guest = guest / n as f64 / 1e3;
        echoer.join().ok();
        Ok((native, guest))
    }

    /// fds received per second, `k` per message, from a native sender.
    fn fdrecv(&self, workload: &str, k: usize, base: usize) -> anyhow::Result<(f64, f64)> {
        let n = self.n(base);
        // CMSG_SPACE(k * sizeof(int)) on 64-bit Linux: a 16-byte header,
        // the fds rounded up to 8 bytes.
        let space = 16 + (k * 4).next_multiple_of(8);
        let (a, b) = pair(SocketType::Seqpacket)?;
        let sender = fd_sender(b, n, k);
        let mut m = Messenger::new();
        let mut buf = [0u8; 16];
        let t = Instant::now();
        for _ in 0..n {
            let (_, fds, _) = m.recv(a.as_fd(), &mut buf, space)?;
            if fds.len() != k {
                bail!("native receiver got {} fds, not {k}", fds.len());
            }
        }
        let native = (n * k) as f64 / t.elapsed().as_secs_f64();
        sender.join().ok();
        let (a, b) = pair(SocketType::Seqpacket)?;
        let sender = fd_sender(b, n, k);
        let ns = guest(self.pre, &args(&[&workload, &n, &k]), vec![("peer", a)])?;
        sender.join().ok();
        Ok((native, (n * k) as f64 / (ns / 1e9)))
    }

    /// MB/s of 64 KiB writes, guest → native.
    fn bulk_send(&self) -> anyhow::Result<(f64, f64)> {
        let total = self.n(256 << 20);
        let (a, b) = pair(SocketType::Stream)?;
        let reader = drain(b);
        let mut m = Messenger::new();
        let chunk = vec![3u8; 65536];
        let t = Instant::now();
        let mut sent = 0;
        while sent < total {
            sent += m.send(a.as_fd(), &chunk[..(total - sent).min(chunk.len())], &[])?;
        }
        let native = total as f64 / t.elapsed().as_secs_f64() / 1e6;
        drop(a);
        reader.join().ok();
        let (a, b) = pair(SocketType::Stream)?;
        let reader = drain(b);
        let ns = guest(self.pre, &args(&[&"bulk_send", &total]), vec![("peer", a)])?;
        reader.join().ok();
        Ok((native, total as f64 / (ns / 1e9) / 1e6))
    }

    /// MB/s of reads from a native 64 KiB writer, native → guest.
    fn bulk_recv(&self) -> anyhow::Result<(f64, f64)> {
        let total = self.n(256 << 20);
        let (a, b) = pair(SocketType::Stream)?;
        let writer = fill(b, total);
        let mut m = Messenger::new();
        let mut buf = vec![0u8; 65536];
        let t = Instant::now();
        let mut got = 0;
        while got < total {
            let (n, _, _) = m.recv(a.as_fd(), &mut buf, 0)?;
            if n == 0 {
                bail!("native reader: early end of stream");
            }
            got += n;
        }
        let native = total as f64 / t.elapsed().as_secs_f64() / 1e6;
        writer.join().ok();
        let (a, b) = pair(SocketType::Stream)?;
        let writer = fill(b, total);
        let ns = guest(self.pre, &args(&[&"bulk_recv", &total]), vec![("peer", a)])?;
        writer.join().ok();
        Ok((native, total as f64 / (ns / 1e9) / 1e6))
    }
}

/// Startup figures, in milliseconds.
struct Startup {
    compile_ms: f64,
    cache_load_ms: f64,
    instantiate_us: f64,
    run_warm_ms: f64,
}

fn startup(rounds: usize) -> anyhow::Result<Startup> {
    let bytes = crate::guests::bench()?;
    let plain = Runtime::new()?;
    let mut compile = Vec::new();
    for _ in 0..rounds.clamp(1, 3) {
        let t = Instant::now();
        plain.load_bytes(bytes)?;
        compile.push(t.elapsed().as_secs_f64() * 1e3);
    }

    let cache = tempfile::tempdir()?;
    let cached = Runtime::with_cache_dir(cache.path())?;
    cached.load_bytes(bytes)?; // fills the cache
    let mut load = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        cached.load_bytes(bytes)?;
        load.push(t.elapsed().as_secs_f64() * 1e3);
    }

    let pre = plain.prepare(&plain.load_bytes(bytes)?)?;
    let mut inst = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let sandbox =
            pre.instantiate(WasiCtxBuilder::new().build(), CapsockCtx::builder().build())?;
        inst.push(t.elapsed().as_secs_f64() * 1e6);
        drop(sandbox);
    }

    // `capsock run` of the bench guest doing nothing, with a warm cache.
    let wasm = cache.path().join("bench.wasm");
    std::fs::write(&wasm, bytes)?;
    let exe = std::env::current_exe()?;
    let run = || -> anyhow::Result<f64> {
        let t = Instant::now();
        let status = std::process::Command::new(&exe)
            .arg("run")
            .arg(&wasm)
            .arg("noop")
            .env("CAPSOCK_CACHE_DIR", cache.path())
            .stdout(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            bail!("capsock run exited with {status}");
        }
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    run()?; // warms the cache for the binary's own engine settings
    let mut runs = Vec::new();
    for _ in 0..10 {
        runs.push(run()?);
    }
    Ok(Startup {
        compile_ms: median(&compile),
        cache_load_ms: median(&load),
        instantiate_us: median(&inst),
        run_warm_ms: median(&runs),
    })
}

pub(crate) fn rss_kib() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .context("no VmRSS in /proc/self/status")
}

/// Host RSS per idle sandbox (MiB): `count` guests alive at once, each
/// blocked in a receive on its own thread.
fn density(pre: &SandboxPre, count: usize) -> anyhow::Result<f64> {
    // One sandbox first, so one-time costs are not counted per sandbox.
    density_round(pre, 1)?;
    let before = rss_kib()?;
    let after = density_round(pre, count)?;
    Ok((after - before) / count as f64 / 1024.0)
}

/// Starts `count` idle guests, returns the RSS once all are up, then ends them.
fn density_round(pre: &SandboxPre, count: usize) -> anyhow::Result<f64> {
    let mut ends = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..count {
        let (host_end, guest_end) = pair(SocketType::Stream)?;
        let pre = pre.clone();
        threads.push(std::thread::spawn(move || {
            guest(&pre, &args(&[&"idle"]), vec![("peer", guest_end)])
        }));
        ends.push(UnixStream::from(host_end));
    }
    for end in &mut ends {
        let mut up = [0u8; 2];
        end.read_exact(&mut up)
            .context("an idle guest did not start")?;
    }
    let rss = rss_kib()?;
    for end in &mut ends {
        end.write_all(b"x").ok();
    }
    drop(ends);
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("an idle guest's thread panicked"))??;
    }
    Ok(rss)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split(':')
                    .nth(1)
                    .map(|s| s.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores, Linux {}", kernel.trim())
}

/// The many-sandboxes figures, pooling off then on.
fn many(a: &BenchArgs) -> anyhow::Result<Vec<crate::many::Many>> {
    [false, true]
        .into_iter()
        .map(|pooling| {
            let n = a.async_sandboxes as usize;
            crate::many::many(crate::guests::bench()?, n, pooling, a.workers as usize)
        })
        .collect()
}

fn print_many(figures: &[crate::many::Many]) {
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    for m in figures {
        println!(
            "{} idle sandboxes, async host calls, {} worker threads, pooling allocator {}:",
            m.count,
            m.workers,
            if m.pooling { "on" } else { "off" }
        );
        println!(
            "         started (instantiated, each waiting in a receive) in {:.2} s ({:.0} µs each)",
            m.start_s,
            m.start_s * 1e6 / m.count as f64
        );
        println!(
            "         host RSS {:.0} KiB per sandbox, its linear memory included (of {:.0} KiB of \
             memory and tables per guest, the pages it touched); target ≤ 256 KiB beyond linear \
             memory: {}",
            m.rss_kib,
            m.linear_kib,
            if m.rss_kib <= 256.0 {
                "met".to_string()
            } else {
                "not shown (the total is above 256 KiB)".to_string()
            }
        );
        println!(
            "         OS threads: {} (target ≤ 16: {})",
            m.threads,
            verdict(m.threads <= 16)
        );
        println!(
            "         wake-up of one chosen sandbox: median {:.0} µs, p99 {:.0} µs",
            m.wake_median_us, m.wake_p99_us
        );
    }
}

fn many_json(figures: &[crate::many::Many]) -> serde_json::Value {
    figures
        .iter()
        .map(|m| {
            json!({
                "sandboxes": m.count, "pooling": m.pooling, "workers": m.workers,
                "start_s": m.start_s, "rss_kib_per_sandbox": m.rss_kib,
                "linear_kib_per_sandbox": m.linear_kib, "threads": m.threads,
                "wake_median_us": m.wake_median_us, "wake_p99_us": m.wake_p99_us,
            })
        })
        .collect()
}

pub fn bench(a: BenchArgs) -> anyhow::Result<i32> {
    if a.many_only {
        let figures = many(&a)?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&many_json(&figures))?);
        } else {
            println!("capsock bench --many-only, on {}", machine());
            print_many(&figures);
        }
        return Ok(0);
    }
    let runtime = Runtime::new()?;
    let pre = runtime.prepare(&runtime.load_bytes(crate::guests::bench()?)?)?;
    let runtime_async = Runtime::with_engine_and(
        runtime.engine().clone(),
        runtime.limits().clone(),
        HostCalls::Async,
    )?;
    let pre_async = runtime_async.prepare(&runtime_async.load_bytes(crate::guests::bench()?)?)?;
    let w = Workloads {
        pre: &pre,
        pre_async: &pre_async,
        scale: a.scale,
    };
    type Run<'w> = Box<dyn Fn() -> anyhow::Result<(f64, f64)> + 'w>;
    let (time, rate) = (false, true);
    let mut table: Vec<(Row, Run<'_>)> = vec![
        (
            row("bridge cost, 64 B", "ns/pair", time, "≤ 1.10"),
            Box::new(|| w.bridge("bridge", 64, 20_000, HostCalls::Blocking)),
        ),
        (
            row("bridge, 64 B, async calls", "ns/pair", time, "-"),
            Box::new(|| w.bridge("bridge", 64, 20_000, HostCalls::Async)),
        ),
        (
            row("bridge cost, 64 KiB", "ns/pair", time, "≤ 1.05"),
            Box::new(|| w.bridge("bridge", 65536, 4_000, HostCalls::Blocking)),
        ),
        (
            row("bridge, 64 KiB, recv(&mut)", "ns/pair", time, "≤ 1.10"),
            Box::new(|| w.bridge("bridge_copy", 65536, 4_000, HostCalls::Blocking)),
        ),
        (
            row("ping-pong, 64 B", "µs/round trip", time, "≤ 1.10"),
            Box::new(|| w.pingpong(HostCalls::Blocking)),
        ),
        (
            row("ping-pong, 64 B, async calls", "µs/round trip", time, "-"),
            Box::new(|| w.pingpong(HostCalls::Async)),
        ),
        (
            row("fd passing, 1 fd/msg", "fds/s", rate, "≥ 0.85"),
            Box::new(|| w.fdrecv("fdrecv", 1, 5_000)),
        ),
        (
            row("fd passing, 1 fd/msg, recv_msg", "fds/s", rate, "-"),
            Box::new(|| w.fdrecv("fdrecv_msg", 1, 5_000)),
        ),
        (
            row("fd passing, 253 fds/msg", "fds/s", rate, "≥ 0.85"),
            Box::new(|| w.fdrecv("fdrecv", 253, 100)),
        ),
        (
            row("bulk guest → native", "MB/s", rate, "≥ 0.80"),
            Box::new(|| w.bulk_send()),
        ),
        (
            row("bulk native → guest", "MB/s", rate, "≥ 0.80"),
            Box::new(|| w.bulk_recv()),
        ),
    ];
    let selected = |name: &str| a.only.as_deref().is_none_or(|o| name.contains(o));
    if !table.iter().any(|(row, _)| selected(row.name)) {
        let names: Vec<&str> = table.iter().map(|(row, _)| row.name).collect();
        return Err(crate::Usage(format!(
            "--only {:?} names no workload (they are: {})",
            a.only.as_deref().unwrap_or_default(),
            names.join("; ")
        ))
        .into());
    }
    if !a.json {
        println!(
            "capsock bench: {} rounds, scale {}, on {}",
            a.rounds,
            a.scale,
            machine()
        );
    }
    for round in 0..a.rounds {
        for (row, run) in &mut table {
            if selected(row.name) {
                let (native, guest) = run()?;
                row.native.push(native);
                row.guest.push(guest);
            }
        }
        if !a.json {
            eprint!("\rround {}/{} done", round + 1, a.rounds);
        }
    }
    if !a.json {
        eprintln!();
    }
    let rows: Vec<Row> = table
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| selected(r.name))
        .collect();
    if a.only.is_some() && !a.json {
        for r in &rows {
            let (lo, hi) = r.spread();
            println!(
                "{}: native {} guest {} {} (ratio {:.2}, rounds {lo:.2}–{hi:.2})",
                r.name,
                fmt(median(&r.native)),
                fmt(median(&r.guest)),
                r.unit,
                r.ratio()
            );
        }
        return Ok(0);
    }
    // Startup and density only in a full run.
    let extra = match a.only {
        None => Some((
            startup(a.rounds as usize)?,
            density(&pre, a.sandboxes as usize)?,
            many(&a)?,
        )),
        Some(_) => None,
    };

    if a.json {
        let workloads: Vec<_> = rows
            .iter()
            .map(|r| {
                let (lo, hi) = r.spread();
                json!({
                    "workload": r.name, "unit": r.unit,
                    "native_median": median(&r.native), "guest_median": median(&r.guest),
                    "ratio": r.ratio(), "round_ratios": r.round_ratios(),
                    "ratio_min": lo, "ratio_max": hi, "target": r.target,
                    "higher_is_better": r.higher_is_better,
                    "native": r.native, "guest": r.guest,
                })
            })
            .collect();
        let out = json!({
            "machine": machine(), "rounds": a.rounds, "scale": a.scale, "workloads": workloads,
            "many": extra.as_ref().map(|(_, _, m)| many_json(m)),
            "startup": extra.as_ref().map(|(s, _, _)| json!({
                "compile_ms": s.compile_ms, "cache_load_ms": s.cache_load_ms,
                "instantiate_us": s.instantiate_us, "run_warm_ms": s.run_warm_ms,
            })),
            "density": extra.as_ref().map(|(_, mib, _)| json!({"sandboxes": a.sandboxes, "rss_mib_per_sandbox": mib})),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    let Some((s, mib, many_figures)) = extra else {
        unreachable!("--only without --json returned above")
    };
    println!();
    println!(
        "native, guest: each side's median over the {} rounds; ratio: guest / native of those \
         medians; rounds: the lowest and highest ratio within one round (both sides run back \
         to back in each).",
        a.rounds
    );
    println!(
        "{:<28} {:>14} {:>14} {:>14} {:>7} {:>11}  target",
        "workload", "native", "guest", "unit", "ratio", "rounds"
    );
    for r in &rows {
        let (n, g) = (median(&r.native), median(&r.guest));
        let ratio = r.ratio();
        let (lo, hi) = r.spread();
        let target = target_value(r.target);
        let verdict = if target.is_nan() {
            "(for reference)"
        } else if (r.higher_is_better && ratio >= target)
            || (!r.higher_is_better && ratio <= target)
        {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "{:<28} {:>14} {:>14} {:>14} {:>7.2} {:>11}  {} {}",
            r.name,
            fmt(n),
            fmt(g),
            r.unit,
            ratio,
            format!("{lo:.2}–{hi:.2}"),
            r.target,
            verdict
        );
    }
    println!();
    println!("startup: compile {:.1} ms, load from disk cache {:.2} ms, instantiate (pre-instantiated) {:.0} µs", s.compile_ms, s.cache_load_ms, s.instantiate_us);
    println!(
        "         `capsock run` of a small guest, warm cache: {:.1} ms wall (target ≤ 50 ms: {})",
        s.run_warm_ms,
        if s.run_warm_ms <= 50.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "         instantiate target ≤ 1 ms: {}",
        if s.instantiate_us <= 1000.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "density: {:.2} MiB host RSS per idle sandbox, {} alive (target ≤ 4 MiB: {})",
        mib,
        a.sandboxes,
        if mib <= 4.0 { "met" } else { "MISSED" }
    );
    print_many(&many_figures);
    Ok(0)
}

fn target_value(t: &str) -> f64 {
    t.trim_start_matches(['≤', '≥', ' '])
        .parse()
        .unwrap_or(f64::NAN)
}

fn fmt(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2e}", v)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
