"""A start that keeps failing backs off and alerts once; lost event stream; zombie domain on a slave."""
import subprocess

import harness
from test_vm_restart import VM_JOBS

def _stamped(sc, *names):
    sc.wait_until(lambda: all(sc.vm_record(n)["other_config"].get("home-pool") for n in names), 40,
                  message="home-pool stamps")


def test_failing_start_backs_off_alerts_once_and_blocks_nobody(scenario):
    sc = scenario(hosts=3, vms=4, jobs=VM_JOBS,
                  config={"GLOBAL_VM_HA": 0, "HOST_SELECT_METHOD": 1, "MONITOR_DELAY": 1,
                          "VM_START_RETRY_BASE": 1, "VM_START_RETRY_CAP": 4, "VM_START_RETRY_ALERT_AFTER": 3})
    for name in ("vm001", "vm002", "vm004"):
        sc.set_vm_ha(name, "true")
    sc.set_vm_ha("vm003", "false")
    sc.unprotect("vm003")
    sc.start_supervisors()
    _stamped(sc, "vm001", "vm003")
    sc.pool.fault("crash-vm", "vm003")
    sc.wait_vm_halted("vm003", 10)
    sc.xapi(lambda x: x.VM.set_memory(sc.vm_ref(x, "vm003"), str(2 ** 50)))  # fits nowhere: XAPI refuses
    sc.set_vm_ha("vm003", "true")
    log = sc.supervisor("host1").log
    sc.wait_until(lambda: log().count("vm003 did not start") >= 1, 15, message="the first failed start")
    sc.pool.fault("crash-vm", "vm001")  # another VM is not held up by the failing one
    sc.wait_vm_running("vm001", 10)
    sc.wait_until(lambda: "vm003 failed to start 3 times" in log(), 30, message="the back-off alert")
    reasons = {vm["name_label"]: vm for vm in __import__("json").loads(
        sc.ha_cfg("host1", "get-vm-ha", "--json").stdout)["vms"]}
    assert reasons["vm003"]["protected"] and reasons["vm003"]["reason"] in ("backing-off", "will-start")
    failures_then = log().count("vm003 did not start")
    # back-off (1, 2, 4, 4 s) keeps attempts far below one per sweep (MONITOR_DELAY 1) for 3 s
    sc.stays(lambda: log().count("vm003 did not start") - failures_then <= 2, 3, message="at most 2 more attempts")
    assert log().count("vm003 failed to start") == 1, "one alert, not one per failure"
    sc.unprotect("vm003")
    sc.check_final(expect_halted=("vm003",))


def test_lost_event_stream_falls_back_to_the_sweep_and_reconnects(scenario):
    sc = scenario(hosts=3, vms=4, jobs=VM_JOBS, config={"MONITOR_DELAY": 3})
    sc.start_supervisors()
    _stamped(sc, "vm001", "vm002")
    log = sc.supervisor("host1").log
    sc.pool.fault("hang-xapi", "host1")
    sc.wait_until(lambda: "VM event stream lost" in log(), 20, message="the stream loss noticed")
    sc.pool.fault("unhang-xapi", "host1")
    sc.wait_until(lambda: "VM event stream back" in log(), 30, message="the stream reconnected")
    sc.pool.fault("crash-vm", "vm001")
    sc.wait_vm_running("vm001", 15)
    # without the event job, the sweep alone restarts a crashed VM
    killed = subprocess.run(harness.ha_lizard_command() + ["--root", sc.host_root("host1"), "jobs", "kill", "vm_events"],
                            env=sc.env_for("host1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=30)
    assert killed.returncode == 0, killed.stderr
    sc.pool.fault("crash-vm", "vm002")
    sc.wait_vm_running("vm002", 20)
    sc.wait_until(lambda: "vm_monitor: VM vm002 started" in log(), 5, message="the sweep's start")
    sc.check_final()


def test_zombie_domain_on_a_slave_is_destroyed(scenario):
    sc = scenario(hosts=3, vms=3, jobs=VM_JOBS, config={"MONITOR_DELAY": 2})
    sc.start_supervisors()
    _stamped(sc, "vm002")
    assert sc.vm("vm002")["running_on"] == ["host2"]
    sc.pool.fault("link-down", "host2")
    # the pool gives vm002 up (as after a fence) and the HA manager restarts it elsewhere
    sc.xapi(lambda x: x.VM.power_state_reset(sc.vm_ref(x, "vm002")))
    sc.wait_until(lambda: len(sc.vm("vm002")["running_on"]) == 2, 20, message="vm002 started elsewhere")
    sc.pool.fault("link-up", "host2")
    vm = sc.wait_until(lambda: len(sc.vm("vm002")["running_on"]) == 1 and sc.vm("vm002"), 30,
                       message="the zombie destroyed")
    assert vm["running_on"] != ["host2"] and vm["resident_on"] == vm["running_on"][0]
    assert "zombie domain of" in sc.supervisor("host2").log()
    status = sc.status()
    assert status["violations"] and all("vm002" in v for v in status["violations"]), status["violations"]
    for other in ("vm001", "vm003"):
        assert len(sc.vm(other)["running_on"]) == 1
