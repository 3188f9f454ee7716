"""Runner on its own: typed outcomes and exit codes of real job processes, and the Report a run sends back
(the supervisor logs it as the run's one line at the Outcome's level)."""
import gc
import os
import signal
import sys

import pytest
from loguru import logger

from halizard.supervisor import isolate
from halizard.supervisor.jobstate import log_run

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def runner():
    sys.path.insert(0, HERE)
    yield isolate.Runner()
    sys.path.remove(HERE)


@pytest.mark.parametrize("target,outcome,exit_code", [
    ("sv_unit_jobs:ok", "ok", 0),
    ("sv_unit_jobs:fail", "error", 1),
    ("sv_unit_jobs:exit3", "error", 3),
    ("sv_unit_jobs:missing_function", "error", 1),
    # Python 3.6's forkserver cannot see a signal: the run ends with no status (255).
    ("sv_unit_jobs:suicide",) + (("killed", -signal.SIGKILL) if sys.version_info >= (3, 7) else ("error", 255)),
])
def test_outcomes(runner, tmp_path, target, outcome, exit_code):
    run = runner.start("t", target, str(tmp_path))
    assert run.done.wait(20)
    assert (run.outcome, run.exitcode) == (outcome, exit_code), run.as_dict()
    assert run.duration is not None and run.finished >= run.started


def test_deadline_and_kill_request(runner, tmp_path):
    timed = runner.start("slow", "sv_unit_jobs:sleepy", str(tmp_path), deadline=0.5, grace=0.2)
    killed = runner.start("slow2", "sv_unit_jobs:sleepy", str(tmp_path), grace=0.2)
    assert runner.kill(killed, "test says so")
    assert timed.done.wait(20) and killed.done.wait(20)
    assert timed.outcome == "timed_out" and timed.duration >= 0.5
    assert killed.outcome == "killed" and killed.reason == "test says so"
    assert runner.kill(killed, "again") is False
    assert runner.active() == []


def test_context_reaches_the_job(runner, tmp_path):
    run = runner.start("ctxjob", "sv_unit_jobs:context", str(tmp_path), overrides={"MONITOR_DELAY": "7"},
                       deadline=30)
    assert run.done.wait(20) and run.outcome == "ok", run.as_dict()
    with open(os.path.join(str(tmp_path), "ctx.txt")) as handle:
        name, delay, pgid_is_pid, has_deadline = handle.read().split()
    assert (name, delay, pgid_is_pid, has_deadline) == ("ctxjob", "7", "True", "True")


def test_runs_fork_from_a_prepared_forkserver(runner, tmp_path):
    """Preloaded job machinery, frozen objects, no main-module re-run: what keeps a run at a few ms of CPU."""
    import json

    run = runner.start("facts", "sv_unit_jobs:preload_facts", str(tmp_path))
    assert run.done.wait(30) and run.outcome == "ok", run.as_dict()
    with open(os.path.join(str(tmp_path), "facts.json")) as handle:
        facts = json.load(handle)
    assert facts["main_fixup_skipped"] and facts["xapi_loaded"], facts
    if hasattr(gc, "freeze"):  # 3.7+; 3.6 copies the pages on write instead
        assert facts["frozen"] > 1000, facts
    assert facts["warm_failed"] == [], "a production job module does not import: %s" % facts["warm_failed"]


@pytest.fixture
def lines():
    seen = []
    sink = logger.add(lambda m: seen.append((m.record["level"].name, m.record["extra"].get("function"),
                                             m.record["message"])), level="DEBUG")
    yield seen
    logger.remove(sink)


def test_a_report_comes_back_and_is_the_runs_one_line(runner, tmp_path, lines):
    run = runner.start("tidy", "sv_unit_jobs:reported", str(tmp_path), deadline=30)
    assert run.done.wait(20) and run.outcome == isolate.OK, run.as_dict()
    assert run.summary == ("done", "INFO", "did tidy's work") and run.as_dict()["summary"] == "did tidy's work"
    log_run(run, None)
    assert len(lines) == 1
    level, function, message = lines[0]
    assert (level, function) == ("INFO", "tidy") and message.startswith("did tidy's work [done, ")


def test_a_failed_report_is_an_error_outcome_logged_once_as_a_warning(runner, tmp_path, lines):
    run = runner.start("pool_view", "sv_unit_jobs:reported_failure", str(tmp_path), deadline=30)
    assert run.done.wait(20)
    assert (run.outcome, run.exitcode) == (isolate.ERROR, 1) and run.summary[2] == "master not answering"
    log_run(run, isolate.OK)
    assert [(lv, text) for lv, _f, text in lines] == [
        ("WARNING", "job pool_view finished: error after %.2f s (exit status 1): master not answering"
         % run.duration)]


def test_a_job_without_a_report_keeps_the_quiet_debug_line(runner, tmp_path, lines):
    run = runner.start("plain", "sv_unit_jobs:ok", str(tmp_path), deadline=30)
    assert run.done.wait(20) and run.summary is None
    log_run(run, "error")
    assert [(lv, text) for lv, _f, text in lines] == [("INFO", "job plain is ok again (previous run: error)")]


def test_a_run_is_polled_by_its_watcher_only(runner, tmp_path):
    """Failed before: multiprocess's Process.start() polls every child it lists (its _cleanup), so a run
    that had just ended was read by two threads at once, the starter and its watcher; with a forkserver
    the loser records exit status 255 over the real one (CPython gh-130895, gh-140867), and a run that
    did its work showed as "error". Seen twice in the 64-host benchmark."""
    import multiprocess.process

    run = runner.start("alone", "sv_unit_jobs:sleepy", str(tmp_path), grace=0.2)
    try:
        listed = [p for p in multiprocess.process._children if p.pid == run.pid]
        assert listed == [], "another start's cleanup would poll this run"
    finally:
        runner.kill(run, "test over")
        assert run.done.wait(20)


def test_runs_started_from_many_threads_keep_their_exit_status(runner, tmp_path):
    import threading

    runs, lock = [], threading.Lock()

    def starter():
        for i in range(40):
            started = runner.start("many%d" % i, "sv_unit_jobs:ok", str(tmp_path))
            with lock:
                runs.append(started)
    threads = [threading.Thread(target=starter) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(run.done.wait(60) for run in runs)
    assert [(r.outcome, r.exitcode) for r in runs if r.outcome != "ok"] == []
