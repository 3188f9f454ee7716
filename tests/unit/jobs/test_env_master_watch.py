"""master_watch on the fake Env: its Report per path, the caches and the report file on the Env's clock,
and the takeover's actions (alert, suspension) through the job's Env.

Why: the watch decides when a slave judges a silent master and takes over; what it says and records
must follow the Env, so the same code runs on a dom0, in the simulator and here (the takeover itself
against a pool: tests/scenarios/test_takeover_*.py, tests/unit/jobs/test_recovery_takeover_restart.py).
"""
from fake_env import FakeEnv

from halizard.core import actions as A
from halizard.core import takeover as core
from halizard.core.model import HostView, PoolView
from halizard.jobs import master_watch, takeover
from halizard.jobs.base import Outcome

KEY = "XenCenter.CustomFields.ha-lizard-enabled"
HOSTS = {"OpaqueRef:h1": {"uuid": "h1", "name_label": "host1", "address": "127.0.0.1", "other_config": {}},
         "OpaqueRef:h2": {"uuid": "h2", "name_label": "host2", "address": "127.0.0.2", "other_config": {}}}


def _slave(tmp_path):
    env = FakeEnv(tmp_path, "master_watch")
    env.uuid, env.pool_role = "h2", "slave"
    return env


def _cached_view():
    return PoolView("pool-1", "h1", (HostView("h1", "host1", ref="OpaqueRef:h1", address="127.0.0.1", is_master=True),
                                     HostView("h2", "host2", ref="OpaqueRef:h2", address="127.0.0.2")),
                    autopromote_uuid="h2")


def test_an_unknown_uuid_or_role_is_a_failed_run(tmp_path):
    env = _slave(tmp_path)
    env.uuid = None
    assert master_watch.run(env).outcome is Outcome.FAILED
    env.uuid, env.pool_role = "h2", None
    report = master_watch.run(env)
    assert report.outcome is Outcome.FAILED and "pool role" in report.text


def test_a_master_idles_and_clears_an_ended_takeover(tmp_path):
    env = FakeEnv(tmp_path, "master_watch")
    assert master_watch.run(env)[:2] == (Outcome.IDLE, "master watch idle: this host is master")
    takeover.save_state(env.state, core.TakeoverState(phase=core.DONE, master_uuid="h0"))
    assert master_watch.run(env).outcome is Outcome.DONE
    assert takeover.load_state(env.state) == core.TakeoverState()
    assert not env.sessions, "a master never reads the master"


def test_a_master_that_answers_is_cached_and_quiet(tmp_path):
    env = _slave(tmp_path)
    env.answers = {"pool.get_all_records": {"OpaqueRef:p": {"uuid": "pool-1", "master": "OpaqueRef:h1",
                                                            "other_config": {KEY: "true", "autopromote_uuid": "h2"}}},
                   "host.get_all_records": HOSTS, "host.get_other_config": {}}
    report = master_watch.run(env)
    assert report[:2] == (Outcome.QUIET, "master watch: the master answers")
    view = takeover.load_view(env.state)
    assert view.master_uuid == "h1" and view.autopromote_uuid == "h2"
    assert env.state.read(master_watch.REPORT) == {"master": "answers", "suspended": False, "autopromote": "h2",
                                                   "at": env.clock.wall()}
    assert all(s.logged_out for s in env.sessions)


def test_a_silent_master_without_a_cached_view_cannot_be_judged(tmp_path):
    env = _slave(tmp_path)    # env.answers None: the master does not answer
    report = master_watch.run(env)
    assert report[:2] == (Outcome.FAILED, "master watch: the master is silent and no pool view was ever cached")


def test_a_silent_master_with_ha_off_or_this_host_suspended_is_not_taken_over(tmp_path):
    env = _slave(tmp_path)
    takeover.save_view(env.state, _cached_view())
    report = master_watch.run(env)
    assert report[:2] == (Outcome.IDLE, "master watch: the master is silent; HA is not enabled for this pool")
    env.cached = ("pool-1", {KEY: "true"})
    takeover.suspend(env.state, "test: the fence of the master failed", now=1.0)
    report = master_watch.run(env)
    assert report[:2] == (Outcome.SKIPPED, "master watch: the master is silent; HA is suspended on this host")
    assert env.state.read(master_watch.REPORT) == {"master": "silent", "suspended": True, "autopromote": "h2",
                                                   "at": env.clock.wall()}
    assert takeover.load_state(env.state) == core.TakeoverState(), "nothing was stepped"


def test_the_takeovers_alert_and_suspension_go_through_the_jobs_env(tmp_path):
    env = _slave(tmp_path)
    view = takeover.Env(env, None, None, "h2", "127.0.0.2")
    assert view.store is env.state and view.clock is env.clock and view.log is env.log
    outcome = takeover.execute(view, [A.Alert(why="t", function="promote_slave", text="slaves may lag"),
                                      A.SuspendSelf(why="the fence failed")], _cached_view(), None)
    assert outcome is None
    assert env.alerts == [("promote_slave", "slaves may lag", {})]
    flag = env.state.read(takeover.SUSPENSION)
    assert flag["suspended"] and flag["since"] == env.clock.boot() and flag["why"] == "the fence failed"
