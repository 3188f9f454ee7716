"""event.from / event.inject, appliances, messages, generic field calls, get_all_records_where."""
import threading
import time

import pytest
import XenAPI
from waiting import wait_until


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=2, vms=4, start_latency=0.05)


def test_event_from_empty_token_returns_every_object(pool):
    x = pool.xenapi_session().xenapi
    batch = getattr(x.event, "from")(["vm", "host"], "", 1.0)
    assert set(batch) == {"events", "valid_ref_counts", "token"}
    counts = batch["valid_ref_counts"]  # xapi counts every database table, whatever was asked
    assert counts["vm"] == len(x.VM.get_all()) and counts["host"] == 2 and counts["sr"] == len(x.SR.get_all())
    assert "event" not in counts and "message" not in counts, "no database table holds them in xapi"
    assert len(batch["events"]) == len(x.VM.get_all()) + 2
    assert {e["class"] for e in batch["events"]} == {"vm", "host"}
    assert all(e["operation"] == "add" and "snapshot" in e for e in batch["events"])


def test_event_from_blocks_until_a_change_or_timeout(pool):
    x = pool.xenapi_session().xenapi
    token = getattr(x.event, "from")(["vm"], "", 0.0)["token"]
    began = time.monotonic()
    batch = getattr(x.event, "from")(["vm"], token, 0.5)
    assert batch["events"] == [] and time.monotonic() - began >= 0.45
    vm = x.VM.get_by_name_label("vm001")[0]
    changer = threading.Timer(0.3, lambda: pool.xenapi_session().xenapi.VM.add_to_other_config(vm, "k", "v"))
    changer.start()
    began = time.monotonic()
    batch = getattr(x.event, "from")(["vm"], batch["token"], 5.0)
    changer.join()
    assert 0.2 <= time.monotonic() - began < 4.0
    assert [(e["class"], e["operation"], e["ref"]) for e in batch["events"]] == [("vm", "mod", vm)]
    assert batch["events"][0]["snapshot"]["other_config"]["k"] == "v"
    # other classes do not wake a VM watcher
    host = x.host.get_all()[0]
    x.host.add_to_other_config(host, "k", "v")
    assert getattr(x.event, "from")(["vm"], batch["token"], 0.2)["events"] == []
    assert getattr(x.event, "from")(["host"], batch["token"], 0.2)["events"][0]["ref"] == host


def test_event_inject_and_bad_tokens(pool):
    x = pool.xenapi_session().xenapi
    token = getattr(x.event, "from")(["*"], "", 0.0)["token"]
    pool_ref = x.pool.get_all()[0]
    injected = x.event.inject("pool", pool_ref)
    assert injected >= token, "tokens compare as strings, in order"
    for since in (token, injected):  # xapi's inject answers the token just before its own change
        events = getattr(x.event, "from")(["pool"], since, 1.0)["events"]
        assert [e["ref"] for e in events] == [pool_ref]
    with pytest.raises(XenAPI.Failure) as caught:
        getattr(x.event, "from")(["vm"], "not-a-token", 0.0)
    assert caught.value.details == ["EVENT_FROM_TOKEN_PARSE_FAILURE", "not-a-token"]
    with pytest.raises(XenAPI.Failure) as caught:
        x.event.inject("VM", "OpaqueRef:nope")
    assert caught.value.details[0] == "HANDLE_INVALID"


def test_event_from_sees_deletions(pool):
    x = pool.xenapi_session().xenapi
    token = getattr(x.event, "from")(["message"], "", 0.0)["token"]
    host_uuid = x.host.get_uuid(x.host.get_all()[0])
    msg = x.message.create("HA-Lizard - test", "3", "Host", host_uuid, "body")
    x.message.destroy(msg)
    events = getattr(x.event, "from")(["message"], token, 1.0)["events"]
    assert [(e["operation"], e["ref"]) for e in events] == [("del", msg)]


def test_appliance_start_honours_order_and_delay(pool):
    x = pool.xenapi_session().xenapi
    app = x.VM_appliance.get_all()[0]
    members = sorted(x.VM_appliance.get_VMs(app), key=lambda v: int(x.VM.get_order(v)))
    assert [x.VM.get_name_label(v) for v in members] == ["vm001", "vm002", "vm003"]
    for vm in members:
        x.VM.hard_shutdown(vm)
    x.VM.set_start_delay(members[0], "1")
    x.VM.set_order(members[2], "5")
    task = x.Async.VM_appliance.start(app, False)
    wait_until(lambda: x.VM.get_power_state(members[0]) == "Running", timeout=5)
    assert x.VM.get_power_state(members[1]) == "Halted"  # waiting for vm001's start delay
    wait_until(lambda: x.VM.get_power_state(members[1]) == "Running", timeout=5)
    wait_until(lambda: x.task.get_status(task) != "pending", timeout=5)
    assert x.task.get_status(task) == "success"
    log = [(vm, at) for at, vm, _host in pool.pool.world.start_log]
    order = [pool.pool.world.vm_names[vm] for vm, _at in log]
    assert order == ["vm001", "vm002", "vm003"]
    assert log[1][1] - log[0][1] >= 0.9


def test_appliance_membership_follows_set_appliance(pool):
    x = pool.xenapi_session().xenapi
    app = x.VM_appliance.get_all()[0]
    vm4 = x.VM.get_by_name_label("vm004")[0]
    x.VM.set_appliance(vm4, app)
    assert vm4 in x.VM_appliance.get_VMs(app)
    x.VM.set_appliance(vm4, "OpaqueRef:NULL")
    assert vm4 not in x.VM_appliance.get_VMs(app)


def test_messages(pool):
    x = pool.xenapi_session().xenapi
    vm_uuid = x.VM.get_uuid(x.VM.get_by_name_label("vm001")[0])
    msg = x.message.create("HA-Lizard - vm_mon", "3", "VM", vm_uuid, "restarted vm001")
    records = x.message.get_all_records()
    assert records[msg]["name"] == "HA-Lizard - vm_mon" and records[msg]["priority"] == "3"
    assert records[msg]["cls"] == "VM" and records[msg]["obj_uuid"] == vm_uuid
    where = x.message.get_all_records_where('field "name"="HA-Lizard - vm_mon"')
    assert list(where) == [msg]
    with pytest.raises(XenAPI.Failure) as caught:
        x.message.create("m", "3", "VM", "no-such-uuid", "b")
    assert caught.value.details == ["UUID_INVALID", "VM", "no-such-uuid"]
    x.message.destroy(msg)
    assert x.message.get_all_records() == {}


def test_generic_field_calls(pool):
    x = pool.xenapi_session().xenapi
    pool_ref = x.pool.get_all()[0]
    x.pool.add_to_other_config(pool_ref, "HA_MONITOR_DELAY", "15")
    with pytest.raises(XenAPI.Failure) as caught:
        x.pool.add_to_other_config(pool_ref, "HA_MONITOR_DELAY", "20")
    assert caught.value.details[0] == "MAP_DUPLICATE_KEY"
    x.pool.remove_from_other_config(pool_ref, "HA_MONITOR_DELAY")
    x.pool.remove_from_other_config(pool_ref, "HA_MONITOR_DELAY")  # removing a missing key is fine
    x.pool.set_other_config(pool_ref, {"a": "1"})
    assert x.pool.get_other_config(pool_ref) == {"a": "1"}
    vm = x.VM.get_by_name_label("vm001")[0]
    x.VM.add_tags(vm, "gold")
    x.VM.add_tags(vm, "gold")
    assert x.VM.get_tags(vm) == ["gold"]
    x.VM.remove_tags(vm, "gold")
    x.VM.set_ha_restart_priority(vm, "best-effort")
    x.VM.set_order(vm, "7")
    assert x.VM.get_order(vm) == "7" and x.VM.get_ha_restart_priority(vm) == "best-effort"
    with pytest.raises(XenAPI.Failure) as caught:
        x.VM.set_order(vm, "seven")
    assert caught.value.details == ["FIELD_TYPE_ERROR", "order"]
    vdi = x.VBD.get_VDI(x.VM.get_VBDs(vm)[0])
    x.VDI.add_to_sm_config(vdi, "host_OpaqueRef:test", "RW")
    assert x.VDI.get_sm_config(vdi)["host_OpaqueRef:test"] == "RW"


def test_get_all_records_where(pool):
    x = pool.xenapi_session().xenapi
    x.VM.hard_shutdown(x.VM.get_by_name_label("vm004")[0])
    running = x.VM.get_all_records_where(
        'field "power_state"="Running" and field "is_control_domain"="false"')
    assert sorted(r["name_label"] for r in running.values()) == ["vm001", "vm002", "vm003"]
    not_running = x.VM.get_all_records_where(
        'not field "power_state"="Running" and not (field "is_a_template"="true")')
    assert [r["name_label"] for r in not_running.values()] == ["vm004"]
    either = x.VM.get_all_records_where('field "name_label"="vm001" or field "name_label"="vm004"')
    assert len(either) == 2
    with pytest.raises(XenAPI.Failure) as caught:
        x.VM.get_all_records_where('field "power_state"=')
    assert caught.value.details[0] == "INVALID_VALUE"
