"""The self_fence job on the fake Env: its loop paces itself on the Env's clocks, it reads the pool
view, configuration and host identity through the Env, acts through the Env's platform and XAPI
session, and each run returns one Report."""
from fake_env import FakeEnv

from halizard.config import schema
from halizard.jobs import self_fence
from halizard.jobs.base import Outcome

HA_KEY = schema.xc_field_key(schema.PARAMETERS["XC_FIELD_NAME"].default)
HOSTS = [{"uuid": u, "address": "127.0.0.1", "enabled": True} for u in ("h1", "h2", "h3")]


def _env(tmp_path, deadline_in=5.0, ha="true"):
    env = FakeEnv(tmp_path, "self_fence")
    env.cached = ("pool-1", {HA_KEY: ha})
    env.deadline = env.clock.wall() + deadline_in
    return env


def test_ha_off_the_run_checks_every_interval_on_the_envs_clock_and_ends_before_its_deadline(tmp_path):
    env = _env(tmp_path, ha="false")
    report = self_fence.run(env)
    assert report.outcome is Outcome.IDLE and report.text == "4 self-fence check(s): HA is disabled"
    assert env.clock.slept == [1.0, 1.0, 1.0]   # SELF_FENCE_CHECK_INTERVAL, no real sleep
    assert env.clock.wall() < env.deadline - self_fence.END_MARGIN


def test_without_a_pool_view_nothing_is_judged(tmp_path):
    report = self_fence.run(_env(tmp_path, deadline_in=2.0))
    assert report.outcome is Outcome.SKIPPED and "no pool view" in report.text


def test_a_whole_pool_is_not_isolated(tmp_path, monkeypatch):
    env = _env(tmp_path, deadline_in=2.0)
    env.state.write("pool-view", {"hosts": HOSTS})
    env.platform.domains = {"vm-a"}
    monkeypatch.setattr(self_fence, "_probe_all", lambda platform, policy, peers, seconds: (
        {u: True for u, _address in peers}, None))
    report = self_fence.run(env)
    assert report.outcome is Outcome.QUIET and report.text.endswith(": not isolated")
    assert env.platform.destroyed == [] and env.sessions == []


def test_a_master_cut_off_from_the_pool_stops_its_vms_and_disables_itself_through_the_env(tmp_path, monkeypatch):
    env = _env(tmp_path, deadline_in=12.0)
    env.state.write("pool-view", {"hosts": HOSTS})
    env.platform.domains = {"vm-a", "vm-b"}
    env.answers = {"host.get_by_uuid": "OpaqueRef:h1", "host.disable": None}
    monkeypatch.setattr(self_fence, "_probe_all", lambda platform, policy, peers, seconds: (
        {u: False for u, _address in peers}, None))
    report = self_fence.run(env)
    assert report.outcome is Outcome.DONE and "self-fenced" in report.text
    assert sorted(env.platform.destroyed) == ["vm-a", "vm-b"]
    stored = env.state.read(self_fence.STATE)
    # quorum lost in XAPI_COUNT=2 checks: the self-fence began at the second, on the Env's boot clock
    assert stored["stopping_since"] == 500.0 + 1.0 and stored["boot"] == "boot-1"
    assert stored["disabled_self"] is True
    assert [c[0] for c in env.sessions[0].calls] == ["host.get_by_uuid", "host.disable"]
    assert env.state.read(self_fence.host.SUSPENDED_FLAG)["since"] == 1800000000.0 + 1.0


def test_a_check_that_keeps_failing_is_said_once_and_the_report_says_it(tmp_path, monkeypatch):
    env = _env(tmp_path, deadline_in=3.0)

    def broken(env, reader, stored):
        raise OSError("disk on fire")
    monkeypatch.setattr(self_fence, "check", broken)
    report = self_fence.run(env)
    assert report.outcome is Outcome.DEGRADED and report.text.endswith("the last failed: OSError: disk on fire")
    assert len(env.log.at("ERROR")) == 1


def test_one_slow_probe_after_a_long_harmless_quorum_loss_does_not_self_fence(tmp_path, monkeypatch):
    # failed before: the checks counted every round without quorum, also those whose unreached side
    # could not win either (an exact tie), so after a long tie one slow probe found the count at
    # XAPI_COUNT already and the VMs were stopped at once
    hosts = HOSTS + [{"uuid": "h4", "address": "127.0.0.1", "enabled": True}]
    env = _env(tmp_path, deadline_in=40.0)
    env.state.write("pool-view", {"hosts": hosts})
    env.platform.domains = {"vm-a"}
    rounds = iter([{"h2"}] * 5 + [set()] + [{"h2"}] * 5)   # a tie for 5 checks, then one slow probe of h2

    def probe(platform, policy, peers, seconds):
        reached = next(rounds, {"h2"})
        return {u: u in reached for u, _address in peers}, None
    monkeypatch.setattr(self_fence, "_probe_all", probe)
    self_fence.run(env)
    assert env.platform.destroyed == [], "a single slow probe stopped the VMs"
    assert self_fence.is_self_fencing(env.state) is False


def test_a_threatening_quorum_loss_after_a_tie_still_self_fences_in_xapi_count_checks(tmp_path, monkeypatch):
    hosts = HOSTS + [{"uuid": "h4", "address": "127.0.0.1", "enabled": True}]
    env = _env(tmp_path, deadline_in=40.0)
    env.state.write("pool-view", {"hosts": hosts})
    env.platform.domains = {"vm-a"}
    rounds = iter([{"h2"}] * 3)   # a tie for 3 checks, then nobody answers for good

    def probe(platform, policy, peers, seconds):
        reached = next(rounds, set())
        return {u: u in reached for u, _address in peers}, None
    monkeypatch.setattr(self_fence, "_probe_all", probe)
    self_fence.run(env)
    stored = env.state.read(self_fence.STATE)
    assert env.platform.destroyed == ["vm-a"]
    assert stored["stopping_since"] == 500.0 + 4.0   # the 5th check: the 2nd in a row that threatened
