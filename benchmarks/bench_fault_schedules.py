"""Benchmark: random fault schedules on a whole pool; does every VM run once again after the heal, and how soon?

Why: the property of issue 19 item 1 (tests/scenarios/fault_schedules.py): after any schedule of
faults (power-off, power-on, partition, xapi hang, link loss, service kill) that ends with every
host back and the network healed, the pool has one master, no violation, and every protected VM
runs exactly once within a bounded time. CI runs two seeds (tests/scenarios/test_fault_schedules.py);
this runs many, each on a fresh pool with a real supervisor per host, and prints per seed the
schedule, the seconds from the heal until the property held (or "failed" and why), the violations
and the load average of the machine (a shared machine slows every figure down).

Usage: python benchmarks/bench_fault_schedules.py [--seeds 10] [--first-seed 1] [--steps 5]
       [--hosts 4] [--vms 8] [--settle 240] [--strict] [--keep]
--strict exits 1 when a seed fails; --keep leaves the pool directories (supervisor logs) in place.
A failing seed is replayed with --first-seed N --seeds 1.
"""
import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "scenarios"))

import fault_schedules  # noqa: E402
import harness  # noqa: E402
from harness import use_xvm  # noqa: E402

from recovery_common import fmt as _fmt  # noqa: E402
from recovery_common import stop_on_sigterm as _stop_on_sigterm  # noqa: E402

CONFIG = {"MONITOR_DELAY": 2, "XAPI_COUNT": 2, "XAPI_DELAY": 1, "XE_TIMEOUT": 3}


def run_seed(seed, hosts, vms, steps, settle, keep):
    """One fresh pool, one schedule; returns (seconds to settle or None, the reason it failed or '')."""
    base = tempfile.mkdtemp(prefix="hb-faults-", dir="/tmp")
    sc = harness.Scenario(os.path.join(base, "0"), hosts=hosts, vms=vms, config=CONFIG)
    try:
        use_xvm(sc)
        sc.start_supervisors()
        sc.wait_until(lambda: fault_schedules.settled(sc), 120, interval=0.5, message="the pool settled before")
        seconds = fault_schedules.run_seed(sc, seed, steps, settle, log=lambda text: print("  " + text, flush=True))
        return seconds, ""
    except AssertionError as exc:
        return None, str(exc).splitlines()[0][:200]
    finally:
        sc.close()
        if keep:
            print("  kept: %s" % base, flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)


def main(argv=None):
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5, help="faults per schedule")
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--vms", type=int, default=8)
    parser.add_argument("--settle", type=float, default=240.0, help="seconds allowed from the heal")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a seed fails")
    parser.add_argument("--keep", action="store_true", help="keep the pool directories (logs)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.steps < 1 or args.hosts < 2 or args.vms < 1 or args.settle <= 0:
        parser.error("need --seeds >= 1, --steps >= 1, --hosts >= 2, --vms >= 1, --settle > 0")
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        before = os.getloadavg()[0]
        started = time.monotonic()
        seconds, failure = run_seed(seed, args.hosts, args.vms, args.steps, args.settle, args.keep)
        rows.append((seed, seconds, failure, time.monotonic() - started, before, os.getloadavg()[0]))
        print("seed %d: %s" % (seed, ("settled %s s after the heal" % _fmt(seconds)) if failure == ""
                               else "FAILED: " + failure), flush=True)
    print()
    print("%d hosts, %d VMs, %d faults per schedule, MONITOR_DELAY=2 XAPI_COUNT=2 XE_TIMEOUT=3 (seconds)"
          % (args.hosts, args.vms, args.steps))
    print("%6s %10s %8s %12s  %s" % ("seed", "settled", "whole", "load 1m", "failure"))
    for seed, seconds, failure, whole, before, after in rows:
        print("%6d %10s %8.0f %12s  %s" % (seed, _fmt(seconds) if not failure else "-", whole,
                                           "%.0f -> %.0f" % (before, after), failure))
    done = [s for _seed, s, failure, _w, _b, _a in rows if not failure]
    failed = len(rows) - len(done)
    print("%d of %d seeds held the property; settle median %s s, max %s s; load average %.0f at the end"
          % (len(done), len(rows), _fmt(statistics.median(done)) if done else "-",
             _fmt(max(done)) if done else "-", os.getloadavg()[0]))
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
