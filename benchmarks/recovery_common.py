"""What the host- and master-failure benchmarks share: reading the simulator, waiting for a settled pool.

Why: both measure a whole simulated pool with a real supervisor per host (tests/scenarios/harness/)
and must look at it the same way, so their figures compare.
"""
import argparse
import os
import signal
import time

from halizard.sim import control


def status(sc):
    """Ground truth straight from the simulator's control endpoint (no CLI process per look)."""
    return control.call(sc.pool.json["control_url"], "status", timeout=15.0)


def settled(sc):
    """True once the master stamped every VM with its home pool: a new simulated pool's first rounds
    write hundreds of stamps, which a pool in production did long ago; measuring during them would
    measure the set-up."""
    try:
        records = sc.xapi(lambda x: x.VM.get_all_records())
    except Exception:  # noqa: BLE001 - a slow answer under load is just "not yet"
        return False
    return all((r.get("other_config") or {}).get("home-pool") for r in records.values()
               if not r.get("is_control_domain") and not r.get("is_a_template"))


def fmt(value):
    return "%.1f" % value if value is not None else "-"


def stop_on_sigterm(_signum, _frame):
    raise SystemExit(143)  # runs the teardown (supervisors stopped, pool down)


VIEW_STATE = os.path.join("var", "lib", "ha-lizard", "xapi-view.json")
# supervisors started (and waited for) at a time: 8 new hosts' first full reads of a 1,000-VM pool at once
# saturated the one simulator process twice in five 64 x 1,000 runs (stop 18), all of them as the last batch
# started; its slowed xapi then looked silent to the slaves and their peer logins collapsed it
START_BATCH = 4
CALM_SHARE = 0.5  # the next batch starts once the simulator used under half a core over CALM_SECONDS
CALM_SECONDS = 15.0  # 5 s fell in lulls of a 48-host start, while 100 tasks waited for the simulator
MACHINE_CALM_SHARE = 0.75  # ... and the whole machine was busy less than this share of its cores meanwhile


def views_stored(sc, names=None):
    """Whether every host named (all when None) has stored its event-driven pool view."""
    return all(os.path.exists(os.path.join(h["root"], VIEW_STATE)) for h in sc.pool.hosts
               if names is None or h["name_label"] in names)


def _sim_pid(sc):
    with open(os.path.join(sc.pool.dir, "sim.pid"), encoding="utf-8") as handle:
        return int(handle.read().split()[0])


def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def simulator_calm(sc):
    """True when, over the last CALM_SECONDS, the simulator used less than CALM_SHARE of a core and
    the whole machine less than MACHINE_CALM_SHARE of its cores.

    Why: a batch of new services reads the whole pool and the master stamps
    their VMs; the next batch started on top of that pushed the one simulator
    process past a core at 40+ hosts, and a master slowed that way looks
    dead to its slaves. At 64 hosts the services' own start (imports, first
    reads) filled both cores while the simulator stayed under half of one,
    so the machine counts too. The load average cannot tell: on this machine it counts
    threads that wait (load 5 at 10% busy). A real pool's hosts join one by one, not 8 at once.
    """
    try:
        pid = _sim_pid(sc)
        before, busy_before = _cpu_seconds(pid), _machine_busy()
        time.sleep(CALM_SECONDS)
        busy = (_machine_busy() - busy_before) / CALM_SECONDS / (os.cpu_count() or 1)
        return (_cpu_seconds(pid) - before) / CALM_SECONDS < CALM_SHARE and busy < MACHINE_CALM_SHARE
    except (OSError, ValueError, IndexError):
        return True


def _machine_busy():
    """CPU seconds the machine spent busy (all cores, /proc/stat: everything but idle and iowait)."""
    with open("/proc/stat", encoding="utf-8") as handle:
        ticks = [int(v) for v in handle.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def favour_simulator(sc, niceness=-10):
    """Run the simulator's threads at a higher priority than the services (every thread: Linux nice is per thread).

    Why: on a real pool the master's xapi has its own dom0 CPUs; here one
    simulator process serves every host's xapi while 16 or 64 services share
    the same 2 cores, and the kernel gives it one runnable task's share.
    Printed with the figures, so nobody mistakes it for the services' setting.
    """
    try:
        pid = _sim_pid(sc)
        for tid in os.listdir("/proc/%d/task" % pid):
            os.setpriority(os.PRIO_PROCESS, int(tid), niceness)
    except (OSError, ValueError, IndexError, AttributeError) as exc:
        print("the simulator keeps its priority (%s)" % exc, flush=True)
        return False
    print("the simulator runs at nice %d (every thread)" % niceness, flush=True)
    return True


def _descendants(pid):
    """pid and every process below it (read from /proc: the benchmark has no psutil)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def renice_services(sc, names, niceness=0):
    """Put every thread of the named hosts' services back at `niceness`.

    Why: the simulator starts the services, so they inherit the priority
    favour_simulator gave its threads, and the favour would be void. Job runs
    started later inherit it from their forkserver.
    """
    for name in names:
        try:
            pid = (sc.supervisor(name).service() or {}).get("pid")
        except control.ControlError:
            continue  # a loaded simulator: this host keeps the simulator's priority
        for proc in _descendants(int(pid)) if pid else ():
            try:
                for tid in os.listdir("/proc/%d/task" % proc):
                    os.setpriority(os.PRIO_PROCESS, int(tid), niceness)
            except (OSError, ValueError):
                continue  # a job run that ended meanwhile


def start_in_batches(sc, settle):
    """Start the supervisors START_BATCH at a time, each batch once the previous one read its pool view
    and the simulator is calm (simulator_calm).

    Why: every new service reads the whole pool once; on 2 cores, 16 or 64
    services doing that at once with 1,000+ VMs time out and retry, and the
    simulator never catches up.
    """
    favour_simulator(sc)
    names = [h["name_label"] for h in sc.pool.hosts]
    for first in range(0, len(names), START_BATCH):
        batch = names[first:first + START_BATCH]
        print("starting the services of %s..%s (load %.1f)" % (batch[0], batch[-1], os.getloadavg()[0]), flush=True)
        sc.start_supervisors(batch)
        renice_services(sc, batch)
        sc.wait_until(lambda names=batch: views_stored(sc, names), settle, interval=1.0,
                      message="the pool views of %s" % ", ".join(batch))
        renice_services(sc, batch)  # what they started meanwhile from a thread not yet reniced
        if first + START_BATCH < len(names):
            sc.wait_until(lambda: simulator_calm(sc), settle, interval=0.0,
                          message="the simulator under %g of a core and the machine under %g of its cores after %s"
                          % (CALM_SHARE, MACHINE_CALM_SHARE, ", ".join(batch)))


def session_when_answering(sc, timeout, within=120.0):
    """A session on the master, trying again while a loaded simulator resets or times out the login."""
    def attempt():
        try:
            return sc.session(timeout=timeout)
        except Exception:  # noqa: BLE001 - a reset or slow login under load is "not yet"
            return None
    return sc.wait_until(attempt, within, interval=2.0, message="a session on the master")


def scenario_args(doc, argv, vms, timeout, min_vms):
    """The arguments every whole-pool fault benchmark takes (--vms, --timeout, --strict), checked; it also
    makes SIGTERM run the teardown."""
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--vms", type=int, default=vms)
    parser.add_argument("--timeout", type=float, default=timeout)
    parser.add_argument("--strict", action="store_true", help="exit 1 on a timeout or a violation")
    args = parser.parse_args(argv)
    if args.vms < min_vms or args.timeout <= 0:
        parser.error("need --vms >= %d and --timeout > 0" % min_vms)
    return args
