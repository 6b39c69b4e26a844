//! Writes to a pipe or socket nobody reads never raise `SIGPIPE` in the
//! host, whatever the embedding process does with the signal. This test
//! binary (one test, its own process) restores the signal's default action,
//! terminate, which Rust's runtime had set to "ignore".

mod support;

use support::{guests, run_guest};

#[test]
fn writes_to_a_closed_pipe_or_socket_are_broken_pipe_not_sigpipe() {
    // SAFETY (test): sets a signal's disposition back to its default.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let (r, w) = std::io::pipe().unwrap();
    drop(r);
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(b);
    let grants = vec![("pipe_w", w.into()), ("sock_w", a.into())];
    let run = run_guest(guests::HARDENING, &["write_closed_pipe"], grants).unwrap();
    run.assert_ok();
    assert_eq!(run.get("pipe"), "err:BrokenPipe:broken-pipe");
    assert_eq!(run.get("socket"), "err:BrokenPipe:broken-pipe");
    assert_eq!(run.get("alive"), "true");
}
