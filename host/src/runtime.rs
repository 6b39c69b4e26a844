//! A ready-made runner for `sandbox`-world components: one [`Engine`] and
//! [`Linker`] (WASI 0.2 + capsock), many runs. The CLI, the demo and the
//! tests use it; an embedder with its own store data uses
//! [`crate::add_to_linker`] instead.

use std::path::Path;

use anyhow::{bail, Context};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
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
    /// A runtime with a default engine.
    pub fn new() -> anyhow::Result<Runtime> {
        Runtime::with_engine(Engine::default())
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

    /// Compiles a component from its binary.
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

    /// Runs a command component to completion and returns its exit status.
    /// A trap is a [`GuestTrapped`] error; the store (and every fd the guest held) is gone
    /// when this returns.
    pub fn run(
        &self,
        component: &Component,
        wasi: WasiCtx,
        capsock: CapsockCtx,
    ) -> anyhow::Result<i32> {
        let mut store = Store::new(&self.engine, SandboxState::new(wasi, capsock));
        let command = Command::instantiate(&mut store, component, &self.linker)
            .map_err(anyhow::Error::from)
            .context("cannot instantiate the component")?;
        match command.wasi_cli_run().call_run(&mut store) {
            Ok(Ok(())) => Ok(0),
            Ok(Err(())) => Ok(1),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => Ok(exit.0),
                None => Err(GuestTrapped(e).into()),
            },
        }
    }
}
