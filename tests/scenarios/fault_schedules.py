"""Random fault schedules for a whole simulated pool, drawn from a seed (issue 19 item 1, the property).

Why: single-fault scenarios missed the cascade that left two masters standing down and every VM
down. The property: after any schedule of faults that ends with every host back and the network
healed, the pool has one master, no violation, and every protected VM runs exactly once within a
bounded time. The same seed always draws the same schedule, so a failing seed can be replayed;
tests/scenarios/test_fault_schedules.py runs a small fixed set, benchmarks/bench_fault_schedules.py
a longer one. No pytest here (the benchmark imports this module).
"""
import os
import random
import signal
import time

from harness import masters

FAULTS = ("power-off", "power-on", "partition", "hang-xapi", "link-down", "service-kill")
GAP = (1.0, 6.0)  # seconds between two faults of a schedule


class Step:
    """One fault at `at` seconds after the previous one."""

    def __init__(self, after, action, targets):
        self.after = after
        self.action = action
        self.targets = tuple(targets)

    def __repr__(self):
        return "+%.1fs %s %s" % (self.after, self.action, " ".join(self.targets))


def draw(seed, hosts, steps):
    """The schedule of `steps` faults over the host names `hosts`, the same for the same seed.

    Only faults that change something are drawn: a host is powered on only when it is off, and
    at least one host stays powered on.
    """
    rng = random.Random(seed)
    names = sorted(hosts)
    off = set()
    schedule = []
    for _ in range(steps):
        on = [n for n in names if n not in off]
        choices = [a for a in FAULTS if (a != "power-on" or off) and (a != "power-off" or len(on) > 1)]
        action = rng.choice(choices)
        after = round(rng.uniform(*GAP), 1)
        if action == "partition":
            shuffled = names[:]
            rng.shuffle(shuffled)
            cut = rng.randint(1, len(shuffled) - 1)
            targets = (",".join(sorted(shuffled[:cut])), ",".join(sorted(shuffled[cut:])))
        elif action == "power-on":
            targets = (rng.choice(sorted(off)),)
            off.discard(targets[0])
        else:
            targets = (rng.choice(on),)
            if action == "power-off":
                off.add(targets[0])
        schedule.append(Step(after, action, targets))
    return schedule


def _kill_service(sc, name):
    state = sc.supervisor(name).service()
    if state.get("service") == "running" and state.get("pid"):
        try:
            os.kill(int(state["pid"]), signal.SIGKILL)
        except ProcessLookupError:
            pass


def apply(sc, schedule, log=print):
    """Inject the faults of `schedule` in order, `after` seconds apart (the schedule's own timeline)."""
    for step in schedule:
        time.sleep(step.after)
        log("fault %r" % (step,))
        if step.action == "service-kill":
            _kill_service(sc, step.targets[0])
        else:
            sc.pool.fault(step.action, *step.targets)


def heal(sc):
    """Every host powered on, answering, linked and in one network; every service running again."""
    names = [h["name_label"] for h in sc.pool.hosts]
    off = [n for n in names if sc.pool.host_status(n)["power"] != "on"]
    if off:
        sc.pool.fault("power-on", *off)
    sc.pool.fault("unhang-xapi", *names)
    sc.pool.fault("link-up", *names)
    sc.pool.fault("heal")
    for name in names:  # a killed service stays "exited" (what systemd's Restart=always would undo)
        supervisor = sc.supervisor(name)
        state = supervisor.service().get("service")
        if state == "exited":
            supervisor.stop()
        if state in ("exited", "stopped", "none"):
            supervisor.start(wait=False)


def settled(sc):
    """One master, no violation, every protected VM running exactly once (None while not yet)."""
    status = sc.status()
    if status["violations"]:
        raise AssertionError("violations: %s" % (status["violations"],))
    if len(masters(sc)) != 1:
        return None
    for vm in status["vms"]:
        if vm["name_label"] not in sc.unprotected and len(vm["running_on"]) != 1:
            return None
    return status


def run_seed(sc, seed, steps, settle_timeout, log=print):
    """Draw, apply and heal one schedule, then wait for the property; returns seconds to settle."""
    schedule = draw(seed, [h["name_label"] for h in sc.pool.hosts], steps)
    log("seed %s: %s" % (seed, schedule))
    apply(sc, schedule, log)
    heal(sc)
    healed = time.monotonic()
    sc.wait_until(lambda: settled(sc), settle_timeout, interval=1.0,
                  message="seed %s: one master and every VM running once after the heal" % seed)
    return time.monotonic() - healed
