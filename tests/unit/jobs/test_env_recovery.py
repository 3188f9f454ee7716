"""slave_recovery on the fake Env: the proof of death on the Env's boot clock, the restart's group
delays on its sleep, the journal's times, alerts through the Env, the refusal of an unsafe configuration.

Why: a recovery restarts VMs only when their host is proven dead; the interval that proves it must be
the Env's boot clock (a wall-clock step proves nothing), and everything the recovery records or says
must go through the Env, so the same code runs on a dom0, in the simulator and here.
"""
from fake_env import FakeEnv

from halizard.config.effective import policy_of
from halizard.core import fencing, timing
from halizard.core.health import FAILED, HealthVerdict, ProbeResult
from halizard.core.model import RUNNING, HostView, PoolView, VmView
from halizard.core.quorum import QuorumResult
from halizard.jobs import slave_recovery
from halizard.ops import journal

MAJORITY = QuorumResult(2, 3, True, False, False, "2 of 3 hosts reachable")
MINORITY = QuorumResult(1, 3, False, False, True, "1 of 3 hosts reachable")
GIB = 1 << 30


def _pool(h3_unreached=("h2",)):
    hosts = (HostView("h1", "host1", ref="OpaqueRef:h1", is_master=True, health_field="master", memory_free=16 * GIB),
             HostView("h2", "host2", ref="OpaqueRef:h2", health_field="healthy", memory_free=16 * GIB),
             HostView("h3", "host3", ref="OpaqueRef:h3", health_field="healthy", memory_free=16 * GIB,
                      unreached=h3_unreached))
    vms = (VmView("v1", "vm1", power_state=RUNNING, resident_on="h2", ha_field="true", home_pool="pool-1",
                  memory=GIB, order=1, start_delay=9),
           VmView("v2", "vm2", power_state=RUNNING, resident_on="h2", ha_field="true", home_pool="pool-1",
                  memory=GIB, order=2))
    return PoolView("pool-1", "h1", hosts, vms=vms, ha_field="true")


def _recovery(env, pool, quorum, probes, pool_config=None):
    env.pool_config = dict({"HA_FENCE_ENABLED": "0"}, **(pool_config or {}))
    config = env.effective()
    policy = policy_of(config) if config.unsafe else config.policy()

    def no_agent():
        raise AssertionError("FENCE_ENABLED=0 calls no agent")
    env.answers = {"VM.get_by_uuid": lambda uuid: "OpaqueRef:" + uuid, "VM.start_on": ""}
    cycle = slave_recovery.Cycle(pool, policy, probes, quorum, {"h1", "h3"}, env.clock.wall())
    return slave_recovery.Recovery(env, env.connect(), config, cycle, agent_factory=no_agent)


def test_the_proof_of_death_is_timed_on_the_envs_boot_clock_and_voided_by_a_peer_that_still_sees_it(tmp_path):
    env = FakeEnv(tmp_path, "master_cycle")
    probe = ProbeResult(tries=2, xapi_ok=False, network_ok=False, first_failure_at=env.clock.boot())
    rec = _recovery(env, _pool(), MAJORITY, {"h2": probe, "h3": ProbeResult(tries=1, xapi_ok=True)})
    assert rec.decide("h2", probe, None).proof is None   # the self-fence wait has not passed
    env.clock.advance(timing.recovery_wait(rec.policy))
    assert rec.decide("h2", probe, None).proof == fencing.PROOF_DEADLINE   # h3 published that it lost h2 too
    rec.pool = _pool(h3_unreached=())   # h3 reaches h2 still: h2 keeps quorum through it, no proof
    decision = rec.decide("h2", probe, None)
    assert decision.proof is None and "may still be reached by h3" in decision.why


def test_a_host_that_cannot_be_proven_dead_alerts_through_the_env_and_journals_when_it_failed(tmp_path):
    env = FakeEnv(tmp_path, "master_cycle")
    failed_at_wall = env.clock.wall()
    probe = ProbeResult(tries=2, xapi_ok=False, network_ok=False, first_failure_at=env.clock.boot())
    env.clock.advance(30)
    rec = _recovery(env, _pool(), MINORITY, {"h2": probe})
    outcome, entry, text = rec.handle("h2", None, None)
    assert (outcome, entry) == (None, None) and "no strict majority" in text
    assert [(f, o["session"]) for f, _t, o in env.alerts] == [("fence_host", rec.session)]
    failed = [e for e in journal.read(env.state)[0] if e["kind"] == "host-failed"]
    assert [e["at"] for e in failed] == [failed_at_wall]   # the failure's start, not the decision's time


def test_the_restart_starts_group_after_group_with_the_delay_on_the_envs_clock(tmp_path):
    env = FakeEnv(tmp_path, "master_cycle")
    rec = _recovery(env, _pool(), MAJORITY, {})
    text = rec.restart(["v1", "v2"], halted={"v1", "v2"})
    assert text == "every VM of the host runs again"
    assert env.clock.slept == [9]
    assert [c[0] for c in rec.session.calls if c[0] == "VM.start_on"] == ["VM.start_on"] * 2
    restarted = [e for e in journal.read(env.state)[0] if e["kind"] == "vm-restarted"]
    assert [e["at"] for e in restarted] == [env.clock.wall() - 9, env.clock.wall()]


def test_an_unsafe_configuration_fences_and_restarts_nothing(tmp_path):
    env = FakeEnv(tmp_path, "master_cycle")
    probe = ProbeResult(tries=2, xapi_ok=False, network_ok=False, first_failure_at=0.0)
    rec = _recovery(env, _pool(), MAJORITY, {"h2": probe}, {"HA_SELF_FENCE_WAIT": "1"})
    assert rec.config.unsafe
    report = slave_recovery.recover_failed(rec, {"h2": HealthVerdict(FAILED, False, "silent in 2 tries")})
    assert list(report) == ["h2"] and report["h2"].startswith("not fenced, nothing restarted")
    assert rec.session.calls == [] and env.log.errors() and "refused" in env.log.errors()[0]
