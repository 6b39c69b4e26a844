"""The entry of a Python guest component built by ``examples/python/build.py``:
the ``wasi:cli/run`` export that runs a script as ``__main__``, as
``python3 script.py ARGS`` would.

componentize-py initializes the interpreter when it builds the component
(it imports the app module then), so what a program reads of its process
— arguments, environment — is read here again when the component runs.
"""

import builtins
import os
import sys
import traceback

from wit_world import exports
from wit_world.imports import environment, exit as wasi_exit

# Imported now, while the component is built, so they are part of its
# initialized interpreter.
from . import os as _capsock_os, sendmsg as _capsock_sendmsg, socket as _capsock_socket  # noqa: F401


def make_run(sources):
    """The ``Run`` export for a component holding ``sources`` (module name
    to source text, read when the component is built). With one script, it
    runs that one and passes every argument on; with several, the first
    argument names the script to run."""
    code = {name: compile(text, name + ".py", "exec") for name, text in sources.items()}
    scripts = list(sources)

    class Run(exports.Run):
        def run(self):
            args = environment.get_arguments()
            if len(scripts) == 1:
                name, argv = scripts[0], [scripts[0]] + args[1:]
            elif len(args) > 1 and args[1] in scripts:
                name, argv = args[1], args[1:]
            else:
                print("usage: %s SCRIPT [ARGS...]; SCRIPT is one of: %s"
                      % (args[0] if args else "component", ", ".join(scripts)), file=sys.stderr)
                return _exit(2)
            sys.argv = argv
            os.environ.clear()
            os.environ.update(dict(environment.get_environment()))
            status = 0
            main = {"__name__": "__main__", "__file__": name + ".py", "__builtins__": builtins}
            try:
                exec(code[name], main)
            except SystemExit as e:
                status = e.code
            except BaseException:
                traceback.print_exc()
                status = 1
            if status is None:
                status = 0
            elif not isinstance(status, int):
                print(status, file=sys.stderr)
                status = 1
            _exit(status)

    return Run


def _exit(code):
    """Ends the guest with ``code``; 0 returns normally from ``run``."""
    sys.stdout.flush()
    sys.stderr.flush()
    if code:
        wasi_exit.exit_with_code(code & 0xFF)
