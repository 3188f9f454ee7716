"""takeover_ops against a real (in-process) simulated pool: one read with refs, release by ref, free memory.

Why: after a takeover the new master reads its database once and must
release and start the old master's VMs without one lookup per VM; these
calls are the fast path and must agree with what XAPI says by uuid.
"""

import pytest

from halizard.core import actions as A
from halizard.xapi import takeover_ops as ops
from halizard.xapi.session import open_session

import sim_pools as _sim
KEY = "XenCenter.CustomFields.ha-lizard-enabled"


@pytest.fixture
def pool(tmp_path):
    from sim_pools import assemble

    handle = _sim.InprocPool(assemble(str(tmp_path / "pool"), 3, 6, start_latency=0.05, fuse=0.5))
    yield handle
    handle.close()


def test_one_read_gives_refs_release_by_ref_and_free_memory(pool):
    session = open_session(pool.host("host1")["address"], "root", pool.password, 10.0)
    try:
        refs = {}
        _other, view = ops.snapshot(session, KEY, memory=False, refs=refs)
        host2 = [h for h in view.hosts if h.name_label == "host2"][0]
        vm = sorted((v for v in view.vms if v.resident_on == host2.uuid and v.power_state == "Running"
                     and not v.is_control_domain), key=lambda v: v.name_label)[0]
        assert refs["VM"][vm.uuid] == session.xenapi.VM.get_by_uuid(vm.uuid)
        assert len(refs["VDI"]) >= 1
        assert all(h.memory_free == 0 for h in view.hosts)  # memory=False: no free-memory calls
        withfree = ops.with_free_memory(session, view, 5.0)
        assert all(h.memory_free > 0 for h in withfree.hosts)
        # a ref nobody read: the caller must go by uuid
        assert ops.release_by_ref(session, A.ResetVmPowerState(why="t", vm_uuid="not-read"), refs) is None
        # a live host's VM: XAPI refuses the reset, reported as a failure (never raised)
        ok, detail = ops.release_by_ref(session, A.ResetVmPowerState(why="t", vm_uuid=vm.uuid), refs)
        assert not ok and "ResetVmPowerState failed" in detail
        pool.fault("power-off", "host2")
        ok, detail = ops.release_by_ref(session, A.ResetVmPowerState(why="t", vm_uuid=vm.uuid), refs)
        assert ok, detail
        assert session.xenapi.VM.get_power_state(refs["VM"][vm.uuid]) == "Halted"
    finally:
        session.logout()
