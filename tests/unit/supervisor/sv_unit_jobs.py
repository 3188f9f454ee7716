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


def preload_facts(ctx):
    """What the job forkserver prepared, as seen from a run forked from it."""
    import gc
    import json

    from halizard.supervisor import forkserver_preload as preload
    frozen = gc.get_freeze_count() if hasattr(gc, "get_freeze_count") else None  # novermin (3.7+)
    facts = {"frozen": frozen, "main_fixup_skipped": preload.MAIN_FIXUP_SKIPPED,
             "warm_failed": preload.WARM_FAILED, "subreaper": preload.SUBREAPER,
             "xapi_loaded": "halizard.xapi.session" in sys.modules}
    with open(os.path.join(ctx.root, "facts.json"), "w") as handle:
        json.dump(facts, handle)


def reported(ctx):
    from halizard.jobs.base import Outcome, Report
    return Report(Outcome.DONE, "did %s's work" % ctx.name)


def reported_failure(ctx):
    from halizard.jobs.base import Outcome, Report
    return Report(Outcome.FAILED, "master not answering")
