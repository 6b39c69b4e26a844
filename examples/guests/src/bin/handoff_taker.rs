//! The other side of the hand-off (see `handoff_giver`): receives a socket
//! over "peer" and answers what arrives on it.

use std::io::{BufRead, BufReader, Write};
use std::net::Shutdown;

use capsock::{RecvFds, SocketExt, UnixStream};

fn main() -> std::io::Result<()> {
    let peer = UnixStream::preopened("peer")?;
    let RecvFds {
        data: note,
        mut fds,
        ..
    } = peer.recv_fds(64, 1)?;
    let channel = UnixStream::try_from(fds.pop().expect("a handed-off socket"))?;
    println!(
        "taker got {:?} and a socket",
        String::from_utf8_lossy(&note)
    );
    let mut line = String::new();
    BufReader::new(&channel).read_line(&mut line)?;
    (&channel).write_all(format!("pong for {:?}\n", line.trim_end()).as_bytes())?;
    channel.shutdown(Shutdown::Write)?;
    Ok(())
}
