#!/usr/bin/env python3
"""Runs one capsock example with the native side it needs.

    python3 examples/run.py send_replacement   # Twisted's send_replacement.py, in a guest
    python3 examples/run.py copy_descriptor    # Twisted's copy_descriptor.py, in a guest
    python3 examples/run.py temperature        # the seed's client and server, both guests
    python3 examples/run.py prefork            # an acceptor guest hands connections to two worker guests

It builds capsock in release mode first (the example guests are built with
it). --capsock and --wasm-dir skip the build and use what is given.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "capsock-cli"], cwd=ROOT, check=True)
    return os.path.join(TARGET, "release", "capsock"), os.path.join(TARGET, "wasm-guests", "wasm32-wasip2", "release")


def run(capsock, wasm, grants=(), args=(), options=()):
    """Starts `capsock run` granting the given (name, fd) pairs."""
    cmd = [capsock, "run", *options]
    for name, fd in grants:
        cmd += ["--fd", f"{name}={fd}"]
    cmd += [wasm, *args]
    return subprocess.Popen(cmd, pass_fds=[fd for _, fd in grants])


def send_replacement(capsock, wasm_dir):
    return run(capsock, os.path.join(wasm_dir, "send_replacement.wasm")).wait()


def copy_descriptor(capsock, wasm_dir):
    # The guest cannot make pipes: this script makes one and grants both ends.
    reader, writer = os.pipe()
    child = run(capsock, os.path.join(wasm_dir, "copy_descriptor.wasm"), [("reader", reader), ("writer", writer)])
    os.close(reader)
    os.close(writer)
    return child.wait()


def temperature(capsock, wasm_dir):
    # Two temperature logs, as in the seed's example output.
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name in ["file1.log", "file2.log"]:
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write("time temp(in degree Celsius)\n")
                for hour, t in enumerate([23, 22, 22, 19, 17, 18, 19, 19, 23]):
                    f.write(f"{hour:02}.00 {t}\n")
            paths.append(path)
        server_end, client_end = socket.socketpair()
        files = [os.open(p, os.O_RDONLY) for p in paths]
        server = run(capsock, os.path.join(wasm_dir, "temperature_server.wasm"), [("client", server_end.fileno())])
        client = run(
            capsock,
            os.path.join(wasm_dir, "temperature_client.wasm"),
            [("server", client_end.fileno()), ("file1", files[0]), ("file2", files[1])],
        )
        server_end.close()
        client_end.close()
        for fd in files:
            os.close(fd)
        return client.wait() or server.wait()


def prefork(capsock, wasm_dir, clients=6):
    """The pre-fork pattern, sandboxed: capsock listens on a socket and
    grants it to the acceptor guest, which passes each connection to one of
    two worker guests over socket pairs; native clients get the answers."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "service.sock")
        wires = [socket.socketpair() for _ in range(2)]
        workers = [
            run(capsock, os.path.join(wasm_dir, "worker.wasm"), [("acceptor", w.fileno())], [str(i + 1)])
            for i, (_, w) in enumerate(wires)
        ]
        acceptor = run(
            capsock,
            os.path.join(wasm_dir, "acceptor.wasm"),
            [("worker1", wires[0][0].fileno()), ("worker2", wires[1][0].fileno())],
            [str(clients)],
            ["--unix-listen", f"listener={path}"],
        )
        for a, w in wires:
            a.close()
            w.close()
        deadline = time.monotonic() + 30
        for i in range(clients):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.settimeout(30)
                while True:
                    try:
                        c.connect(path)
                        break
                    except (FileNotFoundError, ConnectionRefusedError):
                        # Not listening yet (the file appears at bind, before listen).
                        if time.monotonic() > deadline or acceptor.poll() is not None:
                            raise SystemExit("the acceptor did not start listening")
                        time.sleep(0.02)
                c.sendall(f"hello from client {i}\n".encode())
                # One write per line: the guests share this stdout.
                print(f"client {i} got: {c.makefile().readline().strip()}", flush=True)
        return acceptor.wait() or max(w.wait() for w in workers)


EXAMPLES = {f.__name__: f for f in [send_replacement, copy_descriptor, temperature, prefork]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("example", choices=sorted(EXAMPLES))
    parser.add_argument("--capsock", help="the capsock binary (default: build it)")
    parser.add_argument("--wasm-dir", help="where the example .wasm files are (default: build them)")
    opts = parser.parse_args()
    if opts.capsock and opts.wasm_dir:
        capsock, wasm_dir = opts.capsock, opts.wasm_dir
    else:
        capsock, wasm_dir = build()
    sys.stdout.flush()
    sys.exit(EXAMPLES[opts.example](capsock, wasm_dir))


if __name__ == "__main__":
    main()
