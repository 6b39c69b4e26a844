//! A plugin in an embedder's own world (`examples/guests/wit/plugin.wit`):
//! the host hands it connections through its export `on-connection` and
//! takes a socket back from `open-channel`. Its host is
//! `examples/plugin_host.rs` (`cargo run --example plugin_host`).

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "capsock-example:plugin/plugin",
    features: ["clocks-timezone"],
    generate_all,
});

// The world's `use` brought `Socket` and `ErrorCode` in already.
use self::capsock::sockets::types::{SendFlags, SocketType};

struct Plugin;

impl Guest for Plugin {
    fn on_connection(conn: Socket) -> Result<u64, ErrorCode> {
        conn.send(b"hello", SendFlags::empty())
    }

    fn open_channel() -> Result<Socket, ErrorCode> {
        let (ours, theirs) = Socket::pair(SocketType::Stream)?;
        ours.send(b"from the guest", SendFlags::empty())?;
        Ok(theirs)
    }
}

export!(Plugin);

fn main() {}
