"""Proofs of death have an age and end with the failure they belong to.

The master's real probe round (host_health.probe_peers: real TCP and login probes to closed loopback
ports) and its real recovery bookkeeping (slave_recovery.recover_failed) on a real state store.
"""
import types

from halizard.core import health
from halizard.core.policy import Policy
from halizard.core.model import HostView, PoolView
from halizard.jobs import host_health, master_watch, slave_recovery
from halizard.platform.base import ProbeTarget
from halizard.probes import clock
from halizard.statefiles import StateStore

POLICY = Policy(XE_TIMEOUT=1, XAPI_COUNT=1, XAPI_DELAY=0, MONITOR_DELAY=2)


class Closed:
    def source_address(self):
        return None

    def probe_target(self, address):
        return ProbeTarget(address="127.0.0.1", method="tcp", port=9, expect=b"")


def _streak(state, started, observed):
    state.write(host_health.PROBES_STATE, {"h2": {"tries": 1, "xapi_ok": False, "network_ok": False,
                                                  "first_failure_at": started, "observed_at": observed}})


def test_a_streak_from_long_ago_proves_nothing_now(tmp_path):
    # failed before: the failure start of a streak seen 15 minutes ago (HA off meanwhile) was carried,
    # so the self-fence wait counted as passed at the first failed round after HA came back
    state = StateStore(str(tmp_path))
    _streak(state, clock.now() - 1000, clock.now() - 900)
    results, _raw = host_health.probe_peers(Closed(), [("h2", "127.0.0.1:9")], POLICY, state)
    assert results["h2"].network_ok is False
    assert results["h2"].first_failure_at > clock.now() - 10, "a new streak starts"


def test_a_streak_of_the_last_round_goes_on(tmp_path):
    state = StateStore(str(tmp_path))
    started = clock.now() - 20
    _streak(state, started, clock.now() - 3)
    results, _raw = host_health.probe_peers(Closed(), [("h2", "127.0.0.1:9")], POLICY, state)
    assert results["h2"].first_failure_at == started
    assert state.read(host_health.PROBES_STATE)["h2"]["observed_at"] is not None


def test_a_fence_outcome_and_recovery_end_with_the_failure(tmp_path):
    # failed before: only a healthy verdict cleared them; a host judged unknown (e.g. rebooting after a
    # reset) kept its old verified fence and recovery, re-run at its next failed round
    state = StateStore(str(tmp_path))
    state.write(slave_recovery.OUTCOMES_STATE, {"h2": "verified", "h3": "verified"})
    state.write(slave_recovery.RECOVERY_STATE, {"h2": {"proof": "fenced", "at": 1.0, "vms": ["v"]},
                                                "h3": {"proof": "fenced", "at": 1.0, "vms": ["w"]}})
    verdicts = {"h2": health.HealthVerdict(health.UNKNOWN, False, "1 of 2 tries"),
                "h3": health.HealthVerdict(health.HEALTHY, False, "answered")}
    slave_recovery.recover_failed(types.SimpleNamespace(state=state), verdicts)
    assert state.read(slave_recovery.OUTCOMES_STATE) == {}
    assert state.read(slave_recovery.RECOVERY_STATE) == {}


WATCHED = PoolView(uuid="p", master_uuid="m", hosts=(HostView(uuid="m", address="127.0.0.1:9", is_master=True),
                                                     HostView(uuid="s", address="127.0.0.1:9")))


def _master_round(tmp_path, started, observed):
    """The takeover slave's real round of its master (master_watch) after a stored streak."""
    state = StateStore(str(tmp_path))
    state.write(master_watch.PROBES, {"m": {"tries": 1, "xapi_ok": False, "network_ok": False,
                                            "first_failure_at": started, "observed_at": observed}})
    results, _raw = master_watch._probe_round(types.SimpleNamespace(state=state), Closed(), WATCHED, "s", POLICY)
    return state, results["m"]


def test_a_master_streak_from_long_ago_proves_nothing_now(tmp_path):
    # failed before: master_watch carried any streak start across any gap (no age), so a master that was
    # silent 15 minutes ago (HA off meanwhile) counted as silent for the whole 15 minutes
    _state, probe = _master_round(tmp_path, clock.now() - 1000, clock.now() - 900)
    assert probe.network_ok is False
    assert probe.first_failure_at > clock.now() - 10, "a new streak starts"


def test_a_master_streak_without_an_age_proves_nothing(tmp_path):
    # failed before: a stored round without observed_at (written by the old version) was carried
    _state, probe = _master_round(tmp_path, clock.now() - 1000, None)
    assert probe.first_failure_at > clock.now() - 10


def test_a_master_streak_of_the_last_round_goes_on(tmp_path):
    started = clock.now() - 20
    state, probe = _master_round(tmp_path, started, clock.now() - 3)
    assert probe.first_failure_at == started
    assert state.read(master_watch.PROBES)["m"]["observed_at"] is not None


def test_a_slave_publishes_the_peers_its_self_fence_check_does_not_reach(tmp_path):
    # the value master_watch writes into the host record (model.UNREACHED_KEY) for fencing.still_seen_by
    from halizard.jobs import self_fence
    state = StateStore(str(tmp_path))
    assert master_watch._unreached(state) is None, "no check yet: nothing to publish (unknown)"
    state.write(self_fence.STATE, {"boot": clock.boot_id(), "unreached": ["h3", "h2"]})
    assert master_watch._unreached(state) == "h2,h3"
    state.write(self_fence.STATE, {"boot": clock.boot_id(), "unreached": []})
    assert master_watch._unreached(state) == "none"
    state.write(self_fence.STATE, {"boot": "another-boot", "unreached": ["h3"]})
    assert master_watch._unreached(state) is None, "a check of another boot says nothing now"
