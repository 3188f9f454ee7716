"""pool.*: emergency transition of a slave, recover_slaves, pool.conf, host fencing calls."""
import os
import time

import pytest
import XenAPI
from waiting import wait_until


def pool_conf(pool, name):
    with open(os.path.join(pool.host(name)["root"], "etc", "xensource", "pool.conf"), encoding="utf-8") as handle:
        return handle.read().strip()


def login_error(pool, name):
    try:
        pool.xenapi_session(name, timeout=2.0)
    except XenAPI.Failure as exc:
        return exc.details
    except OSError as exc:
        return ["NETWORK", str(exc)]
    return None


def promoted(pool, name):
    return login_error(pool, name) is None


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=3, fuse=0.5)


def test_initial_pool_conf_and_master(pool):
    assert pool_conf(pool, "host1") == "master"
    assert pool_conf(pool, "host2") == "slave:%s" % pool.host("host1")["address"]
    x = pool.xenapi_session().xenapi
    pool_ref = x.pool.get_all()[0]
    assert x.host.get_name_label(x.pool.get_master(pool_ref)) == "host1"
    assert x.pool.get_ha_enabled(pool_ref) is False


def test_emergency_transition_and_recover_slaves(pool):
    x_old = pool.xenapi_session("host1").xenapi
    x_old.pool.add_to_other_config(x_old.pool.get_all()[0], "before", "failure")
    pool.fault("power-off", "host1")
    assert pool.host_status("host1")["xapi"] == "down"
    assert login_error(pool, "host2") == ["HOST_IS_SLAVE", pool.host("host1")["address"]]
    local = pool.xenapi_session("host2", login=False)
    local.slave_local_login_with_password("root", pool.password)
    began = time.monotonic()
    local.xenapi.pool.emergency_transition_to_master()
    # xapi restarts: down for the fuse, then master of its own copy of the database
    wait_until(lambda: pool.host_status("host2")["xapi"] == "down", timeout=5)
    wait_until(lambda: promoted(pool, "host2"), timeout=10)
    assert time.monotonic() - began >= 0.4
    assert pool_conf(pool, "host2") == "master"
    assert pool.host_status("host2")["role"] == "master"
    x = pool.xenapi_session("host2").xenapi
    pool_ref = x.pool.get_all()[0]
    assert x.host.get_name_label(x.pool.get_master(pool_ref)) == "host2"
    assert x.pool.get_other_config(pool_ref)["before"] == "failure"  # its copy of the old database
    # host3 still points at the dead master until recover_slaves reaches it
    assert login_error(pool, "host3") == ["HOST_IS_SLAVE", pool.host("host1")["address"]]
    recovered = x.pool.recover_slaves()
    assert [x.host.get_name_label(h) for h in recovered] == ["host3"]
    assert pool_conf(pool, "host3") == "slave:%s" % pool.host("host2")["address"]
    assert login_error(pool, "host3") == ["HOST_IS_SLAVE", pool.host("host2")["address"]]
    # the old master's VM is still Running there in the copied database, though really gone
    vm = x.VM.get_by_name_label("vm001")[0]
    assert x.VM.get_power_state(vm) == "Running"
    assert pool.vm_status("vm001")["running_on"] == []


def test_old_master_returning_unrecovered_still_believes_it_is_master(pool):
    pool.fault("power-off", "host1")
    local = pool.xenapi_session("host2", login=False)
    local.slave_local_login_with_password("root", pool.password)
    local.xenapi.pool.emergency_transition_to_master()
    wait_until(lambda: promoted(pool, "host2"))
    pool.xenapi_session("host2").xenapi.pool.recover_slaves()
    pool.fault("power-on", "host1")
    roles = {h["name_label"]: h["role"] for h in pool.status()["hosts"]}
    assert roles == {"host1": "master", "host2": "master", "host3": "slave"}
    assert pool_conf(pool, "host1") == "master"
    old = pool.xenapi_session("host1").xenapi
    vm = old.VM.get_by_name_label("vm001")[0]
    assert old.VM.get_power_state(vm) == "Halted"  # its xapi resynced what it runs: nothing
    # status reports the newest master's database
    assert pool.vm_status("vm001")["power_state"] == "Running"
    # the new master can take the old one back into its pool
    recovered = pool.xenapi_session("host2").xenapi.pool.recover_slaves()
    assert len(recovered) == 2
    assert pool_conf(pool, "host1") == "slave:%s" % pool.host("host2")["address"]
    assert pool.host_status("host1")["role"] == "slave"


def test_declare_dead_resets_vms_and_disables_the_host(pool):
    x = pool.xenapi_session().xenapi
    host3 = x.host.get_by_name_label("host3")[0]
    vm = x.VM.get_by_name_label("vm003")[0]
    pool.fault("power-off", "host3")
    x.host.declare_dead(host3)
    assert x.VM.get_power_state(vm) == "Halted"
    assert x.host.get_enabled(host3) is False
    assert x.host_metrics.get_live(x.host.get_metrics(host3)) is False
    x.VM.start(vm, False, False)
    assert x.VM.get_resident_on(vm) != host3


def test_host_destroy_preconditions(pool):
    x = pool.xenapi_session().xenapi
    host1 = x.host.get_by_name_label("host1")[0]
    host3 = x.host.get_by_name_label("host3")[0]
    with pytest.raises(XenAPI.Failure) as caught:
        x.host.destroy(host1)
    assert caught.value.details == ["HOST_CANNOT_DESTROY_SELF", host1]
    with pytest.raises(XenAPI.Failure) as caught:
        x.host.destroy(host3)
    assert caught.value.details == ["HOST_IS_LIVE", host3]
    pool.fault("power-off", "host3")
    with pytest.raises(XenAPI.Failure) as caught:
        x.host.destroy(host3)
    assert caught.value.details == ["HOST_HAS_RESIDENT_VMS", host3]
    x.host.declare_dead(host3)
    x.host.destroy(host3)
    assert sorted(x.host.get_name_label(h) for h in x.host.get_all()) == ["host1", "host2"]
    assert len(x.PBD.get_all()) == 2 and len(x.PIF.get_all()) == 2


def test_host_reboot_and_shutdown_need_a_disabled_host(pool):
    x = pool.xenapi_session().xenapi
    host2 = x.host.get_by_name_label("host2")[0]
    with pytest.raises(XenAPI.Failure) as caught:
        x.host.reboot(host2)
    assert caught.value.details == ["HOST_NOT_DISABLED"]
    x.host.disable(host2)
    x.host.reboot(host2)
    wait_until(lambda: pool.host_status("host2")["xapi"] == "up")
    vm = x.VM.get_by_name_label("vm002")[0]
    assert pool.vm_status("vm002")["running_on"] == []
    wait_until(lambda: x.VM.get_power_state(vm) == "Halted")
    x.host.disable(host2)
    x.host.shutdown(host2)
    assert pool.host_status("host2")["power"] == "off"


def test_promoted_slave_sees_the_database_as_it_was_when_it_lost_the_master(pool):
    x_old = pool.xenapi_session("host1").xenapi
    pool_ref = x_old.pool.get_all()[0]
    x_old.pool.add_to_other_config(pool_ref, "before", "partition")
    pool.fault("partition", "host1", "host2,host3")
    x_old.pool.add_to_other_config(pool_ref, "after", "partition")  # host2 cannot see this any more
    local = pool.xenapi_session("host2", login=False)
    local.slave_local_login_with_password("root", pool.password)
    local.xenapi.pool.emergency_transition_to_master()
    wait_until(lambda: promoted(pool, "host2"))
    x_new = pool.xenapi_session("host2").xenapi
    config = x_new.pool.get_other_config(x_new.pool.get_all()[0])
    assert config.get("before") == "partition" and "after" not in config
    assert "after" in x_old.pool.get_other_config(pool_ref)  # two masters, two diverging databases
    roles = {h["name_label"]: h["role"] for h in pool.status()["hosts"]}
    assert roles == {"host1": "master", "host2": "master", "host3": "slave"}
    assert [x_new.host.get_name_label(h) for h in x_new.pool.recover_slaves()] == ["host3"]


def test_native_ha_flag(pool):
    x = pool.xenapi_session().xenapi
    pool_ref = x.pool.get_all()[0]
    sr = x.SR.get_all()[0]
    x.pool.enable_ha([sr], {})
    assert x.pool.get_ha_enabled(pool_ref) is True
    with pytest.raises(XenAPI.Failure) as caught:
        x.pool.enable_ha([sr], {})
    assert caught.value.details == ["HA_IS_ENABLED"]
    x.pool.disable_ha()
    assert x.pool.get_ha_enabled(pool_ref) is False


def test_emergency_reset_master_repoints_one_slave(pool):
    local = pool.xenapi_session("host3", login=False)
    local.slave_local_login_with_password("root", pool.password)
    local.xenapi.pool.emergency_reset_master(pool.host("host2")["address"])
    assert pool_conf(pool, "host3") == "slave:%s" % pool.host("host2")["address"]
    assert login_error(pool, "host3") == ["HOST_IS_SLAVE", pool.host("host2")["address"]]
    master = pool.xenapi_session("host1", login=False)
    master.slave_local_login_with_password("root", pool.password)
    with pytest.raises(XenAPI.Failure) as caught:
        master.xenapi.pool.emergency_reset_master(pool.host("host2")["address"])
    assert caught.value.details[0] == "OPERATION_NOT_ALLOWED"
