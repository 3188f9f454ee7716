"""Idle footprint of the ha-lizard supervisor: every process of the service (RSS, PSS, CPU).

Starts `ha-lizard run` on a throw-away root with the production job set
(the jobs find no pool there, as on an idle host), lets it settle, then
samples for --seconds. Prints the sum over all processes (RSS, and PSS which
counts pages shared between the forked runs once) and CPU, split into the
service core (supervisor + job forkserver) and the job runs in flight.
CPU is CPU time of the service's processes (clock ticks, reaped runs
included), not wall clock, so load from other programs does not inflate it.

Targets (issue 4): under 60 MB and under 1% of one core. The memory target
is judged on the PSS sum: every job run (and the looping self_fence run, which
is always there) is forked from the job forkserver and shares most of its
pages with it, so a plain RSS sum counts those pages once per process (about
25 MB per process that the machine does not spend). The RSS sum is printed too.

    .venv/bin/python benchmarks/bench_supervisor.py [--seconds 30] [--json] [--strict]
        [--jobs FILE]   measure with this job set (HALIZARD_JOBS format) instead
        --strict        exit 1 when a target is missed
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

MEMORY_TARGET_MB = 60.0   # PSS summed over every process of the service
CPU_TARGET_PCT = 1.0
TICKS = os.sysconf("SC_CLK_TCK")


def children_of(pid):
    """All descendants of `pid` (via /proc/<pid>/task/*/children)."""
    found = []
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir("/proc/%d/task" % current)
        except OSError:
            continue
        for task in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (current, task)) as handle:
                    kids = [int(k) for k in handle.read().split()]
            except OSError:
                continue
            found.extend(kids)
            stack.extend(kids)
    return found


def cpu_ticks(pid):
    """utime+stime+cutime+cstime (reaped children count in their parent)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(x) for x in fields[11:15])


def own_ticks(pid):
    """utime+stime of `pid` alone (the supervisor's own decisions, without its children)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(x) for x in fields[11:13])


def memory_kb(pid):
    """(RSS, PSS) in kB; PSS counts shared pages once across the processes."""
    rss = pss = 0
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        return 0, 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pss = rss
    return rss, pss


def children_of_direct(pid):
    """Direct children (the forkserver; job runs are its children, not ours)."""
    kids = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as handle:
                kids.extend(int(k) for k in handle.read().split())
    except OSError:
        pass
    return kids


def process_name(pid, service_pid):
    """supervisor / forkserver / the job a run belongs to (multiprocess names runs ha-lizard-job-NAME)."""
    if pid == service_pid:
        return "supervisor"
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return "gone"
    if "forkserver" in cmdline and pid in children_of_direct(service_pid):
        return "forkserver"
    try:
        with open("/proc/%d/comm" % pid) as handle:
            return "run:" + handle.read().strip()
    except OSError:
        return "run"


def tree(pid):
    return [pid] + children_of(pid)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--jobs", help="HALIZARD_JOBS file to use instead of the production job set")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="bench-supervisor-")
    env = dict(os.environ)
    env.pop("HALIZARD_JOBS", None)
    if args.jobs:
        env["HALIZARD_JOBS"] = os.path.abspath(args.jobs)
    env.pop("NOTIFY_SOCKET", None)
    # Measured as installed: a package install ships compiled bytecode, so let the service cache it
    # (in the throw-away root, never in the source tree) instead of compiling every import again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(root, "pycache")
    # fill that cache first (with a prefix, even the standard library is compiled there once): a
    # service that compiles every import at start keeps the compiler's garbage as resident memory
    subprocess.run([sys.executable, "-c", "import halizard.cli.ha_lizard, halizard.supervisor.daemon, "
                    "halizard.supervisor.forkserver_preload"], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=300, check=False)
    service = subprocess.Popen([sys.executable, "-m", "halizard.cli.ha_lizard", "--root", root, "run",
                                "--log-file", os.path.join(root, "service.log")],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        limit = time.monotonic() + 120
        while not os.path.exists(os.path.join(root, "run", "ha-lizard", "control.sock")):
            if service.poll() is not None or time.monotonic() > limit:
                raise SystemExit("bench_supervisor: the service did not start")
            time.sleep(0.1)
        time.sleep(args.settle)
        pids = tree(service.pid)
        before = {pid: cpu_ticks(pid) for pid in pids}
        own_before = own_ticks(service.pid)
        t0 = time.monotonic()
        peak_rss = peak_pss = peak_core = 0
        peak_procs = 0
        peak_detail = []
        while time.monotonic() - t0 < args.seconds:
            core = [service.pid] + children_of_direct(service.pid)
            current = tree(service.pid)
            sizes = {pid: memory_kb(pid) for pid in current}
            peak_rss = max(peak_rss, sum(s[0] for s in sizes.values()))
            if sum(s[1] for s in sizes.values()) > peak_pss:
                peak_pss = sum(s[1] for s in sizes.values())
                peak_detail = [(process_name(pid, service.pid), round(rss / 1024.0, 1), round(pss / 1024.0, 1))
                               for pid, (rss, pss) in sorted(sizes.items())]
            peak_core = max(peak_core, sum(sizes[pid][0] for pid in core if pid in sizes))
            peak_procs = max(peak_procs, len(current))
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        after_pids = tree(service.pid)
        used = sum(cpu_ticks(pid) - before.get(pid, 0) for pid in after_pids)
        own = own_ticks(service.pid) - own_before
        cpu_pct = 100.0 * used / TICKS / elapsed
        supervisor_pct = 100.0 * own / TICKS / elapsed
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
    result = {"processes_peak": peak_procs, "rss_mb_peak_sum": round(peak_rss / 1024.0, 1),
              "core_rss_mb_peak": round(peak_core / 1024.0, 1),
              "pss_mb_peak_sum": round(peak_pss / 1024.0, 1), "cpu_pct_of_one_core": round(cpu_pct, 3),
              "supervisor_cpu_pct": round(supervisor_pct, 3), "pss_peak_processes": peak_detail,
              "seconds": round(elapsed, 1), "memory_target_mb": MEMORY_TARGET_MB, "cpu_target_pct": CPU_TARGET_PCT}
    if args.json:
        print(json.dumps(result))
    else:
        print("supervisor idle footprint over %.0f s: up to %d processes; PSS sum %.1f MB (RSS sum %.1f MB, "
              "service core RSS %.1f MB); CPU %.2f%% of one core (supervisor itself %.2f%%, the rest job runs) "
              "(targets: PSS < %g MB, CPU < %g%%)" % (
                  result["seconds"], peak_procs, result["pss_mb_peak_sum"], result["rss_mb_peak_sum"],
                  result["core_rss_mb_peak"], result["cpu_pct_of_one_core"], result["supervisor_cpu_pct"],
                  MEMORY_TARGET_MB, CPU_TARGET_PCT))
        print("at the PSS peak (name, RSS MB, PSS MB): %s" % ", ".join("%s %g/%g" % p for p in peak_detail))
    ok = result["pss_mb_peak_sum"] < MEMORY_TARGET_MB and result["cpu_pct_of_one_core"] < CPU_TARGET_PCT
    if not ok:
        print("bench_supervisor: over target%s" % ("" if args.strict else " (informational; --strict fails)"))
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
