//! Guests for what each kind of received fd becomes: regular files and
//! directories as `std::fs::File`s (WASI descriptors), with the fd's rights
//! and a directory's confinement; anything else refused with the handle
//! given back. `kinds <scenario>`; prints `key=value` lines (see this
//! crate's lib.rs).

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd};

use capsock::{OwnedHandle, SocketExt, TcpStream, UdpSocket, UnixStream};
use capsock_test_programs::{show, Report};

#[path = "../raw.rs"]
mod raw;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args[1].as_str() {
        "files" => files(),
        "lent_count" => lent_count(),
        "sockets" => sockets(),
        "dirs" => dirs(),
        other => panic!("unknown scenario {other}"),
    }
}

/// Everything the host sent, in one message.
fn received(n: usize) -> Vec<OwnedHandle> {
    let peer = UnixStream::preopened("peer").unwrap();
    let got = peer.recv_fds(64, n).unwrap();
    assert_eq!(got.fds.len(), n, "expected {n} fds");
    got.fds
}

/// `openat(dir, path, flags)` as a `File`, or the errno's kind.
fn open_at(dir: &File, path: &str, flags: i32) -> std::io::Result<File> {
    let path = CString::new(path).unwrap();
    // SAFETY: a valid fd and NUL-terminated path; the fd returned is new
    // and owned by the File alone.
    #[allow(unsafe_code)]
    unsafe {
        let fd = libc::openat(dir.as_raw_fd(), path.as_ptr(), flags, 0o600);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(File::from_raw_fd(fd))
    }
}

/// The host sends, in order: a file opened read-only, a file opened
/// read-write, a directory and a pipe's read end.
fn files() {
    let mut fds = received(4).into_iter();

    // Sent at offset 5: the File starts there.
    let mut ro = File::try_from(fds.next().unwrap()).unwrap();
    let mut text = String::new();
    ro.read_to_string(&mut text).unwrap();
    println!("ro_text={}", text.report());
    println!("ro_len={}", ro.metadata().unwrap().len());
    ro.seek(SeekFrom::Start(0)).unwrap();
    text.clear();
    ro.read_to_string(&mut text).unwrap();
    println!("ro_from_0={}", text.report());
    show("ro_write", ro.write(b"x").map(|_| ()));
    show("ro_set_len", ro.set_len(0));

    let mut rw = File::try_from(fds.next().unwrap()).unwrap();
    rw.write_all(b"written by the guest").unwrap();
    rw.seek(SeekFrom::Start(0)).unwrap();
    text.clear();
    rw.read_to_string(&mut text).unwrap();
    println!("rw_read={}", text.report());
    show("rw_set_len", rw.set_len(7));

    let dir = File::try_from(fds.next().unwrap()).unwrap();
    println!("dir_is_dir={}", dir.metadata().unwrap().is_dir());
    let mut inside = open_at(&dir, "inside.txt", libc::O_RDONLY).unwrap();
    text.clear();
    inside.read_to_string(&mut text).unwrap();
    println!("inside={}", text.report());
    for (key, path) in [
        ("dotdot", "../outside.txt"),
        ("absolute", "/etc/passwd"),
        ("symlink", "escape"),
        ("absolute_symlink", "absolute_escape"),
        ("sub_dotdot", "sub/../../outside.txt"),
    ] {
        show(key, open_at(&dir, path, libc::O_RDONLY).map(|_| ()));
    }
    let mut made = open_at(&dir, "made.txt", libc::O_CREAT | libc::O_WRONLY).unwrap();
    made.write_all(b"made by the guest").unwrap();
    drop(open_at(&dir, "gone.txt", libc::O_CREAT | libc::O_WRONLY).unwrap());
    let gone = CString::new("gone.txt").unwrap();
    // SAFETY: a valid fd and NUL-terminated path.
    #[allow(unsafe_code)]
    let unlinked = unsafe { libc::unlinkat(dir.as_raw_fd(), gone.as_ptr(), 0) };
    println!("unlinked={unlinked}");

    let pipe = fds.next().unwrap();
    let mut pipe = match File::try_from(pipe) {
        Ok(_) => panic!("a pipe became a File"),
        Err(e) => {
            println!("pipe_as_file={}", capsock_test_programs::error(e.error()));
            e.into_handle()
        }
    };
    text.clear();
    pipe.read_to_string(&mut text).unwrap();
    println!("pipe_text={}", text.report());

    // The host's own refusal, past the SDK's kind check.
    let raw_pipe = raw::capsock::sockets::preopens::take("pipe").unwrap();
    match raw::capsock::sockets::descriptors::Descriptor::into_filesystem(&raw_pipe) {
        Ok(_) => println!("raw_pipe=ok"),
        Err(e) => println!("raw_pipe={}", e.name()),
    }
}

/// The host sends two directories: an ordinary one and `/proc`. Each is
/// tried as a `File`; a refusal gives the handle back.
fn dirs() {
    for (key, handle) in ["dir", "proc"].into_iter().zip(received(2)) {
        match File::try_from(handle) {
            Ok(d) => println!("{key}=ok:{}", d.metadata().unwrap().is_dir()),
            Err(e) => {
                println!("{key}={}", capsock_test_programs::error(e.error()));
                let back = e.into_handle();
                println!("{key}_given_back={}", back.kind().report());
            }
        }
    }
}

/// Under a handle limit: a file turned into a `File` still counts until
/// the `File` is closed. Counts how many more handles fit (clones of the
/// peer socket) while the `File` is open and after it is closed.
fn lent_count() {
    let peer = UnixStream::preopened("peer").unwrap();
    let mut got = peer.recv_fds(64, 1).unwrap();
    let file = File::try_from(got.fds.remove(0)).unwrap();
    let room = || {
        let mut clones = Vec::new();
        while let Ok(c) = peer.try_clone() {
            clones.push(c);
        }
        clones.len()
    };
    println!("room_with_file={}", room());
    drop(file);
    println!("room_after={}", room());
}

/// The host sends a connected UDP socket and a connected TCP stream; the
/// guest, with no network policy, uses both, and a new destination on the
/// UDP socket is refused.
fn sockets() {
    let mut fds = received(2).into_iter();
    let udp = UdpSocket::try_from(fds.next().unwrap()).unwrap();
    show("udp_send", udp.send(b"over udp"));
    show(
        "udp_send_to",
        udp.send_to(b"elsewhere", "127.0.0.1:9").map(|_| ()),
    );
    let mut tcp = TcpStream::try_from(fds.next().unwrap()).unwrap();
    tcp.write_all(b"over tcp").unwrap();
    let mut reply = [0u8; 8];
    tcp.read_exact(&mut reply).unwrap();
    println!("tcp_reply={}", String::from_utf8_lossy(&reply));
    println!("tcp_peer={}", tcp.peer_addr().unwrap());
}
