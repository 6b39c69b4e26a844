//! A ready-made runner for `sandbox`-world components: one [`Engine`] and
//! [`Linker`] (WASI 0.2 + capsock), many runs. The CLI, the demo and the
//! tests use it; an embedder with its own store data uses
//! [`crate::add_to_linker`] instead.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Cache, CacheConfig, Config, Engine, Store};
use wasmtime_wasi::p2::bindings::sync::{Command, CommandPre};
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::ctx::{CapsockCtx, CapsockCtxView, CapsockView};

/// The store data of one sandbox: WASI, capsock and their shared table.
pub struct SandboxState {
    wasi: WasiCtx,
    capsock: CapsockCtx,
    table: ResourceTable,
}

impl SandboxState {
    /// State for one run.
    pub fn new(wasi: WasiCtx, capsock: CapsockCtx) -> SandboxState {
        SandboxState {
            wasi,
            capsock,
            table: ResourceTable::new(),
        }
    }

    /// capsock's state, e.g. to read how many handles the guest holds.
    pub fn capsock_ctx(&self) -> &CapsockCtx {
        &self.capsock
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
/// failing to load or instantiate).
#[derive(Debug)]
pub struct GuestTrapped(pub wasmtime::Error);

impl std::fmt::Display for GuestTrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the guest trapped: {:#}", self.0)
    }
}

impl std::error::Error for GuestTrapped {}

/// Compiles and runs `sandbox`-world components.
pub struct Runtime {
    engine: Engine,
    linker: Linker<SandboxState>,
}

/// Magic and version of a WebAssembly component (layer 1) binary.
const COMPONENT_HEADER: [u8; 8] = *b"\0asm\x0d\0\x01\0";
/// Magic and version of a core WebAssembly module.
const MODULE_HEADER: [u8; 8] = *b"\0asm\x01\0\0\0";

impl Runtime {
    /// A runtime with capsock's engine settings ([`Runtime::config`]) and
    /// no on-disk cache.
    pub fn new() -> anyhow::Result<Runtime> {
        Runtime::with_engine(Engine::new(&Runtime::config()).map_err(anyhow::Error::from)?)
    }

    /// The engine settings capsock runs guests with. Component-model
    /// concurrency is off: capsock's and WASI's bindings here are
    /// synchronous, and without it wasmtime skips creating and deleting a
    /// task on every host call (about 1,500 instructions per
    /// `send-msg` + `recv-msg` pair, measured with callgrind).
    pub fn config() -> Config {
        let mut config = Config::new();
        config.concurrency_support(false);
        config
    }

    /// A runtime whose engine keeps compiled components in `dir` (an
    /// absolute path), keyed by the component's content and the engine's
    /// settings: a component compiled once loads from disk afterwards.
    pub fn with_cache_dir(dir: &Path) -> anyhow::Result<Runtime> {
        let mut cache = CacheConfig::new();
        cache.with_directory(dir);
        let mut config = Runtime::config();
        config.cache(Some(Cache::new(cache).map_err(anyhow::Error::from)?));
        Runtime::with_engine(Engine::new(&config).map_err(anyhow::Error::from)?)
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

    /// A runtime on the embedder's engine.
    pub fn with_engine(engine: Engine) -> anyhow::Result<Runtime> {
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        crate::add_to_linker(&mut linker)?;
        Ok(Runtime { engine, linker })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker (WASI 0.2 + capsock), to instantiate components directly.
    pub fn linker(&self) -> &Linker<SandboxState> {
        &self.linker
    }

    /// Reads and compiles a component file, with a one-line error for a
    /// missing file, a core module, or anything else that is not a component.
    pub fn load_file(&self, path: &Path) -> anyhow::Result<Component> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        self.load_bytes(&bytes)
            .with_context(|| format!("cannot load {}", path.display()))
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
        Component::new(&self.engine, bytes).map_err(anyhow::Error::from)
    }

    /// Resolves every import of a command component once; the result
    /// instantiates quickly, as often as needed.
    pub fn prepare(&self, component: &Component) -> anyhow::Result<Prepared> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .and_then(CommandPre::new)
            .map_err(anyhow::Error::from)
            .context("cannot instantiate the component")?;
        Ok(Prepared { pre })
    }

    /// Runs a command component to completion and returns its exit status.
    /// A trap is a [`GuestTrapped`] error; the store (and every fd the guest
    /// held) is gone when this returns.
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
pub struct Prepared {
    pre: CommandPre<SandboxState>,
}

impl Prepared {
    /// A new instance with its own store, not started yet.
    pub fn instantiate(&self, wasi: WasiCtx, capsock: CapsockCtx) -> anyhow::Result<Sandbox> {
        let mut store = Store::new(self.pre.engine(), SandboxState::new(wasi, capsock));
        let command = self
            .pre
            .instantiate(&mut store)
            .map_err(anyhow::Error::from)
            .context("cannot instantiate the component")?;
        Ok(Sandbox { store, command })
    }
}

/// One instantiated guest: its store and its command export.
pub struct Sandbox {
    store: Store<SandboxState>,
    command: Command,
}

impl Sandbox {
    /// Runs `main` to completion and returns the exit status; the store,
    /// and every fd the guest held, are dropped when this returns.
    pub fn run(mut self) -> anyhow::Result<i32> {
        match self.command.wasi_cli_run().call_run(&mut self.store) {
            Ok(Ok(())) => Ok(0),
            Ok(Err(())) => Ok(1),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => Ok(exit.0),
                None => Err(GuestTrapped(e).into()),
            },
        }
    }
}
