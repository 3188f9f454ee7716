"""The looping and local jobs on the fake Env: witness, vm_events, disk_monitor, alert_spool, the HA refusal."""
from fake_env import FakeClock, FakeEnv

from halizard.core.policy import Policy
from halizard.jobs import alert_spool, disk_monitor, host_health, vm_events, witness
from halizard.jobs.base import Outcome
from halizard.platform.base import DiskHealth
from halizard.probes import witness as client

WITNESS = {"HA_WITNESS_ADDRESS": "127.0.0.1:5405", "HA_WITNESS_LEASE": "6", "HA_WITNESS_SECRET": "s3cret"}


def test_witness_loop_paces_itself_on_the_envs_clock_and_ends_before_the_deadline(tmp_path):
    env = FakeEnv(tmp_path, "witness")
    env.deadline = env.clock.wall() + 20
    report = witness.run(env)
    # no pool secret in this root: the peer query cannot be answered, said with the witness's sentence
    assert report.outcome == Outcome.DEGRADED and report.text.startswith("no witness configured; cannot answer")
    # every 5 s while no witness is configured, and the last request fits before deadline - margin
    assert env.clock.slept == [5.0, 5.0] and env.clock.wall() < env.deadline


def test_witness_lease_is_recorded_on_both_clocks_and_held_until_it_passes(tmp_path, monkeypatch):
    env = FakeEnv(tmp_path, "witness")
    env.cached = ("pool-1", WITNESS)
    asked = []

    def ask(witness, pool, host, lease, deadline, clocks=None, quiet=False):
        asked.append((witness.address, witness.secret, pool, host, lease))
        return client.Vote(clocks.monotonic() + lease, host, "", True)

    monkeypatch.setattr(client, "ask", ask)
    assert witness.ask_once(env) == 2.0    # WITNESS_LEASE / 3
    assert asked == [("127.0.0.1:5405", b"s3cret", "pool-1", "h1", 6.0)]
    stored = env.state.read(witness.STATE)
    assert stored["held_until_wall"] == env.clock.wall() + 6 and stored["holder"] == "h1"
    policy = Policy(WITNESS_ADDRESS="127.0.0.1:5405")
    assert witness.held(env.state, policy, env.clock) is True
    env.clock.advance(7)
    assert witness.held(env.state, policy, env.clock) is False


def test_witness_not_answering_alerts_once_on_the_master(tmp_path, monkeypatch):
    env = FakeEnv(tmp_path, "witness")
    env.cached = ("pool-1", WITNESS)
    monkeypatch.setattr(client, "ask", lambda *a, **kw: client.Vote(None, "", "timed out"))
    witness.ask_once(env)
    witness.ask_once(env)
    assert [a[0] for a in env.alerts] == ["witness"] and "does not answer (timed out)" in env.alerts[0][1]
    assert env.log.at("WARNING") == ["witness 127.0.0.1:5405: no vote: timed out"]


def test_vm_events_idle_without_a_role_or_on_a_slave_that_does_not_act(tmp_path):
    env = FakeEnv(tmp_path, "vm_events")
    env.pool_role = None
    report = vm_events.run(env)
    assert report.outcome is Outcome.IDLE and "role is unknown" in report.text and env.clock.slept == []
    env.pool_role = "slave"
    env._config = {"SLAVE_VM_STAT": "0"}
    report = vm_events.run(env)
    assert report.outcome is Outcome.IDLE and "does not act" in report.text
    assert round(sum(env.clock.slept), 3) == vm_events.WINDOW   # watched the role for one window, no more


def test_disk_monitor_records_with_the_envs_time_and_alerts_on_failure(tmp_path):
    env = FakeEnv(tmp_path, "disk_monitor", config={"DISK_MONITOR": "1"})
    report = disk_monitor.run(env)
    assert (report.outcome, report.text) == (Outcome.DONE, "disk healthy: PASSED")
    assert env.state.read(disk_monitor.STATE_NAME)["checked"] == env.clock.wall()
    env.platform.disk = DiskHealth(False, "reallocated sectors")
    report = disk_monitor.run(env)
    assert report.outcome is Outcome.DEGRADED and not report.detail.healthy
    (function, text, options), = env.alerts
    assert function == "disk_monitor" and "reallocated sectors" in text and options["session"] is None
    assert disk_monitor.run(FakeEnv(tmp_path, "disk_monitor", config={"DISK_MONITOR": "0"})).outcome is Outcome.IDLE


def test_alert_spool_with_nothing_spooled_is_idle(tmp_path):
    report = alert_spool.run(FakeEnv(tmp_path, "alert_spool"))
    assert (report.outcome, report.detail) == (Outcome.IDLE, None)


class _Unsafe:
    def policy(self):
        from halizard.config.effective import UnsafeConfig
        raise UnsafeConfig("SELF_FENCE_WAIT too short")

    def get(self, name):
        return {"MAIL_SCREEN_TIME": "1"}.get(name)


def test_the_ha_refusal_alerts_again_only_after_the_screen_time_on_the_envs_clock(tmp_path):
    env = FakeEnv(tmp_path, "master_cycle")
    assert host_health.policy_or_refusal(env, _Unsafe(), "the master cycle")[0] is None
    env.clock.advance(30)
    host_health.policy_or_refusal(env, _Unsafe(), "the master cycle")
    assert len(env.alerts) == 1 and len(env.log.errors()) == 1
    env.clock.advance(31)
    host_health.policy_or_refusal(env, _Unsafe(), "the master cycle")
    assert len(env.alerts) == 2 and env.alerts[0][0] == "check_ha_enabled"


def test_fake_clock_moves_all_three_clocks():
    clock = FakeClock()
    before = (clock.wall(), clock.monotonic(), clock.boot())
    clock.sleep(2.5)
    assert (clock.wall(), clock.monotonic(), clock.boot()) == tuple(t + 2.5 for t in before)
