//! One side of a capability hand-off, for `capsock pair`: makes a socket
//! pair, gives one end to the peer over "peer", and talks to the peer
//! through the new channel only.
//!
//! Run it: `cargo run --release -- pair \
//!   target/wasm-guests/wasm32-wasip2/release/handoff_giver.wasm \
//!   target/wasm-guests/wasm32-wasip2/release/handoff_taker.wasm`

use std::io::{Read, Write};

use capsock::{AsHandle, SocketExt, UnixStream};

fn main() -> std::io::Result<()> {
    let peer = UnixStream::preopened("peer")?;
    let (mut mine, theirs) = UnixStream::pair()?;
    peer.send_fds(b"a private channel", &[theirs.as_handle()])?;
    drop(theirs);
    mine.write_all(b"ping over the handed-off socket\n")?;
    let mut reply = String::new();
    mine.read_to_string(&mut reply)?;
    print!("giver got: {reply}");
    Ok(())
}
