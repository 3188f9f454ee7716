"""The master-failure sequence from every intermediate state."""

import pytest

from core_builders import down, host, policy, pool, up, vm
from halizard.core import actions as A
from halizard.core import fencing, quorum, timing
from halizard.core import takeover as T
from halizard.core.model import VdiView

H3 = ["h1", "h2", "h3"]
XVM = policy(FENCE_METHOD="XVM")
MAJ = quorum.compute("h2", H3, ["h3"], None, XVM)
NOQ = quorum.compute("h2", H3, [], None, XVM)


def the_pool():
    hs = [host("h1", is_master=True, health_field="master"), host("h2"), host("h3")]
    vms = [vm("m1", power_state="Running", resident_on="h1"), vm("s1", power_state="Running", resident_on="h3")]
    return pool(hs, vms, vdis=(VdiView("d1", ("host_OpaqueRef:h1",)),), autopromote_uuid="h2")


def inputs(probe=None, q=MAJ, auto="h2", suspended=False, me="h2"):
    return T.TakeoverInputs(self_uuid=me, pool=the_pool(), master_probe=probe if probe else down(at=0.0),
                            quorum=q, autopromote=auto, suspended=suspended)


def kinds(step):
    return [a.kind for a in step.actions]


def walk_to(phase, pol=XVM, q=MAJ):
    """Drive the sequence to `phase` the normal way (verified fence), returning the state."""
    inp = inputs(q=q)
    s = T.step(T.TakeoverState(), inp, pol, 0.0)
    order = [(T.FENCING, None), (T.TRANSITION, fencing.FENCE_VERIFIED), (T.AWAIT_MASTER, T.OK),
             (T.RECOVER_SLAVES, T.OK), (T.RELEASE, T.OK), (T.RESTART, T.OK), (T.DONE, T.OK)]
    for want, outcome in order:
        if outcome is not None:
            s = T.step(s.state, inp, pol, 1.0, outcome)
        assert s.state.phase == want, (want, s.why)
        if want == phase:
            return s
    raise AssertionError(phase)


def test_full_sequence_actions_in_order():
    assert kinds(walk_to(T.FENCING)) == ["FenceHost"]
    assert walk_to(T.FENCING).actions[0].fence_action == "stop"
    assert walk_to(T.FENCING).actions[0].host_uuid == "h1"
    assert kinds(walk_to(T.TRANSITION)) == ["EmergencyTransition"]
    assert walk_to(T.TRANSITION).state.proof == fencing.PROOF_FENCED
    assert kinds(walk_to(T.AWAIT_MASTER)) == ["WaitUntilMaster"]
    assert kinds(walk_to(T.RECOVER_SLAVES)) == ["RecoverSlaves"]
    rel = walk_to(T.RELEASE)
    assert kinds(rel) == ["SetHostHealth", "ResetVmPowerState", "ClearVdiMarker"]
    assert rel.actions[1].vm_uuid == "m1"
    assert kinds(walk_to(T.RESTART)) == ["RestartVmsOf"]
    assert walk_to(T.DONE).actions == ()


def test_fence_action_for_master_is_always_stop():
    s = T.step(T.TakeoverState(), inputs(), policy(FENCE_METHOD="XVM", FENCE_ACTION="reset"), 0.0)
    assert s.actions[0].fence_action == "stop"


@pytest.mark.parametrize("phase", [T.FENCING, T.TRANSITION, T.AWAIT_MASTER, T.RECOVER_SLAVES, T.RELEASE,
                                   T.RESTART])
def test_no_outcome_yet_means_no_new_action(phase):
    s = walk_to(phase)
    again = T.step(s.state, inputs(), XVM, 2.0, None)
    assert again.state == s.state and again.actions == ()


@pytest.mark.parametrize("kw,why", [
    (dict(auto="h3"), "not the takeover slave"),
    (dict(suspended=True), "suspended"),
    (dict(probe=up()), "not failed"),
    (dict(probe=down(tries=1)), "not failed"),
    (dict(q=NOQ), "quorum"),
])
def test_idle_stays_idle(kw, why):
    s = T.step(T.TakeoverState(), inputs(**kw), XVM, 0.0)
    assert s.state.phase == T.IDLE and s.actions == () and why in s.why


def test_promote_slave_off():
    s = T.step(T.TakeoverState(), inputs(), policy(FENCE_METHOD="XVM", PROMOTE_SLAVE=0), 0.0)
    assert s.state.phase == T.IDLE


@pytest.mark.parametrize("phase", [T.FENCING, T.AWAIT_DEADLINE, T.TIE_WAIT])
def test_master_back_aborts_before_transition(phase):
    s = T.step(T.TakeoverState(phase=phase, master_uuid="h1"), inputs(probe=up()), XVM, 5.0)
    assert s.state == T.TakeoverState() and s.actions == ()


@pytest.mark.parametrize("phase", [T.TRANSITION, T.AWAIT_MASTER, T.RECOVER_SLAVES, T.RELEASE])
def test_no_way_back_after_transition(phase):
    s = walk_to(phase)
    again = T.step(s.state, inputs(probe=up()), XVM, 5.0, None)
    assert again.state.phase == phase


@pytest.mark.parametrize("outcome", [fencing.FENCE_FAILED, fencing.FENCE_UNKNOWN])
def test_fence_fails_no_onfail_suspend_and_reboot_once(outcome):
    s = walk_to(T.FENCING)
    s = T.step(s.state, inputs(), XVM, 1.0, outcome)
    assert s.state.phase == T.SUSPENDED and kinds(s) == ["Alert", "SuspendSelf", "RebootSelf"]
    assert T.step(s.state, inputs(), XVM, 2.0).actions == ()
    # after the reboot the host is suspended: it never acts again by itself
    assert T.step(T.TakeoverState(), inputs(suspended=True), XVM, 3.0).actions == ()


def test_fence_fails_with_onfail_waits_for_deadline_when_provable():
    pol = policy(FENCE_METHOD="XVM", FENCE_HA_ONFAIL=1)
    w = timing.recovery_wait(pol)
    s = T.step(T.TakeoverState(), inputs(), pol, 0.0)
    s = T.step(s.state, inputs(), pol, 1.0, fencing.FENCE_FAILED)
    assert s.state.phase == T.AWAIT_DEADLINE and kinds(s) == ["Wait"] and s.actions[0].until == w
    s2 = T.step(s.state, inputs(), pol, w - 0.5)
    assert s2.state.phase == T.AWAIT_DEADLINE
    s3 = T.step(s.state, inputs(), pol, w)
    assert s3.state.phase == T.TRANSITION and s3.state.proof == fencing.PROOF_DEADLINE


def test_fence_fails_with_onfail_but_master_reachable_suspends():
    pol = policy(FENCE_METHOD="XVM", FENCE_HA_ONFAIL=1)
    hung = down(at=0.0, network_ok=True)  # xapi hung, host up: only a fence could prove death
    s = T.step(T.TakeoverState(), inputs(probe=hung), pol, 0.0)
    s = T.step(s.state, inputs(probe=hung), pol, 1.0, fencing.FENCE_FAILED)
    assert s.state.phase == T.SUSPENDED


def test_fencing_disabled_recovers_master_by_deadline():
    pol = policy(FENCE_ENABLED=0)
    w = timing.recovery_wait(pol)
    s = T.step(T.TakeoverState(), inputs(), pol, 10.0)
    assert s.state.phase == T.AWAIT_DEADLINE and kinds(s) == ["Wait"]
    s = T.step(s.state, inputs(), pol, w)
    assert s.state.phase == T.TRANSITION and kinds(s) == ["EmergencyTransition"]


def test_fencing_disabled_hung_master_is_never_taken_over():
    pol = policy(FENCE_ENABLED=0)
    s = T.step(T.TakeoverState(), inputs(probe=down(at=0.0, network_ok=True)), pol, 1e9)
    assert s.state.phase == T.IDLE and kinds(s) == ["Alert"]
    assert not any(isinstance(a, A.EmergencyTransition) for a in s.actions)


def test_tie_break_quorum_waits_before_fencing():
    pol = policy(FENCE_METHOD="XVM", FENCE_HEURISTICS_IPS="127.0.0.1")
    tie = quorum.compute("h2", ["h1", "h2"], [], True, pol)
    two = pool([host("h1", is_master=True), host("h2")], autopromote_uuid="h2")
    inp = T.TakeoverInputs("h2", two, down(at=0.0), tie, "h2")
    s = T.step(T.TakeoverState(), inp, pol, 0.0)
    assert s.state.phase == T.TIE_WAIT and kinds(s) == ["Wait"]
    assert s.actions[0].until == T.tie_fence_delay(pol)
    assert T.step(s.state, inp, pol, 1.0).state.phase == T.TIE_WAIT
    s = T.step(s.state, inp, pol, T.tie_fence_delay(pol))
    assert s.state.phase == T.FENCING and kinds(s) == ["FenceHost"]


def test_transition_or_master_wait_failure_alerts_and_stops():
    s = walk_to(T.TRANSITION)
    f = T.step(s.state, inputs(), XVM, 2.0, T.NOT_OK)
    assert f.state.phase == T.FAILED and kinds(f) == ["Alert"]
    s = walk_to(T.AWAIT_MASTER)
    f = T.step(s.state, inputs(), XVM, 2.0, T.NOT_OK)
    assert f.state.phase == T.FAILED and kinds(f) == ["Alert"]
    assert T.step(f.state, inputs(), XVM, 3.0).actions == ()


def test_recover_slaves_retries_then_releases_with_alert():
    s = walk_to(T.RECOVER_SLAVES)
    for n in range(2, T.RECOVER_ATTEMPTS + 1):
        s = T.step(s.state, inputs(), XVM, 2.0, T.NOT_OK)
        assert s.state.phase == T.RECOVER_SLAVES and s.actions[0].attempt == n
    s = T.step(s.state, inputs(), XVM, 2.0, T.NOT_OK)
    assert s.state.phase == T.RELEASE and kinds(s)[0] == "Alert" and "ResetVmPowerState" in kinds(s)


def test_release_failure_retries_and_slave_ha_off_ends_without_restart():
    s = walk_to(T.RELEASE)
    again = T.step(s.state, inputs(), XVM, 2.0, T.NOT_OK)
    assert again.state.phase == T.RELEASE and "ResetVmPowerState" in kinds(again)
    pol = policy(FENCE_METHOD="XVM", SLAVE_HA=0)
    done = T.step(s.state, inputs(), pol, 2.0, T.OK)
    assert done.state.phase == T.DONE and done.actions == ()


def test_unknown_phase_is_an_error():
    with pytest.raises(ValueError):
        T.step(T.TakeoverState(phase="bogus"), inputs(), XVM, 0.0)


def test_tie_wait_rechecks_quorum_and_role_before_fencing():
    pol = policy(FENCE_METHOD="XVM", FENCE_HEURISTICS_IPS="127.0.0.1")
    two = pool([host("h1", is_master=True), host("h2")], autopromote_uuid="h2")
    lost = quorum.compute("h2", ["h1", "h2"], [], False, pol)
    st = T.TakeoverState(phase=T.TIE_WAIT, master_uuid="h1", wait_until=5.0)
    s = T.step(st, T.TakeoverInputs("h2", two, down(at=0.0), lost, "h2"), pol, 6.0)
    assert s.state.phase == T.IDLE and s.actions == () and "quorum" in s.why
    tie = quorum.compute("h2", ["h1", "h2"], [], True, pol)
    s = T.step(st, T.TakeoverInputs("h2", two, down(at=0.0), tie, "h2", suspended=True), pol, 6.0)
    assert s.state.phase == T.IDLE and s.actions == ()


def test_pool_method_takes_over_by_deadline_without_an_agent_call():
    pol = policy()  # FENCE_METHOD=POOL
    w = timing.recovery_wait(pol)
    s = T.step(T.TakeoverState(), inputs(), pol, 1.0)
    assert s.state.phase == T.AWAIT_DEADLINE and kinds(s) == ["Wait"]
    s = T.step(s.state, inputs(), pol, w)
    assert s.state.phase == T.TRANSITION and s.state.proof == fencing.PROOF_DEADLINE


def test_two_host_pool_fencing_tie_alerts_without_suspending():
    pol = policy(FENCE_HEURISTICS_IPS="127.0.0.1", FENCE_HA_ONFAIL=1)
    tie = quorum.compute("h2", ["h1", "h2"], [], True, pol)
    two = pool([host("h1", is_master=True), host("h2")], autopromote_uuid="h2")
    s = T.step(T.TakeoverState(), T.TakeoverInputs("h2", two, down(at=0.0), tie, "h2"), pol, 1e9)
    assert s.state.phase == T.IDLE and kinds(s) == ["Alert"]


def test_state_round_trip_and_garbage():
    for phase in (T.FENCING, T.RELEASE, T.DONE):
        st = walk_to(phase).state
        assert T.state_from_plain(T.state_to_plain(st)) == st
    for junk in (None, {"phase": "x"}, {"phase": T.IDLE, "recover_attempts": "2"},
                 {"phase": T.IDLE, "fence_outcome": "maybe"}, {"phase": T.IDLE, "proof": "hope"}):
        with pytest.raises(ValueError):
            T.state_from_plain(junk)
