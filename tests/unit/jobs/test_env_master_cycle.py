"""master_cycle on the fake Env: its Report per path, the master-conflict flag on the Env's clock,
pool.recover_slaves retried on the Env's sleep, the refusal of an unsafe configuration.

Why: the master cycle decides when VM starts are suspended on a master and when a stale master is
recovered; what it records and how long it waits must follow the Env, so the same code runs on a
dom0, in the simulator and here (the whole cycle against a pool: tests/component/ha_master).
"""
from fake_env import FakeEnv

from halizard.core.health import FAILED, HEALTHY, HealthVerdict
from halizard.core.model import HostView, PoolView
from halizard.core.policy import Policy
from halizard.jobs import host_health, master_cycle, self_fence
from halizard.jobs.base import Outcome
from halizard.suspension import MASTER_CONFLICT


def test_a_slave_or_an_unknown_role_runs_no_cycle(tmp_path):
    env = FakeEnv(tmp_path, "master_cycle")
    env.pool_role = "slave"
    assert master_cycle.run(env)[:2] == (Outcome.IDLE, "master cycle not run: this host is a slave")
    env.pool_role = None
    assert master_cycle.run(env).outcome is Outcome.FAILED
    assert env.state.read(MASTER_CONFLICT) is None


def test_a_silent_own_xapi_suspends_vm_starts_from_the_envs_time(tmp_path):
    env = FakeEnv(tmp_path, "master_cycle")   # env.answers None: its own xapi does not answer
    report = master_cycle.run(env)
    assert (report.outcome, report.text) == (Outcome.FAILED,
                                             "master cycle skipped: own xapi not answering (XapiUnreachable)")
    flag = env.state.read(MASTER_CONFLICT)
    assert flag["suspended"] and flag["since"] == env.clock.wall() and "did not answer" in flag["why"]


def test_an_own_xapi_silent_at_the_first_read_suspends_vm_starts_too(tmp_path):
    """With the service's shared login (halizard.xapi.shared_login) a session is had without a call: the
    first read is where a silent own xapi shows. It must raise the master-conflict flag as a failed login
    did, not end the run in an exception that leaves VM starts allowed."""
    from halizard.xapi.errors import XapiTimeout

    def silent(*_args):
        raise XapiTimeout("/var/lib/xcp/xapi", 5.0, "pool.get_all_records")

    env = FakeEnv(tmp_path, "master_cycle")
    env.answers = {"pool.get_all_records": silent}
    report = master_cycle.run(env)
    assert (report.outcome, report.text) == (Outcome.FAILED, "master cycle skipped: own xapi not answering (XapiTimeout)")
    flag = env.state.read(MASTER_CONFLICT)
    assert flag["suspended"] and "did not answer" in flag["why"]
    assert env.sessions[-1].logged_out


def test_a_self_fencing_master_idles_and_keeps_vm_starts_suspended(tmp_path):
    env = FakeEnv(tmp_path, "master_cycle")
    env.state.write(self_fence.STATE, {"stopping_since": 1.0})
    report = master_cycle.run(env)
    assert (report.outcome, report.text) == (Outcome.IDLE, "master cycle idle: this host is self-fencing")
    assert "self-fenced" in env.state.read(MASTER_CONFLICT)["why"] and env.sessions == []


def test_an_unsafe_configuration_is_refused_alerted_and_nothing_connects(tmp_path):
    env = FakeEnv(tmp_path, "master_cycle")
    env.pool_config = {"HA_SELF_FENCE_WAIT": "1"}
    report = master_cycle.run(env)
    assert report.outcome is Outcome.SKIPPED and "refuses to fence" in report.text and "SELF_FENCE_WAIT" in report.text
    assert [a[0] for a in env.alerts] == [host_health.REFUSAL_ALERT_FUNCTION]
    assert env.sessions == []


def test_recover_slaves_is_retried_on_the_envs_sleep_until_the_stale_master_follows(tmp_path):
    env = FakeEnv(tmp_path, "master_cycle")
    pool = PoolView("pool-1", "h1", (HostView("h1", "host1", ref="OpaqueRef:h1", is_master=True),
                                     HostView("h2", "host2", ref="OpaqueRef:h2")))
    answers = iter([[], [], ["OpaqueRef:h2"]])
    env.answers = {"pool.recover_slaves": lambda: next(answers)}
    session = env.connect()
    assert master_cycle._recover_stale_masters(env, session, pool, ["h2"], Policy(), pause=2.5)
    assert env.clock.slept == [2.5, 2.5] and len(session.calls) == 3
    assert env.log.at("INFO") == ["pool.recover_slaves: host2 follow this master now"]


def test_the_report_names_each_failed_slave_with_its_decision():
    verdicts = {"h2": HealthVerdict(HEALTHY, False, "answered"), "h3": HealthVerdict(FAILED, False, "silent")}
    report = master_cycle.cycle_report(verdicts, {"h3": "fence h3"})
    assert (report.outcome, report.text) == (Outcome.DONE,
                                             "master cycle: 2 slave(s) probed, 1 failed, 1 healthy; h3: fence h3")
    report = master_cycle.cycle_report({"h2": verdicts["h2"]}, {})
    assert (report.outcome, report.text) == (Outcome.QUIET, "master cycle: 1 slave(s) probed, 1 healthy")
