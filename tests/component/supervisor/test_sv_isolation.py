"""Deadlines, process groups, typed outcomes: real supervisor, real job processes."""
import signal
import sys

from sv_helpers import evidence, group_members, jobs, process_alive, wait_until


# Python 3.6's forkserver reports no status for a run ended by a signal (multiprocess says 255); the
# Runner's own outcome (timed_out) still holds. 3.7+ reports the signal.
SIGNALS_SEEN = sys.version_info >= (3, 7)


def _finished(root, name, outcome, env):
    job = jobs(root, env).get(name)
    return job is not None and (job["last"] or {}).get("outcome") == outcome and job


def test_hanging_job_with_grandchild_is_killed_at_deadline_and_others_keep_schedule(root, service):
    svc = service({
        "tick": {"target": "sv_testjobs:tick", "period": 0.3},
        "hang": {"target": "sv_testjobs:hang_with_grandchild", "period": 30, "deadline": 3.0, "grace": 0.5},
    })
    job = wait_until(lambda: _finished(root, "hang", "timed_out", svc.env), 15, message="hang to time out")
    last = job["last"]
    assert last["outcome"] == "timed_out"
    assert 2.9 <= last["duration"] <= 15.0, last
    assert last["exit"] == (-signal.SIGTERM if SIGNALS_SEEN else 255)
    start = evidence(root, "hang")[0]
    wait_until(lambda: not process_alive(start["grandchild"]), 15, message="grandchild gone")
    assert group_members(start["pid"]) == []
    ticks = [e["t"] for e in evidence(root, "tick") if e["t"] > start["t"] and e["t"] < last["finished"]]
    assert len(ticks) >= 2, "tick kept its schedule while hang was stuck: %s" % ticks
    # the supervisor records the outcome (what `jobs` answers), then logs the run's line
    wait_until(lambda: "job hang finished: timed_out" in svc.log(), 10, message="the run's log line")


def test_job_ignoring_sigterm_is_killed_after_grace(root, service):
    # Runs repeat, so even on a loaded machine (where a run may be ended before it reaches its
    # SIG_IGN) one run soon ignores SIGTERM and must then end by SIGKILL after the grace period.
    svc = service({"stubborn": {"target": "sv_testjobs:stubborn", "period": 0.5, "deadline": 2.0, "grace": 0.5}})

    def sigkilled():
        last = jobs(root, svc.env)["stubborn"]["last"] or {}
        if SIGNALS_SEEN:
            killed = last.get("exit") == -signal.SIGKILL
        else:  # no status on 3.6: still alive after deadline + grace means SIGTERM did not end it
            killed = last.get("duration", 0) >= 2.5
        return last if last.get("outcome") == "timed_out" and killed else None

    last = wait_until(sigkilled, 40, message="a SIGTERM-proof run to be SIGKILLed")
    assert last["duration"] >= 2.4
    start = [e for e in evidence(root, "stubborn") if e["pid"] == last["pid"]][0]
    wait_until(lambda: not process_alive(start["grandchild"]), 15, message="SIGTERM-proof grandchild gone")
    assert group_members(start["pid"]) == []


def test_crashing_job_is_an_error_and_runs_again(root, service):
    svc = service({"boom": {"target": "sv_testjobs:boom", "period": 0.5}})
    wait_until(lambda: len(evidence(root, "boom")) >= 2, 30, message="two runs of boom")
    job = jobs(root, svc.env)["boom"]
    assert job["last"]["outcome"] == "error"
    assert job["last"]["exit"] == 1
    wait_until(lambda: "job boom failed: RuntimeError" in svc.log(), 10, message="the run's log line")


def test_missing_job_module_is_an_error_not_a_crash(root, service):
    svc = service({"ghost": {"target": "no_such_module_sv:run", "period": 0.5},
                   "tick": {"target": "sv_testjobs:tick", "period": 0.5}})
    wait_until(lambda: _finished(root, "ghost", "error", svc.env), 30, message="ghost to fail")
    wait_until(lambda: len(evidence(root, "tick")) >= 2, 30, message="tick to keep running")


def test_externally_killed_worker_is_recorded_as_killed(root, service):
    svc = service({"hang": {"target": "sv_testjobs:hang", "period": 0.5}})
    first = wait_until(lambda: evidence(root, "hang"), 30, message="hang to start")[0]
    import os
    os.kill(first["pid"], signal.SIGKILL)
    outcome = "killed" if SIGNALS_SEEN else "error"
    job = wait_until(lambda: _finished(root, "hang", outcome, svc.env), 30, message="kill to be recorded")
    assert ("signal 9" if SIGNALS_SEEN else "exit status 255") in job["last"]["reason"]
    wait_until(lambda: len(evidence(root, "hang")) >= 2, 30, message="the next run")
    assert svc.answering()


def _children(pid):
    import glob
    kids = []
    for path in glob.glob("/proc/%d/task/*/children" % pid):
        with open(path) as handle:
            kids.extend(int(k) for k in handle.read().split())
    return kids


def test_killed_forkserver_ends_in_flight_runs_and_is_replaced(root, service):
    import os
    svc = service({"tick": {"target": "sv_testjobs:tick", "period": 0.3},
                   "hang": {"target": "sv_testjobs:hang_with_grandchild", "period": 30}})
    start = wait_until(lambda: evidence(root, "hang"), 30, message="hang to start")[0]
    servers = [pid for pid in _children(svc.proc.pid)
               if b"forkserver" in open("/proc/%d/cmdline" % pid, "rb").read()]
    assert len(servers) == 1
    os.kill(servers[0], signal.SIGKILL)
    if SIGNALS_SEEN:
        job = wait_until(lambda: _finished(root, "hang", "error", svc.env), 30, message="the orphaned run ended")
        assert job["last"]["exit"] is not None
        wait_until(lambda: not group_members(start["pid"]), 15, message="its process group gone")
        assert not process_alive(start["grandchild"])
    before = len(evidence(root, "tick"))
    wait_until(lambda: len(evidence(root, "tick")) >= before + 3, 30, message="runs through a new forkserver")
    if not SIGNALS_SEEN:  # on 3.6 a run holds its own status pipe: it is no orphan and lives on, watched
        assert process_alive(start["pid"]) and (jobs(root, svc.env)["hang"]["last"] or {}).get("pid") != start["pid"]


def test_a_run_carries_its_job_name_as_process_name(root, service):
    # every run is a fork of the job forkserver (same command line): the name tells runs apart in ps/top
    # and in benchmarks/bench_supervisor.py; Linux keeps the first 15 bytes
    service({"a_rather_long_job_name": {"target": "sv_testjobs:named", "period": 30}})
    notes = wait_until(lambda: evidence(root, "a_rather_long_job_name"), 20, message="the run's note")
    assert notes[0]["comm"] == "a_rather_long_j"


def test_runs_keep_the_log_sinks_and_platform_the_forkserver_prepared(root, service):
    # the forkserver sets up the runs' log sinks (the service's --log-file here) and imports the root's
    # platform once; a run's own lines still reach the log, tagged with the run's pid
    svc = service({"warm": {"target": "sv_testjobs:warm_facts", "period": 30}})
    notes = wait_until(lambda: evidence(root, "warm"), 20, message="the run's note")
    assert notes[0]["config"] and notes[0]["platform"] and notes[0]["log"], notes[0]
    pid = notes[0]["pid"]
    line = wait_until(lambda: [x for x in svc.log().splitlines() if "warm run %d says hello" % pid in x], 20,
                      message="the run's line in the service's log")
    assert "[%d] warm:" % pid in line[0], line
