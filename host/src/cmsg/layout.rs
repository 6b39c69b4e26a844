//! The layout half of the control-message codec: `struct cmsghdr`,
//! `CMSG_SPACE`/`CMSG_LEN` arithmetic, an aligned control buffer, an encoder
//! and a bounded walker.
//!
//! Written by hand on purpose. `nix` leaks the file descriptors of a
//! truncated `SCM_RIGHTS` item (`MSG_CTRUNC`) and relies on the allocator for
//! alignment; `rustix` and std type only rights and credentials and drop
//! every other item, but capsock must pass unknown items through as `raw`
//! and refuse some on send. This module is pure (no syscalls, no `unsafe`):
//! `sys::recvmsg` calls [`walk`] and takes ownership of every fd.
//!
//! The types carry the invariants `sendmsg(2)`/`recvmsg(2)` need: control
//! bytes are only ever handed out by a [`ControlBuf`] (8-byte aligned, as
//! `struct cmsghdr` requires) as a zero-filled [`ControlMut`], and encoded
//! items leave an [`Encoder`] as a [`Control`] whose `'fd` lifetime keeps
//! every descriptor named by its `SCM_RIGHTS` items open until it is sent.
//! The unit tests check every layout fact against libc's `CMSG_*` macros.

use std::marker::PhantomData;
use std::mem::{align_of, offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};

use super::uapi::SCM_PIDFD;

/// `sizeof(struct cmsghdr)`: 16 on 64-bit Linux.
pub const HEADER_LEN: usize = size_of::<libc::cmsghdr>();

/// `sizeof(int)`: the size of one file descriptor in an `SCM_RIGHTS` payload.
pub const FD_LEN: usize = size_of::<libc::c_int>();

/// `sizeof(struct ucred)`: the payload of `SCM_CREDENTIALS`.
pub const UCRED_LEN: usize = size_of::<libc::ucred>();

const LEN_OFFSET: usize = offset_of!(libc::cmsghdr, cmsg_len);
const LEVEL_OFFSET: usize = offset_of!(libc::cmsghdr, cmsg_level);
const TYPE_OFFSET: usize = offset_of!(libc::cmsghdr, cmsg_type);
const LEN_SIZE: usize = size_of::<usize>();

// `cmsg_len` is a `size_t` on Linux; the codec reads and writes it as usize.
const _: () = assert!(LEN_SIZE == size_of::<libc::size_t>());
// The control buffer is a Vec<u64>; cmsghdr must not need more alignment.
const _: () = assert!(align_of::<libc::cmsghdr>() <= align_of::<u64>());

/// `CMSG_ALIGN(len)`: rounds up to the alignment of `size_t`.
pub const fn align(len: usize) -> usize {
    (len + LEN_SIZE - 1) & !(LEN_SIZE - 1)
}

/// `CMSG_SPACE(len)`: the bytes one item with `len` bytes of payload takes in
/// a control buffer, trailing padding included.
pub const fn space(len: usize) -> usize {
    align(HEADER_LEN) + align(len)
}

/// `CMSG_LEN(len)`: the `cmsg_len` of an item with `len` bytes of payload.
pub const fn len(len: usize) -> usize {
    align(HEADER_LEN) + len
}

/// Checked [`space`] for lengths that come from a guest.
pub fn checked_space(len: usize) -> Option<usize> {
    len.checked_add(LEN_SIZE - 1)
        .map(|l| l & !(LEN_SIZE - 1))
        .and_then(|l| l.checked_add(align(HEADER_LEN)))
}

/// `struct ucred`, the payload of `SCM_CREDENTIALS` and `SO_PEERCRED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ucred {
    /// `pid`.
    pub pid: i32,
    /// `uid`.
    pub uid: u32,
    /// `gid`.
    pub gid: u32,
}

impl Ucred {
    /// Encodes the native `struct ucred` layout.
    pub fn to_bytes(self) -> [u8; UCRED_LEN] {
        let mut out = [0u8; UCRED_LEN];
        out[offset_of!(libc::ucred, pid)..][..4].copy_from_slice(&self.pid.to_ne_bytes());
        out[offset_of!(libc::ucred, uid)..][..4].copy_from_slice(&self.uid.to_ne_bytes());
        out[offset_of!(libc::ucred, gid)..][..4].copy_from_slice(&self.gid.to_ne_bytes());
        out
    }

    /// Decodes a native `struct ucred`; `None` if `data` is too short
    /// (a credentials item cut by `MSG_CTRUNC`).
    pub fn from_bytes(data: &[u8]) -> Option<Ucred> {
        let field = |off: usize| -> Option<[u8; 4]> { data.get(off..off + 4)?.try_into().ok() };
        Some(Ucred {
            pid: i32::from_ne_bytes(field(offset_of!(libc::ucred, pid))?),
            uid: u32::from_ne_bytes(field(offset_of!(libc::ucred, uid))?),
            gid: u32::from_ne_bytes(field(offset_of!(libc::ucred, gid))?),
        })
    }
}

/// Storage for control messages, aligned for `struct cmsghdr` and reused
/// across calls: it only ever grows.
#[derive(Default)]
pub struct ControlBuf {
    words: Vec<u64>,
}

impl ControlBuf {
    /// An empty buffer.
    pub fn new() -> ControlBuf {
        ControlBuf::default()
    }

    /// The first `len` bytes, zero-filled, growing the buffer if needed:
    /// room for `recvmsg` to fill or for an [`Encoder`] to write.
    pub fn zeroed(&mut self, len: usize) -> ControlMut<'_> {
        let words = len.div_ceil(size_of::<u64>());
        if self.words.len() < words {
            self.words.resize(words, 0);
        }
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut self.words[..words]);
        let bytes = &mut bytes[..len];
        bytes.fill(0);
        ControlMut(bytes)
    }
}

/// Zero-filled control bytes aligned for `struct cmsghdr`. Only a
/// [`ControlBuf`] makes one, so whoever takes one can rely on the layout.
pub struct ControlMut<'b>(&'b mut [u8]);

impl<'b> ControlMut<'b> {
    /// The bytes (their address and length cannot change through this).
    #[cfg(test)]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.0
    }

    /// The bytes, for reading what the kernel wrote.
    pub fn into_bytes(self) -> &'b mut [u8] {
        self.0
    }
}

/// Encoded control messages, aligned, ready for `sendmsg(2)`. The file
/// descriptors its `SCM_RIGHTS` items name are borrowed for `'fd`: they
/// stay open while it lives.
#[derive(Clone, Copy)]
pub struct Control<'b, 'fd> {
    bytes: &'b [u8],
    _fds: PhantomData<BorrowedFd<'fd>>,
}

impl Control<'static, 'static> {
    /// No control messages.
    pub const EMPTY: Self = Control {
        bytes: &[],
        _fds: PhantomData,
    };
}

impl<'b> Control<'b, '_> {
    /// The encoded bytes: `msg_control`, and their length `msg_controllen`.
    pub fn as_bytes(&self) -> &'b [u8] {
        self.bytes
    }
}

/// Writes control messages into a [`ControlMut`].
pub struct Encoder<'b, 'fd> {
    buf: &'b mut [u8],
    pos: usize,
    _fds: PhantomData<BorrowedFd<'fd>>,
}

/// The buffer given to [`Encoder`] is too small for the next item.
#[derive(Debug, PartialEq, Eq)]
pub struct BufferFull;

impl<'b, 'fd> Encoder<'b, 'fd> {
    /// Encodes into `buf`.
    pub fn new(buf: ControlMut<'b>) -> Encoder<'b, 'fd> {
        Encoder {
            buf: buf.0,
            pos: 0,
            _fds: PhantomData,
        }
    }

    /// Appends one item; its payload is written by `fill` into a slice of
    /// `data_len` bytes.
    pub fn push_with(
        &mut self,
        level: i32,
        ty: i32,
        data_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), BufferFull> {
        let item_space = checked_space(data_len).ok_or(BufferFull)?;
        let end = self.pos.checked_add(item_space).ok_or(BufferFull)?;
        let item = self.buf.get_mut(self.pos..end).ok_or(BufferFull)?;
        item[LEN_OFFSET..][..LEN_SIZE].copy_from_slice(&len(data_len).to_ne_bytes());
        item[LEVEL_OFFSET..][..4].copy_from_slice(&level.to_ne_bytes());
        item[TYPE_OFFSET..][..4].copy_from_slice(&ty.to_ne_bytes());
        fill(&mut item[align(HEADER_LEN)..][..data_len]);
        self.pos = end;
        Ok(())
    }

    /// Appends one item with `data` as payload.
    pub fn push(&mut self, level: i32, ty: i32, data: &[u8]) -> Result<(), BufferFull> {
        self.push_with(level, ty, data.len(), |out| out.copy_from_slice(data))
    }

    /// Appends an `SCM_RIGHTS` item carrying `fds` (borrowed: the kernel
    /// copies them into the receiver).
    pub fn push_rights(&mut self, fds: &[BorrowedFd<'fd>]) -> Result<(), BufferFull> {
        self.push_with(
            libc::SOL_SOCKET,
            libc::SCM_RIGHTS,
            fds.len() * FD_LEN,
            |out| {
                for (chunk, fd) in out.chunks_exact_mut(FD_LEN).zip(fds) {
                    chunk.copy_from_slice(&fd.as_raw_fd().to_ne_bytes());
                }
            },
        )
    }

    /// Appends an `SCM_CREDENTIALS` item.
    pub fn push_credentials(&mut self, cred: Ucred) -> Result<(), BufferFull> {
        self.push(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &cred.to_bytes())
    }

    /// Bytes written so far: the `msg_controllen` to pass to `sendmsg`.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// The items written, for `sendmsg(2)`.
    pub fn finish(self) -> Control<'b, 'fd> {
        Control {
            bytes: &self.buf[..self.pos],
            _fds: PhantomData,
        }
    }
}

/// One control message as found in a received buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct RawItem<'a> {
    /// `cmsg_level`.
    pub level: i32,
    /// `cmsg_type`.
    pub ty: i32,
    /// The payload: `cmsg_len - CMSG_LEN(0)` bytes, cut at the end of the
    /// buffer if the kernel truncated the item.
    pub data: &'a [u8],
}

impl RawItem<'_> {
    /// Whether this is `SCM_RIGHTS`, whose payload holds fds the receiver
    /// now owns.
    pub fn is_rights(&self) -> bool {
        self.level == libc::SOL_SOCKET && self.ty == libc::SCM_RIGHTS
    }

    /// The fd of an `SCM_PIDFD` item of exactly one int (a shorter item
    /// was cut by `MSG_CTRUNC`, and then the kernel installed no fd).
    pub fn pidfd(&self) -> Option<i32> {
        if self.level != libc::SOL_SOCKET || self.ty != SCM_PIDFD {
            return None;
        }
        let bytes: [u8; FD_LEN] = self.data.try_into().ok()?;
        Some(i32::from_ne_bytes(bytes))
    }

    /// The file descriptor numbers of an `SCM_RIGHTS` payload. A trailing
    /// partial int (never written by Linux) is ignored.
    pub fn fds(&self) -> impl Iterator<Item = i32> + '_ {
        self.data
            .chunks_exact(FD_LEN)
            .map(|c| i32::from_ne_bytes(c.try_into().expect("chunk of FD_LEN bytes")))
    }
}

/// Walks the control messages in `buf`, which must be exactly the
/// `msg_controllen` bytes `recvmsg` reported. Mirrors `CMSG_FIRSTHDR` /
/// `CMSG_NXTHDR`, but never reads past `buf`: an item whose `cmsg_len` is
/// smaller than a header ends the walk, and one that claims more bytes than
/// remain is cut at the end of the buffer and ends the walk.
pub fn walk(buf: &[u8]) -> Walk<'_> {
    Walk { buf, pos: 0 }
}

/// Iterator returned by [`walk`].
pub struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Walk<'a> {
    type Item = RawItem<'a>;

    fn next(&mut self) -> Option<RawItem<'a>> {
        let rest = self.buf.get(self.pos..)?;
        if rest.len() < HEADER_LEN {
            self.pos = self.buf.len();
            return None;
        }
        let cmsg_len = usize::from_ne_bytes(rest[LEN_OFFSET..][..LEN_SIZE].try_into().ok()?);
        let level = i32::from_ne_bytes(rest[LEVEL_OFFSET..][..4].try_into().ok()?);
        let ty = i32::from_ne_bytes(rest[TYPE_OFFSET..][..4].try_into().ok()?);
        if cmsg_len < HEADER_LEN {
            self.pos = self.buf.len();
            return None;
        }
        let end = cmsg_len.min(rest.len());
        let data = &rest[align(HEADER_LEN).min(end)..end];
        // `align` cannot overflow here: cmsg_len was clamped to the buffer.
        self.pos = match self.pos.checked_add(align(end)) {
            Some(next) if end == cmsg_len => next,
            _ => self.buf.len(),
        };
        Some(RawItem { level, ty, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn walk_stops_at_short_or_overlong_headers() {
        let mut storage = ControlBuf::new();
        let mut enc = Encoder::new(storage.zeroed(space(4) * 2));
        enc.push(1, 1, &[1, 2, 3, 4]).unwrap();
        enc.push(2, 2, &[5, 6, 7, 8]).unwrap();
        let buf = enc.finish().as_bytes();
        // A buffer cut inside the second header yields only the first item.
        assert_eq!(walk(&buf[..space(4) + 8]).count(), 1);
        // A cmsg_len below the header size ends the walk.
        let mut bad = buf.to_vec();
        bad[space(4)..][..LEN_SIZE].copy_from_slice(&3usize.to_ne_bytes());
        assert_eq!(walk(&bad).count(), 1);
        // A cmsg_len past the end is cut at the end and ends the walk.
        let mut long = buf.to_vec();
        long[..LEN_SIZE].copy_from_slice(&usize::MAX.to_ne_bytes());
        let items: Vec<_> = walk(&long).collect();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].data.len(), long.len() - HEADER_LEN);
        // Nothing at all in a buffer shorter than a header.
        assert_eq!(walk(&buf[..HEADER_LEN - 1]).count(), 0);
        assert_eq!(walk(&[]).count(), 0);
    }

    #[test]
    fn rights_payload_round_trips() {
        let mut storage = ControlBuf::new();
        let (i, o, e) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
        let fds = [i.as_fd(), o.as_fd(), e.as_fd()];
        let mut enc = Encoder::new(storage.zeroed(space(3 * FD_LEN)));
        enc.push_rights(&fds).unwrap();
        let item = walk(enc.finish().as_bytes()).next().unwrap();
        assert!(item.is_rights());
        assert_eq!(item.fds().collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn ucred_round_trips_and_rejects_short_payloads() {
        let cred = Ucred {
            pid: 42,
            uid: 1000,
            gid: 100,
        };
        assert_eq!(Ucred::from_bytes(&cred.to_bytes()), Some(cred));
        assert_eq!(Ucred::from_bytes(&cred.to_bytes()[..8]), None);
    }

    #[test]
    fn control_buf_is_rezeroed_on_reuse() {
        let mut storage = ControlBuf::new();
        storage.zeroed(32).bytes_mut().fill(0xFF);
        assert!(storage.zeroed(24).bytes_mut().iter().all(|&b| b == 0));
        assert_eq!(storage.zeroed(0).bytes_mut().len(), 0);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever the encoder writes, the walker reads back unchanged.
            #[test]
            fn encode_then_walk_is_identity(
                items in proptest::collection::vec(
                    (any::<i32>(), any::<i32>(), proptest::collection::vec(any::<u8>(), 0..64)),
                    0..8,
                )
            ) {
                let total: usize = items.iter().map(|i| space(i.2.len())).sum();
                let mut storage = ControlBuf::new();
                let mut enc = Encoder::new(storage.zeroed(total));
                for (level, ty, data) in &items {
                    enc.push(*level, *ty, data).unwrap();
                }
                let buf = enc.finish().as_bytes();
                let back: Vec<_> = walk(buf).map(|i| (i.level, i.ty, i.data.to_vec())).collect();
                prop_assert_eq!(back, items);
            }

            /// The walker never panics and never yields bytes outside the
            /// buffer, whatever the bytes are.
            #[test]
            fn walk_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
                let mut total = 0;
                for item in walk(&bytes) {
                    total += item.data.len();
                    prop_assert!(total <= bytes.len());
                }
            }
        }
    }
}
