//! Guests for the readiness, blocking-mode, server and many-guests tests.
//! `servers <scenario> ...`; prints `key=value` lines (see this crate's
//! lib.rs).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use capsock::{
    cmsg_space, wait, AsHandle, OwnedHandle, SocketExt, TcpListener, TcpStream, UdpSocket,
    UnixDatagram, UnixListener, UnixSeqpacket, UnixSeqpacketListener, UnixSocketAddr, UnixStream,
};
use capsock_test_programs::{error, show, Report};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args[1].as_str() {
        "wait" => wait_on_two(),
        "modes" => modes(),
        "accept" => accept(&args[2]),
        "activated" => activated(),
        "tcp_received" => tcp_received(),
        "unix_received" => unix_received(),
        "tcp_activated" => serve_tcp(TcpListener::preopened("http").unwrap()),
        "count_pairs" => count_pairs(),
        "std_shape" => std_shape(&args[2]),
        other => panic!("unknown scenario {other}"),
    }
}

/// Waits on "a" and "b": a timeout, then data on b, then end-of-file on b.
fn wait_on_two() {
    let a = UnixStream::preopened("a").unwrap();
    let b = UnixStream::preopened("b").unwrap();
    let (ra, rb) = (a.readable().unwrap(), b.readable().unwrap());
    let t = Instant::now();
    println!(
        "first={}",
        wait(&[&ra, &rb], Some(Duration::from_millis(200)))
            .unwrap()
            .report()
    );
    println!("waited_ms={}", t.elapsed().as_millis());
    (&a).write_all(b"go").unwrap();
    println!("second={}", wait(&[&ra, &rb], None).unwrap().report());
    let mut byte = [0u8; 1];
    (&b).read_exact(&mut byte).unwrap();
    (&a).write_all(b"close").unwrap();
    println!("third={}", wait(&[&ra, &rb], None).unwrap().report());
    show("eof", (&b).read(&mut byte));
    let wa = a.writable().unwrap();
    let writable = wait(&[&wa], Some(Duration::ZERO)).unwrap();
    println!("writable={}", writable.report());
}

/// Non-blocking mode and timeouts on "a" (the test never writes to it and
/// never reads from it).
fn modes() {
    let a = UnixStream::preopened("a").unwrap();
    let mut buf = [0u8; 8];
    a.set_nonblocking(true).unwrap();
    show("nonblocking_read", (&a).read(&mut buf));
    a.set_nonblocking(false).unwrap();
    a.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let t = Instant::now();
    show("timed_read", (&a).read(&mut buf));
    println!("timed_read_ms={}", t.elapsed().as_millis());
    show("zero_timeout", a.set_read_timeout(Some(Duration::ZERO)));
    a.set_read_timeout(None).unwrap();
    a.set_write_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let chunk = vec![0u8; 65536];
    let err = loop {
        if let Err(e) = (&a).write(&chunk) {
            break e;
        }
    };
    println!("timed_write={}", error(&err));
}

/// Binds `path` (below a granted directory), accepts one connection and
/// hands it to "peer" with SCM_RIGHTS; also tries non-blocking and timed
/// accepts with nothing pending.
fn accept(path: &str) {
    let listener = UnixListener::bind(path).unwrap();
    let peer = UnixStream::preopened("peer").unwrap();
    listener.set_nonblocking(true).unwrap();
    show("nonblocking_accept", listener.accept().map(|_| ()));
    listener.set_nonblocking(false).unwrap();
    listener
        .set_accept_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    show("timed_accept", listener.accept().map(|_| ()));
    listener.set_accept_timeout(None).unwrap();
    (&peer).write_all(b"listening").unwrap();
    let (conn, _) = listener.accept().unwrap();
    peer.send_fds(b"conn", &[conn.as_handle()]).unwrap();
    println!(
        "local={}",
        listener
            .local_addr()
            .unwrap()
            .as_pathname()
            .unwrap()
            .display()
    );
}

/// Started by socket activation: greets one client on the "web" listener.
fn activated() {
    let listener = UnixListener::preopened("web").unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    conn.write_all(b"hello from an activated guest\n").unwrap();
}

/// A supervisor hands over a bound, listening TCP socket over the Unix
/// socket granted as `supervisor`: taken as the wrong types first (each
/// refusal gives the handle back), then as a `TcpListener`, and served.
fn tcp_received() {
    let supervisor = UnixStream::preopened("supervisor").unwrap();
    let mut got = supervisor.recv_fds(64, 4).unwrap();
    println!("message={}", String::from_utf8_lossy(&got.data));
    println!("handles={}", got.fds.len());
    let handle = got.fds.remove(0);
    let handle = match UdpSocket::try_from(handle) {
        Ok(_) => panic!("a TCP listener became a UdpSocket"),
        Err(e) => {
            println!("as_udp={}", error(e.error()));
            e.into_handle()
        }
    };
    let handle = match UnixListener::try_from(handle) {
        Ok(_) => panic!("a TCP listener became a UnixListener"),
        Err(e) => {
            println!("as_unix={}", error(e.error()));
            e.into_handle()
        }
    };
    serve_tcp(TcpListener::try_from(handle).unwrap());
}

/// The prefork pattern with the acceptor sandboxed: a supervisor hands
/// over a listening Unix socket; a `TcpListener` refuses it (and gives it
/// back), a `UnixListener` takes it, accepts the supervisor's client and
/// answers its line upper-cased, through a `try_clone` of the connection.
fn unix_received() {
    let supervisor = UnixStream::preopened("supervisor").unwrap();
    let mut got = supervisor.recv_fds(64, 4).unwrap();
    let handle = got.fds.remove(0);
    let handle = match TcpListener::try_from(handle) {
        Ok(_) => panic!("a Unix listener became a TcpListener"),
        Err(e) => {
            println!("as_tcp={}", error(e.error()));
            e.into_handle()
        }
    };
    let listener = UnixListener::try_from(handle).unwrap();
    let local = listener.local_addr().unwrap();
    println!("local_addr={}", local.as_pathname().unwrap().display());
    let (conn, _) = listener.accept().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while (&conn).read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    println!("request={}", String::from_utf8_lossy(&line));
    line.make_ascii_uppercase();
    line.push(b'\n');
    conn.try_clone().unwrap().write_all(&line).unwrap();
}

/// Reports the listener's address, accepts one connection, reports its
/// peer, and answers its line upper-cased.
fn serve_tcp(listener: TcpListener) {
    println!("local_addr={}", listener.local_addr().unwrap());
    let (mut conn, peer): (TcpStream, _) = listener.accept().unwrap();
    println!("peer={peer}");
    println!("conn_local={}", conn.local_addr().unwrap());
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while conn.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    println!("request={}", String::from_utf8_lossy(&line));
    line.make_ascii_uppercase();
    line.push(b'\n');
    conn.write_all(&line).unwrap();
    // Outside the policy (there is none): a connect is still refused.
    show("connect_out", TcpStream::connect(peer).map(|_| ()));
}

/// How many socket pairs fit under this guest's handle limit.
fn count_pairs() {
    let mut held = Vec::new();
    while let Ok(p) = UnixStream::pair() {
        held.push(p);
    }
    println!("pairs={}", held.len());
}

/// The std-shaped API over abstract names (`--allow-abstract`), each
/// name `NAME-...`: listeners and connections made from addresses, accept
/// with the peer's address, `incoming`, `try_clone`, `take_error`, and
/// sockets turned into handles and back.
fn std_shape(name: &str) {
    let addr = |what: &str| UnixSocketAddr::from_abstract_name(format!("{name}-{what}")).unwrap();

    let listener = UnixListener::bind_addr(&addr("stream")).unwrap();
    println!(
        "listener_local={}",
        listener.local_addr().unwrap() == addr("stream")
    );
    let client = UnixStream::connect_addr(&addr("stream")).unwrap();
    let (conn, peer) = listener.accept().unwrap();
    println!("accept_peer={}", peer.report());
    println!(
        "client_peer={}",
        client.peer_addr().unwrap() == addr("stream")
    );
    let clone = client.try_clone().unwrap();
    (&clone).write_all(b"via clone").unwrap();
    drop(clone);
    let mut buf = [0u8; 9];
    (&conn).read_exact(&mut buf).unwrap();
    println!("clone_wrote={}", String::from_utf8_lossy(&buf));
    show("take_error", conn.take_error().map(|e| e.is_none()));
    let _more = [
        UnixStream::connect_addr(&addr("stream")).unwrap(),
        UnixStream::connect_addr(&addr("stream")).unwrap(),
    ];
    println!(
        "incoming={}",
        listener.incoming().take(2).filter(Result::is_ok).count()
    );

    // A socket becomes a plain handle and back; a wrong conversion gives
    // the handle back, still usable.
    let handle = OwnedHandle::from(conn);
    println!("handle_kind={}", handle.kind().report());
    let err = UnixDatagram::try_from(handle).unwrap_err();
    println!("as_datagram={}", error(err.error()));
    let conn = UnixStream::try_from(err.into_handle()).unwrap();
    (&client).write_all(b"still").unwrap();
    let mut five = [0u8; 5];
    (&conn).read_exact(&mut five).unwrap();
    println!("after_round_trip={}", String::from_utf8_lossy(&five));

    let seq_listener = UnixSeqpacketListener::bind_addr(&addr("seqpacket")).unwrap();
    let seq = UnixSeqpacket::connect_addr(&addr("seqpacket")).unwrap();
    let (accepted, _) = seq_listener.accept().unwrap();
    seq.send(b"packet").unwrap();
    println!(
        "seqpacket={}",
        String::from_utf8_lossy(&accepted.recv_vec(64).unwrap())
    );

    let server = UnixDatagram::bind_addr(&addr("dgram")).unwrap();
    let (a, _b) = UnixDatagram::pair().unwrap();
    let sender = UnixDatagram::unbound().unwrap();
    sender.bind_to_addr(&addr("sender")).unwrap();
    sender.send_to_addr(b"to abstract", &addr("dgram")).unwrap();
    let got = server.recv_fds(64, 1).unwrap();
    println!("dgram_data={}", String::from_utf8_lossy(&got.data));
    println!("dgram_from={}", got.addr == Some(addr("sender")));
    let udp = UdpSocket::try_from(OwnedHandle::from(a)).unwrap_err();
    println!("as_udp={}", error(udp.error()));
    let a = UnixDatagram::try_from(udp.into_handle()).unwrap();
    println!("back_as_datagram={}", a.send(b"x").is_ok());
    println!("cmsg_space_stable={}", cmsg_space(4) == cmsg_space(4));
}
