//! Writes to a pipe or socket nobody reads never raise `SIGPIPE` in the
//! host, whatever the embedding process does with the signal.
//!
//! The test restores the signal's default action, terminate (Rust's runtime
//! sets it to "ignore"). That holds for the whole process, and would kill
//! this test binary if any other test then wrote to a closed pipe, so the
//! test runs in a process of its own: it starts this binary again, with
//! only itself selected and an environment variable that makes it the
//! child, and checks that the child ran it and passed.

use crate::support::{self, guests, run_guest};

#[test]
fn writes_to_a_closed_pipe_or_socket_are_broken_pipe_not_sigpipe() {
    let _fds = support::shared();
    let test = "writes_to_a_closed_pipe_or_socket_are_broken_pipe_not_sigpipe";
    if !support::in_own_process(&format!("{}::{test}", module_path!())) {
        return;
    }
    // SAFETY (test): sets a signal's disposition back to its default, in a
    // process that runs this test alone.
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
