import pytest

from core_builders import host, pool, vm
from halizard.core.model import ModelError, PoolView, VdiView, pool_from_plain, pool_to_plain


def test_plain_round_trip():
    pv = pool(vms=[vm("v1", power_state="Running", resident_on="h2", current_operations=("start",),
                      appliance="a1", ha_field="junk")],
              vdis=(VdiView("d1", ("host_OpaqueRef:h2",)),), autopromote_uuid="h2", native_ha_enabled=True)
    again = pool_from_plain(pool_to_plain(pv))
    assert again == pv
    assert again.vm("v1").resident_on == "h2" and again.host("h2").name_label == "h2"


@pytest.mark.parametrize("build", [
    lambda: PoolView(uuid="p", master_uuid="hX", hosts=(host("h1"),)),
    lambda: PoolView(uuid="p", master_uuid="h1", hosts=(host("h1"), host("h1"))),
    lambda: PoolView(uuid="p", master_uuid="h1", hosts=(host("h1"),), vms=(vm("v"), vm("v"))),
    lambda: PoolView(uuid="p", master_uuid="h1", hosts=(host("h1"),), vms=(vm("v", resident_on="h9"),)),
    lambda: vm("v", power_state="running"),
    lambda: vm("v", memory=-1),
    lambda: vm(""),
    lambda: host("h", memory_free=-1),
])
def test_inconsistent_snapshots_are_refused(build):
    with pytest.raises(ModelError):
        build()


def test_a_host_s_guest_count_survives_the_cached_view():
    pv = pool([host("h1", is_master=True, guests=3)], master="h1")
    assert pool_from_plain(pool_to_plain(pv)).host("h1").guests == 3
    with pytest.raises(ModelError):
        host("h2", guests=-1)


def test_an_operator_stop_survives_the_cached_view():
    pv = pool(vms=[vm("v1", operator_stop=True)])
    assert pool_from_plain(pool_to_plain(pv)).vm("v1").operator_stop is True
