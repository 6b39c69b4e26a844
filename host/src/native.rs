//! Native-side helpers for the processes that talk to guests: a broker
//! handing fds to a plugin, a test peer. Python's `socket.send_fds` /
//! `recv_fds` for Rust code, on capsock's own codec.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{BorrowedFd, OwnedFd};

use crate::cmsg::layout::{self, ControlBuf, Encoder};
use crate::cmsg::uapi::SCM_MAX_FD;
use crate::sys::{self, MsgFlags, Received};

/// `sendmsg` / `recvmsg` with `SCM_RIGHTS` for native code, reusing one
/// aligned control buffer across calls (no allocation per message).
#[derive(Default)]
pub struct Messenger {
    control: ControlBuf,
}

impl Messenger {
    /// A messenger with an empty control buffer.
    pub fn new() -> Messenger {
        Messenger::default()
    }

    /// Sends `data` with copies of `fds` (if any) in one `SCM_RIGHTS` item,
    /// with `MSG_NOSIGNAL`. Returns the bytes sent.
    pub fn send(
        &mut self,
        sock: BorrowedFd<'_>,
        data: &[u8],
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<usize> {
        if fds.len() > SCM_MAX_FD {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let space = if fds.is_empty() {
            0
        } else {
            layout::space(fds.len() * layout::FD_LEN)
        };
        let mut enc = Encoder::new(self.control.zeroed(space));
        if !fds.is_empty() {
            enc.push_rights(fds)
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        }
        let data = [IoSlice::new(data)];
        sys::sendmsg(sock, &data, enc.finish(), None, MsgFlags::NOSIGNAL)
    }

    /// Receives into `buf` with `control_space` bytes of control space.
    /// Returns the bytes received, the fds (owned, close-on-exec) and
    /// `msg_flags`.
    pub fn recv(
        &mut self,
        sock: BorrowedFd<'_>,
        buf: &mut [u8],
        control_space: usize,
    ) -> io::Result<(usize, Vec<OwnedFd>, i32)> {
        let control = self.control.zeroed(control_space);
        let r = sys::recvmsg(
            sock,
            &mut [IoSliceMut::new(buf)],
            control,
            MsgFlags::empty(),
        )?;
        let fds = r
            .control
            .into_iter()
            .flat_map(|item| match item {
                Received::Rights(fds) => fds,
                _ => Vec::new(),
            })
            .collect();
        Ok((r.bytes, fds, r.flags.bits()))
    }
}

/// Sends `data` with copies of `fds` in one `SCM_RIGHTS` item
/// (`MSG_NOSIGNAL`), like Python's `socket.send_fds`. Returns the bytes sent.
pub fn send_fds(sock: BorrowedFd<'_>, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<usize> {
    Messenger::new().send(sock, data, fds)
}

/// Receives up to `bufsize` bytes and up to `maxfds` fds (control space
/// `CMSG_LEN(maxfds * 4)`, as Python sizes it), like Python's
/// `socket.recv_fds`. Returns the data, the fds (owned, close-on-exec) and
/// `msg_flags`.
pub fn recv_fds(
    sock: BorrowedFd<'_>,
    bufsize: usize,
    maxfds: usize,
) -> io::Result<(Vec<u8>, Vec<OwnedFd>, i32)> {
    let mut data = vec![0; bufsize];
    let (n, fds, flags) =
        Messenger::new().recv(sock, &mut data, layout::len(maxfds * layout::FD_LEN))?;
    data.truncate(n);
    Ok((data, fds, flags))
}

/// `socketpair(AF_UNIX, ty)`, close-on-exec.
pub fn socket_pair(ty: crate::bindings::types::SocketType) -> io::Result<(OwnedFd, OwnedFd)> {
    sys::socketpair(crate::convert::sock_type_to_libc(ty))
}

/// Starts the process-wide state that wasmtime-wasi creates lazily and keeps
/// for the life of the process (its tokio runtime: an epoll instance and an
/// eventfd or two) before any guest runs, so that a guest's first WASI call
/// cannot fail for want of an fd. Inside a tokio runtime (an async
/// embedder) there is nothing to do: wasmtime-wasi uses that runtime, and
/// blocking on its own here would panic.
pub(crate) fn settle_process_fds() {
    if tokio::runtime::Handle::try_current().is_err() {
        wasmtime_wasi::runtime::in_tokio(async {});
    }
}

/// Raises this process's soft limit on open files (`RLIMIT_NOFILE`) to
/// its hard limit, as servers do at start-up, and returns the new limit:
/// the guests of a `capsock` process then share the most fds the system
/// allows it.
pub fn raise_fd_limit() -> io::Result<u64> {
    sys::raise_fd_limit()
}

/// This process's soft limit on open files (`RLIMIT_NOFILE`).
pub fn fd_limit() -> io::Result<u64> {
    sys::fd_limit()
}

/// Reads the regular file at `path`, up to `max` bytes. Anything else is
/// refused without blocking or reading: a FIFO (opening it would wait for
/// a writer), a device such as `/dev/zero` (which never ends), a directory,
/// or a file larger than `max`.
pub fn read_regular_file(path: &std::path::Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", kind_name(meta.file_type())),
        ));
    }
    if meta.len() > max {
        return Err(too_big(max));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_big(max));
    }
    Ok(bytes)
}

fn too_big(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("larger than {} MiB", max >> 20),
    )
}

fn kind_name(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// Makes `dir` a directory only this user can write to: created with mode
/// 0700 (with any missing parents) if it does not exist; refused if it
/// belongs to another user or group or others may write to it. For
/// directories whose contents the process trusts, such as a cache of
/// compiled native code.
pub fn private_dir(dir: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    let (_, uids, _) = sys::process_ids();
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a directory",
        ));
    }
    if meta.uid() != uids[1] {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("owned by uid {}, not by this user", meta.uid()),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "mode {:o}: others may write to it (chmod go-w, or choose another directory)",
                meta.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

/// Connects a new Unix socket of type `ty` to the path `path`
/// (`socket(2)` + `connect(2)`, close-on-exec).
pub fn connect_unix(
    path: &std::path::Path,
    ty: crate::bindings::types::SocketType,
) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let addr = sys::SockAddr::unix(&crate::sys::sockaddr::UnixName::Pathname(
        path.as_os_str().as_bytes().to_vec(),
    ))?;
    let fd = sys::unix_socket(crate::convert::sock_type_to_libc(ty))?;
    sys::connect(std::os::fd::AsFd::as_fd(&fd), &addr)?;
    Ok(fd)
}

/// Binds a new Unix socket of type `ty` at `path` and listens on it
/// (close-on-exec). If it cannot listen (a datagram socket), the socket
/// file is removed again.
pub fn listen_unix(
    path: &std::path::Path,
    ty: crate::bindings::types::SocketType,
    backlog: u32,
) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let addr = sys::SockAddr::unix(&crate::sys::sockaddr::UnixName::Pathname(
        path.as_os_str().as_bytes().to_vec(),
    ))?;
    let fd = sys::unix_socket(crate::convert::sock_type_to_libc(ty))?;
    sys::bind(std::os::fd::AsFd::as_fd(&fd), &addr)?;
    if let Err(e) = sys::listen(std::os::fd::AsFd::as_fd(&fd), backlog) {
        // The socket file bind just made must not outlive the failure.
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(fd)
}

pub use crate::sys::adopt_inherited as adopt_inherited_fd;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::SocketType;

    #[test]
    fn a_socket_that_cannot_listen_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let err = listen_unix(&path, SocketType::Datagram, 1).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP));
        assert!(!path.exists());
        assert!(listen_unix(&path, SocketType::Stream, 1).is_ok());
        assert!(path.exists());
    }

    #[test]
    fn only_regular_files_are_read() {
        let err = read_regular_file(std::path::Path::new("/dev/null"), 10).unwrap_err();
        assert!(err.to_string().contains("a character device"), "{err}");
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, b"0123456789").unwrap();
        assert_eq!(read_regular_file(f.path(), 10).unwrap(), b"0123456789");
        let err = read_regular_file(f.path(), 9).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
