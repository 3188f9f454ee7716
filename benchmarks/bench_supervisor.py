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
POLL = 0.01     # s between two looks at the job runs (JobCpu)
SAMPLE = 0.5    # s between two memory samples


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


def _stat(pid):
    """(name, own ticks, ticks of its reaped children) of `pid`, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            text = handle.read()
    except OSError:
        return None
    head, _, rest = text.rpartition(")")
    fields = rest.split()
    return head.partition("(")[2], int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def cpu_ticks(pid):
    """utime+stime+cutime+cstime (reaped children count in their parent)."""
    stat = _stat(pid)
    return stat[1] + stat[2] if stat else 0


def own_ticks(pid):
    """utime+stime of `pid` alone (the supervisor's own decisions, without its children)."""
    stat = _stat(pid)
    return stat[1] if stat else 0


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
    """supervisor / forkserver / the job a run belongs to (halizard.supervisor.jobproc names each run after its job)."""
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


class JobCpu:
    """CPU ticks of a service split by job: poll() often (every ~10 ms), then per_job().

    Why polling is exact enough: a run's ticks are read while it lives, and
    when it ends (reaped by the forkserver) the forkserver's children ticks
    grow by exactly its total, which goes to the run(s) that vanished since
    the last poll (split by their last reading when several did). A run is
    named by its process name (halizard.supervisor.jobproc names it after
    its job). Runs already alive at the start count only what they use from
    then on. Shown apart: the supervisor's and the forkserver's own ticks.
    """

    def __init__(self, service_pid):
        self.service_pid = service_pid
        self.forkserver = None
        self.runs = {}        # pid -> [job, ticks at the start (0 if born later), last ticks]
        self.ticks = {}       # job -> ticks used in the window
        self.count = {}       # job -> runs that ended in the window
        self.unseen = 0       # ticks of runs that began and ended between two polls (no name)
        self.own = {}         # "supervisor"/"forkserver" -> ticks at the start
        self.reaped = None    # the forkserver's children ticks at the last poll
        self.poll(first=True)

    def _core(self):
        for pid in children_of_direct(self.service_pid):
            if process_name(pid, self.service_pid) == "forkserver":
                return pid
        return None

    def poll(self, first=False):
        if self.forkserver is None:
            self.forkserver = self._core()
            if self.forkserver is None:
                return
            first = True
        fs = _stat(self.forkserver)
        if fs is None:
            return
        alive = set(children_of_direct(self.forkserver))
        for pid in alive:
            stat = _stat(pid)
            if stat is None:
                continue
            name, ticks, reaped = stat
            if name == fs[0]:   # still the forkserver's name: the run has not named itself yet
                name = "(not yet named)"
            entry = self.runs.setdefault(pid, [name, ticks + reaped if first else 0, 0])
            entry[0], entry[2] = name, ticks + reaped   # named after its job once it renamed itself
        if first:
            self.own = {"supervisor": own_ticks(self.service_pid), "forkserver": fs[1]}
            self.reaped = fs[2]
            return
        gone = [pid for pid in self.runs if pid not in alive]
        grown = fs[2] - self.reaped
        self.reaped = fs[2]
        last = sum(max(self.runs[pid][2], 1) for pid in gone)
        for pid in gone:
            job, start, ticks = self.runs.pop(pid)
            share = grown * max(ticks, 1) / float(last)
            self.ticks[job] = self.ticks.get(job, 0) + share - start
            self.count[job] = self.count.get(job, 0) + 1
        if not gone:
            self.unseen += grown

    def per_job(self):
        """{job: (runs, ticks)} for the window so far, runs still alive counted up to now; plus the
        supervisor's and the forkserver's own ticks and the unnamed ones."""
        result = {job: [self.count.get(job, 0), ticks] for job, ticks in self.ticks.items()}
        for job, start, ticks in self.runs.values():
            entry = result.setdefault(job, [self.count.get(job, 0), 0])
            entry[1] += ticks - start
        fs = _stat(self.forkserver) if self.forkserver else None
        result["(supervisor)"] = [0, own_ticks(self.service_pid) - self.own.get("supervisor", 0)]
        result["(forkserver)"] = [0, (fs[1] if fs else 0) - self.own.get("forkserver", 0)]
        if self.unseen:
            result["(unnamed short runs)"] = [0, self.unseen]
        return result


def cpu_table(per_job, elapsed):
    """{job: {"runs", "cpu_s_per_min", "cpu_ms_per_run"}} from JobCpu.per_job() over `elapsed` seconds."""
    return {job: {"runs": runs, "cpu_s_per_min": round(ticks / TICKS * 60.0 / elapsed, 3),
                  "cpu_ms_per_run": round(1000.0 * ticks / TICKS / runs, 1) if runs else None}
            for job, (runs, ticks) in per_job.items()}


def print_cpu_table(jobs):
    """One line per job of a cpu_table, the costliest first."""
    for job, figures in sorted(jobs.items(), key=lambda kv: -kv[1]["cpu_s_per_min"]):
        print("  %-18s %6.3f s/min  %3d runs  %s" % (
            job, figures["cpu_s_per_min"], figures["runs"],
            "%.1f ms/run" % figures["cpu_ms_per_run"] if figures["cpu_ms_per_run"] is not None else ""))


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
        jobcpu = JobCpu(service.pid)
        next_sample = t0
        while time.monotonic() - t0 < args.seconds:
            jobcpu.poll()
            if time.monotonic() < next_sample:
                time.sleep(POLL)
                continue
            next_sample += SAMPLE
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
        jobcpu.poll()
        per_job = jobcpu.per_job()
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
              "seconds": round(elapsed, 1), "memory_target_mb": MEMORY_TARGET_MB, "cpu_target_pct": CPU_TARGET_PCT,
              "cpu_by_job": cpu_table(per_job, elapsed),
              "load": round(os.getloadavg()[0], 1)}
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
        print("CPU by job (s of CPU per minute; runs ended in the window, ms of CPU per run), load average %.1f:"
              % result["load"])
        print_cpu_table(result["cpu_by_job"])
    ok = result["pss_mb_peak_sum"] < MEMORY_TARGET_MB and result["cpu_pct_of_one_core"] < CPU_TARGET_PCT
    if not ok:
        print("bench_supervisor: over target%s" % ("" if args.strict else " (informational; --strict fails)"))
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
