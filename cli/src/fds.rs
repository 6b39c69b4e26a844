//! Counting this process's open file descriptors, for the leak reports of
//! `capsock demo` and `capsock pair`.

/// Starts the process-wide state wasmtime-wasi creates lazily and keeps
/// for the life of the process (its tokio runtime: an epoll instance and
/// an eventfd or two), so that counts taken afterwards compare the guests'
/// descriptors only.
pub fn settle() {
    wasmtime_wasi::runtime::in_tokio(async {});
}

/// How many file descriptors this process has open (`/proc/self/fd`).
pub fn count() -> std::io::Result<usize> {
    // The directory handle doing the listing is itself one of the entries.
    Ok(std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1))
}
