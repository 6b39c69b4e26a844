//! A soak guest: `soak SEED OPS` performs OPS random operations (from a
//! seeded generator, so a failure can be replayed) on socket pairs it
//! makes and on two granted peers, "native" (a Rust thread of the test) and
//! "hostile" (a Python process sending whatever it likes): pairs made and
//! dropped, sends and receives of random sizes with random flags
//! (out-of-band and peek among them), random control spaces, fds attached
//! and received, handles dropped, timeouts, readiness waits, descriptor
//! I/O. No operation may wait for long: every receive is `DONT_WAIT` or
//! under a timeout of at most 2 ms. Errors are expected and counted; a trap
//! or a host crash is the failure. Prints `key=value` lines.

use std::collections::BTreeMap;
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::time::Duration;

use capsock::{
    cmsg_space, error_code, wait, AsHandle, OwnedHandle, RecvFlags, SendAncillary, SendFlags,
    SocketExt, UnixDatagram, UnixSeqpacket, UnixStream, FD_SIZE,
};

/// xorshift64*: small, seeded, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// A size, mostly small, sometimes large.
    fn size(&mut self) -> usize {
        match self.below(10) {
            0 => 0,
            1..=6 => self.below(256),
            7 | 8 => self.below(8192),
            _ => self.below(200_000),
        }
    }
}

/// Any socket the soak holds.
enum Sock {
    Stream(UnixStream),
    Datagram(UnixDatagram),
    Seqpacket(UnixSeqpacket),
}

/// Dispatches a method every socket type has.
macro_rules! each {
    ($s:expr, $v:ident => $e:expr) => {
        match $s {
            Sock::Stream($v) => $e,
            Sock::Datagram($v) => $e,
            Sock::Seqpacket($v) => $e,
        }
    };
}

struct Soak {
    rng: Rng,
    /// "native" and "hostile".
    peers: [UnixStream; 2],
    /// Sockets of pairs the soak made.
    socks: Vec<Sock>,
    handles: Vec<OwnedHandle>,
    outcomes: BTreeMap<String, u64>,
    bytes_sent: u64,
    bytes_received: u64,
    fds_received: u64,
    buf: Vec<u8>,
}

impl Soak {
    fn count<T>(&mut self, op: &str, r: std::io::Result<T>) -> Option<T> {
        let key = match &r {
            Ok(_) => format!("{op}:ok"),
            Err(e) => format!(
                "{op}:{}",
                error_code(e).map_or_else(|| format!("{:?}", e.kind()), |c| c.name().to_string())
            ),
        };
        *self.outcomes.entry(key).or_default() += 1;
        r.ok()
    }

    fn pick(&mut self) -> Option<usize> {
        (!self.socks.is_empty()).then(|| self.rng.below(self.socks.len()))
    }

    fn make_pair(&mut self) {
        let r = match self.rng.below(3) {
            0 => UnixStream::pair().map(|(a, b)| [Sock::Stream(a), Sock::Stream(b)]),
            1 => UnixDatagram::pair().map(|(a, b)| [Sock::Datagram(a), Sock::Datagram(b)]),
            _ => UnixSeqpacket::pair().map(|(a, b)| [Sock::Seqpacket(a), Sock::Seqpacket(b)]),
        };
        if let Some(pair) = self.count("pair", r) {
            self.socks.extend(pair);
        }
    }

    fn send(&mut self) {
        let Some(i) = self.pick() else { return };
        let len = self.rng.size();
        let data: Vec<u8> = (0..len).map(|j| j as u8).collect();
        let mut flags = SendFlags::DONT_WAIT;
        if self.rng.chance(5) {
            flags |= SendFlags::OUT_OF_BAND;
        }
        if self.rng.chance(5) {
            flags |= SendFlags::END_OF_RECORD;
        }
        let lend = if self.rng.chance(30) && !self.handles.is_empty() {
            let n = 1 + self.rng.below(self.handles.len().min(6));
            let start = self.rng.below(self.handles.len() + 1 - n);
            start..start + n
        } else {
            0..0
        };
        let lent: Vec<_> = self.handles[lend].iter().map(|h| h.as_handle()).collect();
        let anc = [SendAncillary::Rights(&lent)];
        let anc = if lent.is_empty() { &anc[..0] } else { &anc[..] };
        let r = each!(&self.socks[i], s => s.send_msg(&[IoSlice::new(&data)], anc, flags, None));
        if let Some(n) = self.count("send", r) {
            self.bytes_sent += n as u64;
        }
    }

    /// Random receive parameters: (max bytes, control space, flags).
    fn receive_args(&mut self) -> (usize, usize, RecvFlags) {
        let len = self.rng.size().min(self.buf.len());
        let space = match self.rng.below(4) {
            0 => 0,
            1 => self.rng.below(64),
            2 => cmsg_space(FD_SIZE * (1 + self.rng.below(8))),
            _ => cmsg_space(FD_SIZE * 253),
        };
        let mut flags = RecvFlags::DONT_WAIT;
        if self.rng.chance(10) {
            flags |= RecvFlags::PEEK;
        }
        if self.rng.chance(5) {
            flags |= RecvFlags::OUT_OF_BAND;
        }
        (len, space, flags)
    }

    /// Counts a receive, checks it, and keeps some of the handles.
    fn received(&mut self, op: &str, len: usize, r: std::io::Result<capsock::RecvMsg>) {
        if let Some(mut m) = self.count(op, r) {
            assert!(m.bytes <= len, "more bytes than asked for");
            self.bytes_received += m.bytes as u64;
            let got = m.take_handles();
            self.fds_received += got.len() as u64;
            for h in got {
                if self.rng.chance(50) && self.handles.len() < 64 {
                    self.handles.push(h);
                }
            }
        }
    }

    fn recv(&mut self) {
        let Some(i) = self.pick() else { return };
        let (len, space, flags) = self.receive_args();
        let mut buf = std::mem::take(&mut self.buf);
        let r = each!(&self.socks[i], s => s.recv_msg(&mut [IoSliceMut::new(&mut buf[..len])], space, flags));
        self.buf = buf;
        self.received("recv", len, r);
    }

    fn recv_from_peer(&mut self) {
        let p = self.rng.below(2);
        let (len, space, flags) = self.receive_args();
        let mut buf = std::mem::take(&mut self.buf);
        let r = self.peers[p].recv_msg(&mut [IoSliceMut::new(&mut buf[..len])], space, flags);
        self.buf = buf;
        self.received("recv_peer", len, r);
    }

    fn timed_recv(&mut self) {
        let Some(i) = self.pick() else { return };
        let t = Duration::from_nanos(1 + self.rng.below(2_000_000) as u64);
        let r = each!(&self.socks[i], s => s.set_read_timeout(Some(t)));
        self.count("set_timeout", r);
        let mut byte = [0u8; 1];
        let r = each!(&self.socks[i], s => s.recv_msg(&mut [IoSliceMut::new(&mut byte)], 0, RecvFlags::empty()));
        self.count("timed_recv", r.map(|m| m.bytes));
        let r = each!(&self.socks[i], s => s.set_read_timeout(None));
        self.count("clear_timeout", r);
    }

    fn readiness(&mut self) {
        let mut ready = Vec::new();
        for _ in 0..1 + self.rng.below(4) {
            let Some(i) = self.pick() else { return };
            let r = if self.rng.chance(50) {
                each!(&self.socks[i], s => s.readable())
            } else {
                each!(&self.socks[i], s => s.writable())
            };
            if let Some(r) = self.count("subscribe", r) {
                ready.push(r);
            }
        }
        if self.rng.chance(20) && !self.handles.is_empty() {
            let h = self.rng.below(self.handles.len());
            let r = self.handles[h].readable();
            if let Some(r) = self.count("subscribe_handle", r) {
                ready.push(r);
            }
        }
        let all: Vec<_> = ready.iter().collect();
        let t = Duration::from_micros(self.rng.below(2000) as u64);
        let r = wait(&all, Some(t));
        self.count("wait", r);
    }

    fn descriptor(&mut self) {
        if self.handles.is_empty() {
            return;
        }
        let i = self.rng.below(self.handles.len());
        let kind = self.handles[i].kind();
        *self.outcomes.entry(format!("kind:{kind:?}")).or_default() += 1;
        let h = &self.handles[i];
        let _ = h.set_read_timeout(Some(Duration::from_millis(1)));
        let _ = h.set_nonblocking(true);
        let mut buf = [0u8; 512];
        let r = (&self.handles[i]).read(&mut buf);
        self.count("handle_read", r);
        let r = self.handles[i].metadata();
        self.count("handle_stat", r);
        if self.rng.chance(20) {
            let r = (&self.handles[i]).write(b"soak");
            self.count("handle_write", r);
        }
        if self.rng.chance(20) {
            let r = self.handles[i].try_clone();
            if let Some(h) = self.count("handle_clone", r) {
                self.handles.push(h);
            }
        }
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=9 => self.make_pair(),
            10..=14 => {
                if let Some(i) = self.pick() {
                    self.socks.swap_remove(i);
                }
            }
            15..=39 => self.send(),
            40..=69 => self.recv(),
            70..=72 => self.timed_recv(),
            73..=79 => self.readiness(),
            80..=86 => self.descriptor(),
            87..=89 => {
                if !self.handles.is_empty() {
                    let i = self.rng.below(self.handles.len());
                    self.handles.swap_remove(i);
                }
            }
            90..=91 => {
                if let Some(i) = self.pick() {
                    let how = [
                        std::net::Shutdown::Read,
                        std::net::Shutdown::Write,
                        std::net::Shutdown::Both,
                    ][self.rng.below(3)];
                    let r = each!(&self.socks[i], s => s.shutdown(how));
                    self.count("shutdown", r);
                }
            }
            92..=95 => self.send_to_peer(),
            _ => self.recv_from_peer(),
        }
        // Keep the table small: a soak, not a handle-limit test.
        while self.socks.len() > 48 {
            let i = self.rng.below(self.socks.len());
            self.socks.swap_remove(i);
        }
    }

    /// Sends to a peer, sometimes lending handles.
    fn send_to_peer(&mut self) {
        let p = self.rng.below(2);
        let len = self.rng.size().min(65536);
        let data = vec![b's'; len];
        let n = if self.handles.is_empty() || self.rng.chance(70) {
            0
        } else {
            1 + self.rng.below(self.handles.len().min(4))
        };
        let lent: Vec<_> = self.handles[..n].iter().map(|h| h.as_handle()).collect();
        let anc = [SendAncillary::Rights(&lent)];
        let anc = if lent.is_empty() { &anc[..0] } else { &anc[..] };
        let r = self.peers[p].send_msg(&[IoSlice::new(&data)], anc, SendFlags::DONT_WAIT, None);
        self.count("send_peer", r);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args[1].parse().unwrap();
    let ops: u64 = args[2].parse().unwrap();
    let native = UnixStream::preopened("native").unwrap();
    let hostile = UnixStream::preopened("hostile").unwrap();
    let mut soak = Soak {
        rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        peers: [native, hostile],
        socks: Vec::new(),
        handles: Vec::new(),
        outcomes: BTreeMap::new(),
        bytes_sent: 0,
        bytes_received: 0,
        fds_received: 0,
        buf: vec![0; 200_000],
    };
    for _ in 0..ops {
        soak.step();
    }
    println!("ops={ops}");
    println!("bytes_sent={}", soak.bytes_sent);
    println!("bytes_received={}", soak.bytes_received);
    println!("fds_received={}", soak.fds_received);
    for (k, v) in &soak.outcomes {
        println!("outcome {k}={v}");
    }
}
