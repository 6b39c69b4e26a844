//! Unix sockets with file-descriptor passing for WebAssembly guests.
//!
//! A `wasm32-wasip2` program run by the capsock host uses this crate to send
//! and receive data **and open files** over Unix domain sockets, with the
//! full `sendmsg(2)` / `recvmsg(2)`: scatter/gather, flags, addresses,
//! `SCM_RIGHTS`, `SCM_CREDENTIALS` and raw control messages. The guest never
//! sees a file descriptor number: received descriptors are [`OwnedHandle`]s,
//! and lending one to a send takes a [`BorrowedHandle`].
//!
//! The API mirrors `std::os::unix::net` ([`UnixStream`], [`UnixDatagram`],
//! [`UnixListener`], [`UnixSocketAddr`], plus [`UnixSeqpacket`]) and
//! `std::net` ([`UdpSocket`], [`TcpStream`], [`TcpListener`]): what std's
//! types have is inherent, under std's names. What std lacks — `sendmsg` /
//! `recvmsg` with typed ancillary items, Python's `socket.send_fds` /
//! `recv_fds`, receive options, readiness — is the one extension trait
//! [`SocketExt`], implemented by every socket that carries data.
//!
//! ```no_run
//! use std::io::Read;
//! use capsock::{SocketExt, UnixStream};
//!
//! // `capsock run --unix-connect broker=/run/broker.sock plugin.wasm`
//! let broker = UnixStream::preopened("broker")?;
//! // A stream socket's receive stops after the bytes that carried fds:
//! // receive until the files expected are in, or the broker hangs up.
//! let mut files = Vec::new();
//! while files.len() < 2 {
//!     let got = broker.recv_fds(1024, 8)?;
//!     if got.data.is_empty() && got.fds.is_empty() {
//!         break;
//!     }
//!     files.extend(got.fds);
//! }
//! for mut file in files {
//!     let mut text = String::new();
//!     file.read_to_string(&mut text)?;
//!     println!("{text}");
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # What a received or inherited fd becomes
//!
//! Every fd arrives as an [`OwnedHandle`] (received with `SCM_RIGHTS`, or
//! granted: [`preopened`], `capsock run --fd`, socket activation).
//! `try_from` turns it into the type its kind calls for and gives the
//! handle back on failure ([`IntoSocketError::into_handle`],
//! [`IntoFileError::into_handle`]); each socket type also has
//! `preopened(name)`.
//!
//! | the fd is | it becomes | what the guest can do with it |
//! |---|---|---|
//! | Unix stream, datagram, seqpacket socket | [`UnixStream`], [`UnixDatagram`], [`UnixSeqpacket`] | all I/O and ancillary data; new addresses need the host's Unix policy |
//! | listening Unix socket | [`UnixListener`], [`UnixSeqpacketListener`] | `accept` |
//! | TCP connection, UDP socket | [`TcpStream`], [`UdpSocket`] | all I/O on it, with or without a network policy (whoever handed it over granted it); a new `connect`, `bind` or `send_to` address is checked against the policy |
//! | listening TCP socket | [`TcpListener`] | `accept` and serve, with or without a network policy |
//! | regular file | [`std::fs::File`] | what the fd's access mode allows (a write to a read-only fd is `PermissionDenied`), from the fd's offset on with an offset of its own; or the handle's own `Read` / `Write` / `Seek` |
//! | directory | [`std::fs::File`] where the host allows it (`--allow-received-dirs`) | `openat` beneath it (`libc::openat(dir.as_raw_fd(), ..)`), creating files too; `..` and symbolic links leading out are refused |
//! | pipe, FIFO, character device | stays an [`OwnedHandle`] (a guest makes its own pipes with [`pipe`]) | `Read` / `Write`, [`readable`](OwnedHandle::readable) / [`writable`](OwnedHandle::writable), timeouts, non-blocking mode |
//! | pidfd, eventfd, anything else | stays an [`OwnedHandle`] | passing on with `SCM_RIGHTS`, [`metadata`](OwnedHandle::metadata), reads and writes where the kernel allows them |
//!
//! A guest's own `std::net` sockets (`wasi:sockets`) get the same network
//! policy (`capsock run --allow-ip`) as this crate's, except that binding
//! the unspecified address with port 0 is allowed in a family the policy
//! covers.
//!
//! Each call is one host call (a listener's `accept` adds the peer's
//! address, `getpeername(2)`; [`cmsg_space`] asks the host once, then never
//! again); errors are [`std::io::Error`]s whose inner error is the host's
//! [`ErrorCode`] (see [`error_code`]).

#![deny(missing_docs)]

// Generated helpers (`ErrorCode::name`, `take_handle`, ...) carry no docs.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "capsock:sockets/sdk",
        // Borrowed parameter types: `send-msg` lends the guest's buffers to
        // the host without copying them into owned vectors first.
        ownership: Borrowing { duplicate_if_necessary: true },
        // wit/deps is WASI 0.2.12 as wasmtime vendors it; its `timezone`
        // interface is feature-gated and this parser needs the gate open.
        features: ["clocks-timezone"],
        // Declared by hand (`net::sock::recv_into`, `recv_fds`): the host
        // writes into their buffer, which the generated binding would take
        // as `&[u8]`.
        skip: ["[method]socket.recv-into", "[method]socket.recv-fds"],
        generate_all,
    });
}

/// The most bytes one stream or descriptor write hands the host. The host
/// takes at most its message limit (8 MiB by default) per call anyway, and
/// wasmtime traps a guest that passes more than 128 MiB in one call
/// (its "hostcall fuel"): larger writes are short, as `write(2)` may be.
pub(crate) const MAX_WRITE: usize = 16 << 20;

mod error;
mod fs;
mod handle;
mod net;
mod poll;

use std::io;

pub use bindings::capsock::sockets::types::AddressFamily;
pub use error::{error_code, ErrorCode};
pub use fs::IntoFileError;
pub use handle::{AsHandle, BorrowedHandle, DescriptorKind, Metadata, OwnedHandle, SocketType};
pub use net::{
    cmsg_len, cmsg_space, Connection, Credentials, ErrorOrigin, ExtendedError, Incoming,
    IntoSocketError, Listener, MessageFlags, ReceiveOption, RecvAncillary, RecvFds, RecvFlags,
    RecvMsg, SendAncillary, SendFlags, SocketExt, TcpListener, TcpStream, Timestamp, Timestamping,
    TimestampingFlags, UdpSocket, UnixDatagram, UnixListener, UnixSeqpacket, UnixSeqpacketListener,
    UnixSocketAddr, UnixStream, FD_SIZE,
};
pub use poll::{wait, Ready};

/// Takes the descriptor the host granted as `name` (`capsock run --fd`,
/// `--unix-connect`, or an embedder's grant). Each grant can be taken once.
///
/// # Errors
/// `NotFound` ([`ErrorCode::NoEntry`]) if there is no such grant or it was
/// taken already.
pub fn preopened(name: &str) -> io::Result<OwnedHandle> {
    bindings::capsock::sockets::preopens::take(name)
        .map(OwnedHandle::from_wit)
        .map_err(error::to_io)
}

/// A new pipe, like [`std::io::pipe`]: its read end and its write end.
/// Both are ordinary handles: [`Read`](std::io::Read) /
/// [`Write`](std::io::Write), timeouts, non-blocking mode and
/// [`wait`] work on them, and either can be sent with
/// [`SocketExt::send_fds`]. Reading gives end-of-file once every copy of
/// the write end is closed, including copies sent to a peer.
///
/// ```no_run
/// use std::io::Read;
/// use capsock::{AsHandle, SocketExt, UnixStream};
///
/// // Lend a peer the write end and read what it reports.
/// let peer = UnixStream::preopened("peer")?;
/// let (mut reader, writer) = capsock::pipe()?;
/// peer.send_fds(b"report here", &[writer.as_handle()])?;
/// drop(writer);
/// let mut report = String::new();
/// reader.read_to_string(&mut report)?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// `Other` ([`ErrorCode::LimitReached`]) if the guest holds as many
/// handles as the host allows (a pipe takes two).
pub fn pipe() -> io::Result<(OwnedHandle, OwnedHandle)> {
    let (read, write) =
        bindings::capsock::sockets::descriptors::Descriptor::pipe().map_err(error::to_io)?;
    Ok((OwnedHandle::from_wit(read), OwnedHandle::from_wit(write)))
}

/// Ends the program with `status` as its exit status, like
/// [`std::process::exit`], but able to report any status from 0 to 255:
/// Rust's std on wasm32-wasip2 turns every non-zero status into 1.
/// Standard output and error are flushed first.
pub fn exit(status: u8) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    bindings::wasi::cli::exit::exit_with_code(status);
    // The host ends the instance inside the call; if it ever returned, fall
    // back to std (status 1 for any failure).
    std::process::exit(i32::from(status))
}

/// The names of the grants not taken yet.
pub fn preopened_names() -> Vec<String> {
    bindings::capsock::sockets::preopens::names()
}
