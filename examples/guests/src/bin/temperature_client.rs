//! The seed's temperature-data client, as a sandboxed guest: it sends two
//! open files and the text `Temperature data` to a server in one
//! `sendmsg`. The files are granted by the host (`--fd file1=N --fd file2=M`);
//! the server socket too (`--unix-connect server=PATH` or `--fd server=N`).
//!
//! Run it with its server: `python3 examples/run.py temperature`.

use capsock::{AsHandle, SocketExt, UnixStream};

fn main() -> std::io::Result<()> {
    let server = UnixStream::preopened("server")?;
    let file1 = capsock::preopened("file1")?;
    let file2 = capsock::preopened("file2")?;
    server.send_fds(b"Temperature data", &[file1.as_handle(), file2.as_handle()])?;
    println!("Message sent to the server");
    Ok(())
}
