import pytest

from core_builders import GIB, POOL, host, policy, pool, vm
from halizard.core import actions as A
from halizard.core import vm_plan
from halizard.core.backoff import RetryState
from halizard.core.model import ApplianceView


def reason(plan, uuid):
    return plan.status_of(uuid).reason


@pytest.mark.parametrize("kw,pol,expected,protected", [
    ({"is_control_domain": True}, {}, vm_plan.Reason.CONTROL_DOMAIN, False),
    ({"is_a_template": True}, {}, vm_plan.Reason.TEMPLATE, False),
    ({"is_a_snapshot": True}, {}, vm_plan.Reason.SNAPSHOT, False),
    ({"power_state": "Running", "resident_on": "h1"}, {}, vm_plan.Reason.RUNNING_OK, True),
    ({"power_state": "Suspended"}, {}, vm_plan.Reason.NOT_HALTED, True),
    ({"power_state": "Paused", "resident_on": "h2"}, {}, vm_plan.Reason.NOT_HALTED, True),
    ({"current_operations": ("start",)}, {}, vm_plan.Reason.OPERATION_IN_PROGRESS, True),
    ({"home_pool": None}, {}, vm_plan.Reason.HOME_POOL_MISSING, True),
    ({"home_pool": "other-pool"}, {}, vm_plan.Reason.HOME_POOL_MISMATCH, True),
    ({}, {}, vm_plan.Reason.WILL_START, True),
    ({"ha_field": "false"}, {}, vm_plan.Reason.WILL_START, True),            # GLOBAL_VM_HA=1 wins
    ({"ha_field": "true"}, {"GLOBAL_VM_HA": 0}, vm_plan.Reason.WILL_START, True),
    ({"ha_field": "false"}, {"GLOBAL_VM_HA": 0}, vm_plan.Reason.FIELD_FALSE, False),
    ({"ha_field": None}, {"GLOBAL_VM_HA": 0}, vm_plan.Reason.FIELD_MISSING, False),
    ({"ha_field": "yes"}, {"GLOBAL_VM_HA": 0}, vm_plan.Reason.FIELD_INVALID, False),
    ({"ha_field": "True"}, {"GLOBAL_VM_HA": 0}, vm_plan.Reason.FIELD_INVALID, False),
    ({}, {"OP_MODE": 1}, vm_plan.Reason.MODE, False),
])
def test_every_reason(kw, pol, expected, protected):
    p = vm_plan.plan(pool(vms=[vm("v1", **kw)]), policy(**pol))
    st = p.status_of("v1")
    assert (st.reason, st.protected) == (expected, protected), st.why
    assert st.why
    assert (len(p.starts) == 1) == (expected == vm_plan.Reason.WILL_START)


def test_invalid_field_is_reset_and_alerted_missing_only_reset():
    p = vm_plan.plan(pool(vms=[vm("v1", ha_field="yes"), vm("v2")]), policy(GLOBAL_VM_HA=0))
    fixes = p.fixes
    assert [(f.kind, getattr(f, "vm_uuid", None)) for f in fixes] == [
        ("SetVmHaField", "v1"), ("Alert", None), ("SetVmHaField", "v2")]
    assert all(f.value == "false" for f in fixes if isinstance(f, A.SetVmHaField))
    # with GLOBAL_VM_HA=1 an invalid value is still fixed and alerted, a missing one left alone
    p = vm_plan.plan(pool(vms=[vm("v1", ha_field="yes"), vm("v2")]), policy())
    assert [f.kind for f in p.fixes] == ["SetVmHaField", "Alert"]


def test_operator_stop_respected_unless_disabled():
    pv = pool(vms=[vm("v1")])
    assert reason(vm_plan.plan(pv, policy(), operator_stopped={"v1"}), "v1") == vm_plan.Reason.OPERATOR_STOP
    assert reason(vm_plan.plan(pv, policy(VM_RESPECT_OPERATOR_STOP=0), operator_stopped={"v1"}),
                  "v1") == vm_plan.Reason.WILL_START


def test_an_operator_stop_is_kept_in_xapi_and_honoured_by_any_master():
    # failed before (issue 13 finding 10): the intent lived only in the state file of the host that saw
    # the events; after a takeover the new master started a VM an operator had shut down
    from halizard.core.model import OPERATOR_STOP_KEY
    assert OPERATOR_STOP_KEY == "ha-lizard-operator-stop"
    seen_here = vm_plan.plan(pool(vms=[vm("v1")]), policy(), operator_stopped={"v1"})
    assert [(f.kind, f.vm_uuid, f.stopped) for f in seen_here.fixes] == [("MarkOperatorStop", "v1", True)]
    elsewhere = vm_plan.plan(pool(vms=[vm("v1", operator_stop=True)]), policy())
    assert reason(elsewhere, "v1") == vm_plan.Reason.OPERATOR_STOP and elsewhere.fixes == ()
    assert reason(vm_plan.plan(pool(vms=[vm("v1", operator_stop=True)]), policy(VM_RESPECT_OPERATOR_STOP=0)),
                  "v1") == vm_plan.Reason.WILL_START


def test_an_operator_start_clears_the_stop_kept_in_xapi():
    p = vm_plan.plan(pool(vms=[vm("v1", power_state="Running", resident_on="h2", operator_stop=True)]), policy())
    assert [(f.kind, f.stopped) for f in p.fixes] == [("MarkOperatorStop", False)]
    assert reason(p, "v1") == vm_plan.Reason.RUNNING_OK


def test_backoff_leaves_vm_until_ready():
    pv = pool(vms=[vm("v1"), vm("v2")])
    retry = {"v1": RetryState(failures=2, next_attempt_at=50.0)}
    p = vm_plan.plan(pv, policy(), retry=retry, now=49.0)
    assert reason(p, "v1") == vm_plan.Reason.BACKING_OFF and reason(p, "v2") == vm_plan.Reason.WILL_START
    assert reason(vm_plan.plan(pv, policy(), retry=retry, now=50.0), "v1") == vm_plan.Reason.WILL_START


def test_home_pool_stamp_for_running_vms_only_when_different():
    vms = [vm("a", power_state="Running", resident_on="h1", home_pool=None),
           vm("b", power_state="Running", resident_on="h1", home_pool="elsewhere"),
           vm("c", power_state="Running", resident_on="h1"),
           vm("d", home_pool=None)]
    p = vm_plan.plan(pool(vms=vms), policy())
    stamps = [f for f in p.fixes if isinstance(f, A.StampHomePool)]
    assert [(s.vm_uuid, s.pool_uuid) for s in stamps] == [("a", POOL), ("b", POOL)]


def test_groups_by_order_best_effort_last_with_delays():
    vms = [vm("a", order=2, start_delay=7), vm("b", order=1, start_delay=3), vm("c", order=1, start_delay=5),
           vm("d", order=0, ha_restart_priority="best-effort"), vm("e", order=2)]
    p = vm_plan.plan(pool(vms=vms), policy())
    shape = [(g.order, g.best_effort, g.delay_after, sorted(s.vm_uuid for s in g.starts)) for g in p.groups]
    assert shape == [(1, False, 5, ["b", "c"]), (2, False, 7, ["a", "e"]), (0, True, 0, ["d"])]


def test_placement_spreads_and_accounts_for_earlier_placements():
    hs = [host("h1", is_master=True, health_field="master", memory_free=4 * GIB),
          host("h2", memory_free=3 * GIB), host("h3", memory_free=2 * GIB)]
    vms = [vm("v%d" % i, memory=1 * GIB) for i in range(6)]
    p = vm_plan.plan(pool(hs, vms), policy())
    placed = [s.host_uuid for s in p.starts]
    assert sorted(placed) == ["h1", "h1", "h1", "h2", "h2", "h3"]
    vms.append(vm("big", memory=8 * GIB))
    p = vm_plan.plan(pool(hs, vms), policy())
    assert reason(p, "big") == vm_plan.Reason.NO_CAPACITY and p.unplaced[0].vm_uuid == "big"


def test_placement_skips_failed_disabled_and_unusable_hosts():
    hs = [host("h1", is_master=True, health_field="master", memory_free=1 * GIB),
          host("h2", health_field="failed", memory_free=64 * GIB),
          host("h3", enabled=False, memory_free=64 * GIB),
          host("h4", memory_free=64 * GIB)]
    pv = pool(hs, [vm("v1")])
    assert vm_plan.plan(pv, policy()).starts[0].host_uuid == "h4"
    # fresh verdicts override the stored fields: h4 is not usable this cycle
    assert vm_plan.plan(pv, policy(), usable_hosts={"h1", "h2", "h3"}).starts[0].host_uuid in ("h1", "h2")
    p = vm_plan.plan(pv, policy(), usable_hosts={"h3"})
    assert reason(p, "v1") == vm_plan.Reason.NO_CAPACITY and "no enabled, healthy host" in p.status_of("v1").why


def test_best_effort_placed_after_restart_priority():
    hs = [host("h1", is_master=True, health_field="master", memory_free=2 * GIB)]
    vms = [vm("be", memory=2 * GIB, ha_restart_priority="best-effort", order=0),
           vm("r", memory=2 * GIB, order=9)]
    p = vm_plan.plan(pool(hs, vms), policy())
    assert reason(p, "r") == vm_plan.Reason.WILL_START and reason(p, "be") == vm_plan.Reason.NO_CAPACITY


def test_host_select_method_1_lets_xapi_place_without_capacity_check():
    hs = [host("h1", is_master=True, health_field="master", memory_free=0)]
    p = vm_plan.plan(pool(hs, [vm("v1")]), policy(HOST_SELECT_METHOD=1))
    assert p.starts[0].host_uuid is None


def test_op_mode_1_appliances():
    apps = (ApplianceView("app1", "web"), ApplianceView("app2", "db"), ApplianceView("app3", "off"))
    vms = [vm("w1", appliance="app1", power_state="Running", resident_on="h1"), vm("w2", appliance="app1"),
           vm("d1", appliance="app2", power_state="Running", resident_on="h2"),
           vm("o1", appliance="app3"), vm("lone")]
    p = vm_plan.plan(pool(vms=vms, appliances=apps), policy(OP_MODE=1, DISABLED_VAPPS="app3"))
    assert [a.appliance_uuid for a in p.appliance_starts] == ["app1"]
    assert p.starts == ()
    assert reason(p, "w2") == vm_plan.Reason.APPLIANCE_START
    assert reason(p, "o1") == vm_plan.Reason.APPLIANCE_DISABLED
    assert reason(p, "lone") == vm_plan.Reason.MODE
    assert reason(p, "d1") == vm_plan.Reason.RUNNING_OK


def test_op_mode_1_operator_stopped_members_do_not_trigger():
    vms = [vm("w1", appliance="app1"), vm("w2", appliance="app1", power_state="Running", resident_on="h1")]
    p = vm_plan.plan(pool(vms=vms), policy(OP_MODE=1), operator_stopped={"w1"})
    assert p.appliance_starts == () and reason(p, "w1") == vm_plan.Reason.OPERATOR_STOP


def test_every_vm_has_exactly_one_status_in_pool_order():
    vms = [vm("v%d" % i) for i in range(5)]
    p = vm_plan.plan(pool(vms=vms), policy())
    assert [s.vm_uuid for s in p.statuses] == [v.uuid for v in vms]


def test_fallback_hosts_after_a_failed_start():
    hs = [host("h1", is_master=True, health_field="master", memory_free=2 * GIB),
          host("h2", memory_free=8 * GIB), host("h3", memory_free=4 * GIB), host("h4", memory_free=0),
          host("h5", enabled=False, memory_free=64 * GIB)]
    pv = pool(hs, [vm("v1", memory=1 * GIB)])
    usable = {"h1", "h2", "h3", "h4", "h5"}
    assert vm_plan.fallback_hosts(pv, "v1", usable) == ("h2", "h3", "h1")
    assert vm_plan.fallback_hosts(pv, "v1", usable, tried={"h2"}) == ("h3", "h1")
    assert vm_plan.fallback_hosts(pv, "v1", {"h4"}) == ()
    with pytest.raises(ValueError):
        vm_plan.fallback_hosts(pv, "nope", usable)
