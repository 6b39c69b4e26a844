//! What a sandbox may consume of the host: memory and tables, instances,
//! fuel, wall-clock time and stack, in `wasmtime run -W`'s terms, plus one
//! capsock adds: a budget for all of a sandbox's linear memories and
//! tables together.
//!
//! [`SandboxLimits`] says what the limits are; [`SandboxLimiter`] enforces
//! the memory ones as a wasmtime [`ResourceLimiter`]; [`Deadline`] stops a
//! sandbox when its time is up (see [`crate::Interrupt`] for how a blocked
//! call is reached). [`crate::Runtime`] applies all of them; an embedder
//! with its own store uses [`SandboxLimits::configure_engine`],
//! [`SandboxLimits::configure_store`] and its own `store.limiter(..)`.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::{Config, Engine, ResourceLimiter, Store, UpdateDeadline};

use crate::interrupt::Interrupt;
pub use crate::interrupt::{StopReason, Stopped};

/// Bytes a table element is counted as in the memory budget: a `funcref`
/// element is one pointer in wasmtime's tables.
pub const TABLE_ELEMENT_BYTES: usize = 8;

/// The memory budget [`SandboxLimits::default`] gives a sandbox: 1 GiB for
/// all its linear memories and tables together.
pub const DEFAULT_MEMORY_TOTAL: usize = 1 << 30;

/// Limits on one sandbox. The fields are `wasmtime run`'s `-W` options of
/// the same names, plus `max_memory_total`. `None` is wasmtime's default
/// (no limit for sizes; 10,000 instances, tables and memories).
///
/// The [`Default`] is capsock's safe default: no limit but the memory
/// budget ([`DEFAULT_MEMORY_TOTAL`]). [`SandboxLimits::unlimited`] has
/// none at all.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxLimits {
    /// `-W max-memory-size`: bytes one linear memory may grow to.
    pub max_memory_size: Option<usize>,
    /// `-W max-memory-total` (capsock's): bytes all linear memories and
    /// tables of the sandbox may take together, table elements counted as
    /// [`TABLE_ELEMENT_BYTES`].
    pub max_memory_total: Option<usize>,
    /// `-W max-table-elements`: elements one table may grow to.
    pub max_table_elements: Option<usize>,
    /// `-W max-instances`: core instances.
    pub max_instances: Option<usize>,
    /// `-W max-tables`: tables.
    pub max_tables: Option<usize>,
    /// `-W max-memories`: linear memories.
    pub max_memories: Option<usize>,
    /// `-W trap-on-grow-failure`: a refused `memory.grow` or `table.grow`
    /// stops the guest ([`StopReason::Memory`]) instead of returning -1.
    pub trap_on_grow_failure: bool,
    /// `-W fuel`: units of fuel (about one per wasm instruction); the guest
    /// stops when they are used up ([`StopReason::Fuel`]). Needs an engine
    /// with fuel on ([`SandboxLimits::configure_engine`]).
    pub fuel: Option<u64>,
    /// `-W timeout`: wall-clock time from the start of the run; the guest
    /// stops when it passes ([`StopReason::Timeout`]), also when it is
    /// blocked in a host call or a WASI wait.
    pub timeout: Option<Duration>,
    /// `-W max-wasm-stack`: bytes of native stack wasm code may use (an
    /// engine setting: [`SandboxLimits::configure_engine`]).
    pub max_wasm_stack: Option<usize>,
}

impl Default for SandboxLimits {
    fn default() -> SandboxLimits {
        SandboxLimits {
            max_memory_total: Some(DEFAULT_MEMORY_TOTAL),
            ..SandboxLimits::unlimited()
        }
    }
}

impl SandboxLimits {
    /// No limits at all: wasmtime's own defaults.
    pub fn unlimited() -> SandboxLimits {
        SandboxLimits {
            max_memory_size: None,
            max_memory_total: None,
            max_table_elements: None,
            max_instances: None,
            max_tables: None,
            max_memories: None,
            trap_on_grow_failure: false,
            fuel: None,
            timeout: None,
            max_wasm_stack: None,
        }
    }

    /// Sets `max_memory_size`.
    pub fn max_memory_size(mut self, bytes: usize) -> Self {
        self.max_memory_size = Some(bytes);
        self
    }

    /// Sets `max_memory_total` (`None`: no budget).
    pub fn max_memory_total(mut self, bytes: Option<usize>) -> Self {
        self.max_memory_total = bytes;
        self
    }

    /// Sets `max_table_elements`.
    pub fn max_table_elements(mut self, elements: usize) -> Self {
        self.max_table_elements = Some(elements);
        self
    }

    /// Sets `max_instances`.
    pub fn max_instances(mut self, n: usize) -> Self {
        self.max_instances = Some(n);
        self
    }

    /// Sets `max_tables`.
    pub fn max_tables(mut self, n: usize) -> Self {
        self.max_tables = Some(n);
        self
    }

    /// Sets `max_memories`.
    pub fn max_memories(mut self, n: usize) -> Self {
        self.max_memories = Some(n);
        self
    }

    /// Sets `trap_on_grow_failure`.
    pub fn trap_on_grow_failure(mut self, on: bool) -> Self {
        self.trap_on_grow_failure = on;
        self
    }

    /// Sets `fuel`.
    pub fn fuel(mut self, units: u64) -> Self {
        self.fuel = Some(units);
        self
    }

    /// Sets `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets `max_wasm_stack`.
    pub fn max_wasm_stack(mut self, bytes: usize) -> Self {
        self.max_wasm_stack = Some(bytes);
        self
    }

    /// The engine settings these limits need: epoch interruption (always,
    /// so any run can be stopped), fuel if `fuel` is set, the stack size.
    /// The async stack is made 1 MiB larger than the wasm stack, as host
    /// functions run on it too.
    pub fn configure_engine(&self, config: &mut Config) {
        config.epoch_interruption(true);
        if self.fuel.is_some() {
            config.consume_fuel(true);
        }
        if let Some(stack) = self.max_wasm_stack {
            config.max_wasm_stack(stack);
            config.async_stack_size(stack.saturating_add(1 << 20).max(2 << 20));
        }
    }

    /// The memory limiter for one store.
    pub fn limiter(&self) -> SandboxLimiter {
        SandboxLimiter {
            limits: self.clone(),
            used: 0,
            pending: 0,
            refused: None,
        }
    }

    /// Applies fuel and the stop checks to a new store whose guest holds
    /// `interrupt` (its [`CapsockCtx`](crate::CapsockCtx)'s): wasm code
    /// stops at its next epoch check once `interrupt` is stopped and the
    /// engine's epoch moves on. The memory limits need
    /// `store.limiter(|data| &mut data.<your SandboxLimiter>)`; the timeout
    /// needs [`Deadline::start`] when the run starts.
    pub fn configure_store<T: 'static>(
        &self,
        store: &mut Store<T>,
        interrupt: &Interrupt,
    ) -> wasmtime::Result<()> {
        match self.fuel {
            Some(fuel) => store.set_fuel(fuel)?,
            // An engine that consumes fuel, and no fuel limit: all of it,
            // rather than none (an instant trap).
            None if store.get_fuel().is_ok() => store.set_fuel(u64::MAX)?,
            None => {}
        }
        let interrupt = interrupt.clone();
        store.epoch_deadline_callback(move |_| match interrupt.reason() {
            Some(reason) => Err(Stopped(reason).into()),
            None => Ok(UpdateDeadline::Continue(1)),
        });
        store.set_epoch_deadline(1);
        Ok(())
    }

    /// One line naming the limit behind `reason`, for messages.
    pub fn describe(&self, reason: StopReason) -> String {
        let opt = |name: &str, v: Option<String>| match v {
            Some(v) => format!("{name}={v}"),
            None => name.to_string(),
        };
        match reason {
            StopReason::Timeout => format!(
                "the guest ran past its time limit ({})",
                opt("timeout", self.timeout.map(|t| format!("{t:?}")))
            ),
            StopReason::Fuel => format!(
                "the guest ran out of fuel ({})",
                opt("fuel", self.fuel.map(|f| f.to_string()))
            ),
            StopReason::Memory => format!(
                "the guest hit a memory or table limit ({})",
                self.memory_limits_text()
            ),
            StopReason::Interrupted => "the guest was stopped by its host".to_string(),
        }
    }

    fn memory_limits_text(&self) -> String {
        let mut parts = Vec::new();
        for (name, v) in [
            ("max-memory-size", self.max_memory_size),
            ("max-memory-total", self.max_memory_total),
            ("max-table-elements", self.max_table_elements),
        ] {
            if let Some(v) = v {
                parts.push(format!("{name}={v}"));
            }
        }
        if parts.is_empty() {
            "the memory's own maximum".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// The error [`crate::Sandbox::run`] returns when a limit stopped the guest.
#[derive(Debug)]
pub struct GuestStopped {
    /// Which limit.
    pub reason: StopReason,
    message: String,
}

impl GuestStopped {
    /// `refused` is what the memory limiter refused, if anything: for a
    /// memory stop it says which limit it was.
    pub(crate) fn new(
        reason: StopReason,
        limits: &SandboxLimits,
        refused: Option<&str>,
    ) -> GuestStopped {
        let message = match (reason, refused) {
            (StopReason::Memory, Some(why)) => format!("the guest hit a memory limit: {why}"),
            _ => limits.describe(reason),
        };
        GuestStopped { reason, message }
    }
}

impl std::fmt::Display for GuestStopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GuestStopped {}

/// Enforces a [`SandboxLimits`]' memory and table limits for one store.
pub struct SandboxLimiter {
    limits: SandboxLimits,
    /// Bytes of memory and table granted so far (never given back: a store
    /// frees its memories only when it is dropped).
    used: usize,
    /// The last grant, taken back if the grow then fails.
    pending: usize,
    /// The first refusal, for the message when the guest then traps.
    refused: Option<String>,
}

impl SandboxLimiter {
    /// What was refused first, if anything: a guest that traps after a
    /// refused grow (an allocator aborting) is told why.
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// Bytes of linear memory and table the store holds, as counted for
    /// `max_memory_total`.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Grants growing one memory or table to `desired` (`unit`s) if
    /// `own` (the per-memory or per-table limit, named `own_name`), the
    /// type's `maximum` and the budget allow `grow` more bytes.
    #[allow(clippy::too_many_arguments)]
    fn grant(
        &mut self,
        what: &str,
        unit: &str,
        grow: usize,
        desired: usize,
        (own_name, own): (&str, Option<usize>),
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.used.checked_add(grow);
        let why = if maximum.is_some_and(|m| desired > m) {
            None // the type's own maximum: wasmtime refuses it anyway
        } else if let Some(limit) = own.filter(|&l| desired > l) {
            Some(format!(
                "growing a {what} to {desired} {unit} ({own_name}={limit})"
            ))
        } else {
            match (total, self.limits.max_memory_total) {
                (Some(t), Some(budget)) if t > budget => Some(format!(
                    "growing a {what} to {t} bytes of memories and tables in all \
                     (max-memory-total={budget})"
                )),
                (None, _) => Some(format!("growing a {what}: size overflow")),
                _ => {
                    self.used = total.unwrap_or(usize::MAX);
                    self.pending = grow;
                    return Ok(true);
                }
            }
        };
        if let Some(why) = &why {
            tracing::debug!(refused = %why, "sandbox limit");
            self.refused.get_or_insert_with(|| why.clone());
        }
        if self.limits.trap_on_grow_failure {
            return Err(Stopped(StopReason::Memory).into());
        }
        Ok(false)
    }

    fn grow_failed(&mut self) -> wasmtime::Result<()> {
        self.used -= std::mem::take(&mut self.pending);
        if self.limits.trap_on_grow_failure {
            return Err(Stopped(StopReason::Memory).into());
        }
        Ok(())
    }
}

impl ResourceLimiter for SandboxLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired.saturating_sub(current);
        let own = ("max-memory-size", self.limits.max_memory_size);
        self.grant("memory", "bytes", grow, desired, own, maximum)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        tracing::debug!(%error, "memory grow failed");
        self.grow_failed()
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = desired
            .saturating_sub(current)
            .saturating_mul(TABLE_ELEMENT_BYTES);
        let own = ("max-table-elements", self.limits.max_table_elements);
        self.grant("table", "elements", grow, desired, own, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        tracing::debug!(%error, "table grow failed");
        self.grow_failed()
    }

    fn instances(&self) -> usize {
        self.limits
            .max_instances
            .unwrap_or(wasmtime::DEFAULT_INSTANCE_LIMIT)
    }

    fn tables(&self) -> usize {
        self.limits
            .max_tables
            .unwrap_or(wasmtime::DEFAULT_TABLE_LIMIT)
    }

    fn memories(&self) -> usize {
        self.limits
            .max_memories
            .unwrap_or(wasmtime::DEFAULT_MEMORY_LIMIT)
    }
}

/// Stops `interrupt`'s sandbox on `engine` for `reason`, in the order that
/// leaves it no way to run on: the reason first, then the epoch (so every
/// epoch check fails from now on), then the wake-up of its waits and of a
/// blocked host call.
pub fn stop_on(interrupt: &Interrupt, engine: &Engine, reason: StopReason) {
    interrupt.mark(reason);
    engine.increment_epoch();
    interrupt.wake();
}

/// A running sandbox's wall-clock limit: when it passes, the sandbox's
/// [`Interrupt`] is stopped with [`StopReason::Timeout`] and the engine's
/// epoch is incremented (so that wasm code reaches its epoch check).
/// Dropping it cancels it. One process-wide thread keeps every deadline.
pub struct Deadline {
    id: u64,
}

struct Watch {
    interrupt: Interrupt,
    engine: Engine,
}

#[derive(Default)]
struct Watchdog {
    deadlines: Mutex<Deadlines>,
    changed: Condvar,
}

/// The last id given out, and the deadlines by time (with their id, which
/// breaks ties).
type Deadlines = (u64, BTreeMap<(Instant, u64), Watch>);

fn watchdog() -> &'static Arc<Watchdog> {
    static WATCHDOG: OnceLock<Arc<Watchdog>> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let dog = Arc::new(Watchdog::default());
        let keeper = Arc::clone(&dog);
        std::thread::Builder::new()
            .name("capsock-deadlines".into())
            .spawn(move || keeper.keep())
            .expect("start the capsock deadline thread");
        dog
    })
}

impl Watchdog {
    fn keep(&self) {
        let mut guard = self.deadlines.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            let next = guard.1.keys().next().copied();
            match next {
                Some(key) if key.0 <= now => {
                    let watch = guard.1.remove(&key).expect("the first key");
                    drop(guard);
                    stop_on(&watch.interrupt, &watch.engine, StopReason::Timeout);
                    guard = self.deadlines.lock().unwrap_or_else(|p| p.into_inner());
                }
                Some(key) => {
                    guard = self
                        .changed
                        .wait_timeout(guard, key.0 - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                None => {
                    guard = self.changed.wait(guard).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }
}

impl Deadline {
    /// Stops `interrupt`'s sandbox (on `engine`) `after` from now.
    pub fn start(after: Duration, interrupt: &Interrupt, engine: &Engine) -> Deadline {
        let at = Instant::now()
            .checked_add(after)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400));
        let dog = watchdog();
        let mut guard = dog.deadlines.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 += 1;
        let id = guard.0;
        guard.1.insert(
            (at, id),
            Watch {
                interrupt: interrupt.clone(),
                engine: engine.clone(),
            },
        );
        dog.changed.notify_one();
        Deadline { id }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        let dog = watchdog();
        let mut guard = dog.deadlines.lock().unwrap_or_else(|p| p.into_inner());
        guard.1.retain(|&(_, id), _| id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_every_memory_and_table_together() {
        let mut l = SandboxLimits::unlimited()
            .max_memory_total(Some(100 << 20))
            .limiter();
        assert!(l.memory_growing(0, 60 << 20, None).unwrap());
        assert!(
            !l.memory_growing(0, 60 << 20, None).unwrap(),
            "a second memory"
        );
        assert!(l.memory_growing(0, 30 << 20, None).unwrap());
        // 10 MiB left: 1.25 M table elements of 8 bytes would not fit.
        assert!(!l.table_growing(0, 1_310_720 + 1, None).unwrap());
        assert!(l.table_growing(0, 1_000_000, None).unwrap());
        assert!(l.refused().unwrap().contains("max-memory-total"));
    }

    #[test]
    fn a_failed_grow_gives_its_share_back() {
        let mut l = SandboxLimits::unlimited()
            .max_memory_total(Some(100))
            .limiter();
        assert!(l.memory_growing(0, 80, None).unwrap());
        l.memory_grow_failed(wasmtime::Error::msg("mmap")).unwrap();
        assert_eq!(l.used(), 0);
        assert!(l.memory_growing(0, 100, None).unwrap());
    }

    #[test]
    fn per_memory_and_per_table_limits_apply_and_can_trap() {
        let limits = SandboxLimits::unlimited()
            .max_memory_size(1 << 20)
            .max_table_elements(10);
        let mut l = limits.limiter();
        assert!(!l.memory_growing(0, (1 << 20) + 1, None).unwrap());
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!l.table_growing(0, 11, None).unwrap());
        let mut l = limits.trap_on_grow_failure(true).limiter();
        let err = l.memory_growing(0, 2 << 20, None).unwrap_err();
        assert_eq!(
            err.downcast_ref::<Stopped>(),
            Some(&Stopped(StopReason::Memory))
        );
    }

    #[test]
    fn a_deadline_stops_its_interrupt_and_a_dropped_one_does_not() {
        let engine = Engine::default();
        let (fires, cancelled) = (Interrupt::new(), Interrupt::new());
        let _kept = Deadline::start(Duration::from_millis(20), &fires, &engine);
        drop(Deadline::start(
            Duration::from_millis(20),
            &cancelled,
            &engine,
        ));
        let start = Instant::now();
        while fires.reason().is_none() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(fires.reason(), Some(StopReason::Timeout));
        assert!(start.elapsed() >= Duration::from_millis(15));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cancelled.reason(), None);
    }
}
