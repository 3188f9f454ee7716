"""Benchmark: a 2-host pool with POOL fencing and a witness; seconds from the fault to every VM running again.

Why: without a witness such a pool never restarts the peer's VMs (a tie broken by the heuristics
proves nothing); with one, the side holding its vote recovers after the self-fence wait W. Two faults
are measured on a fresh simulated pool each, with a real supervisor per host: the slave powers off,
and the master is cut from the slave and the witness (`partition host1 host2,witness`). Printed: the
wait W the timing rule gives, the seconds from the fault to every VM of the lost host running once on
the survivor, the violations seen, and the load average (a shared machine slows every figure down).

Usage: python benchmarks/bench_witness.py [--vms 8] [--timeout 200] [--strict]
--strict exits 1 when a run times out or sees a violation.
"""
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "scenarios"))

import harness  # noqa: E402

from halizard.core import timing  # noqa: E402
from halizard.core.policy import Policy  # noqa: E402
from recovery_common import fmt as _fmt  # noqa: E402
from recovery_common import settled as _settled  # noqa: E402
from recovery_common import status as _status  # noqa: E402
from recovery_common import scenario_args  # noqa: E402

CONFIG = {"XE_TIMEOUT": 2, "MGT_LINK_LOSS_TOLERANCE": 2, "SELF_FENCE_STOP_TIMEOUT": 3, "WITNESS_LEASE": 3}
FAULTS = (("slave power-off", "host2", ("power-off", "host2")),
          ("master cut from slave and witness", "host1", ("partition", "host1", "host2,witness")))
POLL = 0.2


def run_once(vms, lost, fault, timeout):
    base = tempfile.mkdtemp(prefix="hb-witness-", dir="/tmp")
    sc = harness.Scenario(os.path.join(base, "0"), hosts=2, vms=vms, config=CONFIG, up_args=["--witness"])
    try:
        entry = sc.pool.json["witness"]
        sc.set_config(WITNESS_ADDRESS="%s:%d" % (entry["address"], entry["port"]), WITNESS_SECRET=entry["secret"])
        sc.start_supervisors()
        sc.wait_until(lambda: _settled(sc), 120, interval=1.0, message="every VM stamped with its home pool")
        sc.wait_until(lambda: any((sc.supervisor(h).state("witness-lease") or {}).get("held_until")
                                  for h in ("host1", "host2")), 60, interval=0.3, message="a witness lease")
        victims = {v["name_label"] for v in _status(sc)["vms"] if lost in v["running_on"]}
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        sc.pool.fault(*fault)
        done = None
        while time.monotonic() - started < timeout:
            mine = [v for v in _status(sc)["vms"] if v["name_label"] in victims]
            if all(len(v["running_on"]) == 1 and v["running_on"] != [lost] for v in mine):
                done = time.monotonic() - started
                break
            time.sleep(POLL)
        return {"all_running": done, "vms": len(victims), "violations": len(_status(sc)["violations"]),
                "load": (load_before, os.getloadavg()[0])}
    finally:
        sc.close()
        shutil.rmtree(base, ignore_errors=True)


def main(argv=None):
    args = scenario_args(__doc__, argv, vms=8, timeout=200.0, min_vms=2)
    wait = timing.recovery_wait(Policy.from_mapping(dict(harness.DEFAULT_CONFIG, WITNESS_ADDRESS="127.0.0.1:5405",
                                                         **CONFIG)))
    print("2 hosts, %d VMs, POOL fencing, a witness (lease %gs); self-fence wait W = %gs (all measured)"
          % (args.vms, CONFIG["WITNESS_LEASE"], wait))
    print("%-36s %12s %5s %5s %12s" % ("fault", "all running", "VMs", "viol", "load 1m"))
    bad = False
    for label, lost, fault in FAULTS:
        m = run_once(args.vms, lost, fault, args.timeout)
        bad = bad or m["all_running"] is None or m["violations"] > 0
        print("%-36s %12s %5d %5d %12s" % (label, _fmt(m["all_running"]) if m["all_running"] is not None
                                           else "timeout", m["vms"], m["violations"], "%.0f -> %.0f" % m["load"]),
              flush=True)
    return 1 if bad and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
