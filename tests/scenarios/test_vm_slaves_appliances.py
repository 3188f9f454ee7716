"""SLAVE_VM_STAT slaves act too, never starting a VM twice; OP_MODE 1 starts appliances (DISABLED_VAPPS kept)."""
from test_vm_restart import VM_JOBS

def test_slaves_with_slave_vm_stat_restart_vms_exactly_once(scenario):
    sc = scenario(hosts=3, vms=6, config={"SLAVE_VM_STAT": 1, "MONITOR_DELAY": 2}, jobs=VM_JOBS)
    # stamp home-pool through one master round, then only the slaves run
    sc.start_supervisors(["host1"])
    sc.wait_until(lambda: all(sc.vm_record("vm%03d" % i)["other_config"].get("home-pool") for i in range(1, 7)),
                  40, message="home-pool stamps")
    sc.supervisor("host1").stop()
    sc.start_supervisors(["host2", "host3"])
    sc.pool.fault("crash-vm", "vm001", "vm002", "vm003", "vm004", "vm005", "vm006")
    for i in range(1, 7):
        sc.wait_vm_running("vm%03d" % i, 30)
    logs = sc.supervisor("host2").log() + sc.supervisor("host3").log()
    assert "started on" in logs, logs[-3000:]
    sc.stays(lambda: all(len(vm["running_on"]) <= 1 for vm in sc.status()["vms"]), 3,
             message="no VM runs twice")
    sc.check_final()


def test_op_mode_1_starts_appliances_and_respects_disabled_vapps(scenario):
    sc = scenario(hosts=3, vms=6, config={"OP_MODE": 1, "MONITOR_DELAY": 2}, jobs=VM_JOBS)

    def second_appliance(x):
        app = x.VM_appliance.create({"name_label": "app2", "name_description": "disabled one"})
        x.VM.set_appliance(sc.vm_ref(x, "vm004"), app)
        x.VM.set_appliance(sc.vm_ref(x, "vm005"), app)
        return x.VM_appliance.get_uuid(app)
    disabled = sc.xapi(second_appliance)
    sc.set_config(DISABLED_VAPPS=disabled)
    for name in ("vm004", "vm005", "vm006"):
        sc.unprotect(name)
    sc.start_supervisors()
    sc.wait_until(lambda: sc.vm_record("vm001")["other_config"].get("home-pool"), 40, message="home-pool")
    sc.pool.fault("crash-vm", "vm001", "vm002", "vm004", "vm006")
    sc.wait_vm_running("vm001", 20)
    sc.wait_vm_running("vm002", 20)
    sc.wait_until(lambda: "appliance app1 started" in sc.supervisor("host1").log(), 10,
                  message="an appliance start")
    sc.stays(lambda: sc.vm("vm004")["power_state"] == "Halted" and sc.vm("vm006")["power_state"] == "Halted",
             4, message="disabled appliance and appliance-less VM stay halted")
    sc.check_final(expect_halted=("vm004", "vm006"))
