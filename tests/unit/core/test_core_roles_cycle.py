import pytest

from core_builders import host, policy, pool
from halizard.core import actions as A
from halizard.core import cycle, health, quorum, roles
from halizard.core.health import HealthVerdict
from halizard.core.model import AUTOPROMOTE_NONE

HEALTHY = health.HEALTHY
FAILED_V = HealthVerdict(health.FAILED, True, "down")
OK_V = HealthVerdict(health.HEALTHY, False, "up")


def test_choose_takeover_healthy_only_and_deterministic():
    pv = pool()
    assert roles.choose_takeover(pv, {"h2": HEALTHY, "h3": HEALTHY}).value == "h2"
    assert roles.choose_takeover(pv, {"h2": health.FAILED, "h3": HEALTHY}).value == "h3"
    assert roles.choose_takeover(pv, {"h2": health.UNKNOWN, "h3": HEALTHY}).value == "h3"
    assert roles.choose_takeover(pv, {}).value == AUTOPROMOTE_NONE
    assert roles.choose_takeover(pv, {"h2": HEALTHY, "h3": HEALTHY}, suspended={"h2"}).value == "h3"
    assert roles.choose_takeover(pv, {"h1": HEALTHY}).value == AUTOPROMOTE_NONE  # the master never


def test_choose_takeover_is_the_smallest_uuid_not_the_stored_one_and_skips_disabled():
    """The slaves compute the same rule when the master is silent (roles.takeover_candidate)."""
    pv = pool(autopromote_uuid="h3")
    assert roles.choose_takeover(pv, {"h2": HEALTHY, "h3": HEALTHY}).value == "h2"
    pv = pool([host("h1", is_master=True), host("h2", enabled=False), host("h3")])
    assert roles.choose_takeover(pv, {"h2": HEALTHY, "h3": HEALTHY}).value == "h3"


@pytest.mark.parametrize("me,auto,verdict,susp,pol,allowed", [
    ("h2", "h2", FAILED_V, False, {}, True),
    ("h2", "h3", FAILED_V, False, {}, False),
    ("h2", "h2", OK_V, False, {}, False),
    ("h2", "h2", HealthVerdict(health.UNKNOWN, False, "1 try"), False, {}, False),
    ("h2", "h2", FAILED_V, True, {}, False),
    ("h2", "h2", FAILED_V, False, {"PROMOTE_SLAVE": 0}, False),
    ("h2", None, FAILED_V, False, {}, False),
])
def test_may_take_over(me, auto, verdict, susp, pol, allowed):
    perm = roles.may_take_over(me, auto, verdict, susp, policy(**pol))
    assert perm.allowed == allowed and perm.why


def test_suspension_and_vm_start_permissions():
    assert roles.suspension_step(True, "healthy").allowed
    assert not roles.suspension_step(True, "failed").allowed
    assert not roles.suspension_step(False, "healthy").allowed
    noq = quorum.compute("h1", ["h1", "h2", "h3"], [], None, policy())
    p = policy()
    assert roles.may_start_vms(True, False, None, False, p).allowed
    assert not roles.may_start_vms(True, True, None, False, p).allowed
    assert not roles.may_start_vms(True, False, None, True, p).allowed
    assert not roles.may_start_vms(False, False, None, False, p).allowed
    assert roles.may_start_vms(False, False, None, False, policy(SLAVE_VM_STAT=1)).allowed
    assert not roles.may_start_vms(True, False, noq, False, p).allowed
    assert roles.may_start_vms(True, False, noq, False, policy(FENCE_QUORUM_REQUIRED=0)).allowed


@pytest.mark.parametrize("kw,proceed,alert", [
    ({"ha_field": "true"}, True, False),
    ({"ha_field": "false"}, False, False),
    ({"ha_field": None}, False, False),
    ({"ha_field": "ture"}, False, True),
    ({"ha_field": "true", "native_ha_enabled": True}, False, True),
])
def test_ha_switch(kw, proceed, alert):
    res = cycle.ha_enabled(pool(**kw), policy())
    assert res.proceed == proceed
    assert any(isinstance(a, A.Alert) for a in res.actions) == alert


def test_master_start_housekeeping():
    pv = pool([host("h1", is_master=True, enabled=False, health_field="healthy"),
               host("h2", health_field="healthy"), host("h3", health_field="failed")])
    verdicts = {"h2": FAILED_V, "h3": OK_V}
    res = cycle.master_start(pv, policy(), "h1", verdicts)
    got = [(a.kind, getattr(a, "host_uuid", getattr(a, "value", None))) for a in res.actions]
    assert got == [("EnableHost", "h1"), ("SetHostHealth", "h1"), ("SetHostHealth", "h2"),
                   ("SetHostHealth", "h3"), ("SetAutopromote", "h3")]
    assert res.proceed


def test_master_start_quiet_when_all_is_in_order_and_unknown_untouched():
    pv = pool(autopromote_uuid="h2")
    verdicts = {"h2": OK_V, "h3": HealthVerdict(health.UNKNOWN, False, "probing")}
    assert cycle.master_start(pv, policy(), "h1", verdicts).actions == ()


def test_slave_start_suspension():
    pv = pool()
    res = cycle.slave_start(pv, policy(), "h2", suspended=True)
    assert res.proceed and [a.kind for a in res.actions] == ["ClearSuspension"]
    pv = pool([host("h1", is_master=True), host("h2", health_field="failed")])
    res = cycle.slave_start(pv, policy(), "h2", suspended=True)
    assert not res.proceed and res.actions == ()
    assert cycle.slave_start(pv, policy(), "h2", suspended=False).proceed
    assert not cycle.slave_start(pool(ha_field="false"), policy(), "h2", suspended=False).proceed


def test_slave_failures_decides_each_enabled_slave():
    from core_builders import down, up
    from halizard.core import fencing
    pv = pool([host("h1", is_master=True), host("h2"), host("h3"), host("h4", enabled=False)])
    q = quorum.compute("h1", ["h1", "h2", "h3"], ["h3"], None, policy(FENCE_METHOD="XVM"))
    out = cycle.slave_failures(pv, policy(FENCE_METHOD="XVM"), "h1", {"h2": down(), "h3": up()}, q, 0.0)
    assert set(out) == {"h2", "h3"}
    assert [a.kind for a in out["h2"].actions] == ["FenceHost"] and out["h3"].actions == ()
    out = cycle.slave_failures(pv, policy(FENCE_METHOD="XVM"), "h1", {"h2": down()}, q, 0.0,
                               {"h2": fencing.FENCE_VERIFIED})
    assert out["h2"].proof == fencing.PROOF_FENCED


def test_a_disabled_host_that_runs_guests_is_watched():
    # failed before (issue 13 finding 7): only enabled slaves were probed and decided, so a disabled host
    # still running VMs (an evacuation that failed half-way) that died kept them Running forever
    from core_builders import down
    pv = pool([host("h1", is_master=True), host("h2"), host("h3", enabled=False, guests=2),
               host("h4", enabled=False)])
    assert cycle.watched_slaves(pv, "h1") == ("h2", "h3")
    q = quorum.compute("h1", ["h1", "h2"], ["h2"], None, policy(FENCE_METHOD="XVM"))
    out = cycle.slave_failures(pv, policy(FENCE_METHOD="XVM"), "h1", {"h3": down()}, q, 0.0)
    assert set(out) == {"h2", "h3"}
    assert [a.kind for a in out["h3"].actions] == ["FenceHost"]


def test_a_disabled_host_does_not_vote():
    pv = pool([host("h1", is_master=True), host("h2"), host("h3", enabled=False, guests=2)])
    assert "h3" in cycle.watched_slaves(pv, "h1")
    q = quorum.compute("h1", [h.uuid for h in pv.hosts if h.enabled], ["h2", "h3"], None, policy())
    assert (q.votes, q.total) == (2, 2)
