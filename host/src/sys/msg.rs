//! `sendmsg(2)` and `recvmsg(2)`: hand-written on `libc`, because the
//! receive must own every file descriptor the kernel installs (walking the
//! control buffer with [`walk`]) before anything else can fail, and must
//! never trust the kernel's byte counts beyond the buffers given.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::zeroed;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{check_size, retry, SockAddr};
use crate::cmsg::layout::{walk, Control, ControlMut};

bitflags::bitflags! {
    /// `MSG_*` flags, as given to and returned by `sendmsg`/`recvmsg`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MsgFlags: libc::c_int {
        /// `MSG_DONTWAIT`.
        const DONTWAIT = libc::MSG_DONTWAIT;
        /// `MSG_EOR`.
        const EOR = libc::MSG_EOR;
        /// `MSG_OOB`.
        const OOB = libc::MSG_OOB;
        /// `MSG_PEEK`.
        const PEEK = libc::MSG_PEEK;
        /// `MSG_WAITALL`.
        const WAITALL = libc::MSG_WAITALL;
        /// `MSG_ERRQUEUE`.
        const ERRQUEUE = libc::MSG_ERRQUEUE;
        /// `MSG_NOSIGNAL`.
        const NOSIGNAL = libc::MSG_NOSIGNAL;
        /// `MSG_TRUNC`.
        const TRUNC = libc::MSG_TRUNC;
        /// `MSG_CTRUNC`.
        const CTRUNC = libc::MSG_CTRUNC;
        /// `MSG_CMSG_CLOEXEC`.
        const CMSG_CLOEXEC = libc::MSG_CMSG_CLOEXEC;
    }
}

/// `sendmsg(2)`: `data` gathered into one message with the encoded control
/// bytes, to `to` if given. Returns the bytes sent.
pub fn sendmsg(
    fd: BorrowedFd<'_>,
    data: &[IoSlice<'_>],
    control: Control<'_, '_>,
    to: Option<&SockAddr>,
    flags: MsgFlags,
) -> io::Result<usize> {
    let control = control.as_bytes();
    // SAFETY: an all-zero msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    if let Some(to) = to {
        msg.msg_name = to.as_ptr() as *mut _;
        msg.msg_namelen = to.len;
    }
    // IoSlice is ABI-compatible with struct iovec (std guarantees it on Unix).
    msg.msg_iov = data.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = data.len() as _;
    if !control.is_empty() {
        msg.msg_control = control.as_ptr() as *mut _;
        msg.msg_controllen = control.len() as _;
    }
    // SAFETY: every pointer in `msg` refers to a live buffer of the stated
    // length for the duration of the call; the kernel only reads them.
    retry(|| check_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags.bits()) }))
}

/// One control message received, with every file descriptor owned.
#[derive(Debug)]
pub enum Received {
    /// `SCM_RIGHTS`: the new file descriptors, in order.
    Rights(Vec<OwnedFd>),
    /// `SCM_PIDFD`: a pidfd for the sender.
    Pidfd(OwnedFd),
    /// Anything else, copied out of the control buffer, for
    /// [`cmsg::decode`](crate::cmsg::decode).
    Other {
        /// `cmsg_level`.
        level: i32,
        /// `cmsg_type`.
        ty: i32,
        /// The payload.
        data: Vec<u8>,
    },
}

/// What `recvmsg(2)` returned.
pub struct RecvResult {
    /// Bytes of data written into the buffers: never more than they hold,
    /// whatever count the kernel returned (see [`clamp_count`]).
    pub bytes: usize,
    /// `msg_flags`.
    pub flags: MsgFlags,
    /// `msg_name`, if the kernel filled it in.
    pub addr: Option<SockAddr>,
    /// The control messages, in order.
    pub control: Vec<Received>,
}

/// `recvmsg(2)` into `data`, with `control` as `msg_control`. `MSG_CMSG_CLOEXEC` is
/// added to `flags`. Every fd in an `SCM_RIGHTS` item is owned before this
/// function returns, so dropping the result closes the ones nobody takes.
pub fn recvmsg(
    fd: BorrowedFd<'_>,
    data: &mut [IoSliceMut<'_>],
    control: ControlMut<'_>,
    flags: MsgFlags,
) -> io::Result<RecvResult> {
    let capacity = data.iter().map(|b| b.len()).sum();
    // SAFETY: IoSliceMut is ABI-compatible with struct iovec, each one is a
    // live, writable buffer for the duration of the call, and `capacity` is
    // their total length.
    unsafe {
        recvmsg_iov(
            fd,
            data.as_mut_ptr() as *mut libc::iovec,
            data.len(),
            capacity,
            control,
            flags,
        )
    }
}

/// [`recvmsg`] into the spare capacity of `data` (up to `max` bytes, no
/// zero-filling first); `data`'s length grows by the bytes received.
pub fn recvmsg_into(
    fd: BorrowedFd<'_>,
    data: &mut Vec<u8>,
    max: usize,
    control: ControlMut<'_>,
    flags: MsgFlags,
) -> io::Result<RecvResult> {
    data.reserve(max);
    let spare = data.spare_capacity_mut();
    let len = max.min(spare.len());
    let mut iov = libc::iovec {
        iov_base: spare.as_mut_ptr().cast(),
        iov_len: len,
    };
    // SAFETY: the iovec covers `len` bytes of spare capacity of `data`,
    // writable and live for the call.
    let r = unsafe { recvmsg_iov(fd, &mut iov, 1, len, control, flags)? };
    // SAFETY: `recvmsg_iov` clamps `r.bytes` to `len`, and the kernel
    // initialised that many bytes of the spare capacity.
    unsafe { data.set_len(data.len() + r.bytes) };
    Ok(r)
}

/// `recv(2)` into the spare capacity of `data`, up to `max` bytes, with
/// `MSG_CMSG_CLOEXEC` (fds that arrive are closed by the kernel, since no
/// control space is given).
pub fn recv_into(
    fd: BorrowedFd<'_>,
    data: &mut Vec<u8>,
    max: usize,
    flags: MsgFlags,
) -> io::Result<usize> {
    data.reserve(max);
    let spare = data.spare_capacity_mut();
    let len = max.min(spare.len());
    // SAFETY: spare capacity of `data`, writable for `len` bytes.
    let n = unsafe { recv_raw(fd, spare.as_mut_ptr().cast(), len, flags)? };
    // SAFETY: the kernel initialised the first `n` bytes, and `n ≤ len`.
    unsafe { data.set_len(data.len() + n) };
    Ok(n)
}

/// `recv(2)` into `buf` (guest memory, for `recv-into`): the count, never
/// more than `buf.len()`.
pub fn recv_to_slice(fd: BorrowedFd<'_>, buf: &mut [u8], flags: MsgFlags) -> io::Result<usize> {
    // SAFETY: `buf` is writable for its length.
    unsafe { recv_raw(fd, buf.as_mut_ptr(), buf.len(), flags) }
}

/// `recv(2)` of up to `len` bytes at `ptr` with `MSG_CMSG_CLOEXEC`,
/// retrying `EINTR`: the count, clamped to `len`.
///
/// # Safety
/// `ptr` must be writable for `len` bytes.
unsafe fn recv_raw(
    fd: BorrowedFd<'_>,
    ptr: *mut u8,
    len: usize,
    flags: MsgFlags,
) -> io::Result<usize> {
    let flags = (flags | MsgFlags::CMSG_CLOEXEC).bits();
    // SAFETY: the caller's promise.
    let n = retry(|| check_size(unsafe { libc::recv(fd.as_raw_fd(), ptr.cast(), len, flags) }))?;
    Ok(clamp_count(n, len).0)
}

/// A byte count the kernel returned for a buffer of `len` bytes, never
/// trusted beyond `len`, and whether it was more (the data past `len` was
/// discarded). Linux returns more than it copied in documented cases
/// (`MSG_TRUNC` asked for on a datagram) and undocumented ones: a
/// zero-length `MSG_OOB` receive on a Unix stream socket returns 1 and
/// consumes the out-of-band byte. Every `set_len` after a receive goes
/// through here.
pub(super) fn clamp_count(n: usize, len: usize) -> (usize, bool) {
    (n.min(len), n > len)
}

/// The shared body of the `recvmsg` wrappers.
///
/// The byte count is clamped to `capacity` (and `MSG_TRUNC` set when the
/// kernel claimed more), so callers can trust `bytes` with `set_len`.
///
/// # Safety
/// `iov` must point to `iovlen` iovecs describing writable buffers of
/// `capacity` bytes in all that stay live for the call.
unsafe fn recvmsg_iov(
    fd: BorrowedFd<'_>,
    iov: *mut libc::iovec,
    iovlen: usize,
    capacity: usize,
    control: ControlMut<'_>,
    flags: MsgFlags,
) -> io::Result<RecvResult> {
    let control = control.into_bytes();
    let mut name = SockAddr::empty();
    // SAFETY: an all-zero msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = name.as_mut_ptr().cast();
    msg.msg_namelen = name.len;
    msg.msg_iov = iov;
    msg.msg_iovlen = iovlen as _;
    if !control.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() as _;
    }
    let flags = (flags | MsgFlags::CMSG_CLOEXEC).bits();
    // SAFETY: every pointer in `msg` refers to a live, writable buffer of the
    // stated length for the duration of the call.
    let bytes = retry(|| {
        msg.msg_namelen = name.len;
        msg.msg_controllen = control.len() as _;
        check_size(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) })
    })?;
    // The kernel never reports more control bytes than we gave it; clamp
    // anyway so the walk can never leave the buffer.
    let controllen = (msg.msg_controllen as usize).min(control.len());
    let mut items = Vec::new();
    for item in walk(&control[..controllen]) {
        items.push(if item.is_rights() {
            // SAFETY: the kernel just installed these fds in our table for
            // this message; nothing else knows their numbers.
            Received::Rights(
                item.fds()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
                    .collect(),
            )
        } else if let Some(fd) = item.pidfd() {
            // SAFETY: as for SCM_RIGHTS. The kernel installs the pidfd only
            // when its whole item fit (it closes it on MSG_CTRUNC), and
            // `pidfd()` reads only an item of exactly one int.
            Received::Pidfd(unsafe { OwnedFd::from_raw_fd(fd) })
        } else {
            Received::Other {
                level: item.level,
                ty: item.ty,
                data: item.data.to_vec(),
            }
        });
    }
    name.len = msg.msg_namelen;
    let (bytes, over) = clamp_count(bytes, capacity);
    Ok(RecvResult {
        bytes,
        flags: MsgFlags::from_bits_retain(msg.msg_flags)
            | if over {
                MsgFlags::TRUNC
            } else {
                MsgFlags::empty()
            },
        addr: (msg.msg_namelen > 0).then_some(name),
        control: items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmsg::layout::{len, space, ControlBuf, Encoder, Ucred, FD_LEN, UCRED_LEN};
    use crate::sys::{process_ids, set_pass_credentials, socketpair};
    use proptest::prelude::*;
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;

    fn inode(fd: BorrowedFd<'_>) -> (u64, u64) {
        let m = std::fs::File::from(fd.try_clone_to_owned().unwrap())
            .metadata()
            .unwrap();
        (m.dev(), m.ino())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever rights and credentials the encoder writes, the kernel
        /// delivers and `recvmsg` decodes: same data, the same files in
        /// order (several SCM_RIGHTS items arrive merged into one), the
        /// credentials sent, no truncation with exactly CMSG_SPACE room.
        #[test]
        fn encode_kernel_decode_round_trip(
            data in proptest::collection::vec(any::<u8>(), 1..512),
            groups in proptest::collection::vec(0usize..64, 0..4),
            creds in any::<bool>(),
            seqpacket in any::<bool>(),
        ) {
            let ty = if seqpacket { libc::SOCK_SEQPACKET } else { libc::SOCK_STREAM };
            let (a, b) = socketpair(ty).unwrap();
            set_pass_credentials(b.as_fd(), true).unwrap();
            let total: usize = groups.iter().sum();
            let files: Vec<std::fs::File> = (0..total).map(|_| tempfile::tempfile().unwrap()).collect();
            let fds: Vec<BorrowedFd<'_>> = files.iter().map(|f| f.as_fd()).collect();
            let (pid, uids, gids) = process_ids();
            let cred = Ucred { pid, uid: uids[0], gid: gids[0] };

            let mut room: usize = groups.iter().filter(|&&n| n > 0).map(|n| space(n * FD_LEN)).sum();
            if creds {
                room += space(UCRED_LEN);
            }
            let mut storage = ControlBuf::new();
            let mut enc = Encoder::new(storage.zeroed(room));
            let mut rest = &fds[..];
            for &n in &groups {
                if n > 0 {
                    enc.push_rights(&rest[..n]).unwrap();
                    rest = &rest[n..];
                }
            }
            if creds {
                enc.push_credentials(cred).unwrap();
            }
            let sent = sendmsg(a.as_fd(), &[IoSlice::new(&data)], enc.finish(), None, MsgFlags::NOSIGNAL).unwrap();
            prop_assert_eq!(sent, data.len());

            // Receive side: room for every fd in one item plus credentials.
            let mut rbuf = vec![0u8; data.len()];
            let mut rstorage = ControlBuf::new();
            let rspace = space(total.max(1) * FD_LEN) + space(UCRED_LEN);
            let control = rstorage.zeroed(rspace);
            let r = recvmsg(b.as_fd(), &mut [IoSliceMut::new(&mut rbuf)], control, MsgFlags::empty()).unwrap();
            prop_assert_eq!(r.bytes, data.len());
            prop_assert_eq!(&rbuf, &data);
            prop_assert!(!r.flags.contains(MsgFlags::CTRUNC));
            let mut got_fds = Vec::new();
            let mut got_creds = Vec::new();
            for item in r.control {
                match item {
                    Received::Rights(v) => got_fds.extend(v),
                    Received::Other { level, ty, data } if (level, ty) == (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) => {
                        got_creds.push(Ucred::from_bytes(&data).unwrap())
                    }
                    other => prop_assert!(false, "unexpected item {:?}", other),
                }
            }
            prop_assert_eq!(got_fds.len(), total);
            for (got, sent) in got_fds.iter().zip(&fds) {
                prop_assert_eq!(inode(got.as_fd()), inode(*sent));
                prop_assert_ne!(got.as_raw_fd(), sent.as_raw_fd(), "a new fd, not the sender's");
            }
            // SO_PASSCRED attaches the sender's credentials to every message.
            prop_assert_eq!(got_creds, vec![cred]);
        }
    }

    /// Sends one byte with `fds` over a new stream pair and receives it with
    /// `room` bytes of control space.
    fn pass_fds(fds: &[BorrowedFd<'_>], room: usize) -> RecvResult {
        let (a, b) = socketpair(libc::SOCK_STREAM).unwrap();
        let mut storage = ControlBuf::new();
        let mut enc = Encoder::new(storage.zeroed(space(fds.len() * FD_LEN)));
        enc.push_rights(fds).unwrap();
        let x = [IoSlice::new(b"x")];
        sendmsg(a.as_fd(), &x, enc.finish(), None, MsgFlags::empty()).unwrap();
        let mut rstorage = ControlBuf::new();
        let mut buf = [0u8; 1];
        let control = rstorage.zeroed(room);
        recvmsg(
            b.as_fd(),
            &mut [IoSliceMut::new(&mut buf)],
            control,
            MsgFlags::empty(),
        )
        .unwrap()
    }

    #[test]
    fn received_fds_are_close_on_exec() {
        let file = tempfile::tempfile().unwrap();
        let r = pass_fds(&[file.as_fd()], space(FD_LEN));
        let Some(Received::Rights(fds)) = r.control.into_iter().next() else {
            panic!("no rights")
        };
        let flags = rustix::io::fcntl_getfd(&fds[0]).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }

    /// CPython's SCMRightsTest truncation cases, on the kernel: with too
    /// little control space some fds are not delivered; every one that is
    /// delivered is owned (and closed when dropped), and MSG_CTRUNC is set.
    #[test]
    fn truncated_rights_deliver_only_whole_fds() {
        let cases = [
            (0, 0),
            (1, 0),
            (2 * FD_LEN, 0),
            (len(0) - 1, 0),
            (len(0), 0),
            (len(0) + 1, 0),
            (len(FD_LEN), 1),
            (len(2 * FD_LEN) - 1, 1),
        ];
        for (room, expect) in cases {
            let (f1, f2) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
            let r = pass_fds(&[f1.as_fd(), f2.as_fd()], room);
            let n: usize = r
                .control
                .iter()
                .map(|i| match i {
                    Received::Rights(v) => v.len(),
                    _ => 0,
                })
                .sum();
            assert_eq!(n, expect, "control space {room}");
            assert!(r.flags.contains(MsgFlags::CTRUNC), "control space {room}");
        }
    }

    /// The codec's layout, checked against libc's `CMSG_*` macros (here,
    /// since calling them takes `unsafe`).
    mod layout_matches_libc {
        use crate::cmsg::layout::*;

        #[test]
        #[allow(unsafe_code)] // libc's CMSG_* are `unsafe fn`s, even the pure ones.
        fn sizes_match_libc_macros() {
            for n in 0..2048u32 {
                assert_eq!(
                    space(n as usize),
                    unsafe { libc::CMSG_SPACE(n) } as usize,
                    "CMSG_SPACE({n})"
                );
                assert_eq!(
                    len(n as usize),
                    unsafe { libc::CMSG_LEN(n) } as usize,
                    "CMSG_LEN({n})"
                );
                assert_eq!(checked_space(n as usize), Some(space(n as usize)));
            }
            assert_eq!(checked_space(usize::MAX), None);
        }

        /// Builds a `msghdr` over `buf[..controllen]` so libc's macros can walk it.
        #[allow(unsafe_code)]
        fn libc_walk(buf: &[u8]) -> Vec<(usize, i32, i32, usize)> {
            let mut out = Vec::new();
            unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_control = buf.as_ptr() as *mut _;
                msg.msg_controllen = buf.len() as _;
                let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
                while !cmsg.is_null() {
                    let data_off = libc::CMSG_DATA(cmsg).offset_from(buf.as_ptr()) as usize;
                    out.push((
                        (*cmsg).cmsg_len as usize,
                        (*cmsg).cmsg_level,
                        (*cmsg).cmsg_type,
                        data_off,
                    ));
                    cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
                }
            }
            out
        }

        #[test]
        fn encoded_layout_matches_libc_walk() {
            let mut storage = ControlBuf::new();
            let items: [(i32, i32, &[u8]); 4] = [
                (
                    libc::SOL_SOCKET,
                    libc::SCM_RIGHTS,
                    &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0],
                ),
                (libc::IPPROTO_IP, libc::IP_TTL, &[64, 0, 0, 0]),
                (7, 9, &[0xAA; 5]),
                (
                    libc::SOL_SOCKET,
                    libc::SCM_CREDENTIALS,
                    &Ucred {
                        pid: 1,
                        uid: 2,
                        gid: 3,
                    }
                    .to_bytes(),
                ),
            ];
            let total: usize = items.iter().map(|i| space(i.2.len())).sum();
            let mut enc = Encoder::new(storage.zeroed(total));
            for (level, ty, data) in items {
                enc.push(level, ty, data).unwrap();
            }
            assert_eq!(enc.len(), total);
            assert_eq!(enc.push(1, 1, &[0]), Err(BufferFull));
            let buf = enc.finish().as_bytes();

            let ours: Vec<_> = walk(buf).collect();
            let theirs = libc_walk(buf);
            assert_eq!(ours.len(), items.len());
            assert_eq!(theirs.len(), items.len());
            let mut offset = 0;
            for ((item, expect), libc_item) in ours.iter().zip(items).zip(theirs) {
                assert_eq!(
                    (item.level, item.ty, item.data),
                    (expect.0, expect.1, expect.2)
                );
                assert_eq!(
                    libc_item,
                    (len(expect.2.len()), expect.0, expect.1, offset + HEADER_LEN)
                );
                offset += space(expect.2.len());
            }
            // Padding bytes after the 5-byte item stay zero.
            let third = space(12) + space(4);
            assert!(buf[third + HEADER_LEN + 5..third + space(5)]
                .iter()
                .all(|&b| b == 0));
        }
    }
}
