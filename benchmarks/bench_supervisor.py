"""Idle footprint of the ha-lizard supervisor: every process of the service (RSS, PSS, CPU).

Starts `ha-lizard run` on a throw-away root with the production job set
(the jobs find no pool there and end quickly, as on an idle host whose
cycles have nothing to do), lets it settle, then samples for --seconds.
Targets (issue 4): under 60 MB RSS in total and under 1% of one core.

    .venv/bin/python benchmarks/bench_supervisor.py [--seconds 30] [--json]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

RSS_TARGET_MB = 60.0
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


def tree(pid):
    return [pid] + children_of(pid)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="bench-supervisor-")
    env = dict(os.environ)
    env.pop("HALIZARD_JOBS", None)
    env.pop("NOTIFY_SOCKET", None)
    service = subprocess.Popen([sys.executable, "-m", "halizard.cli.ha_lizard", "--root", root, "run",
                                "--log-file", os.path.join(root, "service.log")],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        limit = time.monotonic() + 30
        while not os.path.exists(os.path.join(root, "run", "ha-lizard", "control.sock")):
            if service.poll() is not None or time.monotonic() > limit:
                raise SystemExit("bench_supervisor: the service did not start")
            time.sleep(0.1)
        time.sleep(args.settle)
        pids = tree(service.pid)
        before = {pid: cpu_ticks(pid) for pid in pids}
        t0 = time.monotonic()
        peak_rss = peak_pss = 0
        peak_procs = 0
        while time.monotonic() - t0 < args.seconds:
            current = tree(service.pid)
            sizes = [memory_kb(pid) for pid in current]
            peak_rss = max(peak_rss, sum(s[0] for s in sizes))
            peak_pss = max(peak_pss, sum(s[1] for s in sizes))
            peak_procs = max(peak_procs, len(current))
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        after_pids = tree(service.pid)
        used = sum(cpu_ticks(pid) - before.get(pid, 0) for pid in after_pids)
        cpu_pct = 100.0 * used / TICKS / elapsed
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
    result = {"processes_peak": peak_procs, "rss_mb_peak_sum": round(peak_rss / 1024.0, 1),
              "pss_mb_peak_sum": round(peak_pss / 1024.0, 1), "cpu_pct_of_one_core": round(cpu_pct, 3),
              "seconds": round(elapsed, 1), "rss_target_mb": RSS_TARGET_MB, "cpu_target_pct": CPU_TARGET_PCT}
    if args.json:
        print(json.dumps(result))
    else:
        print("supervisor idle footprint over %.0f s: %d processes, RSS sum %.1f MB (PSS %.1f MB), "
              "CPU %.2f%% of one core (targets: < %g MB, < %g%%)" % (
                  result["seconds"], peak_procs, result["rss_mb_peak_sum"], result["pss_mb_peak_sum"],
                  result["cpu_pct_of_one_core"], RSS_TARGET_MB, CPU_TARGET_PCT))
    ok = result["rss_mb_peak_sum"] < RSS_TARGET_MB and result["cpu_pct_of_one_core"] < CPU_TARGET_PCT
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
