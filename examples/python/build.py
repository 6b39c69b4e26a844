#!/usr/bin/env python3
"""Builds Python scripts into one capsock guest component (world
``capsock:sockets/sandbox``) with componentize-py.

    python3 examples/python/build.py -o OUT.wasm SCRIPT.py [SCRIPT.py ...]
    python3 examples/python/build.py --examples   # every example here -> target/python-guests/examples.wasm

The component holds CPython, the standard library, the ``capsock`` package
beside this file and the scripts. With one script it runs that script; with
several, its first argument names the one to run::

    capsock run OUT.wasm temperature_plugin

componentize-py (pinned below) is installed on first use into a virtualenv
under ``target/`` (``--tools DIR`` to put it elsewhere). A build is skipped
when its inputs (scripts, the package, capsock's WIT, the tool's version)
are those of the component already at OUT.
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import venv

COMPONENTIZE_PY = "componentize-py==0.25.1"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WIT = os.path.join(ROOT, "wit")
WORLD = "capsock:sockets/sandbox"
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
EXAMPLES_WASM = os.path.join(TARGET, "python-guests", "examples.wasm")


def examples():
    """The example scripts: every .py file beside this one, but this one."""
    return sorted(os.path.join(HERE, f) for f in os.listdir(HERE)
                  if f.endswith(".py") and f != os.path.basename(__file__))


def tools(directory):
    """The componentize-py executable, installed into `directory` if needed."""
    exe = os.path.join(directory, "bin", "componentize-py")
    stamp = os.path.join(directory, "installed")
    if os.path.exists(stamp) and open(stamp).read() == COMPONENTIZE_PY:
        return exe
    print("installing %s into %s" % (COMPONENTIZE_PY, directory), file=sys.stderr)
    venv.create(directory, with_pip=True, clear=True)
    subprocess.run([os.path.join(directory, "bin", "python"), "-m", "pip", "install",
                    "--quiet", "--disable-pip-version-check", COMPONENTIZE_PY], check=True)
    with open(stamp, "w") as f:
        f.write(COMPONENTIZE_PY)
    return exe


def inputs_digest(scripts):
    h = hashlib.sha256(COMPONENTIZE_PY.encode())
    files = list(scripts)
    for top in (os.path.join(HERE, "capsock"), WIT):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            files += [os.path.join(dirpath, f) for f in sorted(filenames)
                      if f.endswith((".py", ".wit"))]
    files.append(os.path.abspath(__file__))
    for path in files:
        h.update(path.encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", help="the component to write")
    parser.add_argument("--examples", action="store_true",
                        help="build every script beside this one into %s" % EXAMPLES_WASM)
    parser.add_argument("--tools", default=os.path.join(TARGET, "componentize-py"),
                        help="where componentize-py is installed (default: target/componentize-py)")
    parser.add_argument("scripts", nargs="*", help="Python scripts, run as __main__")
    args = parser.parse_args()
    if args.examples:
        args.output = args.output or EXAMPLES_WASM
        args.scripts = examples()
    if not args.output or not args.scripts:
        parser.error("give -o OUT.wasm and scripts, or --examples")

    scripts = [os.path.abspath(s) for s in args.scripts]
    names = [os.path.splitext(os.path.basename(s))[0] for s in scripts]
    for s in scripts:
        if not os.path.isfile(s):
            parser.error("no such script: %s" % s)
    if len(set(names)) != len(names):
        parser.error("two scripts have the same module name")
    digest = inputs_digest(scripts)
    stamp = args.output + ".inputs"
    if os.path.exists(args.output) and os.path.exists(stamp) and open(stamp).read() == digest:
        print("%s is up to date" % args.output, file=sys.stderr)
        print(args.output)
        return
    exe = tools(args.tools)
    with tempfile.TemporaryDirectory() as staging:
        # The app module componentize-py imports: the `run` export.
        # The scripts' text goes into it: componentize-py runs it (and so
        # compiles them) while building, and the initialized interpreter
        # is what the component holds.
        sources = {}
        for name, script in zip(names, scripts):
            with open(script, encoding="utf-8") as f:
                sources[name] = f.read()
        with open(os.path.join(staging, "capsock_app.py"), "w") as f:
            f.write("from capsock._main import make_run\n\nRun = make_run(%r)\n" % sources)
        path = [staging, HERE]
        command = [exe, "-d", WIT, "-w", WORLD, "componentize"]
        for p in path:
            command += ["-p", p]
        command += ["capsock_app", "-o", os.path.abspath(args.output)]
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        subprocess.run(command, check=True, stdout=sys.stderr)
    with open(stamp, "w") as f:
        f.write(digest)
    print("built %s (%s)" % (args.output, ", ".join(names)), file=sys.stderr)
    print(args.output)


if __name__ == "__main__":
    main()
