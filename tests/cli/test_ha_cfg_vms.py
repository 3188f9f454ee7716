"""set-vm-ha / get-vm-ha against the simulator: exact names, ambiguous names, invalid values."""
import json

import pytest

from ha_cfg_run import run_ha_cfg as run

POOL = (2, 4)
FIELD = "XenCenter.CustomFields.ha-lizard-enabled"


def vm_fields(pool):
    session = pool.xenapi_session()
    try:
        return {rec["name_label"]: rec["other_config"].get(FIELD)
                for rec in session.xenapi.VM.get_all_records().values()
                if not rec["is_a_template"] and not rec["is_control_domain"]}
    finally:
        session.xenapi.session.logout()


@pytest.mark.parametrize("host", ["host1", "host2"])
def test_set_and_get_vm_ha(pool, host):
    assert run(pool, host, "set-vm-ha", "vm002", "true")[0] == 0
    assert vm_fields(pool)["vm002"] == "true"
    assert run(pool, host, "set-vm-ha", "vm002", "false")[0] == 0
    assert vm_fields(pool)["vm002"] == "false"
    status, out, _err = run(pool, host, "get-vm-ha")
    assert status == 0
    row = [line for line in out.splitlines() if "vm002" in line][0]
    assert row.split()[0] == "false"
    data = json.loads(run(pool, host, "get-vm-ha", "--json")[1])
    assert {vm["name_label"] for vm in data["vms"]} >= {"vm001", "vm002", "vm003", "vm004"}
    assert not any(vm["name_label"].startswith("Control domain") for vm in data["vms"])


def test_ambiguous_name_names_the_matches(pool):
    session = pool.xenapi_session()
    try:
        refs = {rec["name_label"]: ref for ref, rec in session.xenapi.VM.get_all_records().items()}
        session.xenapi.VM.set_name_label(refs["vm004"], "vm003")
        uuids = sorted(session.xenapi.VM.get_uuid(r) for r in session.xenapi.VM.get_by_name_label("vm003"))
    finally:
        session.xenapi.session.logout()
    before = vm_fields(pool)
    status, _out, err = run(pool, "host2", "set-vm-ha", "vm003", "true")
    assert status == 1
    assert "2 VMs are named 'vm003'" in err
    assert all(uuid in err for uuid in uuids)
    assert vm_fields(pool) == before


def test_invalid_vm_value_is_reported(pool):
    session = pool.xenapi_session()
    try:
        ref = session.xenapi.VM.get_by_name_label("vm001")[0]
        other = session.xenapi.VM.get_other_config(ref)
        if FIELD in other:
            session.xenapi.VM.remove_from_other_config(ref, FIELD)
        session.xenapi.VM.add_to_other_config(ref, FIELD, "yes")
    finally:
        session.xenapi.session.logout()
    status, out, err = run(pool, "host1", "get-vm-ha")
    assert status == 0
    assert "INVALID(yes)" in out
    assert "vm001" in err and "invalid" in err
    status, out, _err = run(pool, "host2", "status")
    assert "invalid HA value" in out and "vm001" in out
    # the CLI repairs it with a validated value
    assert run(pool, "host2", "set-vm-ha", "vm001", "true")[0] == 0
    assert vm_fields(pool)["vm001"] == "true"
