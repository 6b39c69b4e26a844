//! `capsock`: run WebAssembly components with real Unix IPC.

#![deny(unsafe_code)]

mod bench;
mod demo;
mod fds;
mod guests;
mod many;
mod pair;
mod run;
mod wasm_opts;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when capsock itself fails (bad flag value, missing file, not
/// a component, refused connect): like `env(1)` and `docker run`, 125.
const EXIT_CAPSOCK_ERROR: u8 = 125;
/// Exit status for a bad command line (clap's convention).
const EXIT_USAGE: u8 = 2;
/// Exit status when the guest traps (as an abort would: 128 + SIGABRT).
const EXIT_GUEST_TRAP: u8 = 134;
/// Exit status when `-W timeout` stopped the guest (as `timeout(1)` exits).
const EXIT_TIMEOUT: u8 = 124;
/// Exit status when the guest ran out of `-W fuel` (128 + SIGXCPU, the
/// signal for an exhausted CPU-time limit).
const EXIT_OUT_OF_FUEL: u8 = 152;
/// Exit status when a memory or table limit stopped the guest
/// (`-W trap-on-grow-failure`; 128 + SIGXFSZ, the signal for an exceeded
/// size limit).
const EXIT_MEMORY_LIMIT: u8 = 153;
/// Exit status when the guest was stopped by its host (128 + SIGTERM).
const EXIT_STOPPED: u8 = 143;

/// A bad command line found after parsing (exit status 2).
#[derive(Debug)]
pub(crate) struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// The exit status for a run that ended in `e`.
pub(crate) fn error_status(e: &anyhow::Error) -> u8 {
    use capsock_host::{GuestStopped, GuestTrapped, StopReason};
    if let Some(stopped) = e.downcast_ref::<GuestStopped>() {
        return match stopped.reason {
            StopReason::Timeout => EXIT_TIMEOUT,
            StopReason::Fuel => EXIT_OUT_OF_FUEL,
            StopReason::Memory => EXIT_MEMORY_LIMIT,
            _ => EXIT_STOPPED,
        };
    }
    if e.downcast_ref::<GuestTrapped>().is_some() {
        EXIT_GUEST_TRAP
    } else if e.downcast_ref::<Usage>().is_some() {
        EXIT_USAGE
    } else {
        EXIT_CAPSOCK_ERROR
    }
}

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
    // Logs go to stderr (stdout is the guest's), in colour only on a terminal.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Like servers do: the guests share every fd the system lets us have.
    if let Err(e) = capsock_host::native::raise_fd_limit() {
        tracing::debug!(error = %e, "cannot raise RLIMIT_NOFILE");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help, --version; and `capsock` alone, which prints the help
        // (to stderr, status 2) as clap does for a missing subcommand.
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            e.exit()
        }
        Err(e) => {
            eprintln!("capsock: {}", usage_line(&e.to_string()));
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
            if let Some(backtrace) = wasm_backtrace(&e) {
                eprintln!("{backtrace}");
            }
            ExitCode::from(error_status(&e))
        }
    }
}

/// clap's message for a bad command line on one line, as every capsock
/// error is: its first paragraph (the error and what it names, such as a
/// missing argument) and any `tip:` (a similar flag that exists), without
/// the usage and the pointer to `--help` that follow.
fn usage_line(text: &str) -> String {
    let one_line = |p: &str| p.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut paragraphs = text.split("\n\n");
    let first = one_line(paragraphs.next().unwrap_or_default());
    let line = first.strip_prefix("error: ").unwrap_or(&first).to_string();
    let tips: Vec<String> = paragraphs
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|l| l.starts_with("tip: "))
        .map(one_line)
        .collect();
    match tips.is_empty() {
        true => line,
        false => format!("{line} ({})", tips.join("; ")),
    }
}

/// A trapped guest's wasm backtrace, printed after the one-line error
/// only when asked for as Rust's own backtraces are (`RUST_BACKTRACE` set
/// and not `0`).
fn wasm_backtrace(e: &anyhow::Error) -> Option<String> {
    let wanted = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    let trapped = e.downcast_ref::<capsock_host::GuestTrapped>()?;
    wanted.then(|| trapped.wasm_backtrace().map(|b| b.to_string()))?
}
