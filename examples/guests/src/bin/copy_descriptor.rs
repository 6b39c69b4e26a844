//! Twisted's `copy_descriptor.py`, as a sandboxed guest: send a copy of a
//! pipe's read end over a socket pair, then read half of what is written to
//! the pipe through the original and half through the copy.
//!
//! The guest cannot create pipes; the host grants both ends
//! (`--fd reader=N --fd writer=M`). Run it: `python3 examples/run.py copy_descriptor`.

use std::io::{Read, Write};

use capsock::{AsHandle, SocketExt, UnixStream};

fn main() -> std::io::Result<()> {
    let (sender, receiver) = UnixStream::pair()?;
    let mut reader = capsock::preopened("reader")?;
    let mut writer = capsock::preopened("writer")?;

    // Send a copy of the descriptor. Notice that there must be at least one
    // byte of normal data passed in.
    let sent = sender.send_fds(b"\x00", &[reader.as_handle()])?;
    println!("Sent {sent} byte with the pipe's read end");

    // Receive the copy, including that one byte of normal data.
    let mut received = receiver.recv_fds(1024, 1)?;
    assert_eq!(received.data, b"\x00");
    let mut duplicate = received.fds.pop().expect("one handle received");

    // Demonstrate that the copy works just like the original.
    writer.write_all(b"Hello, world")?;
    println!("Wrote 12 bytes");
    let mut half = [0u8; 6];
    reader.read_exact(&mut half)?;
    println!("Read {:?} from original", String::from_utf8_lossy(&half));
    duplicate.read_exact(&mut half)?;
    println!("Read {:?} from duplicate", String::from_utf8_lossy(&half));
    Ok(())
}
