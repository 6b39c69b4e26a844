//! `capsock`: run WebAssembly components with real Unix IPC.

#![deny(unsafe_code)]

mod bench;
mod demo;
mod pair;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when capsock itself fails (bad flag value, missing file, not
/// a component, refused connect): like `env(1)` and `docker run`, 125.
const EXIT_CAPSOCK_ERROR: u8 = 125;
/// Exit status for a bad command line (clap's convention).
const EXIT_USAGE: u8 = 2;
/// Exit status when the guest traps (as an abort would: 128 + SIGABRT).
const EXIT_GUEST_TRAP: u8 = 134;

#[derive(Parser)]
#[command(
    name = "capsock",
    version,
    about = "Run WebAssembly components with real Unix IPC: sendmsg/recvmsg, fd passing (SCM_RIGHTS), credentials"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a wasm32-wasip2 component (world capsock:sockets/sandbox); exits with its status.
    Run(run::RunArgs),
    /// A native broker hands two open files to a sandboxed plugin, which reports on them.
    Demo,
    /// Measure what the sandbox costs against native sendmsg/recvmsg.
    Bench(bench::BenchArgs),
    /// Run two components wired by a socket pair (each finds its end as "peer").
    Pair(pair::PairArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    // Like servers do: the guests share every fd the system lets us have.
    if let Err(e) = capsock_host::native::raise_fd_limit() {
        tracing::debug!(error = %e, "cannot raise RLIMIT_NOFILE");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // One line, like every other capsock error; --help has the rest.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!(
                "capsock: {}",
                first.strip_prefix("error: ").unwrap_or(first)
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Demo => demo::demo(),
        Command::Bench(args) => bench::bench(args),
        Command::Pair(args) => pair::pair(args),
    };
    match result {
        Ok(status) => ExitCode::from(status as u8),
        Err(e) => {
            eprintln!("capsock: {e:#}");
            if e.downcast_ref::<capsock_host::GuestTrapped>().is_some() {
                ExitCode::from(EXIT_GUEST_TRAP)
            } else {
                ExitCode::from(EXIT_CAPSOCK_ERROR)
            }
        }
    }
}
