"""Tiny jobs for the Runner unit tests."""
import os
import signal
import sys
import time


def ok(ctx):
    pass


def fail(ctx):
    raise ValueError("nope")


def exit3(ctx):
    sys.exit(3)


def suicide(ctx):
    os.kill(os.getpid(), signal.SIGKILL)


def sleepy(ctx):
    time.sleep(60)


def context(ctx):
    with open(os.path.join(ctx.root, "ctx.txt"), "w") as handle:
        handle.write("%s %s %s %s\n" % (ctx.name, ctx.config.get("MONITOR_DELAY"),
                                        os.getpgid(0) == os.getpid(), ctx.remaining() is not None))
