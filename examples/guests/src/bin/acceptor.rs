//! The acceptor of the pre-fork example: accepts connections on the
//! listening socket the host granted ("listener") and hands each, as an
//! ordinary handle over SCM_RIGHTS, to one of two workers ("worker1",
//! "worker2"), round robin. `acceptor N` stops after N connections (and
//! after 30 s without one).
//!
//! Run it with its workers and native clients: `python3 examples/run.py prefork`.

use std::time::Duration;

use capsock::{wait, AsHandle, SocketExt, UnixListener, UnixStream};

fn main() -> std::io::Result<()> {
    let limit: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let listener = UnixListener::preopened("listener")?;
    let workers = [
        UnixStream::preopened("worker1")?,
        UnixStream::preopened("worker2")?,
    ];
    let pending = listener.readable()?;
    let mut served = 0;
    while limit == 0 || served < limit {
        if wait(&[&pending], Some(Duration::from_secs(30)))?.is_empty() {
            eprintln!("acceptor: no connection for 30 s, stopping");
            break;
        }
        let (conn, _peer) = listener.accept()?;
        workers[served % workers.len()].send_fds(b"c", &[conn.as_handle()])?;
        // Our copy closes here; the worker holds the connection now.
        served += 1;
    }
    println!(
        "acceptor: handed {served} connections to {} workers",
        workers.len()
    );
    Ok(())
}
