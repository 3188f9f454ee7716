"""VM protection scenarios: crash restarted fast, stays exactly once, SLAVE_VM_STAT."""
import time

import harness

scenario = harness.scenario_fixture()

VM_JOBS = {"replace": True, "jobs": {
    "vm_monitor": {"target": "halizard.jobs.vm_monitor:run"},
    "vm_events": {"target": "halizard.jobs.vm_events:run", "period": 30, "deadline": 130},
    "zombies": {"target": "halizard.jobs.zombies:run"},
}}


def _started_after(sc, name, since):
    vm = sc.vm(name)
    return vm if vm["power_state"] == "Running" and vm["running_on"] else None


def test_crashed_vm_is_restarted_within_seconds(scenario):
    sc = scenario(hosts=3, vms=4, config={"MONITOR_DELAY": 15}, jobs=VM_JOBS)
    sc.start_supervisors()
    # the first rounds stamp home-pool on running VMs; wait for it
    harness.wait_until(lambda: sc.vm_record("vm001")["other_config"].get("home-pool"), 60,
                       message="home-pool stamped")
    time.sleep(1.0)
    began = time.monotonic()
    sc.pool.fault("crash-vm", "vm001")
    sc.wait_vm_running("vm001", 10)
    elapsed = time.monotonic() - began
    assert elapsed < 5.0, "restart took %.1f s (MONITOR_DELAY 15: the event path must act)\n%s" % (
        elapsed, sc.logs())
    sc.check_final()
