"""VM shutdowns as XAPI shows them: the operation is visible in event.from before the VM reaches Halted.

Why: the HA manager tells an operator's stop (a shutdown operation seen on
the way to Halted) from a crash (Halted with no operation). A simulator that
halted in one step would make every operator stop look like a crash.
"""
import threading
import time

import pytest
import XenAPI

from halizard.sim.spec import HostSpec, PoolSpec, SpecError
from waiting import wait_until


@pytest.fixture
def pool(inproc_pool):
    handle = inproc_pool(hosts=2, vms=3, start_latency=0.05)
    handle.pool.spec.shutdown_latency = 0.3
    return handle


def _states_during(pool, name, stop):
    """(power_state, operations) of VM `name` as event.from delivered them while `stop(x, ref)` ran."""
    x = pool.xenapi_session().xenapi
    ref = x.VM.get_by_name_label(name)[0]
    token = getattr(x.event, "from")(["vm"], "", 0.0)["token"]
    errors = []

    def operator():
        try:
            stop(pool.xenapi_session().xenapi, ref)
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
    thread = threading.Thread(target=operator)
    thread.start()
    seen = []
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        batch = getattr(x.event, "from")(["vm"], token, 1.0)
        token = batch["token"]
        for event in batch["events"]:
            if event["ref"] == ref:
                snap = event["snapshot"]
                seen.append((snap["power_state"], sorted(snap["current_operations"].values())))
        if seen and seen[-1] == ("Halted", []):
            break
    thread.join(10.0)
    assert not errors, errors
    return seen, x, ref


@pytest.mark.parametrize("call,operation", [("clean_shutdown", "clean_shutdown"),
                                            ("hard_shutdown", "hard_shutdown"),
                                            ("shutdown", "shutdown")])
def test_event_from_shows_the_operation_before_halted(pool, call, operation):
    seen, x, ref = _states_during(pool, "vm001", lambda api, vm: getattr(api.VM, call)(vm))
    assert seen[0] == ("Running", [operation]), seen
    halted = [i for i, (state, _ops) in enumerate(seen) if state == "Halted"]
    assert halted and all(ops in ([operation], []) for _state, ops in seen[halted[0]:]), seen
    assert seen[-1] == ("Halted", []), seen
    assert x.VM.get_current_operations(ref) == {}
    assert pool.vm_status("vm001")["running_on"] == []


def test_a_crash_shows_no_operation(pool):
    x = pool.xenapi_session().xenapi
    ref = x.VM.get_by_name_label("vm002")[0]
    token = getattr(x.event, "from")(["vm"], "", 0.0)["token"]
    pool.fault("crash-vm", "vm002")
    seen = []
    deadline = time.monotonic() + 10.0
    while not seen and time.monotonic() < deadline:
        batch = getattr(x.event, "from")(["vm"], token, 1.0)
        token = batch["token"]
        seen = [(e["snapshot"]["power_state"], e["snapshot"]["current_operations"])
                for e in batch["events"] if e["ref"] == ref]
    assert seen == [("Halted", {})]


def test_a_shutdown_in_progress_takes_its_time_and_blocks_other_operations(pool):
    x = pool.xenapi_session().xenapi
    ref = x.VM.get_by_name_label("vm001")[0]
    began = time.monotonic()
    task = x.Async.VM.clean_shutdown(ref)
    ops = wait_until(lambda: x.VM.get_current_operations(ref))
    assert ops == {task: "clean_shutdown"}  # keyed by the task, as XAPI does
    assert x.VM.get_allowed_operations(ref) == []
    with pytest.raises(XenAPI.Failure) as caught:
        x.VM.hard_shutdown(ref)
    assert caught.value.details[0] == "OTHER_OPERATION_IN_PROGRESS"
    wait_until(lambda: x.task.get_status(task) != "pending")
    assert x.task.get_status(task) == "success"
    assert time.monotonic() - began >= 0.25
    assert x.VM.get_power_state(ref) == "Halted" and x.VM.get_current_operations(ref) == {}
    x.VM.start(ref, False, False)  # nothing left behind blocks a start
    assert x.VM.get_power_state(ref) == "Running"


def test_a_shutdown_of_a_vm_whose_host_died_fails_and_leaves_no_operation(pool):
    x = pool.xenapi_session().xenapi
    ref = next(r for r in x.VM.get_all() if not x.VM.get_is_control_domain(r)
               and x.VM.get_power_state(r) == "Running"
               and x.host.get_name_label(x.VM.get_resident_on(r)) == "host2")
    task = x.Async.VM.hard_shutdown(ref)
    wait_until(lambda: x.VM.get_current_operations(ref))
    pool.fault("power-off", "host2")
    wait_until(lambda: x.task.get_status(task) != "pending")
    assert x.task.get_status(task) == "failure"
    assert x.task.get_error_info(task)[0] == "HOST_OFFLINE"
    assert x.VM.get_current_operations(ref) == {}


def test_shutdown_latency_must_be_a_non_negative_number():
    hosts = [HostSpec("host1", "127.0.0.2")]
    assert PoolSpec(hosts).shutdown_latency == 0.1
    with pytest.raises(SpecError):
        PoolSpec(hosts, shutdown_latency=-1)
