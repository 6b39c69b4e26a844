#!/usr/bin/env python3
"""Runs one capsock example with the native side it needs.

    python3 examples/run.py send_replacement   # Twisted's send_replacement.py, in a guest
    python3 examples/run.py copy_descriptor    # Twisted's copy_descriptor.py, in a guest
    python3 examples/run.py temperature        # the seed's client and server, both guests
    python3 examples/run.py prefork            # an acceptor guest hands connections to two worker guests
    python3 examples/run.py python             # Python guests: the plugin, send_replacement, the seed's client and server
    python3 examples/run.py js                 # the temperature plugin in JavaScript

It builds capsock in release mode first (the example guests are built with
it). --capsock and --wasm-dir skip the build and use what is given. The
Python and JavaScript guests are built with componentize-py (pip) and
ComponentizeJS (npm), installed under target/ on first use;
--build-only builds them, prints their paths and runs nothing.
"""

import argparse
import os
import shutil
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


def write_logs(directory, names):
    """Temperature logs, as in the seed's example output."""
    paths = []
    for name in names:
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write("time temp(in degree Celsius)\n")
            for hour, t in enumerate([23, 22, 22, 19, 17, 18, 19, 19, 23]):
                f.write(f"{hour:02}.00 {t}\n")
        paths.append(path)
    return paths


def broker(capsock, wasm, args=()):
    """The demo's broker: hands a plugin guest two open logs with
    "Temperature data" over the socket it grants as "broker", then prints
    the plugin's report."""
    with tempfile.TemporaryDirectory() as tmp:
        mine, theirs = socket.socketpair()
        plugin = run(capsock, wasm, [("broker", theirs.fileno())], args)
        theirs.close()
        files = [os.open(p, os.O_RDONLY) for p in write_logs(tmp, ["file1.log", "file2.log"])]
        socket.send_fds(mine, [b"Temperature data"], files)
        for fd in files:
            os.close(fd)
        report = b""
        while chunk := mine.recv(65536):
            report += chunk
        mine.close()
        status = plugin.wait()
        print("broker got the report:\n" + report.decode(), end="", flush=True)
        return status


def python_guests():
    """Builds every Python example into one component (examples/python/build.py)."""
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", "build.py"), "--examples"],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return out.strip().splitlines()[-1]


def python(capsock, wasm_dir):
    wasm = python_guests()
    print("== temperature_plugin.py, fed by a native broker", flush=True)
    status = broker(capsock, wasm, ["temperature_plugin"])
    print("== send_replacement.py (Twisted's listing)", flush=True)
    status = status or run(capsock, wasm, args=["send_replacement"]).wait()
    print("== the seed's server and client, both Python guests", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        write_logs(tmp, ["temperature_log1.txt", "temperature_log2.txt"])
        # Each guest sees the directory as `/`, its working directory, so
        # the seed's "./uds_socket" and "./temperature_log1.txt" are there.
        server = run(capsock, wasm, args=["seed_server"], options=["--unix-dir", f"{tmp}::/"])
        try:
            for _ in range(600):
                if os.path.exists(os.path.join(tmp, "uds_socket")):
                    break
                time.sleep(0.05)
            else:
                raise SystemExit("the seed server did not start listening")
            client = run(capsock, wasm, args=["seed_client"], options=["--unix-dir", f"{tmp}::/", "--dir", f"{tmp}::/"])
            status = status or client.wait()
        finally:
            time.sleep(0.2)  # the server's last lines
            server.kill()  # it serves forever, as the seed's does
            server.wait()
    return status


JS = os.path.join(ROOT, "examples", "js")


def js_guest():
    """Builds examples/js/temperature_plugin.js (ComponentizeJS, installed
    under target/js with `npm ci`), unless the component is up to date."""
    tools = os.path.join(TARGET, "js")
    out = os.path.join(tools, "temperature_plugin.wasm")
    lock = os.path.join(JS, "package-lock.json")
    installed = os.path.join(tools, "installed-package-lock.json")
    if not (os.path.exists(installed) and open(installed).read() == open(lock).read()):
        os.makedirs(tools, exist_ok=True)
        for f in ["package.json", "package-lock.json"]:
            shutil.copy(os.path.join(JS, f), tools)
        subprocess.run(["npm", "ci", "--prefix", tools, "--no-audit", "--no-fund", "--loglevel=error"],
                       check=True, stdout=sys.stderr)
        shutil.copy(lock, installed)
    inputs = [os.path.join(JS, f) for f in ["temperature_plugin.js", "build.mjs"]] + [installed]
    wit = os.path.join(ROOT, "wit")
    inputs += [os.path.join(d, f) for d, _, fs in os.walk(wit) for f in fs]
    if not os.path.exists(out) or os.path.getmtime(out) < max(map(os.path.getmtime, inputs)):
        env = dict(os.environ, NODE_PATH=os.path.join(tools, "node_modules"))
        subprocess.run(["node", os.path.join(JS, "build.mjs"), out], check=True, env=env, stdout=sys.stderr)
    return out


def js(capsock, wasm_dir):
    return broker(capsock, js_guest())


EXAMPLES = {f.__name__: f for f in [send_replacement, copy_descriptor, temperature, prefork, python, js]}
BUILD_ONLY = {"python": python_guests, "js": js_guest}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("example", choices=sorted(EXAMPLES))
    parser.add_argument("--capsock", help="the capsock binary (default: build it)")
    parser.add_argument("--wasm-dir", help="where the example .wasm files are (default: build them)")
    parser.add_argument("--build-only", action="store_true",
                        help="python, js: build the guest component, print its path, run nothing")
    opts = parser.parse_args()
    if opts.build_only:
        if opts.example not in BUILD_ONLY:
            parser.error("--build-only is for %s" % " and ".join(BUILD_ONLY))
        print(BUILD_ONLY[opts.example]())
        return
    if opts.capsock and opts.wasm_dir:
        capsock, wasm_dir = opts.capsock, opts.wasm_dir
    else:
        capsock, wasm_dir = build()
    sys.stdout.flush()
    sys.exit(EXAMPLES[opts.example](capsock, wasm_dir))


if __name__ == "__main__":
    main()
