//! Received regular files and directories as [`std::fs::File`]s: WASI
//! filesystem descriptors (`descriptor.into-filesystem`) registered with
//! wasi-libc, so std, and any library that takes a `File`, can use them.

use std::fmt;
use std::fs::File;
use std::io::{self, Seek};

use crate::error::to_io;
use crate::handle::{DescriptorKind, OwnedHandle};

/// A handle could not become a [`File`] (`TryFrom<OwnedHandle>`); the
/// handle is given back, still open.
#[derive(Debug)]
pub struct IntoFileError {
    error: io::Error,
    handle: OwnedHandle,
}

impl IntoFileError {
    /// Why the conversion failed.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The handle, still open.
    pub fn into_handle(self) -> OwnedHandle {
        self.handle
    }
}

impl fmt::Display for IntoFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a file or directory: {}", self.error)
    }
}

impl std::error::Error for IntoFileError {}

impl From<IntoFileError> for io::Error {
    fn from(e: IntoFileError) -> io::Error {
        e.error
    }
}

impl TryFrom<OwnedHandle> for File {
    type Error = IntoFileError;

    /// Turns a received (or granted) regular file or directory into a
    /// [`File`], which reads, writes, seeks and `stat`s as std's does,
    /// with what the fd allows and no more: a file opened read-only
    /// refuses writes (`PermissionDenied`). The `File` starts at the fd's
    /// offset and keeps its own from then on (the sender no longer sees
    /// it move; `O_APPEND` is not carried over).
    ///
    /// A directory, where the host allows received directories (`capsock
    /// run --allow-received-dirs`; else `PermissionDenied`), opens files
    /// beneath it with `openat` (`libc::openat(dir.as_raw_fd(), ..)`):
    /// `..` past it and symbolic links leading out are refused. An
    /// absolute path is wasi-libc's to resolve, in the guest's preopens.
    ///
    /// Fails, giving the handle back, for anything else (a socket, pipe,
    /// FIFO or device: use the handle itself, or a socket type's
    /// `try_from`); `Unsupported` when not compiled for WASI.
    ///
    /// ```no_run
    /// use std::io::Read;
    /// use capsock::{SocketExt, UnixStream};
    ///
    /// let broker = UnixStream::preopened("broker")?;
    /// let mut got = broker.recv_fds(64, 1)?;
    /// let mut file = std::fs::File::try_from(got.fds.remove(0))?;
    /// let mut text = String::new();
    /// file.read_to_string(&mut text)?;
    /// println!("{} bytes: {text}", file.metadata()?.len());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn try_from(handle: OwnedHandle) -> Result<File, IntoFileError> {
        let kind = handle.kind();
        if !matches!(
            kind,
            DescriptorKind::RegularFile | DescriptorKind::Directory
        ) {
            let error = io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a {kind:?}, not a regular file or directory"),
            );
            return Err(IntoFileError { error, handle });
        }
        if !cfg!(target_os = "wasi") {
            let error = io::Error::new(
                io::ErrorKind::Unsupported,
                "files from handles need wasi-libc (wasm32-wasip2)",
            );
            return Err(IntoFileError { error, handle });
        }
        // The File keeps its own offset (wasi-libc's), starting where the
        // fd's shared one is now.
        let offset = match kind {
            DescriptorKind::RegularFile => match (&handle).stream_position() {
                Ok(at) => at,
                Err(error) => return Err(IntoFileError { error, handle }),
            },
            _ => 0,
        };
        let wasi = match crate::bindings::capsock::sockets::descriptors::Descriptor::into_filesystem(
            handle.wit(),
        ) {
            Ok(d) => d,
            Err(code) => {
                let error = to_io(code);
                return Err(IntoFileError { error, handle });
            }
        };
        // The handle is empty now; the WASI descriptor holds the fd.
        drop(handle);
        let mut file = wasi_libc::adopt(wasi);
        if offset != 0 {
            // A seek on a fresh wasi-libc file only sets its own offset.
            let _ = file.seek(io::SeekFrom::Start(offset));
        }
        Ok(file)
    }
}

#[cfg(target_os = "wasi")]
mod wasi_libc {
    use std::fs::File;
    use std::io;
    use std::os::fd::FromRawFd;

    use crate::bindings::wasi::filesystem::types::{Descriptor, DescriptorFlags};

    extern "C" {
        /// wasi-libc's (`wasi/file.h`, wasip2): adds a
        /// `wasi:filesystem` descriptor it takes ownership of to its fd
        /// table with `oflag`'s access mode; the new fd, or -1 when it
        /// cannot allocate the entry (the descriptor dropped). The
        /// one-field handle struct is passed as its `i32`, as clang's
        /// wasm32 C ABI passes single-scalar structs.
        fn __wasilibc_add_file(file_handle: i32, oflag: i32) -> i32;
    }

    /// Hands `wasi` to wasi-libc and wraps its new fd.
    pub(super) fn adopt(wasi: Descriptor) -> File {
        let flags = wasi.get_flags().unwrap_or(DescriptorFlags::empty());
        let oflag = match (
            flags.contains(DescriptorFlags::READ),
            flags.contains(DescriptorFlags::WRITE),
        ) {
            (_, false) => libc::O_RDONLY,
            (false, true) => libc::O_WRONLY,
            (true, true) => libc::O_RDWR,
        };
        let handle = wasi.take_handle() as i32;
        // SAFETY: `handle` is an owned `wasi:filesystem` descriptor of
        // this component instance, taken out of its wrapper, so wasi-libc
        // becomes its only owner.
        #[allow(unsafe_code)]
        let fd = unsafe { __wasilibc_add_file(handle, oflag) };
        // Its only failure is `malloc` failing, where Rust's own
        // allocations abort too.
        assert!(
            fd >= 0,
            "wasi-libc could not add a file: {}",
            io::Error::last_os_error()
        );
        // SAFETY: `fd` was just created for us and nothing else owns it.
        #[allow(unsafe_code)]
        unsafe {
            File::from_raw_fd(fd)
        }
    }
}

#[cfg(not(target_os = "wasi"))]
mod wasi_libc {
    use crate::bindings::wasi::filesystem::types::Descriptor;

    /// Never called: `try_from` refuses first off WASI.
    pub(super) fn adopt(_: Descriptor) -> std::fs::File {
        unreachable!("files from handles need wasi-libc")
    }
}
