//! `capsock pair`: two guests wired by a socket pair, for testing a
//! capability-passing protocol in isolation.

use std::path::PathBuf;

use anyhow::Context;
use capsock_host::{native, CapsockCtx, SocketType};
use clap::Args;
use wasmtime_wasi::WasiCtxBuilder;

#[derive(Args)]
pub struct PairArgs {
    /// The socket pair's type: stream, datagram or seqpacket.
    #[arg(long = "type", default_value = "stream", value_parser = parse_type)]
    ty: SocketType,
    /// The first guest; it finds its end of the pair as "peer".
    a: PathBuf,
    /// The second guest; it finds the other end as "peer".
    b: PathBuf,
    /// Compile the components even if compiled copies are cached (as
    /// `capsock run --no-cache`).
    #[arg(long = "no-cache")]
    no_cache: bool,
    #[command(flatten)]
    limits: crate::wasm_opts::LimitArgs,
    /// Arguments for both guests (after `--`).
    #[arg(last = true)]
    args: Vec<String>,
}

fn parse_type(s: &str) -> Result<SocketType, String> {
    match s {
        "stream" => Ok(SocketType::Stream),
        "datagram" | "dgram" => Ok(SocketType::Datagram),
        "seqpacket" => Ok(SocketType::Seqpacket),
        other => Err(format!(
            "unknown socket type {other:?} (stream, datagram or seqpacket)"
        )),
    }
}

/// What one guest's run came to, for the report.
fn outcome(r: anyhow::Result<i32>) -> (i32, String) {
    match r {
        Ok(status) => (status, format!("exit status {status}")),
        Err(e) => {
            let status = crate::error_status(&e);
            (i32::from(status), format!("{e:#} (status {status})"))
        }
    }
}

pub fn pair(args: PairArgs) -> anyhow::Result<i32> {
    crate::fds::settle();
    let before = crate::fds::count()?;
    let results = {
        let runtime = crate::run::runtime(args.limits.limits(), args.no_cache)?;
        let a = runtime.prepare(&runtime.load_file(&args.a)?)?;
        let b = runtime.prepare(&runtime.load_file(&args.b)?)?;
        let (end_a, end_b) = native::socket_pair(args.ty).context("socketpair")?;
        let run = |pre: &capsock_host::SandboxPre, path: &PathBuf, end| {
            let mut wasi = WasiCtxBuilder::new();
            wasi.inherit_stdio();
            wasi.arg(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            wasi.args(&args.args);
            let mut ctx = CapsockCtx::builder();
            ctx.grant("peer", end);
            pre.instantiate(wasi.build(), ctx.build())?.run()
        };
        std::thread::scope(|s| {
            let ta = s.spawn(|| run(&a, &args.a, end_a));
            let tb = s.spawn(|| run(&b, &args.b, end_b));
            let join = |t: std::thread::ScopedJoinHandle<'_, anyhow::Result<i32>>| {
                t.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the guest's thread panicked")))
            };
            [join(ta), join(tb)]
        })
    };
    // Count after the results are gone: a trap's error keeps the guest's
    // code (and wasmtime's memory image of it, an fd) alive.
    let outcomes = results.map(outcome);
    let after = crate::fds::count()?;

    let mut status = 0;
    for (path, (code, text)) in [&args.a, &args.b].into_iter().zip(outcomes) {
        println!("{}: {text}", path.display());
        if status == 0 {
            status = code;
        }
    }
    let equal = before == after;
    println!(
        "host open fds: {before} before, {after} after ({})",
        if equal { "equal" } else { "LEAK" }
    );
    Ok(if status == 0 && !equal { 1 } else { status })
}
