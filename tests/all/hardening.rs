//! A sandbox no guest can crash, starve or escape: memory safety against
//! what the kernel returns, resource limits, descriptor accounting, the
//! bind race and the smaller holes, each tried the way a hostile guest
//! would.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use capsock_host::{GuestStopped, Limits, SandboxLimits, StopReason};

use crate::support::{self, guests, open_fds, run_guest, run_guest_with, Options};

/// A zero-length out-of-band receive: Linux returns 1 for it though it
/// copied nothing. Through the raw WIT (`recv`, `recv-msg`, with and without
/// `peek`) and through the safe SDK, each call returns normally: nothing
/// written, the truncation reported, the in-band stream intact.
#[test]
fn zero_length_out_of_band_receives_return_normally() {
    let _fds = support::exclusive(&[guests::MISUSE, guests::HARDENING]);
    let run = support::misuse("oob_zero_length", Vec::new(), Options::default());
    assert_eq!(run.get("recv_peek"), "ok:0");
    assert_eq!(run.get("recv_msg_peek"), "ok:0/truncated|out-of-band");
    assert_eq!(run.get("recv"), "ok:0");
    assert_eq!(
        run.get("after_recv"),
        "invalid-argument",
        "the zero-length receive consumed the byte"
    );
    assert_eq!(run.get("recv_msg"), "ok:0/truncated|out-of-band");
    assert_eq!(run.get("after_recv_msg"), "invalid-argument");
    assert_eq!(run.get("in_band"), "ok:in-band");

    let baseline = open_fds();
    let run = run_guest(guests::HARDENING, &["oob_zero_length"], Vec::new()).unwrap();
    assert_eq!(open_fds(), baseline);
    run.assert_ok();
    assert_eq!(run.get("peek"), "ok:0/truncated|out-of-band");
    assert_eq!(run.get("peek_then"), "ok:1/!", "a peek leaves the byte");
    assert_eq!(run.get("consume"), "ok:0/truncated|out-of-band");
    assert_eq!(run.get("consume_then"), "err:InvalidInput:invalid-argument");
    assert_eq!(run.get("in_band"), "still in band");
}

/// Under an embedder's message limit (here 1000 bytes), a stream send and
/// every receive or descriptor I/O above it are short, as `sendmsg(2)` and
/// `read(2)` may be; a datagram above it is refused; and the SDK's
/// `write_all` / `read_exact` of more still work.
#[test]
fn message_limit_makes_stream_io_short_and_refuses_big_datagrams() {
    let _fds = support::exclusive(&[guests::HARDENING]);
    let (r, w) = std::io::pipe().unwrap();
    let baseline = open_fds();
    let opts = Options {
        limits: Some(Limits::default().max_message_bytes(1000)),
        ..Options::default()
    };
    let grants = vec![("pipe_r", r.into()), ("pipe_w", w.into())];
    let run = run_guest_with(guests::HARDENING, &["limits_io"], grants, opts).unwrap();
    assert_eq!(open_fds(), baseline - 2);
    run.assert_ok();
    assert_eq!(run.get("stream_send"), "ok:1000");
    assert_eq!(run.get("stream_send_msg"), "ok:1000");
    assert_eq!(run.get("stream_recv"), "ok:1000");
    assert_eq!(run.get("stream_recv_msg"), "ok:1000/true");
    assert_eq!(run.get("write_all_read_exact"), "true");
    assert_eq!(run.get("datagram_send"), "err:InvalidInput:message-size");
    assert_eq!(run.get("datagram_send_limit"), "ok:1000");
    assert_eq!(run.get("pipe_write"), "ok:1000");
    assert_eq!(run.get("pipe_read"), "ok:1000");
}

/// `write_all` and `read_exact` of 20 MiB through the SDK, with the default
/// 8 MiB message limit, against a native peer that echoes them.
#[test]
fn write_all_and_read_exact_move_more_than_the_message_limit() {
    let _fds = support::shared();
    const LEN: usize = 20 << 20;
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let echo = std::thread::spawn(move || {
        let mut buf = vec![0u8; LEN];
        ours.read_exact(&mut buf).unwrap();
        ours.write_all(&buf).unwrap();
    });
    let len = LEN.to_string();
    let run = run_guest(
        guests::HARDENING,
        &["big_io", &len],
        vec![("peer", theirs.into())],
    )
    .unwrap();
    echo.join().unwrap();
    run.assert_ok();
    assert_eq!(run.get("echoed_intact"), "true");
}

/// A guest holding pollables on sockets it dropped, all waiting at once,
/// makes the host hold no more fds than its handle limit allows: a
/// pollable must neither keep a socket's fd open outside the limit nor
/// register a private dup of it on each wait.
#[test]
fn the_handle_limit_bounds_the_fds_a_guest_can_pin_with_pollables() {
    let _fds = support::exclusive(&[guests::HARDENING]);
    const LIMIT: usize = 64;
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let baseline = open_fds();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let counted = std::thread::scope(|s| {
        let guest = s.spawn(move || {
            // SAFETY (test): gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            let opts = Options {
                limits: Some(Limits::default().max_handles(LIMIT)),
                ..Options::default()
            };
            run_guest_with(
                guests::HARDENING,
                &["pin_fds"],
                vec![("peer", theirs.into())],
                opts,
            )
        });
        let tid = tid_rx.recv().unwrap();
        let mut byte = [0u8; 1];
        ours.read_exact(&mut byte).unwrap();
        // The guest is about to wait on every pollable: count once its
        // thread sleeps there.
        sleeping(tid);
        let during = open_fds();
        ours.write_all(b"go").unwrap();
        let run = guest.join().unwrap().unwrap();
        run.assert_ok();
        assert_eq!(run.get("error"), "limit-reached");
        (during, run)
    });
    let (during, run) = counted;
    eprintln!(
        "fds: baseline {baseline}, during the wait {during}; guest: {}",
        run.stdout
    );
    let sockets: usize = run.get("sockets").parse().unwrap();
    assert!(
        during >= baseline + sockets,
        "counted while the guest held its {sockets} sockets: {during} fds, baseline {baseline}"
    );
    assert!(
        during <= baseline + LIMIT,
        "{during} fds while the guest waited, baseline {baseline}, handle limit {LIMIT}: {run:?}"
    );
    assert_eq!(
        open_fds(),
        baseline - 1,
        "the granted socket closed with the guest"
    );
}

/// Returns once the thread `tid` of this process sleeps (state `S` in
/// `/proc`), as a guest's thread does inside a blocking wait.
fn sleeping(tid: libc::pid_t) {
    let stat = format!("/proc/self/task/{tid}/stat");
    for _ in 0..20_000 {
        let text = std::fs::read_to_string(&stat).unwrap();
        // "TID (COMM) STATE ...": the command may contain anything but ')'.
        let state = text.rsplit_once(") ").unwrap().1.chars().next();
        if state == Some('S') {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("thread {tid} never slept");
}

/// Runs the hardening guest's `scenario` under a 300 ms time limit with
/// the grants `grants` makes, expects it to be stopped for it, and checks
/// that every fd it held was closed: with its calls blocking their thread,
/// then waiting on the reactor. The caller holds [`support::exclusive`].
fn stopped_after_timeout(scenario: &str, grants: impl Fn() -> Vec<(&'static str, OwnedFd)>) {
    for host_calls in support::HOST_CALLS {
        let grants = grants();
        let closed = grants.len();
        let baseline = open_fds();
        let opts = Options {
            sandbox: Some(SandboxLimits::default().timeout(Duration::from_millis(300))),
            host_calls,
            ..Options::default()
        };
        let err = run_guest_with(guests::HARDENING, &[scenario], grants, opts)
            .expect_err("the guest must be stopped");
        let stopped = err
            .downcast_ref::<GuestStopped>()
            .unwrap_or_else(|| panic!("{scenario} ({host_calls:?}): not stopped: {err:#}"));
        assert_eq!(
            stopped.reason,
            StopReason::Timeout,
            "{scenario} ({host_calls:?})"
        );
        assert_eq!(
            open_fds(),
            baseline - closed,
            "{scenario} ({host_calls:?}) leaked fds"
        );
    }
}

#[test]
fn a_timeout_stops_a_guest_spinning_in_wasm() {
    let _fds = support::exclusive(&[guests::HARDENING]);
    stopped_after_timeout("spin", Vec::new);
}

#[test]
fn a_timeout_stops_a_guest_blocked_in_recv() {
    let _fds = support::exclusive(&[guests::HARDENING]);
    let (_ours, theirs) = UnixStream::pair().unwrap();
    stopped_after_timeout("block_recv", || {
        vec![("peer", theirs.try_clone().unwrap().into())]
    });
}

#[test]
fn a_timeout_stops_a_guest_blocked_in_accept() {
    let _fds = support::exclusive(&[guests::HARDENING]);
    let dir = tempfile::tempdir().unwrap();
    let listener = UnixListener::bind(dir.path().join("l.sock")).unwrap();
    stopped_after_timeout("block_accept", || {
        vec![("listener", listener.try_clone().unwrap().into())]
    });
}

#[test]
fn a_timeout_stops_a_guest_blocked_reading_a_pipe() {
    let _fds = support::exclusive(&[guests::HARDENING]);
    let (r, _w) = std::io::pipe().unwrap();
    stopped_after_timeout("block_read", || {
        vec![("pipe", r.try_clone().unwrap().into())]
    });
}

#[test]
fn a_timeout_stops_a_guest_waiting_on_readiness() {
    let _fds = support::exclusive(&[guests::HARDENING]);
    let (_ours, theirs) = UnixStream::pair().unwrap();
    stopped_after_timeout("block_wait", || {
        vec![("peer", theirs.try_clone().unwrap().into())]
    });
}

#[test]
fn a_timeout_stops_a_guest_sleeping_in_wasi() {
    let _fds = support::exclusive(&[guests::HARDENING]);
    stopped_after_timeout("sleep", Vec::new);
}

/// The budget bounds what an embedder's own store gives a core module
/// too: a table of a billion elements cannot even be instantiated, and
/// memories grow only until the budget is spent.
#[test]
fn the_memory_budget_bounds_tables_and_memories_in_an_embedders_store() {
    let _fds = support::shared();
    let engine = wasmtime::Engine::default();
    let limits = SandboxLimits::default().max_memory_total(Some(64 << 20));
    let mut store = wasmtime::Store::new(&engine, limits.limiter());
    store.limiter(|l| l);
    let table = wasmtime::Module::new(&engine, "(module (table 1000000000 funcref))").unwrap();
    let err = wasmtime::Instance::new(&mut store, &table, &[]).unwrap_err();
    assert!(format!("{err:?}").contains("table"), "{err:?}");
    assert!(store
        .data()
        .refused()
        .unwrap()
        .contains("max-memory-total=67108864"));

    let mut store = wasmtime::Store::new(&engine, limits.limiter());
    store.limiter(|l| l);
    let grow = wasmtime::Module::new(
        &engine,
        r#"(module (memory 1) (memory $b 1)
             (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
             (func (export "grow_b") (param i32) (result i32) (memory.grow $b (local.get 0))))"#,
    )
    .unwrap();
    let instance = wasmtime::Instance::new(&mut store, &grow, &[]).unwrap();
    let a = instance
        .get_typed_func::<i32, i32>(&mut store, "grow")
        .unwrap();
    let b = instance
        .get_typed_func::<i32, i32>(&mut store, "grow_b")
        .unwrap();
    assert_eq!(a.call(&mut store, 600).unwrap(), 1, "about 37.5 MiB");
    assert_eq!(
        b.call(&mut store, 600).unwrap(),
        -1,
        "a second 37.5 MiB would pass 64 MiB"
    );
    assert_eq!(
        b.call(&mut store, 300).unwrap(),
        1,
        "about 18.75 MiB still fit"
    );
}

/// What one run of the bind race saw.
struct Race {
    /// Swaps made after the guest's first socket file appeared and before
    /// its last one did: a lower bound of the swaps during its bind loop
    /// (0 when either bind was refused).
    swaps_during: u64,
    /// For each bind, in order: whether its socket file is in the real
    /// directory.
    landed: Vec<bool>,
    /// The guest's failed binds, by error kind (`[Kind:count,...]`).
    failed: String,
}

/// Whether `name` exists in the directory `dir` (not following a link).
fn exists_in(dir: &std::fs::File, name: &std::ffi::CStr) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY (test): a valid directory fd, a NUL-terminated name and a
    // `stat` buffer the call fills.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        ) == 0
    }
}

/// Swaps `a` and `b` (`renameat2(RENAME_EXCHANGE)`) until `stop`, and
/// after each swap looks for the guest's first and last socket files in
/// `real` (the directory being swapped, whatever its name then). Returns
/// the swaps made strictly between seeing the first and seeing the last.
fn swap_until(
    stop: &std::sync::atomic::AtomicBool,
    (a, b): (&Path, &Path),
    real: &std::fs::File,
    (first, last): (&std::ffi::CStr, &std::ffi::CStr),
) -> u64 {
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let (a, b) = (c(a), c(b));
    let (mut swaps, mut first_at, mut last_at) = (0u64, None, None);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        // SAFETY (test): both paths are valid NUL-terminated strings.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        assert_eq!(r, 0, "renameat2: {}", std::io::Error::last_os_error());
        swaps += 1;
        if first_at.is_none() && exists_in(real, first) {
            first_at = Some(swaps);
        }
        if last_at.is_none() && exists_in(real, last) {
            last_at = Some(swaps);
        }
    }
    match (first_at, last_at) {
        (Some(f), Some(l)) => l.saturating_sub(f + 1),
        _ => 0,
    }
}

/// The guest binds `binds` datagram sockets in `guest_dir` (under
/// `policy`) while a thread swaps the directory `dir` with `link`, a
/// symbolic link to `outside`. Every bind reported must be in the real
/// directory (whichever name it has by then), and nothing may appear
/// outside. Empties the real directory again for the next run.
fn binds_under_a_racing_swap(
    policy: capsock_host::Policy,
    (dir, link, outside): (&Path, &Path, &Path),
    guest_dir: &str,
    binds: usize,
) -> Race {
    // The real directory is under either name after an earlier run.
    let real = || if dir.is_symlink() { link } else { dir };
    let real_dir = std::fs::File::open(real()).unwrap();
    let file = |i: usize| std::ffi::CString::new(format!("r{i}.sock")).unwrap();
    let (first, last) = (file(0), file(binds - 1));
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let swapper = s.spawn(|| swap_until(&stop, (dir, link), &real_dir, (&first, &last)));
        let opts = Options {
            policy: Some(policy),
            ..Options::default()
        };
        let n = binds.to_string();
        let run = run_guest_with(
            guests::HARDENING,
            &["bind_race", guest_dir, &n],
            Vec::new(),
            opts,
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let swaps_during = swapper.join().unwrap();
        let run = run.unwrap();
        run.assert_ok();
        let ok: usize = run.get("ok").parse().unwrap();
        let mut landed = vec![false; binds];
        for entry in std::fs::read_dir(real()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            let i: usize = name
                .strip_prefix('r')
                .and_then(|n| n.strip_suffix(".sock"))
                .and_then(|i| i.parse().ok())
                .unwrap_or_else(|| panic!("not the guest's: {name}"));
            landed[i] = true;
            std::fs::remove_file(&path).unwrap();
        }
        let inside = landed.iter().filter(|&&l| l).count();
        assert_eq!(inside, ok, "every bind reported is inside: {run:?}");
        assert_eq!(
            std::fs::read_dir(outside).unwrap().count(),
            0,
            "a socket escaped: {run:?}"
        );
        Race {
            swaps_during,
            landed,
            failed: run.get("failed"),
        }
    })
}

/// Runs the bind race with 20,000 binds, then twice as many each time,
/// until `overlapped` says that binds and swaps really overlapped (the
/// swapper is a thread, so that is likely but not certain); every run
/// must pass `check`. Returns the run that overlapped.
fn race_until_overlapped(
    policy: &capsock_host::Policy,
    paths: (&Path, &Path, &Path),
    guest_dir: &str,
    check: impl Fn(&Race),
    overlapped: impl Fn(&Race) -> bool,
) -> Race {
    const RUNS: u32 = 4;
    for run in 0..RUNS {
        let binds = 20_000 << run;
        let race = binds_under_a_racing_swap(policy.clone(), paths, guest_dir, binds);
        check(&race);
        if overlapped(&race) {
            return race;
        }
        eprintln!(
            "{binds} binds barely overlapped the swaps ({} swaps during them); again",
            race.swaps_during
        );
    }
    panic!("in {RUNS} runs the binds never overlapped the swaps enough to test anything");
}

/// The granted directory itself swapped with a symbolic link to a
/// directory outside, 20,000 binds (or more, until at least 100 swaps
/// happened while the guest was binding) directly in it: none escapes,
/// and none is refused (the bind goes through the directory's own fd).
#[test]
fn binds_in_the_granted_directory_cannot_be_redirected_by_swapping_it() {
    let _fds = support::shared();
    let root = tempfile::tempdir().unwrap();
    let (t, evil, outside) = (
        root.path().join("t"),
        root.path().join("evil"),
        root.path().join("outside"),
    );
    std::fs::create_dir(&t).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, &evil).unwrap();
    let mut policy = capsock_host::Policy::new();
    policy.allow_unix_dir(&t, "/run/t").unwrap();
    let race = race_until_overlapped(
        &policy,
        (&t, &evil, &outside),
        "/run/t",
        |race| {
            assert!(race.landed.iter().all(|&l| l), "every bind landed");
            assert_eq!(race.failed, "[]");
        },
        |race| race.swaps_during >= 100,
    );
    eprintln!(
        "{} binds, {} swaps during them, 0 escapes, 0 refusals",
        race.landed.len(),
        race.swaps_during
    );
}

/// A subdirectory of the granted directory swapped with a symbolic link
/// to a directory outside: every bind lands inside or is refused
/// (`access-denied` when the path resolves to the link), none escapes. The
/// binds themselves show the overlap: in bind order, landed and refused
/// alternate at least 10 times (or the race runs again, with more binds).
#[test]
fn binds_in_a_subdirectory_cannot_be_redirected_by_swapping_it() {
    let _fds = support::shared();
    let root = tempfile::tempdir().unwrap();
    let (t, outside) = (root.path().join("t"), root.path().join("outside"));
    std::fs::create_dir_all(t.join("sub")).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, t.join("other")).unwrap();
    let mut policy = capsock_host::Policy::new();
    policy.allow_unix_dir(&t, "/run/t").unwrap();
    let (sub, other) = (t.join("sub"), t.join("other"));
    let refused = |race: &Race| race.landed.iter().filter(|&&l| !l).count();
    let changes = |race: &Race| race.landed.windows(2).filter(|w| w[0] != w[1]).count();
    let race = race_until_overlapped(
        &policy,
        (&sub, &other, &outside),
        "/run/t/sub",
        |race| {
            let only_refusals = match refused(race) {
                0 => "[]".to_string(),
                n => format!("[PermissionDenied:{n}]"),
            };
            assert_eq!(race.failed, only_refusals, "only refusals");
        },
        |race| changes(race) >= 10,
    );
    eprintln!(
        "{} binds: {} refused, landed and refused alternating {} times; 0 escapes",
        race.landed.len(),
        refused(&race),
        changes(&race)
    );
}

/// A read or write timeout below a microsecond (the kernel's resolution
/// for `SO_RCVTIMEO`) times out, rather than meaning "no timeout" (what a
/// zero `timeval` means to the kernel) and hanging.
#[test]
fn sub_microsecond_socket_timeouts_still_time_out() {
    let _fds = support::shared();
    for host_calls in support::HOST_CALLS {
        let opts = Options {
            // Were the timeouts lost, this stops the guest instead of a hang.
            sandbox: Some(SandboxLimits::default().timeout(Duration::from_secs(20))),
            host_calls,
            ..Options::default()
        };
        let run = run_guest_with(guests::HARDENING, &["tiny_timeout"], Vec::new(), opts).unwrap();
        run.assert_ok();
        assert_eq!(run.get("read"), "err:TimedOut:timed-out");
        assert_eq!(run.get("write"), "err:TimedOut:timed-out");
    }
}

/// Descriptors (a pipe, a FIFO opened by name) have non-blocking mode,
/// read and write timeouts and readiness, like sockets.
#[test]
fn descriptors_have_nonblocking_mode_timeouts_and_readiness() {
    let _fds = support::exclusive(&[guests::HARDENING]);
    for host_calls in support::HOST_CALLS {
        let dir = tempfile::tempdir().unwrap();
        let fifo_path =
            std::ffi::CString::new(dir.path().join("f").into_os_string().into_encoded_bytes())
                .unwrap();
        // SAFETY (test): a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo_path.as_ptr(), 0o600) }, 0);
        let fifo = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.path().join("f"))
            .unwrap();
        let (r, w) = std::io::pipe().unwrap();
        let baseline = open_fds();
        let opts = Options {
            sandbox: Some(SandboxLimits::default().timeout(Duration::from_secs(20))),
            host_calls,
            ..Options::default()
        };
        let grants = vec![
            ("pipe", r.into()),
            ("pipe_w", w.into()),
            ("fifo", fifo.into()),
        ];
        let run = run_guest_with(guests::HARDENING, &["descriptor_modes"], grants, opts).unwrap();
        assert_eq!(open_fds(), baseline - 3);
        run.assert_ok();
        let ms = |k: &str| run.get(k).parse::<u64>().unwrap();
        assert_eq!(run.get("pipe_timed_read"), "err:TimedOut:timed-out");
        assert!(ms("pipe_timed_read_ms") >= 100, "{run:?}");
        assert_eq!(
            run.get("pipe_nonblocking_read"),
            "err:WouldBlock:would-block"
        );
        assert_eq!(run.get("pipe_wait_empty"), "ok:[]");
        assert_eq!(run.get("pipe_wait_data"), "ok:[0]");
        assert_eq!(run.get("pipe_read"), "ok:1");
        assert_eq!(run.get("pipe_timed_write"), "err:TimedOut:timed-out");
        assert!(ms("pipe_timed_write_ms") >= 100, "{run:?}");
        assert_eq!(run.get("pipe_wait_full"), "ok:[]");
        assert_eq!(run.get("fifo_timed_read"), "err:TimedOut:timed-out");
        assert_eq!(run.get("fifo_read"), "ok:yz");
    }
}

/// A descriptor write of 200 MiB (more than wasmtime lets a guest hand the
/// host in one call) is a short write of the message limit, not a trap.
#[test]
fn a_huge_descriptor_write_is_short_not_a_trap() {
    let _fds = support::shared();
    let file = tempfile::tempfile().unwrap();
    let len = || file.metadata().unwrap().len();
    let run = run_guest(
        guests::HARDENING,
        &["big_write"],
        vec![("file", file.try_clone().unwrap().into())],
    )
    .unwrap();
    run.assert_ok();
    assert_eq!(run.get("write"), format!("ok:{}", 8 << 20));
    assert_eq!(len(), 8 << 20);
}

/// An embedder with its own store and the synchronous bindings gets the
/// same stop: `SandboxLimits` configures its engine and store, a
/// `Deadline` stops the guest blocked in `recv`, and the error says why.
#[test]
fn an_embedders_own_store_stops_a_blocked_guest_at_its_deadline() {
    let _fds = support::shared();
    use capsock_host::limits::{Deadline, Stopped};
    use capsock_host::{CapsockCtx, SandboxState};

    let limits = SandboxLimits::default().timeout(Duration::from_millis(300));
    let mut config = wasmtime::Config::new();
    limits.configure_engine(&mut config);
    let engine = wasmtime::Engine::new(&config).unwrap();
    let mut linker = wasmtime::component::Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    capsock_host::add_to_linker_sync(&mut linker).unwrap();
    let component = wasmtime::component::Component::from_file(&engine, guests::HARDENING).unwrap();

    let (_ours, theirs) = UnixStream::pair().unwrap();
    let capsock = CapsockCtx::builder().grant("peer", theirs).build();
    let interrupt = capsock.interrupt().clone();
    let wasi = wasmtime_wasi::WasiCtxBuilder::new()
        .args(&["hardening", "block_recv"])
        .build();
    let host = SandboxState::with_limits(wasi, capsock, &limits);
    let mut store = wasmtime::Store::new(&engine, host);
    store.limiter(|h| h.limiter_mut());
    limits.configure_store(&mut store, &interrupt).unwrap();
    let command =
        wasmtime_wasi::p2::bindings::sync::Command::instantiate(&mut store, &component, &linker)
            .unwrap();
    let started = Instant::now();
    let _deadline = Deadline::start(limits.timeout.unwrap(), &interrupt, &engine);
    let err = command.wasi_cli_run().call_run(&mut store).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Stopped>(),
        Some(&Stopped(StopReason::Timeout)),
        "{err:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before its deadline"
    );
}
