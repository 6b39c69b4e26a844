//! A ready-made runner for `sandbox`-world components: one [`Engine`] and
//! [`Linker`] (WASI 0.2 + capsock), many runs, each under
//! [`SandboxLimits`]. The CLI, the demo and the tests use it; an embedder
//! with its own store data uses [`crate::add_to_linker_sync`] instead.
//!
//! Runs are asynchronous inside (wasmtime-wasi's async bindings, on its
//! tokio runtime, which is started before the first guest runs) so that a
//! time limit can cancel a guest waiting in any WASI call; capsock's own
//! host calls are interrupted as [`crate::Interrupt`] describes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::p2::bindings::{Command, CommandPre};
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::ctx::{CapsockCtx, CapsockCtxView, CapsockView};
mod cache;
pub mod limits;

use crate::interrupt::Interrupt;
use limits::{Deadline, GuestStopped, SandboxLimiter, SandboxLimits, StopReason, Stopped};

/// The store data of one sandbox: WASI, capsock, their shared table, and
/// the memory limiter.
pub struct SandboxState {
    wasi: WasiCtx,
    capsock: CapsockCtx,
    table: ResourceTable,
    limiter: SandboxLimiter,
}

impl SandboxState {
    /// State for one run, with [`SandboxLimits::default`]'s memory limits.
    pub fn new(wasi: WasiCtx, capsock: CapsockCtx) -> SandboxState {
        SandboxState::with_limits(wasi, capsock, &SandboxLimits::default())
    }

    /// State for one run under `limits`.
    pub fn with_limits(wasi: WasiCtx, capsock: CapsockCtx, limits: &SandboxLimits) -> SandboxState {
        SandboxState {
            wasi,
            capsock,
            table: ResourceTable::new(),
            limiter: limits.limiter(),
        }
    }

    /// capsock's state, e.g. to read how many handles the guest holds.
    pub fn capsock_ctx(&self) -> &CapsockCtx {
        &self.capsock
    }

    /// The memory limiter: what the guest holds and what was refused.
    pub fn limiter(&self) -> &SandboxLimiter {
        &self.limiter
    }

    /// The memory limiter, for an embedder's own store:
    /// `store.limiter(|s| s.limiter_mut())`.
    pub fn limiter_mut(&mut self) -> &mut SandboxLimiter {
        &mut self.limiter
    }
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl CapsockView for SandboxState {
    fn capsock(&mut self) -> CapsockCtxView<'_> {
        CapsockCtxView {
            ctx: &mut self.capsock,
            table: &mut self.table,
        }
    }
}

/// The error [`Runtime::run`] returns when the guest trapped (as opposed to
/// failing to load or instantiate, or being stopped by a limit:
/// [`GuestStopped`]). Its `Display` is one line, the cause; where the
/// guest was is [`wasm_backtrace`](GuestTrapped::wasm_backtrace), and
/// the whole error, backtrace included, is [`error`](GuestTrapped::error)
/// (`{:?}` of this value shows it too).
#[derive(Debug)]
pub struct GuestTrapped {
    /// The trap.
    pub error: wasmtime::Error,
    /// What a sandbox limit refused before the trap, if anything: an
    /// allocator that cannot grow its memory aborts the guest.
    pub after_refusal: Option<String>,
}

impl GuestTrapped {
    /// The guest's wasm stack when it trapped, if wasmtime recorded it
    /// (it does unless `Config::wasm_backtrace(false)`).
    pub fn wasm_backtrace(&self) -> Option<&wasmtime::WasmBacktrace> {
        self.error.downcast_ref::<wasmtime::WasmBacktrace>()
    }

    /// What went wrong, on one line: the error's chain without the wasm
    /// backtrace (see [`wasm_backtrace`](Self::wasm_backtrace)), innermost
    /// cause last.
    fn cause(&self) -> String {
        let backtrace = self.wasm_backtrace().map(|b| b.to_string());
        let parts: Vec<String> = self
            .error
            .chain()
            .map(|e| e.to_string())
            .filter(|e| Some(e) != backtrace.as_ref())
            .collect();
        parts
            .join(": ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One line: "the guest trapped: CAUSE". The wasm backtrace is not part of
/// it; [`GuestTrapped::wasm_backtrace`] has it.
impl std::fmt::Display for GuestTrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.after_refusal {
            Some(why) => write!(
                f,
                "the guest trapped after a sandbox limit refused {why}: {}",
                self.cause()
            ),
            None => write!(f, "the guest trapped: {}", self.cause()),
        }
    }
}

impl std::error::Error for GuestTrapped {}

/// Compiles and runs `sandbox`-world components.
pub struct Runtime {
    engine: Engine,
    linker: Linker<SandboxState>,
    limits: SandboxLimits,
    cache: Option<cache::CompileCache>,
}

/// Where a [`Runtime`]'s guests wait in capsock's calls that wait (`recv`,
/// `accept`, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostCalls {
    /// In the system call, on the thread that runs the guest
    /// ([`crate::add_to_linker_sync`]): one thread per running sandbox.
    #[default]
    Blocking,
    /// On the tokio reactor ([`crate::add_to_linker_async`]): a sandbox
    /// waiting for a socket holds no thread. Run sandboxes with
    /// [`Sandbox::run_async`] on a tokio runtime.
    Async,
}

/// Builds a [`Runtime`]: its limits and its compile cache.
#[derive(Default)]
pub struct RuntimeBuilder {
    limits: SandboxLimits,
    cache_dir: Option<PathBuf>,
    pooling: Option<PoolingAllocationConfig>,
    calls: HostCalls,
}

impl RuntimeBuilder {
    /// The limits every sandbox of the runtime runs under (default:
    /// [`SandboxLimits::default`]).
    pub fn limits(mut self, limits: SandboxLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Keep compiled components in `dir` (an absolute path), keyed by the
    /// component's content and the engine's settings: a component compiled
    /// once loads from disk afterwards. The directory is created private
    /// (0700); one that others can write to, or that belongs to someone
    /// else, is refused, since the cache holds native code that is run.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Allocate instances from wasmtime's pooling allocator, configured by
    /// `pool` (its limits bound how many sandboxes can live at once, and
    /// their memories and tables), instead of on demand. Instantiation is
    /// then faster and memory is reserved up front; see
    /// [`PoolingAllocationConfig`].
    pub fn pooling_allocator(mut self, pool: PoolingAllocationConfig) -> Self {
        self.pooling = Some(pool);
        self
    }

    /// Where guests wait in capsock's calls that wait (default: blocking
    /// their thread).
    pub fn host_calls(mut self, calls: HostCalls) -> Self {
        self.calls = calls;
        self
    }

    /// The runtime.
    pub fn build(self) -> anyhow::Result<Runtime> {
        let mut config = Runtime::config();
        self.limits.configure_engine(&mut config);
        if let Some(pool) = self.pooling {
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        let cache = self
            .cache_dir
            .map(|dir| cache::CompileCache::new(&dir, &engine))
            .transpose()?;
        let mut runtime = Runtime::assemble(engine, self.limits, self.calls)?;
        runtime.cache = cache;
        Ok(runtime)
    }
}

/// Magic and version of a WebAssembly component (layer 1) binary.
const COMPONENT_HEADER: [u8; 8] = *b"\0asm\x0d\0\x01\0";
/// Magic and version of a core WebAssembly module.
const MODULE_HEADER: [u8; 8] = *b"\0asm\x01\0\0\0";

/// The largest component file [`Runtime::load_file`] reads.
pub const MAX_COMPONENT_FILE: u64 = 512 << 20;

impl Runtime {
    /// A runtime with capsock's engine settings ([`Runtime::config`]), the
    /// default limits and no on-disk cache.
    pub fn new() -> anyhow::Result<Runtime> {
        Runtime::builder().build()
    }

    /// A builder for a runtime with other limits or a compile cache.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The engine settings capsock runs guests with, before the limits'
    /// own ([`SandboxLimits::configure_engine`]). Component-model
    /// concurrency is off: capsock's bindings are synchronous, and without
    /// it wasmtime skips creating and deleting a task on every host call
    /// (about 1,500 instructions per `send-msg` + `recv-msg` pair, measured
    /// with callgrind).
    pub fn config() -> Config {
        let mut config = Config::new();
        config.concurrency_support(false);
        config
    }

    /// A runtime with a compile cache in `dir` (see
    /// [`RuntimeBuilder::cache_dir`]) and the default limits.
    pub fn with_cache_dir(dir: &Path) -> anyhow::Result<Runtime> {
        Runtime::builder().cache_dir(dir).build()
    }

    /// Where `capsock run` keeps compiled components: `$CAPSOCK_CACHE_DIR`,
    /// else `$XDG_CACHE_HOME/capsock`, else `$HOME/.cache/capsock`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        let abs = |p: PathBuf| p.is_absolute().then_some(p);
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("CAPSOCK_CACHE_DIR")
            .and_then(abs)
            .or_else(|| {
                var("XDG_CACHE_HOME")
                    .and_then(abs)
                    .map(|d| d.join("capsock"))
            })
            .or_else(|| var("HOME").and_then(abs).map(|d| d.join(".cache/capsock")))
    }

    /// A runtime on the embedder's engine (its pooling allocator, fuel,
    /// epoch interruption, ...), with the default limits and blocking
    /// host calls. For a time limit that stops wasm code, the engine needs
    /// epoch interruption; for [`SandboxLimits::fuel`], fuel consumption
    /// ([`SandboxLimits::configure_engine`]). On an engine that consumes
    /// fuel, a sandbox without a fuel limit gets all it can hold.
    pub fn with_engine(engine: Engine) -> anyhow::Result<Runtime> {
        Runtime::with_engine_and(engine, SandboxLimits::default(), HostCalls::Blocking)
    }

    /// [`Runtime::with_engine`] with `limits` and `calls`.
    pub fn with_engine_and(
        engine: Engine,
        limits: SandboxLimits,
        calls: HostCalls,
    ) -> anyhow::Result<Runtime> {
        Runtime::assemble(engine, limits, calls)
    }

    fn assemble(
        engine: Engine,
        limits: SandboxLimits,
        calls: HostCalls,
    ) -> anyhow::Result<Runtime> {
        // wasmtime-wasi starts its tokio runtime on first use, and panics
        // if it cannot (no fd left for its epoll instance): start it now,
        // before any guest can use up the fd table.
        crate::native::settle_process_fds();
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        match calls {
            HostCalls::Blocking => crate::add_to_linker_sync(&mut linker)?,
            HostCalls::Async => crate::add_to_linker_async(&mut linker)?,
        }
        Ok(Runtime {
            engine,
            linker,
            limits,
            cache: None,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker (WASI 0.2, asynchronous, + capsock).
    pub fn linker(&self) -> &Linker<SandboxState> {
        &self.linker
    }

    /// The limits sandboxes run under.
    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// Reads and compiles a component file, with a one-line error for a
    /// missing file, one that is not a regular file (a FIFO, a device), one
    /// larger than 512 MiB (`MAX_COMPONENT_FILE`), a core module, or anything else
    /// that is not a component. With a compile cache, an unchanged file
    /// that was loaded before is not even read (see
    /// [`RuntimeBuilder::cache_dir`]).
    pub fn load_file(&self, path: &Path) -> anyhow::Result<Component> {
        let pointer = self
            .cache
            .as_ref()
            .and_then(|c| Some((c, c.pointer(path)?)));
        if let Some((cache, pointer)) = &pointer {
            if let Some(component) = cache.load_pointer(&self.engine, pointer) {
                return Ok(component);
            }
        }
        let bytes = crate::native::read_regular_file(path, MAX_COMPONENT_FILE)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let component = self
            .load_bytes(&bytes)
            .with_context(|| format!("cannot load {}", path.display()))?;
        if let Some((cache, pointer)) = &pointer {
            cache.point(pointer, &bytes);
        }
        Ok(component)
    }

    /// Compiles a component from its binary (or loads it from the cache).
    pub fn load_bytes(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        match bytes.get(..8) {
            Some(h) if h == COMPONENT_HEADER => {}
            Some(h) if h == MODULE_HEADER => {
                bail!("a core WebAssembly module, not a component (build for wasm32-wasip2)")
            }
            _ => bail!("not a WebAssembly component"),
        }
        match &self.cache {
            Some(cache) => cache.load(&self.engine, bytes),
            None => Component::new(&self.engine, bytes).map_err(anyhow::Error::from),
        }
    }

    /// Resolves every import of a command component once; the result
    /// instantiates quickly, as often as needed.
    pub fn prepare(&self, component: &Component) -> anyhow::Result<SandboxPre> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .and_then(CommandPre::new)
            .map_err(anyhow::Error::from)
            .context("cannot instantiate the component")?;
        Ok(SandboxPre {
            pre,
            limits: self.limits.clone(),
        })
    }

    /// Runs a command component to completion and returns its exit status.
    /// A trap is a [`GuestTrapped`] error, a limit a [`GuestStopped`]; the
    /// store (and every fd the guest held) is gone when this returns.
    pub fn run(
        &self,
        component: &Component,
        wasi: WasiCtx,
        capsock: CapsockCtx,
    ) -> anyhow::Result<i32> {
        self.prepare(component)?.instantiate(wasi, capsock)?.run()
    }
}

/// A command component with its imports resolved ([`Runtime::prepare`]).
#[derive(Clone)]
pub struct SandboxPre {
    pre: CommandPre<SandboxState>,
    limits: SandboxLimits,
}

impl SandboxPre {
    /// A new instance with its own store, not started yet, under the
    /// runtime's limits.
    pub fn instantiate(&self, wasi: WasiCtx, capsock: CapsockCtx) -> anyhow::Result<Sandbox> {
        self.instantiate_with(wasi, capsock, self.limits.clone())
    }

    /// A new instance under `limits` (their engine settings must be the
    /// runtime's: fuel only if the runtime has fuel on).
    pub fn instantiate_with(
        &self,
        wasi: WasiCtx,
        capsock: CapsockCtx,
        limits: SandboxLimits,
    ) -> anyhow::Result<Sandbox> {
        wasmtime_wasi::runtime::in_tokio(self.instantiate_async(wasi, capsock, limits))
    }

    /// [`SandboxPre::instantiate_with`] for async embedders (it does not
    /// block the thread).
    pub async fn instantiate_async(
        &self,
        wasi: WasiCtx,
        capsock: CapsockCtx,
        limits: SandboxLimits,
    ) -> anyhow::Result<Sandbox> {
        let interrupt = capsock.interrupt().clone();
        let state = SandboxState::with_limits(wasi, capsock, &limits);
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limiter);
        limits
            .configure_store(&mut store, &interrupt)
            .map_err(anyhow::Error::from)
            .context("cannot apply the sandbox's limits")?;
        let command = (self.pre.instantiate_async(&mut store).await)
            .map_err(|e| instantiation_error(e, &store))?;
        Ok(Sandbox {
            store,
            command,
            limits,
            interrupt,
        })
    }
}

fn instantiation_error(e: wasmtime::Error, store: &Store<SandboxState>) -> anyhow::Error {
    let e = anyhow::Error::from(e);
    match store.data().limiter.refused() {
        Some(why) => e.context(format!("a sandbox limit refused {why}")),
        None => e,
    }
    .context("cannot instantiate the component")
}

/// One instantiated guest: its store and its command export.
pub struct Sandbox {
    store: Store<SandboxState>,
    command: Command,
    limits: SandboxLimits,
    interrupt: Interrupt,
}

impl Sandbox {
    /// Its stop switch: another thread may [`Interrupt::stop`] the run;
    /// [`Sandbox::stop_handle`] also reaches wasm code.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// A handle that stops this sandbox from another thread, wherever the
    /// guest is: in wasm code, in a WASI wait or in a capsock host call.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            interrupt: self.interrupt.clone(),
            engine: self.store.engine().clone(),
        }
    }

    /// The store: for what [`SandboxLimits`] does not cover (adding fuel,
    /// moving the epoch deadline, reading [`SandboxState`]).
    pub fn store(&self) -> &Store<SandboxState> {
        &self.store
    }

    /// The store, mutably (see [`Sandbox::store`]).
    pub fn store_mut(&mut self) -> &mut Store<SandboxState> {
        &mut self.store
    }

    /// Runs `main` to completion and returns the exit status; the store,
    /// and every fd the guest held, are dropped when this returns. A limit
    /// that stops the guest is a [`GuestStopped`] error, a trap a
    /// [`GuestTrapped`].
    pub fn run(self) -> anyhow::Result<i32> {
        wasmtime_wasi::runtime::in_tokio(self.run_async())
    }

    /// [`Sandbox::run`] for async embedders, inside a tokio runtime: with
    /// [`HostCalls::Async`], a guest waiting for a socket holds no thread.
    pub async fn run_async(mut self) -> anyhow::Result<i32> {
        let _deadline = self
            .limits
            .timeout
            .map(|t| Deadline::start(t, &self.interrupt, self.store.engine()));
        let started = Instant::now();
        let (store, command, interrupt) = (&mut self.store, &self.command, &self.interrupt);
        let outcome = tokio::select! {
            r = command.wasi_cli_run().call_run(&mut *store) => Some(r),
            // A WASI wait cannot see the interrupt: drop the run.
            () = interrupt.stopped() => None,
        };
        tracing::debug!(elapsed = ?started.elapsed(), "guest finished");
        let refused = self.store.data().limiter.refused();
        let stopped = |reason| GuestStopped::new(reason, &self.limits, refused).into();
        match outcome {
            Some(Ok(Ok(()))) => Ok(0),
            Some(Ok(Err(()))) => Ok(1),
            Some(Err(e)) => {
                if let Some(exit) = e.downcast_ref::<I32Exit>() {
                    return Ok(exit.0);
                }
                if let Some(&Stopped(reason)) = e.downcast_ref::<Stopped>() {
                    return Err(stopped(reason));
                }
                if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::OutOfFuel) {
                    return Err(stopped(StopReason::Fuel));
                }
                if let Some(reason) = self.interrupt.reason() {
                    return Err(stopped(reason));
                }
                Err(GuestTrapped {
                    error: e,
                    after_refusal: refused.map(str::to_string),
                }
                .into())
            }
            None => Err(stopped(
                self.interrupt.reason().unwrap_or(StopReason::Interrupted),
            )),
        }
    }
}

/// Stops a [`Sandbox`] from another thread ([`Sandbox::stop_handle`]).
#[derive(Clone)]
pub struct StopHandle {
    interrupt: Interrupt,
    engine: Engine,
}

impl StopHandle {
    /// Stops the sandbox: it ends with [`GuestStopped`] and
    /// [`StopReason::Interrupted`] (unless it stopped for another reason
    /// first).
    pub fn stop(&self) {
        limits::stop_on(&self.interrupt, &self.engine, StopReason::Interrupted);
    }
}
