"""Test-only jobs for the supervisor component tests (registered through HALIZARD_JOBS).

Each job leaves evidence under `<root>/evidence/`: one line per event, so the
tests can check timing, overlap and process cleanup from outside.
"""
import json
import os
import signal
import subprocess
import time


def _note(ctx, event, **extra):
    directory = os.path.join(ctx.root, "evidence")
    os.makedirs(directory, exist_ok=True)
    record = dict(extra, event=event, pid=os.getpid(), t=time.time())
    with open(os.path.join(directory, ctx.name + ".jsonl"), "a") as handle:
        handle.write(json.dumps(record) + "\n")


def tick(ctx):
    _note(ctx, "tick")


def slow(ctx):
    _note(ctx, "start")
    time.sleep(float(os.environ.get("SV_SLOW_SECONDS", "1.2")))
    _note(ctx, "end")


def hang(ctx):
    _note(ctx, "start")
    time.sleep(1000)


def hang_with_grandchild(ctx):
    child = subprocess.Popen(["sleep", "1000"])
    _note(ctx, "start", grandchild=child.pid)
    time.sleep(1000)


def stubborn(ctx):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(["sleep", "1000"], preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    _note(ctx, "start", grandchild=child.pid)
    time.sleep(1000)


def boom(ctx):
    _note(ctx, "start")
    raise RuntimeError("deliberate failure")


def counter(ctx):
    value = ctx.state.read("counter", {"n": 0})
    value["n"] += 1
    ctx.state.write("counter", value)
    _note(ctx, "counted", n=value["n"])


def show_param(ctx):
    _note(ctx, "param", MONITOR_DELAY=str(ctx.config.get("MONITOR_DELAY")))


def named(ctx):
    """Notes the process name the run carries (halizard.supervisor.jobproc names it after its job)."""
    with open("/proc/self/comm") as handle:
        _note(ctx, "named", comm=handle.read().strip())


def warm_facts(ctx):
    """Notes what the job forkserver prepared for this run, then logs one line through the kept sinks."""
    from halizard.supervisor import forkserver_preload as preload

    _note(ctx, "warm", config=bool(preload.WARM_CONFIG), platform=bool(preload.WARM_PLATFORM),
          log=bool(preload.WARM_LOG))
    ctx.log.warning("warm run {} says hello", os.getpid())
