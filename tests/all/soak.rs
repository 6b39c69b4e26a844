//! The soak: the `soak` guest performs random operations (seeded) against a
//! native peer and a hostile Python peer. `cargo test` runs 20,000
//! operations; `CAPSOCK_SOAK_OPS=1000000` runs a million (and
//! `CAPSOCK_SOAK_SEED` picks another sequence). It asserts no trap and no
//! host crash, every host fd back to its baseline, and a flat resident set
//! from one run to the next (the exclusive fd lock also keeps every other
//! test, and so its memory, out of the process while the soak runs).
//! `cargo test --test all soak::` runs the soak alone.

use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use capsock_host::native;

use crate::support::{self, guests, open_fds, run_guest, GuestRun, PythonPeer};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// This process's resident set, in KiB (`/proc/self/statm`).
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

/// A native peer: drains whatever the guest sends (closing the fds), and
/// now and then sends data with a pipe end or a file, never blocking on the
/// guest, until the guest hangs up. Returns (messages sent, fds received).
fn native_peer(sock: UnixStream) -> (u64, u64) {
    sock.set_nonblocking(true).unwrap();
    let file = tempfile::tempfile().unwrap();
    let (mut sent, mut fds_in, mut round) = (0u64, 0u64, 0u64);
    loop {
        round += 1;
        match native::recv_fds(sock.as_fd(), 65536, 253) {
            Ok((data, fds, _)) => {
                fds_in += fds.len() as u64;
                if data.is_empty() && fds.is_empty() {
                    return (sent, fds_in);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(_) => return (sent, fds_in),
        }
        if round % 7 == 0 {
            let (r, w) = std::io::pipe().unwrap();
            let lend = [r.as_fd(), file.as_fd()];
            let n = (round % 3) as usize;
            if native::send_fds(sock.as_fd(), &[b'n'; 300], &lend[..n]).is_ok() {
                sent += 1;
            }
            drop(w);
        }
    }
}

/// One soak run of `ops` operations with `seed`; checks the run and the
/// fd accounting, returns the guest's report.
fn soak(seed: u64, ops: u64) -> GuestRun {
    let baseline = open_fds();
    let python = PythonPeer::start_with("python3", "hostile", "stream", &[&seed.to_string()]);
    let hostile = python.connect();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let native = std::thread::spawn(move || native_peer(ours));
    let (seed_s, ops_s) = (seed.to_string(), ops.to_string());
    let grants = vec![("native", theirs.into()), ("hostile", hostile)];
    let run = run_guest(guests::SOAK, &[&seed_s, &ops_s], grants);
    let (native_sent, native_received) = native.join().unwrap();
    let run = run.unwrap_or_else(|e| panic!("seed {seed}: {e:#}"));
    run.assert_ok();
    let json = python.finish();
    assert_eq!(
        open_fds(),
        baseline,
        "seed {seed}: host fds leaked: {}",
        run.stdout
    );
    eprintln!(
        "soak seed {seed}, {ops} ops: native peer sent {native_sent}, got {native_received} fds; \
         hostile peer {json}; guest: {}",
        run.stdout.replace('\n', "; ")
    );
    run
}

#[test]
fn soak_against_a_native_and_a_hostile_peer() {
    let _fds = support::exclusive(&[guests::SOAK]);
    let seed = env_or("CAPSOCK_SOAK_SEED", 1);
    let ops = env_or("CAPSOCK_SOAK_OPS", 20_000);
    // The first run warms up what stays for the process's life (allocator
    // arenas, the runtime's threads); the next ones must not grow.
    let started = Instant::now();
    let first = soak(seed, ops / 4);
    let rss_after_first = rss_kib();
    let mut rest = Vec::new();
    for round in 1..4 {
        rest.push(soak(seed + round, ops / 4));
    }
    let rss_after_all = rss_kib();
    eprintln!(
        "{ops} ops in {:?}; resident set {rss_after_first} KiB after the first quarter, {rss_after_all} KiB after all",
        started.elapsed()
    );
    assert!(
        rss_after_all <= rss_after_first + 32 * 1024,
        "resident set grew from {rss_after_first} KiB to {rss_after_all} KiB"
    );
    for run in std::iter::once(&first).chain(&rest) {
        assert!(run.get("ops").parse::<u64>().unwrap() > 0);
    }
    // The soak did what it says: it moved bytes and fds both ways.
    let total = |key: &str| -> u64 {
        std::iter::once(&first)
            .chain(&rest)
            .map(|r| r.get(key).parse::<u64>().unwrap())
            .sum()
    };
    assert!(total("bytes_sent") > 0 && total("bytes_received") > 0);
    assert!(
        total("fds_received") > 0,
        "fds arrived from the peers and pairs"
    );
}
