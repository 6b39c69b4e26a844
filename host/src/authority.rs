//! Which Unix socket addresses a guest may name: path names below the
//! directories the host granted, abstract names only if allowed.
//!
//! Paths are resolved with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`
//! from a directory fd opened when the grant was made, so `..`, absolute
//! symbolic links and symbolic links anywhere in the path cannot lead out.
//! `connect` and `send-msg` destinations go further: the socket file itself
//! is opened `O_PATH` and the kernel is handed `/proc/self/fd/N`, so nothing
//! can be swapped between the check and the use.
//!
//! `bind` cannot work that way (the socket file must be created, and the
//! kernel records the exact string it was given as the socket's name), so
//! it binds `/proc/<pid>/fd/N/NAME`, where N is the directory's own fd: the
//! kernel creates NAME in exactly that directory, whatever was renamed or
//! swapped for a symbolic link meanwhile, and peers of the same user can
//! reply to that name. A bind in a subdirectory goes through an `O_PATH` fd
//! of the subdirectory, resolved beneath the granted directory, in the same
//! way (`/proc/self/fd/N/NAME`; that fd is closed after the bind, so peers
//! cannot reply to that name). Nothing is created before every check
//! passed, and a bind that fails leaves nothing behind.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bindings::types::{Address, ErrorCode};
use crate::sys::sockaddr::UnixName;
use crate::sys::{self, SockAddr};

/// Resolution flags: stay below the directory, follow no link of any kind.
const RESOLVE: u64 =
    libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;

/// Longest path name a Unix address holds (`sun_path` minus its NUL).
const MAX_PATH: usize = 107;

/// A directory granted for Unix socket paths.
#[derive(Debug)]
struct UnixDir {
    /// The guest's path of the directory, absolute, without a trailing `/`
    /// (empty for `/`).
    guest: Vec<u8>,
    /// Its real host path when it was granted.
    host: PathBuf,
    /// `O_PATH | O_DIRECTORY` descriptor every resolution starts from.
    dir: OwnedFd,
}

/// The Unix address authority of one guest.
#[derive(Clone, Debug, Default)]
pub(crate) struct UnixAuthority {
    dirs: Vec<Arc<UnixDir>>,
    abstract_names: bool,
}

/// An address ready for `connect(2)` or `sendmsg(2)`; `_target` keeps the
/// `O_PATH` descriptor that `/proc/self/fd/N` names alive until then.
pub(crate) struct Resolved {
    pub addr: SockAddr,
    _target: Option<OwnedFd>,
}

impl Resolved {
    /// An address that needs nothing kept alive (an IP address).
    pub fn plain(addr: SockAddr) -> Resolved {
        Resolved {
            addr,
            _target: None,
        }
    }
}

/// Maps `openat2` failures to what the guest is told.
fn resolve_error(e: io::Error) -> ErrorCode {
    match e.raw_os_error() {
        // A symbolic link (ELOOP), an escape (EXDEV), a magic link, or no
        // permission: all one answer, so the guest learns nothing outside.
        Some(libc::ELOOP | libc::EXDEV | libc::EACCES | libc::EPERM) => ErrorCode::AccessDenied,
        Some(libc::ENOENT | libc::ENOTDIR) => ErrorCode::NoEntry,
        Some(libc::ENOSYS) => ErrorCode::NotSupported,
        _ => e.into(),
    }
}

/// Splits an absolute guest path into normal components; `..` is refused
/// outright, `.` and empty components are skipped.
fn components(path: &[u8]) -> Result<Vec<&[u8]>, ErrorCode> {
    if path.first() != Some(&b'/') {
        return Err(ErrorCode::AccessDenied);
    }
    let mut out = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(ErrorCode::AccessDenied),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&b'/')
}

impl UnixAuthority {
    /// Grants `host` (opened now) as `guest` (an absolute guest path).
    pub fn allow_dir(&mut self, host: &Path, guest: &str) -> io::Result<()> {
        let guest_parts = components(guest.as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("guest path {guest:?} must be absolute, without '..'"),
            )
        })?;
        let dir: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(host)?
            .into();
        let host = std::fs::canonicalize(host)?;
        let mut g = Vec::new();
        for p in guest_parts {
            g.push(b'/');
            g.extend_from_slice(p);
        }
        self.dirs.push(Arc::new(UnixDir {
            guest: g,
            host,
            dir,
        }));
        Ok(())
    }

    /// Allows abstract-namespace names (reachable by anything in the host's
    /// network namespace, e.g. D-Bus or X11: off by default).
    pub fn allow_abstract(&mut self, allow: bool) {
        self.abstract_names = allow;
    }

    /// The granted directory that holds `path` and the components below it
    /// (at least one).
    fn locate<'a>(&self, path: &'a [u8]) -> Result<(&UnixDir, Vec<&'a [u8]>), ErrorCode> {
        if path.len() > MAX_PATH {
            return Err(ErrorCode::NameTooLong);
        }
        if path.contains(&0) {
            return Err(ErrorCode::InvalidArgument);
        }
        let parts = components(path)?;
        let mut best: Option<(&UnixDir, usize)> = None;
        for d in &self.dirs {
            let dparts =
                components(if d.guest.is_empty() { b"/" } else { &d.guest }).unwrap_or_default();
            if parts.len() > dparts.len()
                && parts.starts_with(&dparts)
                && best.is_none_or(|(_, n)| dparts.len() > n)
            {
                best = Some((d, dparts.len()));
            }
        }
        let (dir, n) = best.ok_or(ErrorCode::AccessDenied)?;
        Ok((dir, parts[n..].to_vec()))
    }

    /// A destination for `connect` or `send-msg`.
    pub fn resolve_peer(&self, addr: &Address) -> Result<Resolved, ErrorCode> {
        match addr {
            Address::Pathname(path) => {
                let (dir, rest) = self.locate(path)?;
                let target = sys::openat2(
                    dir.dir.as_fd(),
                    &join(&rest),
                    libc::O_PATH | libc::O_NOFOLLOW,
                    RESOLVE,
                )
                .map_err(resolve_error)?;
                let meta = std::fs::File::from(target.try_clone()?).metadata()?;
                if meta.file_type().is_symlink() {
                    // O_NOFOLLOW opened the link itself: never follow it.
                    return Err(ErrorCode::AccessDenied);
                }
                if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
                    // What connect(2) says for a file that is not a socket.
                    return Err(ErrorCode::ConnectionRefused);
                }
                let proc = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&target));
                let addr = SockAddr::unix(&UnixName::Pathname(proc.into_bytes()))?;
                Ok(Resolved {
                    addr,
                    _target: Some(target),
                })
            }
            Address::Abstract(name) if self.abstract_names => Ok(Resolved {
                addr: SockAddr::unix(&UnixName::Abstract(name.clone()))?,
                _target: None,
            }),
            Address::Abstract(_) => Err(ErrorCode::AccessDenied),
            Address::Unnamed => Err(ErrorCode::InvalidArgument),
            Address::Ipv4(_) | Address::Ipv6(_) => Err(ErrorCode::AddressFamilyNotSupported),
        }
    }

    /// `bind(2)` for `fd`, with the checks in the module docs. Returns the
    /// guest path when the socket was bound through `/proc`, since the
    /// kernel then reports that form as its name.
    pub fn bind(&self, fd: BorrowedFd<'_>, addr: &Address) -> Result<Option<Vec<u8>>, ErrorCode> {
        let path = match addr {
            Address::Pathname(p) => p,
            // Autobind: the kernel picks an abstract name. It makes the
            // socket reachable; it reaches nothing.
            Address::Unnamed => {
                return Ok(sys::bind(fd, &SockAddr::unix(&UnixName::Unnamed)?).map(|()| None)?)
            }
            Address::Abstract(name) if self.abstract_names => {
                return Ok(
                    sys::bind(fd, &SockAddr::unix(&UnixName::Abstract(name.clone()))?)
                        .map(|()| None)?,
                )
            }
            Address::Abstract(_) => return Err(ErrorCode::AccessDenied),
            Address::Ipv4(_) | Address::Ipv6(_) => {
                return Err(ErrorCode::AddressFamilyNotSupported)
            }
        };
        let (dir, rest) = self.locate(path)?;
        let (name, parents) = rest.split_last().ok_or(ErrorCode::AccessDenied)?;
        if !parents.is_empty() {
            // In a subdirectory, which the guest or others may rename or
            // swap for a link: let the kernel create the name in exactly the
            // directory resolved (race-free), at the price of a
            // /proc/self/fd/N/NAME address for peers.
            let parent = sys::openat2(
                dir.dir.as_fd(),
                &join(parents),
                libc::O_PATH | libc::O_DIRECTORY,
                RESOLVE,
            )
            .map_err(resolve_error)?;
            let mut proc = format!(
                "/proc/self/fd/{}/",
                std::os::fd::AsRawFd::as_raw_fd(&parent)
            )
            .into_bytes();
            proc.extend_from_slice(name);
            sys::bind(fd, &SockAddr::unix(&UnixName::Pathname(proc))?)?;
            return Ok(Some(path.clone()));
        }
        // Directly in the granted directory: through the directory fd held
        // since the grant, so that no rename of the directory or of any of
        // its ancestors can redirect the bind (a real-path bind could be,
        // between resolving the path and creating the socket file). The
        // kernel records this string as the socket's name; with the pid
        // rather than `self`, a peer of the same user and pid namespace
        // can reply to it, as it would to a real path.
        let mut proc = format!(
            "/proc/{}/fd/{}/",
            std::process::id(),
            std::os::fd::AsRawFd::as_raw_fd(&dir.dir)
        )
        .into_bytes();
        proc.extend_from_slice(name);
        sys::bind(fd, &SockAddr::unix(&UnixName::Pathname(proc))?)?;
        Ok(Some(path.clone()))
    }

    /// The guest path of a name this authority's `bind` gave a socket in a
    /// granted directory (`/proc/<pid>/fd/<dir fd>/NAME`).
    fn own_proc_name(&self, p: &[u8]) -> Option<Vec<u8>> {
        let rest = p.strip_prefix(format!("/proc/{}/fd/", std::process::id()).as_bytes())?;
        let slash = rest.iter().position(|&b| b == b'/')?;
        let number: std::os::fd::RawFd = std::str::from_utf8(&rest[..slash]).ok()?.parse().ok()?;
        let dir = self
            .dirs
            .iter()
            .find(|d| std::os::fd::AsRawFd::as_raw_fd(&d.dir) == number)?;
        let mut guest = dir.guest.clone();
        guest.extend_from_slice(&rest[slash..]);
        Some(guest)
    }

    /// The guest's view of a Unix address: a host path below a granted
    /// directory is shown under its guest path; other names as they are.
    pub fn to_guest(&self, name: UnixName) -> Address {
        match name {
            UnixName::Unnamed => Address::Unnamed,
            UnixName::Abstract(a) => Address::Abstract(a),
            UnixName::Pathname(p) => {
                if let Some(guest) = self.own_proc_name(&p) {
                    return Address::Pathname(guest);
                }
                for d in &self.dirs {
                    let host = d.host.as_os_str().as_bytes();
                    if let Some(rest) = p.strip_prefix(host).filter(|r| r.first() == Some(&b'/')) {
                        let mut g = d.guest.clone();
                        g.extend_from_slice(rest);
                        return Address::Pathname(g);
                    }
                }
                Address::Pathname(p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths_are_absolute_and_never_climb() {
        assert_eq!(components(b"/a//b/./c"), Ok(vec![&b"a"[..], b"b", b"c"]));
        assert_eq!(components(b"relative/x"), Err(ErrorCode::AccessDenied));
        assert_eq!(components(b"/a/../b"), Err(ErrorCode::AccessDenied));
    }

    #[test]
    fn longest_granted_prefix_wins_and_translation_round_trips() {
        let (outer, inner) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut a = UnixAuthority::default();
        a.allow_dir(outer.path(), "/run").unwrap();
        a.allow_dir(inner.path(), "/run/inner").unwrap();
        let (dir, rest) = a.locate(b"/run/inner/x.sock").unwrap();
        assert_eq!(dir.guest, b"/run/inner");
        assert_eq!(rest, vec![&b"x.sock"[..]]);
        assert_eq!(
            a.locate(b"/run").err(),
            Some(ErrorCode::AccessDenied),
            "the directory itself"
        );
        assert_eq!(a.locate(b"/etc/x").err(), Some(ErrorCode::AccessDenied));
        let host = std::fs::canonicalize(inner.path()).unwrap().join("x.sock");
        let shown = a.to_guest(UnixName::Pathname(host.as_os_str().as_bytes().to_vec()));
        assert!(matches!(shown, Address::Pathname(p) if p == b"/run/inner/x.sock"));
        let elsewhere = a.to_guest(UnixName::Pathname(b"/elsewhere.sock".to_vec()));
        assert!(matches!(elsewhere, Address::Pathname(p) if p == b"/elsewhere.sock"));
    }
}
