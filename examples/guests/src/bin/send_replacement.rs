//! Twisted's `send_replacement.py`, as a sandboxed guest: `send-msg` and
//! `recv-msg` used as plain `send` / `recv` over a socket pair.
//!
//! Run it: `python3 examples/run.py send_replacement`.

use std::io::{IoSlice, IoSliceMut};

use capsock::{RecvFlags, SendFlags, SocketExt, UnixStream};

fn main() -> std::io::Result<()> {
    let (sender, receiver) = UnixStream::pair()?;
    let sent = sender.send_msg(
        &[IoSlice::new(b"Hello, world")],
        &[],
        SendFlags::empty(),
        None,
    )?;
    println!("Sent {sent} bytes");
    let mut buf = [0u8; 1024];
    let msg = receiver.recv_msg(&mut [IoSliceMut::new(&mut buf)], 0, RecvFlags::empty())?;
    println!("Received {:?}", String::from_utf8_lossy(&buf[..msg.bytes]));
    println!("Extra stuff, fyi {:?} {:?}", msg.ancillary, msg.flags);
    Ok(())
}
