//! Entry points for the fuzz targets in `host/fuzz` (coverage-guided, with
//! `cargo fuzz`), each checking the properties that must hold for any
//! input, not only "no panic". The unit tests below replay the committed
//! seed corpus (`host/fuzz/corpus`) through the same functions, so the
//! targets keep building and their findings stay fixed.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::OnceLock;

use crate::cmsg::items::{decode, RecvItem, TYPED_PAIRS};
use crate::cmsg::layout::{self as cmsg, ControlBuf, Encoder, Ucred};
use crate::sys::sockaddr::{self, SockName};

/// The control-message walker and the typed decoder on an arbitrary
/// `msg_control` buffer: every item lies inside the buffer, in order, no
/// two overlap; each payload decodes (typed or `raw`) without a panic.
pub fn walk_control(buf: &[u8]) {
    let base = buf.as_ptr() as usize;
    let mut end_of_last = 0usize;
    for item in cmsg::walk(buf) {
        let start = item.data.as_ptr() as usize - base;
        let end = start + item.data.len();
        assert!(end <= buf.len(), "an item past the buffer");
        assert!(start >= end_of_last, "items overlap or go back");
        assert!(start >= cmsg::HEADER_LEN, "a payload inside its header");
        end_of_last = end;
        let _ = item.fds().count();
        let _ = item.pidfd();
        let _ = decode(item.level, item.ty, item.data.to_vec());
    }
}

/// The typed decoder on an arbitrary payload of a type it knows (chosen by
/// the first byte from the pairs it types, so that the fuzzer reaches
/// each decoder): it never panics, and an item it cannot type (a wrong
/// size) comes back `raw` with the payload untouched.
pub fn decode_typed(input: &[u8]) {
    let Some((&pick, data)) = input.split_first() else {
        return;
    };
    let (level, ty) = TYPED_PAIRS[pick as usize % TYPED_PAIRS.len()];
    if let RecvItem::Raw {
        level: l,
        ty: t,
        data: back,
    } = decode(level, ty, data.to_vec())
    {
        assert_eq!((l, t), (level, ty));
        assert_eq!(back, data);
    }
}

/// The socket-address decoder on arbitrary bytes: whatever it accepts
/// encodes again and decodes to the same name.
pub fn sockaddr_round_trip(bytes: &[u8]) {
    let Some(name) = sockaddr::decode(bytes) else {
        return;
    };
    let mut out = [0u8; sockaddr::STORAGE_LEN];
    match sockaddr::encode(&name, &mut out) {
        Ok(len) => assert_eq!(sockaddr::decode(&out[..len]), Some(name)),
        // Unix names the decoder accepts but the encoder refuses: an empty
        // path, and a path that fills all 108 bytes of `sun_path` with no
        // NUL after it (Linux takes that from others; capsock's encoder
        // keeps to 107 bytes and a terminator, as portable code must).
        Err(_) => assert!(matches!(
            &name,
            SockName::Unix(sockaddr::UnixName::Pathname(p)) if p.is_empty() || p.len() == 108
        )),
    }
}

/// An item for [`encode_items`].
#[derive(Clone, Debug)]
pub enum Item {
    /// `(level, type, payload)`.
    Raw(i32, i32, Vec<u8>),
    /// `SCM_RIGHTS` with this many fds (mod 300) of a few fixed ones.
    Rights(u16),
    /// `SCM_CREDENTIALS`.
    Credentials(i32, u32, u32),
}

fn some_fds() -> &'static [std::fs::File] {
    static FILES: OnceLock<Vec<std::fs::File>> = OnceLock::new();
    FILES.get_or_init(|| {
        (0..4)
            .map(|_| std::fs::File::open("/dev/null").expect("open /dev/null"))
            .collect()
    })
}

/// The encoder on arbitrary items, in a buffer of exactly the space they
/// need minus `short` bytes: with room for all, the walker reads back the
/// very items written (level, type, payload, fd numbers); with less, the
/// encoder says the buffer is full instead of writing past it.
pub fn encode_items(items: &[Item], short: u16) {
    let fds = some_fds();
    let rights = |n: u16| -> Vec<BorrowedFd<'_>> {
        (0..n as usize % 300)
            .map(|i| fds[i % fds.len()].as_fd())
            .collect()
    };
    let payload_len = |item: &Item| match item {
        Item::Raw(_, _, data) => data.len(),
        Item::Rights(n) => (*n as usize % 300) * cmsg::FD_LEN,
        Item::Credentials(..) => cmsg::UCRED_LEN,
    };
    let need: usize = items.iter().map(|i| cmsg::space(payload_len(i))).sum();
    let room = need.saturating_sub(short as usize);
    let mut storage = ControlBuf::new();
    let mut enc = Encoder::new(storage.zeroed(room));
    let mut all_fit = true;
    for item in items {
        let pushed = match item {
            Item::Raw(level, ty, data) => enc.push(*level, *ty, data),
            Item::Rights(n) => enc.push_rights(&rights(*n)),
            Item::Credentials(pid, uid, gid) => enc.push_credentials(Ucred {
                pid: *pid,
                uid: *uid,
                gid: *gid,
            }),
        };
        if pushed.is_err() {
            all_fit = false;
            break;
        }
    }
    assert!(enc.len() <= room);
    assert_eq!(
        all_fit,
        room == need,
        "everything fits exactly when there is room"
    );
    if !all_fit {
        return;
    }
    let mut read = cmsg::walk(enc.finish().as_bytes());
    for item in items {
        let got = read.next().expect("as many items as written");
        match item {
            Item::Raw(level, ty, data) => {
                assert_eq!((got.level, got.ty, got.data), (*level, *ty, &data[..]))
            }
            Item::Rights(n) => {
                let want: Vec<i32> = rights(*n).iter().map(|f| f.as_raw_fd()).collect();
                assert!(got.is_rights());
                assert_eq!(got.fds().collect::<Vec<_>>(), want);
            }
            Item::Credentials(pid, uid, gid) => {
                let c = Ucred::from_bytes(got.data).expect("credentials");
                assert_eq!((c.pid, c.uid, c.gid), (*pid, *uid, *gid));
            }
        }
    }
    assert!(read.next().is_none(), "nothing more was written");
}

/// Splits fuzzer bytes into items for [`encode_items`] (the fuzz target
/// and the corpus replay share it): a tag byte, then the item's fields.
pub fn items_from_bytes(mut b: &[u8]) -> (Vec<Item>, u16) {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, tail) = b.split_at_checked(n)?;
        *b = tail;
        Some(head)
    }
    fn int(b: &mut &[u8]) -> Option<i32> {
        Some(i32::from_ne_bytes(take(b, 4)?.try_into().ok()?))
    }
    let short = take(&mut b, 2).map_or(0, |s| u16::from_ne_bytes([s[0], s[1]]) % 64);
    let mut items = Vec::new();
    while let Some(&[tag]) = take(&mut b, 1) {
        let item = match tag % 3 {
            0 => {
                let (Some(level), Some(ty), Some(&[n])) =
                    (int(&mut b), int(&mut b), take(&mut b, 1))
                else {
                    break;
                };
                let n = (n as usize).min(b.len());
                Item::Raw(level, ty, take(&mut b, n).unwrap_or_default().to_vec())
            }
            1 => match take(&mut b, 2) {
                Some(n) => Item::Rights(u16::from_ne_bytes([n[0], n[1]])),
                None => break,
            },
            _ => match (int(&mut b), int(&mut b), int(&mut b)) {
                (Some(pid), Some(uid), Some(gid)) => Item::Credentials(pid, uid as u32, gid as u32),
                _ => break,
            },
        };
        items.push(item);
    }
    (items, short)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed corpus of `target`, if any.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect()
    }

    #[test]
    fn the_fuzz_targets_hold_on_their_corpus_and_edge_cases() {
        let edges: Vec<Vec<u8>> = vec![
            vec![],
            vec![0; 15],
            vec![0xff; 64],
            // cmsg_len = usize::MAX
            [&usize::MAX.to_ne_bytes()[..], &[1, 0, 0, 0, 1, 0, 0, 0]].concat(),
            // cmsg_len = HEADER_LEN + 3 with 2 bytes of data
            [&19usize.to_ne_bytes()[..], &[1, 0, 0, 0, 1, 0, 0, 0, 7, 7]].concat(),
        ];
        for input in edges.iter().chain(&corpus("walk_control")) {
            walk_control(input);
        }
        for input in edges.iter().chain(&corpus("decode_typed")) {
            decode_typed(input);
        }
        for input in edges.iter().chain(&corpus("sockaddr")) {
            sockaddr_round_trip(input);
        }
        for input in edges.iter().chain(&corpus("encode")) {
            let (items, short) = items_from_bytes(input);
            encode_items(&items, short);
        }
        encode_items(
            &[
                Item::Rights(253),
                Item::Raw(0, 2, vec![64, 0, 0, 0]),
                Item::Credentials(1, 2, 3),
                Item::Raw(-1, i32::MIN, vec![]),
            ],
            0,
        );
        encode_items(&[Item::Rights(3), Item::Raw(1, 1, vec![1; 100])], 1);
    }
}
