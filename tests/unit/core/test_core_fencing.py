import pytest

from core_builders import down, host, policy, pool, up, vm
from halizard.core import actions as A
from halizard.core import fencing, quorum, timing
from halizard.core.model import VdiView

H3 = ["h1", "h2", "h3"]
MAJ = quorum.compute("h1", H3, ["h2"], None, policy())           # 2 of 3
NOQ = quorum.compute("h1", H3, [], None, policy())               # 1 of 3
TIE = quorum.compute("h1", ["h1", "h2"], [], True, policy(FENCE_HEURISTICS_IPS="127.0.0.1"))

XVM = dict(FENCE_METHOD="XVM")


def kinds(actions):
    return [a.kind for a in actions]


def test_gate_table():
    assert not fencing.gate(policy(FENCE_ENABLED=0), MAJ, 3).allowed
    assert not fencing.gate(policy(), NOQ, 3).allowed
    assert fencing.gate(policy(FENCE_QUORUM_REQUIRED=0), NOQ, 3).allowed
    assert not fencing.gate(policy(FENCE_MIN_HOSTS=4), MAJ, 3).allowed
    assert fencing.gate(policy(FENCE_MIN_HOSTS=3), MAJ, 3).allowed
    assert fencing.gate(policy(), TIE, 2).allowed  # default FENCE_MIN_HOSTS=2 lets a 2-host pool fence


def test_deadline_proof_edges():
    p = policy()
    w = timing.recovery_wait(p)
    assert fencing.deadline_proof(down(at=100.0), MAJ, p, 100.0 + w).proven
    pending = fencing.deadline_proof(down(at=100.0), MAJ, p, 100.0 + w - 0.001)
    assert not pending.proven and pending.possible and pending.wait_until == 100.0 + w
    # reachable by network (xapi hung): never proven by deadline
    assert not fencing.deadline_proof(down(at=0, network_ok=True), MAJ, p, 1e9).possible
    # tie-break quorum or no quorum: never
    assert not fencing.deadline_proof(down(at=0), TIE, p, 1e9).possible
    assert not fencing.deadline_proof(down(at=0), NOQ, p, 1e9).possible
    # not failed yet (unknown) or start unknown
    assert not fencing.deadline_proof(down(at=0, tries=1), MAJ, p, 1e9).possible
    assert not fencing.deadline_proof(down(at=None), MAJ, p, 1e9).possible
    assert not fencing.deadline_proof(up(), MAJ, p, 1e9).possible


def dead_pool():
    hs = [host("h1", is_master=True, health_field="master"), host("h2"), host("h3")]
    vms = [vm("v1", power_state="Running", resident_on="h2"), vm("v2", power_state="Running", resident_on="h2"),
           vm("v3", power_state="Running", resident_on="h3"),
           vm("dom0-h2", power_state="Running", resident_on="h2", is_control_domain=True)]
    vdis = (VdiView("d1", ("host_OpaqueRef:h2", "other")), VdiView("d2", ("host_OpaqueRef:h3",)))
    return pool(hs, vms, vdis=vdis)


def test_release_plan_order_and_content():
    acts = fencing.release_plan(dead_pool(), "h2", policy(), fencing.PROOF_FENCED)
    assert kinds(acts) == ["SetHostHealth", "ResetVmPowerState", "ResetVmPowerState", "ClearVdiMarker",
                           "RestartVmsOf"]
    assert {a.vm_uuid for a in acts if isinstance(a, A.ResetVmPowerState)} == {"v1", "v2"}
    clear = [a for a in acts if isinstance(a, A.ClearVdiMarker)][0]
    assert (clear.vdi_uuid, clear.key) == ("d1", "host_OpaqueRef:h2")
    assert all(a.why for a in acts)


def test_release_plan_forget_and_requires_proof():
    acts = fencing.release_plan(dead_pool(), "h2", policy(FENCE_HOST_FORGET=1), fencing.PROOF_DEADLINE)
    assert "ForgetHost" in kinds(acts)
    with pytest.raises(ValueError):
        fencing.release_plan(dead_pool(), "h2", policy(), None)


def decide(pol, probe, q=MAJ, now=0.0, outcome=None):
    return fencing.decide_host_failure(dead_pool(), "h2", probe, q, pol, now, outcome)


def test_not_failed_host_gets_nothing():
    for probe in (None, up(), down(tries=1)):
        d = decide(policy(**XVM), probe)
        assert d.proof is None and d.actions == ()


def test_agent_fences_first_then_releases_on_verified():
    d = decide(policy(**XVM, FENCE_ACTION="reset"), down())
    assert kinds(d.actions) == ["FenceHost"] and d.actions[0].fence_action == "reset" and d.proof is None
    d = decide(policy(**XVM), down(), outcome=fencing.FENCE_VERIFIED)
    assert d.proof == fencing.PROOF_FENCED and kinds(d.actions)[-1] == "RestartVmsOf"


@pytest.mark.parametrize("outcome", [fencing.FENCE_FAILED, fencing.FENCE_UNKNOWN])
def test_failed_fence_without_onfail_never_restarts(outcome):
    d = decide(policy(**XVM, FENCE_HA_ONFAIL=0), down(), now=1e9, outcome=outcome)
    assert d.proof is None and kinds(d.actions) == ["Alert"]


def test_failed_fence_with_onfail_waits_for_deadline_then_restarts():
    p = policy(**XVM, FENCE_HA_ONFAIL=1)
    w = timing.recovery_wait(p)
    d = decide(p, down(at=0.0), now=w - 1, outcome=fencing.FENCE_FAILED)
    assert kinds(d.actions) == ["Wait"] and d.actions[0].until == w
    d = decide(p, down(at=0.0), now=w, outcome=fencing.FENCE_FAILED)
    assert d.proof == fencing.PROOF_DEADLINE and "ResetVmPowerState" in kinds(d.actions)


def test_failed_fence_with_onfail_but_hung_xapi_never_restarts():
    d = decide(policy(**XVM, FENCE_HA_ONFAIL=1), down(network_ok=True), now=1e9, outcome=fencing.FENCE_FAILED)
    assert d.proof is None and kinds(d.actions) == ["Alert"]


def test_gate_refused_agent_follows_onfail():
    d = decide(policy(**XVM), down(), q=NOQ, now=1e9)
    assert d.proof is None and kinds(d.actions) == ["Alert"]
    d = decide(policy(**XVM, FENCE_HA_ONFAIL=1), down(), q=NOQ, now=1e9)
    assert d.proof is None  # no strict majority: no deadline proof either


def test_pool_method_is_deadline_behind_gates():
    p = policy()
    w = timing.recovery_wait(p)
    assert kinds(decide(p, down(at=0.0), now=1.0).actions) == ["Wait"]
    assert decide(p, down(at=0.0), now=w).proof == fencing.PROOF_DEADLINE
    assert kinds(decide(p, down(at=0.0), q=NOQ, now=w).actions) == ["Alert"]
    assert decide(policy(FENCE_MIN_HOSTS=5), down(at=0.0), now=w).proof is None


def test_fencing_disabled_still_recovers_by_deadline():
    p = policy(FENCE_ENABLED=0)
    w = timing.recovery_wait(p)
    assert decide(p, down(at=0.0), now=w).proof == fencing.PROOF_DEADLINE
    assert decide(p, down(at=0.0), now=w - 1).proof is None


def test_two_host_tie_needs_a_verified_fence():
    two = pool([host("h1", is_master=True, health_field="master"), host("h2")],
               [vm("v1", power_state="Running", resident_on="h2")])
    p = policy(FENCE_HEURISTICS_IPS="127.0.0.1", FENCE_HA_ONFAIL=1)
    d = fencing.decide_host_failure(two, "h2", down(), TIE, p, 1e9)
    assert d.proof is None and kinds(d.actions) == ["Alert"]
    px = policy(FENCE_HEURISTICS_IPS="127.0.0.1", FENCE_METHOD="XVM")
    assert kinds(fencing.decide_host_failure(two, "h2", down(), TIE, px, 0).actions) == ["FenceHost"]


def test_bad_arguments():
    with pytest.raises(ValueError):
        decide(policy(), down(), outcome="maybe")
    with pytest.raises(ValueError):
        fencing.decide_host_failure(dead_pool(), "nope", down(), MAJ, policy(), 0)


def test_stale_markers_only_of_proven_dead_hosts():
    pv = dead_pool()
    assert [(a.vdi_uuid, a.key) for a in fencing.stale_markers(pv, ["d1", "d2"], {"h2"})] == [
        ("d1", "host_OpaqueRef:h2")]
    assert fencing.stale_markers(pv, ["d1", "d2"], set()) == ()
    assert fencing.stale_markers(pv, ["d2"], {"h2"}) == ()


@pytest.mark.parametrize("verified,state,expected", [
    (True, "off", fencing.FENCE_VERIFIED), (True, "reset", fencing.FENCE_VERIFIED),
    (True, "on", fencing.FENCE_FAILED), (False, "off", fencing.FENCE_FAILED),
    (False, "unknown", fencing.FENCE_UNKNOWN), (False, "unproven", fencing.FENCE_FAILED),
    (False, "failed", fencing.FENCE_FAILED),
])
def test_outcome_of_agent_result(verified, state, expected):
    assert fencing.outcome_of(verified, state) == expected


def test_a_peer_that_still_reaches_the_host_voids_the_timed_proof():
    # failed before (issue 13 finding 4): only the M-Y link cut, Y keeps 2 of 3 through S and never
    # self-fences, yet M counted the timed wait as proof and restarted Y's VMs: a double run
    three = pool([host("h1", is_master=True, health_field="master"), host("h2", unreached=()),
                  host("h3")], [vm("v1", power_state="Running", resident_on="h3")])
    p = policy()
    w = timing.recovery_wait(p)
    q = quorum.compute("h1", ["h1", "h2", "h3"], ["h2"], None, p)
    seen = fencing.still_seen_by(three, "h3", ["h2"], "h1")
    assert seen == ("h2",)
    d = seen_decision(three, "h3", down(at=0.0), q, p, w, seen)
    assert d.proof is None and kinds(d.actions) == ["Alert"] and "h2" in d.why
    # before the wait is over it still just waits
    assert kinds(seen_decision(three, "h3", down(at=0.0), q, p, 1.0, seen).actions) == ["Wait"]


def seen_decision(view, host_uuid, probe, q, p, now, seen):
    """decide_host_failure as the master's recovery makes it: through unless_still_seen."""
    return fencing.unless_still_seen(fencing.decide_host_failure(view, host_uuid, probe, q, p, now), view, host_uuid,
                                     seen)


def test_the_timed_proof_needs_every_reached_peer_to_say_it_lost_the_host_too():
    def peers(unreached):
        return pool([host("h1", is_master=True), host("h2", unreached=unreached), host("h3")])
    assert fencing.still_seen_by(peers(("h3",)), "h3", ["h2"], "h1") == ()
    assert fencing.still_seen_by(peers(None), "h3", ["h2"], "h1") == ("h2",), "published nothing: unknown"
    assert fencing.still_seen_by(peers(()), "h3", ["h2"], "h1") == ("h2",)
    assert fencing.still_seen_by(peers(()), "h3", [], "h1") == (), "a peer out of reach is not asked"
    p = policy()
    q = quorum.compute("h1", ["h1", "h2", "h3"], ["h2"], None, p)
    d = seen_decision(peers(("h3",)), "h3", down(at=0.0), q, p, timing.recovery_wait(p), ())
    assert d.proof == fencing.PROOF_DEADLINE


def test_the_published_view_of_unreached_peers_reads_back():
    from halizard.core.model import UNREACHED_KEY, unreached_of, unreached_value
    assert unreached_of({UNREACHED_KEY: unreached_value(["b", "a"])}) == ("a", "b")
    assert unreached_of({UNREACHED_KEY: unreached_value([])}) == ()
    assert unreached_of({}) is None and unreached_of({UNREACHED_KEY: ""}) is None
