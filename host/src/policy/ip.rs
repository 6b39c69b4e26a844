//! Which IP addresses and ports a guest may bind, connect and send to:
//! `--allow-ip CIDR[:PORTS]` rules. Nothing is allowed by default.
//!
//! Addresses are checked as the kernel will use them: an IPv4-mapped IPv6
//! address (`::ffff:a.b.c.d`) is checked as the IPv4 address it reaches,
//! and an unspecified destination (`0.0.0.0`, `::`), which Linux sends to
//! the local host, as the loopback address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::str::FromStr;

use ipnet::IpNet;
use wasmtime_wasi::sockets::SocketAddrUse;

/// One rule: a network and a port range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpRule {
    net: IpNet,
    ports: RangeInclusive<u16>,
}

impl IpRule {
    /// A rule for `network/prefix` and `ports`; the address bits beyond the
    /// prefix are ignored. `None` if the prefix is longer than the address.
    pub fn new(network: IpAddr, prefix: u8, ports: RangeInclusive<u16>) -> Option<IpRule> {
        let net = IpNet::new(network, prefix).ok()?;
        // A rule written as ::ffff:a.b.c.d/N covers IPv4 addresses.
        let net = match (network, canonical(network)) {
            (IpAddr::V6(_), v4 @ IpAddr::V4(_)) if prefix >= 96 => {
                IpNet::new(v4, prefix - 96).ok()?
            }
            _ => net,
        };
        Some(IpRule {
            net: net.trunc(),
            ports,
        })
    }

    fn covers(&self, ip: IpAddr) -> bool {
        self.net.contains(&canonical(ip))
    }

    fn matches(&self, addr: SocketAddr) -> bool {
        self.ports.contains(&addr.port()) && self.covers(addr.ip())
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Why `--allow-ip` text was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRule(String);

impl fmt::Display for BadRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (expected CIDR[:PORT[-PORT]], e.g. 127.0.0.1/32:8000-8100 or [::1/128]:53)",
            self.0
        )
    }
}

impl std::error::Error for BadRule {}

impl FromStr for IpRule {
    type Err = BadRule;

    /// `ADDR[/PREFIX][:PORTS]` for IPv4, `ADDR[/PREFIX]` or
    /// `[ADDR[/PREFIX]]:PORTS` for IPv6; `PORTS` is `N` or `N-M`. Without a
    /// prefix the rule covers the one address; without ports, every port.
    fn from_str(s: &str) -> Result<IpRule, BadRule> {
        let bad = |why: &str| BadRule(format!("{s:?}: {why}"));
        let (net, ports) = if let Some(rest) = s.strip_prefix('[') {
            let (net, after) = rest.split_once(']').ok_or_else(|| bad("no closing ']'"))?;
            match after {
                "" => (net, None),
                _ => (
                    net,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| bad("expected ':' after ']'"))?,
                    ),
                ),
            }
        } else if s.matches(':').count() > 1 {
            (s, None) // a bare IPv6 network: no ports
        } else {
            match s.split_once(':') {
                Some((net, ports)) => (net, Some(ports)),
                None => (s, None),
            }
        };
        let (addr, prefix) = match net.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (net, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| bad("bad prefix length"))?,
            None => max,
        };
        let port = |p: &str| p.parse::<u16>().map_err(|_| bad("bad port"));
        let ports = match ports {
            None => 0..=u16::MAX,
            Some(p) => match p.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (port(lo)?, port(hi)?);
                    if lo > hi {
                        return Err(bad("empty port range"));
                    }
                    lo..=hi
                }
                None => {
                    let p = port(p)?;
                    p..=p
                }
            },
        };
        IpRule::new(addr, prefix, ports).ok_or_else(|| bad("prefix longer than the address"))
    }
}

/// The network policy of one guest: a list of rules, empty by default.
#[derive(Clone, Debug, Default)]
pub struct NetPolicy {
    rules: Vec<IpRule>,
}

impl NetPolicy {
    /// Adds a rule.
    pub fn allow(&mut self, rule: IpRule) {
        self.rules.push(rule);
    }

    /// Whether any rule is for this family: `create-ip` is refused for a
    /// family the guest can reach nothing of.
    pub fn allows_family(&self, ipv6: bool) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.net, IpNet::V6(_)) == ipv6)
    }

    /// A local address to `bind` or to send from (`IP_PKTINFO`): checked as
    /// given, so binding `0.0.0.0` needs a rule that covers `0.0.0.0`.
    pub fn allows_local(&self, addr: SocketAddr) -> bool {
        self.rules.iter().any(|r| r.matches(addr))
    }

    /// A source address chosen with `IP_PKTINFO` / `IPV6_PKTINFO`: the
    /// unspecified address leaves the choice to the kernel; any other must
    /// be allowed (on any port).
    pub fn allows_source(&self, ip: IpAddr) -> bool {
        ip.is_unspecified() || self.rules.iter().any(|r| r.covers(ip))
    }

    /// A destination to `connect` or send to.
    pub fn allows_destination(&self, addr: SocketAddr) -> bool {
        let ip = match canonical(addr.ip()) {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        self.allows_local(SocketAddr::new(ip, addr.port()))
    }

    /// Whether `wasi:sockets` may use `addr` for `use_` (see
    /// [`Policy::apply_to_wasi`](super::Policy::apply_to_wasi)).
    pub fn allows_wasi(&self, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        match use_ {
            // wasmtime-wasi checks the unspecified address with port 0
            // before a connect or first send that will bind implicitly;
            // capsock's own sockets let the kernel do that unchecked.
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind
                if addr.ip().is_unspecified() && addr.port() == 0 =>
            {
                self.allows_family(addr.is_ipv6())
            }
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind | SocketAddrUse::TcpListen => {
                self.allows_local(addr)
            }
            SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend => self.allows_destination(addr),
            SocketAddrUse::TcpAccept | SocketAddrUse::UdpReceive => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &[&str]) -> NetPolicy {
        let mut p = NetPolicy::default();
        for r in rules {
            p.allow(r.parse().unwrap());
        }
        p
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_and_port_ranges() {
        let r: IpRule = "10.1.2.3/8:80-90".parse().unwrap();
        assert_eq!(
            r,
            IpRule::new("10.1.2.3".parse().unwrap(), 8, 80..=90).unwrap()
        );
        let r: IpRule = "[::1/128]:53".parse().unwrap();
        assert_eq!(r.ports, 53..=53);
        let r: IpRule = "fe80::/10".parse().unwrap();
        assert_eq!((r.net.prefix_len(), r.ports), (10, 0..=u16::MAX));
        let r: IpRule = "127.0.0.1".parse().unwrap();
        assert_eq!((r.net.prefix_len(), r.ports), (32, 0..=u16::MAX));
        let r: IpRule = "[::1]".parse().unwrap();
        assert_eq!(r.net.prefix_len(), 128);
        for bad in [
            "",
            "10.0.0.0/33",
            "[::1/129]",
            "1.2.3.4:90-80",
            "1.2.3.4:x",
            "[::1]53",
            "[::1",
            "host:80",
            "1.2.3.4/x",
        ] {
            assert!(bad.parse::<IpRule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let p = NetPolicy::default();
        assert!(!p.allows_destination(sa("127.0.0.1:80")));
        assert!(!p.allows_local(sa("0.0.0.0:0")));
        assert!(!p.allows_family(false) && !p.allows_family(true));
    }

    #[test]
    fn wasi_socket_uses_follow_capsocks_own_rules() {
        use SocketAddrUse::*;
        let p = policy(&["127.0.0.1:8000-8100"]);
        // The wildcard with port 0 (an implicit bind before a connect or
        // send) in a family a rule covers; never a wildcard with a port,
        // nor a listen on the wildcard address.
        assert!(p.allows_wasi(sa("0.0.0.0:0"), TcpBind));
        assert!(p.allows_wasi(sa("0.0.0.0:0"), UdpBind));
        assert!(!p.allows_wasi(sa("[::]:0"), UdpBind));
        assert!(!p.allows_wasi(sa("[::]:0"), TcpBind));
        assert!(policy(&["[::1]"]).allows_wasi(sa("[::]:0"), UdpBind));
        assert!(!p.allows_wasi(sa("0.0.0.0:8000"), TcpBind));
        assert!(!p.allows_wasi(sa("0.0.0.0:0"), TcpListen));
        assert!(p.allows_wasi(sa("127.0.0.1:8000"), TcpListen));
        assert!(!p.allows_wasi(sa("127.0.0.1:9000"), TcpBind));
        assert!(p.allows_wasi(sa("127.0.0.1:8100"), TcpConnect));
        assert!(p.allows_wasi(sa("0.0.0.0:8001"), UdpSend));
        assert!(!p.allows_wasi(sa("127.0.0.2:8001"), UdpSend));
        assert!(!p.allows_wasi(sa("127.0.0.1:7999"), TcpConnect));
        assert!(p.allows_wasi(sa("10.0.0.1:1"), TcpAccept));
        assert!(p.allows_wasi(sa("10.0.0.1:1"), UdpReceive));
    }

    #[test]
    fn matches_network_and_ports() {
        let p = policy(&["127.0.0.0/8:8000-8100", "[2001:db8::/32]:443"]);
        assert!(p.allows_destination(sa("127.9.9.9:8000")));
        assert!(p.allows_destination(sa("127.0.0.1:8100")));
        assert!(!p.allows_destination(sa("127.0.0.1:8101")));
        assert!(!p.allows_destination(sa("128.0.0.1:8000")));
        assert!(p.allows_destination(sa("[2001:db8:ffff::1]:443")));
        assert!(!p.allows_destination(sa("[2001:db9::1]:443")));
        assert!(p.allows_family(false) && p.allows_family(true));
        // Port 0 (bind to any port) only where the range has it.
        assert!(!p.allows_local(sa("127.0.0.1:0")));
        assert!(policy(&["127.0.0.1"]).allows_local(sa("127.0.0.1:0")));
    }

    #[test]
    fn mapped_and_unspecified_addresses_are_checked_as_the_kernel_uses_them() {
        let p = policy(&["10.0.0.0/8"]);
        // ::ffff:10.0.0.1 reaches 10.0.0.1; ::ffff:127.0.0.1 reaches loopback.
        assert!(p.allows_destination(sa("[::ffff:10.0.0.1]:1")));
        assert!(!p.allows_destination(sa("[::ffff:127.0.0.1]:1")));
        // 0.0.0.0 as a destination is the local host.
        assert!(!p.allows_destination(sa("0.0.0.0:1")));
        assert!(policy(&["127.0.0.1"]).allows_destination(sa("0.0.0.0:1")));
        assert!(policy(&["::1"]).allows_destination(sa("[::]:1")));
        // Binding the wildcard needs a rule for the wildcard.
        assert!(!policy(&["127.0.0.1"]).allows_local(sa("0.0.0.0:1")));
        assert!(policy(&["0.0.0.0/0"]).allows_local(sa("0.0.0.0:1")));
        // A chosen source: unspecified is "kernel chooses".
        assert!(p.allows_source("0.0.0.0".parse().unwrap()));
        assert!(p.allows_source("10.2.3.4".parse().unwrap()));
        assert!(!p.allows_source("127.0.0.1".parse().unwrap()));
    }
}
