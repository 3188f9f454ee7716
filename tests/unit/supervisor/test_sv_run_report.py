"""A run's Report reaches the supervisor, which logs it as the run's one line at the Outcome's level."""
import os
import sys

import pytest
from loguru import logger

from halizard.supervisor import isolate
from halizard.supervisor.scheduler import _log_run

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def runner():
    sys.path.insert(0, HERE)
    yield isolate.Runner()
    sys.path.remove(HERE)


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
    _log_run(run, None)
    assert len(lines) == 1
    level, function, message = lines[0]
    assert (level, function) == ("INFO", "tidy") and message.startswith("did tidy's work [done, ")


def test_a_failed_report_is_an_error_outcome_logged_once_as_a_warning(runner, tmp_path, lines):
    run = runner.start("pool_view", "sv_unit_jobs:reported_failure", str(tmp_path), deadline=30)
    assert run.done.wait(20)
    assert (run.outcome, run.exitcode) == (isolate.ERROR, 1) and run.summary[2] == "master not answering"
    _log_run(run, isolate.OK)
    assert [(lv, text) for lv, _f, text in lines] == [
        ("WARNING", "job pool_view finished: error after %.2f s (exit status 1): master not answering"
         % run.duration)]


def test_a_job_without_a_report_keeps_the_quiet_debug_line(runner, tmp_path, lines):
    run = runner.start("plain", "sv_unit_jobs:ok", str(tmp_path), deadline=30)
    assert run.done.wait(20) and run.summary is None
    _log_run(run, "error")
    assert [(lv, text) for lv, _f, text in lines] == [("INFO", "job plain is ok again (previous run: error)")]
