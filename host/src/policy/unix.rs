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
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{AddressUse, Allowed};
use crate::error::ErrorCode;
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
        let Some((dir, n)) = best else {
            let granted: Vec<_> = self
                .dirs
                .iter()
                .map(|d| String::from_utf8_lossy(&d.guest))
                .collect();
            tracing::debug!(path = %String::from_utf8_lossy(path), ?granted, "no granted directory holds this path");
            return Err(ErrorCode::AccessDenied);
        };
        Ok((dir, parts[n..].to_vec()))
    }

    /// Whether the guest may use the Unix name `name` for `use_`, and the
    /// address to give the kernel: the one Unix check, for
    /// [`super::Policy::check_address`].
    pub fn check(&self, name: &UnixName, use_: AddressUse) -> Result<Allowed, ErrorCode> {
        match (name, use_) {
            (UnixName::Abstract(_), _) if !self.abstract_names => {
                tracing::debug!("abstract socket names are not allowed by the policy");
                Err(ErrorCode::AccessDenied)
            }
            // Autobind: the kernel picks an abstract name. It makes the
            // socket reachable; it reaches nothing.
            (UnixName::Unnamed | UnixName::Abstract(_), AddressUse::Bind)
            | (UnixName::Abstract(_), _) => Ok(Allowed::plain(SockAddr::unix(name)?)),
            (UnixName::Unnamed, _) => Err(ErrorCode::InvalidArgument),
            (UnixName::Pathname(path), AddressUse::Bind) => self.bind_target(path),
            (UnixName::Pathname(path), AddressUse::Connect | AddressUse::SendTo) => self.peer(path),
        }
    }

    /// A destination path for `connect` or `send-msg`: the socket file is
    /// opened `O_PATH` and the kernel is given `/proc/self/fd/N`.
    fn peer(&self, path: &[u8]) -> Result<Allowed, ErrorCode> {
        let (dir, rest) = self.locate(path)?;
        let target = sys::openat2(
            dir.dir.as_fd(),
            &join(&rest),
            libc::O_PATH | libc::O_NOFOLLOW,
            RESOLVE,
        )
        .map_err(|e| {
            tracing::debug!(path = %String::from_utf8_lossy(path), error = %e, "the path does not resolve beneath its granted directory");
            resolve_error(e)
        })?;
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
        Ok(Allowed {
            addr: SockAddr::unix(&UnixName::Pathname(proc.into_bytes()))?,
            bound_as: None,
            _hold: Some(target),
        })
    }

    /// The address to `bind(2)` a path to, with the checks in the module
    /// docs. The guest path is kept as `bound_as`, since the kernel reports
    /// the `/proc` form as the socket's name.
    fn bind_target(&self, path: &[u8]) -> Result<Allowed, ErrorCode> {
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
            return Ok(Allowed {
                addr: SockAddr::unix(&UnixName::Pathname(proc))?,
                bound_as: Some(path.to_vec()),
                _hold: Some(parent),
            });
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
        Ok(Allowed {
            addr: SockAddr::unix(&UnixName::Pathname(proc))?,
            bound_as: Some(path.to_vec()),
            _hold: None,
        })
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

    /// The guest's view of a Unix name: a host path below a granted
    /// directory is shown under its guest path; other names as they are.
    pub fn to_guest(&self, name: UnixName) -> UnixName {
        let UnixName::Pathname(p) = name else {
            return name;
        };
        if let Some(guest) = self.own_proc_name(&p) {
            return UnixName::Pathname(guest);
        }
        for d in &self.dirs {
            let host = d.host.as_os_str().as_bytes();
            if let Some(rest) = p.strip_prefix(host).filter(|r| r.first() == Some(&b'/')) {
                let mut g = d.guest.clone();
                g.extend_from_slice(rest);
                return UnixName::Pathname(g);
            }
        }
        UnixName::Pathname(p)
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
        assert_eq!(shown, UnixName::Pathname(b"/run/inner/x.sock".to_vec()));
        let elsewhere = a.to_guest(UnixName::Pathname(b"/elsewhere.sock".to_vec()));
        assert_eq!(elsewhere, UnixName::Pathname(b"/elsewhere.sock".to_vec()));
    }
}
