//! Shared by the integration tests: run guests under the real host, start
//! Python peers as separate processes, and count this process's open fds.
//!
//! # Counting fds while other tests run
//!
//! Every test of this binary runs in one process, several at a time, and
//! fd numbers are process-wide: a socket another test opens between a
//! baseline and the count after it would look like a leak (or hide one).
//! So every test takes one lock, in its first statement, before it opens
//! anything:
//!
//! - [`exclusive`] for a test that compares fd counts: it runs alone. Only
//!   under it does [`open_fds`] count (it panics otherwise).
//! - [`shared`] for any other test: these run side by side, but never
//!   beside an exclusive one.
//!
//! Both locks are on the test's own thread; helpers that count fds
//! ([`misuse`], [`conformance_with`], [`guest_against`]) need the caller to
//! hold [`exclusive`]. A thread that takes a second lock panics (a read lock
//! taken twice can deadlock against a waiting writer). The test
//! `every_test_takes_the_fd_lock_first` (in main.rs) checks that the first
//! statement of every test takes one of the two, so a new test cannot
//! forget it.
//!
//! Fds that stay open for the life of the process are opened before any
//! baseline: [`runtime`] starts wasmtime-wasi's tokio runtime and runs a
//! guest once, and [`exclusive`] compiles the test's guests first (each
//! compiled component keeps a memfd).

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};
use std::sync::{Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use capsock_host::{CapsockCtx, HostCalls, Limits, Policy, Runtime, SandboxLimits};
use wasmtime::component::Component;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtxBuilder;

pub use capsock_test_artifacts as guests;

/// The lock of the module docs: shared by most tests, exclusive for the
/// ones that count fds.
static FD_LOCK: RwLock<()> = RwLock::new(());

thread_local! {
    /// Which of the two locks this thread holds, if any.
    static HELD: Cell<Option<Mode>> = const { Cell::new(None) };
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Shared,
    Exclusive,
}

/// Held for the whole test: see the module docs. Released when dropped.
#[must_use = "the lock is released when this guard is dropped"]
pub struct FdLock {
    _guard: Guard,
}

enum Guard {
    Shared {
        _read: RwLockReadGuard<'static, ()>,
    },
    Exclusive {
        _write: RwLockWriteGuard<'static, ()>,
    },
}

impl Drop for FdLock {
    fn drop(&mut self) {
        HELD.set(None);
    }
}

fn take(mode: Mode) -> FdLock {
    if let Some(held) = HELD.get() {
        panic!("this thread already holds the fd lock ({held:?}); take one lock per test");
    }
    // A test that failed while holding the lock poisons it; the lock
    // guards no data, so the next test goes on.
    let guard = match mode {
        Mode::Shared => Guard::Shared {
            _read: FD_LOCK.read().unwrap_or_else(|p| p.into_inner()),
        },
        Mode::Exclusive => Guard::Exclusive {
            _write: FD_LOCK.write().unwrap_or_else(|p| p.into_inner()),
        },
    };
    HELD.set(Some(mode));
    FdLock { _guard: guard }
}

/// For a test that opens fds but counts none: runs beside other such
/// tests, never beside an [`exclusive`] one.
pub fn shared() -> FdLock {
    take(Mode::Shared)
}

/// For a test that counts fds: runs alone. Also warms the runtime and
/// compiles `guests` first: a compiled component keeps a memfd (wasmtime's
/// copy-on-write memory image) open for as long as it is cached, which must
/// not count as a leak.
pub fn exclusive(guests: &[&str]) -> FdLock {
    let lock = take(Mode::Exclusive);
    runtime();
    for g in guests {
        component(g);
    }
    lock
}

/// [`exclusive`] for a test whose guest must be built first (minutes, the
/// first time: see [`script_guest`]): `build` runs, and the component it
/// names is compiled, under the [`shared`] lock, so other tests go on
/// meanwhile; then the exclusive lock is taken. Returns it and the path.
pub fn exclusive_after(build: impl FnOnce() -> String) -> (FdLock, String) {
    let shared = take(Mode::Shared);
    let path = build();
    component(&path);
    drop(shared);
    (exclusive(&[]), path)
}

/// This process's open fds (the entries of `/proc/self/fd`). Only a test
/// holding [`exclusive`] may count them.
pub fn open_fds() -> usize {
    assert_eq!(
        HELD.get(),
        Some(Mode::Exclusive),
        "fds are counted only under support::exclusive()"
    );
    // The directory handle doing the listing is itself one of the entries.
    std::fs::read_dir("/proc/self/fd")
        .expect("list /proc/self/fd")
        .count()
        - 1
}

/// Starts the process-wide state that wasmtime-wasi creates on first use
/// and keeps for the life of the process (its tokio runtime: an epoll
/// instance and an eventfd or two), so that fd counts compare guests'
/// descriptors only.
fn settle_process_fds() {
    wasmtime_wasi::runtime::in_tokio(async {});
}

/// One runtime for the whole test binary. The first use also runs a guest
/// once, so lazily created process-wide state (wasmtime-wasi's tokio
/// runtime) exists before any test takes an fd baseline.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    static WARM: OnceLock<()> = OnceLock::new();
    let rt = RUNTIME.get_or_init(|| Runtime::new().expect("runtime"));
    WARM.get_or_init(|| {
        settle_process_fds();
        let c = rt
            .load_file(Path::new(guests::examples::SEND_REPLACEMENT))
            .expect("warm-up guest");
        let status = rt.run(
            &c,
            wasi(
                &[],
                &MemoryOutputPipe::new(1 << 16),
                &MemoryOutputPipe::new(1 << 16),
                None,
                None,
            ),
            CapsockCtx::builder().build(),
        );
        assert_eq!(status.expect("warm-up run"), 0);
    });
    rt
}

/// Both ways a guest's calls can wait, for tests that run a scenario under
/// each.
pub const HOST_CALLS: [HostCalls; 2] = [HostCalls::Blocking, HostCalls::Async];

/// The runtime whose guests wait as `calls` says. Both share [`runtime`]'s
/// engine, so a component compiled once serves both.
pub fn runtime_for(calls: HostCalls) -> &'static Runtime {
    static ASYNC: OnceLock<Runtime> = OnceLock::new();
    match calls {
        HostCalls::Async => ASYNC.get_or_init(|| {
            let rt = runtime();
            Runtime::with_engine_and(rt.engine().clone(), rt.limits().clone(), calls)
                .expect("async runtime")
        }),
        _ => runtime(),
    }
}

/// Compiled components, cached by path. Each is instantiated once when
/// first compiled: wasmtime builds a module's copy-on-write memory image (a
/// memfd, kept while the component lives) on first instantiation, and that
/// must happen before any test takes an fd baseline.
pub fn component(path: &str) -> Component {
    static CACHE: OnceLock<Mutex<HashMap<String, Component>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    cache
        .entry(path.to_string())
        .or_insert_with(|| {
            let rt = runtime();
            let c = rt.load_file(Path::new(path)).expect("compile guest");
            rt.prepare(&c)
                .and_then(|pre| {
                    pre.instantiate(WasiCtxBuilder::new().build(), CapsockCtx::builder().build())
                })
                .expect("instantiate guest");
            c
        })
        .clone()
}

fn wasi(
    args: &[&str],
    stdout: &MemoryOutputPipe,
    stderr: &MemoryOutputPipe,
    dir: Option<&(PathBuf, wasmtime_wasi::FsPerms)>,
    policy: Option<&Policy>,
) -> wasmtime_wasi::WasiCtx {
    let mut b = WasiCtxBuilder::new();
    b.stdout(stdout.clone())
        .stderr(stderr.clone())
        .arg("guest")
        .args(args);
    if let Some((dir, perms)) = dir {
        b.preopened_dir(dir, "/", *perms)
            .expect("preopen the guest's directory");
    }
    if let Some(policy) = policy {
        policy.apply_to_wasi(&mut b);
    }
    b.build()
}

/// What a guest run produced.
#[derive(Debug)]
pub struct GuestRun {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The `key=value` lines of a guest's output, as the test guests print
/// them (see tests/programs/src/lib.rs for how values are written).
pub fn kv(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl GuestRun {
    /// The value of `key`, or a panic showing the whole output.
    pub fn get(&self, key: &str) -> String {
        kv(&self.stdout)
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("no {key}= in guest output: {self:#?}"))
    }

    /// Asserts a zero exit status, showing the output otherwise.
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.status, 0,
            "guest failed; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Builder-ish options for [`run_guest`].
#[derive(Default)]
pub struct Options {
    pub limits: Option<Limits>,
    pub policy: Option<Policy>,
    /// The sandbox's limits (default: the runtime's).
    pub sandbox: Option<SandboxLimits>,
    /// Where the guest's calls wait (default: blocking its thread).
    pub host_calls: HostCalls,
    /// A host directory the guest sees as `/` (a WASI preopen), and
    /// whether it is read-only.
    pub dir: Option<(PathBuf, wasmtime_wasi::FsPerms)>,
}

/// Runs the guest at `path` with `args` and these grants; a trap is `Err`.
pub fn run_guest_with(
    path: &str,
    args: &[&str],
    grants: Vec<(&str, OwnedFd)>,
    opts: Options,
) -> anyhow::Result<GuestRun> {
    let component = component(path);
    let (stdout, stderr) = (
        MemoryOutputPipe::new(1 << 20),
        MemoryOutputPipe::new(1 << 20),
    );
    let mut ctx = CapsockCtx::builder();
    for (name, fd) in grants {
        ctx.grant(name, fd);
    }
    if let Some(l) = opts.limits {
        ctx.limits(l);
    }
    if let Some(p) = &opts.policy {
        ctx.policy(p.clone());
    }
    let rt = runtime_for(opts.host_calls);
    let sandbox = opts.sandbox.unwrap_or_else(|| rt.limits().clone());
    let status = rt
        .prepare(&component)
        .and_then(|pre| {
            pre.instantiate_with(
                wasi(
                    args,
                    &stdout,
                    &stderr,
                    opts.dir.as_ref(),
                    opts.policy.as_ref(),
                ),
                ctx.build(),
                sandbox,
            )
        })
        .and_then(|sandbox| sandbox.run())
        .map_err(|e| {
            let err = String::from_utf8_lossy(&stderr.contents()).into_owned();
            e.context(format!("guest stderr: {err}"))
        })?;
    Ok(GuestRun {
        status,
        stdout: String::from_utf8_lossy(&stdout.contents()).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
    })
}

/// [`run_guest_with`] with default options.
pub fn run_guest(
    path: &str,
    args: &[&str],
    grants: Vec<(&str, OwnedFd)>,
) -> anyhow::Result<GuestRun> {
    run_guest_with(path, args, grants, Options::default())
}

/// For a test that changes process-wide state (a signal's disposition, the
/// global `tracing` subscriber): runs the test `path` (its
/// `module_path!()::name`) again, alone, in a process of its own, and
/// checks that it ran and passed there. `true` in that child process,
/// where the test goes on; `false` in the caller's, where it is done.
pub fn in_own_process(path: &str) -> bool {
    const CHILD: &str = "CAPSOCK_TEST_CHILD";
    // The test's name in this binary: its module path without the crate.
    let name = path.split_once("::").map_or(path, |(_, rest)| rest);
    if std::env::var(CHILD).as_deref() == Ok(name) {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .output()
        .unwrap();
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "the child ran the test: {stdout}"
    );
    false
}

/// The directory of the Python peer scripts.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers")
}

/// A Python 3 process on the other end of a Unix socket
/// (tests/peers/peer.py): an implementation nobody on this project wrote.
pub struct PythonPeer {
    child: Child,
    stdout: BufReader<ChildStdout>,
    path: PathBuf,
    dir: tempfile::TempDir,
}

impl PythonPeer {
    /// Starts `python3 peer.py SCENARIO PATH TYPE` and waits until it listens.
    pub fn start(scenario: &str, socket_type: &str) -> PythonPeer {
        PythonPeer::start_with("python3", scenario, socket_type, &[])
    }

    /// Starts `PYTHON peer.py SCENARIO PATH TYPE ARGS...` and waits until it
    /// listens (or, for a datagram peer, until it is bound).
    pub fn start_with(
        python: impl AsRef<std::ffi::OsStr>,
        scenario: &str,
        socket_type: &str,
        args: &[&str],
    ) -> PythonPeer {
        let mut peer_args = vec![scenario, "", socket_type];
        peer_args.extend(args);
        PythonPeer::start_script(python, "peer.py", &peer_args, 1)
    }

    /// Starts `PYTHON peers/SCRIPT ARGS...` with `args[path_at]` replaced
    /// by the path of a new socket, and waits until it prints "ready".
    pub fn start_script(
        python: impl AsRef<std::ffi::OsStr>,
        script: &str,
        args: &[&str],
        path_at: usize,
    ) -> PythonPeer {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("peer.sock");
        let mut args: Vec<&str> = args.to_vec();
        args[path_at] = path.to_str().unwrap();
        let mut child = std::process::Command::new(python)
            .arg(peers_dir().join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut peer = PythonPeer {
            child,
            stdout,
            path,
            dir,
        };
        peer.expect_line("ready");
        peer
    }

    /// Everything the peer wrote to stderr (once).
    fn stderr(&mut self) -> String {
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut err).ok();
        }
        err
    }

    /// Waits for the peer to print `line` (a progress mark).
    pub fn expect_line(&mut self, line: &str) {
        let mut got = String::new();
        self.stdout.read_line(&mut got).expect("peer stdout");
        if got.trim() != line {
            panic!(
                "python peer printed {got:?}, not {line:?}: {}",
                self.stderr()
            );
        }
    }

    /// Writes `line` to the peer's stdin.
    pub fn signal(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("peer stdin");
        writeln!(stdin, "{line}").expect("write to peer");
    }

    /// The path the peer listens on (or is bound to).
    #[allow(dead_code)] // only tests/cli uses it
    pub fn socket_path(&self) -> &Path {
        &self.path
    }

    /// The directory holding the peer's socket.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Connects to the peer; the fd is for the guest.
    pub fn connect(&self) -> OwnedFd {
        UnixStream::connect(&self.path)
            .expect("connect to python peer")
            .into()
    }

    /// Waits for the peer to exit and returns the JSON it printed.
    pub fn finish(mut self) -> serde_json::Value {
        drop(self.child.stdin.take());
        let mut out = String::new();
        self.stdout.read_to_string(&mut out).expect("peer stdout");
        let status = self.child.wait().expect("wait for peer");
        let err = self.stderr();
        assert!(
            status.success(),
            "python peer failed ({status}): {err}\nstdout: {out}"
        );
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("peer printed {out:?}: {e}"))
    }
}

/// Runs the conformance guest with `args` against `peer` (granted as
/// "peer"), after the peer printed `wait` if given; checks that the host's
/// fd count is back to its baseline and that the guest succeeded. The
/// caller holds [`exclusive`].
pub fn guest_against(
    peer: &mut PythonPeer,
    args: &[&str],
    opts: Options,
    wait: Option<&str>,
) -> GuestRun {
    let baseline = open_fds();
    let conn = peer.connect();
    if let Some(line) = wait {
        peer.expect_line(line);
    }
    let run =
        run_guest_with(guests::CONFORMANCE, args, vec![("peer", conn)], opts).expect("guest run");
    assert_eq!(
        open_fds(),
        baseline,
        "host fds leaked in {args:?}: {run:#?}"
    );
    run.assert_ok();
    run
}

/// The conformance guest's `scenario` against the Python peer's
/// `peer_scenario` (with `peer_args`), over a stream socket: the run with
/// the guest's calls blocking their thread, for the caller to check. The
/// scenario also runs with the calls waiting on the reactor, which must
/// succeed, leak nothing and print the same keys. The caller holds
/// [`exclusive`].
pub fn conformance_with(
    scenario: &[&str],
    peer_scenario: &str,
    peer_args: &[&str],
) -> (GuestRun, serde_json::Value) {
    let [(blocking, peer), (on_reactor, _)] = HOST_CALLS.map(|host_calls| {
        let mut peer = PythonPeer::start_with("python3", peer_scenario, "stream", peer_args);
        let opts = Options {
            host_calls,
            ..Options::default()
        };
        let run = guest_against(&mut peer, scenario, opts, None);
        (run, peer.finish())
    });
    let keys = |run: &GuestRun| {
        let mut keys: Vec<String> = kv(&run.stdout).into_keys().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&blocking),
        keys(&on_reactor),
        "{scenario:?} printed other keys on the reactor: {on_reactor:#?}"
    );
    (blocking, peer)
}

/// [`conformance_with`] for a one-word guest scenario and no peer arguments.
pub fn conformance(scenario: &str, peer_scenario: &str) -> (GuestRun, serde_json::Value) {
    conformance_with(&[scenario], peer_scenario, &[])
}

/// Runs a case of the `misuse` guest against a Python peer that records
/// everything it receives. `extra` grants are closed with the guest. Checks
/// the fd accounting, that the guest's final normal send worked, and that
/// only that final "done" reached the peer. The caller holds [`exclusive`].
pub fn misuse(case: &str, extra: Vec<(&str, OwnedFd)>, opts: Options) -> GuestRun {
    let peer = PythonPeer::start("misuse", "stream");
    let baseline = open_fds();
    let closed = extra.len();
    let mut grants = vec![("peer", peer.connect())];
    grants.extend(extra);
    let run = run_guest_with(guests::MISUSE, &[case], grants, opts).expect("guest run");
    assert_eq!(
        open_fds(),
        baseline - closed,
        "host fds leaked in {case}: {run:#?}"
    );
    run.assert_ok();
    assert_eq!(
        run.get("done_sent"),
        "4",
        "the host still serves the next call"
    );
    assert_eq!(
        peer.finish(),
        serde_json::json!({"data": "done", "ancillary": []}),
        "nothing but \"done\" was sent"
    );
    run
}

/// A Python with Twisted installed: a virtualenv under the target
/// directory, created (and `pip install twisted` run) on first use, then
/// reused by later runs. A file lock keeps concurrent test runs apart.
pub fn twisted_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let target = target_dir();
            let venv = target.join("twisted-venv");
            let python = venv.join("bin/python");
            let lock = std::fs::File::create(target.join("twisted-venv.lock")).expect("lock file");
            lock.lock().expect("lock the venv");
            let ready = || {
                std::process::Command::new(&python)
                    .args(["-c", "import twisted.python.sendmsg"])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if !ready() {
                let run = |cmd: &mut std::process::Command| {
                    let out = cmd.output().expect("run python3");
                    assert!(
                        out.status.success(),
                        "{cmd:?}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                };
                run(std::process::Command::new("python3")
                    .args(["-m", "venv", "--clear"])
                    .arg(&venv));
                run(std::process::Command::new(&python)
                    .args(["-m", "pip", "install", "--quiet", "twisted"]));
                assert!(
                    ready(),
                    "twisted.python.sendmsg is not importable after installing twisted"
                );
            }
            python
        })
        .clone()
}

/// The target directory of this build (the test binary is
/// `<target>/<profile>/deps/<name>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("target directory")
        .to_path_buf()
}

/// Runs a build command that prints the path of what it built last on
/// stdout, under a file lock (other test binaries may build the same).
fn built_by(what: &str, cmd: &mut std::process::Command) -> String {
    let target = target_dir();
    let lock = std::fs::File::create(target.join("script-guests.lock")).expect("lock file");
    lock.lock().expect("lock the script guests");
    let out = cmd
        .env("CARGO_TARGET_DIR", &target)
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_else(|| panic!("{what} printed no path"))
        .to_string();
    assert!(Path::new(&path).is_file(), "{what}: no {path}");
    path
}

/// The component `python3 examples/run.py EXAMPLE --build-only` builds:
/// `python` (every Python example, with componentize-py) or `js` (the
/// JavaScript plugin, with ComponentizeJS). The tools are installed under
/// the target directory on first use; later builds are skipped while the
/// inputs are unchanged. Once per test process.
pub fn script_guest(example: &str) -> String {
    static BUILT: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    built
        .entry(example.to_string())
        .or_insert_with(|| {
            built_by(
                &format!("examples/run.py {example} --build-only"),
                std::process::Command::new("python3")
                    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/run.py"))
                    .args([example, "--build-only"]),
            )
        })
        .clone()
}

/// The test scripts of tests/python, built into one Python component
/// (examples/python/build.py); its first argument names the script.
pub fn python_test_guest() -> String {
    static BUILT: OnceLock<String> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let mut scripts: Vec<PathBuf> = std::fs::read_dir(root.join("tests/python"))
                .expect("tests/python")
                .map(|e| e.expect("tests/python entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "py"))
                .collect();
            scripts.sort();
            built_by(
                "examples/python/build.py (tests/python)",
                std::process::Command::new("python3")
                    .arg(root.join("examples/python/build.py"))
                    .arg("-o")
                    .arg(target_dir().join("python-guests/tests.wasm"))
                    .args(&scripts),
            )
        })
        .clone()
}

/// Standard output of a finished process, as text.
pub fn stdout_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error of a finished process, as text.
pub fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
