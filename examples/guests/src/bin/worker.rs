//! A worker of the pre-fork example: receives connections from the
//! acceptor ("acceptor") as handles, reads one line from each and answers
//! it. `worker NAME`; stops when the acceptor closes its end.
//!
//! Run it: `python3 examples/run.py prefork`.

use std::io::{BufRead, BufReader, Write};

use capsock::{SocketExt, UnixStream};

fn main() -> std::io::Result<()> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "?".into());
    let acceptor = UnixStream::preopened("acceptor")?;
    let mut served = 0;
    loop {
        let mut received = acceptor.recv_fds(16, 1)?;
        if received.data.is_empty() && received.fds.is_empty() {
            break; // the acceptor is done
        }
        let Some(handle) = received.fds.pop() else {
            continue;
        };
        let mut conn = UnixStream::try_from(handle)?;
        let mut line = String::new();
        BufReader::new(&conn).read_line(&mut line)?;
        writeln!(
            conn,
            "worker {name} answers: {}",
            line.trim_end().to_uppercase()
        )?;
        served += 1;
    }
    println!("worker {name}: served {served} connections");
    Ok(())
}
