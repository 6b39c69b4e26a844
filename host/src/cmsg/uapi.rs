//! Linux UAPI numbers the codec needs that `libc` does not export for every
//! target: the asm-generic values (x86_64, aarch64, riscv64, ...), each
//! named after the header it comes from. Everything else is taken from
//! `libc` where it is used. Porting capsock to another Unix starts here.

/// `SCM_MAX_FD` (net/scm.h): the most file descriptors Linux accepts in
/// one message.
pub const SCM_MAX_FD: usize = 253;
/// `SCM_SECURITY` (linux/socket.h, with `SO_PASSSEC`): the sender's
/// security label.
pub const SCM_SECURITY: i32 = 0x03;
/// `SCM_PIDFD` (linux/socket.h, Linux 6.5, with `SO_PASSPIDFD`): one fd, a
/// pidfd for the sender.
pub const SCM_PIDFD: i32 = 0x04;

/// `SO_PASSSEC` (asm-generic/socket.h).
pub const SO_PASSSEC: i32 = 34;
/// `SO_PASSPIDFD` (asm-generic/socket.h, Linux 6.5).
pub const SO_PASSPIDFD: i32 = 76;
/// `SO_RXQ_OVFL` (asm-generic/socket.h).
pub const SO_RXQ_OVFL: i32 = 40;
/// `SO_TIMESTAMP_OLD`: `struct timeval`.
pub const SO_TIMESTAMP_OLD: i32 = 29;
/// `SO_TIMESTAMPNS_OLD`: `struct timespec`.
pub const SO_TIMESTAMPNS_OLD: i32 = 35;
/// `SO_TIMESTAMPING_OLD`: `struct scm_timestamping`.
pub const SO_TIMESTAMPING_OLD: i32 = 37;
/// `SO_TIMESTAMP_NEW`: `struct __kernel_sock_timeval` (64-bit fields).
pub const SO_TIMESTAMP_NEW: i32 = 63;
/// `SO_TIMESTAMPNS_NEW`: `struct __kernel_timespec`.
pub const SO_TIMESTAMPNS_NEW: i32 = 64;
/// `SO_TIMESTAMPING_NEW`: `struct scm_timestamping64`.
pub const SO_TIMESTAMPING_NEW: i32 = 65;

/// `UDP_SEGMENT` (linux/udp.h): GSO segment size, a `u16`.
pub const UDP_SEGMENT: i32 = 103;
/// `UDP_GRO` (linux/udp.h): on receive, the GRO segment size as an `int`.
pub const UDP_GRO: i32 = 104;
/// `IPV6_RECVORIGDSTADDR` / `IPV6_ORIGDSTADDR` (linux/in6.h).
pub const IPV6_ORIGDSTADDR: i32 = 74;

/// `SO_EE_ORIGIN_ZEROCOPY` (linux/errqueue.h).
pub const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
/// `SO_EE_ORIGIN_TXTIME` (linux/errqueue.h).
pub const SO_EE_ORIGIN_TXTIME: u8 = 6;

/// `struct in6_pktinfo` (RFC 3542): `in6_addr ipi6_addr; int ipi6_ifindex`.
pub const IN6_PKTINFO_LEN: usize = 20;
/// Offset of `ipi6_ifindex` in `struct in6_pktinfo`.
pub const IN6_PKTINFO_IFINDEX: usize = 16;
