//! What each kind of received fd becomes in the guest: regular files and
//! directories as `std::fs::File`s (`descriptor.into-filesystem`), with the
//! rights of the fd and a directory's confinement; other kinds refused with
//! the handle given back.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use capsock_host::{native, Limits, Policy};

use crate::support::{self, guests, open_fds, run_guest_with, Options};

/// A file opened read-only, one opened read-write, a directory (with a
/// symbolic link leading out of it) and a pipe, sent in one message: the
/// guest reads and writes the files as `File`s as far as each fd allows,
/// opens beneath the directory and nowhere outside it, and keeps the pipe
/// as a handle.
#[test]
fn received_files_and_directories_become_std_files_with_the_fds_rights() {
    let _fds = support::exclusive(&[guests::KINDS]);
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared");
    fs::create_dir_all(shared.join("sub")).unwrap();
    fs::write(shared.join("inside.txt"), "inside the directory").unwrap();
    fs::write(tmp.path().join("outside.txt"), "outside").unwrap();
    std::os::unix::fs::symlink("../outside.txt", shared.join("escape")).unwrap();
    let outside = tmp.path().join("outside.txt");
    std::os::unix::fs::symlink(&outside, shared.join("absolute_escape")).unwrap();
    fs::write(tmp.path().join("ro.txt"), "read me, do not write").unwrap();
    let mut ro = File::open(tmp.path().join("ro.txt")).unwrap();
    ro.seek(SeekFrom::Start(5)).unwrap();
    let rw = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp.path().join("rw.txt"))
        .unwrap();
    let dir = File::open(&shared).unwrap();
    let (pipe_r, mut pipe_w) = std::io::pipe().unwrap();
    pipe_w.write_all(b"through the pipe").unwrap();
    drop(pipe_w);
    let (granted_pipe, _w) = std::io::pipe().unwrap();

    let (ours, theirs) = UnixStream::pair().unwrap();
    native::send_fds(
        ours.as_fd(),
        b"kinds",
        &[ro.as_fd(), rw.as_fd(), dir.as_fd(), pipe_r.as_fd()],
    )
    .unwrap();
    drop((ro, rw, dir, pipe_r));
    let baseline = open_fds();
    let mut policy = Policy::new();
    policy.allow_received_directories(true);
    let run = run_guest_with(
        guests::KINDS,
        &["files"],
        vec![("peer", theirs.into()), ("pipe", granted_pipe.into())],
        Options {
            policy: Some(policy),
            ..Options::default()
        },
    )
    .unwrap();
    run.assert_ok();
    for (key, want) in [
        ("ro_text", "me, do not write"),
        ("ro_len", "21"),
        ("ro_from_0", "read me, do not write"),
        ("ro_write", "err:PermissionDenied"),
        ("ro_set_len", "err:PermissionDenied"),
        ("rw_read", "written by the guest"),
        ("rw_set_len", "ok"),
        ("dir_is_dir", "true"),
        ("inside", "inside the directory"),
        ("dotdot", "err:PermissionDenied"),
        // wasi-libc looks an absolute path up in the guest's preopens
        // (there are none), never beneath the directory.
        ("absolute", "err:NotFound"),
        ("symlink", "err:PermissionDenied"),
        ("absolute_symlink", "err:PermissionDenied"),
        ("sub_dotdot", "err:PermissionDenied"),
        ("pipe_as_file", "err:InvalidInput"),
        ("pipe_text", "through the pipe"),
        ("unlinked", "0"),
        ("raw_pipe", "not-supported"),
    ] {
        assert_eq!(run.get(key), want, "{key}: {run:#?}");
    }
    assert_eq!(
        fs::read_to_string(tmp.path().join("ro.txt")).unwrap(),
        "read me, do not write"
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("rw.txt")).unwrap(),
        "written"
    );
    assert_eq!(
        fs::read_to_string(shared.join("made.txt")).unwrap(),
        "made by the guest"
    );
    assert!(!tmp.path().join("made.txt").exists());
    assert!(!shared.join("gone.txt").exists());
    // The granted socket and pipe end are closed, nothing else is open.
    assert_eq!(open_fds(), baseline - 2, "fds left open: {run:#?}");
}

/// A file turned into a WASI descriptor keeps its unit of the handle limit
/// until the guest closes it, so converting cannot lift the limit on the
/// fds a guest pins.
#[test]
fn a_file_lent_to_wasi_counts_against_the_handle_limit_until_closed() {
    let _fds = support::exclusive(&[guests::KINDS]);
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    native::send_fds(ours.as_fd(), b"f", &[tmp.as_file().as_fd()]).unwrap();
    let run = run_guest_with(
        guests::KINDS,
        &["lent_count"],
        vec![("peer", theirs.into())],
        Options {
            limits: Some(Limits::default().max_handles(8)),
            ..Options::default()
        },
    )
    .unwrap();
    run.assert_ok();
    // The peer socket and the file held: six more fit, then seven.
    assert_eq!(run.get("room_with_file"), "6");
    assert_eq!(run.get("room_after"), "7");
}

/// Sockets a supervisor connected are the supervisor's grant: the guest,
/// with no network policy, uses a connected UDP socket and a TCP stream it
/// received, and only a new destination is checked (and refused).
#[test]
fn received_inet_sockets_work_without_a_network_policy() {
    let _fds = support::exclusive(&[guests::KINDS]);
    let here = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(here.local_addr().unwrap()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut served, _) = listener.accept().unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    native::send_fds(ours.as_fd(), b"s", &[udp.as_fd(), tcp.as_fd()]).unwrap();
    let tcp_local = tcp.local_addr().unwrap();
    drop((udp, tcp));
    let baseline = open_fds();
    let server = std::thread::spawn(move || {
        let mut got = [0u8; 8];
        served.read_exact(&mut got).unwrap();
        served.write_all(&got.to_ascii_uppercase()).unwrap();
        served
    });
    let run = run_guest_with(
        guests::KINDS,
        &["sockets"],
        vec![("peer", theirs.into())],
        Options::default(),
    )
    .unwrap();
    run.assert_ok();
    drop(server.join().unwrap());
    assert_eq!(
        open_fds(),
        baseline - 2,
        "the granted end and the served connection closed, nothing else: {run:#?}"
    );
    assert_eq!(run.get("udp_send"), "ok:8");
    assert_eq!(run.get("udp_send_to"), "err:PermissionDenied:access-denied");
    assert_eq!(run.get("tcp_reply"), "OVER TCP");
    assert_eq!(
        run.get("tcp_peer"),
        listener.local_addr().unwrap().to_string()
    );
    let mut buf = [0u8; 16];
    let (n, from) = here.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from.ip()), (&b"over udp"[..], tcp_local.ip()));
    here.set_nonblocking(true).unwrap();
    assert!(here.recv(&mut buf).is_err(), "only the one datagram");
}

/// Received directories are refused unless the policy allows them, and a
/// directory on procfs (whose `self` would be the host) always; each
/// refusal gives the handle back.
#[test]
fn received_directories_need_the_policy_and_never_reach_procfs() {
    let _fds = support::exclusive(&[guests::KINDS]);
    let tmp = tempfile::tempdir().unwrap();
    for allowed in [false, true] {
        let dir = File::open(tmp.path()).unwrap();
        let proc = File::open("/proc").unwrap();
        let (ours, theirs) = UnixStream::pair().unwrap();
        native::send_fds(ours.as_fd(), b"d", &[dir.as_fd(), proc.as_fd()]).unwrap();
        drop((dir, proc));
        let baseline = open_fds();
        let mut policy = Policy::new();
        policy.allow_received_directories(allowed);
        let run = run_guest_with(
            guests::KINDS,
            &["dirs"],
            vec![("peer", theirs.into())],
            Options {
                policy: Some(policy),
                ..Options::default()
            },
        )
        .unwrap();
        run.assert_ok();
        if allowed {
            assert_eq!(run.get("dir"), "ok:true");
        } else {
            assert_eq!(run.get("dir"), "err:PermissionDenied:access-denied");
            assert_eq!(run.get("dir_given_back"), "directory");
        }
        assert_eq!(run.get("proc"), "err:PermissionDenied:access-denied");
        assert_eq!(run.get("proc_given_back"), "directory");
        assert_eq!(open_fds(), baseline - 1, "fds left open: {run:#?}");
    }
}
