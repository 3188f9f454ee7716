"""VM power operations through the real XenAPI client: states, capacity, disks, concurrency, tasks."""
import threading
import time
import xmlrpc.client

import pytest
import XenAPI
from waiting import wait_until


def details(fn, *args):
    with pytest.raises(XenAPI.Failure) as caught:
        fn(*args)
    return caught.value.details


def wait_task(x, task, timeout=10.0):
    wait_until(lambda: x.task.get_status(task) != "pending", timeout)
    return x.task.get_record(task)


@pytest.fixture
def pool(inproc_pool):
    return inproc_pool(hosts=3, vms=4, start_latency=0.05)


def vm_ref(x, name):
    return x.VM.get_by_name_label(name)[0]


def test_shutdown_and_start_move_database_and_truth_together(pool):
    x = pool.xenapi_session().xenapi
    vm = vm_ref(x, "vm002")
    host = x.VM.get_resident_on(vm)
    x.VM.hard_shutdown(vm)
    assert x.VM.get_power_state(vm) == "Halted"
    assert x.VM.get_resident_on(vm) == "OpaqueRef:NULL"
    assert vm not in x.host.get_resident_VMs(host)
    assert pool.vm_status("vm002")["running_on"] == []
    vdi = x.VBD.get_VDI(x.VM.get_VBDs(vm)[0])
    assert not [k for k in x.VDI.get_sm_config(vdi) if k.startswith("host_")]
    target = x.host.get_by_name_label("host3")[0]
    x.VM.start_on(vm, target, False, False)
    assert x.VM.get_power_state(vm) == "Running"
    assert x.VM.get_resident_on(vm) == target
    assert vm in x.host.get_resident_VMs(target)
    assert x.VDI.get_sm_config(vdi)["host_%s" % target] == "RW"
    assert pool.vm_status("vm002")["running_on"] == ["host3"]
    x.VM.clean_shutdown(vm)
    x.VM.start(vm, False, False)
    assert x.VM.get_power_state(vm) == "Running"
    assert pool.status()["violations"] == []


def test_bad_power_states_are_lowercase(pool):
    x = pool.xenapi_session().xenapi
    vm = vm_ref(x, "vm001")
    assert details(x.VM.start, vm, False, False) == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    x.VM.hard_shutdown(vm)
    assert details(x.VM.hard_shutdown, vm) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
    assert details(x.VM.clean_shutdown, vm) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
    assert details(x.VM.hard_reboot, vm) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
    template = [r for r, rec in x.VM.get_all_records().items() if rec["is_a_template"]][0]
    assert details(x.VM.start, template, False, False) == ["VM_IS_TEMPLATE", template]


def test_hard_reboot_keeps_the_vm_on_its_host(pool):
    x = pool.xenapi_session().xenapi
    vm = vm_ref(x, "vm003")
    host = x.VM.get_resident_on(vm)
    x.VM.hard_reboot(vm)
    assert x.VM.get_resident_on(vm) == host and x.VM.get_power_state(vm) == "Running"
    assert len(pool.vm_status("vm003")["running_on"]) == 1


def test_capacity_is_enforced(pool):
    x = pool.xenapi_session().xenapi
    vm = vm_ref(x, "vm001")
    x.VM.hard_shutdown(vm)
    host = x.host.get_by_name_label("host2")[0]
    free = int(x.host.compute_free_memory(host))
    huge = str(free + 1024 ** 3)
    x.VM.set_memory_static_max(vm, huge)
    x.VM.set_memory_dynamic_max(vm, huge)
    assert details(x.VM.start_on, vm, host, False, False) == [
        "HOST_NOT_ENOUGH_FREE_MEMORY", huge, str(free)]
    # the other hosts run VMs and have less free memory than host2's free + 1 GiB
    assert details(x.VM.start, vm, False, False) == ["NO_HOSTS_AVAILABLE"]
    x.VM.set_memory_static_max(vm, str(1024 ** 3))
    x.VM.start_on(vm, host, False, False)
    assert int(x.host.compute_free_memory(host)) == free - 1024 ** 3
    assert details(x.VM.set_memory_static_max, vm, "1") == ["VM_BAD_POWER_STATE", vm, "halted", "running"]


def test_disabled_host_is_not_a_target(pool):
    x = pool.xenapi_session().xenapi
    vm = vm_ref(x, "vm001")
    x.VM.hard_shutdown(vm)
    host = x.host.get_by_name_label("host2")[0]
    x.host.disable(host)
    assert details(x.VM.start_on, vm, host, False, False) == ["HOST_DISABLED", host]
    x.host.enable(host)
    x.VM.start_on(vm, host, False, False)


def test_power_state_reset_refuses_while_the_host_answers(pool):
    x = pool.xenapi_session().xenapi
    vm = vm_ref(x, "vm002")  # runs on host2
    host = x.VM.get_resident_on(vm)
    assert details(x.VM.power_state_reset, vm) == ["HOST_IS_LIVE", host]
    pool.fault("power-off", "host2")
    assert x.VM.get_power_state(vm) == "Running"  # the database still believes it
    x.VM.power_state_reset(vm)
    assert x.VM.get_power_state(vm) == "Halted"
    assert x.VM.get_resident_on(vm) == "OpaqueRef:NULL"


def test_vm_cannot_start_while_its_disk_is_attached_on_another_live_host(pool):
    x = pool.xenapi_session().xenapi
    vm = vm_ref(x, "vm002")  # runs on host2
    host2 = x.VM.get_resident_on(vm)
    pool.fault("link-down", "host2")  # host2 keeps running the domain but no longer answers
    x.VM.power_state_reset(vm)
    host3 = x.host.get_by_name_label("host3")[0]
    error = details(x.VM.start_on, vm, host3, False, False)
    assert error[0] == "SR_BACKEND_FAILURE_46" and "host2" in error[2]
    assert details(x.VM.start, vm, False, False)[0] == "SR_BACKEND_FAILURE_46"
    vdi = x.VBD.get_VDI(x.VM.get_VBDs(vm)[0])
    x.VDI.remove_from_sm_config(vdi, "host_%s" % host2)  # what an HA manager does after fencing
    x.VM.start_on(vm, host3, False, False)
    status = pool.vm_status("vm002")
    assert status["running_on"] == ["host2", "host3"]
    assert any("vm002" in v and "host2" in v and "host3" in v for v in pool.status()["violations"])


def test_two_concurrent_starts_of_one_vm_one_wins(pool):
    pool.pool.spec.start_latency = 0.4
    x = pool.xenapi_session().xenapi
    vm = vm_ref(x, "vm004")
    x.VM.hard_shutdown(vm)
    tasks = [x.Async.VM.start(vm, False, False) for _ in range(2)]
    records = [wait_task(x, t) for t in tasks]
    statuses = sorted(r["status"] for r in records)
    assert statuses == ["failure", "success"]
    loser = [r for r in records if r["status"] == "failure"][0]
    assert loser["error_info"] == ["OTHER_OPERATION_IN_PROGRESS", "VM", vm]
    assert pool.vm_status("vm004")["running_on"] and len(pool.vm_status("vm004")["running_on"]) == 1


def test_many_starts_run_concurrently(pool):
    pool.pool.spec.start_latency = 0.5
    x = pool.xenapi_session().xenapi
    vms = [vm_ref(x, "vm00%d" % i) for i in range(1, 5)]
    for vm in vms:
        x.VM.hard_shutdown(vm)
    errors = []

    def start(vm):
        try:
            pool.xenapi_session().xenapi.VM.start(vm, False, False)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    began = time.monotonic()
    threads = [threading.Thread(target=start, args=(vm,)) for vm in vms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    elapsed = time.monotonic() - began
    assert errors == []
    assert all(x.VM.get_power_state(vm) == "Running" for vm in vms)
    assert elapsed < 4 * 0.5, "starts ran one after another (%.2f s)" % elapsed


def test_async_task_result_is_xmlrpc_encoded(pool):
    x = pool.xenapi_session().xenapi
    host = x.host.get_all()[0]
    task = x.Async.host.compute_free_memory(host)
    record = wait_task(x, task)
    assert record["status"] == "success" and record["progress"] == 1.0
    value = xmlrpc.client.loads("<params><param>%s</param></params>" % record["result"])[0][0]
    assert value == x.host.compute_free_memory(host)
    vm = vm_ref(x, "vm001")
    task = x.Async.VM.start(vm, False, False)
    record = wait_task(x, task)
    assert record["status"] == "failure"
    assert record["error_info"] == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    assert record["result"] == ""
    x.task.destroy(task)
    assert details(x.task.get_record, task) == ["HANDLE_INVALID", "task", task]


def test_start_prefers_the_affinity_host(pool):
    x = pool.xenapi_session().xenapi
    vm = vm_ref(x, "vm001")
    x.VM.hard_shutdown(vm)
    host3 = x.host.get_by_name_label("host3")[0]
    x.VM.set_affinity(vm, host3)
    x.VM.start(vm, False, False)
    assert x.VM.get_resident_on(vm) == host3
