//! The first example of the README ("Writing a guest"), verbatim: a test
//! compares the two and runs this against a broker written with Twisted's
//! reactor (`tests/peers/twisted_broker.py`).

use std::io::{IoSlice, IoSliceMut, Read};

use capsock::{
    cmsg_space, AsHandle, RecvFlags, SendAncillary, SendFlags, SocketExt, UnixStream, FD_SIZE,
};

fn main() -> std::io::Result<()> {
    // capsock run --unix-connect broker=PATH readme.wasm
    let broker = UnixStream::preopened("broker")?;

    // Python's recv_fds(sock, 1024, 8): data, fds, flags. On a stream
    // socket a receive stops after bytes that carried fds (Twisted sends
    // one byte per fd), so receive until both files are in.
    let (mut data, mut files) = (Vec::new(), Vec::new());
    while files.len() < 2 {
        let got = broker.recv_fds(1024, 8)?;
        if got.data.is_empty() && got.fds.is_empty() {
            break; // the broker hung up
        }
        data.extend(got.data);
        files.extend(got.fds);
    }
    // Each is an OwnedHandle: Read + Write + Seek, and AsHandle to pass on.
    for mut file in files {
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        print!("{text}");
    }

    // Full recvmsg: scatter, control space sized as CMSG_SPACE on the host.
    let (mut head, mut body) = ([0u8; 4], [0u8; 60]);
    let mut msg = broker.recv_msg(
        &mut [IoSliceMut::new(&mut head), IoSliceMut::new(&mut body)],
        cmsg_space(4 * FD_SIZE),
        RecvFlags::empty(),
    )?;
    let fds = msg.take_handles();

    // Full sendmsg: gather, and lend handles (the peer gets copies).
    let lent: Vec<_> = fds.iter().map(|h| h.as_handle()).collect();
    broker.send_msg(
        &[IoSlice::new(b"back: "), IoSlice::new(&data)],
        &[SendAncillary::Rights(&lent)],
        SendFlags::empty(),
        None,
    )?;
    Ok(())
}
