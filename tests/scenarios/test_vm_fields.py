"""GLOBAL_VM_HA=0: the per-VM field decides; invalid -> false + alert; home pool; no capacity; get-vm-ha."""
import json

from test_vm_restart import VM_JOBS

FIELD = "XenCenter.CustomFields.ha-lizard-enabled"


def _reasons(sc):
    got = sc.ha_cfg("host1", "get-vm-ha", "--json")
    assert got.returncode == 0, got.stderr
    return {vm["name_label"]: vm for vm in json.loads(got.stdout)["vms"]}


def test_field_true_false_invalid_home_pool_and_capacity(scenario):
    sc = scenario(hosts=3, vms=6, config={"GLOBAL_VM_HA": 0}, jobs=VM_JOBS)
    sc.set_vm_ha("vm001", "true")
    sc.set_vm_ha("vm002", "false")
    sc.set_vm_ha("vm003", "yes")        # typed by hand in XenCenter: invalid
    sc.set_vm_ha("vm005", "false")
    sc.set_vm_ha("vm006", "false")
    for name in ("vm002", "vm003", "vm004", "vm005", "vm006"):
        sc.unprotect(name)
    sc.start_supervisors()
    # the master resets the invalid value to false (and the missing vm004 field to false)
    sc.wait_until(lambda: sc.vm_record("vm003")["other_config"].get(FIELD) == "false", 30,
                  message="vm003's invalid field reset to false")
    sc.wait_until(lambda: sc.vm_record("vm004")["other_config"].get(FIELD) == "false", 30,
                  message="vm004's missing field set to false")
    sc.wait_until(lambda: "vm003 had ha-lizard-enabled='yes'" in sc.supervisor("host1").log(), 10,
                  message="the invalid-value alert")
    sc.wait_until(lambda: sc.vm_record("vm001")["other_config"].get("home-pool"), 30, message="home-pool")

    sc.pool.fault("crash-vm", "vm001", "vm002", "vm003", "vm004", "vm005", "vm006")
    sc.wait_vm_running("vm001", 15)
    # vm005: protected again but stamped for another pool while halted -> left alone
    sc.set_vm_field("vm005", "home-pool", "00000000-0000-0000-0000-00000000beef")
    sc.set_vm_ha("vm005", "true")
    # vm006: protected again but bigger than any host -> reported, never dropped silently
    sc.xapi(lambda x: x.VM.set_memory(sc.vm_ref(x, "vm006"), str(2 ** 50)))
    sc.set_vm_ha("vm006", "true")
    sc.wait_until(lambda: "vm006 needs" in sc.supervisor("host1").log(), 20, message="no-capacity report")
    sc.stays(lambda: all(sc.vm(n)["power_state"] == "Halted"
                         for n in ("vm002", "vm003", "vm004", "vm005", "vm006")), 4,
             message="unprotected VMs stay halted")
    reasons = _reasons(sc)
    assert reasons["vm001"]["protected"] and reasons["vm001"]["reason"] == "running"
    assert reasons["vm002"]["reason"] == "field-false" and not reasons["vm002"]["protected"]
    assert reasons["vm003"]["reason"] == "field-false"
    assert reasons["vm004"]["reason"] == "field-false"
    assert reasons["vm005"]["reason"] == "home-pool-mismatch"
    assert reasons["vm006"]["reason"] == "no-capacity"
    table = sc.ha_cfg("host1", "get-vm-ha").stdout
    assert "Why" in table and "another pool" in table
    assert sc.supervisor("host1").log().count("had ha-lizard-enabled='yes'") == 1, "alerted once"
    sc.check_final(expect_halted=("vm002", "vm003", "vm004", "vm005", "vm006"))
