"""Benchmark (issue 16): the CPU an idle host's service spends per minute, split by job, in a simulated pool.

A simulated pool (default 3 hosts x 12 VMs) runs a real supervisor per host
with the production cadence (MONITOR_DELAY 15 s and the other defaults) and
XVM fencing. Once every host is healthy and has stored its pool view, it
watches the master's and one slave's service for --window seconds and prints,
per job, the CPU seconds (user + system, reaped children included) spent per
minute, the runs that ended and the CPU per run; the supervisor and the job
forkserver apart. CPU time, not wall time: other programs' load hardly moves
it. The load average is printed with the figures.

Why: in a 16-host pool on 2 cores the services' job runs, not XAPI, were the
load; this says which job costs what, so a cut is measured before and after.

    .venv/bin/python benchmarks/bench_job_cpu.py [--hosts 3] [--vms 12] [--services N] [--window 60] [--json] [--keep]
"""
import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "scenarios"))

import harness  # noqa: E402
from harness import use_xvm  # noqa: E402

from bench_scale import _healthy_everywhere  # noqa: E402
from bench_slave_failure import close_pool  # noqa: E402
from bench_supervisor import POLL, JobCpu, cpu_table, print_cpu_table  # noqa: E402
from recovery_common import session_when_answering, stop_on_sigterm, views_stored  # noqa: E402

# the production cadence (halizard/config/schema.py defaults), not the scenarios' faster one
PRODUCTION = {"MONITOR_DELAY": 15, "MONITOR_SCANRATE": 10, "XAPI_COUNT": 2, "XAPI_DELAY": 10, "XE_TIMEOUT": 10}


def measure(pids, window):
    """{host: {job: [runs, ticks]}} over `window` seconds for the services `pids` ({host: service pid})."""
    watches = {host: JobCpu(pid) for host, pid in pids.items()}
    began = time.monotonic()
    while time.monotonic() - began < window:
        for watch in watches.values():
            watch.poll()
        time.sleep(POLL)
    for watch in watches.values():
        watch.poll()
    return {host: watch.per_job() for host, watch in watches.items()}, time.monotonic() - began


def main(argv=None):
    import signal

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--vms", type=int, default=12, help="VMs in the whole pool")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--services", type=int, default=0,
                        help="run a service on the first N hosts only (default: every host): the per-service "
                             "cost in a large pool without the load of all its services")
    parser.add_argument("--settle", type=float, default=300.0, help="seconds allowed for the pool to settle")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the pool directory (logs)")
    args = parser.parse_args(argv)
    if args.hosts < 2 or args.vms < 1 or args.window <= 0 or args.settle <= 0 or \
            not (args.services == 0 or 2 <= args.services <= args.hosts):
        parser.error("need --hosts >= 2, --vms >= 1, --window > 0, --settle > 0 and --services 0 or 2..hosts")
    served = args.services or args.hosts
    names = ["host%d" % n for n in range(1, served + 1)]
    base = tempfile.mkdtemp(prefix="hb-jobcpu-", dir="/tmp")
    sc = harness.Scenario(os.path.join(base, "0"), hosts=args.hosts, vms=args.vms, config=PRODUCTION)
    session = None
    try:
        use_xvm(sc)
        sc.start_supervisors(names)
        session = session_when_answering(sc, 30.0)
        sc.wait_until(lambda: _healthy_everywhere(sc, session), args.settle, interval=2.0,
                      message="the master marks every host healthy")
        sc.wait_until(lambda: views_stored(sc, names), args.settle, interval=2.0,
                      message="every host stored its pool view")
        time.sleep(2 * PRODUCTION["MONITOR_DELAY"])  # past the first full reads: the steady state
        slave = names[-1]
        pids = {name: int(sc.supervisor(name).service()["pid"]) for name in ("host1", slave)}
        per_host, elapsed = measure(pids, args.window)
    finally:
        close_pool(sc, session, base, args.keep)
    load = os.getloadavg()[0]
    result = {"hosts": args.hosts, "vms": args.vms, "services": served, "seconds": round(elapsed, 1), "load": round(load, 1),
              "by_host": {("master" if host == "host1" else "slave"): cpu_table(jobs, elapsed)
                          for host, jobs in per_host.items()}}
    if args.json:
        print(json.dumps(result))
        return 0
    print("CPU per job of an idle service, %d hosts x %d VMs, %d services, over %.0f s (load average %.1f)" % (
        args.hosts, args.vms, served, elapsed, load))
    for role, jobs in sorted(result["by_host"].items()):
        total = sum(f["cpu_s_per_min"] for f in jobs.values())
        print("%s: %.2f s of CPU per minute (%.2f%% of one core)" % (role, total, total / 60.0 * 100.0))
        print_cpu_table(jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
