"""Benchmark: a slave of an 8-host pool (50 VMs each) powers off; how long until its VMs run again?

Why: the issue's target is "detection + 10 s" for every VM of a powered-off
slave (start latency 1 s, XAPI_COUNT=2, XAPI_DELAY=1, MONITOR_DELAY=2). The
same failure is measured twice on a fresh simulated pool with a real
supervisor per host: once as built (parallel probes, parallel starts) and
once one-after-another (VM_START_CONCURRENCY=1), the old product's way of
starting VMs. Printed per run: detection (health field `failed`), fence
verified, all VMs running again, each in seconds after the power-off.

Usage: python benchmarks/bench_slave_failure.py [--hosts 8] [--vms-per-host 50] [--latency 1]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "scenarios"))

import harness  # noqa: E402
from b1_helpers import host_health, use_xvm, vms_on  # noqa: E402

CONFIG = {"MONITOR_DELAY": 2, "XAPI_COUNT": 2, "XAPI_DELAY": 1, "XE_TIMEOUT": 5, "MONITOR_SCANRATE": 5}


def run_once(hosts, vms_per_host, latency, concurrency, timeout):
    """One pool, one power-off; returns {detect, fenced, all_running, vms} seconds after the fault."""
    base = tempfile.mkdtemp(prefix="hb-", dir="/tmp")
    config = dict(CONFIG, VM_START_CONCURRENCY=concurrency)
    sc = harness.Scenario(os.path.join(base, "0"), hosts=hosts, vms=hosts * vms_per_host,
                          start_latency=latency, config=config)
    try:
        use_xvm(sc)
        sc.start_supervisors()
        victim = "host%d" % hosts
        sc.wait_until(lambda: host_health(sc, victim) == "healthy", 180, interval=0.5,
                      message="the master marks %s healthy" % victim)
        victims = set(vms_on(sc, victim))
        uuid = sc.pool.host(victim)["uuid"]
        master = sc.supervisor("host1")
        marks = {}
        started = time.monotonic()
        sc.pool.fault("power-off", victim)
        while time.monotonic() - started < timeout:
            now = time.monotonic() - started
            if "detect" not in marks and host_health(sc, victim) == "failed":
                marks["detect"] = now
            decision = ((master.state("host-health") or {}).get("hosts", {}).get(uuid) or {}).get("decision", "")
            if "fenced" not in marks and "fenced" in decision:
                marks["fenced"] = now
            status = sc.status()
            running = [v for v in status["vms"] if v["name_label"] in victims and len(v["running_on"]) == 1]
            if len(running) == len(victims):
                marks["all_running"] = time.monotonic() - started
                marks.setdefault("detect", marks["all_running"])
                marks.setdefault("fenced", marks["all_running"])
                break
            time.sleep(0.2)
        marks["vms"] = len(victims)
        marks["violations"] = len(sc.status()["violations"])
        return marks
    finally:
        sc.close()
        shutil.rmtree(base, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--vms-per-host", type=int, default=50)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    rows = []
    for label, concurrency in (("parallel (as built)", 16), ("one after another", 1)):
        marks = run_once(args.hosts, args.vms_per_host, args.latency, concurrency, args.timeout)
        rows.append((label, marks))
        print("%-22s %s" % (label, marks), flush=True)
    print()
    print("%d hosts x %d VMs, start latency %gs, XAPI_COUNT=2, XAPI_DELAY=1, MONITOR_DELAY=2"
          % (args.hosts, args.vms_per_host, args.latency))
    print("%-22s %8s %8s %12s %14s %5s" % ("", "detect", "fenced", "all running", "after detect", "VMs"))
    for label, m in rows:
        done = m.get("all_running")
        print("%-22s %8.1f %8.1f %12s %14s %5d" % (
            label, m.get("detect", float("nan")), m.get("fenced", float("nan")),
            "%.1f" % done if done is not None else "timeout",
            "%.1f" % (done - m["detect"]) if done is not None else "-", m["vms"]))
    first = rows[0][1]
    if first.get("all_running") is not None:
        verdict = "met" if first["all_running"] - first["detect"] <= 10 else "missed"
        print("target detection + 10 s: %s" % verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
