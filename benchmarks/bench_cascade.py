"""Benchmark: last man standing; seconds from each fault of a cascade to every VM running again.

Why: a 3-host pool must survive a slave's loss and then the master's, down to its last host
(issue 14). On a fresh simulated pool with XVM (verified) fencing and a real supervisor per host:
the slave that is not the takeover slave powers off; once its exclusion is acknowledged
(membership joint rule), the master powers off. Printed per fault: seconds from the fault to every
VM of the lost host running once elsewhere, the seconds from the first fault until the exclusion
was acknowledged, the violations seen and the load average (a shared machine slows every figure).

Usage: python benchmarks/bench_cascade.py [--vms 6] [--timeout 180] [--strict]
--strict exits 1 when a step times out or sees a violation.
"""
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "scenarios"))

import harness  # noqa: E402
from harness import use_xvm  # noqa: E402
from harness import masters, wait_takeover_slave  # noqa: E402

from halizard.core import membership as rule  # noqa: E402
from halizard.xapi import membership as db  # noqa: E402
from recovery_common import fmt as _fmt  # noqa: E402
from recovery_common import settled as _settled  # noqa: E402
from recovery_common import status as _status  # noqa: E402
from recovery_common import scenario_args  # noqa: E402

POLL = 0.2


def _membership(sc):
    """The membership in the current master's database (halizard.xapi.membership)."""
    current = masters(sc)
    session = sc.session(current[0] if len(current) == 1 else None)
    try:
        return rule.parse(db.read_text(session))
    finally:
        session.xenapi.session.logout()


def _until_running(sc, victims, lost, started, timeout):
    while time.monotonic() - started < timeout:
        mine = [v for v in _status(sc)["vms"] if v["name_label"] in victims]
        if all(len(v["running_on"]) == 1 and v["running_on"] != [lost] for v in mine):
            return time.monotonic() - started
        time.sleep(POLL)
    return None


def run_once(vms, timeout):
    base = tempfile.mkdtemp(prefix="hb-cascade-", dir="/tmp")
    sc = harness.Scenario(os.path.join(base, "0"), hosts=3, vms=vms)
    rows = []
    try:
        use_xvm(sc)
        sc.start_supervisors()
        sc.wait_until(lambda: _settled(sc), 120, interval=1.0, message="every VM stamped with its home pool")
        master = sc.pool.master_name()
        last = wait_takeover_slave(sc)
        slave = next(h["name_label"] for h in sc.pool.hosts if h["name_label"] not in (master, last))
        first = time.monotonic()
        for lost in (slave, master):
            victims = {v["name_label"] for v in _status(sc)["vms"] if lost in v["running_on"]}
            load = os.getloadavg()[0]
            started = time.monotonic()
            sc.pool.fault("power-off", lost)
            done = _until_running(sc, victims, lost, started, timeout)
            acked = None
            if lost == slave and done is not None:
                sc.wait_until(lambda: _membership(sc).joint is None and _membership(sc).epoch > 0, timeout,
                              interval=POLL, message="the exclusion acknowledged")
                acked = time.monotonic() - first
            rows.append({"fault": "%s power-off" % lost, "all_running": done, "vms": len(victims),
                         "acked": acked, "violations": len(_status(sc)["violations"]),
                         "load": (load, os.getloadavg()[0])})
            if done is None:
                break
        return rows
    finally:
        sc.close()
        shutil.rmtree(base, ignore_errors=True)


def main(argv=None):
    args = scenario_args(__doc__, argv, vms=6, timeout=180.0, min_vms=3)
    print("3 hosts, %d VMs, XVM fencing: slave power-off, then master power-off (all measured)" % args.vms)
    print("%-22s %12s %5s %14s %5s %12s" % ("fault", "all running", "VMs", "acknowledged", "viol", "load 1m"))
    bad = False
    for m in run_once(args.vms, args.timeout):
        bad = bad or m["all_running"] is None or m["violations"] > 0
        print("%-22s %12s %5d %14s %5d %12s" % (
            m["fault"], _fmt(m["all_running"]) if m["all_running"] is not None else "timeout", m["vms"],
            _fmt(m["acked"]) if m["acked"] is not None else "-", m["violations"], "%.0f -> %.0f" % m["load"]),
            flush=True)
    return 1 if bad and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
