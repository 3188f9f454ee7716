"""Benchmark: the master of an 8-host pool (50 VMs each) powers off; how long until its VMs run again?

Why: the issue's target for a dead master is "detection + fuse + 15 s"
(start latency 1 s, XAPI_COUNT=2, XAPI_DELAY=1, MONITOR_DELAY=2, the
emergency-transition fuse at its default 10 s). The same failure is measured
twice on a fresh simulated pool with a real supervisor per host: once as
built (parallel starts) and once one-after-another (VM_START_CONCURRENCY=1,
the old product's way of starting VMs). Printed per run, in seconds after
the power-off: detection (the takeover slave leaves `idle`), fence verified
(`transition`), the new master answering, every VM of the old master
running again.

Usage: python benchmarks/bench_master_failure.py [--hosts 8] [--vms-per-host 50] [--latency 1] [--fuse 10]
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "scenarios"))

import harness  # noqa: E402
from b1_helpers import use_xvm, vms_on  # noqa: E402
from takeover_helpers import masters, takeover_phase, wait_takeover_slave  # noqa: E402

# MONITOR_SCANRATE at its default (10): the monitor then ends a cycle only after 200 s.
CONFIG = {"MONITOR_DELAY": 2, "MONITOR_SCANRATE": 10, "XAPI_COUNT": 2, "XAPI_DELAY": 1, "XE_TIMEOUT": 5}
FUSE = 10.0


def run_once(hosts, vms_per_host, latency, fuse, concurrency, timeout):
    """One pool, one master power-off; returns the marks (seconds after the fault)."""
    base = tempfile.mkdtemp(prefix="hb-", dir="/tmp")
    config = dict(CONFIG, VM_START_CONCURRENCY=concurrency)
    sc = harness.Scenario(os.path.join(base, "0"), hosts=hosts, vms=hosts * vms_per_host,
                          start_latency=latency, fuse=fuse, config=config)
    try:
        use_xvm(sc)
        sc.start_supervisors()
        old = sc.pool.master_name()
        winner = wait_takeover_slave(sc, timeout=120)
        victims = set(vms_on(sc, old))
        marks = {}
        started = time.monotonic()
        sc.pool.fault("power-off", old)
        while time.monotonic() - started < timeout:
            now = time.monotonic() - started
            phase = takeover_phase(sc, winner)
            if "detect" not in marks and phase != "idle":
                marks["detect"] = now
            if "fenced" not in marks and phase in ("transition", "await-master", "recover-slaves", "release",
                                                   "restart", "done"):
                marks["fenced"] = now
            status = sc.status()
            if "master" not in marks and [h["name_label"] for h in status["hosts"]
                                          if h["role"] == "master" and h["power"] == "on"] == [winner]:
                marks["master"] = now
            running = [v for v in status["vms"] if v["name_label"] in victims and len(v["running_on"]) == 1]
            if len(running) == len(victims):
                marks["all_running"] = time.monotonic() - started
                for key in ("detect", "fenced", "master"):
                    marks.setdefault(key, marks["all_running"])
                break
            time.sleep(0.2)
        marks["vms"] = len(victims)
        violations = sc.status()["violations"]
        marks["violations"] = len(violations)
        marks["first_violations"] = violations[:3]
        marks["masters"] = masters(sc)
        return marks
    finally:
        sc.close()
        shutil.rmtree(base, ignore_errors=True)


def _stop_on_sigterm(_signum, _frame):
    raise SystemExit(143)  # runs the teardown (supervisors stopped, pool down)


def main(argv=None):
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--vms-per-host", type=int, default=50)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--fuse", type=float, default=FUSE)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--parallel-only", action="store_true", help="skip the one-after-another run")
    args = parser.parse_args(argv)
    runs = [("parallel (as built)", 16)] + ([] if args.parallel_only else [("one after another", 1)])
    rows = []
    for label, concurrency in runs:
        marks = run_once(args.hosts, args.vms_per_host, args.latency, args.fuse, concurrency, args.timeout)
        rows.append((label, marks))
        print("%-22s %s" % (label, marks), flush=True)
    print()
    print("%d hosts x %d VMs, start latency %gs, fuse %gs, XAPI_COUNT=2, XAPI_DELAY=1, MONITOR_DELAY=2"
          % (args.hosts, args.vms_per_host, args.latency, args.fuse))
    print("%-22s %8s %8s %8s %12s %22s %5s" % ("", "detect", "fenced", "master", "all running",
                                              "after detect + fuse", "VMs"))
    for label, m in rows:
        done = m.get("all_running")
        print("%-22s %8.1f %8.1f %8.1f %12s %22s %5d" % (
            label, m.get("detect", float("nan")), m.get("fenced", float("nan")), m.get("master", float("nan")),
            "%.1f" % done if done is not None else "timeout",
            "%.1f" % (done - m["detect"] - args.fuse) if done is not None else "-", m["vms"]))
    first = rows[0][1]
    if first.get("all_running") is not None:
        verdict = "met" if first["all_running"] - first["detect"] - args.fuse <= 15 else "missed"
        print("target detection + fuse + 15 s: %s" % verdict)
        return 0 if verdict == "met" and not first["violations"] else 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
