"""Test guest: what a run sees of its process (arguments, environment),
then an uncaught exception (exit status 1 and a traceback, as python3)."""

import os
import sys

print("argv=%s" % sys.argv)
print("GREETING=%s" % os.environ.get("GREETING"))


def deep():
    raise RuntimeError("boom")


deep()
