//! Guests for the sandbox-hardening tests: what a hostile or careless guest
//! does to the host through the safe SDK alone. `hardening <scenario> ...`;
//! prints `key=value` lines (see this crate's lib.rs).

use std::io::{IoSlice, IoSliceMut, Read, Write};

use capsock::{
    error_code, wait, OwnedHandle, Ready, RecvFlags, SendFlags, SocketExt, UnixDatagram,
    UnixSocketAddr, UnixStream,
};
use capsock_test_programs::{error, show, Report};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("oob_zero_length") => oob_zero_length(),
        Some("limits_io") => limits_io(),
        Some("big_io") => big_io(args[2].parse().unwrap()),
        Some("pin_fds") => pin_fds(),
        Some("fill_fds") => fill_fds(),
        Some("spin") => spin(),
        Some("block_recv") => block_recv(),
        Some("block_accept") => block_accept(),
        Some("block_read") => block_read(),
        Some("block_wait") => block_wait(),
        Some("sleep") => std::thread::sleep(std::time::Duration::from_secs(3600)),
        Some("grow") => grow(args[2].parse().unwrap()),
        Some("alloc") => alloc(args[2].parse().unwrap()),
        Some("recurse") => println!("depth={}", depth(args[2].parse().unwrap())),
        Some("bind_race") => bind_race(&args[2], args[3].parse().unwrap()),
        Some("bind_when_full") => bind_when_full(&args[2]),
        Some("tiny_timeout") => tiny_timeout(),
        Some("descriptor_modes") => descriptor_modes(),
        Some("big_write") => big_write(),
        Some("write_closed_pipe") => write_closed_pipe(),
        other => panic!("unknown scenario {other:?}"),
    }
}

/// Zero-length out-of-band receives with nothing but the SDK: each returns
/// normally, with nothing written and the truncation reported.
fn oob_zero_length() {
    let (a, b) = UnixStream::pair().unwrap();
    let oob = RecvFlags::OUT_OF_BAND;
    for (key, flags) in [("peek", oob | RecvFlags::PEEK), ("consume", oob)] {
        a.send_msg(
            &[std::io::IoSlice::new(b"!")],
            &[],
            SendFlags::OUT_OF_BAND,
            None,
        )
        .unwrap();
        let m = b.recv_msg(&mut [], 0, flags);
        show(key, m.map(|m| (m.bytes, m.flags)));
        let mut byte = [0u8; 1];
        let rest = b.recv_msg(
            &mut [IoSliceMut::new(&mut byte)],
            0,
            oob | RecvFlags::DONT_WAIT,
        );
        show(
            &format!("{key}_then"),
            rest.map(|m| (m.bytes, byte[0] as char)),
        );
    }
    (&a).write_all(b"still in band").unwrap();
    let mut buf = [0u8; 13];
    (&b).read_exact(&mut buf).unwrap();
    println!("in_band={}", String::from_utf8_lossy(&buf));
}

/// Under a message limit of 1000 bytes (the test's): stream sends and
/// every receive are short, a datagram above it is refused, and
/// `write_all` / `read_exact` of more still work. "pipe_w" and "pipe_r" are
/// the two ends of a pipe.
fn limits_io() {
    let (a, b) = UnixStream::pair().unwrap();
    show("stream_send", (&a).write(&[1u8; 3000]));
    let halves = [IoSlice::new(&[2u8; 1500]), IoSlice::new(&[3u8; 1500])];
    show(
        "stream_send_msg",
        a.send_msg(&halves, &[], SendFlags::empty(), None),
    );
    let mut buf = vec![0u8; 5000];
    show("stream_recv", (&b).read(&mut buf));
    show(
        "stream_recv_msg",
        b.recv_msg(&mut [IoSliceMut::new(&mut buf)], 0, RecvFlags::empty())
            .map(|m| (m.bytes, buf[..m.bytes].iter().all(|&x| x == 2))),
    );
    (&a).write_all(&[7u8; 5000]).unwrap();
    let mut got = vec![0u8; 5000];
    (&b).read_exact(&mut got).unwrap();
    println!("write_all_read_exact={}", got.iter().all(|&x| x == 7));

    let (da, _db) = UnixDatagram::pair().unwrap();
    show("datagram_send", da.send(&[0u8; 3000]));
    show("datagram_send_limit", da.send(&[0u8; 1000]));

    let pipe_w: OwnedHandle = capsock::preopened("pipe_w").unwrap();
    let pipe_r: OwnedHandle = capsock::preopened("pipe_r").unwrap();
    show("pipe_write", (&pipe_w).write(&[9u8; 3000]));
    show("pipe_read", (&pipe_r).read(&mut buf));
}

/// `write_all` then `read_exact` of `len` bytes (more than the default
/// 8 MiB message limit) through "peer", which echoes them back.
fn big_io(len: usize) {
    let peer = UnixStream::preopened("peer").unwrap();
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    (&peer).write_all(&data).unwrap();
    let mut back = vec![0u8; len];
    (&peer).read_exact(&mut back).unwrap();
    println!("echoed_intact={}", back == data);
}

/// Tries to make the host hold more fds than the handle limit allows with
/// pollables: for each pair, three readiness pollables on one end, which is
/// then dropped, until the limit refuses more. Then tells "peer" it is
/// holding them and waits on all of them (and on "peer") until the test
/// answers, so that the host counts its fds while every pollable waits.
fn pin_fds() {
    let peer = UnixStream::preopened("peer").unwrap();
    let mut kept = Vec::new();
    let mut pollables: Vec<Ready> = Vec::new();
    let error = 'fill: loop {
        let (a, b) = match UnixStream::pair() {
            Ok(p) => p,
            Err(e) => break e,
        };
        kept.push(b);
        for _ in 0..3 {
            match a.readable() {
                Ok(r) => pollables.push(r),
                Err(e) => break 'fill e,
            }
        }
    };
    println!("error={}", error_code(&error).map_or("none", |c| c.name()));
    println!("sockets={}", kept.len());
    println!("pollables={}", pollables.len());
    // Waiting again must not register another copy of the fd per pollable.
    for _ in 0..3 {
        let all: Vec<&Ready> = pollables.iter().collect();
        wait(&all, Some(std::time::Duration::ZERO)).unwrap();
    }
    drop(pollables.pop()); // room for the peer's own pollable
    let peer_ready = peer.readable().unwrap();
    (&peer).write_all(b"h").unwrap();
    let mut all: Vec<&Ready> = pollables.iter().collect();
    all.push(&peer_ready);
    let woke = wait(&all, None).unwrap();
    println!("woke={}", woke.report());
}

/// Makes socket pairs until the host refuses one, then shows that the
/// host still serves it: standard output, readiness, and a new pair once
/// some are dropped.
fn fill_fds() {
    let mut held = Vec::new();
    let error = loop {
        match UnixStream::pair() {
            Ok(p) => held.push(p),
            Err(e) => break e,
        }
    };
    println!("pairs={}", held.len());
    println!(
        "error={}",
        error_code(&error).map_or("none".to_string(), |c| c.name().to_string())
    );
    let (a, _) = &held[0];
    show(
        "wait",
        a.writable()
            .and_then(|r| wait(&[&r], None).map(|v| v.len())),
    );
    held.truncate(held.len() / 2);
    println!("pair_after_drop={}", UnixStream::pair().is_ok());
}

/// Runs for ever, calling nothing.
fn spin() {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

/// Blocks in `recv` on "peer", which never sends.
fn block_recv() {
    let peer = UnixStream::preopened("peer").unwrap();
    println!("receiving");
    let mut buf = [0u8; 16];
    show("returned", (&peer).read(&mut buf));
}

/// Blocks in `accept` on "listener", which nobody connects to.
fn block_accept() {
    let listener = capsock::UnixListener::preopened("listener").unwrap();
    println!("accepting");
    show("returned", listener.accept().map(|_| ()));
}

/// Blocks in a `read` of "pipe", which nobody writes to.
fn block_read() {
    let pipe = capsock::preopened("pipe").unwrap();
    println!("reading");
    let mut buf = [0u8; 16];
    show("returned", (&pipe).read(&mut buf));
}

/// Blocks in `wait` for "peer" to be readable, with no timeout.
fn block_wait() {
    let peer = UnixStream::preopened("peer").unwrap();
    let ready = peer.readable().unwrap();
    println!("waiting");
    show("returned", wait(&[&ready], None));
}

/// `memory.grow` by `bytes` (rounded up to whole pages): prints the old
/// size in pages, or -1 when refused.
fn grow(bytes: usize) {
    let pages = bytes.div_ceil(65536);
    let old = core::arch::wasm32::memory_grow(0, pages);
    println!("grow={}", old as isize);
}

/// Allocates and touches `bytes` on the heap: the allocator aborts the
/// guest if the host refuses to grow its memory.
fn alloc(bytes: usize) {
    let v = vec![1u8; bytes];
    println!("allocated={}", std::hint::black_box(&v).len());
}

/// Binds `n` datagram sockets at `DIR/rI.sock` (dropping each: its file
/// stays); reports how many binds succeeded and how many failed, by error.
fn bind_race(dir: &str, n: usize) {
    let (mut ok, mut failed) = (0, std::collections::BTreeMap::<String, usize>::new());
    for i in 0..n {
        match UnixDatagram::bind(format!("{dir}/r{i}.sock")) {
            Ok(_) => ok += 1,
            Err(e) => *failed.entry(format!("{:?}", e.kind())).or_default() += 1,
        }
    }
    println!("ok={ok}");
    println!("failed={}", failed.report());
}

/// With the host's fd table full, a bind in a subdirectory of `dir` (which
/// needs an fd for the subdirectory) fails, and the socket is left unbound
/// with no file created; a bind directly in `dir` (which needs none) works.
fn bind_when_full(dir: &str) {
    let mut held = Vec::new();
    while let Ok(p) = UnixStream::pair() {
        held.push(p);
    }
    // One fd free: the new socket takes it, the table is full again.
    let (a, _b) = held.pop().unwrap();
    drop(a);
    let sock = UnixDatagram::unbound().unwrap();
    let addr = UnixSocketAddr::from_pathname(format!("{dir}/sub/full.sock")).unwrap();
    show("bind_sub", sock.bind_to_addr(&addr));
    show("local_after", sock.local_addr());
    let top = UnixSocketAddr::from_pathname(format!("{dir}/top.sock")).unwrap();
    show("bind_top", sock.bind_to_addr(&top));
    show("local_top", sock.local_addr());
}

/// Timeouts below the kernel's microsecond resolution still time out.
fn tiny_timeout() {
    let (a, _b) = UnixStream::pair().unwrap();
    a.set_read_timeout(Some(std::time::Duration::from_nanos(500)))
        .unwrap();
    let mut buf = [0u8; 4];
    show("read", (&a).read(&mut buf));
    a.set_write_timeout(Some(std::time::Duration::from_nanos(1)))
        .unwrap();
    let chunk = [0u8; 65536];
    let err = loop {
        if let Err(e) = (&a).write(&chunk) {
            break e;
        }
    };
    println!("write={}", error(&err));
}

fn timed<T: Report>(key: &str, f: impl FnOnce() -> std::io::Result<T>) {
    let start = std::time::Instant::now();
    show(key, f());
    println!("{key}_ms={}", start.elapsed().as_millis());
}

/// Non-blocking mode, timeouts and readiness on descriptors: "pipe" and
/// "pipe_w" are the two ends of a pipe, "fifo" a FIFO the test opened by
/// name (read and write), all empty.
fn descriptor_modes() {
    use std::time::Duration;
    let pipe = capsock::preopened("pipe").unwrap();
    let pipe_w = capsock::preopened("pipe_w").unwrap();
    let fifo = capsock::preopened("fifo").unwrap();
    let mut buf = [0u8; 8];

    pipe.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    timed("pipe_timed_read", || (&pipe).read(&mut buf));
    pipe.set_read_timeout(None).unwrap();
    pipe.set_nonblocking(true).unwrap();
    show("pipe_nonblocking_read", (&pipe).read(&mut buf));
    pipe.set_nonblocking(false).unwrap();
    let readable = pipe.readable().unwrap();
    show(
        "pipe_wait_empty",
        wait(&[&readable], Some(Duration::from_millis(50))),
    );
    (&pipe_w).write_all(b"x").unwrap();
    show("pipe_wait_data", wait(&[&readable], None));
    show("pipe_read", (&pipe).read(&mut buf));

    // Fill the pipe, then a timed write finds no room.
    pipe_w.set_nonblocking(true).unwrap();
    let chunk = [0u8; 4096];
    while (&pipe_w).write(&chunk).is_ok() {}
    pipe_w.set_nonblocking(false).unwrap();
    pipe_w
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    timed("pipe_timed_write", || (&pipe_w).write(&chunk));
    let writable = pipe_w.writable().unwrap();
    show(
        "pipe_wait_full",
        wait(&[&writable], Some(Duration::from_millis(50))),
    );

    fifo.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    timed("fifo_timed_read", || (&fifo).read(&mut buf));
    (&fifo).write_all(b"yz").unwrap();
    show(
        "fifo_read",
        (&fifo)
            .read(&mut buf)
            .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned()),
    );
}

/// Writes 200 MiB to "file" in one call: more than the host takes in one
/// call, which must be a short write, not a trap.
fn big_write() {
    let file = capsock::preopened("file").unwrap();
    let data = vec![5u8; 200 << 20];
    show("write", (&file).write(&data));
}

/// Writes to "pipe_w", whose read end is closed, and through a descriptor
/// to "sock_w", a socket whose peer is closed.
fn write_closed_pipe() {
    let pipe_w = capsock::preopened("pipe_w").unwrap();
    show("pipe", (&pipe_w).write(b"nobody reads this"));
    let sock_w = capsock::preopened("sock_w").unwrap();
    show("socket", (&sock_w).write(b"nor this"));
    println!("alive=true");
}

/// Recursion `n` calls deep (not turned into a loop).
fn depth(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        1 + std::hint::black_box(depth(std::hint::black_box(n - 1)))
    }
}
