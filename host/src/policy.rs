//! What a guest may do: which ancillary items it may send, whose credentials
//! it may claim, and how much it may hold or move at once.

use std::io;
use std::path::Path;

use crate::authority::UnixAuthority;
use crate::cmsg::{Ucred, SCM_MAX_FD, SCM_PIDFD, SCM_SECURITY};
use crate::netpolicy::{IpRule, NetPolicy};

/// Control messages that carry file descriptors or identities, or steer
/// packets past the network policy. They are never accepted as `raw`,
/// whatever the policy says: fds travel only as typed handles (`rights`),
/// credentials only through the checked `credentials` item.
const NEVER_RAW: &[(i32, i32)] = &[
    (libc::SOL_SOCKET, libc::SCM_RIGHTS),
    (libc::SOL_SOCKET, libc::SCM_CREDENTIALS),
    (libc::SOL_SOCKET, SCM_PIDFD),
    (libc::SOL_SOCKET, SCM_SECURITY),
    // These choose a packet's source address or route, which the network
    // policy checks: only the typed `ipv4-packet-info` / `ipv6-packet-info`
    // items may set a source, and nothing may set a route.
    (libc::IPPROTO_IP, libc::IP_PKTINFO),
    (libc::IPPROTO_IP, libc::IP_RETOPTS),
    (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO),
    (libc::IPPROTO_IPV6, libc::IPV6_NEXTHOP),
    (libc::IPPROTO_IPV6, libc::IPV6_RTHDR),
    (libc::IPPROTO_IPV6, libc::IPV6_2292PKTINFO),
    (libc::IPPROTO_IPV6, libc::IPV6_2292RTHDR),
];

/// Items accepted as `raw` by default: per-packet IP settings that an
/// unprivileged native program may set on its own sockets. None of them
/// carries a descriptor or an identity. (The kernel ignores them on Unix
/// sockets.)
const DEFAULT_RAW: &[(i32, i32)] = &[
    (libc::IPPROTO_IP, libc::IP_TTL),
    (libc::IPPROTO_IP, libc::IP_TOS),
    (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT),
    (libc::IPPROTO_IPV6, libc::IPV6_TCLASS),
];

/// Why an item was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The pair carries fds or identities: never allowed as raw.
    Forbidden,
    /// The pair is not on the allowlist.
    NotAllowed,
}

/// The embedder's rules for one guest. The default is the safe one: only
/// the host's own credentials, a small raw allowlist.
#[derive(Clone, Debug)]
pub struct Policy {
    raw_allowed: Vec<(i32, i32)>,
    foreign_credentials: bool,
    pub(crate) unix: UnixAuthority,
    pub(crate) net: NetPolicy,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            raw_allowed: DEFAULT_RAW.to_vec(),
            foreign_credentials: false,
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
        if is_never_raw(level, ty) {
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

    /// Checks a raw item before it is encoded.
    pub fn check_raw(&self, level: i32, ty: i32) -> Result<(), Refusal> {
        if is_never_raw(level, ty) {
            Err(Refusal::Forbidden)
        } else if self.raw_allowed.contains(&(level, ty)) {
            Ok(())
        } else {
            Err(Refusal::NotAllowed)
        }
    }

    /// Checks credentials a guest wants to send: by default only the host's
    /// own pid and real or effective uid and gid.
    pub fn check_credentials(&self, cred: Ucred) -> Result<(), Refusal> {
        if self.foreign_credentials {
            return Ok(());
        }
        let (pid, uids, gids) = crate::sys::process_ids();
        if cred.pid == pid && uids.contains(&cred.uid) && gids.contains(&cred.gid) {
            Ok(())
        } else {
            Err(Refusal::NotAllowed)
        }
    }
}

fn is_never_raw(level: i32, ty: i32) -> bool {
    NEVER_RAW.contains(&(level, ty))
}

/// Per-guest limits. Exceeding one is an `error-code` (`limit-reached` or
/// `message-size`), never a trap.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Socket and descriptor handles the guest may hold at once (default 1024).
    /// File descriptors received beyond it are closed and the receive reports
    /// `control-truncated`, as Linux does when a process hits `RLIMIT_NOFILE`.
    pub max_handles: usize,
    /// File descriptors per sent message, at most [`SCM_MAX_FD`] (default 253).
    pub max_fds_per_message: usize,
    /// Data bytes per `send-msg`, and the largest `max-data` of `recv-msg`
    /// and `len` of `read` (default 8 MiB).
    pub max_message_bytes: usize,
    /// Control-buffer bytes per message, sent or received (default 64 KiB).
    pub max_control_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_handles: 1024,
            max_fds_per_message: SCM_MAX_FD,
            max_message_bytes: 8 << 20,
            max_control_bytes: 64 << 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_carrying_pairs_can_never_be_allowed_raw() {
        let mut p = Policy::new();
        for (level, ty) in NEVER_RAW {
            assert_eq!(p.allow_raw(*level, *ty).err(), Some(Refusal::Forbidden));
            assert_eq!(p.check_raw(*level, *ty), Err(Refusal::Forbidden));
        }
    }

    #[test]
    fn raw_allowlist_is_explicit() {
        let mut p = Policy::new();
        assert_eq!(p.check_raw(libc::IPPROTO_IP, libc::IP_TTL), Ok(()));
        assert_eq!(
            p.check_raw(libc::SOL_SOCKET, libc::SO_MARK),
            Err(Refusal::NotAllowed)
        );
        p.allow_raw(1000, 1).unwrap();
        assert_eq!(p.check_raw(1000, 1), Ok(()));
        p.deny_all_raw();
        assert_eq!(
            p.check_raw(libc::IPPROTO_IP, libc::IP_TTL),
            Err(Refusal::NotAllowed)
        );
    }

    #[test]
    fn only_own_credentials_by_default() {
        let (pid, uids, gids) = crate::sys::process_ids();
        let mut p = Policy::new();
        let own = Ucred {
            pid,
            uid: uids[0],
            gid: gids[0],
        };
        assert_eq!(p.check_credentials(own), Ok(()));
        let forged = Ucred { pid: 1, ..own };
        assert_eq!(p.check_credentials(forged), Err(Refusal::NotAllowed));
        let other_uid = Ucred {
            uid: uids[0].wrapping_add(1),
            ..own
        };
        assert_eq!(p.check_credentials(other_uid), Err(Refusal::NotAllowed));
        p.allow_foreign_credentials(true);
        assert_eq!(p.check_credentials(forged), Ok(()));
    }
}
