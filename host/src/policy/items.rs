//! Which ancillary items a guest may send on which socket: the family an
//! item belongs to, whose credentials it may claim, which source addresses
//! it may choose, which `raw` pairs it may use, and how many fds and
//! control bytes one message may carry.

use std::net::IpAddr;

use super::{Limits, Policy, SocketKind};
use crate::bindings::types::{AddressFamily, SocketType};
use crate::cmsg::uapi::{SCM_PIDFD, SCM_SECURITY};
use crate::cmsg::{encoded_len, SendItem, Ucred};
use crate::error::ErrorCode;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The pair carries fds or identities: never allowed as raw.
    Forbidden,
    /// The pair is not on the allowlist.
    NotAllowed,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Forbidden => {
                "this ancillary item carries descriptors or identities and can never be sent raw"
            }
            Refusal::NotAllowed => "this ancillary item is not allowed by the policy",
        })
    }
}

impl std::error::Error for Refusal {}

pub(super) fn is_never_raw(level: i32, ty: i32) -> bool {
    NEVER_RAW.contains(&(level, ty))
}

pub(super) fn default_raw() -> Vec<(i32, i32)> {
    DEFAULT_RAW.to_vec()
}

/// Whether `item` can go out on a socket of `kind` at all. Items of another
/// family than the socket's are `not-supported` (Linux would drop some
/// silently, e.g. `SCM_RIGHTS` on UDP).
fn fits(item: &SendItem<'_, '_>, kind: SocketKind) -> bool {
    use AddressFamily as F;
    match item {
        SendItem::Rights(_) | SendItem::Credentials(_) => kind.family == F::Unix,
        SendItem::Ipv4PacketInfo { .. } | SendItem::Ttl(_) | SendItem::Tos(_) => {
            kind.family == F::Ipv4
        }
        SendItem::Ipv6PacketInfo { .. } | SendItem::HopLimit(_) | SendItem::TrafficClass(_) => {
            kind.family == F::Ipv6
        }
        SendItem::SegmentSize(_) => kind.family != F::Unix && kind.ty == SocketType::Datagram,
        SendItem::Timestamping(_) | SendItem::Raw { .. } => true,
    }
}

impl Policy {
    /// Checks the items of one message for a socket of `kind`, in order:
    /// `not-supported` for an item of another family, `access-denied` for
    /// credentials not the host's own (unless allowed), a source address
    /// outside the network policy or a raw pair off the allowlist;
    /// then `limit-reached` for more fds or control bytes than `limits`.
    pub(crate) fn check_items(
        &self,
        kind: SocketKind,
        items: &[SendItem<'_, '_>],
        limits: &Limits,
    ) -> Result<(), ErrorCode> {
        let mut fds = 0usize;
        for item in items {
            if !fits(item, kind) {
                tracing::debug!(?item, family = ?kind.family, ty = ?kind.ty, "ancillary item of another family than the socket's");
                return Err(ErrorCode::NotSupported);
            }
            let allowed = match item {
                SendItem::Rights(rights) => {
                    fds += rights.len();
                    true
                }
                SendItem::Credentials(c) => self.check_credentials(*c).is_ok(),
                SendItem::Ipv4PacketInfo { source, .. } => {
                    self.net.allows_source(IpAddr::V4(*source))
                }
                SendItem::Ipv6PacketInfo { source, .. } => {
                    self.net.allows_source(IpAddr::V6(*source))
                }
                SendItem::Raw { level, ty, .. } => self.check_raw(*level, *ty).is_ok(),
                _ => true,
            };
            if !allowed {
                tracing::debug!(?item, "ancillary item refused: foreign credentials, a source address outside the IP rules, or a raw pair off the allowlist");
                return Err(ErrorCode::AccessDenied);
            }
        }
        match encoded_len(items) {
            Some(bytes)
                if bytes <= limits.max_control_bytes && fds <= limits.max_fds_per_message =>
            {
                Ok(())
            }
            _ => {
                tracing::debug!(
                    fds,
                    max_fds = limits.max_fds_per_message,
                    max_control_bytes = limits.max_control_bytes,
                    "ancillary data over the limits"
                );
                Err(ErrorCode::LimitReached)
            }
        }
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

    #[test]
    fn items_of_another_family_are_refused() {
        let policy = Policy::default();
        let limits = Limits::default();
        let udp4 = SocketKind {
            family: AddressFamily::Ipv4,
            ty: SocketType::Datagram,
        };
        let unix = SocketKind {
            family: AddressFamily::Unix,
            ty: SocketType::Datagram,
        };
        let check = |item: SendItem<'_, '_>, sock| policy.check_items(sock, &[item], &limits);
        assert_eq!(
            check(SendItem::Rights(Vec::new()), udp4),
            Err(ErrorCode::NotSupported)
        );
        assert_eq!(
            check(SendItem::HopLimit(3), udp4),
            Err(ErrorCode::NotSupported)
        );
        assert_eq!(check(SendItem::Ttl(3), unix), Err(ErrorCode::NotSupported));
        assert_eq!(
            check(SendItem::SegmentSize(100), unix),
            Err(ErrorCode::NotSupported)
        );
        assert_eq!(check(SendItem::Ttl(7), udp4), Ok(()));
        // A chosen source outside the (empty) network policy.
        let src = SendItem::Ipv4PacketInfo {
            source: "127.0.0.1".parse().unwrap(),
            interface: 0,
        };
        assert_eq!(check(src, udp4), Err(ErrorCode::AccessDenied));
        let raw = SendItem::Raw {
            level: libc::SOL_SOCKET,
            ty: libc::SCM_RIGHTS,
            data: &[0; 4],
        };
        assert_eq!(check(raw, unix), Err(ErrorCode::AccessDenied));
    }

    #[test]
    fn fd_and_control_byte_limits_apply_to_the_whole_message() {
        let policy = Policy::default();
        let limits = Limits {
            max_fds_per_message: 2,
            ..Limits::default()
        };
        let unix = SocketKind {
            family: AddressFamily::Unix,
            ty: SocketType::Stream,
        };
        let stdin = std::io::stdin();
        let fd = std::os::fd::AsFd::as_fd(&stdin);
        let two = [SendItem::Rights(vec![fd]), SendItem::Rights(vec![fd])];
        assert_eq!(policy.check_items(unix, &two, &limits), Ok(()));
        let three = [SendItem::Rights(vec![fd, fd]), SendItem::Rights(vec![fd])];
        assert_eq!(
            policy.check_items(unix, &three, &limits),
            Err(ErrorCode::LimitReached)
        );
        let small = Limits {
            max_control_bytes: 16,
            ..Limits::default()
        };
        assert_eq!(
            policy.check_items(unix, &[SendItem::Rights(vec![fd])], &small),
            Err(ErrorCode::LimitReached)
        );
    }
}
