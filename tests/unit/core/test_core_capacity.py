"""core.capacity: what-if plans and the failure tolerance on pools whose answer is known by hand."""
import pytest

from halizard.core import capacity, vm_plan
from halizard.core.model import RUNNING

from core_builders import GIB, host, pool, policy, vm


def running(uuid, on, gib, **kw):
    return vm(uuid, power_state=RUNNING, resident_on=on, memory=gib * GIB, **kw)


def two_hosts(free_h2, vms):
    return pool(hosts=[host("h1", is_master=True, health_field="master", memory_free=0),
                       host("h2", memory_free=free_h2 * GIB)], vms=vms)


def test_exactly_fits():
    p = two_hosts(4, [running("a", "h1", 3), running("b", "h1", 1)])
    plan = capacity.what_if(p, policy(), {"h1"})
    assert {s.vm_uuid: s.host_uuid for s in plan.starts} == {"a": "h2", "b": "h2"}
    assert not plan.unplaced
    assert capacity.tolerance(p, policy()) == capacity.Tolerance(1, True, True)


def test_one_vm_too_many():
    p = two_hosts(4, [running("a", "h1", 4), running("b", "h1", 1)])
    plan = capacity.what_if(p, policy(), {"h1"})
    assert [s.vm_uuid for s in plan.starts] == ["a"]
    assert [s.vm_uuid for s in plan.unplaced] == ["b"]
    assert plan.status_of("b").reason == vm_plan.Reason.NO_CAPACITY
    assert capacity.tolerance(p, policy()) == capacity.Tolerance(0, True, True, ("h1",))


def test_order_groups_and_best_effort_last():
    p = two_hosts(16, [running("late", "h1", 1, order=2), running("first", "h1", 1, order=1),
                       running("spare", "h1", 1, ha_restart_priority="best-effort")])
    plan = capacity.what_if(p, policy(), {"h1"})
    assert [[s.vm_uuid for s in g.starts] for g in plan.groups] == [["first"], ["late"], ["spare"]]
    assert [g.best_effort for g in plan.groups] == [False, False, True]


def test_operator_stopped_vm_stays_halted_and_needs_no_room():
    p = two_hosts(1, [running("a", "h1", 1), vm("stopped", memory=8 * GIB)])
    plan = capacity.what_if(p, policy(), {"h1"}, operator_stopped={"stopped"})
    assert plan.status_of("stopped").reason == vm_plan.Reason.OPERATOR_STOP
    assert [s.vm_uuid for s in plan.starts] == ["a"]
    assert capacity.tolerance(p, policy(), operator_stopped={"stopped"}).failures == 1
    assert capacity.tolerance(p, policy()).fits_now is False


def three(free_gib, per_host):
    hosts = [host("h1", is_master=True, health_field="master", memory_free=free_gib * GIB),
             host("h2", memory_free=free_gib * GIB), host("h3", memory_free=free_gib * GIB)]
    vms = [running("%s-%d" % (h, i), h, 1) for h in ("h1", "h2", "h3") for i in range(per_host)]
    return pool(hosts=hosts, vms=vms)


@pytest.mark.parametrize("free_gib, per_host, expected", [
    (1, 3, 0),    # one host's 3 GiB of VMs cannot fit in the 2 GiB the two others have free
    (2, 2, 1),    # one failure fits (2 VMs over 2 hosts), two failures leave 4 GiB for 2 GiB free
    (16, 1, 2),   # any two failures fit on the last host
])
def test_tolerance_zero_one_two(free_gib, per_host, expected):
    got = capacity.tolerance(three(free_gib, per_host), policy())
    assert got.failures == expected and got.exact


def test_large_pool_bound_is_never_above_the_exact_answer():
    p = three(16, 1)
    bound = capacity.tolerance(p, policy(), exact_limit=0)
    assert not bound.exact
    assert bound.failures <= capacity.tolerance(p, policy()).failures
    assert bound.failures == 2  # 16 GiB free on the survivor >= 2 GiB displaced + 1 * 1 GiB


def test_unknown_host_is_named():
    p = three(16, 1)
    assert capacity.resolve_hosts(p, ["h2", "h2"]) == ("h2",)
    with pytest.raises(capacity.UnknownHost, match="nohost"):
        capacity.resolve_hosts(p, ["nohost"])
