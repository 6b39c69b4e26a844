//! What a guest may do, decided in one place: which addresses it may bind,
//! connect and send to ([`Policy::check_address`], shaped like
//! wasmtime-wasi's `SocketAddrCheck` with an [`AddressUse`]), which
//! ancillary items it may send ([`Policy::check_items`]), which IP family it
//! may create sockets of ([`Policy::check_family`]), and how much it may
//! hold or move ([`Limits`]).
//!
//! - [`unix`]: path names below granted directories, resolved race-free;
//!   abstract names only if allowed;
//! - [`ip`]: `--allow-ip` rules (networks and ports);
//! - [`items`]: the ancillary items, with the raw allowlist;
//! - [`limits`]: handle, fd, message and control-buffer limits.
//!
//! The policy takes plain names ([`SockName`]) and codec items, never WIT
//! types; the codec never sees the policy.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::Path;

pub(crate) mod ip;
mod items;
mod limits;
mod unix;

pub use ip::{BadRule, IpRule};
pub use items::Refusal;
pub use limits::Limits;

use crate::bindings::types::AddressFamily;
use crate::error::ErrorCode;
use crate::resources::SocketKind;
use crate::sys::sockaddr::SockName;
use crate::sys::SockAddr;
use ip::NetPolicy;
use unix::UnixAuthority;

/// What the guest wants to do with an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddressUse {
    /// `bind`: a local address.
    Bind,
    /// `connect`.
    Connect,
    /// The destination of one `send-msg`.
    SendTo,
}

/// An address allowed for one use, ready for the kernel.
pub(crate) struct Allowed {
    /// What to give `bind(2)`, `connect(2)` or `sendmsg(2)`.
    pub addr: SockAddr,
    /// The guest path a Unix bind gives the socket, when the kernel will
    /// report another form of it (a `/proc` path).
    pub bound_as: Option<Vec<u8>>,
    /// Keeps open the fd that a `/proc/self/fd/N` in `addr` names.
    _hold: Option<OwnedFd>,
}

impl Allowed {
    /// An address that needs nothing kept open.
    pub(crate) fn plain(addr: SockAddr) -> Allowed {
        Allowed {
            addr,
            bound_as: None,
            _hold: None,
        }
    }
}

/// The embedder's rules for one guest. The default is the safe one: only
/// the host's own credentials, a small raw allowlist.
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) raw_allowed: Vec<(i32, i32)>,
    pub(crate) foreign_credentials: bool,
    pub(crate) received_directories: bool,
    pub(crate) unix: UnixAuthority,
    pub(crate) net: NetPolicy,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            raw_allowed: items::default_raw(),
            foreign_credentials: false,
            received_directories: false,
            unix: UnixAuthority::default(),
            net: NetPolicy::default(),
        }
    }
}

impl Policy {
    /// The default policy.
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Allows guests to send `raw(level, type, ...)` items of this pair.
    /// Returns `Err(Refusal::Forbidden)` for pairs that carry descriptors or
    /// identities (`SCM_RIGHTS`, `SCM_CREDENTIALS`, `SCM_PIDFD`,
    /// `SCM_SECURITY`): those can never be allowed as raw.
    pub fn allow_raw(&mut self, level: i32, ty: i32) -> Result<&mut Policy, Refusal> {
        if items::is_never_raw(level, ty) {
            return Err(Refusal::Forbidden);
        }
        if !self.raw_allowed.contains(&(level, ty)) {
            self.raw_allowed.push((level, ty));
        }
        Ok(self)
    }

    /// Lets the guest `bind`, `connect` and send to Unix sockets at paths
    /// below the host directory `host`, which the guest names `guest` (an
    /// absolute path). The directory is opened now; paths are resolved
    /// beneath it without following symbolic links.
    pub fn allow_unix_dir(
        &mut self,
        host: impl AsRef<Path>,
        guest: &str,
    ) -> io::Result<&mut Policy> {
        self.unix.allow_dir(host.as_ref(), guest)?;
        Ok(self)
    }

    /// Lets the guest use Linux abstract-namespace socket names, which reach
    /// any abstract socket in the host's network namespace (D-Bus, X11, ...).
    /// Off by default.
    pub fn allow_abstract_names(&mut self, allow: bool) -> &mut Policy {
        self.unix.allow_abstract(allow);
        self
    }

    /// Lets the guest create UDP and TCP sockets and bind, connect and
    /// send to (and choose source addresses in) `rule`'s network and ports.
    /// Without any rule, IP sockets cannot be created at all.
    pub fn allow_ip(&mut self, rule: IpRule) -> &mut Policy {
        self.net.allow(rule);
        self
    }

    /// Applies the IP rules to WASI's own sockets too (`wasi:sockets`, which
    /// `std::net` uses in a `wasm32-wasip2` guest), so a guest is allowed
    /// the same addresses through either API: call it on the
    /// [`WasiCtxBuilder`](wasmtime_wasi::WasiCtxBuilder) of the guest whose
    /// [`CapsockCtx`](crate::CapsockCtx) gets this policy. Without any IP
    /// rule it turns TCP and UDP off (whatever the builder said before,
    /// `inherit_network` included); with rules it turns them on and
    /// installs the address check:
    ///
    /// | `wasi:sockets` use | allowed when |
    /// |---|---|
    /// | bind (TCP, UDP) | a rule covers the address, as capsock's `bind`; the unspecified address with port 0 whenever a rule covers its family (wasmtime-wasi checks it before a `connect` or first send binds implicitly, and cannot tell it from an explicit bind to it: std's `UdpSocket::bind("0.0.0.0:0")` is allowed, where capsock's `bind` wants a rule covering `0.0.0.0`) |
    /// | listen | a rule covers the bound address |
    /// | connect (TCP, UDP), send | a rule covers the destination, as capsock's `connect` and `send-msg` |
    /// | accept, receive | always, as capsock's `accept` and `recv`: the socket itself was allowed |
    ///
    /// Name lookup (`wasi:sockets/ip-name-lookup`) stays off. The check is
    /// taken from the policy as it is now; later rules do not reach it.
    pub fn apply_to_wasi(&self, wasi: &mut wasmtime_wasi::WasiCtxBuilder) {
        let any = self.net.allows_family(false) || self.net.allows_family(true);
        let net = self.net.clone();
        wasi.allow_tcp(any)
            .allow_udp(any)
            .socket_addr_check(move |addr, use_| {
                let allowed = net.allows_wasi(addr, use_);
                if !allowed {
                    tracing::debug!(address = %addr, ?use_, "wasi:sockets address refused");
                }
                Box::pin(std::future::ready(allowed))
            });
    }

    /// Lets the guest turn a directory it received (or was granted) into a
    /// WASI directory (`descriptor.into-filesystem`) and open paths beneath
    /// it. Off by default, because those paths are resolved by the host
    /// process, with its credentials: `..` and symbolic links cannot lead
    /// out, but a mount beneath the directory is crossed, and `/proc`
    /// reached from it (say, from a peer's `/`) names the *host's*
    /// process (`proc/self/mem`). A directory on procfs, sysfs, debugfs,
    /// tracefs, securityfs, bpffs or a cgroup filesystem is refused even
    /// then. Turn it on only when the peers that can send the guest
    /// directories are trusted to send ones without such mounts beneath.
    pub fn allow_received_directories(&mut self, allow: bool) -> &mut Policy {
        self.received_directories = allow;
        self
    }

    /// Removes every raw pair from the allowlist.
    pub fn deny_all_raw(&mut self) -> &mut Policy {
        self.raw_allowed.clear();
        self
    }

    /// Lets guests send `SCM_CREDENTIALS` with any pid/uid/gid. The kernel
    /// still checks them against the host process's privileges, so on a
    /// root or `CAP_SYS_ADMIN` host this lets a guest impersonate any
    /// process. Off by default.
    pub fn allow_foreign_credentials(&mut self, allow: bool) -> &mut Policy {
        self.foreign_credentials = allow;
        self
    }

    /// Whether a socket of `kind` may use `name` for `use_`, and the
    /// address to give the kernel if so: the one address check, for every
    /// `bind`, `connect` and `send-msg`. An address of another family than
    /// the socket's is `address-family-not-supported`; one the policy does
    /// not grant, `access-denied`.
    pub(crate) fn check_address(
        &self,
        kind: SocketKind,
        name: &SockName,
        use_: AddressUse,
    ) -> Result<Allowed, ErrorCode> {
        let r = self.address(kind, name, use_);
        if let Err(error) = &r {
            tracing::debug!(family = ?kind.family, address = ?name, ?use_, ?error, "address refused");
        }
        r
    }

    fn address(
        &self,
        kind: SocketKind,
        name: &SockName,
        use_: AddressUse,
    ) -> Result<Allowed, ErrorCode> {
        match (kind.family, name) {
            (AddressFamily::Unix, SockName::Unix(unix)) => self.unix.check(unix, use_),
            (AddressFamily::Ipv4, SockName::Ip(ip @ SocketAddr::V4(_)))
            | (AddressFamily::Ipv6, SockName::Ip(ip @ SocketAddr::V6(_))) => {
                let allowed = match use_ {
                    AddressUse::Bind => self.net.allows_local(*ip),
                    AddressUse::Connect | AddressUse::SendTo => self.net.allows_destination(*ip),
                };
                if !allowed {
                    tracing::debug!(address = %ip, "no IP rule of the policy allows this address");
                    return Err(ErrorCode::AccessDenied);
                }
                Ok(Allowed::plain(SockAddr::new(name)?))
            }
            _ => Err(ErrorCode::AddressFamilyNotSupported),
        }
    }

    /// Whether the guest may create IP sockets of this family: not when no
    /// rule lets it reach anything of it.
    pub(crate) fn check_family(&self, family: AddressFamily) -> Result<(), ErrorCode> {
        let allowed = match family {
            AddressFamily::Ipv4 => self.net.allows_family(false),
            AddressFamily::Ipv6 => self.net.allows_family(true),
            AddressFamily::Unix => true,
        };
        if !allowed {
            tracing::debug!(?family, "no IP rule of the policy covers this family");
            return Err(ErrorCode::AccessDenied);
        }
        Ok(())
    }

    /// The guest's view of an address the kernel reported: a host path
    /// below a granted directory is shown under its guest path.
    pub(crate) fn to_guest(&self, name: SockName) -> SockName {
        match name {
            SockName::Unix(unix) => SockName::Unix(self.unix.to_guest(unix)),
            ip => ip,
        }
    }
}
