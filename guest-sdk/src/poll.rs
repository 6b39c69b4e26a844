//! Waiting on several sockets at once, with an optional timeout, through
//! `wasi:io/poll`.

use std::io;
use std::time::Duration;

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::io::poll::{self, Pollable};

/// Readiness of one socket or handle in one direction: from
/// [`SocketExt::readable`](crate::SocketExt::readable) /
/// [`writable`](crate::SocketExt::writable), a listener's
/// [`readable`](crate::Listener::readable), or an
/// [`OwnedHandle`](crate::OwnedHandle)'s. Keep it and wait on it as often
/// as needed.
#[derive(Debug)]
pub struct Ready {
    pub(crate) pollable: Pollable,
}

impl Ready {
    /// Whether the socket is ready now (never blocks).
    pub fn is_ready(&self) -> bool {
        self.pollable.ready()
    }
}

/// Waits until at least one of `ready` is ready, or `timeout` passes, and
/// returns the indices of those that are ready (empty after a timeout).
///
/// ```no_run
/// use std::time::Duration;
/// use capsock::{wait, SocketExt, UnixStream};
///
/// let a = UnixStream::preopened("a")?;
/// let b = UnixStream::preopened("b")?;
/// let (ra, rb) = (a.readable()?, b.readable()?);
/// for i in wait(&[&ra, &rb], Some(Duration::from_secs(5)))? {
///     println!("socket {i} has data (or end-of-file)");
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait(ready: &[&Ready], timeout: Option<Duration>) -> io::Result<Vec<usize>> {
    if ready.len() >= u32::MAX as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many pollables",
        ));
    }
    let clock = timeout
        .map(|t| monotonic_clock::subscribe_duration(t.as_nanos().min(u64::MAX as u128) as u64));
    let mut list: Vec<&Pollable> = ready.iter().map(|r| &r.pollable).collect();
    if let Some(c) = &clock {
        list.push(c);
    }
    let hits = poll::poll(&list);
    Ok(hits
        .into_iter()
        .map(|i| i as usize)
        .filter(|&i| i < ready.len())
        .collect())
}
