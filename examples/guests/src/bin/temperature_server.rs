//! The seed's temperature-data server, as a sandboxed guest: it receives
//! the text and the two file descriptors a client sent, and prints the
//! files' contents, read through the received handles. The connection is
//! granted by the host as `client`.
//!
//! Run it with its client: `python3 examples/run.py temperature`.

use std::io::Read;

use capsock::{SocketExt, UnixStream};

fn main() -> std::io::Result<()> {
    let client = UnixStream::preopened("client")?;
    println!("Unix domain socket connected...");
    let received = client.recv_fds(1024, 8)?;
    println!("Message received at server...");
    println!(
        "Non-ancillary message:{}",
        String::from_utf8_lossy(&received.data)
    );
    println!("Contents of the file descriptor:");
    for (i, mut handle) in received.fds.into_iter().enumerate() {
        let mut text = String::new();
        handle.read_to_string(&mut text)?;
        println!(
            "File {} contents: {}",
            i + 1,
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    Ok(())
}
