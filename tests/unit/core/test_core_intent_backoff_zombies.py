from core_builders import host, policy, pool, vm
from halizard.core import backoff, intent, zombies
from halizard.core.intent import IntentState, VmEvent


def run(events, own=frozenset(), state=IntentState()):
    return intent.fold(state, [VmEvent(*e) for e in events], own)


def test_operator_shutdown_is_remembered():
    s = run([("v1", "Running", ("clean_shutdown",)), ("v1", "Halted", ())])
    assert s.operator_stopped == {"v1"} and s.stop_pending == frozenset()


def test_stop_op_seen_on_the_halted_event_itself():
    assert run([("v1", "Halted", ("hard_shutdown",))]).operator_stopped == {"v1"}


def test_crash_or_guest_shutdown_is_not_an_operator_stop():
    assert run([("v1", "Running", ()), ("v1", "Halted", ())]).operator_stopped == frozenset()


def test_started_again_forgets_the_stop():
    s = run([("v1", "Halted", ("clean_shutdown",))])
    assert run([("v1", "Running", ("start",))], state=s).operator_stopped == frozenset()
    assert intent.started_by_operator(s, "v1").operator_stopped == frozenset()


def test_cancelled_shutdown_then_crash_is_a_crash():
    s = run([("v1", "Running", ("clean_shutdown",)), ("v1", "Running", ()), ("v1", "Halted", ())])
    assert s.operator_stopped == frozenset()


def test_our_own_stops_are_not_operator_intent():
    s = run([("v1", "Running", ("hard_shutdown",)), ("v1", "Halted", ())], own={"v1"})
    assert s.operator_stopped == frozenset()


def test_pending_survives_between_folds():
    s = run([("v1", "Running", ("clean_shutdown",))])
    assert s.stop_pending == {"v1"}
    assert run([("v1", "Halted", ())], state=s).operator_stopped == {"v1"}


def test_backoff_exponential_capped_and_alerts_once():
    p = policy(VM_START_RETRY_BASE=5, VM_START_RETRY_CAP=60, VM_START_RETRY_ALERT_AFTER=3)
    state, alerts, delays = None, [], []
    now = 0.0
    for _ in range(8):
        state, alert = backoff.after_failure(state, now, p, "vm1", "HOST_NOT_ENOUGH_FREE_MEMORY")
        delays.append(state.next_attempt_at - now)
        if alert:
            alerts.append(alert)
        assert not state.ready(now) and state.ready(state.next_attempt_at)
        now = state.next_attempt_at
    assert delays == [5, 10, 20, 40, 60, 60, 60, 60]
    assert len(alerts) == 1 and "3 times" in alerts[0].text and "HOST_NOT_ENOUGH_FREE_MEMORY" in alerts[0].text
    assert backoff.delay_for(10 ** 6, p) == 60 and backoff.delay_for(0, p) == 0


def test_zombies():
    pv = pool(vms=[
        vm("z", power_state="Running", resident_on="h2"),                    # elsewhere: zombie
        vm("m", power_state="Running", resident_on="h2", current_operations=("pool_migrate",)),
        vm("here", power_state="Running", resident_on="h1"),                 # ours
        vm("halted"),                                                         # not resident anywhere
        vm("dom0", power_state="Running", resident_on="h2", is_control_domain=True),
    ])
    out = zombies.find(pv, "h1", ["z", "m", "here", "halted", "dom0", "unknown-uuid"])
    assert [a.vm_uuid for a in out] == ["z"] and "h2" in out[0].why


def test_no_zombies_without_local_domains():
    assert zombies.find(pool(hosts=[host("h1", is_master=True)], vms=[]), "h1", []) == ()


def test_intent_state_round_trip_and_garbage():
    s = run([("v1", "Halted", ("clean_shutdown",)), ("v2", "Running", ("hard_shutdown",))])
    assert intent.from_plain(intent.to_plain(s)) == s
    for junk in (None, [], {"operator_stopped": "v1"}, {"operator_stopped": [1]}):
        assert intent.from_plain(junk) == IntentState()
