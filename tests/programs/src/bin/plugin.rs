//! A plugin in an embedder's own world (`tests/programs/wit/plugin.wit`):
//! the host hands it sockets through its export and takes sockets back.

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "capsock-test:plugin/plugin",
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
