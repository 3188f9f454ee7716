"""Benchmark: how fast is a stopped VM started again? (issue 5's two targets)

1. From a VM crash to its `VM.start` call: median under 1 s with
   MONITOR_DELAY at its default (15 s), i.e. the event path acts, not the
   sweep. Printed with percentiles over --trials crashes.
2. 200 VMs stopped at once, start latency 1 s: all running again within
   1.5 x the time the concurrency limit (VM_START_CONCURRENCY) allows, next
   to the time the same work takes one VM after another.

What "the concurrency limit allows" means here: the least time the restart
plan can take when at most `limit` starts of `latency` seconds each run at
once. The plan groups VMs by `VM.order` (best-effort after the others) and
starts the groups one after another with the group's start_delay between
them, so the allowance is, over the groups in order,
sum(ceil(n_group / limit) x latency) + the delays between groups
(`allowance`). It is computed from the VM records the pool holds just before the
crash, independently of halizard's own planner. Why this and not a pool
without order groups: the simulated pool has an appliance whose members
are in order groups 1 and 2, as real pools with appliances do; the
benchmark then measures the real ordered restart, and for a pool without
groups the same formula is the plain ceil(n / limit) x latency. The flat
figure is printed too, for comparison.

"One after another" is a real run, not an estimate: after the mass restart
the supervisors are stopped, the same VMs are shut down (an operator's
hard_shutdown, which the simulator never counts as a loss) and started
again by the same plan and start code (halizard.core.vm_plan,
halizard.xapi.act.Starter) with a concurrency of 1, group by group.
`--serial-sample N` restarts only N of them that way and prints the
measured rate and its extrapolation to all VMs, clearly labelled.

A simulated pool runs in this process (so its XAPI calls can be timed) with
a real supervisor (`ha-lizard run`) per host and the default configuration
(the timing parameters the scenario harness shortens are set back to their
defaults); only the pool HA switch is set. The 1-minute load average is
printed with each figure: on a busy machine the figures say little.

Usage: python benchmarks/bench_vm_protection.py [--trials 20] [--vms 200] [--hosts 4]
       [--latency 1] [--serial-sample N] [--strict]
Exit: 0 measured (or, with --strict, every target met); 1 a target missed
with --strict; 2 usage.
"""
import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

START_METHODS = ("VM.start", "VM.start_on", "Async.VM.start", "Async.VM.start_on")
TARGET_MEDIAN = 1.0     # seconds, crash -> VM.start call
TARGET_FACTOR = 1.5     # x the allowance


# --- the arithmetic (pure; tests/unit/test_bench_vm_allowance.py) ---------------------------
def start_groups(vms):
    """[(VMs in the group, delay after it)] in start order, from VM records.

    `vms`: dicts with the XAPI fields `order`, `start_delay` and
    `ha_restart_priority`. Groups as the plan makes them: by order, lowest
    first, best-effort VMs after every other group; the delay after a group
    is the largest start_delay among its VMs.
    """
    groups = {}
    for vm in vms:
        key = (str(vm.get("ha_restart_priority") or "") == "best-effort", int(vm.get("order") or 0))
        size, delay = groups.get(key, (0, 0))
        groups[key] = (size + 1, max(delay, int(vm.get("start_delay") or 0)))
    return [groups[key] for key in sorted(groups)]


def allowance(groups, limit, latency):
    """Least seconds the groups can take with at most `limit` starts of `latency` s at once.

    Groups run one after another; a group of n VMs needs ceil(n / limit)
    rounds; the delay after each group but the last is waited out.
    """
    if limit < 1 or latency < 0:
        raise ValueError("limit must be >= 1 and latency >= 0")
    total = 0.0
    for index, (size, delay) in enumerate(groups):
        total += math.ceil(size / float(limit)) * latency
        if index < len(groups) - 1:
            total += max(0, delay)
    return total


def percentile(samples, fraction):
    """Nearest-rank percentile (fraction 0..1) of a non-empty list."""
    ordered = sorted(samples)
    rank = max(1, int(math.ceil(fraction * len(ordered))))
    return ordered[min(rank, len(ordered)) - 1]


def flight(calls, started):
    """Where the restart time went: {"calls", "in_flight_median", "in_flight_max", "mean_in_flight"}.

    calls: [(monotonic time, VM key)] of every start call; started: {VM key:
    monotonic time its domain started}. A VM's flight runs from its first
    call to its domain start (the simulated latency plus the simulator's own
    time); the mean number in flight over the whole span shows how well the
    client kept VM_START_CONCURRENCY starts going.
    """
    first = {}
    for when, key in sorted(calls):
        first.setdefault(key, when)
    spans = [started[key] - when for key, when in first.items() if key in started]
    if not spans:
        return {"calls": len(calls), "in_flight_median": 0.0, "in_flight_max": 0.0, "mean_in_flight": 0.0}
    window = max(started[key] for key in first if key in started) - min(first.values())
    return {"calls": len(calls), "in_flight_median": statistics.median(spans), "in_flight_max": max(spans),
            "mean_in_flight": sum(spans) / window if window > 0 else float(len(spans))}


def load_average():
    return os.getloadavg()[0]


# --- measuring --------------------------------------------------------------------------------
def _harness():
    sys.path.insert(0, os.path.join(REPO, "tests", "scenarios"))
    import harness

    return harness


def default_config(**extra):
    """The harness's shortened timing parameters set back to their schema defaults, plus `extra`."""
    from halizard.config import schema

    config = {name: schema.get_param(name).default for name in _harness().DEFAULT_CONFIG}
    config.update(extra)
    return config


class CallClock:
    """Wraps SimPool.handle: records when each VM.start/start_on call arrives, per VM ref."""

    def __init__(self, simpool):
        self.calls = []
        self._lock = threading.Lock()
        real = simpool.handle

        def handle(host_uuid, method, params, client_addr="127.0.0.1", **options):  # local=True: the Unix socket
            if method in START_METHODS and len(params) > 1:
                with self._lock:
                    self.calls.append((time.monotonic(), params[1]))
            return real(host_uuid, method, params, client_addr, **options)
        simpool.handle = handle

    def since(self, since):
        with self._lock:
            return [(t, r) for t, r in self.calls if t >= since]

    def first_after(self, since, ref=None):
        with self._lock:
            times = [t for t, r in self.calls if t >= since and (ref is None or r == ref)]
        return min(times) if times else None


def _ready(sc, names, master):
    """Every VM stamped with its home pool and the master's event watcher following the stream."""
    sc.wait_until(lambda: all(vm["other_config"].get("home-pool")
                              for vm in sc.xapi(lambda x: x.VM.get_all_records()).values()
                              if vm["name_label"] in names), 180, interval=0.5, message="home-pool stamps")
    sc.wait_watching(master, 60)


def crash_to_call(base, trials, latency):
    """Seconds from crash-vm to the VM.start call, one per trial (MONITOR_DELAY at its default)."""
    harness = _harness()
    sc = harness.Scenario(os.path.join(base, "a"), hosts=3, vms=6, start_latency=latency, inproc=True,
                          config=default_config())
    clock = CallClock(sc.pool.pool)
    samples = []
    try:
        sc.start_supervisors()
        names = ["vm%03d" % i for i in range(1, 7)]
        _ready(sc, names, sc.pool.master_name())
        for trial in range(trials):
            name = names[trial % len(names)]
            ref = sc.xapi(lambda x, name=name: sc.vm_ref(x, name))
            began = time.monotonic()
            sc.pool.fault("crash-vm", name)
            sc.wait_until(lambda began=began, ref=ref: clock.first_after(began, ref), 60, interval=0.01,
                          message="the start call")
            samples.append(clock.first_after(began, ref) - began)
            sc.wait_vm_running(name, 60)
            time.sleep(0.3)  # let the start's own events pass before the next crash
        sc.check_final()
    finally:
        sc.close()
    return samples


def mass_restart(base, vms, hosts, latency, serial_sample):
    """Crash every VM at once, time the restart, then the same work one after another; a dict."""
    harness = _harness()
    sc = harness.Scenario(os.path.join(base, "b"), hosts=hosts, vms=vms, start_latency=latency, inproc=True,
                          config=default_config())
    clock = CallClock(sc.pool.pool)
    world = sc.pool.pool.world
    try:
        from halizard.config import schema

        limit = int(schema.get_param("VM_START_CONCURRENCY").default)
        names = ["vm%03d" % i for i in range(1, vms + 1)]
        sc.start_supervisors()
        _ready(sc, names, sc.pool.master_name())
        everything = sc.xapi(lambda x: x.VM.get_all_records())
        ref_list = [ref for ref, r in everything.items() if r["name_label"] in names]
        records = [everything[ref] for ref in ref_list]
        uuids = {r["uuid"] for r in records}
        groups = start_groups(records)
        load_before = load_average()
        began = time.monotonic()
        sc.pool.fault("crash-vm", *names)

        def restarts():  # the simulator's own record: cheap to poll, unlike a full status() in this process
            return [(t, u) for t, u, _host in list(world.start_log) if t >= began and u in uuids]
        sc.wait_until(lambda: len({u for _t, u in restarts()}) == len(uuids), 600, interval=0.1,
                      message="every VM started again")
        sc.wait_until(lambda: all(vm["running_on"] for vm in sc.status()["vms"] if vm["name_label"] in names),
                      60, interval=0.5, message="every VM running again")
        starts = [t for t, _u in restarts()]
        uuid_of = {ref: r["uuid"] for ref, r in zip(ref_list, records)}
        calls = [(t, uuid_of.get(ref, ref)) for t, ref in clock.since(began)]
        result = {
            "limit": limit, "groups": groups, "load_before": load_before, "load_after": load_average(),
            "took": max(starts) - began, "first_call": clock.first_after(began) - began,
            "domain_starts": len(starts), "flight": flight(calls, {u: t for t, u in restarts()}),
        }
        sc.check_final()
        for sup in sc.supervisors.values():
            sup.stop()
        count = serial_sample or vms
        result["serial_count"] = count
        result["serial"] = serial_run(sc, names[:count])
        result["serial_load"] = load_average()
        sc.check_final()
    finally:
        sc.close()
    return result


def serial_run(sc, names):
    """Seconds to start `names` again one after another: same plan and start code, concurrency 1."""
    from halizard.core import vm_plan
    from halizard.jobs import vm_monitor
    from halizard.jobs.base import Env
    from halizard.xapi import act
    from halizard.xapi.session import open_session

    master = sc.pool.master_name()
    session = open_session(sc.pool.host(master)["address"], "root", sc.pool.password, 30.0)
    try:
        refs = [session.xenapi.VM.get_by_name_label(name)[0] for name in names]
        with ThreadPoolExecutor(max_workers=16) as pool:  # the shutdowns are set-up, not measured
            list(pool.map(lambda ref: session.xenapi.VM.hard_shutdown(ref, timeout=60), refs))
        _session, snapshot, config = vm_monitor.connect_and_read(Env(sc.host_root(master), "bench"), 30.0,
                                                                 session)
        plan = vm_plan.plan(snapshot.pool, vm_monitor.policy_of(config), usable_hosts=snapshot.usable_hosts(),
                            now=time.time())
        if len(plan.starts) != len(names):
            raise RuntimeError("the serial plan starts %d VMs, expected %d" % (len(plan.starts), len(names)))
        starter = act.Starter(session, snapshot, snapshot.usable_hosts(), call_timeout=30.0)
        began = time.monotonic()
        for index, group in enumerate(plan.groups):
            results = starter.start_many(group.starts, 1)
            failed = [r for r in results if not r.ok]
            if failed:
                raise RuntimeError("serial starts failed: %s" % failed[:3])
            if group.delay_after and index < len(plan.groups) - 1:
                time.sleep(group.delay_after)
        return time.monotonic() - began
    finally:
        session.logout()


# --- reporting --------------------------------------------------------------------------------
def report_crash(samples, load):
    median = statistics.median(samples)
    met = median < TARGET_MEDIAN
    print("crash -> VM.start call (MONITOR_DELAY 15): median %.3f s over %d crashes; p10 %.3f, p90 %.3f, "
          "min %.3f, max %.3f; load %.1f; target median < %g s: %s"
          % (median, len(samples), percentile(samples, 0.1), percentile(samples, 0.9), min(samples),
             max(samples), load, TARGET_MEDIAN, "MET" if met else "MISSED"))
    return met


def report_mass(result, vms, latency):
    limit, groups = result["limit"], result["groups"]
    allowed = allowance(groups, limit, latency)
    flat = allowance([(vms, 0)], limit, latency)
    took = result["took"]
    met = took <= TARGET_FACTOR * allowed
    print("%d VMs stopped at once, start latency %g s, VM_START_CONCURRENCY %d: all running again in %.1f s "
          "(first VM.start call after %.2f s, from there %.1f s to the last domain start); load %.1f before, "
          "%.1f after" % (vms, latency, limit, took, result["first_call"], took - result["first_call"],
                          result["load_before"], result["load_after"]))
    print("  the limit allows %.1f s for the plan's %d start group(s) of %s VMs (%.1f s if there were no "
          "order groups); target <= %.1f s (%gx): %s; ratio %.2f"
          % (allowed, len(groups), "+".join(str(size) for size, _delay in groups), flat,
             TARGET_FACTOR * allowed, TARGET_FACTOR, "MET" if met else "MISSED", took / allowed))
    detail = result["flight"]
    print("  detail: %d start calls; call -> domain started median %.2f s, max %.2f s (latency %g s); "
          "on average %.1f starts in flight of the %d allowed"
          % (detail["calls"], detail["in_flight_median"], detail["in_flight_max"], latency,
             detail["mean_in_flight"], limit))
    count, serial = result["serial_count"], result["serial"]
    if count == vms:
        print("  the same %d starts one after another (concurrency 1, measured): %.1f s, %.1fx the parallel "
              "time; load %.1f" % (vms, serial, serial / took, result["serial_load"]))
    else:
        whole = serial * vms / float(count)
        print("  one after another, measured on %d of the %d VMs: %.1f s (%.2f s per VM; load %.1f); "
              "EXTRAPOLATED to all %d: about %.1f s, %.1fx the parallel time"
              % (count, vms, serial, serial / count, result["serial_load"], vms, whole, whole / took))
    return met


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="crashes timed for the first figure")
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--latency", type=float, default=1.0, help="simulated VM start latency, seconds")
    parser.add_argument("--serial-sample", type=int, default=0, metavar="N",
                        help="restart only N VMs one after another and extrapolate (default: all, measured)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.trials < 1 or args.vms < 1 or args.hosts < 2 or not args.latency > 0 or args.serial_sample < 0:
        parser.error("need trials >= 1, vms >= 1, hosts >= 2, latency > 0, serial-sample >= 0")
    if args.serial_sample > args.vms:
        parser.error("--serial-sample %d is more than --vms %d" % (args.serial_sample, args.vms))
    return args


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, REPO)
    base = tempfile.mkdtemp(prefix="hv-", dir="/tmp")  # short: control socket paths must fit AF_UNIX
    try:
        samples = crash_to_call(base, args.trials, 0.1)
        crash_met = report_crash(samples, load_average())
        sys.stdout.flush()
        result = mass_restart(base, args.vms, args.hosts, args.latency, args.serial_sample)
        mass_met = report_mass(result, args.vms, args.latency)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if args.strict and not (crash_met and mass_met):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
