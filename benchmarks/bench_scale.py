"""Benchmark (issue 16): HA's XAPI load and CPU on a large pool, idle, and a slave power-off there.

For each size (hosts x VMs in the whole pool; default 8x50, 8x500 and 64x1000)
a simulated pool runs a real supervisor per host (tests/scenarios/harness.py),
XVM fencing, VM start latency 1 s. Once the pool has settled (every VM stamped
with its home pool, every host's event-driven pool view stored) it measures an
idle window and prints:

* XAPI calls per minute answered by each slave's xapi (mean and largest) and by
  the master's (its own service's calls plus every call the slaves forward),
  with the busiest methods: the per-cycle calls must not grow with the VMs;
* the longest master_cycle and vm_monitor runs on the master (below MONITOR_DELAY);
* the CPU of all services summed (supervisors, forkservers, every job run,
  reaped ones included), in % of one core, and the simulator's own;
* on the largest size (or with --fault): one slave powered off, seconds from the
  fault to detection, the verified fence and every VM running again, against
  the target detection + 10 s (bench_slave_failure.measure_power_off).

The load average is printed with every figure: on a shared machine other
programs slow every figure down; run it on a quiet machine for the docs.

Usage: python benchmarks/bench_scale.py [--sizes 8x50,8x500,64x1000] [--window 60]
       [--monitor-delay 15] [--fault | --no-fault] [--strict] [--keep]
"""
import argparse
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "scenarios"))

import harness  # noqa: E402
from harness import HEALTH_KEY, use_xvm  # noqa: E402

from bench_slave_failure import after_detection, close_pool, measure_power_off  # noqa: E402
from bench_supervisor import TICKS, cpu_ticks, tree  # noqa: E402
from recovery_common import fmt  # noqa: E402
from recovery_common import settled as pool_settled  # noqa: E402
from recovery_common import status  # noqa: E402
from recovery_common import session_when_answering, start_in_batches, stop_on_sigterm, views_stored  # noqa: E402

from halizard.sim.control import ControlError  # noqa: E402

TARGET_AFTER_DETECT = 10.0
# The product's defaults (spec/behaviour.md) but MONITOR_DELAY (--monitor-delay, default 15 as the product's).
# Why not the 2-second test cadence: 64 services and every simulated xapi share this 2-core machine; with
# XE_TIMEOUT 5 (a master read given 2.5 s) a master slowed by the simulator's load looked dead to its slaves,
# whose peer probes (63 each) then overloaded the one simulator process serving every host's xapi.
POOL_CONFIG = {"XAPI_COUNT": 2, "XAPI_DELAY": 10, "XE_TIMEOUT": 10, "MONITOR_SCANRATE": 10}


def parse_sizes(text):
    sizes = []
    for part in text.split(","):
        hosts, _, vms = part.strip().lower().partition("x")
        sizes.append((int(hosts), int(vms)))
    if not sizes or any(h < 2 or v < 1 for h, v in sizes):
        raise ValueError(text)
    return sizes


def _load():
    return "%.1f" % os.getloadavg()[0]


def _healthy_everywhere(sc, session):
    try:
        records = session.xenapi.host.get_all_records()
    except Exception:  # noqa: BLE001 - a slow answer under load is just "not yet"
        return False
    return all((r.get("other_config") or {}).get(HEALTH_KEY) in ("healthy", "master") for r in records.values())


def _service_pids(sc):
    pids = []
    for sup in sc.supervisors.values():
        pid = sup.service().get("pid")
        if pid:
            pids.extend(tree(int(pid)))
    return pids


def _ticks(pids):
    return {pid: cpu_ticks(pid) for pid in pids}


def _durations(sup, names, seen):
    """Keep the longest last-run duration of each named job seen so far."""
    try:
        jobs = sup.jobs()
    except Exception:  # noqa: BLE001 - a busy control socket: skip this sample
        return
    for name in names:
        last = (jobs.get(name) or {}).get("last") or {}
        if last.get("duration") is not None:
            seen[name] = max(seen.get(name, 0.0), float(last["duration"]))


def _top(counts, n=6):
    return ", ".join("%s %d" % (m, c) for m, c in sorted(counts.items(), key=lambda i: -i[1])[:n])


def measure_idle(sc, window, monitor_delay):
    """Calls per minute, master job durations and summed CPU over an idle window."""
    sim_pid = int(open(os.path.join(sc.pool.dir, "sim.pid")).read().strip())
    pids = _service_pids(sc)
    cpu_before, sim_before = _ticks(pids), cpu_ticks(sim_pid)
    calls_before = status(sc)["calls"]
    began = time.monotonic()
    durations = {}
    master = sc.supervisor("host1")
    while time.monotonic() - began < window:
        _durations(master, ("master_cycle", "vm_monitor"), durations)
        time.sleep(min(2.0, max(0.1, window - (time.monotonic() - began))))
    elapsed = time.monotonic() - began
    calls_after = status(sc)["calls"]
    pids_after = set(_service_pids(sc)) | set(cpu_before)
    used = sum(cpu_ticks(pid) - cpu_before.get(pid, 0) for pid in pids_after)
    per_min = 60.0 / elapsed
    diff = {}
    for host, counts in calls_after.items():
        before = calls_before.get(host, {})
        diff[host] = {m: (c - before.get(m, 0)) * per_min for m, c in counts.items() if c != before.get(m, 0)}
    slaves = [h["name_label"] for h in sc.pool.hosts if h["name_label"] != "host1"]
    slave_totals = [sum(diff.get(s, {}).values()) for s in slaves]
    return {
        "seconds": elapsed, "slave_mean": sum(slave_totals) / len(slave_totals), "slave_max": max(slave_totals),
        "slave_methods": diff.get(slaves[-1], {}), "master": sum(diff.get("host1", {}).values()),
        "master_methods": diff.get("host1", {}), "durations": durations, "monitor_delay": monitor_delay,
        "cpu_pct": 100.0 * used / TICKS / elapsed, "sim_cpu_pct": 100.0 * (cpu_ticks(sim_pid) - sim_before)
        / TICKS / elapsed, "load": os.getloadavg()[0]}


def run_size(hosts, vms, args, fault):
    base = tempfile.mkdtemp(prefix="hb-scale-", dir="/tmp")
    config = dict(POOL_CONFIG, MONITOR_DELAY=args.monitor_delay)
    print("%dx%d: starting the pool and %d supervisors (load %s)" % (hosts, vms, hosts, _load()), flush=True)
    sc = harness.Scenario(os.path.join(base, "0"), hosts=hosts, vms=vms, start_latency=args.latency, config=config)
    session = None
    try:
        use_xvm(sc)
        began = time.monotonic()
        try:
            start_in_batches(sc, args.settle)
            session = session_when_answering(sc, 30.0)
            sc.wait_until(lambda: _healthy_everywhere(sc, session), args.settle, interval=2.0,
                          message="the master marks every host healthy")
            sc.wait_until(lambda: pool_settled(sc), args.settle, interval=10.0,  # a whole VM table per look
                          message="every VM stamped with its home pool")
            sc.wait_until(lambda: views_stored(sc), args.settle, interval=2.0,
                          message="every host stored its pool view")
        except (AssertionError, RuntimeError, ControlError) as exc:  # the log tails follow the first line
            print("%dx%d: the pool did not settle: %s (load %s)" % (hosts, vms, str(exc).splitlines()[0], _load()),
                  flush=True)
            return None, None
        time.sleep(2 * args.monitor_delay)  # the first full reads are over: measure the steady state
        print("%dx%d: settled after %.0f s (load %s); idle window of %g s" % (
            hosts, vms, time.monotonic() - began, _load(), args.window), flush=True)
        try:
            idle = measure_idle(sc, args.window, args.monitor_delay)
            marks = measure_power_off(sc, session, "host%d" % hosts, args.timeout) if fault else None
        except ControlError as exc:  # the simulator itself overloaded: no figure is worth printing
            print("%dx%d: not measured: %s (load %s)" % (hosts, vms, exc, _load()), flush=True)
            return None, None
        return idle, marks
    finally:
        close_pool(sc, session, base, args.keep)


def report(hosts, vms, idle, marks):
    """Print one size's figures; True when its targets are met."""
    longest = max(idle["durations"].values()) if idle["durations"] else None
    print()
    print("== %d hosts x %d VMs (MONITOR_DELAY %g s, idle %.0f s, load average %.1f at the end)" % (
        hosts, vms, idle["monitor_delay"], idle["seconds"], idle["load"]))
    print("XAPI calls/min per slave: mean %.0f, largest %.0f  [%s]" % (
        idle["slave_mean"], idle["slave_max"], _top(idle["slave_methods"])))
    print("XAPI calls/min on the master's xapi (its service + forwarded): %.0f  [%s]" % (
        idle["master"], _top(idle["master_methods"])))
    print("longest master runs: %s (MONITOR_DELAY %g s: %s)" % (
        ", ".join("%s %.2f s" % kv for kv in sorted(idle["durations"].items())) or "none seen",
        idle["monitor_delay"], "below" if longest is not None and longest < idle["monitor_delay"] else "NOT below"))
    print("idle CPU of all %d services summed: %.1f%% of one core (simulator %.1f%%)" % (
        hosts, idle["cpu_pct"], idle["sim_cpu_pct"]))
    met = longest is not None and longest < idle["monitor_delay"]
    if marks is not None:
        after = after_detection(marks)
        fault_met = after is not None and after <= TARGET_AFTER_DETECT and not marks["violations"]
        print("slave power-off (%d VMs there): detected %s s, fence verified %s s, every VM running %s s "
              "after the fault = %s s after detection (target %g: %s), %d violation(s), load %.0f -> %.0f" % (
                  marks["vms"], fmt(marks.get("detect")), fmt(marks.get("fenced")), fmt(marks.get("all_running")),
                  fmt(after), TARGET_AFTER_DETECT, "met" if fault_met else "missed", marks["violations"],
                  marks["load"][0], marks["load"][1]))
        met = met and fault_met
    return met


def main(argv=None):
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8x50,8x500,64x1000", help="hosts x VMs in the pool, comma-separated")
    parser.add_argument("--window", type=float, default=60.0, help="seconds of idle measurement")
    parser.add_argument("--monitor-delay", type=int, default=15)
    parser.add_argument("--latency", type=float, default=1.0, help="VM start latency, seconds")
    parser.add_argument("--settle", type=float, default=900.0, help="seconds allowed for the pool to settle")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed for the recovery")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--fault", action="store_true", help="power a slave off on every size")
    group.add_argument("--no-fault", action="store_true", help="no power-off (idle figures only)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the pool directories (logs)")
    args = parser.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes)
    except ValueError:
        parser.error("--sizes: HOSTSxVMS[,HOSTSxVMS...] with at least 2 hosts and 1 VM, e.g. 8x50,64x1000")
    if args.window <= 0 or args.monitor_delay <= 0 or args.latency < 0 or args.settle <= 0 or args.timeout <= 0:
        parser.error("--window, --monitor-delay, --settle and --timeout must be > 0, --latency >= 0")
    largest = max(sizes, key=lambda s: (s[0] * s[1], s))
    met = True
    results = []
    for hosts, vms in sizes:
        fault = not args.no_fault and (args.fault or (hosts, vms) == largest)
        idle, marks = run_size(hosts, vms, args, fault)
        if idle is None:
            met = False
            continue
        results.append((hosts, vms, idle, marks))
        met = report(hosts, vms, idle, marks) and met
    print()
    print("per-slave calls/min by size: %s  (they must not grow with the VMs)" % ", ".join(
        "%dx%d %.0f" % (h, v, idle["slave_mean"]) for h, v, idle, _m in results))
    print("targets: %s (load average %s now)" % ("met" if met else "missed", _load()))
    return 0 if met or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
