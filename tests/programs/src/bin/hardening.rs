//! Guests for the sandbox-hardening tests: what a hostile or careless guest
//! does to the host through the safe SDK alone. `hardening <scenario> ...`;
//! prints `key=value` lines.

use std::io::{IoSliceMut, Read, Write};

use capsock::{RecvFlags, SendFlags, UnixStream};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("oob_zero_length") => oob_zero_length(),
        other => panic!("unknown scenario {other:?}"),
    }
}

fn show<T: std::fmt::Debug>(key: &str, r: std::io::Result<T>) {
    match r {
        Ok(v) => println!("{key}=ok:{v:?}"),
        Err(e) => println!("{key}=err:{:?}", e.kind()),
    }
}

/// Zero-length out-of-band receives with nothing but the SDK: each returns
/// normally, with nothing written and the truncation reported.
fn oob_zero_length() {
    let (a, b) = UnixStream::pair().unwrap();
    let oob = RecvFlags::OUT_OF_BAND;
    for (key, flags) in [("peek", oob | RecvFlags::PEEK), ("consume", oob)] {
        a.send_msg(
            &[std::io::IoSlice::new(b"!")],
            &[],
            SendFlags::OUT_OF_BAND,
            None,
        )
        .unwrap();
        let m = b.recv_msg(&mut [], 0, flags);
        show(key, m.map(|m| (m.bytes, m.flags)));
        let mut byte = [0u8; 1];
        let rest = b.recv_msg(
            &mut [IoSliceMut::new(&mut byte)],
            0,
            oob | RecvFlags::DONT_WAIT,
        );
        show(
            &format!("{key}_then"),
            rest.map(|m| (m.bytes, byte[0] as char)),
        );
    }
    (&a).write_all(b"still in band").unwrap();
    let mut buf = [0u8; 13];
    (&b).read_exact(&mut buf).unwrap();
    println!("in_band={}", String::from_utf8_lossy(&buf));
}
